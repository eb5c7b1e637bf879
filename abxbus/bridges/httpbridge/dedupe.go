package httpbridge

import (
	"sync"

	"github.com/typedbus/abxbus-go/abxbus"
)

// dedupe remembers the sender's event ids of the last size accepted requests, so that a POST retried
// by an emitter (its answer was lost) is answered again without delivering the event twice. Memory is
// bounded: a ring of ids and a map of the same size.
type dedupe struct {
	mu   sync.Mutex
	size int
	seen map[string]*seenEntry
	ring []string
	next int
}

// seenEntry is one remembered id. event is the locally emitted (reset) event, set once it was
// accepted; ready is closed then, or when the first request failed (event stays nil and the entry is
// forgotten, so a retry is processed anew).
type seenEntry struct {
	ready chan struct{}
	event *abxbus.BaseEvent
}

func newDedupe(size int) *dedupe {
	if size <= 0 {
		return nil
	}
	return &dedupe{size: size, seen: make(map[string]*seenEntry, size), ring: make([]string, size)}
}

// claim returns (entry, true) for the first request with id, which must then call done, or the entry
// of an earlier request with the same id and false.
func (d *dedupe) claim(id string) (*seenEntry, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if en, ok := d.seen[id]; ok {
		return en, false
	}
	en := &seenEntry{ready: make(chan struct{})}
	if old := d.ring[d.next]; old != "" {
		delete(d.seen, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % d.size
	d.seen[id] = en
	return en, true
}

// done records the outcome of the first request of id: the emitted event, or nil when it was not
// accepted (the id is forgotten).
func (d *dedupe) done(id string, en *seenEntry, e *abxbus.BaseEvent) {
	d.mu.Lock()
	en.event = e
	if e == nil && d.seen[id] == en {
		delete(d.seen, id)
		for i, s := range d.ring {
			if s == id {
				d.ring[i] = ""
				break
			}
		}
	}
	d.mu.Unlock()
	close(en.ready)
}
