package abxbus

import (
	"context"
	"fmt"
	"path"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HandlerFunc is the untyped handler shape: it sees the core record and returns any value (encoded as
// JSON at the boundary) or an error. Wildcard handlers and handlers registered by event type name use it.
type HandlerFunc func(ctx context.Context, e *BaseEvent) (any, error)

// Handler is one registration on a bus: its stable id, name, source path, pattern and per-handler
// overrides. Its timeouts may be changed after registration and apply to later executions.
// Safe for concurrent use. A nil *Handler, or one not made by a registration, returns zero values and
// refuses SetTimeout and SetSlowTimeout with an error wrapping ErrInvalidOption.
type Handler struct {
	bus          *Bus
	id           ID
	name         string
	filePath     string
	registeredAt int64
	pattern      string

	fn     HandlerFunc
	isNull func(any) bool // reports whether a returned value is JSON null
	typed  *typeInfo      // set for typed handlers: their values need no result check

	// handler_timeout and handler_slow_timeout: atomics, read without a lock at every handler start
	// (concurrent callers of a parallel bus then share the line read-only).
	timeout     atomicDur
	slowTimeout atomicDur

	mu sync.Mutex

	inline bool // WithInline: may run on the goroutine of a Now or Call from outside a handler (immutable)

	// A handler restored from bus JSON (BusFromJSON) has no function until one is registered with its
	// id; these are guarded by mu.
	restored      bool
	attached      HandlerFunc
	attachedNull  func(any) bool
	attachedTyped *typeInfo
}

// function returns the handler's function and result checks (for a restored handler: the attached ones).
func (h *Handler) function() (HandlerFunc, func(any) bool, *typeInfo) {
	if !h.restored {
		return h.fn, h.isNull, h.typed
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attached, h.attachedNull, h.attachedTyped
}

// ID returns the handler id (UUIDv5 of the registration, or the id given with WithHandlerID).
func (h *Handler) ID() ID {
	if h == nil {
		return ID{}
	}
	return h.id
}

// Name returns handler_name.
func (h *Handler) Name() string {
	if h == nil {
		return ""
	}
	return h.name
}

// FilePath returns handler_file_path ("" when not detected): the source position of the handler
// function as the import path of its package directory, the file name and the line
// ("github.com/acme/app/cmd/server/main.go:85"), never a local absolute path, so handler ids computed
// from it are the same on every machine and checkout; or the path given with WithFilePath.
func (h *Handler) FilePath() string {
	if h == nil {
		return ""
	}
	return h.filePath
}

// Pattern returns the event pattern: an event type or "*".
func (h *Handler) Pattern() string {
	if h == nil {
		return ""
	}
	return h.pattern
}

// RegisteredAt returns handler_registered_at, in UTC (the zero Time for a nil Handler).
func (h *Handler) RegisteredAt() time.Time {
	if h == nil {
		return time.Time{}
	}
	return nsTime(h.registeredAt)
}

// Bus returns the bus the handler is registered on.
func (h *Handler) Bus() *Bus {
	if h == nil {
		return nil
	}
	return h.bus
}

// Label returns `name#abcd`.
func (h *Handler) Label() string {
	if h == nil {
		return ""
	}
	return h.name + "#" + h.id.short()
}

// Timeout returns handler_timeout: 0 when unset (the event's handler timeout, else its event timeout,
// applies), NoTimeout when disabled, else the limit (see NoTimeout).
func (h *Handler) Timeout() time.Duration {
	if h == nil {
		return 0
	}
	return h.timeout.load()
}

// SetTimeout changes handler_timeout for later executions: 0 unsets it, NoTimeout disables it, a
// positive duration is the limit (at most MaxTimeout). Any other negative duration is an error matching
// ErrInvalidOption.
func (h *Handler) SetTimeout(t time.Duration) error {
	if err := h.unusable("SetTimeout"); err != nil {
		return err
	}
	if err := checkTimeout("handler_timeout", &t); err != nil {
		return err
	}
	h.timeout.store(t)
	return nil
}

// SlowTimeout returns handler_slow_timeout (0 when unset, NoTimeout when disabled).
func (h *Handler) SlowTimeout() time.Duration {
	if h == nil {
		return 0
	}
	return h.slowTimeout.load()
}

// SetSlowTimeout changes handler_slow_timeout for later executions, with the values SetTimeout takes.
func (h *Handler) SetSlowTimeout(t time.Duration) error {
	if err := h.unusable("SetSlowTimeout"); err != nil {
		return err
	}
	if err := checkTimeout("handler_slow_timeout", &t); err != nil {
		return err
	}
	h.slowTimeout.store(t)
	return nil
}

// HandlerOption configures a registration.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	name        string
	id          string
	filePath    *string
	timeout     time.Duration
	slowTimeout time.Duration
	registered  *time.Time // WithRegisteredAt (a pointer keeps the config, allocated per registration, small)
	inline      bool
}

// WithName sets handler_name (default: the Go function name).
func WithName(name string) HandlerOption { return func(c *handlerConfig) { c.name = name } }

// WithHandlerID uses id instead of the computed UUIDv5 (for restoring a registration). The id must be in
// the form ParseID accepts; otherwise registering fails with an error matching ErrInvalidOption and
// ErrInvalidID.
func WithHandlerID(id string) HandlerOption { return func(c *handlerConfig) { c.id = id } }

// WithFilePath sets handler_file_path explicitly; the path is kept as given.
func WithFilePath(path string) HandlerOption { return func(c *handlerConfig) { c.filePath = &path } }

// WithHandlerTimeout sets handler_timeout: the handler's own budget, overriding the event's handler
// timeout (a positive duration, or NoTimeout for none; 0 leaves it unset). Any other negative duration
// makes the registration fail with an error matching ErrInvalidOption.
func WithHandlerTimeout(t time.Duration) HandlerOption {
	return func(c *handlerConfig) { c.timeout = t }
}

// WithHandlerSlowTimeout sets handler_slow_timeout, with the values WithHandlerTimeout takes.
func WithHandlerSlowTimeout(t time.Duration) HandlerOption {
	return func(c *handlerConfig) { c.slowTimeout = t }
}

// WithInline lets the handler run on the caller's goroutine: a Now or a Call from outside any handler
// that starts an event whose handlers on its one bus all have this option calls them directly instead of
// handing the event to a new goroutine and waiting for it (no goroutine start, no wake-up: about half
// of what a one-handler Call costs otherwise). Everything else stays as it is: ordering, results, the
// handler's context (cancelled by its timeout, the event timeout, a first-completion loss and Destroy),
// hooks. What changes is when the caller can return: the caller is the one running the handler, so it
// returns only once the handler's function has returned, even when its context ends, the handler's
// timeout fires or the bus is destroyed before that (the event records the timeout or the
// cancellation at the right time for everyone else; the caller sees it once the handler returns). Use it
// for handlers that return promptly, or at least promptly after their context ends (the run's middleware
// hooks then run on the caller's goroutine too). Now with
// FirstResult (Call with First), an event on several buses and a wait from inside a handler never run
// inline; on a Parallel bus only Call does (Emit starts the event on a goroutine of its own at once,
// before a Now can).
func WithInline() HandlerOption { return func(c *handlerConfig) { c.inline = true } }

// WithRegisteredAt sets handler_registered_at, for restoring a registration (the zero Time: now). The
// time is kept to the nanosecond in UTC, like every timestamp; one outside the years 1991-2499 (the
// range the wire format accepts) makes the registration fail with an error matching ErrInvalidOption.
func WithRegisteredAt(t time.Time) HandlerOption { return func(c *handlerConfig) { c.registered = &t } }

// registeredAtNS checks and converts a WithRegisteredAt time: the zero Time is 0 ("now"); others must be
// in the years the wire format accepts and this package can hold.
func registeredAtNS(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	ns, ok := timeNS(t)
	if !ok || t.UTC().Year() <= 1990 {
		return 0, fmt.Errorf("%w: handler_registered_at (WithRegisteredAt) %s is not between 1991-01-01 and %s",
			ErrInvalidOption, t.UTC().Format(time.RFC3339Nano), FormatTimestamp(maxNSTime))
	}
	return ns, nil
}

func funcInfo(fn any) (name, file string) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return "handler", ""
	}
	pc := v.Pointer()
	if m, ok := funcInfos.Load(pc); ok {
		fi := m.(*funcMeta)
		return fi.name, fi.file
	}
	f := runtime.FuncForPC(pc)
	if f == nil {
		return "handler", ""
	}
	file, line := f.FileLine(f.Entry())
	fi := &funcMeta{name: f.Name(), file: sourcePath(f.Name(), file) + ":" + strconv.Itoa(line)}
	funcInfos.Store(pc, fi)
	return fi.name, fi.file
}

