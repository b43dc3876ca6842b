package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func getReady(t *testing.T, h http.Handler) (int, readyReply) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/readyz", nil))
	var reply readyReply
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &reply))
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	return rec.Code, reply
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock(time.Unix(1_800_000_000, 0))
	var redisErr, docusignErr atomic.Value
	redisErr.Store(errNone{})
	docusignErr.Store(errNone{})
	var docusignCalls atomic.Int32
	rd := &readiness{now: clock.Now, checks: []*readyCheck{
		{name: "redis", check: func(context.Context) error { return redisErr.Load().(errNone).err }},
		{name: "docusign", ttl: 15 * time.Second, check: func(context.Context) error {
			docusignCalls.Add(1)
			return docusignErr.Load().(errNone).err
		}},
	}}
	h := newHTTPHandler(rd, prometheus.NewRegistry())

	code, reply := getReady(t, h)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ready", reply.Status)
	require.True(t, reply.Checks["redis"].OK)
	require.True(t, reply.Checks["docusign"].OK)
	require.False(t, reply.Checks["docusign"].Cached)

	// A failing dependency: 503, and the failing check says why.
	redisErr.Store(errNone{errors.New("dial tcp 127.0.0.1:6379: connection refused")})
	code, reply = getReady(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "not ready", reply.Status)
	require.False(t, reply.Checks["redis"].OK)
	require.Contains(t, reply.Checks["redis"].Error, "connection refused")
	require.True(t, reply.Checks["docusign"].Cached, "the DocuSign check is reused within its TTL")
	require.Equal(t, int32(1), docusignCalls.Load())
	redisErr.Store(errNone{})

	// The DocuSign failure shows once the cached result expires; the failure is cached too.
	docusignErr.Store(errNone{errors.New("docusign: consent_required")})
	code, _ = getReady(t, h)
	require.Equal(t, http.StatusOK, code, "still the cached success")
	clock.Advance(16 * time.Second)
	code, reply = getReady(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "docusign: consent_required", reply.Checks["docusign"].Error)
	require.Equal(t, int32(2), docusignCalls.Load())
	code, _ = getReady(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, int32(2), docusignCalls.Load(), "probes do not hammer the token endpoint while it fails")

	// Concurrent probes share one DocuSign check.
	docusignErr.Store(errNone{})
	clock.Advance(16 * time.Second)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/readyz", nil))
		})
	}
	wg.Wait()
	require.Equal(t, int32(3), docusignCalls.Load())

	// Shutting down: not ready, without running the checks.
	rd.stopping.Store(true)
	code, reply = getReady(t, h)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "shutting down", reply.Status)
	require.Empty(t, reply.Checks)

	// Liveness does not depend on anything.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
}

// errNone boxes an error (nil included) for atomic.Value.
type errNone struct{ err error }

func TestReadyCheckTimeout(t *testing.T) {
	t.Parallel()
	c := &readyCheck{name: "slow", check: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	start := time.Now()
	r := c.run(t.Context(), time.Now)
	require.False(t, r.OK)
	require.Contains(t, r.Error, "deadline exceeded")
	require.Less(t, time.Since(start), readyCheckTimeout+time.Second)
}
