package postgres

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

func TestRegistered(t *testing.T) {
	if err := RegisterError(); err != nil {
		t.Fatal(err)
	}
	if _, err := bridges.Open(context.Background(), "postgresql://u@127.0.0.1:1/db/Bad-Table", nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("Open with an invalid table: %v", err)
	}
}

func TestParseAddress(t *testing.T) {
	u, _ := url.Parse("postgresql://u:p@h:5/db/tbl?channel=ch&consumer=c&sslmode=disable&poll=2s")
	dsn, o, err := parseAddress(u)
	if err != nil {
		t.Fatal(err)
	}
	if dsn != "postgres://u:p@h:5/db?sslmode=disable" || o.Table != "tbl" || o.Channel != "ch" || o.Consumer != "c" || o.PollInterval.String() != "2s" {
		t.Fatalf("dsn %q options %+v", dsn, o)
	}
	u, _ = url.Parse("postgres://h/db/a/b")
	if _, _, err := parseAddress(u); err == nil {
		t.Fatal("a path of three segments was accepted")
	}
}

// The lower-case channel check (TS pitfall 6: a mixed-case channel is never heard by TS listeners).
func TestChannelMustBeLowerCase(t *testing.T) {
	for ch, ok := range map[string]bool{"abxbus_events": true, "MixedCase": false, "a-b": false, "": false} {
		br, err := New("postgres://127.0.0.1:1/db", &Options{Channel: ch})
		if br != nil {
			br.Close()
		}
		if ch == "" {
			continue // the default channel
		}
		if (err == nil) != ok {
			t.Errorf("channel %q: err = %v", ch, err)
		}
	}
}
