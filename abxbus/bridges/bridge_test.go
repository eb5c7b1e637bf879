package bridges_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
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

// The registry is process-wide and never forgets a scheme: each run of these tests (go test -count=N)
// registers schemes of its own, and the plain-path scheme "file" once, recording into opened.
var (
	runs     atomic.Int32
	fileOnce sync.Once
	fileErr  error
	openedMu sync.Mutex
	opened   struct {
		u *url.URL
		o bridges.OpenOptions
	}
)

func recordOpen(_ context.Context, u *url.URL, o bridges.OpenOptions) (bridges.Bridge, error) {
	openedMu.Lock()
	defer openedMu.Unlock()
	opened.u, opened.o = u, o
	return nil, errors.New("opened")
}

func lastOpened() (*url.URL, bridges.OpenOptions) {
	openedMu.Lock()
	defer openedMu.Unlock()
	return opened.u, opened.o
}

func TestOpenDispatchesByScheme(t *testing.T) {
	scheme := fmt.Sprintf("test-scheme-a%d", runs.Add(1))
	if err := bridges.Register(scheme, recordOpen); err != nil {
		t.Fatal(err)
	}
	fileOnce.Do(func() { fileErr = bridges.Register("file", recordOpen) })
	if fileErr != nil {
		t.Fatal(fileErr)
	}
	if _, err := bridges.Open(context.Background(), strings.ToUpper(scheme)+"://host/x?y=1", &bridges.OpenOptions{Name: "n", Listen: true}); err == nil || err.Error() != "opened" {
		t.Fatalf("err = %v", err)
	}
	if got, gotOpts := lastOpened(); got.Scheme != scheme || got.Host != "host" || got.Path != "/x" || got.Query().Get("y") != "1" || gotOpts.Name != "n" || !gotOpts.Listen {
		t.Fatalf("opener got %v %+v", got, gotOpts)
	}
	if _, err := bridges.Open(context.Background(), "rel/dir/events.jsonl", nil); err == nil {
		t.Fatalf("plain path: %v", err)
	}
	if got, _ := lastOpened(); got.Scheme != "file" || got.Path != "rel/dir/events.jsonl" {
		t.Fatalf("plain path: opener got %v", got)
	}
	if err := bridges.Register(strings.ToUpper(scheme), recordOpen); !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), `"`+scheme+`"`) {
		t.Fatalf("second Register of a scheme: err = %v, want ErrInvalidOption naming it", err)
	}
	if err := bridges.Register("", recordOpen); !errors.Is(err, abxbus.ErrInvalidOption) {
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
	dup := fmt.Sprintf("test-scheme-dup%d", runs.Add(1))
	if err := bridges.Register(dup, first); err != nil {
		t.Fatal(err)
	}
	if _, err := bridges.Open(context.Background(), dup+"://x", nil); err == nil || err.Error() != "first" {
		t.Fatalf("before the conflict: err = %v", err)
	}
	if err := bridges.Register(dup, first); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("second Register: err = %v", err)
	}
	_, err := bridges.Open(context.Background(), dup+"://x", nil)
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "two imported packages") {
		t.Fatalf("Open of a scheme registered twice: err = %v, want the conflict", err)
	}
}
