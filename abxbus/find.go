package abxbus

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Window is the time range of a find: how far back in the history to look (Past) or how long
// to wait for a future event (Future). It has three states:
//
//   - Always: all retained history (Past) / wait until the context is done (Future);
//   - Never: skip the history (Past) / do not wait (Future);
//   - Within(d): events created within the last d (Past, measured against event_created_at) / wait
//     up to d (Future).
//
// The zero value means "the default of the field": Always for Past, Never for Future. It is a small
// value type; copy it freely.
type Window struct {
	d    time.Duration
	kind windowKind
}

type windowKind uint8

const (
	windowDefault windowKind = iota
	windowAlways
	windowNever
	windowWithin
)

var (
	// Always is the unbounded window: all history, or wait until the context is done.
	Always = Window{kind: windowAlways}
	// Never is the empty window: skip history, or do not wait.
	Never = Window{kind: windowNever}
)

// Within returns a window of d. A negative or zero d is the same as Never (negative values
// clamp to 0, and a zero window holds nothing).
func Within(d time.Duration) Window {
	if d <= 0 {
		return Never
	}
	return Window{d: d, kind: windowWithin}
}

func (w Window) String() string {
	switch w.kind {
	case windowDefault:
		return "default"
	case windowAlways:
		return "always"
	case windowNever:
		return "never"
	}
	return "within " + w.d.String()
}

// resolve returns the window with its default applied.
func (w Window) resolve(def Window) Window {
	if w.kind == windowDefault {
		return def
	}
	return w
}

func (w Window) enabled() bool { return w.kind == windowAlways || w.kind == windowWithin }

// FindOptions are the filters of Bus.Find / Bus.Filter and their typed forms. All set
// filters are ANDed; the zero value matches every event in the retained history and does not wait.
type FindOptions struct {
	// Where is an optional predicate on the untyped event. It is never called with a lock held; for
	// future matching it is called once per accepted event of the pattern's type, on the goroutine that
	// emits that event (so it may run concurrently and should be quick). A panic in Where ends the lookup
	// with an error. The typed Find and FilterOf take predicates on the typed payload as well.
	Where func(e *BaseEvent) bool
	// ChildOf keeps only descendants (child, grandchild, ...) of this event, following event_parent_id
	// through this bus's history (see Bus.EventIsChildOf).
	ChildOf *BaseEvent
	// Equals holds strict equality filters on event fields by their JSON names: metadata
	// ("event_status": "completed", "event_parent_id": nil) or payload fields ("order_id": "o-1").
	// Values are compared in their JSON form (so 1 and 1.0 are equal; an ID compares with its string
	// form, a time.Time with its timestamp and a time.Duration with its timeout in seconds, 0 as unset
	// and NoTimeout as 0). A field the event does not have never matches.
	Equals map[string]any
	// Past is the history window (zero value: Always).
	Past Window
	// Future is how long to wait for a matching event to be emitted (zero value: Never). A future event
	// matches when it is accepted by the bus, before its handlers finish: call Now or Wait on it
	// before reading results.
	Future Window
	// Limit caps the number of events Filter returns (0: no cap; negative: nothing). Find ignores it.
	Limit int
}

// Find returns the newest event matching pattern and opts: pattern is an event type or "*".
// The retained history is searched newest first; when nothing matches and opts.Future is enabled, Find
// waits for the first matching event accepted by the bus. No match gives (nil, nil), never an error.
//
// ctx bounds the wait for a future event. Errors: an invalid pattern (ErrInvalidOption), ctx.Err() when
// ctx ends during a future wait, ErrBusDestroyed on a destroyed bus (a future wait in progress when the bus
// is destroyed returns (nil, nil)), and an error when opts.Where panics.
//
// Cost: O(history) under the bus lock for the type and window pre-filter, then the other filters on the
// candidates without any lock.
func (b *Bus) Find(ctx context.Context, pattern string, opts FindOptions) (*BaseEvent, error) {
	return b.find(ctx, pattern, &opts, nil)
}

// find is Find with an extra event predicate (nil: none), as the typed forms add.
func (b *Bus) find(ctx context.Context, pattern string, opts *FindOptions, pred func(*BaseEvent) bool) (*BaseEvent, error) {
	if err := b.unusable("Find"); err != nil {
		return nil, err
	}
	out, err := b.lookup(ctx, "Find", pattern, opts, 1, pred)
	if len(out) == 0 {
		return nil, err
	}
	return out[0], err
}

