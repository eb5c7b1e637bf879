package sqlite

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

// registerErr is what registering the scheme "sqlite" with bridges.Register returned.
var registerErr = bridges.Register("sqlite", openURL)

// RegisterError returns the error of registering this package's address scheme "sqlite" with the
// bridges package at init, or nil. It is not nil only when another imported package registered the
// scheme first; bridges.Open then opens that package's bridge, not this one.
func RegisterError() error { return registerErr }

// openURL opens a SQLite bridge from sqlite:///path/file.db (the host empty or localhost) with the
// query options table=NAME, consumer=NAME, from_start=BOOL, poll=DURATION, busy_timeout=DURATION and
// max_event_bytes=N. An unknown option is an error.
func openURL(_ context.Context, u *url.URL, oo bridges.OpenOptions) (bridges.Bridge, error) {
	o, path, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	o.Name, o.Logger, o.BusOptions = oo.Name, oo.Logger, oo.BusOptions
	return New(path, &o)
}

func parseURL(u *url.URL) (Options, string, error) {
	var o Options
	if u.Host != "" && u.Host != "localhost" {
		return o, "", fmt.Errorf("%w: sqlite address %q: a file address has no host (use sqlite:///absolute/path.db)",
			abxbus.ErrInvalidOption, u.Redacted())
	}
	path := u.Path
	if path == "" {
		path = u.Opaque
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		var err error
		switch k {
		case "table":
			o.Table = v
		case "consumer":
			o.Consumer = v
		case "from_start":
			o.FromStart, err = strconv.ParseBool(v)
		case "poll":
			o.PollInterval, err = time.ParseDuration(v)
		case "busy_timeout":
			o.BusyTimeout, err = time.ParseDuration(v)
		case "max_event_bytes":
			o.MaxEventBytes, err = strconv.Atoi(v)
		default:
			return o, "", fmt.Errorf("%w: sqlite address: unknown option %q (known: table, consumer, from_start, poll, busy_timeout, max_event_bytes)",
				abxbus.ErrInvalidOption, k)
		}
		if err != nil {
			return o, "", fmt.Errorf("%w: sqlite address: option %s=%q: %v", abxbus.ErrInvalidOption, k, v, err)
		}
	}
	return o, path, nil
}
