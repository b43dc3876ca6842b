package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// Spec is a loaded Swagger 2.0 document. It is safe for concurrent use.
type Spec struct {
	// BasePath is the document's basePath, e.g. "/Management" or "/restapi".
	BasePath string

	routes []*route

	mu          sync.Mutex
	definitions map[string]json.RawMessage
	parameters  map[string]json.RawMessage
	responses   map[string]json.RawMessage
	resolved    map[string]*schema // "$ref" → parsed schema
}

// route is one path template with its operations.
type route struct {
	template string
	segments []segment
	ops      map[string]*Operation
}

// Operation is one method on one path template.
type Operation struct {
	// Method is the upper-case HTTP method.
	Method string
	// Path is the path template, e.g. "/v2/organizations/{organizationId}/users".
	Path string
	// OperationID is the operation's operationId.
	OperationID string

	query     map[string]*parameter
	body      *parameter // nil: the operation takes no JSON body
	formData  bool       // the operation takes a form (not validated)
	responses map[string]*response
}

// parameter is a Swagger parameter object (the subset the validator uses).
type parameter struct {
	Ref      string  `json:"$ref"`
	Name     string  `json:"name"`
	In       string  `json:"in"`
	Required bool    `json:"required"`
	Type     string  `json:"type"`
	Format   string  `json:"format"`
	Schema   *schema `json:"schema"`
}

// response is a Swagger response object; Schema nil means no body.
type response struct {
	Ref    string  `json:"$ref"`
	Schema *schema `json:"schema"`
}

