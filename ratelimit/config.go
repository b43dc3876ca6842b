package ratelimit

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	// defaultLimit is DocuSign's default hourly limit per account.
	defaultLimit = 3000
	// defaultBurstLimit is DocuSign's production burst limit.
	defaultBurstLimit = 500

	// DefaultKeyPrefix prefixes every Redis key of the limiter.
	DefaultKeyPrefix = "ratelimit:"
	// DefaultWindow is the length of the hourly window, aligned to the top of
	// the hour (window start = floor(now/Window)·Window).
	DefaultWindow = time.Hour
	// DefaultBurstWindow is the length of a burst window, aligned the same way.
	DefaultBurstWindow = 30 * time.Second
	// DefaultReserve is the fraction of the hourly limit left to other
	// integrations.
	DefaultReserve = 0.10
	// DefaultBurstReserve is the fraction of the burst limit left to other
	// integrations.
	DefaultBurstReserve = 0.10
	// DefaultMaxWait is the longest a Wait sleeps in place before it returns
	// a *RetryError instead.
	DefaultMaxWait = 2 * time.Second
	// DefaultParkedHold is how long past its RetryIn a parked request keeps
	// its priority claim.
	DefaultParkedHold = 5 * time.Second
	// DefaultTimeout bounds each Redis round trip.
	DefaultTimeout = time.Second
)

// waiterSlack is how long past its next attempt an in-place waiter keeps its
// priority claim, covering scheduling delays; a waiter that never comes back
// (its process died) stops blocking lower priorities after it.
const waiterSlack = time.Second

// Clock tells the time. Production leaves Config.Clock nil: the scripts then
// read Redis TIME, so every process shares one clock. Tests inject one.
type Clock interface {
	Now() time.Time
}

// Config configures a Limiter. The zero value of every field means its
// default; New applies the defaults and validates the result.
type Config struct {
	// KeyPrefix prefixes the Redis keys (default "ratelimit:"). Give each
	// deployment (or shadow mode) its own prefix.
	KeyPrefix string
	// Window is the hourly window length (default 1 h). Tests run a
	// compressed "hour", e.g. 60 s.
	Window time.Duration
	// BurstWindow is the burst window length (default 30 s); DocuSign sends no
	// burst reset, so burst windows are assumed fixed and aligned.
	BurstWindow time.Duration
	// DefaultLimit is the hourly limit assumed until a reply tells the real
	// one (default 3000).
	DefaultLimit int
	// DefaultBurstLimit is the burst limit assumed until a reply tells the
	// real one (default 500).
	DefaultBurstLimit int
	// Reserve is the fraction of the hourly limit never spent, left to the
	// other integrations on the account (default 0.10; negative: none).
	Reserve float64
	// BurstReserve is the fraction of each burst window never spent (default
	// 0.10; negative: none).
	BurstReserve float64
	// MaxWait is the longest Wait sleeps in place, summed over its attempts;
	// a longer wait returns a *RetryError (default 2 s; negative: never wait
	// in place).
	MaxWait time.Duration
	// ParkedHold is how long past its RetryIn a critical or default request
	// that got a *RetryError keeps its claim over lower priorities, so the
	// token it was denied is still there when its job comes back (default
	// 5 s, asynq's forwarding interval; negative: parked requests claim
	// nothing).
	ParkedHold time.Duration
	// FailOpen grants every request while Redis is unavailable instead of
	// failing with ErrUnavailable. DANGEROUS: nothing paces the calls then,
	// every process spends blind and the account can be exhausted within
	// minutes, for every integration on it. Leave it off unless DocuSign
	// calls matter more than the shared quota.
	FailOpen bool
	// Timeout bounds each Redis round trip (default 1 s; negative: only the
	// caller's context and the client's own timeouts apply). With Redis down
	// a refused connection otherwise takes go-redis's dial retries (≈ 1.7 s)
	// to fail. Round trips that start within the same 1/32 of Timeout share
	// one deadline, so one may be cut up to 3 % short of it.
	Timeout time.Duration
	// Clock replaces Redis TIME (tests only). Every process sharing a key
	// must then use the same clock.
	Clock Clock
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.BurstWindow == 0 {
		c.BurstWindow = DefaultBurstWindow
	}
	if c.DefaultLimit == 0 {
		c.DefaultLimit = defaultLimit
	}
	if c.DefaultBurstLimit == 0 {
		c.DefaultBurstLimit = defaultBurstLimit
	}
	if c.Reserve == 0 {
		c.Reserve = DefaultReserve
	}
	if c.BurstReserve == 0 {
		c.BurstReserve = DefaultBurstReserve
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.ParkedHold == 0 {
		c.ParkedHold = DefaultParkedHold
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate reports every problem of c (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.ContainsAny(c.KeyPrefix, "{}") {
		bad("KeyPrefix %q must not contain braces (the budget key is the Redis Cluster hash tag)", c.KeyPrefix)
	}
	if c.Window < time.Second || c.Window%time.Millisecond != 0 {
		bad("Window %s must be at least 1s and a whole number of milliseconds", c.Window)
	}
	if c.BurstWindow < 10*time.Millisecond || c.BurstWindow%time.Millisecond != 0 {
		bad("BurstWindow %s must be at least 10ms and a whole number of milliseconds", c.BurstWindow)
	}
	if c.BurstWindow > c.Window {
		bad("BurstWindow %s must not be longer than Window %s", c.BurstWindow, c.Window)
	}
	if c.DefaultLimit < 0 {
		bad("DefaultLimit %d must be positive", c.DefaultLimit)
	}
	if c.DefaultBurstLimit < 0 {
		bad("DefaultBurstLimit %d must be positive", c.DefaultBurstLimit)
	}
	if c.Reserve >= 1 {
		bad("Reserve %g must be a fraction below 1", c.Reserve)
	} else if c.DefaultLimit > 0 && c.DefaultLimit-reserveOf(c.Reserve, c.DefaultLimit) < 1 {
		bad("Reserve %g leaves nothing of DefaultLimit %d", c.Reserve, c.DefaultLimit)
	}
	if c.BurstReserve >= 1 {
		bad("BurstReserve %g must be a fraction below 1", c.BurstReserve)
	} else if c.DefaultBurstLimit > 0 && c.DefaultBurstLimit-reserveOf(c.BurstReserve, c.DefaultBurstLimit) < 1 {
		bad("BurstReserve %g leaves nothing of DefaultBurstLimit %d", c.BurstReserve, c.DefaultBurstLimit)
	}
	return errors.Join(errs...)
}