// Filter returns every event matching pattern and opts, newest first, at most opts.Limit of them.
// When the history yields fewer than the limit (or there is no limit) and opts.Future is enabled, it waits
// for at most one future match and appends it. Errors are those of Find; matches found before an error
// are returned with it.
func (b *Bus) Filter(ctx context.Context, pattern string, opts FindOptions) ([]*BaseEvent, error) {
	return b.filter(ctx, pattern, opts, nil)
}

func (b *Bus) filter(ctx context.Context, pattern string, opts FindOptions, pred func(*BaseEvent) bool) ([]*BaseEvent, error) {
	if err := b.unusable("Filter"); err != nil {
		return nil, err
	}
	if opts.Limit < 0 {
		return []*BaseEvent{}, checkPattern(pattern)
	}
	out, err := b.lookup(ctx, "Filter", pattern, &opts, opts.Limit, pred)
	if out == nil {
		out = []*BaseEvent{}
	}
	return out, err
}

// Find is the typed form of Bus.Find: the pattern is the event type of P and the match is returned as an
// *Event[P, R] (the same record). The where predicates receive the typed payload; they are ANDed with
// each other and with opts (opts.Where, Equals, ChildOf, the windows), and are evaluated in order after
// the filters of opts, stopping at the first false. Like opts.Where they are never called with a lock
// held, are called on the emitting goroutine for future matches (so they may run concurrently and
// should be quick), and a panic in one ends the lookup with an error. An event of the type whose
// payload is not a P (an untyped or JSON-decoded event) has its payload decoded into a P once per
// candidate, for all the predicates; a payload that does not decode into P does not match (no error,
// as with an Equals field that does not decode).
//
// The type arguments are inferred from a predicate, or given as the payload type alone:
//
//	e, err := abxbus.Find(ctx, bus, opts, func(p CreateUser) bool { return p.Email != "" })
//	e, err := abxbus.Find[CreateUser](ctx, bus, opts)
func Find[P Payload[R], R any](ctx context.Context, b *Bus, opts FindOptions, where ...func(P) bool) (*Event[P, R], error) {
	e, err := b.findTyped(ctx, (*P)(nil), (*R)(nil), &opts, payloadWhere(where))
	return (*Event[P, R])(e), err
}

// FilterOf is the typed form of Bus.Filter for the event type of P. The where predicates on the typed
// payload work as in Find (ANDed with opts, in order, never under a lock, a panic is an error, a payload
// that does not decode into P does not match); opts.Limit counts the events that pass them.
func FilterOf[P Payload[R], R any](ctx context.Context, b *Bus, opts FindOptions, where ...func(P) bool) ([]*Event[P, R], error) {
	list, err := b.filterTyped(ctx, (*P)(nil), (*R)(nil), &opts, payloadWhere(where))
	out := make([]*Event[P, R], len(list))
	for i, e := range list {
		out[i] = (*Event[P, R])(e)
	}
	return out, err
}

