package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Reason is the short, stable code of why an event was dead-lettered. It is
// the last token of the dead letter's subject and its Deadletter-Reason
// header.
type Reason string

// Dead-letter reasons.
const (
	// ReasonOversized: the body is larger than Config.MaxEventBytes.
	ReasonOversized Reason = "oversized"
	// ReasonBadJSON: the body (structured mode) or the data (binary mode) is
	// not one JSON value.
	ReasonBadJSON Reason = "bad_json"
	// ReasonSchema: a field has the wrong type or format, or the event
	// otherwise fails the JSON Schema.
	ReasonSchema Reason = "schema"
	// ReasonMissingField: a required attribute or data field is absent.
	ReasonMissingField Reason = "missing_field"
	// ReasonUnknownType: the type is not one of the HR event types.
	ReasonUnknownType Reason = "unknown_type"
	// ReasonSubjectMismatch: subject differs from data.employee_id.
	ReasonSubjectMismatch Reason = "subject_mismatch"
	// ReasonNoAccounts: a joined or updated event without data.accounts, and
	// no rules to derive them ("no accounts and no rules").
	ReasonNoAccounts Reason = "no_accounts"
	// ReasonConflictingFields: an account names its permission profile both
	// by name and by id.
	ReasonConflictingFields Reason = "conflicting_fields"
	// ReasonInvalidCancel: a cancellation names its own id.
	ReasonInvalidCancel Reason = "invalid_cancel"
	// ReasonInvalidTask: the event decoded but its task could not be built.
	ReasonInvalidTask Reason = "invalid_task"
	// ReasonMaxDeliveries: the message was delivered Config.MaxDeliver times
	// without being acknowledged (caught from the server's advisory).
	ReasonMaxDeliveries Reason = "max_deliveries"
)

// Reasons returns every dead-letter reason, for metrics that pre-declare
// their labels.
func Reasons() []Reason {
	return []Reason{
		ReasonOversized, ReasonBadJSON, ReasonSchema, ReasonMissingField,
		ReasonUnknownType, ReasonSubjectMismatch, ReasonNoAccounts,
		ReasonConflictingFields, ReasonInvalidCancel, ReasonInvalidTask,
		ReasonMaxDeliveries,
	}
}

// DecodeError is an event that cannot be accepted. It is never retried: the
// intake dead-letters it with Reason and Message.
type DecodeError struct {
	// Reason is the short stable code.
	Reason Reason
	// Message names the offending fields and the fix. It never contains
	// field values other than ids and the event type.
	Message string
}

// Error implements error.
func (e *DecodeError) Error() string {
	return "events: invalid event (" + string(e.Reason) + "): " + e.Message
}

// ReasonOf returns the reason of a *DecodeError in err's chain.
func ReasonOf(err error) (Reason, bool) {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason, true
	}
	return "", false
}

// DefaultMaxEventBytes is the default limit on an event's body.
const DefaultMaxEventBytes = 64 << 10

// Decoder decodes and validates CloudEvents against the embedded JSON Schema
// ([SchemaJSON]). It is safe for concurrent use.
type Decoder struct {
	schema   *schema
	fast     fastPatterns
	maxBytes int
	// withRules: a rules file maps HR attributes to accounts, so joiners and
	// movers need not carry data.accounts.
	withRules bool
}

// DecoderOption configures NewDecoder.
type DecoderOption func(*Decoder)

// WithRules says a mapping rules file is in force: joined and updated
// events without data.accounts are valid (the rules decide the accounts).
func WithRules() DecoderOption { return func(d *Decoder) { d.withRules = true } }

// NewDecoder returns a decoder that rejects bodies over maxBytes
// (DefaultMaxEventBytes when maxBytes <= 0).
func NewDecoder(maxBytes int, opts ...DecoderOption) (*Decoder, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxEventBytes
	}
	s, err := compileSchema()
	if err != nil {
		return nil, err
	}
	d := &Decoder{schema: s, fast: compileFastPatterns(), maxBytes: maxBytes}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// Decode decodes one NATS message: binary mode when it has a ce-specversion
// header and no CloudEvents content type, else structured mode. Every
// failure is a *DecodeError.
func (d *Decoder) Decode(header nats.Header, body []byte) (*Event, error) {
	if len(body) > d.maxBytes {
		return nil, &DecodeError{Reason: ReasonOversized, Message: fmt.Sprintf(
			"the event is %d bytes, over the limit of %d: trim the record (e.g. attributes) or raise the limit", len(body), d.maxBytes)}
	}
	attrs, binary := binaryAttributes(header)
	ev, ok := d.fastDecode(attrs, binary, body)
	if !ok {
		var err error
		if ev, err = d.slowDecode(attrs, binary, body); err != nil {
			return nil, err
		}
	}
	normalise(ev)
	if err := checkContract(ev, d.withRules); err != nil {
		return nil, err
	}
	return ev, nil
}

// fastDecode handles the common case (see fastpath.go); false means "not
// certainly valid", never "invalid".
func (d *Decoder) fastDecode(attrs map[string]any, binary bool, body []byte) (*Event, bool) {
	tree, ok := fastParse(body)
	if !ok {
		return nil, false
	}
	return d.fast.fast(envelope(attrs, binary, tree))
}

