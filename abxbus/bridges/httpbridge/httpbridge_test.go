package httpbridge_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
)

const validEvent = `{"event_type":"CurlEvent","seq":1000,"event_id":"01a202f1-32cf-7552-b3c8-1a509ea05cac","event_created_at":"2026-01-01T00:00:00.000000001Z"}`

// F246: the listener answers as the TS listener does (http_listener_responses.txt), plus 401 and 413.
func TestListenerStatusCodes(t *testing.T) {
	var refused []*httpbridge.RequestError
	var mu sync.Mutex
	br, c := newListener(t, &httpbridge.Options{
		MaxBodyBytes: 1 << 10,
		DedupeSize:   -1, // the same event id is posted more than once below
		OnError: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			var re *httpbridge.RequestError
			if !errors.As(err, &re) {
				t.Errorf("OnError got %T %v", err, err)
			}
			refused = append(refused, re)
		},
	})
	u := br.ListenURL()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, validEvent)
	zw.Close()
	type tc struct {
		name, method, url, ctype, enc string
		body                          io.Reader
		status                        int
		answer                        string
	}
	s := func(b string) io.Reader { return strings.NewReader(b) }
	cases := []tc{
		{"valid json", "POST", u, "application/json", "", s(validEvent), 202, "accepted"},
		{"no content type", "POST", u, "", "", s(validEvent), 202, "accepted"},
		{"text/plain", "POST", u, "text/plain", "", s(validEvent), 202, "accepted"},
		{"minimal event", "POST", u, "", "", s(`{"event_type":"CurlEvent","seq":1001}`), 202, "accepted"},
		{"chunked", "POST", u, "", "", io.MultiReader(s(validEvent[:10]), s(validEvent[10:])), 202, "accepted"},
		{"invalid json", "POST", u, "", "", s(`{"event_type":`), 400, "invalid json"},
		{"empty body", "POST", u, "", "", s(""), 400, "invalid json"},
		{"gzip body", "POST", u, "", "gzip", bytes.NewReader(gz.Bytes()), 400, "invalid json"},
		{"offset datetime", "POST", u, "", "", s(`{"event_type":"X","event_created_at":"2026-01-01T00:00:00+00:00"}`), 500, "failed to process event: "},
		{"unknown event key", "POST", u, "", "", s(`{"event_type":"X","event_bogus":1}`), 500, "failed to process event: "},
		{"json string", "POST", u, "", "", s(`"hello"`), 500, "failed to process event: "},
		{"json array", "POST", u, "", "", s(`[` + validEvent + `]`), 500, "failed to process event: "},
		{"GET", "GET", u, "", "", nil, 405, "method not allowed"},
		{"HEAD", "HEAD", u, "", "", nil, 405, ""},
		{"PUT", "PUT", u, "", "", s(validEvent), 405, "method not allowed"},
		{"GET other path", "GET", u + "x", "", "", nil, 405, "method not allowed"}, // method is checked first, as TS does
		{"other path", "POST", strings.TrimSuffix(u, "abxbus_events") + "other", "", "", s(validEvent), 404, "not found"},
		{"path with query", "POST", u + "?a=1", "", "", s(validEvent), 404, "not found"},
		{"trailing slash", "POST", u + "/", "", "", s(validEvent), 404, "not found"},
		{"too large", "POST", u, "", "", s(`{"event_type":"X","pad":"` + strings.Repeat("x", 2000) + `"}`), 413, "request body too large"},
		{"too large chunked", "POST", u, "", "", io.MultiReader(s(`{"event_type":"X","pad":"`), s(strings.Repeat("x", 2000)+`"}`)), 413, "request body too large"},
	}
	accepted := 0
	for _, c := range cases {
		req, err := http.NewRequest(c.method, c.url, c.body)
		if err != nil {
			t.Fatal(err)
		}
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.enc != "" {
			req.Header.Set("Content-Encoding", c.enc)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.HasPrefix(string(body), c.answer) {
			t.Errorf("%s: got %d %q, want %d %q", c.name, resp.StatusCode, body, c.status, c.answer)
		}
		if c.status == 500 && resp.Header.Get(httpbridge.RefusedHeader) != "event" {
			t.Errorf("%s: the 500 lacks the %s header", c.name, httpbridge.RefusedHeader)
		}
		if c.status == 202 {
			accepted++
		}
	}
	c.Wait(t, accepted, 5*time.Second)
	if got := c.Snapshot(); len(got) != accepted {
		t.Fatalf("delivered %v, want %d events", got, accepted)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := len(cases) - accepted; len(refused) != want {
		t.Fatalf("OnError saw %d refusals, want %d", len(refused), want)
	}
	for _, re := range refused {
		if re.Reason == "" || re.Status < 400 {
			t.Errorf("refusal without a reason: %+v", re)
		}
	}
	// The received event was reset: a fresh id, its created_at kept (D9).
	first := c.Event(0)
	if first["event_id"] == "01a202f1-32cf-7552-b3c8-1a509ea05cac" || first["event_created_at"] != "2026-01-01T00:00:00.000000001Z" {
		t.Errorf("received event not reset as D9 says: %v", first)
	}
}

func TestBearerToken(t *testing.T) {
	br, c := newListener(t, &httpbridge.Options{Token: "s3cret"})
	for _, tc := range []struct {
		auth   string
		status int
	}{{"", 401}, {"Bearer wrong", 401}, {"s3cret", 401}, {"Bearer s3cret", 202}} {
		req, _ := http.NewRequest("POST", br.ListenURL(), strings.NewReader(validEvent))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, resp.StatusCode, tc.status)
		}
		if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: Bearer")
		}
	}
	ctx := context.Background()
	if err := newEmitter(t, br.ListenURL(), &httpbridge.Options{Token: "s3cret"}).Emit(ctx, ping(1)); err != nil {
		t.Fatal(err)
	}
	err := newEmitter(t, br.ListenURL(), &httpbridge.Options{Token: "nope"}).Emit(ctx, ping(2))
	var se *httpbridge.SendError
	if !errors.As(err, &se) || se.Status != 401 || se.Attempts != 1 || !strings.Contains(err.Error(), br.ListenURL()) {
		t.Fatalf("wrong token: %v, want a 401 SendError naming the URL after 1 attempt", err)
	}
	c.Wait(t, 2, 5*time.Second)
}

