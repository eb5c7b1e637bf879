package no_events

type Plain struct {
	Name string `json:"name"`
}
