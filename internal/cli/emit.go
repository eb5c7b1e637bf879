package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

const emitUsage = "usage: abxbus emit ADDRESS --type T [--payload JSON] | abxbus emit ADDRESS --stdin [--type T]"

func init() {
	Register("emit", "send events to a bridge: emit ADDRESS --type T [--payload JSON], or --stdin (one JSON object a line)", runEmit)
}

// runEmit sends one event (--type, --payload), or one per line of stdin (--stdin), to the bridge at
// ADDRESS (bridges.Open: a plain path is a JSONL file). It prints the id of every event sent.
func runEmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runEmitFrom(ctx, args, os.Stdin, stdout, stderr)
}

func runEmitFrom(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "", "event_type of the event (required without --stdin; with it, the type of lines that have none)")
	payload := fs.String("payload", "{}", "the payload as a JSON object (it may hold event_* fields too)")
	fromStdin := fs.Bool("stdin", false, "send one event per line of standard input: a JSON object, an event or a payload")
	address, err := parseFileArgs(fs, args)
	if err != nil {
		return err
	}
	if address == "" || *typ == "" && !*fromStdin {
		return errors.New(emitUsage)
	}
	if !*fromStdin {
		e, err := eventFrom([]byte(*payload), *typ)
		if err != nil {
			return fmt.Errorf("--payload: %w", err)
		}
		return emitEvents(ctx, address, stdout, stderr, func(send func(*abxbus.BaseEvent) error) error { return send(e) })
	}
	return emitEvents(ctx, address, stdout, stderr, func(send func(*abxbus.BaseEvent) error) error {
		lines, stop := readLines(stdin)
		defer close(stop)
		for n := 1; ; n++ {
			var l line
			select {
			case l = <-lines:
			case <-ctx.Done(): // Ctrl-C while stdin has nothing to read
				return fmt.Errorf("stdin line %d: %w", n, ctx.Err())
			}
			switch {
			case l.err != nil:
				return fmt.Errorf("stdin line %d: %w", n, l.err)
			case l.eof:
				return nil
			case len(l.text) == 0:
				continue
			}
			e, err := eventFrom(l.text, *typ)
			if err != nil {
				return fmt.Errorf("stdin line %d: %w", n, err)
			}
			if err := send(e); err != nil {
				return fmt.Errorf("stdin line %d: %w", n, err)
			}
		}
	})
}

// line is one line of input, or its end (eof), or the read error that ended it.
type line struct {
	text []byte
	eof  bool
	err  error
}

// readLines reads r line by line on a goroutine of its own, so that the reader can stop waiting for
// input when its context ends (a read cannot be interrupted). Closing stop lets the goroutine end at
// its next line instead of handing it over; it ends at once when r reaches its end or fails.
func readLines(r io.Reader) (<-chan line, chan<- struct{}) {
	lines, stop := make(chan line), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			select {
			case lines <- line{text: append([]byte(nil), sc.Bytes()...)}:
			case <-stop:
				return
			}
		}
		select {
		case lines <- line{eof: sc.Err() == nil, err: sc.Err()}:
		case <-stop:
		}
	}()
	return lines, stop
}

// emitEvents opens the bridge, sends what each gives it, printing each event's id, and closes it.
func emitEvents(ctx context.Context, address string, stdout, stderr io.Writer, each func(send func(*abxbus.BaseEvent) error) error) error {
	br, err := bridges.Open(ctx, address, &bridges.OpenOptions{Name: "AbxbusEmit", Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return err
	}
	err = each(func(e *abxbus.BaseEvent) error {
		if err := br.Emit(ctx, e); err != nil {
			return err
		}
		fmt.Fprintln(stdout, e.ID())
		return nil
	})
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// eventFrom builds an event from a JSON object (a whole event or a payload), with typ as its
// event_type unless the object has one.
func eventFrom(raw []byte, typ string) (*abxbus.BaseEvent, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if _, ok := obj["event_type"]; !ok {
		if typ == "" {
			return nil, errors.New("no event_type (and no --type)")
		}
		t, _ := json.Marshal(typ)
		obj["event_type"] = t
	}
	data, _ := json.Marshal(obj)
	return abxbus.FromJSON(data)
}
