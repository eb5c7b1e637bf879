package redis_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

const conformanceMaxBytes = 64 << 10

// harness describes one mode to the conformance suite; srv is nil in a child listener process
// (MaybeRunChild), which gets the address from ListenerArgs.
func harness(mode redisbridge.Mode, srv *testservers.Redis) bridgetest.Harness {
	open := func(t testing.TB, url, group, consumer string) *redisbridge.Bridge {
		br, err := redisbridge.New(url, &redisbridge.Options{Mode: mode, Group: group, Consumer: consumer,
			Logger: bridgetest.Logger(t), MaxMessageBytes: conformanceMaxBytes, ClaimIdle: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { br.Close() })
		return br
	}
	url := func(endpoint string) string { return srv.URL() + "/0/" + endpoint }
	h := bridgetest.Harness{
		Name:     "Redis" + mode.String(),
		Features: bridges.Features{Ordered: true, FanOut: true, MaxMessageBytes: conformanceMaxBytes},
		NewPair: func(t testing.TB) bridgetest.Pair {
			ep := "conf_" + rand.Text()
			// In streams mode the two ends are two services: separate groups (each sees every event).
			return bridgetest.Pair{Emitter: open(t, url(ep), "emitter", "e1"), Listener: open(t, url(ep), "listener", "l1"), Endpoint: ep}
		},
		InjectRaw: func(t testing.TB, p bridgetest.Pair, raw []byte) {
			c := p.Emitter.(*redisbridge.Bridge).Client()
			var err error
			if mode == redisbridge.ModeStreams {
				err = c.XAdd(context.Background(), &goredis.XAddArgs{Stream: p.Endpoint, Values: []any{"event", raw}}).Err()
			} else {
				err = c.Publish(context.Background(), p.Endpoint, raw).Err()
			}
			if err != nil {
				t.Fatal(err)
			}
		},
		N: 200,
	}
	if mode == redisbridge.ModeStreams {
		h.Features = bridges.Features{Ordered: true, Durable: true, AtLeastOnce: true, MaxMessageBytes: conformanceMaxBytes}
		h.Reopen = func(t testing.TB, p bridgetest.Pair) bridges.Bridge {
			return open(t, url(p.Endpoint), "listener", "l1")
		}
		h.ListenerArgs = func(p bridgetest.Pair) []string { return []string{url(p.Endpoint), "listener", "l1"} }
		h.OpenListener = func(ctx context.Context, args []string) (bridges.Bridge, error) {
			return redisbridge.New(args[0], &redisbridge.Options{Mode: mode, Group: args[1], Consumer: args[2],
				MaxMessageBytes: conformanceMaxBytes, ClaimIdle: time.Second})
		}
	}
	return h
}

func TestConformancePubSub(t *testing.T) {
	bridgetest.Run(t, harness(redisbridge.ModePubSub, startRedis(t, false)))
}

func TestConformanceStreams(t *testing.T) {
	bridgetest.Run(t, harness(redisbridge.ModeStreams, startRedis(t, false)))
}

// BenchmarkConformance is the suite's common benchmark (one emitter, one listener) per mode, for
// comparison with the other bridges.
func BenchmarkConformance(b *testing.B) {
	srv := startRedis(b, false)
	for _, mode := range []redisbridge.Mode{redisbridge.ModePubSub, redisbridge.ModeStreams} {
		b.Run(mode.String(), func(b *testing.B) { bridgetest.Benchmark(b, harness(mode, srv)) })
	}
}
