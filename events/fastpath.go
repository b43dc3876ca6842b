package events

import (
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/jml-sync/docusign-worker/jobs"
)

// The fast path checks a parsed event against the rules of the JSON Schema
// by hand and builds the Event from the parsed tree, which is several times
// cheaper than the schema validator plus a second parse. It is sound, not
// complete: whatever it accepts the schema accepts (FuzzFastPath checks
// this against the shipped schema file), and whatever it does not accept
// goes through the schema validator, which gives the verdict and the
// messages. So the schema stays the contract.

// fastPatterns holds the schema's datacontenttype pattern, compiled once
// per Decoder; the other patterns are checked by hand (isAttrName,
// isFieldName, isEmail).
type fastPatterns struct {
	contentType *regexp.Regexp
}

func compileFastPatterns() fastPatterns {
	return fastPatterns{
		contentType: regexp.MustCompile(`^application/([a-z0-9.+-]*\+)?json( *;.*)?$`),
	}
}

// isAttrName is the schema's ^[a-z0-9]{1,20}$.
func isAttrName(s string) bool {
	if len(s) < 1 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isFieldName is the schema's ^[a-z][a-z0-9_]{0,63}$.
func isFieldName(s string) bool {
	if len(s) < 1 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// isEmail is the schema's ^[^@\s]+@[^@\s]+$ (\s being RE2's [\t\n\f\r ]).
func isEmail(s string) bool {
	at := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '@':
			if at >= 0 {
				return false
			}
			at = i
		case '\t', '\n', '\f', '\r', ' ':
			return false
		}
	}
	return at > 0 && at < len(s)-1
}

// fast returns the event when doc certainly satisfies the schema.
func (p *fastPatterns) fast(doc any) (*Event, bool) {
	env, ok := doc.(map[string]any)
	if !ok {
		return nil, false
	}
	for k := range env {
		if !isAttrName(k) {
			return nil, false
		}
	}
	if v, ok := env["specversion"].(string); !ok || v != SpecVersion {
		return nil, false
	}
	ev := &Event{}
	if ev.ID, ok = fastString(env["id"], 1, 256); !ok {
		return nil, false
	}
	if ev.Source, ok = fastString(env["source"], 1, 256); !ok {
		return nil, false
	}
	if ev.Subject, ok = fastString(env["subject"], 1, 256); !ok {
		return nil, false
	}
	ev.Type, _ = env["type"].(string)
	switch ev.Type {
	case TypeJoined, TypeUpdated, TypeLeft, TypeCancelled:
	default:
		return nil, false
	}
	ts, _ := env["time"].(string)
	if ev.Time, ok = fastTime(ts); !ok {
		return nil, false
	}
	if v, present := env["datacontenttype"]; present {
		s, isStr := v.(string)
		if !isStr || !p.contentType.MatchString(s) {
			return nil, false
		}
		ev.DataContentType = s
	}
	if v, present := env["dataschema"]; present {
		if _, isStr := v.(string); !isStr {
			return nil, false
		}
	}
	data, ok := env["data"].(map[string]any)
	if !ok || !p.fastData(data, &ev.Data) {
		return nil, false
	}
	switch ev.Type {
	case TypeJoined, TypeUpdated:
		for _, k := range []string{"email", "first_name", "last_name"} {
			if _, present := data[k]; !present {
				return nil, false
			}
		}
	case TypeCancelled:
		if _, present := data["cancels"]; !present {
			return nil, false
		}
	}
	return ev, true
}

