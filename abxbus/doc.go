// Package abxbus is a typed, in-process event bus and RPC layer that implements the abxbus model (the
// event bus of the Python, TypeScript and Rust abxbus runtimes) and speaks its JSON, so Go services can
// exchange events with TypeScript and Python ones.
//
// # Declaring events
//
// An event is one Go struct that embeds [Returns] to name its result type:
//
//	type UserCreated struct {
//		abxbus.Returns[UserID]        // handlers of UserCreated return a UserID
//		Email string `json:"email"` // payload fields; JSON names are the wire keys
//	}
//
// The event type name is the struct name unless the type has an EventSpec method, which also gives a
// version and per-event defaults (timeouts, concurrency, completion). Payload fields must not use the
// event_* metadata names or the reserved names of the other runtimes; a bad declaration is reported by
// [On] and [Emit] as an error wrapping [ErrInvalidOption].
//
// # Typed and untyped
//
// [On] registers a func(ctx, P) (R, error); [Emit] returns an [*Event] of the payload and result types;
// [Call] is request/response: emit, run now, wait for every handler, return the first result or the
// handler error. A wrong result type does not compile. A notification, an event that expects no
// answer, declares Returns[Void] ([Void]); its handlers ([OnNotify]) return only an error, and [Call] on it
// returns (Void{}, nil) when every handler succeeded, also when there is none. Underneath, every event is one untyped
// [BaseEvent] record moved through buses by an untyped dispatcher; [Event] is a zero-cost typed view of
// it ([Event.Base], [As]). Both encode and decode with encoding/json as abxbus event JSON
// ([BaseEvent.MarshalJSON], [Event.UnmarshalJSON]), print as their `Type#abcd` label and log through
// log/slog as a short group of type, id, status, parent id and bus ([BaseEvent.LogValue]).
// Wildcard ("*") and untyped handlers ([Bus.OnType]) receive the *BaseEvent and can read the payload as
// JSON ([BaseEvent.PayloadJSON]). On one bus an event type name stands for one Go type: the first typed
// handler or typed event binds the name, and a typed handler or typed emit of another Go type under that
// name (two packages' Created types, say) is refused with an error naming both.
//
// # Ordering
//
// By default a bus is strict FIFO: one event at a time per bus (bus-serial), handlers of an event one at
// a time in registration order (serial), and every handler runs (completion "all"). Events start, and on
// a serial bus complete, in emit order. There are two exceptions, both explicit:
//
//   - The queue-jump: a child event that a handler emits and awaits with [BaseEvent.Now] (or
//     [CallChild]) runs at once, borrowing the slots of the waiting parent, like a function call. On
//     another bus it still waits for that bus's own slot, ahead of the queued events.
//   - [BaseEvent.Now] (and [Call], the result accessors) from outside any handler on an event that has not
//     started processes it at once, even while another event runs on its bus: it takes the slots that
//     are free and waits for none. To wait in queue order, use [BaseEvent.Wait].
//
// [BaseEvent.Wait] never jumps the queue. A wait from inside a handler that can never finish fails at
// once with [ErrWouldDeadlock]: the awaited event is queued behind a slot that handler's run holds, or
// the wait would close a cycle of runs waiting for each other's slots across buses (a bus-serial event
// on one bus awaiting a global-serial child while a global-serial event awaits a child on that bus). In
// such a cycle a queue-jumping child that is waiting for a slot gives up its jump instead: it returns
// what it took and borrowed, its event goes back to the head of its bus queue and runs in queue order,
// and the handlers awaiting it see [ErrWouldDeadlock] only if they can no longer get it.
//
// Options relax ordering per bus ([Options]) or per event ([EventOptions]): event concurrency
// [GlobalSerial] (one slot per lock domain, process-wide by default), [BusSerial] or [Parallel]; handler
// concurrency [HandlersSerial] or [HandlersParallel]; completion [CompleteAll] or [CompleteFirst] (the
// first non-nil result wins, pending handlers are cancelled and running ones aborted). Each bus resolves
// unset event options with its own defaults when it processes the event.
//
// # Contexts, timeouts and cancellation
//
// A context passed to a blocking call (Now, Wait, Result, Call, Find, WaitUntilIdle) bounds that call's
// wait only; it never cancels processing. Values of the emitting context reach handlers and flow
// into children. A handler's own context is cancelled by its timeout, by the event timeout, by a
// first-completion loss, by a parent's timeout (for children the parent was waiting on, recursively) and
// by [Bus.Destroy]; handlers should return when it is done. Results returned after that, and children
// emitted after that, are refused ([ErrHandlerFinished]).
//
// Timeouts are plain [time.Duration] values at three levels (bus, event, handler): 0 is unset (the
// level inherits the next one, so a zero options struct means "the defaults"), [NoTimeout] disables a
// level, a positive duration is the limit, as in EventOptions{Timeout: 5 * time.Second}. A
// handler's limit is min(its own timeout, else the event's handler timeout, else the event timeout as
// resolved (the event's own, else the bus's), and the event deadline): an event with [NoTimeout] as its
// timeout also lifts the fallback limit of its handlers. Expiry records [EventHandlerTimeoutError] (own budget), [EventHandlerAbortedError]
// (was running when the event deadline, a first-completion loss or a parent timeout hit) or
// [EventHandlerCancelledError] (had not started). Every outcome caused by a deadline (a handler's or the
// event's timeout, a parent's timeout reaching its children, the caller's context deadline) matches
// context.DeadlineExceeded with errors.Is, and every outcome caused by a cancellation (a first-completion
// loss, [Bus.Destroy], the caller's context cancelled) matches context.Canceled; the handler's own
// context ends with the same error. errors.As still tells the abxbus kinds apart. Slow-event and slow-handler thresholds only log a
// warning through the bus's [log/slog] logger.
//
// # Errors
//
// Waits ([BaseEvent.Now], [BaseEvent.Wait]) report only wait and processing failures: the caller's
// context, a rejected emit ([ErrBusDestroyed], [ErrHistoryFull]), misuse. Handler errors are read from the
// results. The result accessors ([BaseEvent.Result], [Event.Result], [BaseEvent.ResultsList],
// [Event.Results]) and [Call] wait until the event has completed and only then apply the filter and the
// error policy, so their answer does not depend on timing: by default any handler error is the answer
// (one as is, several aggregated in an [EventHandlerErrors]), checked before values, and an event with no
// result gives [EventResultNoneError] only when ResultOptions.RequireResult is set ([Call] sets it); it
// matches [ErrNoHandler] too when no handler was registered for the event type.
// Returning early is explicit: with ResultOptions.First an accessor or [Call] returns as soon as a valid
// result exists and reports only the errors of handlers already finished; the other handlers keep
// running. [BaseEvent.ResultsSnapshot] reads the results recorded so far without waiting. Every error works with errors.Is (sentinels such as
// [ErrHandlerTimeout]) and errors.As (typed errors); messages name the bus label, the event type and the
// event's short id. A panicking handler is recovered into [EventHandlerPanicError] with its stack and the
// bus keeps working. No call in this package panics on bad input, nil receivers included: a nil or zero
// Bus, event, Handler or EventResult gives an error wrapping [ErrInvalidOption] where the method returns
// an error, zero values otherwise. The zero [Registry] is ready to use.
//
// # Concurrency safety
//
// Every method of [Bus], [BaseEvent], [Event], [EventResult] and [Handler] is safe for concurrent use.
// No lock is held while a handler or a user predicate runs. Handlers run on goroutines the bus owns:
// serial handlers on the bus's dispatcher goroutine (which exists only while the bus has queued work),
// each parallel handler and each parallel event on a goroutine of its own. A handler that ignores its
// context does not stall the bus once its timeout fires: the dispatcher role moves on without it.
// [Bus.Destroy] cancels in-flight handlers; [Bus.WaitUntilIdle] waits for the queue to drain.
//
// # Middlewares
//
// A bus given Options.Middlewares calls their hooks on every lifecycle change: [EventChangeHook] for an
// event's pending, started and completed on that bus, [ResultChangeHook] for each handler result's,
// [HandlersChangeHook] for registrations, and [HandlerContextHook] to derive a handler's context (a
// tracing span, say). Hooks run synchronously in list order with no lock held, one at a time per event,
// in the order of the changes; a panicking hook is logged and ignored; see [Middleware]. A bus without
// middlewares pays nothing for them.
//
// # History
//
// Each bus keeps the events it accepted in a bounded history (default 100), searchable with [Bus.Find],
// [Bus.Filter], [Find] and [FilterOf], which can also wait for a future event. The typed forms take
// predicates on the typed payload (func(P) bool) after the options. When the history is full,
// completed events are evicted oldest first; an emit is rejected with [ErrHistoryFull] only when every
// retained event is still in flight, unless MaxHistoryDrop is set.
//
// # Performance
//
// Measured on a shared 2-core linux/amd64 machine with go1.26 (`go test -bench . -benchmem ./abxbus`,
// `abxbus bench`); absolute times move 2-4x between runs, ratios less:
//
//	operation                                        time           allocations
//	typed Call (emit + await + result, 1 handler)    ~2 us          6
//	untyped Emit + Now (1 handler)                   ~1.9 us        4
//	50k events awaited in batches (workload 50k)     ~1.3 us/event  4 per event
//	register a handler (On)                          ~0.7 us        3
//	register, emit, await, unregister (onoff)        ~3 us          11
//	child awaited on another bus from a handler      ~5 us          11
//
// Costs by operation: Emit is O(1) amortised plus history admission (O(1) amortised: completed events are
// evicted oldest first, holes compacted in batches); handler lookup is a map by type plus the wildcard
// list. An idle bus has no goroutine and no timer; a bus with queued serial work has one dispatcher
// goroutine, which runs serial handlers itself; each parallel handler or parallel event gets a goroutine.
// A running event uses at most one timer (pooled), shared by its event timeout, its handlers' timeouts and
// the slow warnings; no context.WithTimeout is created per handler. Payloads stay typed Go values in
// process: JSON is produced only at the boundaries (PayloadJSON, Find with field equality, bridges).
// Memory: about 1.2 KB per retained event with one result (the event record holds its first result,
// path, bus and run inline).
package abxbus
