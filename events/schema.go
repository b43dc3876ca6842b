package events

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

//go:embed schema/hr-event.schema.json
var schemaJSON []byte //nolint:gochecknoglobals // embedded file, read-only

// schemaURL is the schema's $id.
const schemaURL = "https://github.com/jml-sync/docusign-worker/events/schema/hr-event.schema.json"

// SchemaJSON returns a copy of the JSON Schema of the HR event contract
// (events/schema/hr-event.schema.json), for publishers and tools.
func SchemaJSON() []byte { return bytes.Clone(schemaJSON) }

// schema is the compiled event schema.
type schema struct {
	s *jsonschema.Schema
}

func compileSchema() (*schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("events: parse embedded schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("events: load embedded schema: %w", err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("events: compile embedded schema: %w", err)
	}
	return &schema{s: s}, nil
}

// validate checks doc against the schema and turns a failure into a
// *DecodeError naming every offending field.
func (s *schema) validate(doc any, binary bool) error {
	err := s.s.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &DecodeError{Reason: ReasonSchema, Message: "the event cannot be validated: " + err.Error()}
	}
	var p problems
	p.walk(ve, nil, binary)
	if len(p.msgs) == 0 {
		// Not reached with this schema; keep a useful message anyway.
		return &DecodeError{Reason: ReasonSchema, Message: "the event does not match the schema"}
	}
	sort.Strings(p.msgs)
	msgs := p.msgs
	// Keep the dead letter's header readable.
	const maxProblems = 10
	if len(msgs) > maxProblems {
		msgs = append(msgs[:maxProblems:maxProblems], fmt.Sprintf("and %d more", len(p.msgs)-maxProblems))
	}
	return &DecodeError{Reason: p.reason, Message: strings.Join(msgs, "; ")}
}

// Reason precedence when an event has several problems: an unknown type
// makes the other checks moot; a wrong type beats a missing field.
func reasonRank(r Reason) int {
	switch r {
	case ReasonUnknownType:
		return 0
	case ReasonSchema:
		return 1
	case ReasonMissingField:
		return 2
	default:
		return 3
	}
}

type problems struct {
	reason Reason
	msgs   []string
	seen   map[string]bool
}

func (p *problems) add(r Reason, msg string) {
	if p.seen == nil {
		p.seen = make(map[string]bool)
	}
	if p.seen[msg] {
		return
	}
	p.seen[msg] = true
	p.msgs = append(p.msgs, msg)
	if p.reason == "" || reasonRank(r) < reasonRank(p.reason) {
		p.reason = r
	}
}

// walk visits the leaves of a validation error. parent is the instance
// location of the enclosing error: a propertyNames error validates the name
// as an instance of its own, at an empty location.
func (p *problems) walk(ve *jsonschema.ValidationError, parent []string, binary bool) {
	if pn, ok := ve.ErrorKind.(*kind.PropertyNames); ok {
		where := fieldPath(parent, binary)
		if len(parent) == 0 {
			if binary {
				p.add(ReasonSchema, fmt.Sprintf("header ce-%s is not a CloudEvents attribute name (lower-case letters and digits)", clip(pn.Property)))
			} else {
				p.add(ReasonSchema, fmt.Sprintf("attribute %q is not a CloudEvents attribute name (lower-case letters and digits)", clip(pn.Property)))
			}
			return
		}
		p.add(ReasonSchema, fmt.Sprintf("%s has a field named %q: field names are lower-case snake_case", where, clip(pn.Property)))
		return
	}
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			p.walk(c, ve.InstanceLocation, binary)
		}
		return
	}
	p.leaf(ve, binary)
}

