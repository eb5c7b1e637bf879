package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

func init() {
	Register("emit", "append one event to a JSONL bridge file: emit FILE --type T [--payload JSON]", runEmit)
}

func runEmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "", "event_type of the event (required)")
	payload := fs.String("payload", "{}", "the payload as a JSON object")
	path, rest := splitFirstArg(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if path == "" || *typ == "" {
		return errors.New("usage: abxbus emit FILE --type T [--payload JSON]")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*payload), &obj); err != nil || obj == nil {
		return fmt.Errorf("--payload must be a JSON object: %v", err)
	}
	t, _ := json.Marshal(*typ)
	obj["event_type"] = t
	raw, _ := json.Marshal(obj)
	e, err := abxbus.FromJSON(raw)
	if err != nil {
		return err
	}
	br, err := jsonl.New(path, nil)
	if err != nil {
		return err
	}
	defer br.Close()
	if err := br.Emit(ctx, e); err != nil {
		return err
	}
	fmt.Fprintln(stdout, e.ID())
	return nil
}