// payloadWhere turns typed payload predicates into one predicate on a payload held in an any (nil for
// none). The non-nil predicates are copied: the caller's slice may change. It is the only part of Find
// and FilterOf compiled per payload type; typedPredicate does the rest.
func payloadWhere[P any](where []func(P) bool) func(any) bool {
	var ws []func(P) bool
	for _, w := range where {
		if w != nil {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	return func(v any) bool {
		p := v.(P)
		for _, w := range ws {
			if !w(p) {
				return false
			}
		}
		return true
	}
}

// typedPredicate is the event predicate of Find and FilterOf: the payload of an event, decoded into the
// payload type of info when it is not one (at most once per call), passes where; a payload that does
// not decode does not match.
func typedPredicate(info *typeInfo, where func(any) bool) func(*BaseEvent) bool {
	if where == nil {
		return nil
	}
	return func(e *BaseEvent) bool {
		p, err := payloadOfType(e, info.payloadType)
		return err == nil && where(p)
	}
}

// findTyped is Find for the payload type *pp declaring the result type *rp (typed nil pointers).
func (b *Bus) findTyped(ctx context.Context, pp, rp any, opts *FindOptions, where func(any) bool) (*BaseEvent, error) {
	info := infoFor(reflect.TypeOf(pp).Elem(), reflect.TypeOf(rp).Elem())
	if info.err != nil {
		return nil, info.err
	}
	return b.find(ctx, info.eventType, opts, typedPredicate(info, where))
}

// filterTyped is FilterOf for the payload type *pp declaring the result type *rp (typed nil pointers).
func (b *Bus) filterTyped(ctx context.Context, pp, rp any, opts *FindOptions, where func(any) bool) ([]*BaseEvent, error) {
	info := infoFor(reflect.TypeOf(pp).Elem(), reflect.TypeOf(rp).Elem())
	if info.err != nil {
		return nil, info.err
	}
	return b.filter(ctx, info.eventType, *opts, typedPredicate(info, where))
}

func checkPattern(pattern string) error {
	if pattern == "*" {
		return nil
	}
	if err := checkEventType(pattern); err != nil {
		return fmt.Errorf("find pattern: %w", err)
	}
	return nil
}

// testHookFindWaiting, when set by a test, is called once a future lookup is registered on b (after the
// bus lock is released), so tests can emit only after a waiter exists.
var testHookFindWaiting func(b *Bus)

// query is one compiled lookup.
type query struct {
	bus     *Bus
	pattern string
	where   func(*BaseEvent) bool
	typed   func(*BaseEvent) bool // the typed payload predicates of Find/FilterOf (nil: none)
	childOf *BaseEvent
	equals  []fieldWant
}

type fieldWant struct {
	name    string
	payload bool // a payload field (not event_*)
	want    any  // JSON-normalised value
}

func (b *Bus) compileQuery(pattern string, opts *FindOptions, typed func(*BaseEvent) bool) (*query, error) {
	if err := checkPattern(pattern); err != nil {
		return nil, err
	}
	q := &query{bus: b, pattern: pattern, where: opts.Where, typed: typed, childOf: opts.ChildOf}
	for name, v := range opts.Equals {
		w, err := normaliseWant(v)
		if err != nil {
			return nil, fmt.Errorf("%w: find Equals[%q]: %v", ErrInvalidOption, name, err)
		}
		q.equals = append(q.equals, fieldWant{name: name, payload: !strings.HasPrefix(name, "event_"), want: w})
	}
	return q, nil
}

// typeMatches is the cheap part of the query, safe under the bus lock (immutable fields only).
func (q *query) typeMatches(e *BaseEvent) bool {
	return q.pattern == "*" || e.eventType == q.pattern
}

// match evaluates the rest of the query without any lock held. A panic in Where becomes an error.
func (q *query) match(e *BaseEvent, lineage func(e, ancestor *BaseEvent) bool) (ok bool, err error) {
	if !q.typeMatches(e) {
		return false, nil
	}
	if q.childOf != nil && !lineage(e, q.childOf) {
		return false, nil
	}
	if len(q.equals) > 0 {
		var payload map[string]json.RawMessage
		payloadErr := error(nil)
		loaded := false
		for _, f := range q.equals {
			var got any
			var present bool
			if f.payload {
				if v, found, ok := fastPayloadField(e, f.name); ok {
					if !found || !reflect.DeepEqual(v, f.want) {
						return false, nil
					}
					continue
				}
				if !loaded {
					loaded = true
					payload, payloadErr = payloadFields(e)
				}
				if payloadErr != nil {
					return false, nil
				}
				raw, ok := payload[f.name]
				if !ok {
					return false, nil
				}
				if err := json.Unmarshal(raw, &got); err != nil {
					return false, nil
				}
				present = true
			} else {
				got, present = metaField(e, f.name)
			}
			if !present || !reflect.DeepEqual(got, f.want) {
				return false, nil
			}
		}
	}
	if q.where == nil && q.typed == nil {
		return true, nil
	}
	which := "Where"
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("abxbus: find %s predicate panicked on %s: %v", which, e.label(), p)
		}
	}()
	if q.where != nil && !q.where(e) {
		return false, nil
	}
	if q.typed != nil {
		which = "payload"
		return q.typed(e), nil
	}
	return true, nil
}

