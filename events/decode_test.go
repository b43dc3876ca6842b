package events_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
)

// sample returns a testdata event as a JSON object to mutate.
func sample(tb testing.TB, name string) map[string]any {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(tb, err)
	var m map[string]any
	require.NoError(tb, json.Unmarshal(b, &m))
	return m
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return b
}

func dataOf(m map[string]any) map[string]any { return m["data"].(map[string]any) }

// binaryMode splits a structured event into ce-* headers and a data body.
func binaryMode(tb testing.TB, m map[string]any) (nats.Header, []byte) {
	tb.Helper()
	h := nats.Header{}
	for k, v := range m {
		if k == "data" {
			continue
		}
		if k == "datacontenttype" {
			h.Set("Content-Type", v.(string))
			continue
		}
		h.Set("ce-"+k, v.(string))
	}
	return h, mustJSON(tb, m["data"])
}

func newDecoder(tb testing.TB) *events.Decoder {
	tb.Helper()
	d, err := events.NewDecoder(4096)
	require.NoError(tb, err)
	return d
}

func TestDecodeValid(t *testing.T) {
	t.Parallel()
	dec := newDecoder(t)

	t.Run("joined, structured", func(t *testing.T) {
		t.Parallel()
		body, err := os.ReadFile("testdata/joined.json")
		require.NoError(t, err)
		h := nats.Header{}
		h.Set("Content-Type", events.ContentTypeStructured)
		ev, err := dec.Decode(h, body)
		require.NoError(t, err)
		want := &events.Event{
			ID: "evt-0001", Source: "hris://corp.example/workday", Type: events.TypeJoined, Subject: "E1001",
			Time: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), DataContentType: "application/json",
			Data: events.Data{
				EmployeeID: "E1001", Email: "ada.lovelace@corp.example", FirstName: "Ada", LastName: "Lovelace",
				JobTitle: "Analyst", Department: "Engineering", Company: "Corp", Language: "en",
				Location: "London", EmploymentType: "permanent", CostCenter: "CC-42",
				Attributes: map[string]string{"grade": "7"},
				Accounts: []jobs.Membership{
					{AccountID: "acct-1", PermissionProfile: "DocuSign Sender", Groups: []string{"Engineering"}},
					{AccountID: "acct-2", PermissionProfileID: "12345", GroupIDs: []string{"g-9"}},
				},
			},
		}
		require.Equal(t, want, ev)
		require.Equal(t, jobs.TypeUserCreate, ev.TaskType())
		p := ev.Payload()
		require.Equal(t, "E1001", p.Employee.EmployeeID)
		require.Equal(t, want.Data.Accounts, p.Accounts)
		require.NoError(t, p.Validate(jobs.TypeUserCreate))
	})

	t.Run("updated, structured without headers, effective_at in UTC", func(t *testing.T) {
		t.Parallel()
		ev, err := dec.Decode(nil, mustJSON(t, sample(t, "updated")))
		require.NoError(t, err)
		require.Equal(t, events.TypeUpdated, ev.Type)
		require.Equal(t, jobs.TypeMembershipSet, ev.TaskType())
		require.Equal(t, time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), ev.Data.EffectiveAt)
		require.Equal(t, time.UTC, ev.Data.EffectiveAt.Location())
	})

	t.Run("left without accounts", func(t *testing.T) {
		t.Parallel()
		ev, err := dec.Decode(nil, mustJSON(t, sample(t, "left")))
		require.NoError(t, err)
		require.Equal(t, jobs.TypeUserClose, ev.TaskType())
		require.Nil(t, ev.Data.Accounts)
		task, err := ev.Task(jobs.TaskOptions{Now: func() time.Time { return time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC) }})
		require.NoError(t, err)
		require.Equal(t, jobs.TypeUserClose, task.Type())
	})

	t.Run("cancelled maps to no task", func(t *testing.T) {
		t.Parallel()
		ev, err := dec.Decode(nil, mustJSON(t, sample(t, "cancelled")))
		require.NoError(t, err)
		require.Equal(t, "evt-0003", ev.Data.Cancels)
		require.Empty(t, ev.TaskType())
		_, err = ev.Task(jobs.TaskOptions{})
		require.ErrorContains(t, err, "has no task")
	})

	t.Run("binary mode equals structured mode", func(t *testing.T) {
		t.Parallel()
		m := sample(t, "joined")
		structured, err := dec.Decode(nil, mustJSON(t, m))
		require.NoError(t, err)
		h, body := binaryMode(t, m)
		h.Set("ce-traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") // an extension
		h.Set("Nats-Msg-Id", "x")
		binary, err := dec.Decode(h, body)
		require.NoError(t, err)
		require.Equal(t, structured, binary)
	})

	t.Run("binary mode header names are case-insensitive", func(t *testing.T) {
		t.Parallel()
		h, body := binaryMode(t, sample(t, "left"))
		upper := nats.Header{}
		for k, v := range h {
			upper["CE-"+strings.ToUpper(k[3:4])+k[4:]] = v
		}
		ev, err := dec.Decode(upper, body)
		require.NoError(t, err)
		require.Equal(t, "evt-0003", ev.ID)
	})

	t.Run("structured content type wins over ce headers", func(t *testing.T) {
		t.Parallel()
		h := nats.Header{}
		h.Set("Content-Type", "application/cloudevents+json; charset=utf-8")
		h.Set("ce-specversion", "1.0")
		ev, err := dec.Decode(h, mustJSON(t, sample(t, "left")))
		require.NoError(t, err)
		require.Equal(t, "evt-0003", ev.ID)
	})

	t.Run("unknown data fields are ignored", func(t *testing.T) {
		t.Parallel()
		m := sample(t, "left")
		dataOf(m)["badge_number"] = "42"
		_, err := dec.Decode(nil, mustJSON(t, m))
		require.NoError(t, err)
	})
}

