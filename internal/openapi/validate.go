package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Direction tells whether a violation concerns a request or a response.
type Direction string

// The two directions of an exchange.
const (
	DirRequest  Direction = "request"
	DirResponse Direction = "response"
)

// Violation is one way a request or a response breaks the contract.
type Violation struct {
	// Method and Path are those of the request (Path without the query).
	Method string
	Path   string
	// OperationID names the matched operation; empty when none matched.
	OperationID string
	// Direction says whether the request or the response is at fault.
	Direction Direction
	// Status is the response status; 0 for a request.
	Status int
	// Detail says what is wrong, starting with the JSON path of the
	// offending value when there is one, e.g.
	// "newUsers[0].userSettings.canSendEnvelope: expected string, got boolean".
	Detail string
}

// Error implements error.
func (v Violation) Error() string {
	op := v.OperationID
	if op == "" {
		op = "no operation"
	}
	dir := string(v.Direction)
	if v.Direction == DirResponse {
		dir = fmt.Sprintf("response %d", v.Status)
	}
	return fmt.Sprintf("openapi: %s %s (%s) %s: %s", v.Method, v.Path, op, dir, v.Detail)
}

// ValidateRequest checks a request against the document: the operation
// exists, query parameters are declared and well-formed, and the body is
// present when required and matches the body parameter's schema. path is
// relative to the basePath (see [Spec.Match]); body is the raw request body,
// nil or empty when none was sent. The result is nil when the request is
// valid.
func (s *Spec) ValidateRequest(method, path string, query url.Values, body []byte) []Violation {
	op, err := s.Match(method, path)
	if err != nil {
		return []Violation{unmatched(method, path, DirRequest, 0, err)}
	}
	v := &validator{spec: s, request: true}
	v.query(op, query)
	v.requestBody(op, body)
	return v.violations(method, path, op, DirRequest, 0)
}

// ValidateResponse checks a response to method and path against the
// document (see the package documentation for how undeclared statuses are
// treated). The result is nil when the response is valid.
func (s *Spec) ValidateResponse(method, path string, status int, body []byte) []Violation {
	op, err := s.Match(method, path)
	if err != nil {
		return []Violation{unmatched(method, path, DirResponse, status, err)}
	}
	v := &validator{spec: s}
	v.response(op, status, body)
	return v.violations(method, path, op, DirResponse, status)
}

func unmatched(method, path string, dir Direction, status int, err error) Violation {
	return Violation{
		Method: strings.ToUpper(method), Path: path, Direction: dir, Status: status,
		Detail: strings.TrimPrefix(err.Error(), "openapi: "),
	}
}

// validator collects the problems found in one request or response.
type validator struct {
	spec    *Spec
	request bool // readOnly properties may not be sent; required readOnly ones may be left out
	details []string
}

func (v *validator) violations(method, path string, op *Operation, dir Direction, status int) []Violation {
	var out []Violation
	for _, d := range v.details {
		out = append(out, Violation{
			Method: op.Method, Path: path, OperationID: op.OperationID,
			Direction: dir, Status: status, Detail: d,
		})
	}
	return out
}

// fail records a problem with the exchange as a whole.
func (v *validator) fail(format string, args ...any) {
	v.details = append(v.details, fmt.Sprintf(format, args...))
}

// at records a problem with the JSON value at path.
func (v *validator) at(path, format string, args ...any) {
	if path == "" {
		path = "(root)"
	}
	v.details = append(v.details, path+": "+fmt.Sprintf(format, args...))
}

func (v *validator) query(op *Operation, query url.Values) {
	for _, name := range sortedKeys(query) {
		p, ok := op.query[name]
		if !ok {
			v.fail("query parameter %q: not declared", name)
			continue
		}
		for _, value := range query[name] {
			if problem := checkScalar(p.Type, p.Format, value); problem != "" {
				v.fail("query parameter %q: %s", name, problem)
			}
		}
	}
	for _, name := range sortedKeys(op.query) {
		if op.query[name].Required && !query.Has(name) {
			v.fail("query parameter %q: required, missing", name)
		}
	}
}

