package events

import "unicode/utf8"

// fastParse parses the common shape of an event body into the tree that
// encoding/json would build (map[string]any, []any, string, bool, nil),
// several times faster. Numbers become fastNumber: the fast path never
// reads them. It gives up (false) on anything unusual: escapes in strings,
// invalid UTF-8, deep nesting, or invalid JSON; the caller then parses with
// encoding/json, which decides. FuzzFastPath checks that whatever it
// accepts encoding/json accepts and reads the same way.
func fastParse(b []byte) (any, bool) {
	p := fastParser{b: b}
	p.space()
	v, ok := p.value()
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.i == len(p.b)
}

// fastNumber stands for a JSON number in a fastParse tree.
type fastNumber struct{}

// fastMaxDepth is far below encoding/json's limit (10000), so nothing the
// fast parser accepts is too deep for it.
const fastMaxDepth = 32

type fastParser struct {
	b     []byte
	i     int
	depth int
}

func (p *fastParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) value() (any, bool) {
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, ok := p.string()
		return s, ok
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return fastNumber{}, p.number()
	default:
		return nil, false
	}
}

func (p *fastParser) literal(lit string) bool {
	if len(p.b)-p.i < len(lit) || string(p.b[p.i:p.i+len(lit)]) != lit {
		return false
	}
	p.i += len(lit)
	return true
}

// number checks the JSON number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *fastParser) number() bool {
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.b) {
		return false
	}
	if p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// string reads a string without escapes, valid UTF-8.
func (p *fastParser) string() (string, bool) {
	p.i++ // opening quote
	start := p.i
	ascii := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			if !ascii && !utf8.ValidString(s) {
				return "", false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", false
}

// key reads an object key; the schema's names come back as constants,
// without allocating.
func (p *fastParser) key() (string, bool) {
	end := p.i + 1
	for end < len(p.b) && p.b[end] != '"' && p.b[end] != '\\' && p.b[end] >= 0x20 && p.b[end] < utf8.RuneSelf {
		end++
	}
	if end < len(p.b) && p.b[end] == '"' {
		if k, ok := knownKey(p.b[p.i+1 : end]); ok {
			p.i = end + 1
			return k, true
		}
	}
	return p.string()
}

func knownKey(b []byte) (string, bool) {
	switch string(b) {
	case "specversion":
		return "specversion", true
	case "id":
		return "id", true
	case "source":
		return "source", true
	case "type":
		return "type", true
	case "subject":
		return "subject", true
	case "time":
		return "time", true
	case "datacontenttype":
		return "datacontenttype", true
	case "data":
		return "data", true
	case "employee_id":
		return "employee_id", true
	case "email":
		return "email", true
	case "first_name":
		return "first_name", true
	case "last_name":
		return "last_name", true
	case "job_title":
		return "job_title", true
	case "department":
		return "department", true
	case "company":
		return "company", true
	case "language":
		return "language", true
	case "location":
		return "location", true
	case "employment_type":
		return "employment_type", true
	case "cost_center":
		return "cost_center", true
	case "attributes":
		return "attributes", true
	case "effective_at":
		return "effective_at", true
	case "accounts":
		return "accounts", true
	case "cancels":
		return "cancels", true
	case "account_id":
		return "account_id", true
	case "permission_profile":
		return "permission_profile", true
	case "permission_profile_id":
		return "permission_profile_id", true
	case "groups":
		return "groups", true
	case "group_ids":
		return "group_ids", true
	}
	return "", false
}

func (p *fastParser) object() (any, bool) {
	if p.depth++; p.depth > fastMaxDepth {
		return nil, false
	}
	defer func() { p.depth-- }()
	p.i++ // {
	m := make(map[string]any)
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, true
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, false
		}
		k, ok := p.key()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		m[k] = v
		p.space()
		if p.i >= len(p.b) {
			return nil, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			return m, true
		default:
			return nil, false
		}
	}
}

func (p *fastParser) array() (any, bool) {
	if p.depth++; p.depth > fastMaxDepth {
		return nil, false
	}
	defer func() { p.depth-- }()
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, true
	}
	for {
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		a = append(a, v)
		p.space()
		if p.i >= len(p.b) {
			return nil, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.space()
		case ']':
			p.i++
			return a, true
		default:
			return nil, false
		}
	}
}
