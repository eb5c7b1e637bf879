package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/typedbus/abxbus-go/abxbus"
)

func init() {
	Register("roundtrip", "rehydrate abxbus JSON and write it back: roundtrip events|bus IN.json OUT.json", runRoundtrip)
}

// runRoundtrip is the cross-runtime contract: read a JSON array of events (or one bus object), rebuild
// each with this library's model, and write the result.
func runRoundtrip(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) != 3 || args[0] != "events" && args[0] != "bus" {
		return errors.New("usage: abxbus roundtrip events|bus IN.json OUT.json")
	}
	in, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	var out []byte
	if args[0] == "events" {
		out, err = roundtripEvents(in)
	} else {
		out, err = roundtripBus(in)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", args[1], err)
	}
	return os.WriteFile(args[2], append(out, '\n'), 0o644)
}

func roundtripEvents(in []byte) ([]byte, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(in, &raws); err != nil {
		return nil, fmt.Errorf("expected a JSON array of events: %w", err)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, raw := range raws {
		e, err := abxbus.FromJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		enc, err := e.ToJSON()
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(enc)
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

func roundtripBus(in []byte) ([]byte, error) {
	bus, err := abxbus.BusFromJSON(in, nil, nil)
	if err != nil {
		return nil, err
	}
	defer bus.Destroy(true)
	return bus.ToJSON()
}
