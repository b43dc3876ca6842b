package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/jml-sync/docusign-worker/jobs"
)

// CloudEvents types of the HR event contract (design.md §2).
const (
	// TypeJoined is a joiner (or rehire): the employee's full record.
	TypeJoined = "hr.employee.joined"
	// TypeUpdated is a mover: the employee's full record.
	TypeUpdated = "hr.employee.updated"
	// TypeLeft is a leaver: close the named, or all managed, accounts.
	TypeLeft = "hr.employee.left"
	// TypeCancelled cancels an event of the same source not yet applied,
	// named by data.cancels.
	TypeCancelled = "hr.employee.cancelled"
)

// SpecVersion is the only CloudEvents version accepted.
const SpecVersion = "1.0"

// ContentTypeStructured is the content type of a structured-mode event.
const ContentTypeStructured = "application/cloudevents+json"

// PublishMsgID is the Nats-Msg-Id an HR event is published with: derived
// from its source and id, so an event sent twice is stored once within the
// stream's duplicates window (after it, the worker's TaskIDs still
// deduplicate).
func PublishMsgID(source, id string) string {
	sum := sha256.Sum256([]byte(source + "\x00" + id))
	return "hr:" + hex.EncodeToString(sum[:16])
}

// Event is a decoded and validated HR event.
type Event struct {
	// ID is unique per Source; Source+ID is the deduplication key.
	ID     string
	Source string
	// Type is one of TypeJoined, TypeUpdated, TypeLeft, TypeCancelled.
	Type string
	// Subject is the HR employee id; it equals Data.EmployeeID.
	Subject string
	// Time is when HR recorded the change, in UTC.
	Time time.Time
	// DataContentType is the datacontenttype attribute, if any.
	DataContentType string
	// Data is the event's data.
	Data Data
}

// Data is the data of an HR event. Joined and updated events carry the
// employee's full current record.
type Data struct {
	EmployeeID     string `json:"employee_id"`
	Email          string `json:"email,omitempty"`
	FirstName      string `json:"first_name,omitempty"`
	LastName       string `json:"last_name,omitempty"`
	JobTitle       string `json:"job_title,omitempty"`
	Department     string `json:"department,omitempty"`
	Company        string `json:"company,omitempty"`
	Language       string `json:"language,omitempty"`
	Location       string `json:"location,omitempty"`
	EmploymentType string `json:"employment_type,omitempty"`
	CostCenter     string `json:"cost_center,omitempty"`
	// Attributes are further HR attributes for the mapping rules.
	Attributes map[string]string `json:"attributes,omitempty"`
	// EffectiveAt is when the change takes effect (UTC); zero means Time.
	EffectiveAt time.Time `json:"effective_at,omitzero"`
	// Accounts are the desired memberships; absent on a leaver means every
	// managed account.
	Accounts []jobs.Membership `json:"accounts,omitempty"`
	// Cancels is, for TypeCancelled, the id of the event to cancel.
	Cancels string `json:"cancels,omitempty"`
}

// structured is the structured-mode JSON form of an event.
type structured struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// Encode returns the event in CloudEvents structured JSON mode, the body of
// a message with Content-Type [ContentTypeStructured].
func (e *Event) Encode() ([]byte, error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("events: encode data: %w", err)
	}
	b, err := json.Marshal(structured{
		SpecVersion:     SpecVersion,
		ID:              e.ID,
		Source:          e.Source,
		Type:            e.Type,
		Subject:         e.Subject,
		Time:            e.Time,
		DataContentType: e.DataContentType,
		Data:            data,
	})
	if err != nil {
		return nil, fmt.Errorf("events: encode event: %w", err)
	}
	return b, nil
}

// TaskType returns the asynq task type the event maps to: joined →
// jobs.TypeUserCreate, updated → jobs.TypeMembershipSet, left →
// jobs.TypeUserClose. A cancellation maps to no task ("").
func (e *Event) TaskType() string {
	return taskTypeFor(e.Type)
}

func taskTypeFor(eventType string) string {
	switch eventType {
	case TypeJoined:
		return jobs.TypeUserCreate
	case TypeUpdated:
		return jobs.TypeMembershipSet
	case TypeLeft:
		return jobs.TypeUserClose
	default:
		return ""
	}
}

// Payload returns the task payload of the event.
func (e *Event) Payload() jobs.Payload {
	return jobs.Payload{
		EventSource: e.Source,
		EventID:     e.ID,
		EventType:   e.Type,
		EventTime:   e.Time,
		EffectiveAt: e.Data.EffectiveAt,
		Employee: jobs.Employee{
			EmployeeID:     e.Data.EmployeeID,
			Email:          e.Data.Email,
			FirstName:      e.Data.FirstName,
			LastName:       e.Data.LastName,
			JobTitle:       e.Data.JobTitle,
			Department:     e.Data.Department,
			Company:        e.Data.Company,
			Language:       e.Data.Language,
			Location:       e.Data.Location,
			EmploymentType: e.Data.EmploymentType,
			CostCenter:     e.Data.CostCenter,
			Attributes:     e.Data.Attributes,
		},
		Accounts: e.Data.Accounts,
	}
}

// Task builds the event's asynq task with jobs.NewTask (deterministic TaskID,
// queue, retention, ProcessAt for a future effective time). A cancellation
// has no task.
func (e *Event) Task(o jobs.TaskOptions) (*asynq.Task, error) {
	tt := e.TaskType()
	if tt == "" {
		return nil, fmt.Errorf("events: event type %q has no task", e.Type)
	}
	t, err := jobs.NewTask(tt, e.Payload(), o)
	if err != nil {
		return nil, fmt.Errorf("events: build task: %w", err)
	}
	return t, nil
}