func TestEmitErrors(t *testing.T) {
	ctx := context.Background()
	fast := &httpbridge.Options{MaxAttempts: 3, RetryBackoff: time.Millisecond}

	// No listener: every attempt refused, the error names the URL and the cause.
	dead := "http://127.0.0.1:" + itoa(freePort(t)) + "/abxbus_events"
	err := newEmitter(t, dead, fast).Emit(ctx, ping(1))
	var se *httpbridge.SendError
	if !errors.As(err, &se) || se.Attempts != 3 || se.Status != 0 || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("no listener: %v", err)
	}

	br, c := newListener(t, &httpbridge.Options{MaxBodyBytes: 1000})
	// 404 is final (not retried).
	err = newEmitter(t, br.ListenURL()+"/x", fast).Emit(ctx, ping(2))
	if !errors.As(err, &se) || se.Status != 404 || se.Attempts != 1 || se.Body != "not found" {
		t.Fatalf("404: %v", err)
	}
	// The listener's limit is lower than the emitter's: 413, not retried.
	big := abxbus.NewEvent(IPCPingEvent{Seq: 3, Blob: strings.Repeat("b", 2000)}).Base()
	err = newEmitter(t, br.ListenURL(), fast).Emit(ctx, big)
	if !errors.As(err, &se) || se.Status != 413 || se.Attempts != 1 {
		t.Fatalf("413: %v", err)
	}
	// The emitter's own limit: refused before sending.
	err = newEmitter(t, br.ListenURL(), &httpbridge.Options{MaxBodyBytes: 1000}).Emit(ctx, big)
	if !errors.Is(err, bridges.ErrTooLarge) {
		t.Fatalf("emitter limit: %v, want ErrTooLarge", err)
	}
	// ctx already done, closed bridge, a listen-only bridge.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := newEmitter(t, br.ListenURL(), nil).Emit(cctx, ping(4)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	closed := newEmitter(t, br.ListenURL(), nil)
	closed.Close()
	if err := closed.Emit(ctx, ping(5)); !errors.Is(err, bridges.ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
	if err := closed.Start(); !errors.Is(err, bridges.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := br.Emit(ctx, ping(6)); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("listen-only Emit: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := c.Snapshot(); len(got) != 0 {
		t.Fatalf("refused events were delivered: %v", got)
	}
	for _, bad := range []string{"ftp://x/y", "http://", "::"} {
		if _, err := httpbridge.New(bad, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("New(%q): %v", bad, err)
		}
	}
	if _, err := httpbridge.New("", nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Errorf("New with no URL: %v", err)
	}
	if _, err := httpbridge.New("", &httpbridge.Options{ListenOn: "https://127.0.0.1:0/"}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Errorf("https listener without a certificate: %v", err)
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

// A proxy in front of the listener drops the listener's answer to the first attempt of every event
// (the request was delivered, the emitter sees a 502): the emitter retries, and the listener's dedupe
// answers the retry without delivering the event again.
func TestRetryIsDeduplicated(t *testing.T) {
	br, c := newListener(t, nil)
	target, _ := url.Parse(br.ListenURL())
	var requests, dropped atomic.Int64
	seen := sync.Map{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.URL.Path = target.Path },
		ModifyResponse: func(resp *http.Response) error {
			requests.Add(1)
			id := resp.Request.Header.Get("X-Test-Seq")
			if _, again := seen.LoadOrStore(id, true); !again {
				dropped.Add(1)
				resp.StatusCode = http.StatusBadGateway
			}
			return nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Header.Set("X-Test-Seq", string(body[:60])) // the start holds the seq; enough to tell events apart
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	em := newEmitter(t, "http://"+ln.Addr().String()+"/abxbus_events", &httpbridge.Options{RetryBackoff: time.Millisecond})
	const n = 50
	for i := range n {
		if err := em.Emit(context.Background(), ping(i)); err != nil {
			t.Fatal(err)
		}
	}
	c.Wait(t, n, 10*time.Second)
	time.Sleep(50 * time.Millisecond)
	got := c.Snapshot()
	if len(got) != n {
		t.Fatalf("delivered %d events, want %d (each once)", len(got), n)
	}
	for i, s := range got {
		if s != i {
			t.Fatalf("delivered out of order: %v", got)
		}
	}
	if requests.Load() != 2*n || dropped.Load() != n {
		t.Fatalf("listener saw %d requests (%d answers dropped), want %d", requests.Load(), dropped.Load(), 2*n)
	}
}

func TestRetryOn503ThenSuccess(t *testing.T) {
	br, c := newListener(t, nil)
	target, _ := url.Parse(br.ListenURL())
	var calls atomic.Int64
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target.Host})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	em := newEmitter(t, "http://"+ln.Addr().String()+target.Path, &httpbridge.Options{RetryBackoff: time.Millisecond})
	if err := em.Emit(context.Background(), ping(7)); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 1, 5*time.Second)
	if calls.Load() != 3 {
		t.Fatalf("%d attempts, want 3", calls.Load())
	}
	// Bounded: a listener that always answers 503 gives an error after MaxAttempts.
	calls.Store(-100)
	err := newEmitter(t, "http://"+ln.Addr().String()+target.Path, &httpbridge.Options{MaxAttempts: 5, RetryBackoff: time.Millisecond}).Emit(context.Background(), ping(8))
	var se *httpbridge.SendError
	if !errors.As(err, &se) || se.Status != 503 || se.Attempts != 5 || !strings.Contains(err.Error(), "503") {
		t.Fatalf("always 503: %v", err)
	}
}

// A 500 for an invalid event (the Abxbus-Refused header) is not retried; a plain 500 is.
func TestRefused500IsNotRetried(t *testing.T) {
	var calls atomic.Int64
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/refused" {
			w.Header().Set(httpbridge.RefusedHeader, "event")
		}
		http.Error(w, "failed to process event", 500)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	opts := &httpbridge.Options{MaxAttempts: 3, RetryBackoff: time.Millisecond}
	newEmitter(t, base+"/refused", opts).Emit(context.Background(), ping(1))
	if calls.Load() != 1 {
		t.Fatalf("refused 500 tried %d times", calls.Load())
	}
	newEmitter(t, base+"/plain", opts).Emit(context.Background(), ping(1))
	if calls.Load() != 4 {
		t.Fatalf("plain 500 tried %d times, want 3", calls.Load()-1)
	}
}

