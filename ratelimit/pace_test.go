package ratelimit_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/ratelimit"
)

// hourPace is the default line: 3000 per hour, reserve 300, from the top of
// the hour.
func hourPace() ratelimit.Pace {
	start := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	return ratelimit.Pace{AnchorAt: start, AnchorRemaining: 3000, WindowEnd: start.Add(time.Hour), Reserve: 300}
}

func TestPaceFloor(t *testing.T) {
	t.Parallel()
	p := hourPace()
	tests := []struct {
		name string
		pace ratelimit.Pace
		at   time.Duration // after AnchorAt
		want float64
	}{
		{name: "window start keeps everything", pace: p, at: 0, want: 3000},
		{name: "a quarter in", pace: p, at: 15 * time.Minute, want: 300 + 2700*0.75},
		{name: "halfway", pace: p, at: 30 * time.Minute, want: 1650},
		{name: "window end keeps the reserve", pace: p, at: time.Hour, want: 300},
		{name: "before the anchor clamps", pace: p, at: -time.Minute, want: 3000},
		{name: "after the window clamps", pace: p, at: 2 * time.Hour, want: 300},
		{name: "anchor at the reserve releases nothing", pace: ratelimit.Pace{AnchorAt: p.AnchorAt, AnchorRemaining: 300, WindowEnd: p.WindowEnd, Reserve: 300}, at: 30 * time.Minute, want: 300},
		{name: "empty window", pace: ratelimit.Pace{AnchorAt: p.WindowEnd, AnchorRemaining: 900, WindowEnd: p.WindowEnd, Reserve: 300}, at: 0, want: 300},
		{name: "re-drawn line", pace: ratelimit.Pace{AnchorAt: p.AnchorAt.Add(20 * time.Minute), AnchorRemaining: 1500, WindowEnd: p.WindowEnd, Reserve: 300}, at: 40 * time.Minute, want: 900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tt.want, tt.pace.Floor(p.AnchorAt.Add(tt.at)), 1e-9)
		})
	}
}

func TestPaceAllowsAndAvailable(t *testing.T) {
	t.Parallel()
	p := hourPace()
	tests := []struct {
		name      string
		at        time.Duration
		remaining int
		n         int
		wantAvail float64
		want      bool
	}{
		{name: "nothing at the start", at: 0, remaining: 3000, n: 1, wantAvail: 0, want: false},
		{name: "first token after 1/2700 of the hour", at: 1334 * time.Millisecond, remaining: 3000, n: 1, wantAvail: 2700 * 1334.0 / 3_600_000, want: true},
		{name: "just before the first token", at: 1333 * time.Millisecond, remaining: 3000, n: 1, wantAvail: 2700 * 1333.0 / 3_600_000, want: false},
		{name: "exactly on the line", at: 30 * time.Minute, remaining: 1660, n: 10, wantAvail: 10, want: true},
		{name: "one over the line", at: 30 * time.Minute, remaining: 1660, n: 11, wantAvail: 10, want: false},
		{name: "idle credit allows a burst", at: 50 * time.Minute, remaining: 3000, n: 2250, wantAvail: 2250, want: true},
		{name: "below the line after foreign spend", at: 30 * time.Minute, remaining: 1000, n: 1, wantAvail: -650, want: false},
		{name: "never into the reserve", at: time.Hour, remaining: 300, n: 1, wantAvail: 0, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at := p.AnchorAt.Add(tt.at)
			require.InDelta(t, tt.wantAvail, p.Available(at, tt.remaining), 1e-9)
			require.Equal(t, tt.want, p.Allows(at, tt.remaining, tt.n))
		})
	}
}

func TestPaceReadyAt(t *testing.T) {
	t.Parallel()
	p := hourPace()
	tests := []struct {
		name      string
		at        time.Duration
		remaining int
		n         int
		want      time.Duration // after AnchorAt
		wantOK    bool
	}{
		{name: "first token of the hour", at: 0, remaining: 3000, n: 1, want: 1334 * time.Millisecond, wantOK: true},
		{name: "ten tokens", at: 0, remaining: 3000, n: 10, want: 13334 * time.Millisecond, wantOK: true},
		{name: "already available", at: 30 * time.Minute, remaining: 1700, n: 5, want: 30 * time.Minute, wantOK: true},
		{name: "behind the line waits for it", at: 30 * time.Minute, remaining: 1640, n: 1, want: 30*time.Minute + 14667*time.Millisecond, wantOK: true},
		{name: "reserve reached", at: 59 * time.Minute, remaining: 300, n: 1, wantOK: false},
		{name: "only at the window end is the next window", at: 59 * time.Minute, remaining: 301, n: 1, wantOK: false},
		{name: "at the window end", at: time.Hour, remaining: 3000, n: 1, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at := p.AnchorAt.Add(tt.at)
			got, ok := p.ReadyAt(at, tt.remaining, tt.n)
			require.Equal(t, tt.wantOK, ok)
			if !ok {
				return
			}
			require.Equal(t, p.AnchorAt.Add(tt.want), got)
			require.True(t, p.Allows(got, tt.remaining, tt.n), "ready time allows the tokens")
			require.True(t, got.Equal(at) || !p.Allows(got.Add(-time.Millisecond), tt.remaining, tt.n), "one millisecond earlier does not")
		})
	}
}

