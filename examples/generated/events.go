package main

import (
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// The events of this program. Each is one Go type embedding abxbus.Returns[R]; the abxbus struct tag
// on that field holds the per-event defaults. `go generate` writes abxbus_gen.go next to this file:
// named helpers (OnSignUp, CallSignUp, ...), the EventSpec methods, the result schemas and a registry.

//go:generate go run github.com/typedbus/abxbus-go/cmd/abxbus-gen

// SignUp creates an account and returns its id. It is a request: one handler answers, within 5s.
type SignUp struct {
	abxbus.Returns[AccountID] `abxbus:"type=accounts.signup,version=1.0.0,timeout=5s,handler_timeout=2s"`

	Email string `json:"email"`
	Plan  string `json:"plan"`
}

// AccountID identifies an account.
type AccountID string

// CheckEmail validates an address; SignUp calls it as a child.
type CheckEmail struct {
	abxbus.Returns[EmailVerdict]
	Email string `json:"email"`
}

// EmailVerdict is the result of CheckEmail.
type EmailVerdict struct {
	OK     bool      `json:"ok"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"checked_at"`
}

// PriceQuote asks every pricing service in parallel; the first answer wins.
type PriceQuote struct {
	abxbus.Returns[map[string]float64] `abxbus:"handler_concurrency=parallel,completion=first"`

	Plan string `json:"plan"`
}

// Welcome is detached work queued after the sign-up; nobody waits for its result.
type Welcome struct {
	abxbus.Returns[*string] `abxbus:"timeout=none"`

	Account AccountID `json:"account"`
}
