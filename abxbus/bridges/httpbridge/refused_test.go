package httpbridge_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
)

// ClashA and ClashB are two Go types with one event type name: an inbound bus bound to ClashB refuses
// a ClashA event.
type ClashA struct {
	abxbus.Returns[abxbus.Void]
	N int `json:"n"`
}

func (ClashA) EventSpec() abxbus.EventSpec { return abxbus.EventSpec{Type: "Clash"} }

type ClashB struct {
	abxbus.Returns[abxbus.Void]
	N int `json:"n"`
}

func (ClashB) EventSpec() abxbus.EventSpec { return abxbus.EventSpec{Type: "Clash"} }

// An event the inbound bus refuses is answered 500 with the refused header and is not remembered as
// accepted: it used to be answered 503 and recorded by the dedupe, so the emitter's retry got "202
// duplicate" and Emit succeeded although nothing was delivered.
func TestRejectedEventIsNotDeduplicatedAsAccepted(t *testing.T) {
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[ClashA](reg); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var refused []*httpbridge.RequestError
	recv, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/abxbus_events", Registry: reg,
		OnError: func(err error) {
			var re *httpbridge.RequestError
			if errors.As(err, &re) {
				mu.Lock()
				refused = append(refused, re)
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	if _, err := abxbus.On(recv.Bus(), func(ctx context.Context, p ClashB) (abxbus.Void, error) { return abxbus.Void{}, nil }); err != nil {
		t.Fatal(err)
	}
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	em := newEmitter(t, recv.ListenURL(), &httpbridge.Options{RetryBackoff: time.Millisecond})
	ev := abxbus.NewEvent(ClashA{N: 1}).Base()
	for attempt := range 2 {
		err := em.Emit(t.Context(), ev)
		var se *httpbridge.SendError
		if !errors.As(err, &se) || se.Status != http.StatusInternalServerError || se.Attempts != 1 {
			t.Fatalf("Emit %d: %v, want a 500 answered once (not retried)", attempt, err)
		}
	}
	// OnError runs after the answer was written: wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(refused)
		ok := n == 2 && refused[0].Status == http.StatusInternalServerError && refused[1].Status == http.StatusInternalServerError
		mu.Unlock()
		if ok {
			break
		}
		if n > 2 || time.Now().After(deadline) {
			t.Fatalf("%d refusals, want two 500s", n)
		}
		time.Sleep(time.Millisecond)
	}
}