// fastPayloadField reads one payload field in its JSON form without encoding the whole payload: from a
// JSONPayload, or from a struct payload through a per-type index of its JSON field names. ok is false
// when it cannot decide (the caller then encodes the payload); found reports whether the field exists.
func fastPayloadField(e *BaseEvent, name string) (v any, found, ok bool) {
	if raw, has := e.wireExtra()[name]; has { // e.wire is set at decode time and never changed
		return jsonValue(raw)
	}
	switch p := e.payload.(type) {
	case nil:
		return nil, false, true
	case JSONPayload:
		raw, has := p[name]
		if !has {
			return nil, false, true
		}
		return jsonValue(raw)
	}
	rv := reflect.ValueOf(e.payload)
	if rv.Kind() != reflect.Struct {
		return nil, false, false
	}
	idx, known := payloadFieldIndex(rv.Type())[name]
	if !known {
		return nil, false, true
	}
	fv, err := rv.FieldByIndexErr(idx.path)
	if err != nil {
		return nil, false, false // through a nil embedded pointer: let encoding/json decide
	}
	if idx.omit && fv.IsZero() {
		return nil, false, true
	}
	switch fv.Kind() {
	case reflect.String:
		if !idx.asString {
			return fv.String(), true, true
		}
	case reflect.Bool:
		if !idx.asString {
			return fv.Bool(), true, true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !idx.asString {
			return float64(fv.Int()), true, true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !idx.asString {
			return float64(fv.Uint()), true, true
		}
	}
	return nil, false, false
}

func jsonValue(raw json.RawMessage) (any, bool, bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false, true
	}
	return v, true, true
}

type fieldIndex struct {
	path     []int
	omit     bool // omitempty/omitzero: absent when zero
	asString bool // ",string": written as a JSON string
}

var payloadIndexes sync.Map // reflect.Type -> map[string]fieldIndex

// payloadFieldIndex maps the JSON names of a struct's top-level fields to their index paths, following
// encoding/json's rules for tags and embedded structs (the shallowest name wins; ambiguous names are
// left out, so the slow path decides them).
func payloadFieldIndex(t reflect.Type) map[string]fieldIndex {
	if m, ok := payloadIndexes.Load(t); ok {
		return m.(map[string]fieldIndex)
	}
	type cand struct {
		fieldIndex
		depth  int
		tagged bool
	}
	cands := map[string][]cand{}
	var walk func(t reflect.Type, prefix []int, depth int)
	walk = func(t reflect.Type, prefix []int, depth int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			path := append(slices.Clone(prefix), i)
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, path, depth+1)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			c := cand{fieldIndex: fieldIndex{path: path}, depth: depth, tagged: name != ""}
			if name == "" {
				name = f.Name
			}
			for _, o := range strings.Split(opts, ",") {
				switch o {
				case "omitempty", "omitzero":
					c.omit = true
				case "string":
					c.asString = true
				}
			}
			cands[name] = append(cands[name], c)
		}
	}
	walk(t, nil, 0)
	m := map[string]fieldIndex{}
	for name, cs := range cands {
		best, ambiguous := -1, false
		for i, c := range cs {
			switch {
			case best < 0 || c.depth < cs[best].depth:
				best, ambiguous = i, false
			case c.depth == cs[best].depth:
				if c.tagged && !cs[best].tagged {
					best, ambiguous = i, false
				} else if c.tagged == cs[best].tagged {
					ambiguous = true
				}
			}
		}
		if !ambiguous {
			m[name] = cs[best].fieldIndex
		}
	}
	v, _ := payloadIndexes.LoadOrStore(t, m)
	return v.(map[string]fieldIndex)
}

