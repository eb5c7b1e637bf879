package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// callSafely runs f on its own goroutine and reports a panic (with its value) or a hang.
func callSafely(f func()) (panicked any, hung bool) {
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		f()
	}()
	select {
	case p := <-done:
		return p, false
	case <-time.After(5 * time.Second):
		return nil, true
	}
}

var errorType = reflect.TypeFor[error]()

// nilSafeExempt lists the methods that legitimately return no error on a nil or zero receiver, with
// the reason. Every other method with an error result must return a non-nil error there.
var nilSafeExempt = map[string]string{
	// Err returns the handler error recorded on the result (data, not a failure of the call): a nil
	// result has none.
	"*abxbus.EventResult.Err": "returns recorded data",
}

// nilSafeOwnError lists methods whose nil/zero receiver is valid, so their error is about the
// (zero) input and need not wrap ErrInvalidOption.
var nilSafeOwnError = map[string]string{
	"*abxbus.Registry.Decode": "a nil or zero Registry decodes like FromJSON; the error is the input's",
	// json.Unmarshal decodes into a new zero event: that is the receiver UnmarshalJSON is made for, and
	// its error is about the (empty) input. A nil receiver still gives ErrInvalidOption.
	"*abxbus.BaseEvent.UnmarshalJSON": "a zero event is the decode target; the error is the input's",
	"*abxbus.Event.UnmarshalJSON":     "a zero event is the decode target; the error is the input's",
}

// Issue 10 item 16, D2: every exported method, called on a nil pointer and on a pointer to the zero
// struct (a value not made by the package's constructors), neither panics (on the caller's goroutine
// or on a library goroutine: that would kill the test binary) nor hangs, and returns an error when its
// signature has one. The method sets are enumerated by reflection, so a new method is covered
// automatically.
func TestNilAndZeroReceiversD2(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	receivers := []struct {
		name string
		v    any
	}{
		{"(*abxbus.Bus)(nil)", (*abxbus.Bus)(nil)},
		{"&abxbus.Bus{}", &abxbus.Bus{}},
		{"(*abxbus.BaseEvent)(nil)", (*abxbus.BaseEvent)(nil)},
		{"&abxbus.BaseEvent{}", &abxbus.BaseEvent{}},
		{"(*abxbus.Event)(nil)", (*abxbus.Event[Ping, int])(nil)},
		{"&abxbus.Event{}", &abxbus.Event[Ping, int]{}},
		{"(*abxbus.Registry)(nil)", (*abxbus.Registry)(nil)},
		{"&abxbus.Registry{}", &abxbus.Registry{}},
		{"(*abxbus.Handler)(nil)", (*abxbus.Handler)(nil)},
		{"&abxbus.Handler{}", &abxbus.Handler{}},
		{"(*abxbus.EventResult)(nil)", (*abxbus.EventResult)(nil)},
		{"&abxbus.EventResult{}", &abxbus.EventResult{}},
		{"(*abxbus.ServiceClient)(nil)", (*abxbus.ServiceClient)(nil)},
		{"&abxbus.ServiceClient{}", &abxbus.ServiceClient{}},
		{"(*abxbus.ServiceHandlers)(nil)", (*abxbus.ServiceHandlers)(nil)},
		{"&abxbus.ServiceHandlers{}", &abxbus.ServiceHandlers{}},
	}
	for _, rc := range receivers {
		rv := reflect.ValueOf(rc.v)
		rt := rv.Type()
		for i := 0; i < rt.NumMethod(); i++ {
			m := rt.Method(i)
			name := "*abxbus." + rt.Elem().Name() + "." + m.Name
			if i := strings.IndexByte(name, '['); i >= 0 { // Event[P, R]
				name = "*abxbus.Event." + m.Name
			}
			mt := m.Type
			args := []reflect.Value{rv}
			for j := 1; j < mt.NumIn(); j++ {
				if mt.IsVariadic() && j == mt.NumIn()-1 {
					break
				}
				in := mt.In(j)
				if in == reflect.TypeFor[context.Context]() {
					args = append(args, reflect.ValueOf(ctx))
				} else {
					args = append(args, reflect.Zero(in))
				}
			}
			var out []reflect.Value
			p, hung := callSafely(func() { out = m.Func.Call(args) })
			switch {
			case hung:
				t.Errorf("%s on %s hangs", m.Name, rc.name)
				continue
			case p != nil:
				t.Errorf("%s on %s panics: %v", m.Name, rc.name, p)
				continue
			}
			if n := mt.NumOut(); n > 0 && mt.Out(n-1) == errorType {
				if _, ok := nilSafeExempt[name]; ok {
					continue
				}
				err, _ := out[n-1].Interface().(error)
				if err == nil {
					t.Errorf("%s on %s returned no error", m.Name, rc.name)
				} else if _, own := nilSafeOwnError[name]; !own && !errors.Is(err, abxbus.ErrInvalidOption) {
					t.Errorf("%s on %s: error %q does not wrap ErrInvalidOption", m.Name, rc.name, err)
				}
			}
		}
	}
}

