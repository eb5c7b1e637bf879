package httpbridge_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// F246, issue 15 item 7: TS emits N, Go receives N in order; Go emits N, TS receives N; payloads intact.
func TestInteropTSToGo(t *testing.T) {
	tspeer.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br, c := newListener(t, &httpbridge.Options{MaxBodyBytes: 16 << 20})
	const n = 200
	bridgetesting.TSToGo(t, ctx, "http-emit", br.ListenURL(), c, n, "HTTPEventBridge")
	// A TS emitter gets an error, not a silent loss, for an event above the Go listener's limit.
	small, _ := newListener(t, &httpbridge.Options{MaxBodyBytes: 1 << 20})
	rep := tsEmit(t, ctx, "http-emit", small.ListenURL(), 1, 2<<20)
	if rep.OK != 0 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0].Error, "413") {
		t.Fatalf("TS emitter above the limit: %+v", rep)
	}
}

func TestInteropGoToTS(t *testing.T) {
	tspeer.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/abxbus_events"
	const n = 200
	wait := tsListener(t, ctx, "http-listen", url, n+1)
	em := newEmitter(t, url, &httpbridge.Options{MaxBodyBytes: 16 << 20, RetryBackoff: time.Millisecond})
	// A TS listener answers 500 to an event its schema rejects (seq is not a number): the Go emitter
	// gets an error naming the status and the URL, and the TS listener goes on.
	bad, err := abxbus.FromJSON([]byte(`{"event_type":"IPCPingEvent","seq":"x","label":"bad"}`))
	if err != nil {
		t.Fatal(err)
	}
	err = em.Emit(ctx, bad)
	var se *httpbridge.SendError
	if !errors.As(err, &se) || se.Status != 500 || !strings.Contains(err.Error(), url) {
		t.Fatalf("invalid event to TS: %v", err)
	}
	for i := range n {
		if err := em.Emit(ctx, ping(i)); err != nil {
			t.Fatal(err)
		}
	}
	bridgetesting.EmitBigToTS(t, ctx, em, n, 10<<20, "10 MB", wait)
}
