package retry

import (
	"errors"
	"fmt"
)

// A Matcher selects errors for Options.RetryOn and Options.StopOn. Build one with [On], [OnType] or
// [If]; a nil Matcher in a list is an invalid option. Matchers are immutable and safe for concurrent use.
type Matcher struct {
	match func(error) bool
	desc  string
}

// String describes the matcher, as in On(io.ErrUnexpectedEOF).
func (m Matcher) String() string { return m.desc }

// On matches errors for which errors.Is(err, target) holds: target itself and every error wrapping it.
func On(target error) Matcher {
	if target == nil {
		return Matcher{}
	}
	return Matcher{match: func(err error) bool { return errors.Is(err, target) }, desc: fmt.Sprintf("On(%v)", target)}
}

// OnType matches errors for which errors.As finds an E in the error's chain, as in
// OnType[*net.OpError]().
func OnType[E error]() Matcher {
	var zero E
	return Matcher{match: func(err error) bool {
		var e E
		return errors.As(err, &e)
	}, desc: fmt.Sprintf("OnType[%T]", zero)}
}

// If matches the errors for which pred returns true. pred may be called concurrently, from every
// goroutine that calls the wrapped function.
func If(pred func(error) bool) Matcher {
	if pred == nil {
		return Matcher{}
	}
	return Matcher{match: pred, desc: "If(predicate)"}
}

// retryable applies the precedence rules: a StopOn match stops, then a RetryOn match (or an empty
// RetryOn) retries, anything else stops.
func retryable(err error, retryOn, stopOn []Matcher) bool {
	for _, m := range stopOn {
		if m.match(err) {
			return false
		}
	}
	if len(retryOn) == 0 {
		return true
	}
	for _, m := range retryOn {
		if m.match(err) {
			return true
		}
	}
	return false
}
