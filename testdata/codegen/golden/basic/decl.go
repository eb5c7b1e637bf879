// Package basic declares events with every option of the abxbus tag.
package basic

import "github.com/typedbus/abxbus-go/abxbus"

// UserID identifies a user.
type UserID string

// UserCreated sets every option.
type UserCreated struct {
	abxbus.Returns[UserID] `abxbus:"type=user.created,version=1.2.0,timeout=30s,handler_timeout=1500ms,slow_timeout=none,handler_slow_timeout=2m,concurrency=parallel,handler_concurrency=parallel,completion=first"`
	Email                  string `json:"email"`
}

// Ping sets none.
type Ping struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

// Serial uses the other enum values, a zero timeout (disabled) and spaces around options.
type Serial struct {
	abxbus.Returns[bool] `json:"-" abxbus:" concurrency=global-serial , handler_concurrency=serial, completion=all, timeout=0, handler_timeout=1h30m, slow_timeout=250us, handler_slow_timeout=7ns "`
}

// PerBus uses bus-serial and a version only.
type PerBus struct {
	abxbus.Returns[string] `abxbus:"concurrency=bus-serial,version=2"`
	Name                   string `json:"name"`
}
