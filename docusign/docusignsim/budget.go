package docusignsim

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// Limit kinds of a rejected call.
const (
	limitHourly = "hourly"
	limitBurst  = "burst"
)

// maxHistory bounds the per-account list of finished windows in the state dump.
const maxHistory = 1000

// budget is one account's rate-limit state. Windows are fixed and aligned:
// start = floor(t/len)*len on Unix nanoseconds. Guarded by Server.mu.
type budget struct {
	accountID string

	windowStart     int64 // current hourly window (Unix ns)
	usedOurs        int   // calls of API clients accepted in the window
	usedForeign     int   // foreign calls accepted in the window
	rejectedHourly  int
	rejectedBurst   int
	foreignRejected int
	maxBurst        int // most calls (all sources) accepted in one burst window of this window
	maxBurstOurs    int

	burstStart int64
	burstUsed  int
	burstOurs  int

	allMaxBurst     int // over the simulator's life
	allMaxBurstOurs int
	rejectedTotal   int
	history         []WindowStats

	foreignRate int   // calls per window, 0: off
	foreignWS   int64 // window of the next foreign slot
	foreignK    int   // index of the next foreign slot in that window
}

func alignNanos(t, length int64) int64 {
	return t / length * length
}

func (s *Server) budgetFor(accountID string) *budget {
	b := s.budgets[accountID]
	if b == nil {
		b = &budget{accountID: accountID}
		s.budgets[accountID] = b
	}
	return b
}

// roll moves b's windows forward to t (never backwards).
func (s *Server) roll(b *budget, t int64) {
	if bs := alignNanos(t, int64(s.opts.BurstWindow)); bs > b.burstStart {
		b.burstStart = bs
		b.burstUsed = 0
		b.burstOurs = 0
	}
	if ws := alignNanos(t, int64(s.opts.Window)); ws > b.windowStart {
		if b.windowStart != 0 && (b.usedOurs+b.usedForeign+b.rejectedHourly+b.rejectedBurst+b.foreignRejected) > 0 {
			b.history = append(b.history, b.windowStats(s.opts))
			if len(b.history) > maxHistory {
				b.history = b.history[len(b.history)-maxHistory:]
			}
		}
		b.windowStart = ws
		b.usedOurs, b.usedForeign = 0, 0
		b.rejectedHourly, b.rejectedBurst, b.foreignRejected = 0, 0, 0
		b.maxBurst, b.maxBurstOurs = b.burstUsed, b.burstOurs
	}
}

func (b *budget) noteBurst() {
	b.maxBurst = max(b.maxBurst, b.burstUsed)
	b.maxBurstOurs = max(b.maxBurstOurs, b.burstOurs)
	b.allMaxBurst = max(b.allMaxBurst, b.burstUsed)
	b.allMaxBurstOurs = max(b.allMaxBurstOurs, b.burstOurs)
}

// foreignSlot is the time of slot k of the window starting at ws: ws + k*W/R without overflow.
func (s *Server) foreignSlot(b *budget, ws int64, k int) int64 {
	w := int64(s.opts.Window)
	r := int64(b.foreignRate)
	kk := int64(k)
	return ws + kk*(w/r) + kk*(w%r)/r
}

// catchUp applies the foreign calls due up to now, in time order; call before any of our
// calls at now so both interleave as they would have on a real server.
func (s *Server) catchUp(b *budget, now int64) {
	if b.foreignRate == 0 {
		return
	}
	w := int64(s.opts.Window)
	current := alignNanos(now, w)
	for {
		t := s.foreignSlot(b, b.foreignWS, b.foreignK)
		if t > now {
			return
		}
		s.spendForeignAt(b, t)
		b.foreignK++
		if b.foreignK >= b.foreignRate {
			b.foreignK = 0
			b.foreignWS += w
			if b.foreignWS < current {
				// Whole windows passed without anyone looking: they cannot affect the
				// current window, so skip them.
				b.foreignWS = current
			}
		}
	}
}

