// Package service_clash declares names the generator writes for a service.
package service_clash

import "context"

//abxbus:service
type Clash interface {
	Charge(ctx context.Context) error
	// Client's request event would be ClashClient, the name of the generated client.
	Client(ctx context.Context) error
}

// ClashCharge is declared here, but the generator declares it as Clash.Charge's request event.
type ClashCharge struct{}

// NewClashClient is declared here, but the generator writes the client's constructor.
func NewClashClient() {}
