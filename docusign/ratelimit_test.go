package docusign

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 5, 40, 0, 0, time.UTC)
	tests := []struct {
		name    string
		headers map[string]string
		want    RateLimit
	}{
		{name: "all headers", headers: map[string]string{
			HeaderRateLimitLimit: "3000", HeaderRateLimitRemaining: "2999", HeaderRateLimitReset: "1773122400",
			HeaderBurstLimitLimit: "500", HeaderBurstLimitRemaining: "498"},
			want: RateLimit{Limit: 3000, Remaining: 2999, Reset: time.Unix(1773122400, 0), BurstLimit: 500, BurstRemaining: 498,
				HasHourly: true, HasBurst: true}},
		{name: "none (Admin API)", headers: map[string]string{}, want: RateLimit{}},
		{name: "reset as seconds from now", headers: map[string]string{HeaderRateLimitReset: "1200"},
			want: RateLimit{Reset: now.Add(20 * time.Minute)}},
		{name: "reset zero is now", headers: map[string]string{HeaderRateLimitReset: "0"}, want: RateLimit{Reset: now}},
		{name: "reset garbage", headers: map[string]string{HeaderRateLimitReset: "soon"}, want: RateLimit{}},
		{name: "reset negative", headers: map[string]string{HeaderRateLimitReset: "-5"}, want: RateLimit{}},
		{name: "reset in milliseconds is ignored", headers: map[string]string{HeaderRateLimitReset: "1773122400000"}, want: RateLimit{}},
		{name: "reset float is ignored", headers: map[string]string{HeaderRateLimitReset: "1773122400.5"}, want: RateLimit{}},
		{name: "limit without remaining", headers: map[string]string{HeaderRateLimitLimit: "3000"}, want: RateLimit{}},
		{name: "negative remaining", headers: map[string]string{HeaderRateLimitLimit: "3000", HeaderRateLimitRemaining: "-1"}, want: RateLimit{}},
		{name: "remaining above limit kept as sent", headers: map[string]string{HeaderRateLimitLimit: "10", HeaderRateLimitRemaining: "50"},
			want: RateLimit{Limit: 10, Remaining: 50, HasHourly: true}},
		{name: "whitespace", headers: map[string]string{HeaderBurstLimitLimit: " 200 ", HeaderBurstLimitRemaining: "0"},
			want: RateLimit{BurstLimit: 200, BurstRemaining: 0, HasBurst: true}},
		{name: "overflow", headers: map[string]string{HeaderRateLimitLimit: "99999999999999999999999", HeaderRateLimitRemaining: "1"},
			want: RateLimit{}},
		{name: "huge but int64", headers: map[string]string{HeaderBurstLimitLimit: "9000000000000000000", HeaderBurstLimitRemaining: "1"},
			want: RateLimit{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			got := ParseRateLimit(h, now)
			require.True(t, tt.want.Reset.Equal(got.Reset), "reset %v != %v", tt.want.Reset, got.Reset)
			got.Reset, tt.want.Reset = time.Time{}, time.Time{}
			require.Equal(t, tt.want, got)
		})
	}
	require.Equal(t, RateLimit{}, ParseRateLimit(nil, now))
}

func FuzzParseRateLimit(f *testing.F) {
	f.Add("3000", "2999", "1773122400", "500", "499")
	f.Add("", "", "", "", "")
	f.Add("10", "50", "60", "-1", "x")
	f.Add("1e3", "+5", "999999999", "0", "0")
	f.Add("9223372036854775807", "9223372036854775808", "100000000001", " 7 ", "\x00")
	now := time.Date(2026, 3, 10, 5, 40, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, limit, remaining, reset, burst, burstRemaining string) {
		h := http.Header{}
		h.Set(HeaderRateLimitLimit, limit)
		h.Set(HeaderRateLimitRemaining, remaining)
		h.Set(HeaderRateLimitReset, reset)
		h.Set(HeaderBurstLimitLimit, burst)
		h.Set(HeaderBurstLimitRemaining, burstRemaining)
		rl := ParseRateLimit(h, now)
		if rl.HasHourly {
			require.GreaterOrEqual(t, rl.Limit, 0)
			require.GreaterOrEqual(t, rl.Remaining, 0)
		} else {
			require.Zero(t, rl.Limit)
			require.Zero(t, rl.Remaining)
		}
		if rl.HasBurst {
			require.GreaterOrEqual(t, rl.BurstLimit, 0)
			require.GreaterOrEqual(t, rl.BurstRemaining, 0)
		} else {
			require.Zero(t, rl.BurstLimit)
			require.Zero(t, rl.BurstRemaining)
		}
		if !rl.Reset.IsZero() {
			d := rl.Reset.Sub(now)
			relative := d >= 0 && d < relativeResetBelow*time.Second
			absolute := rl.Reset.Unix() >= relativeResetBelow && rl.Reset.Unix() <= maxResetUnix
			require.True(t, relative || absolute, "reset %v", rl.Reset)
		}
		// Parsing is deterministic.
		require.Equal(t, rl, ParseRateLimit(h, now))
	})
}
