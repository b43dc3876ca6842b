package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Outcomes of a task, as audited, logged and counted.
const (
	OutcomeCreated     = "created"
	OutcomeReactivated = "reactivated"
	OutcomeUpdated     = "updated"
	OutcomeClosed      = "closed"
	OutcomeUnchanged   = "unchanged"
	OutcomeStale       = "stale"
	OutcomeCancelled   = "cancelled"
	// OutcomeFailed is audited only when the task is archived (permanent
	// failure or retry limit reached), never for a failure that is retried.
	OutcomeFailed = "failed"
)

// Audit stream defaults.
const (
	DefaultAuditStream        = "AUDIT"
	DefaultAuditSubjectPrefix = "provisioning"
	DefaultAuditMaxAge        = 90 * 24 * time.Hour
	// DefaultAuditDuplicates is the stream's dedup window: a retried task
	// republishing its audit event within it is dropped by JetStream.
	DefaultAuditDuplicates = time.Hour
	// DefaultAuditSource is the CloudEvents source of audit events.
	DefaultAuditSource = "docusign-worker"
)

// AuditPublisher publishes audit events; jetstream.JetStream implements it.
// The handlers pass jetstream.WithMsgID(TaskID + "." + outcome).
type AuditPublisher interface {
	Publish(ctx context.Context, subject string, payload []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// StreamCreator creates or updates a stream; jetstream.JetStream implements
// it.
type StreamCreator interface {
	CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error)
}

// AuditStreamConfig configures EnsureAuditStream. Zero values mean the
// defaults.
type AuditStreamConfig struct {
	// Name is the stream name (default DefaultAuditStream).
	Name string
	// SubjectPrefix is the subject prefix (default
	// DefaultAuditSubjectPrefix); the stream holds SubjectPrefix + ".>".
	SubjectPrefix string
	// MaxAge is how long records are kept (default DefaultAuditMaxAge).
	MaxAge time.Duration
	// Duplicates is the Nats-Msg-Id dedup window (default
	// DefaultAuditDuplicates, at most MaxAge).
	Duplicates time.Duration
	// Replicas is the number of replicas (default 1).
	Replicas int
}

// EnsureAuditStream creates the audit stream or updates it to cfg: file
// storage, limits retention, subjects SubjectPrefix.>.
func EnsureAuditStream(ctx context.Context, js StreamCreator, cfg AuditStreamConfig) (jetstream.Stream, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultAuditStream
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = DefaultAuditSubjectPrefix
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultAuditMaxAge
	}
	if cfg.Duplicates <= 0 {
		cfg.Duplicates = DefaultAuditDuplicates
	}
	cfg.Duplicates = min(cfg.Duplicates, cfg.MaxAge)
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Name,
		Description: "DocuSign provisioning outcomes (provisioning.* CloudEvents)",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.MaxAge,
		Duplicates:  cfg.Duplicates,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: create or update audit stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// AuditEvent is a provisioning.* CloudEvent (structured JSON mode).
type AuditEvent struct {
	SpecVersion     string    `json:"specversion"`
	Type            string    `json:"type"`
	Source          string    `json:"source"`
	ID              string    `json:"id"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            AuditData `json:"data"`
}

// AuditData is the data of an AuditEvent. Before and After may hold the
// employee's email: the audit stream is the record of who got access and is
// access-controlled like HR data, while logs carry emails only at debug.
type AuditData struct {
	Outcome string `json:"outcome"`
	// Surface is the DocuSign surface used.
	Surface Surface `json:"surface,omitempty"`
	// Event is the causing HR event.
	Event AuditEventRef `json:"event"`
	// Task is the asynq task.
	Task AuditTaskRef `json:"task"`
	// Before and After picture the user (After: as requested of DocuSign).
	Before *UserSummary `json:"before,omitempty"`
	After  *UserSummary `json:"after,omitempty"`
	// Accounts are the accounts changed (created, reactivated, updated or
	// closed).
	Accounts []string `json:"accounts,omitempty"`
	// Watermark is the newer event that made this one stale.
	Watermark *Watermark `json:"watermark,omitempty"`
	// Reason is a failure's reason code, or says why nothing was done;
	// Error is a failure's error text.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// DocuSignErrorCode is the last DocuSign error code of a failure.
	DocuSignErrorCode string `json:"docusign_error_code,omitempty"`
	// TraceTokens are the X-DocuSign-TraceToken values of the calls made.
	TraceTokens []string `json:"trace_tokens,omitempty"`
	// Calls lists the DocuSign calls made by this attempt.
	Calls []CallRecord `json:"calls"`
	// Rules is what the mapping rules decided (absent without rules).
	Rules *AuditRules `json:"rules,omitempty"`
	// Settings lists the accounts whose user settings were written (one
	// eSignature Users:update each, on either surface).
	Settings []string `json:"settings,omitempty"`
	// Shadow marks a shadow run: Planned lists the writes it would have sent
	// (none was).
	Shadow  bool          `json:"shadow,omitempty"`
	Planned []PlannedCall `json:"planned,omitempty"`
}

// AuditRules is the mapping rules' decision for the task.
type AuditRules struct {
	// Version identifies the rules file (its SHA-256).
	Version     string   `json:"version"`
	InScope     bool     `json:"in_scope"`
	ScopeReason string   `json:"scope_reason,omitempty"`
	Matched     []string `json:"matched,omitempty"`
}

// AuditEventRef identifies the causing HR event.
type AuditEventRef struct {
	ID          string    `json:"id"`
	Source      string    `json:"source"`
	Type        string    `json:"type"`
	Time        time.Time `json:"time"`
	EffectiveAt time.Time `json:"effective_at,omitzero"`
}

// AuditTaskRef identifies the task.
type AuditTaskRef struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Queue   string `json:"queue"`
	Retried int    `json:"retried"`
}

// AuditMsgID is the Nats-Msg-Id (and CloudEvents id) of a task's audit
// event for an outcome: a retried task publishing the same outcome again is
// deduplicated by the stream.
func AuditMsgID(taskID, outcome string) string { return taskID + "." + outcome }

// auditor publishes audit events.
type auditor struct {
	pub     AuditPublisher
	prefix  string
	source  string
	timeout time.Duration
	// shadow gives a shadow run's events ids of their own, so that the live
	// run of the same tasks later is not deduplicated against them.
	shadow bool
}

// subject is the subject of an outcome's audit events.
func (a auditor) subject(outcome string) string { return a.prefix + "." + outcome }

// publish sends ev with its id as Nats-Msg-Id. A duplicate (already
// published by an earlier attempt) is success.
func (a auditor) publish(ctx context.Context, ev AuditEvent) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("jobs: encode audit event: %w", err)
	}
	return a.publishRaw(ctx, ev.Data.Outcome, ev.ID, raw)
}

func (a auditor) publishRaw(ctx context.Context, outcome, id string, raw []byte) error {
	callCtx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if _, err := a.pub.Publish(callCtx, a.subject(outcome), raw, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("jobs: publish %s audit event: %w", outcome, err)
	}
	return nil
}

// msgID is the audit event's id and Nats-Msg-Id: AuditMsgID, prefixed with
// "shadow." in shadow mode.
func (a auditor) msgID(taskID, outcome string) string {
	if a.shadow {
		return "shadow." + AuditMsgID(taskID, outcome)
	}
	return AuditMsgID(taskID, outcome)
}

// event builds the audit event of an outcome.
func (a auditor) event(outcome string, p Payload, task AuditTaskRef, now time.Time, data AuditData) AuditEvent {
	data.Outcome = outcome
	data.Event = AuditEventRef{ID: p.EventID, Source: p.EventSource, Type: p.EventType, Time: p.EventTime,
		EffectiveAt: p.EffectiveAt}
	data.Task = task
	if data.Calls == nil {
		data.Calls = []CallRecord{}
	}
	for _, c := range data.Calls {
		if c.TraceToken != "" {
			data.TraceTokens = append(data.TraceTokens, c.TraceToken)
		}
	}
	return AuditEvent{
		SpecVersion:     "1.0",
		Type:            a.subject(outcome),
		Source:          a.source,
		ID:              a.msgID(task.ID, outcome),
		Subject:         p.Employee.EmployeeID,
		Time:            now.UTC(),
		DataContentType: "application/json",
		Data:            data,
	}
}

// pendingRecord is an audit event saved between the DocuSign writes and its
// publication, so a retry after a failed publish publishes the same outcome
// (not "unchanged") and then records the watermark.
type pendingRecord struct {
	Event     json.RawMessage `json:"event"`
	Outcome   string          `json:"outcome"`
	ID        string          `json:"id"`
	Watermark Watermark       `json:"watermark"`
	// Identity is the identity map entry to write (nil: none).
	Identity *Identity `json:"identity,omitempty"`
}

func decodePending(raw []byte) (pendingRecord, error) {
	var r pendingRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("jobs: decode pending audit record: %w", err)
	}
	if r.Outcome == "" || r.ID == "" || len(r.Event) == 0 {
		return r, errors.New("jobs: pending audit record is incomplete")
	}
	return r, nil
}
