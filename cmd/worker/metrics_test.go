package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// gathered returns the value of the series of family name with exactly these label values.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) || !hasLabels(m, labels) {
				continue
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func TestJobsMetrics(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	m.TaskFinished(jobs.TypeUserCreate, jobs.QueueDefault, jobs.OutcomeCreated)
	m.TaskFinished(jobs.TypeUserCreate, jobs.QueueDefault, jobs.OutcomeCreated)
	m.TaskFinished(jobs.TypeUserClose, jobs.QueueCritical, "rate_limited")
	m.StaleSkipped(jobs.TypeMembershipSet)
	m.DocuSignCall("admin", "OrganizationUser_Users_AddV2", 201)
	m.IntegrationPaused(jobs.QueueCritical)

	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"docusign_worker_jobs_total", map[string]string{"task_type": jobs.TypeUserCreate, "queue": "default", "result": "created"}, 2},
		{"docusign_worker_jobs_total", map[string]string{"task_type": jobs.TypeUserClose, "queue": "critical", "result": "rate_limited"}, 1},
		{"docusign_worker_jobs_stale_total", map[string]string{"task_type": jobs.TypeMembershipSet}, 1},
		{"docusign_worker_docusign_requests_total", map[string]string{"api": "admin", "operation": "OrganizationUser_Users_AddV2", "status": "201"}, 1},
		{"docusign_worker_integration_paused_total", map[string]string{"queue": "critical"}, 1},
	} {
		got, ok := gathered(t, m.reg, tt.name, tt.labels)
		require.True(t, ok, "%s%v", tt.name, tt.labels)
		require.Equal(t, tt.want, got, "%s%v", tt.name, tt.labels)
	}
}

// recHook records what the timing hook passes on.
type recHook struct {
	before, after int
	err           error
}

func (h *recHook) BeforeRequest(context.Context, docusign.RequestInfo) error {
	h.before++
	return h.err
}

func (h *recHook) AfterResponse(context.Context, docusign.RequestInfo, docusign.ResponseInfo) {
	h.after++
}

func TestTimingHook(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	inner := &recHook{}
	h := timingHook{inner: inner, latency: m.docusignLatency}
	req := docusign.RequestInfo{API: docusign.APIESignature, Operation: "Users_PostUsers", AccountID: "a"}
	require.NoError(t, h.BeforeRequest(t.Context(), req))
	h.AfterResponse(t.Context(), req, docusign.ResponseInfo{StatusCode: 201, Duration: 300 * time.Millisecond})
	require.Equal(t, 1, inner.before)
	require.Equal(t, 1, inner.after)
	n, ok := gathered(t, m.reg, "docusign_worker_docusign_request_duration_seconds",
		map[string]string{"api": "esignature", "operation": "Users_PostUsers"})
	require.True(t, ok)
	require.Equal(t, 1.0, n)

	// A refused token (the limiter's error) is passed through unchanged.
	refused := &ratelimit.RetryError{Key: "a", RetryIn: time.Second}
	inner.err = refused
	require.ErrorIs(t, h.BeforeRequest(t.Context(), req), refused)
}

func TestIntakeCollector(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	stats := events.Stats{
		Received:     map[string]uint64{events.TypeJoined: 5, events.TypeLeft: 2, events.ReceivedInvalid: 1},
		Enqueued:     6,
		Duplicates:   1,
		DeadLettered: map[events.Reason]uint64{events.ReasonBadJSON: 1},
		Naked:        3,
		Pauses:       1,
		Paused:       true,
	}
	reg.MustRegister(newIntakeCollector(func() events.Stats { return stats }))
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"docusign_worker_events_received_total", map[string]string{"type": events.TypeJoined}, 5},
		{"docusign_worker_events_received_total", map[string]string{"type": "invalid"}, 1},
		{"docusign_worker_events_enqueued_total", nil, 6},
		{"docusign_worker_events_duplicates_total", nil, 1},
		{"docusign_worker_events_dead_lettered_total", map[string]string{"reason": "bad_json"}, 1},
		{"docusign_worker_events_dead_lettered_total", map[string]string{"reason": "oversized"}, 0},
		{"docusign_worker_events_naked_total", nil, 3},
		{"docusign_worker_events_intake_pauses_total", nil, 1},
		{"docusign_worker_events_intake_paused", nil, 1},
	} {
		got, ok := gathered(t, reg, tt.name, tt.labels)
		require.True(t, ok, "%s%v", tt.name, tt.labels)
		require.Equal(t, tt.want, got, "%s%v", tt.name, tt.labels)
	}
	// Every dead-letter reason is exported, so that rate() works from the first one.
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() == "docusign_worker_events_dead_lettered_total" {
			require.Len(t, f.GetMetric(), len(events.Reasons()))
		}
	}
}