// spendForeignAt records one foreign call at t; a call over a limit is rejected (not counted).
func (s *Server) spendForeignAt(b *budget, t int64) {
	s.roll(b, t)
	if b.usedOurs+b.usedForeign >= s.opts.HourlyLimit || b.burstUsed >= s.opts.BurstLimit {
		b.foreignRejected++
		return
	}
	b.usedForeign++
	b.burstUsed++
	b.noteBurst()
}

// setForeignRate starts (rate > 0) or stops a steady foreign spend of rate calls per window,
// from the first slot at or after now.
func (s *Server) setForeignRate(b *budget, now int64, rate int) {
	s.catchUp(b, now)
	b.foreignRate = rate
	if rate == 0 {
		return
	}
	w := int64(s.opts.Window)
	ws := alignNanos(now, w)
	k := int(math.Ceil(float64(now-ws) * float64(rate) / float64(w)))
	k = min(max(k, 0), rate)
	for k > 0 && s.foreignSlot(b, ws, k-1) >= now {
		k--
	}
	for k < rate && s.foreignSlot(b, ws, k) < now {
		k++
	}
	if k >= rate {
		k = 0
		ws += w
	}
	b.foreignWS, b.foreignK = ws, k
}

// spendForeignLump records n foreign calls made at once; it returns how many were accepted
// (the rest were over the hourly limit). Burst use rises by the accepted calls but not above
// the burst limit.
func (s *Server) spendForeignLump(b *budget, now int64, n int) int {
	s.catchUp(b, now)
	s.roll(b, now)
	accepted := min(n, max(0, s.opts.HourlyLimit-b.usedOurs-b.usedForeign))
	b.usedForeign += accepted
	b.foreignRejected += n - accepted
	if b.burstUsed < s.opts.BurstLimit {
		b.burstUsed = min(b.burstUsed+accepted, s.opts.BurstLimit)
	}
	b.noteBurst()
	return accepted
}

// charge spends one call of our API clients at now. It returns "" when accepted, else the
// limit kind (a rejected call is not counted: assumed).
func (s *Server) charge(b *budget, now int64) string {
	s.catchUp(b, now)
	s.roll(b, now)
	switch {
	case b.usedOurs+b.usedForeign >= s.opts.HourlyLimit:
		b.rejectedHourly++
		b.rejectedTotal++
		return limitHourly
	case b.burstUsed >= s.opts.BurstLimit:
		b.rejectedBurst++
		b.rejectedTotal++
		return limitBurst
	}
	b.usedOurs++
	b.burstUsed++
	b.burstOurs++
	b.noteBurst()
	return ""
}

// setHeaders writes the rate-limit headers of b's current state.
func (s *Server) setRateHeaders(h http.Header, b *budget, now int64) {
	s.catchUp(b, now)
	s.roll(b, now)
	resetNanos := b.windowStart + int64(s.opts.Window)
	reset := (resetNanos + int64(time.Second) - 1) / int64(time.Second)
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.HourlyLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, s.opts.HourlyLimit-b.usedOurs-b.usedForeign)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	h.Set("X-BurstLimit-Limit", strconv.Itoa(s.opts.BurstLimit))
	h.Set("X-BurstLimit-Remaining", strconv.Itoa(max(0, s.opts.BurstLimit-b.burstUsed)))
}

func (b *budget) windowStats(o Options) WindowStats {
	return WindowStats{
		Start:           time.Unix(0, b.windowStart).UTC(),
		End:             time.Unix(0, b.windowStart+int64(o.Window)).UTC(),
		UsedOurs:        b.usedOurs,
		UsedForeign:     b.usedForeign,
		RejectedHourly:  b.rejectedHourly,
		RejectedBurst:   b.rejectedBurst,
		ForeignRejected: b.foreignRejected,
		MaxBurst:        b.maxBurst,
		MaxBurstOurs:    b.maxBurstOurs,
	}
}
