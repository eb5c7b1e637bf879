package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// This file is the transcoding service as the application defines it: a job, its result, the
// Encoder interface and the implementation that does the work. The //abxbus:service directive and
// the go:generate line below turn the interface into events, a client and a server adapter
// (abxbus_gen.go); nothing else here knows about the bus.

//go:generate go run github.com/typedbus/abxbus-go/cmd/abxbus-gen

// Job asks for one source file in one preset.
type Job struct {
	Source string `json:"source"`
	Preset string `json:"preset"`
}

// Rendition is an encoded file and the worker that made it.
type Rendition struct {
	Output string `json:"output"`
	Worker string `json:"worker"`
}

// Encoder encodes video files. Encodes are independent of each other, so its events run in parallel
// on a bus: the limit on how many run at once is the machine's, not the bus's (see worker.go).
//
//abxbus:service version=1.0.0,timeout=60s,concurrency=parallel
type Encoder interface {
	// Encode renders job.Source in job.Preset.
	//abxbus:method type=transcode.encode
	Encode(ctx context.Context, job Job) (Rendition, error)
}

var (
	// ErrEncoderBusy is the transient failure of an encode: the hardware encoder was not ready. It is
	// worth retrying.
	ErrEncoderBusy = errors.New("encoder busy")
	// ErrCorruptInput is the permanent failure of an encode: the source cannot be decoded. Its code
	// crosses process boundaries, so a client in another process matches it with errors.Is.
	ErrCorruptInput = &abxbus.ServiceError{Code: "corrupt_input", Message: "corrupt input"}
)

// busyTries says how many first attempts of a source fail with ErrEncoderBusy, so that the demo's
// retries are the same on every run.
var busyTries = map[string]int{"trailer.mov": 1, "interview.mov": 2}

// encodeTime is how long one encode takes.
const encodeTime = 30 * time.Millisecond

// hwEncoder is the implementation: it stands in for a hardware encoder, of which the machine has a
// fixed number. It appends a "+" line to the meter file when it starts using the hardware and a "-"
// line when it stops, so that the main process can replay how many encodes ran at once across all
// worker processes. It is safe for concurrent use.
type hwEncoder struct {
	worker string
	meter  *os.File // opened with O_APPEND: each line is one write, so processes do not tear lines

	mu    sync.Mutex
	tries map[string]int
}

func newHWEncoder(worker, meterPath string) (*hwEncoder, error) {
	meter, err := os.OpenFile(meterPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &hwEncoder{worker: worker, meter: meter, tries: map[string]int{}}, nil
}

func (e *hwEncoder) Close() error { return e.meter.Close() }

func (e *hwEncoder) Encode(ctx context.Context, job Job) (Rendition, error) {
	e.mu.Lock()
	e.tries[job.Source]++
	try := e.tries[job.Source]
	e.mu.Unlock()

	if _, err := fmt.Fprintf(e.meter, "+ %s %s\n", e.worker, job.Source); err != nil {
		return Rendition{}, err
	}
	defer fmt.Fprintf(e.meter, "- %s %s\n", e.worker, job.Source)

	if strings.HasPrefix(job.Source, "corrupt") {
		return Rendition{}, fmt.Errorf("%s: %w", job.Source, ErrCorruptInput)
	}
	if try <= busyTries[job.Source] {
		return Rendition{}, ErrEncoderBusy
	}
	select {
	case <-time.After(encodeTime):
	case <-ctx.Done():
		return Rendition{}, ctx.Err()
	}
	base := strings.TrimSuffix(job.Source, filepath.Ext(job.Source))
	return Rendition{Output: base + "-" + job.Preset + ".mp4", Worker: e.worker}, nil
}