// payloadFields decodes the payload's JSON object into its top-level fields.
func payloadFields(e *BaseEvent) (map[string]json.RawMessage, error) {
	raw, err := e.PayloadJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// normaliseWant turns a wanted value into the form a decoded JSON value has (string, float64, bool,
// nil, []any, map[string]any), so that comparison is by JSON value.
func normaliseWant(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case ID:
		if x.IsZero() {
			return nil, nil
		}
		return x.String(), nil
	case time.Duration: // a timeout, in its wire form
		if x == 0 {
			return nil, nil
		}
		return timeoutSeconds(x), nil
	case time.Time: // a timestamp, in its wire form
		if x.IsZero() {
			return nil, nil
		}
		return FormatTimestamp(x), nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// metaField returns an event_* field in its JSON form (the values the wire format carries, F25) and
// whether the event has such a field.
func metaField(e *BaseEvent, name string) (any, bool) {
	idv := func(id ID) any {
		if id.IsZero() {
			return nil
		}
		return id.String()
	}
	ts := func(ns int64) any {
		if ns == 0 {
			return nil
		}
		return formatNS(ns)
	}
	to := func(d time.Duration) any {
		if d == 0 {
			return nil
		}
		return timeoutSeconds(d)
	}
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	switch name {
	case "event_id":
		return e.id.String(), true
	case "event_type":
		return e.eventType, true
	case "event_created_at":
		return formatNS(e.createdAt), true
	case "event_parent_id":
		return idv(e.ParentID()), true
	case "event_emitted_by_handler_id":
		return idv(e.EmittedByHandlerID()), true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch name {
	case "event_version":
		return e.versionLocked(), true
	case "event_status":
		return string(e.status.public()), true
	case "event_started_at":
		return ts(e.startedAt), true
	case "event_completed_at":
		return ts(e.completedAt), true
	case "event_path":
		out := make([]any, len(e.path.get()))
		for i, p := range e.path.get() {
			out[i] = p
		}
		return out, true
	case "event_pending_bus_count":
		return float64(e.pendingBuses), true
	case "event_blocks_parent_completion":
		return e.blocksParent, true
	case "event_timeout":
		return to(e.o().Timeout), true
	case "event_handler_timeout":
		return to(e.o().HandlerTimeout), true
	case "event_slow_timeout":
		return to(e.o().SlowTimeout), true
	case "event_handler_slow_timeout":
		return to(e.o().HandlerSlowTimeout), true
	case "event_concurrency":
		return str(string(e.o().Concurrency)), true
	case "event_handler_concurrency":
		return str(string(e.o().HandlerConcurrency)), true
	case "event_handler_completion":
		return str(string(e.o().Completion)), true
	}
	return nil, false
}

// lookup is Find (limit 1) and Filter.
func (b *Bus) lookup(ctx context.Context, op, pattern string, opts *FindOptions, limit int, typed func(*BaseEvent) bool) ([]*BaseEvent, error) {
	q, err := b.compileQuery(pattern, opts, typed)
	if err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	past := opts.Past.resolve(Always)
	future := opts.Future.resolve(Never)
	if !past.enabled() && !future.enabled() {
		return nil, nil // F168
	}
	var cutoff int64
	if past.kind == windowWithin {
		cutoff = now() - int64(past.d)
	}

	b.mu.Lock()
	if b.destroyed {
		b.mu.Unlock()
		return nil, &EventBusDestroyedError{Bus: b.label, Op: op}
	}
	var f *finder
	if future.enabled() {
		// Registered under the same lock as the history snapshot: every event is either in the snapshot
		// or offered to the finder, never both, never neither.
		f = &finder{q: q, ch: make(chan *BaseEvent, 1)}
		b.finders = append(b.finders, f)
	}
	var cands []*BaseEvent
	if past.enabled() {
		b.hist.eachNewest(func(e *BaseEvent) bool {
			if q.typeMatches(e) && (cutoff == 0 || e.createdAt >= cutoff) {
				cands = append(cands, e)
			}
			return true
		})
	}
	b.mu.Unlock()
	if hook := testHookFindWaiting; f != nil && hook != nil {
		hook(b)
	}

	var out []*BaseEvent
	for _, e := range cands {
		ok, err := q.match(e, b.EventIsChildOf)
		if err != nil {
			b.dropFinder(f)
			return out, err
		}
		if ok {
			out = append(out, e)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
	}
	if f == nil || limit > 0 && len(out) >= limit {
		b.dropFinder(f)
		return out, nil
	}

	var timeout <-chan time.Time
	if future.kind == windowWithin {
		t := time.NewTimer(future.d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case e := <-f.ch:
		b.dropFinder(f)
		if f.err != nil {
			return out, f.err
		}
		if e != nil {
			out = append(out, e)
		}
		return out, nil
	case <-timeout:
	case <-ctx.Done():
		err = ctx.Err()
	}
	b.dropFinder(f)
	// A match may have been delivered while we were leaving.
	select {
	case e := <-f.ch:
		if f.err != nil {
			return out, f.err
		}
		if e != nil {
			return append(out, e), nil
		}
	default:
	}
	return out, err
}

// dropFinder unregisters f (copy on write: accept iterates a snapshot of the list without the lock).
// After it, f receives nothing new; a value sent just before stays readable on f.ch.
func (b *Bus) dropFinder(f *finder) {
	if f == nil {
		return
	}
	f.claimed.Store(true)
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.finders {
		if x == f {
			list := make([]*finder, 0, len(b.finders)-1)
			list = append(list, b.finders[:i]...)
			b.finders = append(list, b.finders[i+1:]...)
			return
		}
	}
}

// finder is a pending future lookup: resolved with the first matching event accepted by the bus, or nil
// when the bus is destroyed (F269). Its query runs outside the bus lock, on the emitting goroutine.
type finder struct {
	q       *query
	ch      chan *BaseEvent // buffered(1); receives exactly one value
	claimed atomic.Bool     // set by whoever sends on ch (or by the owner giving up)
	err     error           // written before the send on ch

	// note, when set, makes this a carrier of work that must run after the bus lock is released (the
	// one-time history-drop warning) rather than a lookup.
	note func()
}

// deliver offers e to the finder (after the bus lock was released). nil resolves it with nil.
func (f *finder) deliver(e *BaseEvent) {
	if f.note != nil {
		f.note()
		return
	}
	if f.claimed.Load() {
		return
	}
	if e == nil {
		if f.claimed.CompareAndSwap(false, true) {
			f.ch <- nil
		}
		return
	}
	ok, err := f.q.match(e, f.q.bus.EventIsChildOf)
	if !ok && err == nil {
		return
	}
	if f.claimed.CompareAndSwap(false, true) {
		if err != nil {
			f.err = err
			e = nil
		}
		f.ch <- e
	}
}