// Issue 10 item 16, D2: the package-level functions that take a bus, registry, event or handler
// context refuse nil and zero values with an error and never panic. TestEveryBusFuncCovered keeps this
// table complete.
var nilSafeFuncs = map[string]func(ctx context.Context) error{
	"On": func(ctx context.Context) error {
		_, err := abxbus.On((*abxbus.Bus)(nil), func(ctx context.Context, p Ping) (int, error) { return 0, nil })
		if err == nil {
			return nil
		}
		_, err = abxbus.On(&abxbus.Bus{}, func(ctx context.Context, p Ping) (int, error) { return 0, nil })
		return err
	},
	"OnEvent": func(ctx context.Context) error {
		_, err := abxbus.OnEvent((*abxbus.Bus)(nil), func(ctx context.Context, e *abxbus.Event[Ping, int]) (int, error) { return 0, nil })
		if err == nil {
			return nil
		}
		_, err = abxbus.OnEvent(&abxbus.Bus{}, func(ctx context.Context, e *abxbus.Event[Ping, int]) (int, error) { return 0, nil })
		return err
	},
	"OnNotify": func(ctx context.Context) error {
		_, err := abxbus.OnNotify((*abxbus.Bus)(nil), func(ctx context.Context, u UserLoggedIn) error { return nil })
		if err == nil {
			return nil
		}
		_, err = abxbus.OnNotify(&abxbus.Bus{}, func(ctx context.Context, u UserLoggedIn) error { return nil })
		return err
	},
	"Emit": func(ctx context.Context) error {
		e, err := abxbus.Emit(ctx, (*abxbus.Bus)(nil), Ping{})
		if err == nil || e.Now(ctx) == nil {
			return nil
		}
		e, err = abxbus.Emit(ctx, &abxbus.Bus{}, Ping{})
		if err == nil || e.Now(ctx) == nil {
			return nil
		}
		return err
	},
	"EmitWith": func(ctx context.Context) error {
		_, err := abxbus.EmitWith(ctx, (*abxbus.Bus)(nil), Ping{}, abxbus.EventOptions{})
		if err == nil {
			return nil
		}
		_, err = abxbus.EmitWith(ctx, &abxbus.Bus{}, Ping{}, abxbus.EventOptions{})
		return err
	},
	"Call": func(ctx context.Context) error {
		_, err := abxbus.Call(ctx, (*abxbus.Bus)(nil), Ping{})
		if err == nil {
			return nil
		}
		_, err = abxbus.Call(ctx, &abxbus.Bus{}, Ping{})
		return err
	},
	"Find": func(ctx context.Context) error {
		_, err := abxbus.Find[Ping](ctx, (*abxbus.Bus)(nil), abxbus.FindOptions{})
		if err == nil {
			return nil
		}
		_, err = abxbus.Find[Ping](ctx, &abxbus.Bus{}, abxbus.FindOptions{})
		return err
	},
	"FilterOf": func(ctx context.Context) error {
		_, err := abxbus.FilterOf[Ping](ctx, (*abxbus.Bus)(nil), abxbus.FindOptions{})
		if err == nil {
			return nil
		}
		_, err = abxbus.FilterOf[Ping](ctx, &abxbus.Bus{}, abxbus.FindOptions{})
		return err
	},
	"Register": func(ctx context.Context) error {
		if err := abxbus.Register[Ping]((*abxbus.Registry)(nil)); err == nil {
			return errors.New("Register on a nil Registry succeeded")
		}
		// The zero Registry is usable.
		var reg abxbus.Registry
		if err := abxbus.Register[Ping](&reg); err != nil {
			return fmt.Errorf("Register on a zero Registry: %v", err)
		}
		if got := reg.Types(); len(got) != 1 || got[0] != "Ping" {
			return fmt.Errorf("zero Registry types %v", got)
		}
		return errors.New("ok")
	},
	"EmitChild": func(ctx context.Context) error {
		if _, err := abxbus.EmitChild(ctx, nil); err == nil {
			return nil
		}
		_, err := abxbus.EmitChild(ctx, &abxbus.BaseEvent{})
		return err
	},
	"EmitChildOf": func(ctx context.Context) error {
		_, err := abxbus.EmitChildOf(ctx, Ping{})
		return err
	},
	"CallChild": func(ctx context.Context) error {
		_, err := abxbus.CallChild(ctx, Ping{})
		return err
	},
	"BusFromJSON": func(ctx context.Context) error {
		_, err := abxbus.BusFromJSON(nil, nil, nil)
		return err
	},
	"NewServiceClient": func(ctx context.Context) error {
		if _, err := abxbus.NewServiceClient(nil, "S"); err == nil {
			return nil
		}
		_, err := abxbus.NewServiceClient(&abxbus.Bus{}, "S")
		return err
	},
	"ServiceReplies": func(ctx context.Context) error {
		bus, _ := abxbus.New("Live", nil)
		defer bus.Destroy(true)
		if _, err := abxbus.NewServiceClient(bus, "S", abxbus.ServiceReplies(nil)); err == nil {
			return nil
		}
		_, err := abxbus.NewServiceClient(bus, "S", abxbus.ServiceReplies(&abxbus.Bus{}))
		return err
	},
	"RegisterService": func(ctx context.Context) error {
		m := []abxbus.ServiceMethod{{Name: "M", Event: abxbus.Generated[Ping, int](),
			CallID: func(any) string { return "" }, Serve: func(context.Context, any) (any, error) { return 0, nil }}}
		if _, err := abxbus.RegisterService(nil, "S", 1, m, nil); err == nil {
			return nil
		}
		_, err := abxbus.RegisterService(&abxbus.Bus{}, "S", 1, m, nil)
		return err
	},
	"As": func(ctx context.Context) error {
		if e, ok := abxbus.As[Ping]((*abxbus.BaseEvent)(nil)); ok || e != nil {
			return nil
		}
		if e, ok := abxbus.As[Ping](&abxbus.BaseEvent{}); ok || e != nil {
			return nil
		}
		return errors.New("ok")
	},
}

