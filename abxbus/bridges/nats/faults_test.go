package nats_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/typedbus/abxbus-go/abxbus"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

// producer emits Pings 0..n-1, every gap, counting the Emit errors; it returns when done.
func producer(ctx context.Context, br *natsbridge.Bridge, n int, gap time.Duration, progress *atomic.Int64) (errs int) {
	for i := 0; i < n; i++ {
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := br.Emit(ectx, abxbus.NewEvent(Ping{Seq: i}).Base())
		cancel()
		if err != nil {
			errs++
		}
		progress.Store(int64(i + 1))
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	return errs
}

func waitProgress(p *atomic.Int64, n int64) {
	for p.Load() < n {
		time.Sleep(5 * time.Millisecond)
	}
}

// A worker process killed with -9 mid-stream and started again: with JetStream nothing is lost; the
// events it had handled but not acknowledged come back (duplicates).
func TestFaultWorkerKill9JetStream(t *testing.T) {
	srv := startNATS(t, true)
	ctx := ctxT(t, 2*time.Minute)
	env := map[string]string{"URL": srv.URL, "SUBJECT": "work", "MODE": "jetstream", "CONSUMER": "w", "ACK_WAIT": "1s", "DELAY": "1ms"}
	em := newBridge(t, srv.URL, "work", jsOpts("w"))
	c := newCollector()
	w := startWorker(t, c, env)
	const n = 600
	var progress atomic.Int64
	errs := make(chan int, 1)
	go func() { errs <- producer(ctx, em, n, 0, &progress) }()
	waitProgress(&progress, n/3)
	for len(c.Snapshot()) < 50 {
		time.Sleep(5 * time.Millisecond)
	}
	w.kill()
	killedAt := len(c.Snapshot())
	startWorker(t, c, env)
	emitErrs := <-errs
	got := c.WaitDistinct(n, 60*time.Second)
	ct := tally(n, got)
	t.Logf("worker kill -9 after %d handled, restarted (JetStream): %+v, emit errors %d", killedAt, ct, emitErrs)
	if ct.Lost != 0 || emitErrs != 0 {
		t.Fatalf("lost %d, emit errors %d", ct.Lost, emitErrs)
	}
}

// Two worker processes on one consumer, one killed with -9 mid-stream: the other takes its
// unacknowledged events over.
func TestFaultTwoWorkersOneKilled(t *testing.T) {
	srv := startNATS(t, true)
	ctx := ctxT(t, 2*time.Minute)
	env := map[string]string{"URL": srv.URL, "SUBJECT": "work", "MODE": "jetstream", "CONSUMER": "w", "ACK_WAIT": "1s", "DELAY": "1ms"}
	em := newBridge(t, srv.URL, "work", jsOpts("w"))
	c1, c2 := newCollector(), newCollector()
	w1 := startWorker(t, c1, env)
	startWorker(t, c2, env)
	const n = 600
	var progress atomic.Int64
	errs := make(chan int, 1)
	go func() { errs <- producer(ctx, em, n, 0, &progress) }()
	waitProgress(&progress, n/3)
	w1.kill()
	emitErrs := <-errs
	deadline := time.Now().Add(60 * time.Second)
	var all []int
	for time.Now().Before(deadline) {
		all = append(c1.Snapshot(), c2.Snapshot()...)
		if len(distinct(all)) >= n {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ct := tally(n, all)
	t.Logf("2 workers, one killed -9: worker1 %d, worker2 %d; %+v", len(c1.Snapshot()), len(c2.Snapshot()), ct)
	if ct.Lost != 0 || emitErrs != 0 {
		t.Fatalf("lost %d, emit errors %d", ct.Lost, emitErrs)
	}
}

// The NATS server restarted mid-stream: JetStream with a file store loses nothing; core NATS loses
// what was in flight, and the test reports how much (Emit errors and events never received).
func TestFaultServerRestart(t *testing.T) {
	for _, mode := range []natsbridge.Mode{natsbridge.JetStream, natsbridge.Core} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := startNATS(t, true)
			ctx := ctxT(t, 2*time.Minute)
			o := &natsbridge.Options{Mode: mode, Consumer: "svc", AckWait: 2 * time.Second}
			em := newBridge(t, srv.URL, "restart", o)
			c := newCollector()
			onSeq(t, newBridge(t, srv.URL, "restart", o), c)
			const n = 300
			var progress atomic.Int64
			errs := make(chan int, 1)
			go func() { errs <- producer(ctx, em, n, 2*time.Millisecond, &progress) }()
			waitProgress(&progress, n/3)
			srv.Restart(t)
			emitErrs := <-errs
			wait := 20 * time.Second
			if mode == natsbridge.Core {
				wait = 3 * time.Second // what is lost does not come
			}
			got := c.WaitDistinct(n, wait)
			ct := tally(n, got)
			t.Logf("server restart mid-stream (%s): %+v, emit errors %d", mode, ct, emitErrs)
			if mode == natsbridge.JetStream && (ct.Lost != 0 || emitErrs != 0) {
				t.Fatalf("JetStream lost %d, emit errors %d", ct.Lost, emitErrs)
			}
			if mode == natsbridge.Core && ct.Lost > emitErrs+n/2 {
				t.Logf("core: %d lost, %d of them reported by Emit", ct.Lost, emitErrs)
			}
		})
	}
}

