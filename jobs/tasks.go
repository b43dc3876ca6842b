package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types, in asynq's domain:verb form. They are part of the contract with
// operators (dashboard, CLI) and must not change.
const (
	// TypeUserCreate converges an employee to "user exists, active, with
	// these memberships" (joiners and rehires).
	TypeUserCreate = "docusign:user:create"
	// TypeMembershipSet converges memberships, names and title (movers). An
	// update for an unknown user creates it.
	TypeMembershipSet = "docusign:membership:set"
	// TypeUserClose closes the memberships in the named, or all managed,
	// accounts (leavers).
	TypeUserClose = "docusign:user:close"
)

// Queue names. Leavers go to QueueCritical so that access is revoked first
// when the DocuSign budget is scarce.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// ShadowQueuePrefix starts the queue names of a worker in shadow mode
// (shadow-critical, shadow-default, shadow-low), so that its tasks, and
// their TaskIDs, never mix with a live worker's.
const ShadowQueuePrefix = "shadow-"

// DefaultRetention is how long a completed task is kept, so that its TaskID
// keeps deduplicating redelivered and re-published events.
const DefaultRetention = 7 * 24 * time.Hour

// Membership is the desired state of one account membership. The permission
// profile and groups are named either by name or by id, in separate fields;
// names are resolved per account.
type Membership struct {
	AccountID           string   `json:"account_id"`
	PermissionProfile   string   `json:"permission_profile,omitempty"`
	PermissionProfileID string   `json:"permission_profile_id,omitempty"`
	Groups              []string `json:"groups,omitempty"`
	GroupIDs            []string `json:"group_ids,omitempty"`
	// Settings are eSignature user settings (v2.1 names, string values) from
	// the mapping rules; events do not carry them.
	Settings map[string]string `json:"settings,omitempty"`
}

// Employee is the employee's current record as HR sent it.
type Employee struct {
	EmployeeID string `json:"employee_id"`
	Email      string `json:"email,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	JobTitle   string `json:"job_title,omitempty"`
	Department string `json:"department,omitempty"`
	Company    string `json:"company,omitempty"`
	Language   string `json:"language,omitempty"`
	// Location, EmploymentType, CostCenter and Attributes are what the
	// mapping rules match on, besides department, job title and company.
	Location       string            `json:"location,omitempty"`
	EmploymentType string            `json:"employment_type,omitempty"`
	CostCenter     string            `json:"cost_center,omitempty"`
	Attributes     map[string]string `json:"attributes,omitempty"`
}

// Payload is the payload of every task type. It carries the causing event's
// identity (for ordering, audit and cancellation) and the desired state.
type Payload struct {
	EventSource string    `json:"event_source"`
	EventID     string    `json:"event_id"`
	EventType   string    `json:"event_type"`
	EventTime   time.Time `json:"event_time"`
	// EffectiveAt is when the change takes effect; zero means EventTime.
	EffectiveAt time.Time    `json:"effective_at,omitzero"`
	Employee    Employee     `json:"employee"`
	Accounts    []Membership `json:"accounts,omitempty"`
	// Replays counts how often the task was replayed from a dead letter
	// (cmd/enqueue dead replay); dead-letter records are keyed by TaskID and
	// Replays.
	Replays int `json:"replays,omitempty"`
}

// Effective returns the time by which events of one employee are ordered:
// EffectiveAt when set, else EventTime.
func (p Payload) Effective() time.Time {
	if !p.EffectiveAt.IsZero() {
		return p.EffectiveAt
	}
	return p.EventTime
}

// Validate reports every problem with the payload at once. Accounts may be
// empty: the mapping rules then decide them (a handler without rules refuses
// a create or membership task without accounts).
func (p Payload) Validate(taskType string) error {
	var errs []error
	if p.EventSource == "" {
		errs = append(errs, errors.New("event_source is empty"))
	}
	if p.EventID == "" {
		errs = append(errs, errors.New("event_id is empty"))
	}
	if p.Employee.EmployeeID == "" {
		errs = append(errs, errors.New("employee.employee_id is empty"))
	}
	if taskType != TypeUserClose && p.Employee.Email == "" {
		errs = append(errs, errors.New("employee.email is empty"))
	}
	for i, m := range p.Accounts {
		if m.AccountID == "" {
			errs = append(errs, fmt.Errorf("accounts[%d].account_id is empty", i))
		}
		if m.PermissionProfile != "" && m.PermissionProfileID != "" {
			errs = append(errs, fmt.Errorf("accounts[%d]: set permission_profile or permission_profile_id, not both", i))
		}
	}
	return errors.Join(errs...)
}

// TaskID returns the deterministic task id of an event's task: the hex
// SHA-256 of source, id and task type separated by NUL bytes. Hex keeps it
// free of '-', which asynqmon's UI would cut.
func TaskID(source, id, taskType string) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(taskType))
	return hex.EncodeToString(h.Sum(nil))
}

// QueueFor returns the queue a task type runs on.
func QueueFor(taskType string) string {
	if taskType == TypeUserClose {
		return QueueCritical
	}
	return QueueDefault
}

// TaskOptions configures NewTask.
type TaskOptions struct {
	// Retention keeps the completed task (and so its TaskID); default DefaultRetention.
	Retention time.Duration
	// MaxRetry is asynq's MaxRetry: MaxRetryFor(the worker's retry limit),
	// one above the limit, which RetryLimitMiddleware enforces (asynq
	// archives at Retried >= MaxRetry before consulting IsFailure). Default
	// MaxRetryFor(DefaultRetryLimit).
	MaxRetry int
	// Queue overrides QueueFor (e.g. QueueLow for a backfill).
	Queue string
	// QueuePrefix, when Queue is empty, is put before QueueFor's name
	// (ShadowQueuePrefix in shadow mode).
	QueuePrefix string
	// Now is used to decide whether EffectiveAt is in the future; default time.Now.
	Now func() time.Time
}

// NewTask builds the task of type taskType for payload p, with its
// deterministic TaskID, queue and retention. An EffectiveAt in the future
// schedules the task for then.
func NewTask(taskType string, p Payload, o TaskOptions) (*asynq.Task, error) {
	switch taskType {
	case TypeUserCreate, TypeMembershipSet, TypeUserClose:
	default:
		return nil, fmt.Errorf("jobs: unknown task type %q", taskType)
	}
	if err := p.Validate(taskType); err != nil {
		return nil, fmt.Errorf("jobs: invalid %s payload: %w", taskType, err)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("jobs: encode payload: %w", err)
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Queue == "" {
		o.Queue = o.QueuePrefix + QueueFor(taskType)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	opts := []asynq.Option{
		asynq.TaskID(TaskID(p.EventSource, p.EventID, taskType)),
		asynq.Queue(o.Queue),
		asynq.Retention(o.Retention),
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = MaxRetryFor(DefaultRetryLimit)
	}
	opts = append(opts, asynq.MaxRetry(o.MaxRetry))
	if !p.EffectiveAt.IsZero() && p.EffectiveAt.After(now()) {
		opts = append(opts, asynq.ProcessAt(p.EffectiveAt))
	}
	return asynq.NewTask(taskType, body, opts...), nil
}

// DecodePayload decodes and validates a task's payload.
func DecodePayload(t *asynq.Task) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return Payload{}, fmt.Errorf("jobs: decode %s payload: %w", t.Type(), err)
	}
	if err := p.Validate(t.Type()); err != nil {
		return Payload{}, fmt.Errorf("jobs: invalid %s payload: %w", t.Type(), err)
	}
	return p, nil
}
