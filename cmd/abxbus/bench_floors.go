package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// The machine's floors (issue 13 item 1): what the simplest Go code doing a workload's unavoidable part
// costs on this machine, measured in the same run as the workloads (the machines are shared and their
// speed moves 2-4x between runs, so only same-run ratios mean something).
//
//   - chan-rr: a request/reply over buffered channels (capacity 1) between two goroutines: the cost of
//     handing an event to another goroutine and getting the answer back.
//   - spawn: starting a goroutine and waiting for it (sync.WaitGroup): one parallel handler.
//   - timer-1ms: a 1 ms time.Timer, from creation until its value is received: one 1 ms timeout as
//     this machine fires it.
//   - sleep-1.5ms: time.Sleep(1.5 ms) as long as it really takes: one fanout handler.

// floorKind names one floor.
type floorKind string

const (
	floorChanRR  floorKind = "chan-rr"
	floorSpawn   floorKind = "spawn"
	floorTimer   floorKind = "timer-1ms"
	floorSleep   floorKind = "sleep-1.5ms"
	fanoutSleep            = 1500 * time.Microsecond
	floorTimerAt           = time.Millisecond
)

var floorKinds = []floorKind{floorChanRR, floorSpawn, floorTimer, floorSleep}

var floorSummary = map[floorKind]string{
	floorChanRR: "buffered-channel request/reply between two goroutines",
	floorSpawn:  "goroutine spawn + wait",
	floorTimer:  "1 ms timer, created until it fired",
	floorSleep:  "time.Sleep(1.5 ms), as long as it takes",
}

// floorSpec maps a workload onto a floor: perUnit floor operations per unit of the workload (for
// worst: its 1 ms timeouts, one after another, spread over its events).
type floorSpec struct {
	kind    floorKind
	perUnit func(units int) float64
}

func perUnit(k float64) func(int) float64 { return func(int) float64 { return k } }

// measureFloor times one floor and returns the time of one operation. ops is scaled by cfg.scale with
// a minimum, so small test runs stay quick.
func measureFloor(k floorKind, cfg benchConfig) time.Duration {
	switch k {
	case floorChanRR:
		n := cfg.scaled(50_000, 2_000)
		req, rep := make(chan int, 1), make(chan int, 1)
		go func() {
			for v := range req {
				rep <- v + 1
			}
			close(rep)
		}()
		t0 := time.Now()
		for i := range n {
			req <- i
			<-rep
		}
		d := time.Since(t0)
		close(req)
		<-rep // the replier has ended
		return d / time.Duration(n)
	case floorSpawn:
		n := cfg.scaled(50_000, 2_000)
		var wg sync.WaitGroup
		t0 := time.Now()
		for range n {
			wg.Add(1)
			go wg.Done()
			wg.Wait()
		}
		return time.Since(t0) / time.Duration(n)
	case floorTimer:
		n := cfg.scaled(100, 20)
		t0 := time.Now()
		for range n {
			<-time.NewTimer(floorTimerAt).C
		}
		return time.Since(t0) / time.Duration(n)
	case floorSleep:
		n := cfg.scaled(100, 20)
		t0 := time.Now()
		for range n {
			time.Sleep(fanoutSleep)
		}
		return time.Since(t0) / time.Duration(n)
	}
	panic("unknown floor " + string(k))
}

// floorLog collects every floor measurement of a run (at the start, and before each run of a workload).
type floorLog map[floorKind][]time.Duration

func (l floorLog) measure(k floorKind, cfg benchConfig) time.Duration {
	d := measureFloor(k, cfg)
	l[k] = append(l[k], d)
	return d
}

func medianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// summary is the floors line of the table: each floor's median over the run's measurements.
func (l floorLog) summary() string {
	parts := make([]string, 0, len(floorKinds))
	for _, k := range floorKinds {
		if ds := l[k]; len(ds) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s (%s, median of %d)", k, fmtFloor(medianDuration(ds)), floorSummary[k], len(ds)))
		}
	}
	return "floors this run: " + strings.Join(parts, "; ")
}

func fmtFloor(d time.Duration) string {
	if d < 10*time.Microsecond {
		return fmt.Sprintf("%.0f ns", float64(d.Nanoseconds()))
	}
	return fmt.Sprintf("%.3f ms", float64(d.Nanoseconds())/1e6)
}
