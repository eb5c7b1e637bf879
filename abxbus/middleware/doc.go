// Package middleware holds the abxbus middlewares that need nothing outside the standard library, the
// built-ins of the other abxbus runtimes, plus the reading side of the write-ahead log:
//
//   - AutoError: a `<Type>ErrorEvent` {error, error_type} for every handler error.
//   - AutoReturn: a `<Type>ResultEvent` {data} for every handler return value.
//   - AutoHandlerChange: BusHandlerRegisteredEvent / BusHandlerUnregisteredEvent {handler} on On / Off.
//   - Logger: one log/slog record per completed event, optionally also to a file.
//   - WAL: one JSON line per completed event, with an fsync policy; ReadWAL and Replay read it back.
//
// Give them to a bus in abxbus.Options.Middlewares; each implements only the hooks it needs (see
// abxbus.Middleware for when hooks run). Event types and payload keys are those the Python runtime
// writes, so TypeScript and Python consumers of those events decode them.
package middleware