// checkScalar checks a query value against its declared type.
func checkScalar(typ, format, value string) string {
	switch typ {
	case "integer":
		if _, err := strconv.ParseInt(value, 10, intBits(format)); err != nil {
			return fmt.Sprintf("%q is not an integer (%s)", value, intFormat(format))
		}
	case "number":
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			return fmt.Sprintf("%q is not a number", value)
		}
	case "boolean":
		if value != "true" && value != "false" {
			return fmt.Sprintf("%q is not a boolean (true or false)", value)
		}
	}
	return ""
}

func (v *validator) requestBody(op *Operation, body []byte) {
	if op.formData {
		return // multipart or form upload: not validated
	}
	empty := len(bytes.TrimSpace(body)) == 0
	switch {
	case op.body == nil:
		if !empty {
			v.fail("body sent, but the operation takes none")
		}
	case empty:
		if op.body.Required {
			v.fail("body required (%s), none sent", op.body.Name)
		}
	case op.body.Schema != nil:
		v.document(body, op.body.Schema)
	}
}

func (v *validator) response(op *Operation, status int, body []byte) {
	empty := len(bytes.TrimSpace(body)) == 0
	resp, declared := op.responses[strconv.Itoa(status)]
	if !declared {
		resp, declared = op.responses["default"]
	}
	switch {
	case declared && (resp == nil || resp.Schema == nil):
		if !empty {
			v.fail("the response declares no body, got %d bytes", len(body))
		}
	case declared && empty:
		if !v.allowsEmpty(resp.Schema) {
			v.fail("empty body, the response declares a schema")
		}
	case declared:
		v.document(body, resp.Schema)
	case status < 400:
		v.fail("status %d not declared (declared: %s)", status, strings.Join(sortedKeys(op.responses), ", "))
	case empty:
		// An undeclared error status without a body: nothing to check.
	case op.errorSchema() != nil:
		v.document(body, op.errorSchema())
	default:
		v.documentedError(body)
	}
}

// errorSchema returns the schema of the operation's lowest declared error
// status (≥ 400), or nil when it declares none.
func (op *Operation) errorSchema() *schema {
	best := 0
	var sc *schema
	for code, resp := range op.responses {
		n, err := strconv.Atoi(code)
		if err != nil || n < 400 || resp == nil || resp.Schema == nil {
			continue
		}
		if best == 0 || n < best {
			best, sc = n, resp.Schema
		}
	}
	return sc
}

// documentedError checks an error body of an operation that declares no
// error schema against DocuSign's two documented error shapes.
func (v *validator) documentedError(body []byte) {
	val, err := decode(body)
	if err != nil {
		v.at("", "error body is not JSON: %v", err)
		return
	}
	m, _ := val.(map[string]any)
	shape := errorShape("eSignature error", "errorCode", "message")
	if _, ok := m["errorCode"]; !ok && m != nil {
		if _, ok := m["error"]; ok {
			shape = errorShape("Admin API error", "error", "error_description")
		}
	}
	v.value(val, shape, "")
}

// errorShape builds the schema of an error body with two required strings.
func errorShape(name, code, message string) *schema {
	return &schema{
		name:                 name,
		Type:                 "object",
		Properties:           map[string]*schema{code: {Type: "string"}, message: {Type: "string"}},
		Required:             []string{code, message},
		AdditionalProperties: json.RawMessage("false"),
	}
}

// allowsEmpty reports whether an empty body satisfies sc: a file, or an
// object with no declared properties.
func (v *validator) allowsEmpty(sc *schema) bool {
	sc, err := v.spec.flatten(sc, map[*schema]bool{})
	if err != nil {
		return false
	}
	return sc.Type == "file" ||
		((sc.Type == "" || sc.Type == "object") && len(sc.Properties) == 0 && len(sc.Required) == 0)
}

// document checks a whole JSON body against sc.
func (v *validator) document(body []byte, sc *schema) {
	flat, err := v.spec.flatten(sc, map[*schema]bool{})
	if err != nil {
		v.at("", "schema error: %v", err)
		return
	}
	if flat.Type == "file" {
		return // binary content
	}
	val, err := decode(body)
	if err != nil {
		v.at("", "body is not JSON: %v", err)
		return
	}
	v.value(val, sc, "")
}

// decode parses one JSON value, keeping numbers exact.
func decode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON value")
	}
	return val, nil
}