func TestDecodeInvalid(t *testing.T) {
	t.Parallel()
	dec := newDecoder(t)

	type mutation func(m map[string]any)
	tests := []struct {
		name    string
		base    string
		mutate  mutation
		body    []byte // instead of base+mutate
		binary  bool
		reason  events.Reason
		message []string // substrings of the message
	}{
		{name: "oversized", body: bytes.Repeat([]byte(" "), 4097), reason: events.ReasonOversized, message: []string{"4097 bytes", "limit of 4096"}},
		{name: "empty body", body: []byte{}, reason: events.ReasonBadJSON},
		{name: "bad json", body: []byte(`{"specversion": "1.0",`), reason: events.ReasonBadJSON, message: []string{"not one JSON value"}},
		{name: "two json values", body: []byte(`{} {}`), reason: events.ReasonBadJSON},
		{name: "not an object", body: []byte(`["hr.employee.joined"]`), reason: events.ReasonSchema, message: []string{"the event is a JSON array"}},
		{name: "missing email", base: "joined", mutate: func(m map[string]any) { delete(dataOf(m), "email") },
			reason: events.ReasonMissingField, message: []string{"data.email is missing", "full record"}},
		{name: "updated missing names", base: "updated", mutate: func(m map[string]any) {
			delete(dataOf(m), "first_name")
			delete(dataOf(m), "last_name")
		}, reason: events.ReasonMissingField, message: []string{"data.first_name is missing", "data.last_name is missing"}},
		{name: "missing id", base: "left", mutate: func(m map[string]any) { delete(m, "id") },
			reason: events.ReasonMissingField, message: []string{"id is missing"}},
		{name: "missing data", base: "left", mutate: func(m map[string]any) { delete(m, "data") },
			reason: events.ReasonMissingField, message: []string{"data is missing"}},
		{name: "missing employee_id", base: "left", mutate: func(m map[string]any) { delete(dataOf(m), "employee_id") },
			reason: events.ReasonMissingField, message: []string{"data.employee_id is missing"}},
		{name: "unknown type", base: "joined", mutate: func(m map[string]any) { m["type"] = "hr.employee.hired" },
			reason: events.ReasonUnknownType, message: []string{`"hr.employee.hired"`, events.TypeJoined}},
		{name: "wrong specversion", base: "left", mutate: func(m map[string]any) { m["specversion"] = "0.3" },
			reason: events.ReasonSchema, message: []string{`specversion must be "1.0"`}},
		{name: "wrong types", base: "joined", mutate: func(m map[string]any) {
			dataOf(m)["email"] = 42
			dataOf(m)["accounts"] = "acct-1"
		}, reason: events.ReasonSchema, message: []string{"data.email is a JSON number: send a string", "data.accounts is a JSON string"}},
		{name: "wrong type beats missing field", base: "joined", mutate: func(m map[string]any) {
			delete(dataOf(m), "email")
			dataOf(m)["first_name"] = true
		}, reason: events.ReasonSchema, message: []string{"data.first_name is a JSON boolean", "data.email is missing"}},
		{name: "group of wrong type", base: "joined", mutate: func(m map[string]any) {
			dataOf(m)["accounts"].([]any)[0].(map[string]any)["groups"] = []any{1}
		}, reason: events.ReasonSchema, message: []string{"data.accounts[0].groups[0] is a JSON number"}},
		{name: "bad time", base: "left", mutate: func(m map[string]any) { m["time"] = "yesterday" },
			reason: events.ReasonSchema, message: []string{"time is not an RFC 3339 date-time"}},
		{name: "bad effective_at", base: "left", mutate: func(m map[string]any) { dataOf(m)["effective_at"] = "2026-13-01T00:00:00Z" },
			reason: events.ReasonSchema, message: []string{"data.effective_at is not an RFC 3339"}},
		{name: "not an email", base: "joined", mutate: func(m map[string]any) { dataOf(m)["email"] = "ada at corp" },
			reason: events.ReasonSchema, message: []string{"data.email is not an email address"}},
		{name: "attribute name not lower-case", base: "left", mutate: func(m map[string]any) { m["ID"] = "evt-x" },
			reason: events.ReasonSchema, message: []string{`attribute "ID"`}},
		{name: "data field name not snake_case", base: "left", mutate: func(m map[string]any) { dataOf(m)["Email"] = "x@y" },
			reason: events.ReasonSchema, message: []string{`data has a field named "Email"`}},
		{name: "empty accounts", base: "joined", mutate: func(m map[string]any) { dataOf(m)["accounts"] = []any{} },
			reason: events.ReasonSchema, message: []string{"data.accounts is empty"}},
		{name: "account without account_id", base: "joined", mutate: func(m map[string]any) {
			delete(dataOf(m)["accounts"].([]any)[1].(map[string]any), "account_id")
		}, reason: events.ReasonMissingField, message: []string{"data.accounts[1].account_id is missing"}},
		{name: "profile by name and id", base: "joined", mutate: func(m map[string]any) {
			dataOf(m)["accounts"].([]any)[0].(map[string]any)["permission_profile_id"] = "7"
		}, reason: events.ReasonConflictingFields, message: []string{"data.accounts[0]: set permission_profile or permission_profile_id, not both"}},
		{name: "subject mismatch", base: "joined", mutate: func(m map[string]any) { m["subject"] = "E9999" },
			reason: events.ReasonSubjectMismatch, message: []string{`subject "E9999" differs from data.employee_id "E1001"`}},
		{name: "joined without accounts", base: "joined", mutate: func(m map[string]any) { delete(dataOf(m), "accounts") },
			reason: events.ReasonNoAccounts, message: []string{"no accounts and no rules"}},
		{name: "updated without accounts", base: "updated", mutate: func(m map[string]any) { delete(dataOf(m), "accounts") },
			reason: events.ReasonNoAccounts},
		{name: "cancelled without cancels", base: "cancelled", mutate: func(m map[string]any) { delete(dataOf(m), "cancels") },
			reason: events.ReasonMissingField, message: []string{"data.cancels is missing"}},
		{name: "cancel of itself", base: "cancelled", mutate: func(m map[string]any) { dataOf(m)["cancels"] = m["id"] },
			reason: events.ReasonInvalidCancel},
		{name: "datacontenttype not json", base: "left", mutate: func(m map[string]any) { m["datacontenttype"] = "text/plain" },
			reason: events.ReasonSchema, message: []string{"datacontenttype must be a JSON media type"}},

		{name: "binary: data not json", binary: true, base: "left", body: []byte("employee_id=E1001"),
			reason: events.ReasonBadJSON, message: []string{"binary-mode"}},
		{name: "binary: missing ce-id", binary: true, base: "left", mutate: func(m map[string]any) { delete(m, "id") },
			reason: events.ReasonMissingField, message: []string{"ce-id header is missing"}},
		{name: "binary: missing email", binary: true, base: "joined", mutate: func(m map[string]any) { delete(dataOf(m), "email") },
			reason: events.ReasonMissingField, message: []string{"data.email is missing"}},
		{name: "binary: unknown type", binary: true, base: "left", mutate: func(m map[string]any) { m["type"] = "com.example.other" },
			reason: events.ReasonUnknownType},
		{name: "binary: bad time", binary: true, base: "left", mutate: func(m map[string]any) { m["time"] = "2026-11-01" },
			reason: events.ReasonSchema, message: []string{"ce-time header is not an RFC 3339"}},
		{name: "binary: subject mismatch", binary: true, base: "left", mutate: func(m map[string]any) { m["subject"] = "E2" },
			reason: events.ReasonSubjectMismatch},
		{name: "binary: content type not json", binary: true, base: "left", mutate: func(m map[string]any) { m["datacontenttype"] = "application/xml" },
			reason: events.ReasonSchema, message: []string{"ce-datacontenttype header must be a JSON media type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h nats.Header
			body := tt.body
			if tt.base != "" {
				m := sample(t, tt.base)
				if tt.mutate != nil {
					tt.mutate(m)
				}
				if tt.binary {
					var data []byte
					h, data = binaryMode(t, m)
					if body == nil {
						body = data
					}
				} else {
					body = mustJSON(t, m)
				}
			}
			ev, err := dec.Decode(h, body)
			require.Nil(t, ev)
			var de *events.DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tt.reason, de.Reason, de.Message)
			for _, s := range tt.message {
				require.Contains(t, de.Message, s)
			}
			r, ok := events.ReasonOf(err)
			require.True(t, ok)
			require.Equal(t, tt.reason, r)
			require.Contains(t, events.Reasons(), r)
			// Messages never carry the email.
			require.NotContains(t, de.Message, "ada.lovelace@corp.example")
		})
	}
}