func TestAckAfterHandled(t *testing.T) {
	for _, after := range []bool{false, true} {
		var handled atomic.Bool
		br, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/", AckAfterHandled: after})
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			if !after {
				<-release
			} else {
				time.Sleep(100 * time.Millisecond)
			}
			handled.Store(true)
			return nil, nil
		})
		em := newEmitter(t, br.ListenURL(), nil)
		start := time.Now()
		if err := em.Emit(context.Background(), ping(1)); err != nil {
			t.Fatal(err)
		}
		if handled.Load() != after {
			t.Fatalf("AckAfterHandled=%v: handled when Emit returned = %v (after %v)", after, handled.Load(), time.Since(start))
		}
		close(release)
		br.Bus().WaitUntilIdle(context.Background())
		br.Close()
	}
}

// Close answers 503 to a request still waiting for its handlers, and waits for everything.
func TestCloseWhileHandling(t *testing.T) {
	br, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/", AckAfterHandled: true, DrainTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	em := newEmitter(t, br.ListenURL(), &httpbridge.Options{MaxAttempts: 1})
	errc := make(chan error, 1)
	go func() { errc <- em.Emit(context.Background(), ping(1)) }()
	<-started
	br.Close()
	err = <-errc
	var se *httpbridge.SendError
	if !errors.As(err, &se) || se.Status != 503 {
		t.Fatalf("Emit during Close: %v, want a 503", err)
	}
}

