package otel

// Tracked reports how many event states and handler spans the Tracer holds (tests: all are released
// when the events complete).
func (t *Tracer) Tracked() (events, results int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.events), len(t.results)
}