// sourcePath is the machine-independent name of a function's source file: the import path of the
// package directory and the file name ("github.com/acme/app/cmd/server/main.go"), the same with or
// without -trimpath, under go test, go run and in a built binary, and whatever the checkout directory.
// The package comes from the function's symbol name; for package main (whose symbols say "main") from
// the binary's build info ("command-line-arguments" for go run of files). An external test package's
// files ("x_test") are named in the directory of x.
func sourcePath(funcName, file string) string {
	base := path.Base(strings.ReplaceAll(file, `\`, "/")) // (also a Windows path read on another system)
	pkg := funcPackage(funcName)
	if pkg == "main" {
		pkg = mainPackage()
	}
	if pkg == "" {
		return base
	}
	if strings.HasSuffix(base, "_test.go") {
		pkg = strings.TrimSuffix(pkg, "_test")
	}
	return pkg + "/" + base
}

// funcPackage is the import path in a runtime function name ("github.com/a/b.(*T).M.func1" ->
// "github.com/a/b"), or "" when the name has none. The linker writes dots of the last path element as
// %2e; type arguments of generic instances may hold other paths, so they are cut off first.
func funcPackage(name string) string {
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	slash := strings.LastIndexByte(name, '/')
	dot := strings.IndexByte(name[slash+1:], '.')
	if dot < 0 {
		return ""
	}
	return strings.ReplaceAll(name[:slash+1+dot], "%2e", ".")
}

// mainPackage is the import path of the binary's main package, from its build info.
var mainPackage = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" {
		return bi.Path
	}
	return "main"
})

// funcInfos caches name and source position per function entry point: registering the same function
// (or closure body) again costs no allocation.
var funcInfos sync.Map // uintptr -> *funcMeta

type funcMeta struct{ name, file string }

// OnType registers an untyped handler for events of type eventType, or for every event with "*".
// Handlers for one event run in this order: exact-type handlers in registration order, then "*" handlers
// in registration order. A registration applies to events that start processing afterwards.
// It returns an error for an invalid pattern or option, or when the bus is destroyed.
func (b *Bus) OnType(eventType string, fn HandlerFunc, opts ...HandlerOption) (*Handler, error) {
	if err := b.unusable("OnType"); err != nil {
		return nil, err
	}
	if eventType != "*" {
		if err := checkEventType(eventType); err != nil {
			return nil, err
		}
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: nil handler for %q", ErrInvalidOption, eventType)
	}
	return b.register(eventType, fn, fn, anyIsNull, nil, opts)
}

func anyIsNull(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

func (b *Bus) register(pattern string, fn HandlerFunc, orig any, isNull func(any) bool, typed *typeInfo, opts []HandlerOption) (*Handler, error) {
	if err := b.unusable("On"); err != nil {
		return nil, err
	}
	var cfg handlerConfig
	if len(opts) > 0 {
		c := new(handlerConfig) // options take a pointer: keep cfg itself off the heap
		for _, o := range opts {
			if o != nil {
				o(c)
			}
		}
		cfg = *c
	}
	if err := checkTimeout("handler_timeout", &cfg.timeout); err != nil {
		return nil, err
	}
	if err := checkTimeout("handler_slow_timeout", &cfg.slowTimeout); err != nil {
		return nil, err
	}
	var registered int64
	var err error
	if cfg.registered != nil {
		registered, err = registeredAtNS(*cfg.registered)
	}
	if err != nil {
		return nil, err
	}
	name, file := "", ""
	if cfg.name == "" || (cfg.filePath == nil && b.detectPaths) {
		name, file = funcInfo(orig)
	}
	if cfg.name != "" {
		name = cfg.name
	}
	if cfg.filePath != nil {
		file = *cfg.filePath
	} else if !b.detectPaths {
		file = ""
	}
	h := &Handler{
		bus:          b,
		name:         name,
		filePath:     file,
		registeredAt: registered,
		pattern:      pattern,
		fn:           fn,
		isNull:       isNull,
		typed:        typed,
		inline:       cfg.inline,
	}
	h.timeout.store(cfg.timeout)
	h.slowTimeout.store(cfg.slowTimeout)
	if h.registeredAt == 0 {
		h.registeredAt = now()
	} else {
		observeTime(h.registeredAt)
	}
	if cfg.id != "" {
		id, err := ParseID(cfg.id)
		if err != nil {
			return nil, fmt.Errorf("%w: handler id (WithHandlerID): %w", ErrInvalidOption, err)
		}
		h.id = id
	} else {
		h.id = HandlerID(b.id, h.name, h.filePath, nsTime(h.registeredAt), pattern)
	}

	b.mu.Lock()
	if b.destroyed {
		b.mu.Unlock()
		return nil, &EventBusDestroyedError{Bus: b.label, Op: "On"}
	}
	if typed != nil {
		if bound := b.bindLocked(typed); bound != nil {
			b.mu.Unlock()
			return nil, b.bindingConflict("On", bound, typed)
		}
	}
	if old, ok := b.handlerIDs[h.id]; ok {
		b.mu.Unlock()
		if old.restored {
			// F230: a handler restored from bus JSON gets its function by id; its metadata stays.
			old.mu.Lock()
			defer old.mu.Unlock()
			if old.attached != nil {
				return nil, fmt.Errorf("%w: restored handler %s already has a function", ErrInvalidOption, old.Label())
			}
			old.attached, old.attachedNull, old.attachedTyped = fn, isNull, typed
			return old, nil
		}
		// F67: an identical computed id is idempotent.
		return old, nil
	}
	b.handlerIDs[h.id] = h
	if pattern == "*" {
		b.wildcard = append(b.wildcard, h)
	} else {
		b.byType[pattern] = append(b.byType[pattern], h)
	}
	b.mu.Unlock()
	if b.hooks != nil {
		b.handlersChanged(true, h)
	}
	return h, nil
}

// Off unregisters h. Events already started keep running it; later events do not. It reports whether h
// was registered.
func (b *Bus) Off(h *Handler) bool {
	if !b.usable() {
		return false
	}
	if h == nil {
		return false
	}
	b.mu.Lock()
	ok := b.removeLocked(h)
	b.mu.Unlock()
	if ok && b.hooks != nil {
		b.handlersChanged(false, h)
	}
	return ok
}

// OffID unregisters the handler with the given id; it reports whether one was registered.
func (b *Bus) OffID(id ID) bool {
	if !b.usable() {
		return false
	}
	b.mu.Lock()
	h, ok := b.handlerIDs[id]
	ok = ok && b.removeLocked(h)
	b.mu.Unlock()
	if ok && b.hooks != nil {
		b.handlersChanged(false, h)
	}
	return ok
}

// OffPattern unregisters every handler of a pattern (an event type, or "*" for the wildcard handlers)
// and returns how many were removed.
func (b *Bus) OffPattern(pattern string) int {
	if !b.usable() {
		return 0
	}
	b.mu.Lock()
	var list []*Handler
	if pattern == "*" {
		list = b.wildcard
	} else {
		list = b.byType[pattern]
	}
	var removed []*Handler
	for _, h := range slices.Clone(list) {
		if b.removeLocked(h) {
			removed = append(removed, h)
		}
	}
	b.mu.Unlock()
	if b.hooks != nil {
		b.handlersChanged(false, removed...)
	}
	return len(removed)
}

func (b *Bus) removeLocked(h *Handler) bool {
	if b.handlerIDs[h.id] != h {
		return false
	}
	delete(b.handlerIDs, h.id)
	del := func(list []*Handler) []*Handler {
		i := slices.Index(list, h)
		if i < 0 {
			return list
		}
		// copy on write: running events hold the old slice
		out := make([]*Handler, 0, len(list)-1)
		out = append(out, list[:i]...)
		return append(out, list[i+1:]...)
	}
	if h.pattern == "*" {
		b.wildcard = del(b.wildcard)
	} else {
		b.byType[h.pattern] = del(b.byType[h.pattern])
		if len(b.byType[h.pattern]) == 0 {
			delete(b.byType, h.pattern)
		}
	}
	return true
}

// Handlers returns the registered handlers: exact-type ones grouped by type, then wildcard ones.
func (b *Bus) Handlers() []*Handler {
	if !b.usable() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*Handler, 0, len(b.handlerIDs))
	for _, list := range b.byType {
		out = append(out, list...)
	}
	slices.SortFunc(out, func(a, c *Handler) int { return cmpInt64(a.registeredAt, c.registeredAt) })
	return append(out, b.wildcard...)
}

// HandlerByID returns the registered handler with that id.
func (b *Bus) HandlerByID(id ID) (*Handler, bool) {
	if !b.usable() {
		return nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.handlerIDs[id]
	return h, ok
}

// atomicDur is a time.Duration read and written atomically.
type atomicDur struct{ v atomic.Int64 }

func (d *atomicDur) load() time.Duration   { return time.Duration(d.v.Load()) }
func (d *atomicDur) store(t time.Duration) { d.v.Store(int64(t)) }
