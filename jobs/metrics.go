package jobs

import "time"

// Metrics receives the handlers' and the hook's counters. The worker binary
// adapts it to Prometheus; NopMetrics discards everything. Implementations
// must be safe for concurrent use.
type Metrics interface {
	// TaskFinished counts one handler run by task type, queue and result:
	// an outcome (created, reactivated, updated, closed, unchanged, stale,
	// cancelled), or rate_limited, lease_taken, integration_paused, retry
	// (transient failure) or failed (archived).
	TaskFinished(taskType, queue, result string)
	// StaleSkipped counts an event skipped because a newer one was applied.
	StaleSkipped(taskType string)
	// DocuSignCall counts a DocuSign request by API, operation and HTTP status
	// (0: no reply).
	DocuSignCall(api, operation string, status int)
	// IntegrationPaused counts a queue paused because the integration is
	// unusable (the alert condition).
	IntegrationPaused(queue string)
	// TimeToApply observes, for a task that changed DocuSign, the time from
	// the HR event's effective time (effective_at, else time) to DocuSign's
	// success: kind is "provision" (created, reactivated, updated) or
	// "revoke" (closed).
	TimeToApply(kind string, d time.Duration)
}

// NopMetrics is a Metrics that does nothing.
type NopMetrics struct{}

// TaskFinished does nothing.
func (NopMetrics) TaskFinished(string, string, string) {}

// StaleSkipped does nothing.
func (NopMetrics) StaleSkipped(string) {}

// DocuSignCall does nothing.
func (NopMetrics) DocuSignCall(string, string, int) {}

// IntegrationPaused does nothing.
func (NopMetrics) IntegrationPaused(string) {}

// TimeToApply does nothing.
func (NopMetrics) TimeToApply(string, time.Duration) {}
