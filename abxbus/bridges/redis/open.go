package redis

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

// open is the bridges.Opener of the redis and rediss schemes.
func open(_ context.Context, u *url.URL, oo bridges.OpenOptions) (bridges.Bridge, error) {
	o := Options{Name: oo.Name, Logger: oo.Logger, BusOptions: oo.BusOptions}
	cu, err := optionsFromQuery(u, &o)
	if err != nil {
		return nil, err
	}
	return newFromURL(cu, o.withDefaults())
}

// optionsFromQuery moves the bridge's own query parameters of u into o and returns u without them
// (the rest is for go-redis).
func optionsFromQuery(u *url.URL, o *Options) (*url.URL, error) {
	q := u.Query()
	bad := func(k, v, want string) error {
		return fmt.Errorf("%w: redis bridge address %s: %s=%q: %s", abxbus.ErrInvalidOption, u.Redacted(), k, v, want)
	}
	take := func(k string) (string, bool) {
		if !q.Has(k) {
			return "", false
		}
		v := q.Get(k)
		q.Del(k)
		return v, true
	}
	if v, ok := take("mode"); ok {
		switch strings.ToLower(v) {
		case "pubsub", "":
			o.Mode = ModePubSub
		case "streams", "stream":
			o.Mode = ModeStreams
		default:
			return nil, bad("mode", v, "want pubsub or streams")
		}
	}
	for k, dst := range map[string]*string{"channel": &o.Channel, "stream": &o.Stream, "group": &o.Group,
		"consumer": &o.Consumer, "dead_letter": &o.DeadLetter} {
		if v, ok := take(k); ok {
			*dst = v
		}
	}
	if v, ok := take("maxlen"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, bad("maxlen", v, "want an integer")
		}
		o.MaxLen = n
	}
	if v, ok := take("max_deliveries"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, bad("max_deliveries", v, "want a positive integer")
		}
		o.MaxDeliveries = n
	}
	if v, ok := take("claim_idle"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, bad("claim_idle", v, "want a positive duration such as 30s")
		}
		o.ClaimIdle = d
	}
	if v, ok := take("start"); ok {
		switch v {
		case "end", "$":
			o.StartAtEnd = true
		case "begin", "0", "":
			o.StartAtEnd = false
		default:
			return nil, bad("start", v, "want begin or end")
		}
	}
	if v, ok := take("require_subscriber"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, bad("require_subscriber", v, "want true or false")
		}
		o.RequireSubscriber = b
	}
	cu := *u
	cu.RawQuery = q.Encode()
	return &cu, nil
}
