package redis

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

// FuzzAddress: any address (path segments, query options) gives a bridge or an error, never a panic,
// and a bridge's channel comes from the address.
func FuzzAddress(f *testing.F) {
	for _, s := range []string{"redis://127.0.0.1:6379", "redis://u:p@h:1/3/chan", "rediss://h/0", "redis://h/x",
		"redis://h/1/2/3", "redis://h/0/c?mode=streams&group=g&consumer=c&maxlen=10&claim_idle=1s&max_deliveries=2",
		"redis://h/0?mode=bogus", "redis://h/0?claim_idle=-1s", "redis://h/0?dial_timeout=1s&pool_size=2", "redis://h?unknown=1",
		"redis://[::1]:6379/0/%2F", "redis://h/0/c?start=end&require_subscriber=true&dead_letter=d&stream=s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, address string) {
		u, err := url.Parse(address)
		if err != nil {
			return
		}
		br, err := open(context.Background(), u, bridges.OpenOptions{})
		if err != nil {
			if !strings.Contains(err.Error(), "redis") {
				t.Fatalf("error does not name the bridge: %v", err)
			}
			return
		}
		rb := br.(*Bridge)
		if rb.Channel() == "" || rb.Stream() == "" {
			t.Fatalf("empty channel or stream for %q", address)
		}
		br.Close()
	})
}

// FuzzInbound: any message body on the channel, the stream or the reply channel is delivered or
// refused with a reason, never a panic.
func FuzzInbound(f *testing.F) {
	for _, s := range []string{`{"event_type":"X","seq":1}`, `not json`, `{"event_type":"X","event_created_at":"2026-01-01T00:00:00+00:00"}`,
		`{"call_id":"a","result":1}`, `{"call_id":"a","error":{"type":"T","message":"m","code":"no_handler"}}`, `[]`, `""`, `{`} {
		f.Add(s)
	}
	br, err := New("redis://127.0.0.1:1/0/fuzz", &Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	defer br.Close()
	c := &Client{br: br, pending: map[string]chan *reply{}}
	f.Fuzz(func(t *testing.T, msg string) {
		if e, _, err := br.decode([]byte(msg)); err == nil && e == nil {
			t.Fatal("no event and no error")
		}
		ch := make(chan *reply, 1)
		c.pending["a"] = ch
		c.onReply(msg)
		delete(c.pending, "a")
	})
}
