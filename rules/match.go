package rules

import (
	"regexp"
	"strings"
)

// Matcher operators.
const (
	opEquals = "equals"
	opIn     = "in"
	opPrefix = "prefix"
	opRegex  = "regex"
)

// attributesPrefix introduces a free-form HR attribute in a matcher's field name.
const attributesPrefix = "attributes."

// fieldNames returns the fixed field names a matcher can test, in the order messages list them.
func fieldNames() []string {
	return []string{"department", "job_title", "location", "employment_type", "cost_center", "company", "email"}
}

// operators returns the matcher operators, in the order messages list them.
func operators() []string { return []string{opEquals, opIn, opPrefix, opRegex} }

// matcher tests one field of an Employee.
type matcher struct {
	field  string // as written: "department" or "attributes.level"
	op     string
	values []string // lowercased and trimmed (equals, in, prefix)
	re     *regexp.Regexp
}

// value returns the employee's trimmed value of the field; empty means missing.
func (m *matcher) value(e *Employee) string {
	var v string
	switch m.field {
	case "department":
		v = e.Department
	case "job_title":
		v = e.JobTitle
	case "location":
		v = e.Location
	case "employment_type":
		v = e.EmploymentType
	case "cost_center":
		v = e.CostCenter
	case "company":
		v = e.Company
	case "email":
		v = e.Email
	default:
		v = e.Attributes[strings.TrimPrefix(m.field, attributesPrefix)]
	}
	return strings.TrimSpace(v)
}

// match reports whether the field matches. A missing field never matches.
func (m *matcher) match(e *Employee) bool {
	v := m.value(e)
	if v == "" {
		return false
	}
	switch m.op {
	case opEquals, opIn:
		for _, w := range m.values {
			if strings.EqualFold(v, w) {
				return true
			}
		}
		return false
	case opPrefix:
		return strings.HasPrefix(strings.ToLower(v), m.values[0])
	default:
		return m.re.MatchString(v)
	}
}

// matchAll reports whether every matcher matches (true for none).
func matchAll(ms []matcher, e *Employee) bool {
	for i := range ms {
		if !ms[i].match(e) {
			return false
		}
	}
	return true
}
