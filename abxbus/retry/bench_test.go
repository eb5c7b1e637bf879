package retry_test

import (
	"context"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus/retry"
)

// The cost of the wrapper on a call whose first attempt succeeds.
func BenchmarkWrapper(b *testing.B) {
	fn := func(ctx context.Context, n int) (int, error) { return n, nil }
	sem, _ := retry.NewSemaphore("bench", 4)
	mp, err := retry.Multiprocess(b.TempDir(), "bench", 4)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    retry.Options
	}{
		{"plain", retry.Options{MaxAttempts: 3}},
		{"attempt-timeout", retry.Options{MaxAttempts: 3, AttemptTimeout: 1e9}},
		{"semaphore", retry.Options{MaxAttempts: 3, Semaphore: sem}},
		{"multiprocess", retry.Options{MaxAttempts: 3, Semaphore: mp}},
	} {
		h, err := retry.Handler(c.o, fn)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := h(ctx, i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