// slowDecode parses with encoding/json, validates against the schema, which
// names every problem, and builds the event.
func (d *Decoder) slowDecode(attrs map[string]any, binary bool, body []byte) (*Event, error) {
	inst, err := unmarshalJSON(body)
	if err != nil {
		where := "the body"
		if binary {
			where = "the data (body of a binary-mode event)"
		}
		return nil, &DecodeError{Reason: ReasonBadJSON, Message: fmt.Sprintf(
			"%s is not one JSON value (%v): publish the event as JSON", where, err)}
	}
	if err := d.schema.validate(envelope(attrs, binary, inst), binary); err != nil {
		return nil, err
	}
	if binary {
		return fromBinary(attrs, body)
	}
	return fromStructured(body)
}

// envelope returns the document the schema describes: the body in
// structured mode, the ce-* attributes plus the body as data in binary mode.
func envelope(attrs map[string]any, binary bool, data any) any {
	if !binary {
		return data
	}
	env := make(map[string]any, len(attrs)+1)
	for k, v := range attrs {
		env[k] = v
	}
	env["data"] = data
	return env
}

// unmarshalJSON parses exactly one JSON value, numbers kept as json.Number
// (as the schema validator expects).
func unmarshalJSON(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("empty")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("more than one value")
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	return v, nil
}

// binaryAttributes returns the ce-* attributes of a binary-mode message
// (names lower-cased, datacontenttype from Content-Type when absent), and
// whether the message is in binary mode.
func binaryAttributes(h nats.Header) (map[string]any, bool) {
	var contentType string
	binary := false
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		switch {
		case strings.EqualFold(k, "content-type"):
			contentType = vs[0]
		case strings.EqualFold(k, "ce-specversion"):
			binary = true
		}
	}
	if !binary || strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/cloudevents") {
		return nil, false
	}
	attrs := make(map[string]any)
	for k, vs := range h {
		if len(vs) > 0 && len(k) > 3 && strings.EqualFold(k[:3], "ce-") {
			attrs[strings.ToLower(k[3:])] = vs[0]
		}
	}
	if _, ok := attrs["datacontenttype"]; !ok && contentType != "" {
		attrs["datacontenttype"] = contentType
	}
	return attrs, true
}

// structuredIn and dataIn read times as strings, so that a time the schema
// accepted but Go cannot parse gets a clear message.
type structuredIn struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

type dataIn struct {
	Data
	EffectiveAt string `json:"effective_at"`
}

func fromStructured(body []byte) (*Event, error) {
	var in structuredIn
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, schemaError("the event does not match the schema's types (%v)", err)
	}
	ev := &Event{ID: in.ID, Source: in.Source, Type: in.Type, Subject: in.Subject, DataContentType: in.DataContentType}
	if err := parseTime(&ev.Time, in.Time, "time"); err != nil {
		return nil, err
	}
	if err := decodeData(ev, in.Data); err != nil {
		return nil, err
	}
	return ev, nil
}

func fromBinary(attrs map[string]any, body []byte) (*Event, error) {
	str := func(k string) string { s, _ := attrs[k].(string); return s }
	ev := &Event{ID: str("id"), Source: str("source"), Type: str("type"), Subject: str("subject"), DataContentType: str("datacontenttype")}
	if err := parseTime(&ev.Time, str("time"), "ce-time header"); err != nil {
		return nil, err
	}
	if err := decodeData(ev, body); err != nil {
		return nil, err
	}
	return ev, nil
}

func decodeData(ev *Event, raw []byte) error {
	var in dataIn
	if err := json.Unmarshal(raw, &in); err != nil {
		return schemaError("data does not match the schema's types (%v)", err)
	}
	ev.Data = in.Data
	if in.EffectiveAt != "" {
		if err := parseTime(&ev.Data.EffectiveAt, in.EffectiveAt, "data.effective_at"); err != nil {
			return err
		}
	}
	return nil
}

func parseTime(dst *time.Time, s, field string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return schemaError("%s is not an RFC 3339 date-time (e.g. 2026-11-01T09:00:00Z)", field)
	}
	*dst = t.UTC()
	return nil
}

func schemaError(format string, args ...any) *DecodeError {
	return &DecodeError{Reason: ReasonSchema, Message: fmt.Sprintf(format, args...)}
}

// normalise makes a decoded event canonical: empty collections are nil, so
// that decode(encode(e)) equals e.
func normalise(ev *Event) {
	if len(ev.Data.Attributes) == 0 {
		ev.Data.Attributes = nil
	}
	for i := range ev.Data.Accounts {
		m := &ev.Data.Accounts[i]
		if len(m.Groups) == 0 {
			m.Groups = nil
		}
		if len(m.GroupIDs) == 0 {
			m.GroupIDs = nil
		}
	}
}

// checkContract applies the contract rules the schema cannot express.
func checkContract(ev *Event, withRules bool) error {
	var problems []string
	reason := Reason("")
	add := func(r Reason, msg string) {
		if reason == "" {
			reason = r
		}
		problems = append(problems, msg)
	}
	if ev.Subject != ev.Data.EmployeeID {
		add(ReasonSubjectMismatch, fmt.Sprintf(
			"subject %q differs from data.employee_id %q: both must be the stable HR employee id",
			clip(ev.Subject), clip(ev.Data.EmployeeID)))
	}
	if (ev.Type == TypeJoined || ev.Type == TypeUpdated) && len(ev.Data.Accounts) == 0 && !withRules {
		add(ReasonNoAccounts,
			"no accounts and no rules: data.accounts is absent and no rules file maps HR attributes to accounts; send data.accounts")
	}
	if ev.Type == TypeCancelled && ev.Data.Cancels == ev.ID {
		add(ReasonInvalidCancel, "data.cancels names this event's own id: name the id of the event to cancel")
	}
	if reason == "" {
		return nil
	}
	sort.Strings(problems[1:])
	return &DecodeError{Reason: reason, Message: strings.Join(problems, "; ")}
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
