package abxbustest

import "time"

// SetGoroutineGrace shortens the wait of the cleanup's goroutine check, for the tests that make it
// fail; it returns the function that restores the default. Not safe with parallel tests.
func SetGoroutineGrace(d time.Duration) (restore func()) {
	old := goroutineGrace
	goroutineGrace = d
	return func() { goroutineGrace = old }
}
