package nats

import (
	"net/url"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

// FuzzInput feeds outside input through the bridge's decoders: a received message (event JSON), a
// call's reply, and an Open address. Bad input gives an error, never a panic.
func FuzzInput(f *testing.F) {
	f.Add([]byte(`{"event_type":"Ping","seq":1}`), "nats://127.0.0.1:4222/orders?mode=jetstream&consumer=a&max_deliver=3")
	f.Add([]byte(`{"result":3}`), "nats://h/x?ack_wait=1s&replicas=3&memory=true")
	f.Add([]byte(`{"error":{"message":"m","code":"handler_timeout"}}`), "nats:///")
	f.Add([]byte(`not json`), "nats://u:p@h:1/a.b?mode=kafka")
	br := &Bridge{}
	f.Fuzz(func(t *testing.T, data []byte, address string) {
		if e, err := br.decode(data); err == nil && e == nil {
			t.Fatal("decode: nil event without error")
		}
		if r, err := parseReply(data); err != nil && r != nil {
			t.Fatal("parseReply: a result with an error")
		}
		if u, err := url.Parse(address); err == nil {
			if _, subj, o, err := parseAddress(u, bridges.OpenOptions{}); err == nil {
				if _, err := o.withDefaults(subj); err != nil && subj == "" {
					t.Fatal("empty subject accepted")
				}
			}
		}
	})
}