func TestLimiterCollector(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	end := time.Unix(1_800_003_600, 0)
	snap := map[string]ratelimit.Stats{
		"acct-1": {Key: "acct-1", Limit: 3000, Remaining: 2500, Reserve: 300, BurstLimit: 500, BurstRemaining: 480,
			WindowEnd: end, Foreign: 40, Granted: 17, Grants: 17, Attempts: 20, Waits: 2, WaitTotal: 1500 * time.Millisecond,
			Parked: 1, ThrottledBurst: 1},
		"acct-2": {Key: "acct-2", Limit: 1000},
	}
	reg.MustRegister(newLimiterCollector(func() map[string]ratelimit.Stats { return snap }))
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"docusign_worker_ratelimit_remaining", map[string]string{"account": "acct-1"}, 2500},
		{"docusign_worker_ratelimit_limit", map[string]string{"account": "acct-2"}, 1000},
		{"docusign_worker_ratelimit_reserve", map[string]string{"account": "acct-1"}, 300},
		{"docusign_worker_ratelimit_burst_remaining", map[string]string{"account": "acct-1"}, 480},
		{"docusign_worker_ratelimit_foreign_calls", map[string]string{"account": "acct-1"}, 40},
		{"docusign_worker_ratelimit_window_end_timestamp_seconds", map[string]string{"account": "acct-1"}, float64(end.Unix())},
		{"docusign_worker_ratelimit_granted_tokens_total", map[string]string{"account": "acct-1"}, 17},
		{"docusign_worker_ratelimit_waits_total", map[string]string{"account": "acct-1"}, 2},
		{"docusign_worker_ratelimit_wait_seconds_total", map[string]string{"account": "acct-1"}, 1.5},
		{"docusign_worker_ratelimit_parked_total", map[string]string{"account": "acct-1"}, 1},
		{"docusign_worker_ratelimit_throttled_total", map[string]string{"account": "acct-1", "limit": "burst"}, 1},
		{"docusign_worker_ratelimit_throttled_total", map[string]string{"account": "acct-1", "limit": "hourly"}, 0},
	} {
		got, ok := gathered(t, reg, tt.name, tt.labels)
		require.True(t, ok, "%s%v", tt.name, tt.labels)
		require.Equal(t, tt.want, got, "%s%v", tt.name, tt.labels)
	}
	_, ok := gathered(t, reg, "docusign_worker_ratelimit_window_end_timestamp_seconds", map[string]string{"account": "acct-2"})
	require.False(t, ok, "no window end before any reply")
}

// fakeQueues is a queueInfoer.
type fakeQueues struct {
	existing []string
	info     map[string]*asynq.QueueInfo
	err      error
}

func (f fakeQueues) Queues() ([]string, error) { return f.existing, f.err }

func (f fakeQueues) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	if i, ok := f.info[q]; ok {
		return i, nil
	}
	return nil, fmt.Errorf("queue %q does not exist", q)
}

func TestQueueCollector(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(newQueueCollector(fakeQueues{
		existing: []string{"critical", "default"},
		info: map[string]*asynq.QueueInfo{
			"critical": {Queue: "critical", Pending: 2, Active: 1, Archived: 4, Latency: 3 * time.Second, Paused: true},
			"default":  {Queue: "default", Completed: 9},
		},
	}, []string{"critical", "default", "low"}))
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"docusign_worker_queue_tasks", map[string]string{"queue": "critical", "state": "pending"}, 2},
		{"docusign_worker_queue_tasks", map[string]string{"queue": "critical", "state": "archived"}, 4},
		{"docusign_worker_queue_tasks", map[string]string{"queue": "default", "state": "completed"}, 9},
		{"docusign_worker_queue_latency_seconds", map[string]string{"queue": "critical"}, 3},
		{"docusign_worker_queue_paused", map[string]string{"queue": "critical"}, 1},
		{"docusign_worker_queue_paused", map[string]string{"queue": "default"}, 0},
	} {
		got, ok := gathered(t, reg, tt.name, tt.labels)
		require.True(t, ok, "%s%v", tt.name, tt.labels)
		require.Equal(t, tt.want, got, "%s%v", tt.name, tt.labels)
	}
	_, ok := gathered(t, reg, "docusign_worker_queue_paused", map[string]string{"queue": "low"})
	require.False(t, ok, "a queue that does not exist yet is left out")

	// Redis down: the scrape reports the error for these metrics.
	broken := prometheus.NewRegistry()
	broken.MustRegister(newQueueCollector(fakeQueues{err: errors.New("redis: connection refused")}, []string{"critical"}))
	_, err := broken.Gather()
	require.ErrorContains(t, err, "connection refused")
}

func TestWillArchive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		err               error
		retried, maxRetry int
		want              bool
	}{
		{name: "permanent", err: jobs.Permanent(jobs.ReasonUnknownGroup, errors.New("no such group")), maxRetry: 11, want: true},
		{name: "transient with retries left", err: errors.New("503"), retried: 3, maxRetry: 11},
		{name: "transient, retries used up", err: errors.New("503"), retried: 11, maxRetry: 11, want: true},
		{name: "rate limited", err: jobs.RateLimited(time.Minute), retried: 10, maxRetry: 11},
		{name: "revoked", err: asynq.RevokeTask, retried: 11, maxRetry: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, willArchive(tt.err, tt.retried, tt.maxRetry))
		})
	}
}
