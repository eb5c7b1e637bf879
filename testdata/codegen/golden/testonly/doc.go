// Package testonly declares events only in its test files.
package testonly

// Answer is a result type of the package, used by a test event.
type Answer struct {
	Text string `json:"text"`
}
