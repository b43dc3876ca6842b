package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// rediser is the part of a go-redis client the limiter uses; *redis.Client,
// *redis.ClusterClient, *redis.Ring and redis.UniversalClient satisfy it.
type rediser interface {
	redis.Scripter
	ZRem(ctx context.Context, key string, members ...any) *redis.IntCmd
}

// deregisterTimeout bounds the Redis call that withdraws a cancelled
// waiter's priority claim.
const deregisterTimeout = time.Second

// Limiter is the shared, header-synced token bucket. It is safe for
// concurrent use; every process that shares the Redis and the KeyPrefix
// shares the budgets.
type Limiter struct {
	rdb rediser
	cfg Config
	// config is the packed configuration, the head of every script call.
	config    string
	deadlines *deadlines
	idPrefix  string
	idSeq     atomic.Uint64
	stats     sync.Map // budget key → *keyStats
}

// New returns a Limiter over rdb (a *redis.Client, *redis.ClusterClient or
// any redis.UniversalClient). It does no I/O.
func New(rdb rediser, cfg Config) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("ratelimit: invalid config: nil redis client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ratelimit: invalid config: %w", err)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("ratelimit: waiter id: %w", err)
	}
	cfg = cfg.withDefaults()
	return &Limiter{rdb: rdb, cfg: cfg, config: packConfig(cfg), deadlines: newDeadlines(cfg.Timeout),
		idPrefix: hex.EncodeToString(b) + ":"}, nil
}

// Grant is a successful acquisition.
type Grant struct {
	// Key is the budget key.
	Key string
	// N is the number of tokens granted.
	N int
	// Priority is the request's priority.
	Priority Priority
	// At is the limiter time of the grant (Redis TIME or the injected clock).
	// Pass it as Observation.SentAt when reporting the reply.
	At time.Time
	// Waited is how long the acquisition took, sleeps included.
	Waited time.Duration
	// Attempts is the number of Redis round trips it took.
	Attempts int
	// Remaining is the shared view of the hourly budget after this grant.
	Remaining int
	// WindowEnd is the end of the hourly window the grant was charged to.
	WindowEnd time.Time
	// Seq is the number of tokens the limiter (all processes) granted in this
	// window, this grant included.
	Seq int
	// FailOpen is true when Redis was unavailable and Config.FailOpen granted
	// the request unpaced.
	FailOpen bool
}

// State is the shared view of one budget key, as stored in Redis.
type State struct {
	// Key is the budget key.
	Key string
	// Now is the limiter time the state was read at.
	Now time.Time
	// Limit is the hourly limit (observed or default).
	Limit int
	// Remaining is the shared view of the remaining hourly budget.
	Remaining int
	// Reserve is the part of Limit left to other integrations.
	Reserve int
	// WindowEnd is the end of the hourly window.
	WindowEnd time.Time
	// WindowObserved is true once a reply has confirmed WindowEnd.
	WindowObserved bool
	// Pace is the current pacing line.
	Pace Pace
	// BurstLimit is the burst limit (observed or default).
	BurstLimit int
	// BurstRemaining is the shared view of the current burst window.
	BurstRemaining int
	// BurstReserve is the part of BurstLimit left to other integrations.
	BurstReserve int
	// BurstWindowEnd is the end of the current burst window.
	BurstWindowEnd time.Time
	// Granted is the number of tokens the limiter granted in this window.
	Granted int
	// Foreign estimates the calls other integrations made in this window.
	Foreign int
}

// Available returns how many tokens the pacing line allows at s.Now (the
// hourly condition only).
func (s State) Available() float64 { return s.Pace.Available(s.Now, s.Remaining) }

// Observation is what one DocuSign reply said about the budget.
type Observation struct {
	// HasHourly says Limit, Remaining and Reset are present.
	HasHourly bool
	// Limit is X-RateLimit-Limit (0 if unknown).
	Limit int
	// Remaining is X-RateLimit-Remaining.
	Remaining int
	// Reset is X-RateLimit-Reset, the end of the hourly window (zero:
	// unknown, the current window is assumed).
	Reset time.Time
	// HasBurst says BurstLimit and BurstRemaining are present.
	HasBurst bool
	// BurstLimit is X-BurstLimit-Limit (0 if unknown).
	BurstLimit int
	// BurstRemaining is X-BurstLimit-Remaining.
	BurstRemaining int
	// At is when the reply arrived (zero: now).
	At time.Time
	// SentAt is when the request was granted or sent (Grant.At is best;
	// zero: unknown). A reply to a request sent in an earlier burst window
	// says nothing about the current one, so its burst figures are ignored.
	SentAt time.Time
}

