package ratelimit

import (
	"math"
	"time"
)

// paceEpsilon absorbs floating-point rounding when a grant takes the budget
// exactly down to the pacing floor. The Lua scripts use the same value.
const paceEpsilon = 1e-6

// Pace is the pacing line of one budget key in one hourly window: the
// remaining budget the limiter keeps back falls along a straight line from
// AnchorRemaining at AnchorAt to Reserve at WindowEnd. A request for n tokens
// is granted at time t only if remaining − n stays on or above that line
// (see the package documentation for the whole model).
//
// The anchor is the window start (AnchorRemaining = the hourly limit) until an
// observation shows the shared budget below the line; the line is then
// re-drawn through that observation, so the budget still available is spread
// over the time left. Pace is pure arithmetic: the Lua scripts evaluate the
// same formulas, and State returns the line currently stored in Redis.
type Pace struct {
	// AnchorAt is where the line starts: the window start, or the time of the
	// observation that last re-drew it.
	AnchorAt time.Time
	// AnchorRemaining is the remaining budget at AnchorAt.
	AnchorRemaining int
	// WindowEnd is the end of the hourly window (DocuSign's X-RateLimit-Reset).
	WindowEnd time.Time
	// Reserve is the part of the budget left for other integrations.
	Reserve int
}

// Floor returns the remaining budget the limiter keeps back at t. It is
// Reserve when the line has nothing to release (AnchorRemaining ≤ Reserve).
func (p Pace) Floor(t time.Time) float64 {
	res := float64(p.Reserve)
	if p.AnchorRemaining <= p.Reserve || !p.WindowEnd.After(p.AnchorAt) {
		return res
	}
	if t.Before(p.AnchorAt) {
		t = p.AnchorAt
	}
	if t.After(p.WindowEnd) {
		t = p.WindowEnd
	}
	we, at, now := float64(p.WindowEnd.UnixMilli()), float64(p.AnchorAt.UnixMilli()), float64(t.UnixMilli())
	return res + (float64(p.AnchorRemaining)-res)*(we-now)/(we-at)
}

// Available returns how many tokens may be taken at t when remaining calls
// are left in the window: remaining − Floor(t). It is negative when the
// budget is below the line.
func (p Pace) Available(t time.Time, remaining int) float64 {
	return float64(remaining) - p.Floor(t)
}

// Allows reports whether n tokens may be taken at t when remaining calls are
// left in the window (the hourly condition only; the burst limit and
// priorities are checked separately).
func (p Pace) Allows(t time.Time, remaining, n int) bool {
	return remaining-n >= p.Reserve && p.Available(t, remaining) >= float64(n)-paceEpsilon
}

// ReadyAt returns the earliest time, not before t, at which n tokens may be
// taken when remaining calls are left and nobody else spends any. ok is false
// when this window cannot supply them (remaining − n < Reserve, or the line
// reaches them only at WindowEnd, which belongs to the next window); the
// tokens then come from the next window.
func (p Pace) ReadyAt(t time.Time, remaining, n int) (ready time.Time, ok bool) {
	if remaining-n < p.Reserve || !t.Before(p.WindowEnd) {
		return time.Time{}, false
	}
	if p.Allows(t, remaining, n) {
		return t, true
	}
	// remaining − n = Reserve + (AnchorRemaining − Reserve)·(we − x)/(we − at), solved for x.
	we, at := float64(p.WindowEnd.UnixMilli()), float64(p.AnchorAt.UnixMilli())
	x := we - float64(remaining-n-p.Reserve)*(we-at)/float64(p.AnchorRemaining-p.Reserve)
	ms := max(int64(math.Ceil(x)), t.UnixMilli())
	if ms >= p.WindowEnd.UnixMilli() {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).In(t.Location()), true
}

// Rate returns the tokens per second the line releases.
func (p Pace) Rate() float64 {
	span := p.WindowEnd.Sub(p.AnchorAt).Seconds()
	if p.AnchorRemaining <= p.Reserve || span <= 0 {
		return 0
	}
	return float64(p.AnchorRemaining-p.Reserve) / span
}

// reserveOf returns round(fraction × limit), the way the Lua scripts do.
func reserveOf(fraction float64, limit int) int {
	if fraction <= 0 || limit <= 0 {
		return 0
	}
	return int(math.Floor(fraction*float64(limit) + 0.5))
}
