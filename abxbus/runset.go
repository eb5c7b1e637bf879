package abxbus

import (
	"sync"
	"unsafe"
)

// runSet holds a bus's runs in progress, for Destroy to stop them. Runs are added with the bus's mu held
// and removed without it (runDone), so the set is split in shards of their own lock, picked by the run's
// address: concurrent runs finishing on one bus rarely meet on a lock. A shard's map is made on first
// use.
type runSet struct {
	shards [runSetShards]runSetShard
}

const (
	runSetShardBits = 3
	runSetShards    = 1 << runSetShardBits
)

type runSetShard struct {
	mu sync.Mutex
	m  map[*run]struct{}
}

func (s *runSet) shard(r *run) *runSetShard {
	h := uint64(uintptr(unsafe.Pointer(r))>>4) * 0x9E3779B97F4A7C15
	return &s.shards[h>>(64-runSetShardBits)]
}

func (s *runSet) add(r *run) {
	sh := s.shard(r)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[*run]struct{})
	}
	sh.m[r] = struct{}{}
	sh.mu.Unlock()
}

func (s *runSet) remove(r *run) {
	sh := s.shard(r)
	sh.mu.Lock()
	delete(sh.m, r)
	sh.mu.Unlock()
}

// all returns the runs in the set. With the bus's mu held it holds every run added and not removed.
func (s *runSet) all() []*run {
	var runs []*run
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for r := range sh.m {
			runs = append(runs, r)
		}
		sh.mu.Unlock()
	}
	return runs
}
