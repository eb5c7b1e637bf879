package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

type codedErr struct{ code string }

func (e codedErr) Error() string     { return "coded " + e.code }
func (e codedErr) ErrorCode() string { return e.code }

// ErrorCode names an error's kind for the wire, and a *ServiceError carrying that code matches the
// same sentinel on the other side.
func TestErrorCodeRoundTripsTheKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		code string
		is   error
	}{
		{nil, "", nil},
		{errors.New("plain"), "", nil},
		{fmt.Errorf("charge: %w", abxbus.ErrHandlerTimeout), "handler_timeout", abxbus.ErrHandlerTimeout},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), "deadline_exceeded", context.DeadlineExceeded},
		{context.Canceled, "canceled", context.Canceled},
		{abxbus.ErrNoHandler, "no_handler", abxbus.ErrNoHandler},
		// An ErrorCode method in the chain wins over the sentinels it also wraps.
		{fmt.Errorf("%w: %w", codedErr{"declined"}, abxbus.ErrHandlerPanic), "declined", nil},
		{codedErr{""}, "", nil},
	} {
		if got := abxbus.ErrorCode(c.err); got != c.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.code)
		}
		if c.is != nil && !errors.Is(&abxbus.ServiceError{Code: c.code}, c.is) {
			t.Errorf("ServiceError{Code: %q} does not match %v", c.code, c.is)
		}
	}
	if !errors.Is(&abxbus.ServiceError{Code: "declined"}, &abxbus.ServiceError{Code: "declined"}) {
		t.Error("a user code does not match a ServiceError sentinel with the same code")
	}
}