// value checks one JSON value (decoded with UseNumber) against sc.
func (v *validator) value(val any, sc *schema, path string) {
	sc, err := v.spec.flatten(sc, map[*schema]bool{})
	if err != nil {
		v.at(path, "schema error: %v", err)
		return
	}
	typ := sc.Type
	if typ == "" && len(sc.Properties) > 0 {
		typ = "object"
	}
	ok := true
	switch typ {
	case "", "file":
		// Any value.
	case "object":
		ok = v.object(val, sc, path)
	case "array":
		ok = v.array(val, sc, path)
	case "string":
		_, ok = val.(string)
	case "boolean":
		_, ok = val.(bool)
	case "number":
		_, ok = val.(json.Number)
	case "integer":
		ok = v.integer(val, sc.Format, path)
	default:
		v.at(path, "schema error: unknown type %q", typ)
		return
	}
	if !ok {
		v.at(path, "expected %s, got %s", typ, jsonType(val))
		return
	}
	if len(sc.Enum) > 0 && !inEnum(val, sc.Enum) {
		v.at(path, "value %s is not one of the enum values %s", compact(val), enumList(sc.Enum))
	}
}

// integer reports false for a value that is not a JSON number; it records a
// violation itself for a number that is not a whole number in range.
func (v *validator) integer(val any, format, path string) bool {
	n, ok := val.(json.Number)
	if !ok {
		return false
	}
	if _, err := strconv.ParseInt(n.String(), 10, intBits(format)); err != nil {
		if errors.Is(err, strconv.ErrRange) {
			v.at(path, "%s is out of range for %s", n, intFormat(format))
		} else {
			v.at(path, "expected integer, got number %s", n)
		}
	}
	return true
}

func (v *validator) array(val any, sc *schema, path string) bool {
	items, ok := val.([]any)
	if !ok {
		return false
	}
	if sc.Items == nil {
		return true
	}
	for i, item := range items {
		v.value(item, sc.Items, fmt.Sprintf("%s[%d]", path, i))
	}
	return true
}

func (v *validator) object(val any, sc *schema, path string) bool {
	m, ok := val.(map[string]any)
	if !ok {
		return false
	}
	name := sc.name
	if name == "" {
		name = "inline schema"
	}
	for _, req := range sc.Required {
		if p := sc.Properties[req]; v.request && p != nil && p.ReadOnly {
			continue
		}
		if m[req] == nil {
			v.at(join(path, req), "required field missing (%s)", name)
		}
	}
	allowed, extra, err := sc.additional()
	if err != nil {
		v.at(path, "schema error: %v", err)
		return true
	}
	for _, key := range sortedKeys(m) {
		prop, declared := sc.Properties[key]
		switch {
		case !declared && !allowed:
			v.at(join(path, key), "unknown field (not in %s)", name)
		case !declared && extra != nil:
			v.value(m[key], extra, join(path, key))
		case !declared:
			// Allowed by additionalProperties.
		case m[key] == nil:
			// null counts as absent.
		case v.request && prop.ReadOnly:
			v.at(join(path, key), "read-only field sent in a request (%s)", name)
		default:
			v.value(m[key], prop, join(path, key))
		}
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func intBits(format string) int {
	if format == "int32" {
		return 32
	}
	return 64
}

func intFormat(format string) string {
	if format == "int32" {
		return "int32"
	}
	return "int64"
}

// jsonType names the JSON type of a decoded value.
func jsonType(val any) string {
	switch val.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", val)
}

func inEnum(val any, enum []json.RawMessage) bool {
	for _, raw := range enum {
		want, err := decode(raw)
		if err != nil {
			continue
		}
		switch w := want.(type) {
		case json.Number:
			if n, ok := val.(json.Number); ok {
				a, errA := n.Float64()
				b, errB := w.Float64()
				if errA == nil && errB == nil && a == b {
					return true
				}
			}
		case string, bool:
			if want == val {
				return true
			}
		}
	}
	return false
}

func enumList(enum []json.RawMessage) string {
	parts := make([]string, len(enum))
	for i, raw := range enum {
		parts[i] = string(raw)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// compact renders a scalar for a message; composite values are only named.
func compact(val any) string {
	switch val.(type) {
	case map[string]any, []any:
		return jsonType(val)
	}
	b, err := json.Marshal(val)
	if err != nil {
		return jsonType(val)
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
