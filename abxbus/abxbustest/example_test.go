package abxbustest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/abxbustest"
)

// SignUp and Welcome are the events of the code under test.
type SignUp struct {
	abxbus.Returns[string]        // the new account's id
	Email                  string `json:"email"`
}

type Welcome struct {
	abxbus.Returns[bool]
	Account string `json:"account"`
}

// registerAccounts is the code under test: a sign-up creates the account and queues a welcome, which
// runs after the sign-up completes.
func registerAccounts(bus *abxbus.Bus) error {
	if _, err := abxbus.On(bus, func(ctx context.Context, s SignUp) (string, error) {
		id := "acct-" + s.Email
		_, err := abxbus.Emit(ctx, bus, Welcome{Account: id})
		return id, err
	}); err != nil {
		return err
	}
	_, err := abxbus.On(bus, func(ctx context.Context, w Welcome) (bool, error) { return true, nil })
	return err
}

// testSignUp is the body of a test; go test runs it as func TestSignUp(t *testing.T) { testSignUp(t) }.
func testSignUp(t testing.TB) {
	bus := abxbustest.NewBus(t, "Accounts", nil) // checked and destroyed when the test ends
	rec := abxbustest.Record(t, bus)
	if err := registerAccounts(bus); err != nil {
		t.Fatal(err)
	}

	id, err := abxbus.Call(context.Background(), bus, SignUp{Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// The sign-up, then (maybe with other events between) the welcome of that account.
	events := abxbustest.Expect(t, rec,
		abxbustest.Type[SignUp](nil),
		abxbustest.Type[Welcome](func(w Welcome) bool { return w.Account == id }),
	)
	abxbustest.WaitIdle(t, bus, time.Second) // the welcome is detached work: let it finish
	for _, e := range events {
		fmt.Println(e.Type(), e.Status())
	}
}

func ExampleExpect() {
	t := &exampleT{} // go test passes a *testing.T instead
	testSignUp(t)
	t.end()
	// Output:
	// SignUp completed
	// Welcome completed
}

// exampleT stands in for the *testing.T of a real test in this example: it prints failures and runs
// the cleanups at the end.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func (t *exampleT) Helper()                           {}
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Errorf(format string, args ...any) { fmt.Printf("FAIL: "+format+"\n", args...) }
func (t *exampleT) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (t *exampleT) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
