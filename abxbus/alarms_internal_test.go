package abxbus

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// checkShard verifies the heap order and that every run's alarm index points at its own slot.
func checkShard(t *testing.T, s *alarmShard) {
	t.Helper()
	for i, r := range s.heap {
		if int(r.alarm) != i+1 {
			t.Fatalf("entry %d has alarm index %d", i, r.alarm)
		}
		if i > 0 && s.heap[(i-1)/2].alarmAt > r.alarmAt {
			t.Fatalf("heap order broken at %d", i)
		}
	}
}

// Issue 13 item 4: many alarms added in an interleaved order, some removed (finished runs, any
// position), some moved earlier, come out in deadline order; removal leaves no stale index.
func TestAlarmHeapOrderIssue13Item4(t *testing.T) {
	var s alarmShard
	rng := rand.New(rand.NewPCG(1, 2))
	runs := make([]*run, 500)
	for i := range runs {
		runs[i] = &run{}
		at := int64(1 + rng.IntN(1_000_000))
		s.heap = append(s.heap, runs[i])
		runs[i].alarm, runs[i].alarmAt = int32(len(s.heap)), at
		s.up(len(s.heap) - 1)
	}
	checkShard(t, &s)
	removed := map[*run]bool{}
	for _, i := range rng.Perm(len(runs))[:150] {
		r := runs[i]
		s.remove(int(r.alarm) - 1)
		removed[r] = true
		if r.alarm != 0 {
			t.Fatal("a removed run keeps its heap index")
		}
		checkShard(t, &s)
	}
	for _, i := range rng.Perm(len(runs))[:100] {
		if r := runs[i]; !removed[r] {
			r.alarmAt /= 2
			s.fix(int(r.alarm) - 1)
			checkShard(t, &s)
		}
	}
	var want []int64
	for _, r := range runs {
		if !removed[r] {
			want = append(want, r.alarmAt)
		}
	}
	slices.Sort(want)
	var got []int64
	for len(s.heap) > 0 {
		r := s.heap[0]
		got = append(got, r.alarmAt)
		s.remove(0)
		if removed[r] {
			t.Fatal("a removed run came out of the heap")
		}
		checkShard(t, &s)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("alarms out of order:\n got %v\nwant %v", got[:10], want[:10])
	}
}

// PendingAlarms counts the runs of b that still have an alarm queued in any shard (tests only).
func PendingAlarms(b *Bus) int {
	n := 0
	for i := range alarmShards {
		s := &alarmShards[i]
		s.mu.Lock()
		for _, r := range s.heap {
			if r.bus == b {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}