// ObserveResult says what an observation changed.
type ObserveResult struct {
	// State is the shared view after merging.
	State State
	// HourlyApplied is true when the hourly figures were merged or replaced
	// the window; false when they were absent or from an older window.
	HourlyApplied bool
	// NewWindow is true when the observation started a window the limiter
	// did not know yet.
	NewWindow bool
	// BurstApplied is true when the burst figures were merged.
	BurstApplied bool
}

// Wait takes n tokens from the budget key at priority p. When the tokens
// come soon it sleeps in place (each try is one Redis round trip) for at most
// Config.MaxWait in total, and never past ctx's deadline; otherwise it
// returns a *RetryError saying when to come back. A cancelled ctx returns
// ctx.Err() wrapped and withdraws the waiter's priority claim. If Redis
// fails it returns an error wrapping ErrUnavailable, or, with
// Config.FailOpen, an unpaced Grant.
func (l *Limiter) Wait(ctx context.Context, key string, n int, p Priority) (Grant, error) {
	return l.acquire(ctx, key, n, p, l.cfg.MaxWait)
}

// TryAcquire is Wait without sleeping: one Redis round trip, then a Grant or
// a *RetryError. A critical or default request that is refused still claims
// its token over lower priorities for RetryIn + Config.ParkedHold.
func (l *Limiter) TryAcquire(ctx context.Context, key string, n int, p Priority) (Grant, error) {
	return l.acquire(ctx, key, n, p, 0)
}

// Acquire-script reply codes.
const (
	codeGranted = iota
	codePaced
	codeHourly
	codeBurst
	codePriority
	codeTooLarge
)

// Claim kinds in the acquire-script reply.
const (
	claimNone = iota
	claimInPlace
	claimParked
)

func (l *Limiter) acquire(ctx context.Context, key string, n int, p Priority, maxWait time.Duration) (Grant, error) {
	if key == "" || n < 1 || !p.valid() {
		return Grant{}, fmt.Errorf("%w: acquire key=%q n=%d priority=%s", ErrInvalid, key, n, p)
	}
	ks := l.keyStats(key)
	// An anonymous waiter gets its ID with the first attempt's arguments.
	id := waiterIDFrom(ctx)
	// A named waiter may hold a claim from an earlier, parked call.
	claimed := id != ""
	start := time.Now()
	now := start
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			now = time.Now()
		}
		budget := max(maxWait-now.Sub(start), 0)
		if dl, ok := ctx.Deadline(); ok {
			budget = min(budget, max(dl.Sub(now), 0))
		}
		var r acquireReply
		var err error
		r, id, err = l.runAcquire(ctx, now, ks, n, p, id, budget, claimed)
		ks.attempts.Add(1)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				// The interrupted attempt may have left a claim too.
				l.withdraw(ctx, key, p, id, true)
				return Grant{}, fmt.Errorf("ratelimit: wait for %q: %w", key, ctxErr)
			}
			ks.unavailable.Add(1)
			if l.cfg.FailOpen {
				ks.failOpen.Add(1)
				ks.grant(p, n, 0, 0)
				return Grant{Key: key, N: n, Priority: p, At: l.now(), Waited: time.Since(start),
					Attempts: attempt, FailOpen: true}, nil
			}
			return Grant{}, l.unavailable("acquire "+key, err)
		}
		ks.update(r.state)
		switch r.code {
		case codeGranted:
			waited := time.Since(start)
			ks.grant(p, n, attempt, waited)
			return Grant{Key: key, N: n, Priority: p, At: r.state.now, Waited: waited, Attempts: attempt,
				Remaining: r.state.rem, WindowEnd: r.state.windowEnd, Seq: r.state.granted}, nil
		case codeTooLarge:
			return Grant{}, fmt.Errorf("%w: %d tokens from %q (hourly limit %d, reserve %d; burst limit %d, reserve %d)",
				ErrTooLarge, n, key, r.state.lim, r.state.reserve, r.state.burstLimit, r.state.burstReserve)
		}
		claimed = claimed || r.claim != claimNone
		retryIn := r.retryAt.Sub(r.state.now)
		if retryIn > budget.Truncate(time.Millisecond) {
			ks.parked.Add(1)
			return Grant{}, &RetryError{Key: key, RetryIn: retryIn, Reason: reasonOf(r.code), Priority: p}
		}
		if err := sleep(ctx, retryIn); err != nil {
			l.withdraw(ctx, key, p, id, claimed)
			return Grant{}, fmt.Errorf("ratelimit: wait for %q: %w", key, err)
		}
	}
}

