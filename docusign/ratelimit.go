package docusign

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Rate-limit and correlation headers DocuSign sends on API replies (docusign-api.md §7).
const (
	HeaderRateLimitLimit      = "X-RateLimit-Limit"
	HeaderRateLimitRemaining  = "X-RateLimit-Remaining"
	HeaderRateLimitReset      = "X-RateLimit-Reset"
	HeaderBurstLimitLimit     = "X-BurstLimit-Limit"
	HeaderBurstLimitRemaining = "X-BurstLimit-Remaining"
	HeaderTraceToken          = "X-DocuSign-TraceToken"
)

// relativeResetBelow: X-RateLimit-Reset values below this are seconds from now, larger ones Unix seconds.
const relativeResetBelow = 1_000_000_000

// maxResetUnix is the largest absolute reset accepted (year 5138); larger values are garbage (e.g. milliseconds).
const maxResetUnix = 100_000_000_000

// RateLimit is what one reply's headers say about the account's budget. Fields are only meaningful when the
// matching Has flag is set: Admin API replies may carry no headers at all. Remaining is reported as sent, even if
// it exceeds Limit.
type RateLimit struct {
	// Limit is X-RateLimit-Limit, the hourly limit.
	Limit int
	// Remaining is X-RateLimit-Remaining, the calls left in this hour.
	Remaining int
	// Reset is X-RateLimit-Reset, when the hourly window ends; zero when absent or unusable.
	Reset time.Time
	// BurstLimit is X-BurstLimit-Limit, the limit of the 30-second burst window.
	BurstLimit int
	// BurstRemaining is X-BurstLimit-Remaining.
	BurstRemaining int
	// HasHourly is set when X-RateLimit-Limit and X-RateLimit-Remaining were both present and valid.
	HasHourly bool
	// HasBurst is set when X-BurstLimit-Limit and X-BurstLimit-Remaining were both present and valid.
	HasBurst bool
}

// ParseRateLimit reads the rate-limit headers. X-RateLimit-Reset is Unix seconds; values below 1e9 are taken as
// seconds from now. Missing, negative or malformed values are ignored (the Has flags stay false); it never panics.
func ParseRateLimit(h http.Header, now time.Time) RateLimit {
	var rl RateLimit
	limit, okLimit := headerInt(h, HeaderRateLimitLimit)
	remaining, okRemaining := headerInt(h, HeaderRateLimitRemaining)
	if okLimit && okRemaining {
		rl.Limit, rl.Remaining, rl.HasHourly = limit, remaining, true
	}
	if reset, ok := headerInt64(h, HeaderRateLimitReset); ok && reset <= maxResetUnix {
		if reset < relativeResetBelow {
			rl.Reset = now.Add(time.Duration(reset) * time.Second)
		} else {
			rl.Reset = time.Unix(reset, 0)
		}
	}
	burst, okBurst := headerInt(h, HeaderBurstLimitLimit)
	burstRemaining, okBurstRemaining := headerInt(h, HeaderBurstLimitRemaining)
	if okBurst && okBurstRemaining {
		rl.BurstLimit, rl.BurstRemaining, rl.HasBurst = burst, burstRemaining, true
	}
	return rl
}

// maxHeaderInt keeps parsed counts far from overflow in callers' arithmetic.
const maxHeaderInt = 1 << 40

func headerInt(h http.Header, name string) (int, bool) {
	v, ok := headerInt64(h, name)
	if !ok || v > maxHeaderInt {
		return 0, false
	}
	return int(v), true
}

func headerInt64(h http.Header, name string) (int64, bool) {
	if h == nil {
		return 0, false
	}
	raw := strings.TrimSpace(h.Get(name))
	if raw == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}
