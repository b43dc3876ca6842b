package ratelimit

import (
	"sync/atomic"
	"time"
)

// Stats are the counters of one budget key in this process, plus the last
// shared view it saw. A metrics exporter reads them with Snapshot on each
// scrape; counters only grow.
type Stats struct {
	// Key is the budget key.
	Key string
	// Limit, Remaining, BurstLimit and BurstRemaining are the last shared
	// view seen by this process (any script reply).
	Limit, Remaining, BurstLimit, BurstRemaining int
	// Reserve is the hourly reserve of that view.
	Reserve int
	// WindowEnd is the end of the hourly window of that view.
	WindowEnd time.Time
	// Foreign estimates the calls of other integrations in that window
	// (shared by all processes).
	Foreign int
	// Granted counts tokens granted to this process; Grants counts calls.
	Granted, Grants int64
	// Attempts counts acquire round trips to Redis.
	Attempts int64
	// Waits counts grants that slept in place at least once; WaitTotal sums
	// their wait and LastWait is the latest.
	Waits               int64
	WaitTotal, LastWait time.Duration
	// Parked counts *RetryError returns.
	Parked int64
	// ThrottledHourly and ThrottledBurst count throttled replies reported
	// with ObserveRateLimited (the goal is zero).
	ThrottledHourly, ThrottledBurst int64
	// Unavailable counts Redis failures; FailOpenGrants the grants given
	// without Redis under Config.FailOpen.
	Unavailable, FailOpenGrants int64
	// ByPriority holds grant and wait counters per priority.
	ByPriority map[Priority]PriorityStats
}

// PriorityStats are per-priority grant and wait counters.
type PriorityStats struct {
	// Grants counts grants; Waits those that slept in place.
	Grants, Waits int64
	// WaitTotal sums the time from Wait's call to its grant.
	WaitTotal time.Duration
}

// keyStats is the atomic form of Stats.
type keyStats struct {
	key                                     string
	keys                                    []string // state record, critical claims, default claims
	limit, remaining, burstLimit, burstRem  atomic.Int64
	reserve, windowEndMS, foreign           atomic.Int64
	granted, grants, attempts               atomic.Int64
	waits, waitTotal, lastWait              atomic.Int64
	parked, throttledHourly, throttledBurst atomic.Int64
	unavailable, failOpen                   atomic.Int64
	prio                                    [3]struct{ grants, waits, waitTotal atomic.Int64 }
}

// keyStats returns the counters of key, created on first use. Lookups of
// known keys take no lock.
func (l *Limiter) keyStats(key string) *keyStats {
	if ks, ok := l.stats.Load(key); ok {
		return ks.(*keyStats)
	}
	ks, _ := l.stats.LoadOrStore(key, &keyStats{key: key,
		keys: []string{l.stateKey(key), l.claimKey(key, Critical), l.claimKey(key, Default)}})
	return ks.(*keyStats)
}

// lookupStats returns the counters of key, or nil for a key never used.
func (l *Limiter) lookupStats(key string) *keyStats {
	if ks, ok := l.stats.Load(key); ok {
		return ks.(*keyStats)
	}
	return nil
}

// update records the shared view of a script reply. Values that did not
// change are not written again, so concurrent acquisitions of one key do
// not contend for them.
func (ks *keyStats) update(s scriptState) {
	storeChanged(&ks.limit, int64(s.lim))
	storeChanged(&ks.remaining, int64(s.rem))
	storeChanged(&ks.burstLimit, int64(s.burstLimit))
	storeChanged(&ks.burstRem, int64(s.burstRem))
	storeChanged(&ks.reserve, int64(s.reserve))
	storeChanged(&ks.windowEndMS, s.windowEnd.UnixMilli())
	storeChanged(&ks.foreign, int64(max(s.foreign, 0)))
}

// storeChanged stores v in a unless a already holds it.
func storeChanged(a *atomic.Int64, v int64) {
	if a.Load() != v {
		a.Store(v)
	}
}

// grant records a grant of n tokens after attempts round trips.
func (ks *keyStats) grant(p Priority, n, attempts int, waited time.Duration) {
	ks.granted.Add(int64(n))
	ks.grants.Add(1)
	ps := &ks.prio[p.rank()]
	ps.grants.Add(1)
	ps.waitTotal.Add(int64(waited))
	if attempts > 1 {
		ks.waits.Add(1)
		ks.waitTotal.Add(int64(waited))
		ks.lastWait.Store(int64(waited))
		ps.waits.Add(1)
	}
}

func (ks *keyStats) snapshot() Stats {
	s := Stats{
		Key:             ks.key,
		Limit:           int(ks.limit.Load()),
		Remaining:       int(ks.remaining.Load()),
		BurstLimit:      int(ks.burstLimit.Load()),
		BurstRemaining:  int(ks.burstRem.Load()),
		Reserve:         int(ks.reserve.Load()),
		Foreign:         int(ks.foreign.Load()),
		Granted:         ks.granted.Load(),
		Grants:          ks.grants.Load(),
		Attempts:        ks.attempts.Load(),
		Waits:           ks.waits.Load(),
		WaitTotal:       time.Duration(ks.waitTotal.Load()),
		LastWait:        time.Duration(ks.lastWait.Load()),
		Parked:          ks.parked.Load(),
		ThrottledHourly: ks.throttledHourly.Load(),
		ThrottledBurst:  ks.throttledBurst.Load(),
		Unavailable:     ks.unavailable.Load(),
		FailOpenGrants:  ks.failOpen.Load(),
		ByPriority:      make(map[Priority]PriorityStats, 3),
	}
	if ms := ks.windowEndMS.Load(); ms != 0 {
		s.WindowEnd = time.UnixMilli(ms)
	}
	for _, p := range []Priority{Critical, Default, Low} {
		ps := &ks.prio[p.rank()]
		s.ByPriority[p] = PriorityStats{Grants: ps.grants.Load(), Waits: ps.waits.Load(), WaitTotal: time.Duration(ps.waitTotal.Load())}
	}
	return s
}

// Stats returns the counters of key in this process (zero values for a key
// never used).
func (l *Limiter) Stats(key string) Stats {
	ks := l.lookupStats(key)
	if ks == nil {
		return Stats{Key: key, ByPriority: map[Priority]PriorityStats{}}
	}
	return ks.snapshot()
}

// Snapshot returns the counters of every key this process used.
func (l *Limiter) Snapshot() map[string]Stats {
	out := make(map[string]Stats)
	l.stats.Range(func(k, ks any) bool {
		out[k.(string)] = ks.(*keyStats).snapshot()
		return true
	})
	return out
}