// schema is a Swagger schema object (the subset the validator uses).
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Items                *schema            `json:"items"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Enum                 []json.RawMessage  `json:"enum"`
	AllOf                []*schema          `json:"allOf"`
	ReadOnly             bool               `json:"readOnly"`

	name string // definition name, for messages
}

// document is the top level of a Swagger 2.0 file. Path items stay raw until
// they are read, so that operation and parameter keys can be told apart.
type document struct {
	Swagger     string                                `json:"swagger"`
	BasePath    string                                `json:"basePath"`
	Paths       map[string]map[string]json.RawMessage `json:"paths"`
	Definitions map[string]json.RawMessage            `json:"definitions"`
	Parameters  map[string]json.RawMessage            `json:"parameters"`
	Responses   map[string]json.RawMessage            `json:"responses"`
}

// operation is a Swagger operation object as stored in the file.
type operation struct {
	OperationID string               `json:"operationId"`
	Parameters  []*parameter         `json:"parameters"`
	Responses   map[string]*response `json:"responses"`
}

// isMethod reports whether key is an operation key of a Swagger 2.0 path item.
func isMethod(key string) bool {
	switch key {
	case "get", "put", "post", "delete", "options", "head", "patch":
		return true
	}
	return false
}

// Load reads and parses the Swagger 2.0 document at path. Definitions are
// parsed lazily, when a validation first needs them.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	spec, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", path, err)
	}
	return spec, nil
}

// Parse parses a Swagger 2.0 document held in memory.
func Parse(data []byte) (*Spec, error) {
	spec, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return spec, nil
}

func parse(data []byte) (*Spec, error) {
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if doc.Swagger != "2.0" {
		return nil, fmt.Errorf("swagger version %q, want \"2.0\"", doc.Swagger)
	}
	s := &Spec{
		BasePath:    doc.BasePath,
		definitions: doc.Definitions,
		parameters:  doc.Parameters,
		responses:   doc.Responses,
		resolved:    map[string]*schema{},
	}
	for tmpl, item := range doc.Paths {
		r, err := s.parseRoute(tmpl, item)
		if err != nil {
			return nil, err
		}
		s.routes = append(s.routes, r)
	}
	sort.Slice(s.routes, func(i, j int) bool { return s.routes[i].template < s.routes[j].template })
	return s, nil
}

// parseRoute reads one path item: its shared parameters and its operations.
func (s *Spec) parseRoute(tmpl string, item map[string]json.RawMessage) (*route, error) {
	r := &route{template: tmpl, ops: map[string]*Operation{}}
	for _, seg := range splitPath(tmpl) {
		param := strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}")
		r.segments = append(r.segments, segment{literal: seg, param: param})
	}
	var shared []*parameter
	if raw, ok := item["parameters"]; ok {
		if err := json.Unmarshal(raw, &shared); err != nil {
			return nil, fmt.Errorf("path %s: parameters: %w", tmpl, err)
		}
	}
	for key, raw := range item {
		if !isMethod(key) {
			continue // "parameters", "$ref" (unsupported), vendor extensions
		}
		var op operation
		if err := json.Unmarshal(raw, &op); err != nil {
			return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(key), tmpl, err)
		}
		o, err := s.newOperation(strings.ToUpper(key), tmpl, shared, &op)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(key), tmpl, err)
		}
		r.ops[o.Method] = o
	}
	return r, nil
}

// newOperation merges path-level and operation-level parameters (the latter
// win, keyed by name and location) and indexes them.
func (s *Spec) newOperation(method, tmpl string, shared []*parameter, op *operation) (*Operation, error) {
	o := &Operation{
		Method:      method,
		Path:        tmpl,
		OperationID: op.OperationID,
		query:       map[string]*parameter{},
		responses:   op.Responses,
	}
	for _, list := range [][]*parameter{shared, op.Parameters} {
		for _, p := range list {
			p, err := s.resolveParameter(p)
			if err != nil {
				return nil, err
			}
			switch p.In {
			case "query":
				o.query[p.Name] = p
			case "body":
				o.body = p
			case "formData":
				o.formData = true
			}
		}
	}
	for code, resp := range o.responses {
		resolved, err := s.resolveResponse(resp)
		if err != nil {
			return nil, fmt.Errorf("response %s: %w", code, err)
		}
		o.responses[code] = resolved
	}
	return o, nil
}

func (s *Spec) resolveParameter(p *parameter) (*parameter, error) {
	if p.Ref == "" {
		return p, nil
	}
	raw, err := lookup(s.parameters, p.Ref, "#/parameters/")
	if err != nil {
		return nil, err
	}
	var out parameter
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Ref, err)
	}
	if out.Ref != "" {
		return nil, fmt.Errorf("%s: nested parameter $ref not supported", p.Ref)
	}
	return &out, nil
}

func (s *Spec) resolveResponse(r *response) (*response, error) {
	if r == nil || r.Ref == "" {
		return r, nil
	}
	raw, err := lookup(s.responses, r.Ref, "#/responses/")
	if err != nil {
		return nil, err
	}
	var out response
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Ref, err)
	}
	if out.Ref != "" {
		return nil, fmt.Errorf("%s: nested response $ref not supported", r.Ref)
	}
	return &out, nil
}

// lookup finds a local reference such as "#/parameters/accountId".
func lookup(table map[string]json.RawMessage, ref, prefix string) (json.RawMessage, error) {
	name, ok := strings.CutPrefix(ref, prefix)
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	raw, ok := table[unescapePointer(name)]
	if !ok {
		return nil, fmt.Errorf("unresolved $ref %q", ref)
	}
	return raw, nil
}

// unescapePointer undoes JSON-pointer escaping (~1 is "/", ~0 is "~").
func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// deref follows a chain of $ref until it reaches a schema without one. It
// reports a cycle (a → b → a) as an error. Parsed definitions are cached.
func (s *Spec) deref(sc *schema) (*schema, error) {
	seen := map[string]bool{}
	for sc.Ref != "" {
		if seen[sc.Ref] {
			return nil, fmt.Errorf("$ref cycle at %q", sc.Ref)
		}
		seen[sc.Ref] = true
		next, err := s.definition(sc.Ref)
		if err != nil {
			return nil, err
		}
		sc = next
	}
	return sc, nil
}

// definition returns the parsed schema a "#/definitions/..." reference names.
func (s *Spec) definition(ref string) (*schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.resolved[ref]; ok {
		return sc, nil
	}
	raw, err := lookup(s.definitions, ref, "#/definitions/")
	if err != nil {
		return nil, err
	}
	sc := &schema{}
	if err := json.Unmarshal(raw, sc); err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	sc.name = unescapePointer(strings.TrimPrefix(ref, "#/definitions/"))
	s.resolved[ref] = sc
	return sc, nil
}

// flatten resolves sc and merges its allOf members into one schema, so that
// "unknown property" is judged against the union of their properties.
func (s *Spec) flatten(sc *schema, seen map[*schema]bool) (*schema, error) {
	sc, err := s.deref(sc)
	if err != nil {
		return nil, err
	}
	if len(sc.AllOf) == 0 {
		return sc, nil
	}
	if seen[sc] {
		return nil, errors.New("allOf cycle")
	}
	seen[sc] = true
	defer delete(seen, sc)
	merged := *sc
	merged.AllOf = nil
	merged.Properties = map[string]*schema{}
	merged.Required = append([]string(nil), sc.Required...)
	for name, p := range sc.Properties {
		merged.Properties[name] = p
	}
	for _, member := range sc.AllOf {
		m, err := s.flatten(member, seen)
		if err != nil {
			return nil, err
		}
		if merged.Type == "" {
			merged.Type = m.Type
		}
		for name, p := range m.Properties {
			if _, ok := merged.Properties[name]; !ok {
				merged.Properties[name] = p
			}
		}
		merged.Required = append(merged.Required, m.Required...)
		if merged.AdditionalProperties == nil {
			merged.AdditionalProperties = m.AdditionalProperties
		}
		if merged.name == "" {
			merged.name = m.name
		}
	}
	if merged.Type == "" && len(merged.Properties) > 0 {
		merged.Type = "object"
	}
	return &merged, nil
}

// additional interprets additionalProperties: allowed reports whether
// undeclared properties are accepted, and extra (when not nil) is the schema
// they must match.
func (sc *schema) additional() (allowed bool, extra *schema, err error) {
	raw := bytes.TrimSpace(sc.AdditionalProperties)
	switch {
	case len(raw) == 0:
		// Absent: strict, except for a free-form object without properties.
		return len(sc.Properties) == 0, nil, nil
	case bytes.Equal(raw, []byte("true")):
		return true, nil, nil
	case bytes.Equal(raw, []byte("false")):
		return false, nil, nil
	}
	extra = &schema{}
	if err := json.Unmarshal(raw, extra); err != nil {
		return false, nil, fmt.Errorf("additionalProperties: %w", err)
	}
	return true, extra, nil
}

// Operations returns every operation of the document, ordered by path
// template and method.
func (s *Spec) Operations() []*Operation {
	var out []*Operation
	for _, r := range s.routes {
		keys := make([]string, 0, len(r.ops))
		for m := range r.ops {
			keys = append(keys, m)
		}
		sort.Strings(keys)
		for _, m := range keys {
			out = append(out, r.ops[m])
		}
	}
	return out
}