func (p *fastPatterns) fastData(m map[string]any, d *Data) bool {
	for k := range m {
		if !isFieldName(k) {
			return false
		}
	}
	var ok bool
	if d.EmployeeID, ok = fastString(m["employee_id"], 1, 256); !ok {
		return false
	}
	optional := []struct {
		key      string
		dst      *string
		min, max int
	}{
		{"first_name", &d.FirstName, 1, 256},
		{"last_name", &d.LastName, 1, 256},
		{"job_title", &d.JobTitle, 0, 1024},
		{"department", &d.Department, 0, 1024},
		{"company", &d.Company, 0, 1024},
		{"language", &d.Language, 0, 35},
		{"location", &d.Location, 0, 1024},
		{"employment_type", &d.EmploymentType, 0, 1024},
		{"cost_center", &d.CostCenter, 0, 1024},
		{"cancels", &d.Cancels, 1, 256},
	}
	for _, f := range optional {
		v, present := m[f.key]
		if !present {
			continue
		}
		if *f.dst, ok = fastString(v, f.min, f.max); !ok {
			return false
		}
	}
	if v, present := m["email"]; present {
		if d.Email, ok = fastString(v, 0, 254); !ok || !isEmail(d.Email) {
			return false
		}
	}
	if v, present := m["attributes"]; present {
		attrs, isObj := v.(map[string]any)
		if !isObj {
			return false
		}
		if len(attrs) > 0 {
			d.Attributes = make(map[string]string, len(attrs))
		}
		for k, av := range attrs {
			s, ok := fastString(av, 0, 1024)
			if !ok {
				return false
			}
			d.Attributes[k] = s
		}
	}
	if v, present := m["effective_at"]; present {
		s, _ := v.(string)
		if d.EffectiveAt, ok = fastTime(s); !ok {
			return false
		}
	}
	if v, present := m["accounts"]; present {
		items, isArr := v.([]any)
		if !isArr || len(items) < 1 || len(items) > 100 {
			return false
		}
		d.Accounts = make([]jobs.Membership, len(items))
		for i, it := range items {
			if !p.fastAccount(it, &d.Accounts[i]) {
				return false
			}
		}
	}
	return true
}

func (p *fastPatterns) fastAccount(v any, a *jobs.Membership) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k := range m {
		if !isFieldName(k) {
			return false
		}
	}
	if a.AccountID, ok = fastString(m["account_id"], 1, 256); !ok {
		return false
	}
	_, byName := m["permission_profile"]
	_, byID := m["permission_profile_id"]
	if byName && byID {
		return false
	}
	if byName {
		if a.PermissionProfile, ok = fastString(m["permission_profile"], 1, 256); !ok {
			return false
		}
	}
	if byID {
		if a.PermissionProfileID, ok = fastString(m["permission_profile_id"], 1, 256); !ok {
			return false
		}
	}
	for _, f := range []struct {
		key string
		dst *[]string
	}{{"groups", &a.Groups}, {"group_ids", &a.GroupIDs}} {
		v, present := m[f.key]
		if !present {
			continue
		}
		items, isArr := v.([]any)
		if !isArr || len(items) > 200 {
			return false
		}
		if len(items) > 0 {
			*f.dst = make([]string, len(items))
		}
		for i, it := range items {
			if (*f.dst)[i], ok = fastString(it, 1, 256); !ok {
				return false
			}
		}
	}
	return true
}

// fastString accepts a string of min to max code points (JSON Schema's
// minLength and maxLength count code points).
func fastString(v any, minLen, maxLen int) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	if len(s) < minLen {
		return "", false
	}
	if len(s) > maxLen || minLen > 1 {
		n := utf8.RuneCountInString(s)
		if n < minLen || n > maxLen {
			return "", false
		}
	}
	return s, true
}

// fastTime accepts the strict RFC 3339 form
// YYYY-MM-DDTHH:MM:SS[.1-9 digits](Z|±HH:MM) that both Go and the schema's
// date-time format accept, and returns it in UTC.
func fastTime(s string) (time.Time, bool) {
	n := len(s)
	if n < 20 || n > 35 {
		return time.Time{}, false
	}
	digits := func(from, to int) bool {
		for i := from; i < to; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	if !digits(0, 4) || s[4] != '-' || !digits(5, 7) || s[7] != '-' || !digits(8, 10) || s[10] != 'T' ||
		!digits(11, 13) || s[13] != ':' || !digits(14, 16) || s[16] != ':' || !digits(17, 19) {
		return time.Time{}, false
	}
	i := 19
	if s[i] == '.' {
		j := i + 1
		for j < n && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 || j-i-1 > 9 {
			return time.Time{}, false
		}
		i = j
	}
	switch {
	case i == n-1 && s[i] == 'Z':
	case i == n-6 && (s[i] == '+' || s[i] == '-') && digits(i+1, i+3) && s[i+3] == ':' && digits(i+4, i+6):
		if (s[i+1]-'0')*10+(s[i+2]-'0') > 23 || (s[i+4]-'0')*10+(s[i+5]-'0') > 59 {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	// Go checks the calendar (month and day ranges, leap years) and the
	// clock (no leap second).
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}