// reasonOf maps a denial code to its Reason.
func reasonOf(code int64) Reason {
	switch code {
	case codeHourly:
		return ReasonHourly
	case codeBurst:
		return ReasonBurst
	case codePriority:
		return ReasonPriority
	}
	return ReasonPaced
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// withdraw removes a cancelled waiter's priority claim. It outlives ctx's
// cancellation; if it fails the claim still expires on its own.
func (l *Limiter) withdraw(ctx context.Context, key string, p Priority, id string, claimed bool) {
	if !claimed || p == Low {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deregisterTimeout)
	defer cancel()
	_ = l.rdb.ZRem(ctx, l.claimKey(key, p), id).Err()
}

// unavailable wraps a Redis failure in ErrUnavailable.
func (l *Limiter) unavailable(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no reply within %s: %w", l.cfg.Timeout, err)
	}
	return fmt.Errorf("%w: %s: %w — DocuSign calls are held until Redis is back", ErrUnavailable, op, err)
}

// stateKey holds key's state record; the braces make key the Cluster hash
// tag of all its keys.
func (l *Limiter) stateKey(key string) string { return l.cfg.KeyPrefix + "{" + key + "}" }

// claimKey is the sorted set of priority claims of p (critical or default).
func (l *Limiter) claimKey(key string, p Priority) string {
	return l.stateKey(key) + ":claims:" + p.String()
}

// now is the limiter clock on the client side (for FailOpen grants, which
// never reach Redis).
func (l *Limiter) now() time.Time {
	if l.cfg.Clock != nil {
		return l.cfg.Clock.Now()
	}
	return time.Now()
}

// configValues is the length of the packed configuration; maxCallValues
// the longest call of any script, after it.
const (
	configValues  = 7
	maxCallValues = 11
)

// packCall encodes the configuration and then the call values as
// little-endian float64s, the scripts' argument and record format, in one
// allocation: ARGV[1] of the scripts (see lua.go).
func (l *Limiter) packCall(vals ...float64) string {
	var buf [8 * (configValues + maxCallValues)]byte
	return string(appendValues(append(buf[:0], l.config...), vals...))
}