func TestStartIsIdempotentAndConcurrent(t *testing.T) {
	br, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/"})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	var wg sync.WaitGroup
	urls := make([]string, 8)
	for i := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := br.Start(); err != nil {
				t.Error(err)
			}
			urls[i] = br.ListenURL()
		}()
	}
	wg.Wait()
	for _, u := range urls {
		if u != urls[0] || u == "" {
			t.Fatalf("Start listened more than once: %v", urls)
		}
	}
	c := newCollector()
	br.On("*", c.Handle)
	if err := newEmitter(t, urls[0], nil).Emit(context.Background(), ping(1)); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 1, 5*time.Second)
	time.Sleep(30 * time.Millisecond)
	if n := len(c.Snapshot()); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}

func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "abxbus test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

func TestTLS(t *testing.T) {
	srvCfg, pool := selfSigned(t)
	br, c := newListener(t, &httpbridge.Options{ListenOn: "https://127.0.0.1:0/events", TLSConfig: srvCfg})
	if !strings.HasPrefix(br.ListenURL(), "https://127.0.0.1:") {
		t.Fatalf("ListenURL %s", br.ListenURL())
	}
	em := newEmitter(t, br.ListenURL(), &httpbridge.Options{TLSConfig: &tls.Config{RootCAs: pool}})
	if err := em.Emit(context.Background(), ping(1)); err != nil {
		t.Fatal(err)
	}
	// The user's own client works too.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	if err := newEmitter(t, br.ListenURL(), &httpbridge.Options{Client: client}).Emit(context.Background(), ping(2)); err != nil {
		t.Fatal(err)
	}
	// Without the CA: a certificate error, not retried into success.
	err := newEmitter(t, br.ListenURL(), &httpbridge.Options{MaxAttempts: 1}).Emit(context.Background(), ping(3))
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("untrusted certificate: %v", err)
	}
	c.Wait(t, 2, 5*time.Second)
}

// F246 wiring: forwarding an application bus through a pair of bridges and back does not echo.
func TestForwardWiringNoEcho(t *testing.T) {
	ctx := context.Background()
	a, _ := abxbus.New("AppA", nil)
	b, _ := abxbus.New("AppB", nil)
	defer a.Destroy(true)
	defer b.Destroy(true)
	inA, _ := newListener(t, nil)
	inB, _ := newListener(t, nil)
	toB := newEmitter(t, inB.ListenURL(), nil)
	toA := newEmitter(t, inA.ListenURL(), nil)
	a.OnType("*", toB.Forward)
	b.OnType("*", toA.Forward)
	reemit := func(bus *abxbus.Bus) abxbus.HandlerFunc {
		return func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			_, err := bus.Emit(ctx, e)
			return nil, err
		}
	}
	inA.On("*", reemit(a))
	inB.On("*", reemit(b))
	var onB, onA atomic.Int64
	b.OnType("IPCPingEvent", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { onB.Add(1); return nil, nil })
	a.OnType("IPCPingEvent", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { onA.Add(1); return nil, nil })
	e, _ := a.Emit(ctx, ping(1))
	e.Wait(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for onB.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if onB.Load() != 1 || onA.Load() != 1 {
		t.Fatalf("handled on A %d times, on B %d times; want once each (no echo)", onA.Load(), onB.Load())
	}
}
