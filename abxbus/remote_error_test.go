package abxbus_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// An error that crossed the wire as {"type","message"} matches the same sentinels (and context errors)
// as the kind it was written from, so code that branches with errors.Is works on a decoded event too.
func TestRemoteErrorMatchesTheKindItWasWrittenFrom(t *testing.T) {
	type want struct {
		sentinels []error
		not       []error
	}
	cases := map[string]want{
		"EventHandlerTimeoutError":      {[]error{abxbus.ErrHandlerTimeout, context.DeadlineExceeded}, []error{context.Canceled, abxbus.ErrEventTimeout}},
		"EventTimeoutError":             {[]error{abxbus.ErrEventTimeout, context.DeadlineExceeded}, []error{context.Canceled, abxbus.ErrHandlerTimeout}},
		"EventHandlerCancelledError":    {[]error{abxbus.ErrHandlerCancelled}, []error{abxbus.ErrHandlerAborted}},
		"EventHandlerAbortedError":      {[]error{abxbus.ErrHandlerAborted}, []error{abxbus.ErrHandlerCancelled}},
		"EventHandlerResultSchemaError": {[]error{abxbus.ErrResultSchema}, []error{abxbus.ErrHandlerPanic}},
		"EventHandlerPanicError":        {[]error{abxbus.ErrHandlerPanic}, []error{abxbus.ErrResultSchema}},
		"EventBusDestroyedError":        {[]error{abxbus.ErrBusDestroyed}, []error{abxbus.ErrHandlerPanic}},
		"ValueError":                    {nil, []error{abxbus.ErrHandlerPanic, context.DeadlineExceeded, context.Canceled}},
	}
	for typ, w := range cases {
		ev, err := abxbus.NewBaseEvent("RemoteErrorProbe", map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := ev.ToJSON()
		if err != nil {
			t.Fatal(err)
		}
		// Splice one errored result, as another runtime writes it, into the event JSON.
		res := `,"event_results":{"0197aaaa-0000-7000-8000-000000000002":{"id":"0197aaaa-0000-7000-8000-000000000001","status":"error","event_id":"` + ev.ID().String() + `","handler_id":"0197aaaa-0000-7000-8000-000000000002","handler_name":"remote","eventbus_id":"0197aaaa-0000-7000-8000-000000000003","eventbus_name":"Remote","error":{"type":"` + typ + `","message":"boom"},"event_children":[]}}}`
		data = append(bytes.Replace(data[:len(data)-1], []byte(`"event_status":"pending"`), []byte(`"event_status":"completed"`), 1), res...)
		dec, err := abxbus.NewRegistry().Decode(data)
		if err != nil {
			t.Fatalf("%s: decode: %v\n%s", typ, err, data)
		}
		rs := dec.Results()
		if len(rs) != 1 || rs[0].Err() == nil {
			t.Fatalf("%s: results %v", typ, rs)
		}
		got := rs[0].Err()
		var re *abxbus.RemoteError
		if !errors.As(got, &re) || re.Type != typ {
			t.Fatalf("%s: err %T %v is not a RemoteError of that type", typ, got, got)
		}
		for _, s := range w.sentinels {
			if !errors.Is(got, s) {
				t.Errorf("%s: errors.Is(err, %v) = false", typ, s)
			}
		}
		for _, s := range w.not {
			if errors.Is(got, s) {
				t.Errorf("%s: errors.Is(err, %v) = true", typ, s)
			}
		}
	}
}

// A real handler timeout, written to JSON and decoded, matches what the local error matches.
func TestRemoteErrorRoundTripOfAHandlerTimeout(t *testing.T) {
	bus, err := abxbus.New("RemoteErrorRoundTrip", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	if _, err := bus.OnType("SlowProbe", func(ctx context.Context, _ *abxbus.BaseEvent) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}, abxbus.WithHandlerTimeout(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	ev, _ := abxbus.NewBaseEvent("SlowProbe", map[string]any{})
	if _, err := bus.Emit(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if err := ev.Now(context.Background()); err != nil {
		t.Fatal(err)
	}
	local := ev.Results()[0].Err()
	data, err := ev.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := abxbus.NewRegistry().Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	remote := dec.Results()[0].Err()
	for _, s := range []error{abxbus.ErrHandlerTimeout, context.DeadlineExceeded} {
		if !errors.Is(local, s) || !errors.Is(remote, s) {
			t.Fatalf("errors.Is(%v): local %v, remote %T %v", s, errors.Is(local, s), remote, errors.Is(remote, s))
		}
	}
}