func appendValues(b []byte, vals ...float64) []byte {
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// acquireValues is the length of the acquire script's call.
const acquireValues = 7

// packAcquire packs the configuration, an acquire call and the waiter ID
// into one string (ARGV[1] of the acquire script) and returns it with the
// waiter ID. An empty id names an anonymous waiter: unique within the
// process, and the random prefix makes it unique among processes.
func (l *Limiter) packAcquire(id string, vals ...float64) (call, waiter string) {
	var buf [8*(configValues+acquireValues) + 40]byte
	b := appendValues(append(buf[:0], l.config...), vals...)
	if id == "" {
		b = append(b, l.idPrefix...)
		b = strconv.AppendUint(b, l.idSeq.Add(1), 36)
	} else {
		b = append(b, id...)
	}
	s := string(b)
	return s, s[len(l.config)+8*len(vals):]
}

// packConfig is the head of every script call.
func packConfig(c Config) string {
	return string(appendValues(nil,
		float64(c.Window.Milliseconds()),
		float64(c.BurstWindow.Milliseconds()),
		float64(c.DefaultLimit),
		float64(c.DefaultBurstLimit),
		max(c.Reserve, 0),
		max(c.BurstReserve, 0),
		float64((2 * c.Window).Milliseconds()),
	))
}

// nowArg is the first call value: the injected clock, or 0 for Redis TIME.
func (l *Limiter) nowArg() float64 {
	if l.cfg.Clock != nil {
		return float64(l.cfg.Clock.Now().UnixMilli())
	}
	return 0
}

type acquireReply struct {
	code    int64
	retryAt time.Time
	claim   int64
	higher  int64
	state   scriptState
}

// runAcquire makes one attempt, begun at now, and returns the waiter ID it
// used (named by the attempt when id is empty).
func (l *Limiter) runAcquire(ctx context.Context, now time.Time, ks *keyStats, n int, p Priority, id string,
	budget time.Duration, claimed bool,
) (acquireReply, string, error) {
	hold := l.cfg.ParkedHold.Milliseconds()
	if l.cfg.ParkedHold < 0 {
		hold = -1
	}
	call, id := l.packAcquire(id, l.nowArg(), float64(n), float64(p.rank()), float64(budget.Milliseconds()),
		float64(hold), float64(waiterSlack.Milliseconds()), flag(claimed))
	ctx, cancel := l.startCall(ctx, now)
	defer cancel()
	s, err := acquireScript.Run(ctx, l.rdb, ks.keys, call).Text()
	if err != nil {
		return acquireReply{}, id, err
	}
	r, err := l.parseAcquire(ks.key, s)
	return r, id, err
}

// Lengths of the script replies and of the state record, in float64
// values (see lua.go).
const (
	recordLen       = 18
	grantHeadLen    = 9 // the head of the record a grant writes and returns
	acquireReplyLen = 5 + recordLen
	observeReplyLen = 3 + recordLen
	valueBytes      = 8
)

// parseAcquire decodes an acquire-script reply (see acquireLua).
func (l *Limiter) parseAcquire(key, s string) (acquireReply, error) {
	switch len(s) {
	case grantHeadLen * valueBytes, recordLen * valueBytes:
		// The head of the record: 0, now, rem, g, br, we, lim, bl, fa.
		lim, bl := value(s, 6), value(s, 7)
		return acquireReply{code: codeGranted, state: scriptState{
			key:          key,
			now:          time.UnixMilli(value(s, 1)),
			rem:          int(value(s, 2)),
			granted:      int(value(s, 3)),
			burstRem:     int(value(s, 4)),
			windowEnd:    time.UnixMilli(value(s, 5)),
			lim:          int(lim),
			reserve:      reserveOf(l.cfg.Reserve, int(lim)),
			burstLimit:   int(bl),
			burstReserve: reserveOf(l.cfg.BurstReserve, int(bl)),
			foreign:      int(value(s, 8)),
		}}, nil
	case acquireReplyLen * valueBytes:
		return acquireReply{
			code:    value(s, 0),
			retryAt: time.UnixMilli(value(s, 1)),
			claim:   value(s, 2),
			higher:  value(s, 3),
			state:   l.parseRecord(key, value(s, 4), s[5*valueBytes:]),
		}, nil
	}
	return acquireReply{}, fmt.Errorf("ratelimit: unexpected acquire reply: %d bytes", len(s))
}

// value decodes the i-th little-endian float64 of a script reply, which
// holds an integer.
func value(s string, i int) int64 {
	s = s[valueBytes*i : valueBytes*i+valueBytes]
	u := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	return int64(math.Float64frombits(u))
}

// scriptState is the shared view a script replied with.
type scriptState struct {
	key                                 string
	now, windowEnd, anchorAt, burstEnd  time.Time
	rem, lim, windowObserved, anchorRem int
	reserve, burstRem, burstLimit       int
	burstReserve, granted, foreign      int
}

// parseRecord decodes a state record (see lua.go for its layout) read at
// now (ms) and derives what the scripts do not send: the reserves and the
// end of the burst window.
func (l *Limiter) parseRecord(key string, now int64, rec string) scriptState {
	lim, bl := int(value(rec, 6)), int(value(rec, 7))
	return scriptState{
		key:            key,
		now:            time.UnixMilli(now),
		rem:            int(value(rec, 2)),
		granted:        int(value(rec, 3)),
		burstRem:       int(value(rec, 4)),
		windowEnd:      time.UnixMilli(value(rec, 5)),
		lim:            lim,
		burstLimit:     bl,
		foreign:        int(value(rec, 8)),
		burstEnd:       time.UnixMilli(value(rec, 9) + l.cfg.BurstWindow.Milliseconds()),
		anchorRem:      int(value(rec, 10)),
		anchorAt:       time.UnixMilli(value(rec, 11)),
		windowObserved: int(value(rec, 14)),
		reserve:        reserveOf(l.cfg.Reserve, lim),
		burstReserve:   reserveOf(l.cfg.BurstReserve, bl),
	}
}

func (s scriptState) public() State {
	return State{
		Key:            s.key,
		Now:            s.now,
		Limit:          s.lim,
		Remaining:      s.rem,
		Reserve:        s.reserve,
		WindowEnd:      s.windowEnd,
		WindowObserved: s.windowObserved == 1,
		Pace:           Pace{AnchorAt: s.anchorAt, AnchorRemaining: s.anchorRem, WindowEnd: s.windowEnd, Reserve: s.reserve},
		BurstLimit:     s.burstLimit,
		BurstRemaining: s.burstRem,
		BurstReserve:   s.burstReserve,
		BurstWindowEnd: s.burstEnd,
		Granted:        s.granted,
		Foreign:        max(s.foreign, 0),
	}
}

// Observe merges what a reply said into the shared view of key (one Redis
// round trip): in the same hourly window the lower remaining wins (other
// integrations spent some; a higher figure is stale), a newer window
// replaces the state, an older one is ignored; burst figures lower the
// current burst window's remaining. Errors wrap ErrUnavailable when Redis
// fails.
func (l *Limiter) Observe(ctx context.Context, key string, o Observation) (ObserveResult, error) {
	if key == "" || (o.HasHourly && (o.Remaining < 0 || o.Limit < 0)) || (o.HasBurst && (o.BurstRemaining < 0 || o.BurstLimit < 0)) {
		return ObserveResult{}, fmt.Errorf("%w: observe key=%q %+v", ErrInvalid, key, o)
	}
	return l.observe(ctx, key, 0, o)
}

// ObserveRateLimited records a throttled reply (a 429, or a 400 with
// HOURLY_/BURST_APIINVOCATION_LIMIT_EXCEEDED): Hourly empties key's budget
// until reset (zero: the end of the current window); Burst empties it until
// the end of the current burst window.
func (l *Limiter) ObserveRateLimited(ctx context.Context, key string, kind LimitKind, reset time.Time) error {
	if key == "" || (kind != Hourly && kind != Burst) {
		return fmt.Errorf("%w: observe rate limited key=%q kind=%s", ErrInvalid, key, kind)
	}
	ks := l.keyStats(key)
	if kind == Hourly {
		ks.throttledHourly.Add(1)
	} else {
		ks.throttledBurst.Add(1)
	}
	_, err := l.observe(ctx, key, int(kind), Observation{Reset: reset})
	return err
}

// State reads the shared view of key (rolling its windows over if they
// ended) in one round trip.
func (l *Limiter) State(ctx context.Context, key string) (State, error) {
	if key == "" {
		return State{}, fmt.Errorf("%w: state of an empty key", ErrInvalid)
	}
	r, err := l.observe(ctx, key, 0, Observation{})
	return r.State, err
}

func (l *Limiter) observe(ctx context.Context, key string, kind int, o Observation) (ObserveResult, error) {
	call := l.packCall(l.nowArg(), float64(kind),
		flag(o.HasHourly), float64(o.Limit), float64(o.Remaining), unixMilliOrZero(o.Reset),
		flag(o.HasBurst), float64(o.BurstLimit), float64(o.BurstRemaining),
		unixMilliOrZero(o.At), unixMilliOrZero(o.SentAt))
	ks := l.keyStats(key)
	callCtx, cancel := l.startCall(ctx, time.Now())
	defer cancel()
	s, err := observeScript.Run(callCtx, l.rdb, ks.keys[:1], call).Text()
	if err == nil && len(s) != observeReplyLen*valueBytes {
		err = fmt.Errorf("ratelimit: unexpected observe reply: %d bytes", len(s))
	}
	if err != nil {
		if ctx.Err() != nil {
			return ObserveResult{}, fmt.Errorf("ratelimit: observe %q: %w", key, ctx.Err())
		}
		ks.unavailable.Add(1)
		return ObserveResult{}, l.unavailable("observe "+key, err)
	}
	st := l.parseRecord(key, value(s, 2), s[3*valueBytes:])
	ks.update(st)
	hourly := value(s, 0)
	return ObserveResult{State: st.public(), HourlyApplied: hourly != 0, NewWindow: hourly == 2, BurstApplied: value(s, 1) != 0}, nil
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixMilliOrZero(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli())
}