// TestSchemaFile checks that the shipped schema file is what the decoder
// embeds, and that it accepts the samples and rejects schema-level faults on
// its own, compiled independently of the decoder.
func TestSchemaFile(t *testing.T) {
	t.Parallel()

	onDisk, err := os.ReadFile("schema/hr-event.schema.json")
	require.NoError(t, err)
	require.Equal(t, onDisk, events.SchemaJSON())

	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(onDisk))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource("hr-event.schema.json", doc))
	sch, err := c.Compile("hr-event.schema.json")
	require.NoError(t, err)

	validate := func(m map[string]any) error {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustJSON(t, m)))
		require.NoError(t, err)
		return sch.Validate(inst)
	}
	dec := newDecoder(t)
	for _, name := range []string{"joined", "updated", "left", "cancelled"} {
		m := sample(t, name)
		require.NoError(t, validate(m), name)
		_, err := dec.Decode(nil, mustJSON(t, m))
		require.NoError(t, err, name)
	}

	// Faults the schema alone catches: the decoder agrees with it.
	faults := map[string]func(m map[string]any){
		"missing email": func(m map[string]any) { delete(dataOf(m), "email") },
		"profile name and id": func(m map[string]any) {
			dataOf(m)["accounts"].([]any)[0].(map[string]any)["permission_profile_id"] = "1"
		},
		"language too long":     func(m map[string]any) { dataOf(m)["language"] = strings.Repeat("x", 36) },
		"attributes not string": func(m map[string]any) { dataOf(m)["attributes"] = map[string]any{"grade": 7} },
	}
	for name, f := range faults {
		m := sample(t, "joined")
		f(m)
		require.Error(t, validate(m), name)
		_, err := dec.Decode(nil, mustJSON(t, m))
		require.Error(t, err, name)
	}
	// A rule outside the schema: the schema accepts, the decoder rejects.
	m := sample(t, "joined")
	m["subject"] = "E2"
	require.NoError(t, validate(m))
	_, err = dec.Decode(nil, mustJSON(t, m))
	require.Error(t, err)
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	dec := newDecoder(t)
	for _, name := range []string{"joined", "updated", "left", "cancelled"} {
		ev, err := dec.Decode(nil, mustJSON(t, sample(t, name)))
		require.NoError(t, err)
		b, err := ev.Encode()
		require.NoError(t, err)
		again, err := dec.Decode(nil, b)
		require.NoError(t, err)
		require.Equal(t, ev, again, name)
	}
}

// TestDecodeWithRules: with a rules file in force, joiners and movers need
// no data.accounts (the rules decide them); the other contract rules stay.
func TestDecodeWithRules(t *testing.T) {
	t.Parallel()
	dec, err := events.NewDecoder(0, events.WithRules())
	require.NoError(t, err)
	for _, base := range []string{"joined", "updated"} {
		m := sample(t, base)
		delete(dataOf(m), "accounts")
		dataOf(m)["location"] = "EMEA-Berlin"
		dataOf(m)["attributes"] = map[string]any{"level": "L5"}
		ev, err := dec.Decode(nil, mustJSON(t, m))
		require.NoError(t, err, base)
		require.Empty(t, ev.Data.Accounts)
		require.Equal(t, "EMEA-Berlin", ev.Payload().Employee.Location)
		require.Equal(t, map[string]string{"level": "L5"}, ev.Payload().Employee.Attributes)
	}
	m := sample(t, "joined")
	delete(dataOf(m), "accounts")
	m["subject"] = "E9999"
	_, err = dec.Decode(nil, mustJSON(t, m))
	reason, ok := events.ReasonOf(err)
	require.True(t, ok)
	require.Equal(t, events.ReasonSubjectMismatch, reason)
}
