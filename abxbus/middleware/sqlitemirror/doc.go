// Package sqlitemirror mirrors abxbus bus history into a SQLite database, append-only: a Mirror is a
// middleware that records every event lifecycle change (pending, started, completed, per bus) in the
// table events_log and every handler result lifecycle change in event_results_log, with the event or
// result JSON of that moment, in the schema of the Python runtime's SQLite history mirror. Other
// processes can query the tables while buses write them (WAL journal mode).
//
// It uses modernc.org/sqlite (pure Go, no cgo) and lives in a module of its own, so programs that use
// abxbus without it do not depend on the driver.
//
// Writes are batched on a writer goroutine; a full queue makes hooks wait (no row is dropped); Close
// writes every queued row before it returns.
package sqlitemirror
