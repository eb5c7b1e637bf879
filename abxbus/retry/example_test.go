package retry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/retry"
)

// ChargeCard asks a payment gateway for a receipt.
type ChargeCard struct {
	abxbus.Returns[string]
	Card string `json:"card"`
}

var errGatewayBusy = errors.New("gateway busy")

// A typed handler retried on a bus: the gateway is busy twice, the third attempt succeeds, and the bus
// sees one handler run.
func ExampleHandler() {
	ctx := context.Background()
	bus, _ := abxbus.New("Payments", nil)
	defer bus.Destroy(true)

	busy := 2
	charge := func(ctx context.Context, c ChargeCard) (string, error) {
		if busy > 0 {
			busy--
			return "", errGatewayBusy
		}
		return "receipt for " + c.Card, nil
	}
	h, err := retry.Handler(retry.Options{
		MaxAttempts:   4,
		RetryAfter:    10 * time.Millisecond,
		BackoffFactor: 2, // 10 ms, then 20 ms
		RetryOn:       []retry.Matcher{retry.On(errGatewayBusy)},
		OnRetry: func(_ context.Context, info retry.RetryInfo) {
			fmt.Printf("attempt %d failed (%v), next in %v\n", info.Attempt, info.Err, info.Delay)
		},
	}, charge)
	if err != nil {
		fmt.Println(err)
		return
	}
	abxbus.On(bus, h)

	receipt, err := abxbus.Call(ctx, bus, ChargeCard{Card: "4242"})
	fmt.Println(receipt, err)
	// Output:
	// attempt 1 failed (gateway busy), next in 10ms
	// attempt 2 failed (gateway busy), next in 20ms
	// receipt for 4242 <nil>
}

// The error of a call that gave up says how many attempts ran and still matches the function's error.
func ExampleError() {
	_, err := retry.Do(context.Background(), retry.Options{Name: "fetch", MaxAttempts: 3},
		func(ctx context.Context) (string, error) { return "", errGatewayBusy })
	var re *retry.Error
	fmt.Println(err)
	fmt.Println(errors.As(err, &re), re.Attempts, errors.Is(err, errGatewayBusy))
	// Output:
	// retry: fetch: 3 attempts: gateway busy
	// true 3 true
}

// A process-wide limit by name: at most two calls of the wrapped function run at once.
func ExampleGlobal() {
	sem, err := retry.Global("thumbnailer", 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	var running, peak atomic.Int32
	thumbnail, _ := retry.Func(retry.Options{Semaphore: sem}, func(ctx context.Context) (int, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		return 0, nil
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { thumbnail(context.Background()) })
	}
	wg.Wait()
	fmt.Println("at most", sem.Limit(), "at once:", peak.Load() <= 2)
	// Output:
	// at most 2 at once: true
}

// Processes on one machine share three slots: every process that runs this takes one of the files
// /var/tmp/myapp-locks/ffmpeg.{0,1,2}.slot for the duration of a call. A process that crashes while it
// holds a slot frees it at once.
func ExampleMultiprocess() {
	sem, err := retry.Multiprocess("/var/tmp/myapp-locks", "ffmpeg", 3)
	if err != nil {
		fmt.Println(err) // e.g. on Windows: no flock
		return
	}
	transcode, err := retry.Func(retry.Options{
		Semaphore:        sem,
		SemaphoreTimeout: time.Minute,
		SemaphoreStrict:  true, // no free slot within a minute: fail instead of running anyway
		MaxAttempts:      2,
	}, func(ctx context.Context) (string, error) {
		return "out.mp4", nil // run ffmpeg here
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := transcode(context.Background())
	fmt.Println(out, err)
}

// Job is a payload keyed by customer.
type Job struct {
	abxbus.Returns[abxbus.Void]
	Customer string `json:"customer"`
}

// One customer's jobs run one at a time; different customers' jobs run side by side.
func ExampleKeyed() {
	perCustomer, _ := retry.Keyed("jobs", 1, func(j Job) string { return j.Customer })
	run, err := retry.Notify(retry.Options{Semaphore: perCustomer}, func(ctx context.Context, j Job) error {
		return nil // the job
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	bus, _ := abxbus.New("Jobs", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	defer bus.Destroy(true)
	abxbus.OnNotify(bus, run)
	_, err = abxbus.Call(context.Background(), bus, Job{Customer: "acme"})
	fmt.Println(err)
	// Output:
	// <nil>
}
