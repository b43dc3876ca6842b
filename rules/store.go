package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWatchInterval is how often Watch polls the file when given no interval.
const DefaultWatchInterval = 5 * time.Second

// Store holds the current rules of a running worker and replaces them atomically on reload. It is safe for
// concurrent use: Current is one atomic load, loads are serialised.
type Store struct {
	path         string
	validateFunc func(context.Context, *Set) error

	cur atomic.Pointer[Set]

	mu     sync.Mutex // serialises loads; guards status
	status Status
}

// Status describes a Store's reloads, for metrics and health checks.
type Status struct {
	// Version is the current set's Version; empty before the first successful load.
	Version string
	// Err is the failure of the latest load attempt; nil when it succeeded. A non-nil Err with a non-empty
	// Version means the worker runs on older rules than the file holds.
	Err error
	// Loads counts successful loads, Failures failed ones.
	Loads, Failures int
}

// NewStore returns a Store for the rules file at path. validate, when not nil, runs after Parse on every load
// (typically calling Set.Validate with the worker's Directory); a set it rejects is never used. The Store holds
// no rules until Load succeeds.
func NewStore(path string, validate func(context.Context, *Set) error) *Store {
	return &Store{path: path, validateFunc: validate}
}

// Load reads, parses and validates the file and, when all of that succeeds, makes the result current (also when
// the file did not change, as a SIGHUP asks). On failure the current rules stay, and the error (a
// *ValidationError for problems in the file or in DocuSign names) is returned and kept in Status.
func (st *Store) Load(ctx context.Context) error {
	_, err := st.load(ctx, nil)
	return err
}

// load loads data, or the file when data is nil, and reports whether the current version changed.
func (st *Store) load(ctx context.Context, data []byte) (bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if data == nil {
		var err error
		if data, err = readFile(st.path); err != nil {
			return false, st.failed(err)
		}
	}
	s, err := Parse(st.path, data)
	if err != nil {
		return false, st.failed(err)
	}
	if st.validateFunc != nil {
		if err := st.validateFunc(ctx, s); err != nil {
			return false, st.failed(err)
		}
	}
	old := st.cur.Swap(s)
	st.status.Version, st.status.Err = s.version, nil
	st.status.Loads++
	return old == nil || old.version != s.version, nil
}

// failed records a failed load; st.mu is held.
func (st *Store) failed(err error) error {
	st.status.Err = err
	st.status.Failures++
	return err
}

// Current returns the current rules, or nil before the first successful Load.
func (st *Store) Current() *Set { return st.cur.Load() }

// Version returns the current rules' Version, or "" before the first successful Load.
func (st *Store) Version() string {
	if s := st.cur.Load(); s != nil {
		return s.version
	}
	return ""
}

// Status returns the Store's reload status.
func (st *Store) Status() Status {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.status
}

// Watch polls the file every interval (DefaultWatchInterval when interval ≤ 0) until ctx is done, and loads it
// when its content differs from the current rules' and from the content last tried: an invalid file is reported
// once, not at every poll. A load that failed only because a DocuSign look-up failed (ErrLookup) is tried again
// at the next poll. After each load attempt, and after a read error (reported once until it changes), Watch calls
// onReload (when not nil) with whether the current rules changed and the error. Write the file atomically (write
// a temporary file, then rename it): a half-written file fails to parse and is only picked up complete at the
// next poll. Watch blocks; run it in a goroutine the caller owns.
func (st *Store) Watch(ctx context.Context, interval time.Duration, onReload func(changed bool, err error)) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	report := func(changed bool, err error) {
		if onReload != nil {
			onReload(changed, err)
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	tried := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := readFile(st.path)
		if err != nil {
			if key := "error: " + err.Error(); key != tried {
				tried = key
				st.mu.Lock()
				st.failed(err)
				st.mu.Unlock()
				report(false, err)
			}
			continue
		}
		sum := sha256.Sum256(data)
		key := hex.EncodeToString(sum[:])
		if key == tried {
			continue
		}
		if key == st.Version() {
			// The file is back to the current rules (e.g. a bad edit was reverted): nothing is stale any more.
			tried = key
			st.mu.Lock()
			stale := st.status.Err != nil
			st.status.Err = nil
			st.mu.Unlock()
			if stale {
				report(false, nil)
			}
			continue
		}
		changed, err := st.load(ctx, data)
		if err == nil || !isLookupOnly(err) {
			tried = key
		}
		report(changed, err)
	}
}

// isLookupOnly reports whether err says nothing about the file itself, only that DocuSign could not be asked.
func isLookupOnly(err error) bool {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.LookupOnly()
	}
	return errors.Is(err, ErrLookup)
}
