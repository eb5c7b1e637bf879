package main

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// sample is what a meter measured between start and stop.
type sample struct {
	elapsed  time.Duration
	bytes    uint64 // runtime.MemStats.TotalAlloc delta
	allocs   uint64 // runtime.MemStats.Mallocs delta
	peakHeap uint64 // highest sampled HeapInuse minus HeapInuse at start (0 if it never grew)
}

// heapSampleEvery is how often the meter samples the in-use heap while a workload runs. Sampling reads
// runtime/metrics (no stop-the-world, no allocation), so it barely disturbs the workload.
const heapSampleEvery = time.Millisecond

// meter measures one timed section: wall time, allocation deltas from runtime.MemStats, and peak heap
// growth sampled by a goroutine of its own (HeapInuse = heap objects + unused heap span bytes, read
// from runtime/metrics, as MemStats documents it).
type meter struct {
	t0     time.Time
	ms0    runtime.MemStats
	base   uint64
	stopCh chan struct{}
	doneCh chan uint64
}

var heapInuseMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}

func readHeapInuse(s []metrics.Sample) uint64 {
	metrics.Read(s)
	var v uint64
	for _, x := range s {
		if x.Value.Kind() == metrics.KindUint64 {
			v += x.Value.Uint64()
		}
	}
	return v
}

func newHeapSamples() []metrics.Sample {
	s := make([]metrics.Sample, len(heapInuseMetrics))
	for i, name := range heapInuseMetrics {
		s[i].Name = name
	}
	return s
}

// startMeter collects garbage (so that every section starts from the same state), then starts timing.
func startMeter() *meter {
	runtime.GC()
	m := &meter{stopCh: make(chan struct{}), doneCh: make(chan uint64, 1)}
	s := newHeapSamples()
	m.base = readHeapInuse(s)
	go m.sampleHeap(s)
	runtime.ReadMemStats(&m.ms0)
	m.t0 = time.Now()
	return m
}

func (m *meter) sampleHeap(s []metrics.Sample) {
	peak := m.base
	t := time.NewTicker(heapSampleEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if v := readHeapInuse(s); v > peak {
				peak = v
			}
		case <-m.stopCh:
			if v := readHeapInuse(s); v > peak {
				peak = v
			}
			m.doneCh <- peak
			return
		}
	}
}

// stop ends the section and returns its sample. It waits for the sampling goroutine to end.
func (m *meter) stop() sample {
	elapsed := time.Since(m.t0)
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	close(m.stopCh)
	peak := <-m.doneCh
	s := sample{
		elapsed: elapsed,
		bytes:   ms1.TotalAlloc - m.ms0.TotalAlloc,
		allocs:  ms1.Mallocs - m.ms0.Mallocs,
	}
	if peak > m.base {
		s.peakHeap = peak - m.base
	}
	return s
}