// A 3-node JetStream cluster on loopback with an R3 stream; one node (the stream leader's) is killed
// with -9 mid-stream. Nothing is lost.
func TestFaultClusterNodeKill(t *testing.T) {
	var ports, cports []int
	for range 3 {
		ports = append(ports, testservers.FreePort(t))
		cports = append(cports, testservers.FreePort(t))
	}
	var nodes []*testservers.NATS
	var urls []string
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(cports[j]))
			}
		}
		n := testservers.StartNATS(t, testservers.NATSOptions{JetStream: true, ServerName: "n" + strconv.Itoa(i),
			ClusterName: "abx", ClusterPort: cports[i], Port: ports[i], Routes: routes})
		nodes = append(nodes, n)
		urls = append(urls, n.URL)
	}
	servers := strings.Join(urls, ",")
	ctx := ctxT(t, 2*time.Minute)
	o := &natsbridge.Options{Mode: natsbridge.JetStream, Consumer: "svc", Replicas: 3, AckWait: 2 * time.Second}
	em := newBridge(t, servers, "cluster", o)
	c := newCollector()
	onSeq(t, newBridge(t, servers, "cluster", o), c)
	const n = 400
	var progress atomic.Int64
	errs := make(chan int, 1)
	go func() { errs <- producer(ctx, em, n, time.Millisecond, &progress) }()
	waitProgress(&progress, n/3)
	js, _ := jetstream.New(em.Conn())
	st, err := js.Stream(ctx, "CLUSTER")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info: %v", err)
	}
	victim, _ := strconv.Atoi(strings.TrimPrefix(info.Cluster.Leader, "n")) // the stream's leader
	nodes[victim].Kill(t)
	emitErrs := <-errs
	got := c.WaitDistinct(n, 60*time.Second)
	ct := tally(n, got)
	t.Logf("3-node cluster, R3, node n%d killed -9 mid-stream: %+v, emit errors %d", victim, ct, emitErrs)
	if ct.Lost != 0 || emitErrs != 0 {
		t.Fatalf("lost %d, emit errors %d", ct.Lost, emitErrs)
	}
}

// A poison event that kills its worker each time: after MaxDeliver unacknowledged deliveries the
// server stops delivering it, and a worker of the consumer dead-letters it from the server's advisory;
// the other events are all handled.
func TestFaultPoisonKillsWorker(t *testing.T) {
	srv := startNATS(t, true)
	ctx := ctxT(t, 2*time.Minute)
	env := map[string]string{"URL": srv.URL, "SUBJECT": "crash", "MODE": "jetstream", "CONSUMER": "w", "ACK_WAIT": "2s", "MAX_DELIVER": "2", "CRASH_ON": "3"}
	o := jsOpts("w")
	o.AckWait, o.MaxDeliver = 2*time.Second, 2
	em := newBridge(t, srv.URL, "crash", o)
	const n = 10
	emitPings(t, ctx, em, 0, n)
	js, _ := jetstream.New(em.Conn())
	dlq, err := js.Stream(ctx, "CRASH_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	crashes := 0
	w := startWorkerMayExit(t, c, env, true)
	for {
		d := distinct(c.Snapshot())
		m, err := dlq.GetMsg(ctx, 1)
		if err == nil && len(d) == n-1 && d[3] == 0 {
			t.Logf("poison that kills its worker: %d crashes, dead letter reason %q, the other %d events handled", crashes, m.Header.Get(natsbridge.HeaderDeadReason), len(d))
			if crashes != 2 {
				t.Fatalf("%d crashes, want MaxDeliver=2", crashes)
			}
			time.Sleep(300 * time.Millisecond)
			if _, err := dlq.GetMsg(ctx, 2); err == nil {
				t.Fatal("a second dead letter: an event that was handled was dead-lettered too")
			}
			return
		}
		select {
		case <-w.done:
			crashes++
			if crashes > 4 {
				t.Fatalf("%d crashes: the poison event was delivered beyond MaxDeliver", crashes)
			}
			w = startWorkerMayExit(t, c, env, true)
		case <-ctx.Done():
			t.Fatalf("no dead letter: delivered %v", d)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
