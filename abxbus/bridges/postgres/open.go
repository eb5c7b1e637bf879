package postgres

import (
	"context"
	"errors"
	"net/url"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

var registerErr = errors.Join(bridges.Register("postgres", openURL), bridges.Register("postgresql", openURL))

// RegisterError returns the error of registering this package's address schemes "postgres" and
// "postgresql" with the bridges package at init, or nil. It is not nil only when another imported
// package registered one of them first.
func RegisterError() error { return registerErr }

// openURL opens a Postgres bridge from postgres://user:pass@host:port/db[/table] with the query
// options table, channel, consumer, from_start, poll, retry_for and max_event_bytes (the others are
// passed to the driver, such as sslmode).
func openURL(_ context.Context, u *url.URL, oo bridges.OpenOptions) (bridges.Bridge, error) {
	dsn, o, err := parseAddress(u)
	if err != nil {
		return nil, err
	}
	o.Name, o.Logger, o.BusOptions = oo.Name, oo.Logger, oo.BusOptions
	return New(dsn, &o)
}
