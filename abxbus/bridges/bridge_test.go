package bridges_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

func TestOpenUnknownSchemeNamesIt(t *testing.T) {
	_, err := bridges.Open(context.Background(), "carrier-pigeon://coop/1", nil)
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), `"carrier-pigeon"`) {
		t.Fatalf("err = %v, want ErrInvalidOption naming the scheme", err)
	}
	if _, err := bridges.Open(context.Background(), "", nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("empty address: err = %v", err)
	}
}

func TestOpenDispatchesByScheme(t *testing.T) {
	var got *url.URL
	var gotOpts bridges.OpenOptions
	open := func(_ context.Context, u *url.URL, o bridges.OpenOptions) (bridges.Bridge, error) {
		got, gotOpts = u, o
		return nil, errors.New("opened")
	}
	if err := bridges.Register("test-scheme-a", open); err != nil {
		t.Fatal(err)
	}
	if err := bridges.Register("file", open); err != nil {
		t.Fatal(err)
	}
	if _, err := bridges.Open(context.Background(), "TEST-SCHEME-A://host/x?y=1", &bridges.OpenOptions{Name: "n", Listen: true}); err == nil || err.Error() != "opened" {
		t.Fatalf("err = %v", err)
	}
	if got.Scheme != "test-scheme-a" || got.Host != "host" || got.Path != "/x" || got.Query().Get("y") != "1" || gotOpts.Name != "n" || !gotOpts.Listen {
		t.Fatalf("opener got %v %+v", got, gotOpts)
	}
	if _, err := bridges.Open(context.Background(), "rel/dir/events.jsonl", nil); err == nil || got.Scheme != "file" || got.Path != "rel/dir/events.jsonl" {
		t.Fatalf("plain path: %v %v", got, err)
	}
	if err := bridges.Register("TEST-SCHEME-A", open); !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), `"test-scheme-a"`) {
		t.Fatalf("second Register of a scheme: err = %v, want ErrInvalidOption naming it", err)
	}
	if err := bridges.Register("", open); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("empty scheme: err = %v", err)
	}
	if err := bridges.Register("test-scheme-b", nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("nil opener: err = %v", err)
	}
}

func TestOpenRefusesASchemeRegisteredTwice(t *testing.T) {
	first := func(context.Context, *url.URL, bridges.OpenOptions) (bridges.Bridge, error) {
		return nil, errors.New("first")
	}
	if err := bridges.Register("test-scheme-dup", first); err != nil {
		t.Fatal(err)
	}
	if _, err := bridges.Open(context.Background(), "test-scheme-dup://x", nil); err == nil || err.Error() != "first" {
		t.Fatalf("before the conflict: err = %v", err)
	}
	if err := bridges.Register("test-scheme-dup", first); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("second Register: err = %v", err)
	}
	_, err := bridges.Open(context.Background(), "test-scheme-dup://x", nil)
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "two imported packages") {
		t.Fatalf("Open of a scheme registered twice: err = %v, want the conflict", err)
	}
}
