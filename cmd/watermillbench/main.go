// Command watermillbench runs the workloads of `abxbus bench` that map onto watermill's in-process
// GoChannel pub/sub (50k, ephemeral, onoff, fanout-serial, fanout-parallel: shapes.go) on abxbus and,
// in the same process and interleaved, on watermill, then prints each one's cost per event and the
// ratios, shape by shape.
//
//	go run ./cmd/watermillbench [-shapes 50k,ephemeral,...] [-n 50000] [-batch 512] [-scale 1] [-runs 3] [-json]
//
// The variants of the 50k shape (1 bus, 1 handler, 50,000 events awaited in batches of 512):
//
//   - abxbus: typed Emit, then Now on every event of the batch (the `50k` workload, without its
//     history-size check).
//   - watermill-gochannel: GoChannel Publish of a JSON-encoded message to one subscriber that decodes
//     it, handles it and acks it; the publisher awaits the batch with a WaitGroup the subscriber counts
//     down (GoChannel gives a publisher no per-message completion of its own). JSON is the encoding a
//     watermill user needs for a typed payload; abxbus keeps the typed value in process.
//   - watermill-requestreply: watermill's request/reply component (cqrs CommandBus + CommandProcessor on
//     a router, PubSubBackend for replies, all over one GoChannel): SendWithReplies for every command of
//     the batch, then the first reply of each. Like abxbus's Now it gives the caller the handler's result.
//
// Every variant checks that each event was handled once (count and payload checksum) and, where a
// result comes back, that it is the expected one. The process exits non-zero when a check fails.
//
// This is a nested module (its own go.mod) so the core module never requires watermill; the root
// go.work makes it build against the working tree.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/components/requestreply"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/typedbus/abxbus-go/abxbus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	n, batch int
	scale    float64 // sizes of the shapes other than 50k (1 = the standard sizes of abxbus bench)
	timeout  time.Duration
}

// scaled returns n*scale, at least min.
func (c config) scaled(n, min int) int {
	return max(int(float64(n)*c.scale), min)
}

// measurement is one variant's run.
type measurement struct {
	elapsed time.Duration
	bytes   uint64 // runtime.MemStats.TotalAlloc delta
	allocs  uint64 // runtime.MemStats.Mallocs delta
}

type meter struct {
	t0  time.Time
	ms0 runtime.MemStats
}

func startMeter() *meter {
	runtime.GC()
	m := &meter{}
	runtime.ReadMemStats(&m.ms0)
	m.t0 = time.Now()
	return m
}

func (m *meter) stop() measurement {
	elapsed := time.Since(m.t0)
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	return measurement{elapsed: elapsed, bytes: ms1.TotalAlloc - m.ms0.TotalAlloc, allocs: ms1.Mallocs - m.ms0.Mallocs}
}

type variant struct {
	name string
	run  func(ctx context.Context, cfg config) (measurement, error)
}

// shape is one workload of abxbus bench that maps onto watermill, with its variants (abxbus first:
// the base of the ratios). units gives the events per run.
type shape struct {
	key      string
	summary  string
	units    func(cfg config) int
	variants []variant
}

var variants = []variant{
	{"abxbus", runAbxbus},
	{"watermill-gochannel", runGoChannel},
	{"watermill-requestreply", runRequestReply},
}

var shapes = []shape{
	{key: "50k", summary: "1 handler, events awaited in batches", units: func(c config) int { return c.n }, variants: variants},
	{key: "ephemeral", summary: "500 buses/pubsubs one after another, 100 events each, then closed",
		units:    func(c config) int { return ephemeralShape(c).buses * ephemeralPerBus },
		variants: []variant{{"abxbus", runAbxbusEphemeral}, {"watermill-gochannel", runGoChannelEphemeral}}},
	{key: "onoff", summary: "per event: subscribe a handler, publish, await, unsubscribe",
		units:    func(c config) int { return c.scaled(50_000, 100) },
		variants: []variant{{"abxbus", runAbxbusOnOff}, {"watermill-gochannel", runGoChannelOnOff}}},
	{key: "fanout-serial", summary: "4 handlers sleeping 1.5 ms, one after another, events in batches of 40",
		units:    fanoutUnits,
		variants: []variant{{"abxbus", runAbxbusFanoutSerial}, {"watermill-gochannel", runGoChannelFanoutSerial}}},
	{key: "fanout-parallel", summary: "4 handlers sleeping 1.5 ms, in parallel, events in batches of 40",
		units:    fanoutUnits,
		variants: []variant{{"abxbus", runAbxbusFanoutParallel}, {"watermill-gochannel", runGoChannelFanoutParallel}}},
}