func (p *problems) leaf(ve *jsonschema.ValidationError, binary bool) {
	loc := ve.InstanceLocation
	where := fieldPath(loc, binary)
	last := ""
	if len(loc) > 0 {
		last = loc[len(loc)-1]
	}
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			p.add(ReasonMissingField, fmt.Sprintf("%s is missing: %s",
				fieldPath(append(append([]string(nil), loc...), m), binary), missingHint(loc, m)))
		}
	case *kind.Type:
		p.add(ReasonSchema, fmt.Sprintf("%s is a JSON %s: send a %s", where, k.Got, strings.Join(k.Want, " or ")))
	case *kind.Enum:
		if len(loc) == 1 && last == "type" {
			got, _ := k.Got.(string)
			p.add(ReasonUnknownType, fmt.Sprintf(
				"type %q is not an HR event type: use %s, %s, %s or %s", clip(got), TypeJoined, TypeUpdated, TypeLeft, TypeCancelled))
			return
		}
		p.add(ReasonSchema, fmt.Sprintf("%s is not one of the allowed values", where))
	case *kind.Const:
		p.add(ReasonSchema, fmt.Sprintf("%s must be %q", where, fmt.Sprint(k.Want)))
	case *kind.Format:
		p.add(ReasonSchema, fmt.Sprintf("%s is not an RFC 3339 date-time (e.g. 2026-11-01T09:00:00Z)", where))
	case *kind.Pattern:
		switch last {
		case "email":
			p.add(ReasonSchema, fmt.Sprintf("%s is not an email address", where))
		case "datacontenttype":
			p.add(ReasonSchema, fmt.Sprintf("%s must be a JSON media type (application/json)", where))
		default:
			p.add(ReasonSchema, fmt.Sprintf("%s does not match the pattern %s", where, k.Want))
		}
	case *kind.MinLength:
		p.add(ReasonSchema, fmt.Sprintf("%s is empty: leave it out or give a value", where))
	case *kind.MaxLength:
		p.add(ReasonSchema, fmt.Sprintf("%s is longer than %d characters", where, k.Want))
	case *kind.MinItems:
		if last == "accounts" {
			p.add(ReasonSchema, fmt.Sprintf("%s is empty: name at least one account (a leaver without accounts closes every managed account)", where))
			return
		}
		p.add(ReasonSchema, fmt.Sprintf("%s has fewer than %d items", where, k.Want))
	case *kind.MaxItems:
		p.add(ReasonSchema, fmt.Sprintf("%s has more than %d items", where, k.Want))
	case *kind.Not:
		// The only "not" in the schema: an account's profile by name and by id.
		p.add(ReasonConflictingFields, fmt.Sprintf("%s: set permission_profile or permission_profile_id, not both", where))
	case *kind.FalseSchema:
		p.add(ReasonSchema, fmt.Sprintf("%s is not allowed", where))
	default:
		kw := strings.Join(ve.ErrorKind.KeywordPath(), "/")
		p.add(ReasonSchema, fmt.Sprintf("%s fails the schema rule %q", where, kw))
	}
}

// missingHint says how to fix a missing field.
func missingHint(loc []string, name string) string {
	if len(loc) == 0 {
		return "every event needs specversion, id, source, type, subject, time and data"
	}
	switch name {
	case "email", "first_name", "last_name":
		return "joined and updated events carry the employee's full record (email, first_name, last_name)"
	case "cancels":
		return "a cancellation names the id (same source) of the event it cancels"
	case "employee_id":
		return "set it to the HR employee id (the event's subject)"
	case "account_id":
		return "name the DocuSign account id of each membership"
	default:
		return "add it"
	}
}

// fieldPath renders an instance location: data.accounts[0].account_id, or in
// binary mode "ce-id header" for an envelope attribute.
func fieldPath(loc []string, binary bool) string {
	if len(loc) == 0 {
		if binary {
			return "the headers"
		}
		return "the event"
	}
	if len(loc) == 1 && loc[0] != "data" && binary {
		return "ce-" + loc[0] + " header"
	}
	var b strings.Builder
	for i, tok := range loc {
		switch {
		case i > 0 && isIndex(tok):
			b.WriteString("[" + tok + "]")
		case i > 0:
			b.WriteString("." + clip(tok))
		default:
			b.WriteString(clip(tok))
		}
	}
	return b.String()
}

func isIndex(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
