package retry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// A Limiter is a concurrency limit for Options.Semaphore: a [*Semaphore] (from [NewSemaphore],
// [Global] or [Multiprocess]) or a [*KeyedSemaphore] (from [Keyed]). The interface is closed: other
// packages cannot implement it.
type Limiter interface {
	// Name is the limiter's name, as errors and log records show it.
	Name() string
	// Limit is the number of slots (per key, for a keyed semaphore).
	Limit() int

	check(payload reflect.Type) error
	slot(payload any) (p pool, id any, label string, done func(), err error)
}

// pool is one set of slots.
type pool interface {
	// acquire takes a slot, waiting until one is free or ctx is done (then it returns ctx's cause).
	acquire(ctx context.Context) (release func(), err error)
}

// chanPool is an in-process pool: a buffered channel holds one token per taken slot, and waiting
// senders are served in arrival order.
type chanPool chan struct{}

func (c chanPool) acquire(ctx context.Context) (func(), error) {
	select {
	case c <- struct{}{}:
		return c.release, nil
	default:
	}
	select {
	case c <- struct{}{}:
		return c.release, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (c chanPool) release() { <-c }

func noop() {}

// Semaphore is a named set of slots shared by every call that uses it. Its scope is the value: calls
// through wrappers given the same *Semaphore share its slots, so a Semaphore kept in a struct field is a
// per-instance limit, one from [Global] a process-wide limit per name, and one from [Multiprocess] a
// limit shared by the processes of one machine. A Semaphore is safe for concurrent use.
//
// Re-entry: a call that already holds a slot of a semaphore, and calls (directly, or through a child
// event it emits with a context derived from its handler's context and awaits with Now, Call or
// CallChild, on this goroutine or on another bus) a function wrapped with the same semaphore, runs that
// nested call inside its own slot instead of waiting for a second one. Without that a limit of 1 would
// deadlock on the first nested call. The nested call borrows the slot only while the outer call holds
// it; a child event emitted without waiting that starts while its parent still holds the slot borrows it
// too, so it can briefly run beside the parent beyond the limit.
type Semaphore struct {
	name  string
	limit int
	id    any
	pool  pool
}

// NewSemaphore returns a semaphore with limit slots of its own: only wrappers given this value share
// them. name appears in errors and logs. A limit below 1 or an empty name is an invalid option.
func NewSemaphore(name string, limit int) (*Semaphore, error) {
	if err := checkSemaphore(name, limit); err != nil {
		return nil, err
	}
	s := &Semaphore{name: name, limit: limit, pool: make(chanPool, limit)}
	s.id = s
	return s, nil
}

var globals struct {
	mu sync.Mutex
	m  map[string]*Semaphore
}

// Global returns the process-wide semaphore called name, creating it with limit slots on first use.
// Every later call with that name returns the same semaphore, and fails when it asks for another
// limit. Global semaphores live as long as the process.
func Global(name string, limit int) (*Semaphore, error) {
	if err := checkSemaphore(name, limit); err != nil {
		return nil, err
	}
	globals.mu.Lock()
	defer globals.mu.Unlock()
	if s := globals.m[name]; s != nil {
		if s.limit != limit {
			return nil, invalid("global semaphore %q already exists with limit %d; asked for limit %d", name, s.limit, limit)
		}
		return s, nil
	}
	if globals.m == nil {
		globals.m = map[string]*Semaphore{}
	}
	s, _ := NewSemaphore(name, limit)
	globals.m[name] = s
	return s, nil
}

func checkSemaphore(name string, limit int) error {
	if name == "" {
		return invalid("a semaphore needs a name")
	}
	if limit < 1 {
		return invalid("semaphore %q: limit is %d; it must be at least 1", name, limit)
	}
	return nil
}

// Name returns the semaphore's name.
func (s *Semaphore) Name() string { return s.name }

// Limit returns the number of slots.
func (s *Semaphore) Limit() int { return s.limit }

func (s *Semaphore) check(reflect.Type) error { return nil }

func (s *Semaphore) slot(any) (pool, any, string, func(), error) {
	return s.pool, s.id, s.name, noop, nil
}

// KeyedSemaphore is a family of semaphores, one per key computed from the call's payload, each with
// the same limit: for example at most two concurrent calls per customer. The per-key slots exist while
// some call holds or waits for them. A KeyedSemaphore is safe for concurrent use; its scope is the
// value, as for [Semaphore], and re-entry works per key in the same way.
type KeyedSemaphore[P any] struct {
	name  string
	limit int
	key   func(P) string
	mu    sync.Mutex
	pools map[string]*keyedPool
}

type keyedPool struct {
	ch   chanPool
	refs int // calls holding or waiting
}

type keyedID struct {
	owner any
	key   string
}

// Keyed returns a keyed semaphore: key maps a call's payload (the P of a typed handler, the
// *abxbus.BaseEvent of an untyped one) to the key whose limit slots the call takes. It is usable with
// wrappers whose payload is assignable to P ([Handler], [Notify], [Untyped]); [Func] has no payload.
// A nil key function, a limit below 1 or an empty name is an invalid option.
func Keyed[P any](name string, limit int, key func(P) string) (*KeyedSemaphore[P], error) {
	if err := checkSemaphore(name, limit); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, invalid("keyed semaphore %q: the key function is nil", name)
	}
	return &KeyedSemaphore[P]{name: name, limit: limit, key: key, pools: map[string]*keyedPool{}}, nil
}

// Name returns the semaphore's name.
func (k *KeyedSemaphore[P]) Name() string { return k.name }

// Limit returns the number of slots per key.
func (k *KeyedSemaphore[P]) Limit() int { return k.limit }

func (k *KeyedSemaphore[P]) check(payload reflect.Type) error {
	want := reflect.TypeFor[P]()
	if payload == nil {
		return fmt.Errorf("keyed semaphore %q needs a payload to key on; use it with Handler, Notify or Untyped", k.name)
	}
	if !payload.AssignableTo(want) {
		return fmt.Errorf("keyed semaphore %q keys on %v, but the function's payload is %v", k.name, want, payload)
	}
	return nil
}

func (k *KeyedSemaphore[P]) slot(payload any) (pool, any, string, func(), error) {
	p, _ := payload.(P) // check made sure payload is a P (or the nil of an interface P)
	key := k.key(p)
	k.mu.Lock()
	kp := k.pools[key]
	if kp == nil {
		kp = &keyedPool{ch: make(chanPool, k.limit)}
		k.pools[key] = kp
	}
	kp.refs++
	k.mu.Unlock()
	done := func() {
		k.mu.Lock()
		if kp.refs--; kp.refs == 0 {
			delete(k.pools, key)
		}
		k.mu.Unlock()
	}
	return kp.ch, keyedID{k, key}, fmt.Sprintf("%s[%s]", k.name, key), done, nil
}

// ---- re-entry ----

type heldKey struct{}

// held marks, in the context of a call's attempts, a slot that call holds.
type held struct {
	id     any
	parent *held
	active atomic.Bool
}

// holds reports whether ctx descends from a call that currently holds a slot of id.
func holds(ctx context.Context, id any) bool {
	h, _ := ctx.Value(heldKey{}).(*held)
	for ; h != nil; h = h.parent {
		if h.id == id && h.active.Load() {
			return true
		}
	}
	return false
}

// semaphoreTimeout is the bound on the wait for a slot, 0 for none.
func (r *runner) semaphoreTimeout(limit int) time.Duration {
	switch {
	case r.o.SemaphoreTimeout > 0:
		return r.o.SemaphoreTimeout
	case r.o.SemaphoreTimeout == 0 && r.o.AttemptTimeout > 0:
		return r.o.AttemptTimeout * time.Duration(max(1, limit-1))
	}
	return 0
}

// acquire takes the call's slot. It returns the context for the attempts (marked with the slot) and the
// release function; a lax timeout returns ctx itself and a no-op release.
func (r *runner) acquire(ctx context.Context, payload any) (context.Context, func(), error) {
	sem := r.o.Semaphore
	p, id, label, done, err := sem.slot(payload)
	if err != nil {
		return nil, nil, err
	}
	if holds(ctx, id) {
		done()
		return ctx, noop, nil
	}
	wctx, cancel := ctx, context.CancelFunc(noop)
	timeout := r.semaphoreTimeout(sem.Limit())
	if timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, timeout)
	}
	release, err := p.acquire(wctx)
	cancel()
	if err != nil {
		done()
		switch {
		case ctx.Err() != nil:
			return nil, nil, fmt.Errorf("waiting for semaphore %q: %w", label, context.Cause(ctx))
		case timeout > 0 && errors.Is(err, context.DeadlineExceeded):
			if r.o.SemaphoreStrict {
				return nil, nil, &SemaphoreTimeoutError{Semaphore: label, Limit: sem.Limit(), Timeout: timeout}
			}
			r.log.LogAttrs(ctx, slog.LevelWarn, "semaphore timeout: running without a slot", slog.String("func", r.name),
				slog.String("semaphore", label), slog.Int("limit", sem.Limit()), slog.Duration("waited", timeout))
			return ctx, noop, nil
		}
		return nil, nil, fmt.Errorf("semaphore %q: %w", label, err)
	}
	h := &held{id: id}
	h.parent, _ = ctx.Value(heldKey{}).(*held)
	h.active.Store(true)
	return context.WithValue(ctx, heldKey{}, h), func() {
		h.active.Store(false)
		release()
		done()
	}, nil
}
