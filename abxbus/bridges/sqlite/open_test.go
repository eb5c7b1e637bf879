package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

func TestOpenAddress(t *testing.T) {
	if err := RegisterError(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "e.db")
	br, err := bridges.Open(context.Background(), "sqlite://"+path+"?table=orders&consumer=c1&poll=10ms", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	s := br.(*Bridge)
	if s.Table() != "orders" || s.opts.Consumer != "c1" || s.opts.PollInterval.String() != "10ms" || s.Path() != path {
		t.Fatalf("opened %+v", s.opts)
	}
	for _, bad := range []string{"sqlite://host/x.db", "sqlite:///x.db?nope=1", "sqlite:///x.db?table=a-b", "sqlite:///x.db?poll=x"} {
		if b, err := bridges.Open(context.Background(), bad, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
			if b != nil {
				b.Close()
			}
			t.Errorf("Open(%q): err = %v, want ErrInvalidOption", bad, err)
		}
	}
}
