package jsonl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

// registerErr is what registering the package's schemes with bridges.Register returned (nil: both
// registered). bridges.Open reports a scheme whose registration conflicted.
var registerErr = errors.Join(bridges.Register("file", openURL), bridges.Register("jsonl", openURL))

// RegisterError returns the error of registering this package's address schemes "file" and "jsonl"
// with the bridges package at init, or nil. It is not nil only when another imported package
// registered one of those schemes first; bridges.Open then refuses that scheme, naming the conflict.
func RegisterError() error { return registerErr }

// openURL opens a JSONL bridge from an address, for bridges.Open: a plain path, file:///path or
// jsonl:///path (the host empty or localhost), with the query options cursor=PATH, cursor_sync=BOOL,
// from_start=BOOL, poll=DURATION (the PollInterval) and max_line_bytes=N. An unknown option is an error.
func openURL(_ context.Context, u *url.URL, oo bridges.OpenOptions) (bridges.Bridge, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("%w: jsonl address %q: a file address has no host (use %s:///absolute/path or a plain path)",
			abxbus.ErrInvalidOption, u.Redacted(), u.Scheme)
	}
	path := u.Path
	if path == "" {
		path = u.Opaque
	}
	o := Options{Name: oo.Name, Logger: oo.Logger, BusOptions: oo.BusOptions}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		var err error
		switch k {
		case "cursor":
			o.Cursor = v
		case "cursor_sync":
			o.CursorSync, err = strconv.ParseBool(v)
		case "from_start":
			o.FromStart, err = strconv.ParseBool(v)
		case "poll":
			o.PollInterval, err = time.ParseDuration(v)
		case "max_line_bytes":
			o.MaxLineBytes, err = strconv.Atoi(v)
		default:
			return nil, fmt.Errorf("%w: jsonl address: unknown option %q (known: cursor, cursor_sync, from_start, poll, max_line_bytes)",
				abxbus.ErrInvalidOption, k)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: jsonl address: option %s=%q: %v", abxbus.ErrInvalidOption, k, v, err)
		}
	}
	return New(path, &o)
}