func TestPaceRate(t *testing.T) {
	t.Parallel()
	p := hourPace()
	tests := []struct {
		name string
		pace ratelimit.Pace
		want float64
	}{
		{name: "default hour", pace: p, want: 0.75},
		{name: "compressed hour", pace: ratelimit.Pace{AnchorAt: p.AnchorAt, AnchorRemaining: 600, WindowEnd: p.AnchorAt.Add(time.Minute), Reserve: 60}, want: 9},
		{name: "nothing to release", pace: ratelimit.Pace{AnchorAt: p.AnchorAt, AnchorRemaining: 60, WindowEnd: p.WindowEnd, Reserve: 60}, want: 0},
		{name: "empty window", pace: ratelimit.Pace{AnchorAt: p.WindowEnd, AnchorRemaining: 600, WindowEnd: p.WindowEnd}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tt.want, tt.pace.Rate(), 1e-12)
		})
	}
}

// TestPaceSpendsForeignShare integrates the model the limiter follows with
// continuous re-syncs: the line is re-drawn through the observed remaining
// whenever other integrations push it below; with a steady foreign load the
// whole budget above the reserve is spent by the window end.
func TestPaceSpendsForeignShare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		limit, reserve     int
		foreignPerWindow   float64
		wantOursAtLeastPct float64
	}{
		{name: "quota test: 600, 10 % reserve, 20 % foreign", limit: 600, reserve: 60, foreignPerWindow: 120, wantOursAtLeastPct: 99},
		{name: "production: 3000, 10 % reserve, 20 % foreign", limit: 3000, reserve: 300, foreignPerWindow: 600, wantOursAtLeastPct: 99},
		{name: "heavy foreign load", limit: 3000, reserve: 300, foreignPerWindow: 1800, wantOursAtLeastPct: 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const steps = 60_000 // one step per window millisecond of a 60 s window
			start := time.Unix(0, 0)
			pace := ratelimit.Pace{AnchorAt: start, AnchorRemaining: tt.limit, WindowEnd: start.Add(time.Minute), Reserve: tt.reserve}
			remaining := float64(tt.limit)
			ours := 0
			for i := range steps {
				at := start.Add(time.Duration(i) * time.Millisecond)
				remaining -= tt.foreignPerWindow / steps
				r := int(remaining)
				if float64(r) < pace.Floor(at) { // an observation below the line re-draws it
					pace = ratelimit.Pace{AnchorAt: at, AnchorRemaining: r, WindowEnd: pace.WindowEnd, Reserve: tt.reserve}
				}
				for pace.Allows(at, r, 1) {
					r--
					remaining--
					ours++
				}
			}
			available := float64(tt.limit-tt.reserve) - tt.foreignPerWindow
			pct := 100 * float64(ours) / available
			t.Logf("ours %d of %.0f available (%.2f %%)", ours, available, pct)
			require.GreaterOrEqual(t, pct, tt.wantOursAtLeastPct)
			require.LessOrEqual(t, float64(ours), available+1)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     ratelimit.Config
		wantErr []string
	}{
		{name: "zero value is the defaults", cfg: ratelimit.Config{}},
		{name: "compressed hour", cfg: ratelimit.Config{Window: time.Minute, BurstWindow: 5 * time.Second, DefaultLimit: 600, DefaultBurstLimit: 100}},
		{name: "no reserves", cfg: ratelimit.Config{Reserve: -1, BurstReserve: -1}},
		{name: "all problems at once", cfg: ratelimit.Config{
			KeyPrefix: "a{b}", Window: 500 * time.Millisecond, BurstWindow: time.Second,
			DefaultLimit: -1, DefaultBurstLimit: -5, Reserve: 1, BurstReserve: 1.5,
		}, wantErr: []string{
			`KeyPrefix "a{b}"`, "Window 500ms must be at least 1s", "BurstWindow 1s must not be longer than Window 500ms",
			"DefaultLimit -1", "DefaultBurstLimit -5", "Reserve 1 must be a fraction below 1", "BurstReserve 1.5",
		}},
		{name: "burst window longer than the window", cfg: ratelimit.Config{Window: 2 * time.Second}, wantErr: []string{"BurstWindow 30s must not be longer than Window 2s"}},
		{name: "sub-millisecond window", cfg: ratelimit.Config{Window: time.Second + time.Microsecond}, wantErr: []string{"whole number of milliseconds"}},
		{name: "reserve eats a tiny limit", cfg: ratelimit.Config{DefaultLimit: 1, Reserve: 0.9}, wantErr: []string{"leaves nothing of DefaultLimit 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestRetryErrorHelpers(t *testing.T) {
	t.Parallel()
	re := &ratelimit.RetryError{Key: "acct", RetryIn: 1500 * time.Millisecond, Reason: ratelimit.ReasonBurst, Priority: ratelimit.Critical}
	tests := []struct {
		name    string
		err     error
		wantIs  bool
		wantIn  time.Duration
		wantMsg string
	}{
		{name: "bare", err: re, wantIs: true, wantIn: 1500 * time.Millisecond, wantMsg: `ratelimit: critical budget "acct": burst budget spent, retry in 1.5s`},
		{name: "wrapped", err: fmt.Errorf("jobs: create user: %w", re), wantIs: true, wantIn: 1500 * time.Millisecond},
		{name: "joined", err: errors.Join(errors.New("x"), re), wantIs: true, wantIn: 1500 * time.Millisecond},
		{name: "other error", err: ratelimit.ErrUnavailable},
		{name: "nil", err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.wantIs, ratelimit.IsRetry(tt.err))
			in, ok := ratelimit.RetryIn(tt.err)
			require.Equal(t, tt.wantIs, ok)
			require.Equal(t, tt.wantIn, in)
			if tt.wantMsg != "" {
				require.EqualError(t, tt.err, tt.wantMsg)
			}
		})
	}
}

func TestLimitKindString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "hourly", ratelimit.Hourly.String())
	require.Equal(t, "burst", ratelimit.Burst.String())
	require.Equal(t, "LimitKind(9)", ratelimit.LimitKind(9).String())
	require.Equal(t, "Priority(4)", ratelimit.Priority(4).String())
}