func TestNilAndZeroFuncsD2(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	names := make([]string, 0, len(nilSafeFuncs))
	for n := range nilSafeFuncs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var err error
		p, hung := callSafely(func() { err = nilSafeFuncs[n](ctx) })
		switch {
		case hung:
			t.Errorf("%s with nil/zero arguments hangs", n)
		case p != nil:
			t.Errorf("%s with nil/zero arguments panics: %v", n, p)
		case err == nil:
			t.Errorf("%s with nil/zero arguments returned no error", n)
		case n == "BusFromJSON" || err.Error() == "ok":
		case !errors.Is(err, abxbus.ErrInvalidOption) && !errors.Is(err, abxbus.ErrNotInHandler):
			t.Errorf("%s: error %q does not wrap ErrInvalidOption", n, err)
		}
	}
	// A zero Bus is refused with a message pointing at New.
	_, err := (&abxbus.Bus{}).Emit(ctx, must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("Ping", nil)))
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "abxbus.New") {
		t.Fatalf("Emit on a zero Bus: %v", err)
	}
	// A zero BaseEvent is refused by a real bus.
	bus := newBus(t, "ZeroEvent", nil)
	if _, err := bus.Emit(ctx, &abxbus.BaseEvent{}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("Emit of a zero BaseEvent: %v", err)
	}
	if _, err := bus.Emit(ctx, (*abxbus.Event[Ping, int])(nil).Base()); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("Emit of a nil typed event: %v", err)
	}
	if _, err := abxbus.On((*abxbus.Bus)(nil), func(ctx context.Context, p Ping) (int, error) { return 0, nil }); err == nil || !strings.Contains(err.Error(), "nil *Bus") {
		t.Fatalf("On on a nil bus: %v", err)
	}
}

// TestEveryBusFuncCovered keeps nilSafeFuncs complete: every exported package-level function with a
// parameter of type *Bus, *Registry or *BaseEvent, or a context parameter naming a handler's context
// (EmitChild...), must have an entry.
func TestEveryBusFuncCovered(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() {
				continue
			}
			takes := strings.Contains(fd.Name.Name, "Child")
			for _, p := range fd.Type.Params.List {
				if star, ok := p.Type.(*ast.StarExpr); ok {
					if id, ok := star.X.(*ast.Ident); ok && (id.Name == "Bus" || id.Name == "Registry" || id.Name == "BaseEvent") {
						takes = true
					}
				}
			}
			if _, ok := nilSafeFuncs[fd.Name.Name]; takes && !ok {
				t.Errorf("%s (%s) takes a bus, registry or event but has no nil/zero case in nilSafeFuncs", fd.Name.Name, f)
			}
		}
	}
}