func shapeKeys() []string {
	keys := make([]string, len(shapes))
	for i, s := range shapes {
		keys[i] = s.key
	}
	return keys
}

// row is one line of -json output.
type row struct {
	Shape         string  `json:"shape"`
	Variant       string  `json:"variant"`
	OK            bool    `json:"ok"`
	Events        int     `json:"events"`
	MsPerEvent    float64 `json:"ms_per_event"`
	BytesPerEvent float64 `json:"bytes_per_event"`
	AllocsPerEvnt float64 `json:"allocs_per_event"`
	// TimeRatio and AllocsRatio compare with abxbus in the same process: variant / abxbus.
	TimeRatio   float64 `json:"time_ratio_vs_abxbus"`
	AllocsRatio float64 `json:"allocs_ratio_vs_abxbus"`
	Error       string  `json:"error,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("watermillbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 50_000, "events per variant on the 50k shape")
	scale := fs.Float64("scale", 1, "size of the other shapes relative to abxbus bench's (0 < scale <= 1)")
	shapesFlag := fs.String("shapes", strings.Join(shapeKeys(), ","), "comma-separated shapes to run")
	batch := fs.Int("batch", 512, "events emitted before the batch is awaited")
	runs := fs.Int("runs", 3, "runs per variant, interleaved; the median run by time is reported")
	only := fs.String("only", "", "comma-separated variants (default all): abxbus,watermill-gochannel,watermill-requestreply")
	asJSON := fs.Bool("json", false, "print one JSON object per variant and line")
	timeout := fs.Duration("timeout", 5*time.Minute, "bound on each variant's run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "watermillbench: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *n < 1:
		fmt.Fprintf(stderr, "watermillbench: -n must be >= 1, got %d\n", *n)
		return 2
	case *batch < 1:
		fmt.Fprintf(stderr, "watermillbench: -batch must be >= 1, got %d\n", *batch)
		return 2
	case *runs < 1:
		fmt.Fprintf(stderr, "watermillbench: -runs must be >= 1, got %d\n", *runs)
		return 2
	case *timeout <= 0:
		fmt.Fprintf(stderr, "watermillbench: -timeout must be positive, got %v\n", *timeout)
		return 2
	case !(*scale > 0) || *scale > 1:
		fmt.Fprintf(stderr, "watermillbench: -scale must be > 0 and <= 1, got %v\n", *scale)
		return 2
	}
	var selShapes []shape
	for _, k := range strings.Split(*shapesFlag, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		i := slices.IndexFunc(shapes, func(s shape) bool { return s.key == k })
		if i < 0 {
			fmt.Fprintf(stderr, "watermillbench: unknown shape %q (known: %s)\n", k, strings.Join(shapeKeys(), ", "))
			return 2
		}
		selShapes = append(selShapes, shapes[i])
	}
	if len(selShapes) == 0 {
		fmt.Fprintf(stderr, "watermillbench: -shapes names no shape\n")
		return 2
	}
	var onlyNames []string
	if strings.TrimSpace(*only) != "" {
		for _, name := range strings.Split(*only, ",") {
			name = strings.TrimSpace(name)
			if !slices.ContainsFunc(variants, func(v variant) bool { return v.name == name }) {
				fmt.Fprintf(stderr, "watermillbench: unknown variant %q\n", name)
				return 2
			}
			onlyNames = append(onlyNames, name)
		}
	}
	cfg := config{n: *n, batch: *batch, scale: *scale, timeout: *timeout}
	failed := false
	for i, sh := range selShapes {
		selected := sh.variants
		if onlyNames != nil {
			selected = slices.DeleteFunc(slices.Clone(selected), func(v variant) bool { return !slices.Contains(onlyNames, v.name) })
		}
		if len(selected) == 0 {
			continue
		}
		if i > 0 && !*asJSON {
			fmt.Fprintln(stdout)
		}
		if code := runShape(ctx, sh, selected, cfg, *runs, *asJSON, stdout, stderr); code != 0 {
			if code != 1 {
				return code
			}
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}

// runShape runs the variants of one shape, interleaved, and prints their rows; it returns 1 when a
// variant failed (after printing), another non-zero code when it could not run.
func runShape(ctx context.Context, sh shape, selected []variant, cfg config, runs int, asJSON bool, stdout, stderr io.Writer) int {
	units := sh.units(cfg)

	results := make(map[string][]measurement, len(selected))
	failures := map[string]error{}
	for r := 0; r < runs; r++ {
		for _, v := range selected { // interleaved, so drift of the machine hits every variant alike
			if err := ctx.Err(); err != nil {
				fmt.Fprintf(stderr, "watermillbench: %v\n", err)
				return 1
			}
			m, err := v.run(ctx, cfg)
			if err != nil && failures[v.name] == nil {
				failures[v.name] = err
			}
			results[v.name] = append(results[v.name], m)
		}
	}
	median := func(ms []measurement) measurement {
		s := slices.Clone(ms)
		sort.Slice(s, func(i, j int) bool { return s[i].elapsed < s[j].elapsed })
		return s[len(s)/2]
	}
	base, haveBase := measurement{}, false
	if ms, ok := results["abxbus"]; ok && failures["abxbus"] == nil {
		base, haveBase = median(ms), true
	}
	var rows []row
	for _, v := range selected {
		m := median(results[v.name])
		u := float64(units)
		r := row{
			Shape: sh.key, Variant: v.name, OK: failures[v.name] == nil, Events: units,
			MsPerEvent:    float64(m.elapsed.Nanoseconds()) / 1e6 / u,
			BytesPerEvent: float64(m.bytes) / u,
			AllocsPerEvnt: float64(m.allocs) / u,
		}
		if haveBase {
			r.TimeRatio = float64(m.elapsed) / float64(max(base.elapsed, 1))
			r.AllocsRatio = float64(m.allocs) / float64(max(base.allocs, 1))
		}
		if err := failures[v.name]; err != nil {
			r.Error = err.Error()
		}
		rows = append(rows, r)
	}
	if asJSON {
		for _, r := range rows {
			b, _ := json.Marshal(r)
			fmt.Fprintf(stdout, "%s\n", b)
		}
	} else {
		fmt.Fprintf(stdout, "%s shape (%s): %d events; median of %d interleaved runs (%s, GOMAXPROCS=%d)\n",
			sh.key, sh.summary, units, runs, runtime.Version(), runtime.GOMAXPROCS(0))
		fmt.Fprintf(stdout, "%-24s %12s %12s %12s %10s %10s\n", "variant", "ms/event", "bytes/event", "allocs/event", "time x", "allocs x")
		for _, r := range rows {
			status := ""
			if !r.OK {
				status = "  FAILED: " + r.Error
			}
			fmt.Fprintf(stdout, "%-24s %12.5f %12.0f %12.1f %10.2f %10.2f%s\n",
				r.Variant, r.MsPerEvent, r.BytesPerEvent, r.AllocsPerEvnt, r.TimeRatio, r.AllocsRatio, status)
		}
		if haveBase {
			for _, r := range rows {
				if r.Variant != "abxbus" && r.OK {
					fmt.Fprintf(stdout, "%s: ratio %s / abxbus: %.2fx the time, %.2fx the allocations per event\n", sh.key, r.Variant, r.TimeRatio, r.AllocsRatio)
				}
			}
		}
	}
	if len(failures) > 0 {
		names := make([]string, 0, len(failures))
		for k := range failures {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintf(stderr, "watermillbench: %s: variant(s) failed: %s\n", sh.key, strings.Join(names, ", "))
		return 1
	}
	return 0
}

// PerfSimpleEvent is the 50k workload's event; the handler returns 2*value+1.
type PerfSimpleEvent struct {
	abxbus.Returns[int]
	Value   int `json:"value"`
	BatchID int `json:"batch_id"`
}

func expectedChecksum(n int) int64 {
	var s int64
	for i := range n {
		s += int64(i + i%17)
	}
	return s
}

func checkCounts(n int, processed, checksum int64) error {
	var errs []error
	if processed != int64(n) {
		errs = append(errs, fmt.Errorf("handler ran %d times, want %d", processed, n))
	}
	if want := expectedChecksum(n); checksum != want {
		errs = append(errs, fmt.Errorf("payload checksum %d, want %d", checksum, want))
	}
	return errors.Join(errs...)
}

func runAbxbus(ctx context.Context, cfg config) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	bus, err := abxbus.New("Perf50kBus", &abxbus.Options{MaxHistorySize: abxbus.Ptr(512), MaxHistoryDrop: true})
	if err != nil {
		return measurement{}, err
	}
	defer bus.Destroy(true)
	var processed, checksum atomic.Int64
	if _, err := abxbus.On(bus, func(ctx context.Context, p PerfSimpleEvent) (int, error) {
		processed.Add(1)
		checksum.Add(int64(p.Value + p.BatchID))
		return 2*p.Value + 1, nil
	}); err != nil {
		return measurement{}, err
	}
	batch := make([]*abxbus.Event[PerfSimpleEvent, int], 0, cfg.batch)
	kept := make([]*abxbus.Event[PerfSimpleEvent, int], 0, cfg.n/1024+1) // checked after the timed part
	await := func() error {
		for _, e := range batch {
			if err := e.Now(ctx); err != nil {
				return err
			}
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	m := startMeter()
	for i := range cfg.n {
		e, err := abxbus.Emit(ctx, bus, PerfSimpleEvent{Value: i, BatchID: i % 17})
		if err != nil {
			return m.stop(), err
		}
		if i%1024 == 0 {
			kept = append(kept, e)
		}
		batch = append(batch, e)
		if len(batch) == cfg.batch {
			if err := await(); err != nil {
				return m.stop(), err
			}
		}
	}
	if err := await(); err != nil {
		return m.stop(), err
	}
	if err := bus.WaitUntilIdle(ctx); err != nil {
		return m.stop(), err
	}
	meas := m.stop()
	for _, e := range kept {
		p, _ := e.Payload()
		if got, err := e.Result(ctx); err != nil || got != 2*p.Value+1 {
			return meas, fmt.Errorf("result of %s: %v, %v; want %d", e, got, err, 2*p.Value+1)
		}
	}
	return meas, checkCounts(cfg.n, processed.Load(), checksum.Load())
}

func runGoChannel(ctx context.Context, cfg config) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const topic = "perf_simple_event"
	pubSub := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	defer pubSub.Close()
	msgs, err := pubSub.Subscribe(ctx, topic)
	if err != nil {
		return measurement{}, err
	}
	var processed, checksum atomic.Int64
	var decodeErrs atomic.Int64
	var pending sync.WaitGroup
	handlerDone := make(chan struct{})
	go func() {
		defer close(handlerDone)
		for msg := range msgs {
			var p PerfSimpleEvent
			if err := json.Unmarshal(msg.Payload, &p); err != nil {
				decodeErrs.Add(1)
			} else {
				processed.Add(1)
				checksum.Add(int64(p.Value + p.BatchID))
			}
			msg.Ack()
			pending.Done()
		}
	}()
	m := startMeter()
	inBatch := 0
	var runErr error
	for i := 0; i < cfg.n && runErr == nil; i++ {
		payload, err := json.Marshal(PerfSimpleEvent{Value: i, BatchID: i % 17})
		if err != nil {
			runErr = err
			break
		}
		pending.Add(1)
		if err := pubSub.Publish(topic, message.NewMessage(watermill.NewUUID(), payload)); err != nil {
			pending.Done()
			runErr = err
			break
		}
		if inBatch++; inBatch == cfg.batch {
			runErr = waitGroup(ctx, &pending)
			inBatch = 0
		}
	}
	if runErr == nil {
		runErr = waitGroup(ctx, &pending)
	}
	meas := m.stop()
	if err := pubSub.Close(); err != nil && runErr == nil {
		runErr = err
	}
	<-handlerDone
	if runErr != nil {
		return meas, runErr
	}
	if x := decodeErrs.Load(); x != 0 {
		return meas, fmt.Errorf("%d messages did not decode", x)
	}
	return meas, checkCounts(cfg.n, processed.Load(), checksum.Load())
}

// waitGroup waits for wg or ctx, whichever comes first.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("batch not handled: %w", ctx.Err())
	}
}

// PerfCommand is the request/reply variant's command (watermill's cqrs marshals it as JSON).
type PerfCommand struct {
	Value   int `json:"value"`
	BatchID int `json:"batch_id"`
}

func runRequestReply(ctx context.Context, cfg config) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	logger := watermill.NopLogger{}
	pubSub := gochannel.NewGoChannel(gochannel.Config{}, logger)
	defer pubSub.Close()
	router, err := message.NewRouter(message.RouterConfig{}, logger)
	if err != nil {
		return measurement{}, err
	}
	defer router.Close()
	marshaler := cqrs.JSONMarshaler{}
	commandBus, err := cqrs.NewCommandBusWithConfig(pubSub, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) {
			return "commands." + p.CommandName, nil
		},
		Marshaler: marshaler,
	})
	if err != nil {
		return measurement{}, err
	}
	processor, err := cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
			return "commands." + p.CommandName, nil
		},
		SubscriberConstructor: func(cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return pubSub, nil
		},
		Marshaler: marshaler,
	})
	if err != nil {
		return measurement{}, err
	}
	replyTopic := func(id requestreply.OperationID) string { return "replies." + string(id) }
	backend, err := requestreply.NewPubSubBackend[int](requestreply.PubSubBackendConfig{
		Publisher: pubSub,
		SubscriberConstructor: func(requestreply.PubSubBackendSubscribeParams) (message.Subscriber, error) {
			return pubSub, nil
		},
		GeneratePublishTopic: func(p requestreply.PubSubBackendPublishParams) (string, error) {
			return replyTopic(p.OperationID), nil
		},
		GenerateSubscribeTopic: func(p requestreply.PubSubBackendSubscribeParams) (string, error) {
			return replyTopic(p.OperationID), nil
		},
	}, requestreply.BackendPubsubJSONMarshaler[int]{})
	if err != nil {
		return measurement{}, err
	}
	var processed, checksum atomic.Int64
	if err := processor.AddHandlers(requestreply.NewCommandHandlerWithResult[PerfCommand, int](
		"perf_handler", backend, func(ctx context.Context, cmd *PerfCommand) (int, error) {
			processed.Add(1)
			checksum.Add(int64(cmd.Value + cmd.BatchID))
			return 2*cmd.Value + 1, nil
		})); err != nil {
		return measurement{}, err
	}
	routerCtx, stopRouter := context.WithCancel(ctx)
	routerDone := make(chan error, 1)
	go func() { routerDone <- router.Run(routerCtx) }()
	defer func() {
		stopRouter()
		<-routerDone
	}()
	select {
	case <-router.Running():
	case <-ctx.Done():
		return measurement{}, ctx.Err()
	}

	type waiting struct {
		want    int
		replies <-chan requestreply.Reply[int]
		cancel  func()
	}
	batch := make([]waiting, 0, cfg.batch)
	var wrong int
	await := func() error {
		defer func() {
			for _, w := range batch {
				w.cancel()
			}
			batch = batch[:0]
		}()
		for _, w := range batch {
			select {
			case r, ok := <-w.replies:
				switch {
				case !ok:
					return errors.New("reply channel closed without a reply")
				case r.Error != nil:
					return fmt.Errorf("reply: %w", r.Error)
				case r.HandlerResult != w.want:
					wrong++
				}
			case <-ctx.Done():
				return fmt.Errorf("no reply: %w", ctx.Err())
			}
		}
		return nil
	}
	m := startMeter()
	var runErr error
	for i := 0; i < cfg.n && runErr == nil; i++ {
		replies, cancelReply, err := requestreply.SendWithReplies[int](ctx, commandBus, backend, &PerfCommand{Value: i, BatchID: i % 17})
		if err != nil {
			runErr = err
			break
		}
		batch = append(batch, waiting{want: 2*i + 1, replies: replies, cancel: cancelReply})
		if len(batch) == cfg.batch {
			runErr = await()
		}
	}
	if runErr == nil {
		runErr = await()
	} else {
		for _, w := range batch {
			w.cancel()
		}
	}
	meas := m.stop()
	if runErr != nil {
		return meas, runErr
	}
	if wrong != 0 {
		return meas, fmt.Errorf("%d replies carried a wrong result", wrong)
	}
	return meas, checkCounts(cfg.n, processed.Load(), checksum.Load())
}
