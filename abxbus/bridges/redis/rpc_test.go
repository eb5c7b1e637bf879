package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/typedbus/abxbus-go/abxbus"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

type Add struct {
	abxbus.Returns[int]
	A int `json:"a"`
	B int `json:"b"`
}

type Slow struct {
	abxbus.Returns[string]
	For time.Duration `json:"for"`
}

type Nobody struct {
	abxbus.Returns[int]
}

type Notify struct {
	abxbus.Returns[abxbus.Void]
	Text string `json:"text"`
}

var ErrDeclined = &abxbus.ServiceError{Code: "declined"}

func startCallServer(t *testing.T, url string) *abxbus.Bus {
	t.Helper()
	bus, err := abxbus.New("Calc", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Destroy(true) })
	abxbus.On(bus, func(ctx context.Context, p Add) (int, error) {
		if p.A < 0 {
			return 0, ErrDeclined
		}
		return p.A + p.B, nil
	})
	abxbus.On(bus, func(ctx context.Context, p Slow) (string, error) {
		select {
		case <-time.After(p.For):
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}, abxbus.WithHandlerTimeout(200*time.Millisecond))
	abxbus.OnNotify(bus, func(ctx context.Context, p Notify) error { return nil })
	srv, err := redisbridge.NewServer(url, bus, &redisbridge.ServerOptions{Logger: quiet(), Consumer: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return bus
}

func TestCallAcrossProcesses(t *testing.T) {
	rs := startRedis(t, false)
	startCallServer(t, rs.URL())
	cl, err := redisbridge.NewClient(rs.URL(), &redisbridge.ClientOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxT(t, 20*time.Second)

	for i := range 20 {
		got, err := redisbridge.Call(ctx, cl, Add{A: i, B: 1})
		if err != nil || got != i+1 {
			t.Fatalf("Add(%d,1) = %d, %v", i, got, err)
		}
	}
	if _, err := redisbridge.Call(ctx, cl, Add{A: -1}); !errors.Is(err, ErrDeclined) {
		t.Fatalf("declined: %v", err)
	}
	_, err = redisbridge.Call(ctx, cl, Slow{For: 2 * time.Second})
	var ce *redisbridge.CallError
	if !errors.Is(err, abxbus.ErrHandlerTimeout) || !errors.As(err, &ce) || ce.Type != "EventHandlerTimeoutError" {
		t.Fatalf("handler timeout: %v (%#v)", err, ce)
	}
	if _, err := redisbridge.Call(ctx, cl, Nobody{}); !errors.Is(err, abxbus.ErrNoHandler) {
		t.Fatalf("no handler: %v", err)
	}
	if _, err := redisbridge.Call(ctx, cl, Notify{Text: "hi"}); err != nil {
		t.Fatalf("void call: %v", err)
	}
	raw, err := cl.CallEvent(ctx, abxbus.NewEvent(Add{A: 2, B: 3}).Base())
	if err != nil || string(raw) != "5" {
		t.Fatalf("untyped: %s %v", raw, err)
	}
	// The caller's context bounds the call.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = redisbridge.Call(short, cl, Slow{For: 150 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("bounded by ctx: %v after %v", err, time.Since(start))
	}
}

// Without a server the call ends with the caller's context; the request waits in the stream and is
// dropped by a server that starts after the caller gave up.
func TestCallNoServer(t *testing.T) {
	rs := startRedis(t, false)
	cl, err := redisbridge.NewClient(rs.URL(), &redisbridge.ClientOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := redisbridge.Call(ctx, cl, Add{A: 1, B: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	bus := startCallServer(t, rs.URL())
	_ = bus
	ctx2 := ctxT(t, 10*time.Second)
	if got, err := redisbridge.Call(ctx2, cl, Add{A: 1, B: 2}); err != nil || got != 3 {
		t.Fatalf("after the server started: %d %v", got, err)
	}
}

// Close of a server with a call under way returns at once; the call stays pending and a second server
// answers it (after ClaimIdle).
func TestCallServerClosedMidCall(t *testing.T) {
	rs := startRedis(t, false)
	block := make(chan struct{})
	defer close(block)
	bus1, _ := abxbus.New("Slow1", nil)
	defer bus1.Destroy(true)
	abxbus.On(bus1, func(ctx context.Context, p Add) (int, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return 0, errors.New("first server")
	})
	s1, err := redisbridge.NewServer(rs.URL(), bus1, &redisbridge.ServerOptions{Logger: quiet(), Consumer: "s1", ClaimIdle: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Start(); err != nil {
		t.Fatal(err)
	}
	cl, err := redisbridge.NewClient(rs.URL(), &redisbridge.ClientOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	res := make(chan error, 1)
	go func() {
		v, err := redisbridge.Call(ctxT(t, 20*time.Second), cl, Add{A: 20, B: 22})
		if err == nil && v != 42 {
			err = errors.New("wrong result")
		}
		res <- err
	}()
	time.Sleep(200 * time.Millisecond) // s1 has taken the call
	start := time.Now()
	s1.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	bus2, _ := abxbus.New("Fast2", nil)
	defer bus2.Destroy(true)
	abxbus.On(bus2, func(ctx context.Context, p Add) (int, error) { return p.A + p.B, nil })
	s2, err := redisbridge.NewServer(rs.URL(), bus2, &redisbridge.ServerOptions{Logger: quiet(), Consumer: "s2", ClaimIdle: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := <-res; err != nil {
		t.Fatalf("the call was not answered by the second server: %v", err)
	}
}

// A call whose reply cannot be published (the server's Redis user may not publish to the caller's
// channel) fails after its handler ran; when the acknowledger finds that failure while looking ahead
// for finished entries to acknowledge together, the calls after it must still be answered and acked.
func TestCallServerAcksAfterAFailedReply(t *testing.T) {
	rs := startRedis(t, false)
	admin := goredis.NewClient(&goredis.Options{Addr: rs.Addr})
	defer admin.Close()
	ctx := ctxT(t, 20*time.Second)
	if err := admin.Do(ctx, "ACL", "SETUSER", "srv", "on", ">pw", "~*", "resetchannels", "&abxbus_reply:*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	startCallServer(t, "redis://srv:pw@"+rs.Addr)
	slow, err := abxbus.NewEvent(Slow{For: 150 * time.Millisecond}).Base().ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	add, err := abxbus.NewEvent(Add{A: 1, B: 1}).Base().ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	// A slow call, then at once a quick one whose reply goes to a channel the server may not publish
	// to: the quick one has failed by the time the slow one is over.
	pipe := admin.Pipeline()
	pipe.XAdd(ctx, &goredis.XAddArgs{Stream: redisbridge.DefaultCallStream, Values: []any{"event", slow, "call", "c1", "reply", "abxbus_reply:nobody", "deadline", "0", "require", "0"}})
	pipe.XAdd(ctx, &goredis.XAddArgs{Stream: redisbridge.DefaultCallStream, Values: []any{"event", add, "call", "c2", "reply", "elsewhere:2", "deadline", "0", "require", "0"}})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	cl, err := redisbridge.NewClient(rs.URL(), &redisbridge.ClientOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	time.Sleep(300 * time.Millisecond)
	for i := range 5 {
		got, err := redisbridge.Call(ctx, cl, Add{A: i, B: 1})
		if err != nil || got != i+1 {
			t.Fatalf("Add(%d,1) = %d, %v", i, got, err)
		}
	}
	// Only the call whose reply failed stays pending (for a later claim); the rest are acknowledged.
	waitPending(t, admin, redisbridge.DefaultCallStream, redisbridge.DefaultServerGroup, 1)
}
