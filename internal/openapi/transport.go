package openapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// ValidatingTransport is an http.RoundTripper that validates every request it
// sends and every response it receives against the spec registered for the
// request's URL path prefix, and records the violations. Requests under no
// registered prefix (such as /oauth/token) pass through unchecked. Responses
// reach the caller unchanged. It is safe for concurrent use.
type ValidatingTransport struct {
	base   http.RoundTripper
	routes []prefixRoute // longest prefix first

	mu         sync.Mutex
	violations []Violation
	covered    map[string]int
}

type prefixRoute struct {
	prefix string
	spec   *Spec
}

// NewValidatingTransport wraps base (http.DefaultTransport when nil). specs
// maps a URL path prefix to the document that describes the paths under it,
// e.g. {"/management": admin, "/restapi": esignature}; prefixes are compared
// without regard to case and the longest matching prefix wins.
func NewValidatingTransport(base http.RoundTripper, specs map[string]*Spec) *ValidatingTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &ValidatingTransport{base: base, covered: map[string]int{}}
	for prefix, spec := range specs {
		t.routes = append(t.routes, prefixRoute{prefix: strings.TrimSuffix(prefix, "/"), spec: spec})
	}
	sort.Slice(t.routes, func(i, j int) bool { return len(t.routes[i].prefix) > len(t.routes[j].prefix) })
	return t
}

// RoundTrip implements http.RoundTripper.
func (t *ValidatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.EscapedPath()
	spec, rel, ok := t.route(path)
	if !ok {
		return t.base.RoundTrip(req)
	}
	body, out, err := bufferRequest(req)
	if err != nil {
		return nil, err
	}
	op, matchErr := spec.Match(req.Method, rel)
	t.record(path, spec.ValidateRequest(req.Method, rel, req.URL.Query(), body))
	if matchErr == nil {
		t.mu.Lock()
		t.covered[op.OperationID]++
		t.mu.Unlock()
	}

	resp, err := t.base.RoundTrip(out)
	if err != nil || matchErr != nil || req.Method == http.MethodHead {
		return resp, err
	}
	respBody, readErr := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // the body is fully read; a close error changes nothing for the caller
	if readErr != nil {
		// A broken reply (dropped connection, truncated body) is a transport
		// failure, not a contract violation: hand the caller the same failure.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(respBody), errorReader{readErr}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	t.record(path, spec.ValidateResponse(req.Method, rel, resp.StatusCode, respBody))
	return resp, nil
}

// route finds the spec for a request path and the path below its prefix.
func (t *ValidatingTransport) route(path string) (*Spec, string, bool) {
	for _, r := range t.routes {
		if r.prefix == "" {
			return r.spec, path, true
		}
		if rest, ok := cutPrefixFold(path, r.prefix); ok {
			return r.spec, rest, true
		}
	}
	return nil, "", false
}

// bufferRequest reads the request body and returns it with a copy of the
// request that sends the same bytes (a RoundTripper may not modify req).
func bufferRequest(req *http.Request) ([]byte, *http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, req, nil
	}
	body, err := io.ReadAll(req.Body)
	closeErr := req.Body.Close()
	if err = errors.Join(err, closeErr); err != nil {
		return nil, nil, fmt.Errorf("openapi: read request body: %w", err)
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return body, out, nil
}

func (t *ValidatingTransport) record(path string, vs []Violation) {
	if len(vs) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, v := range vs {
		v.Path = path
		t.violations = append(t.violations, v)
	}
}

// Violations returns a copy of every violation recorded so far, in the order
// they were found.
func (t *ValidatingTransport) Violations() []Violation {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Violation(nil), t.violations...)
}

// Err returns the recorded violations joined into one error, or nil when
// there are none; convenient for require.NoError.
func (t *ValidatingTransport) Err() error {
	var errs []error
	for _, v := range t.Violations() {
		errs = append(errs, v)
	}
	return errors.Join(errs...)
}

// Covered returns how many requests matched each operation, keyed by
// operationId. A request counts whether or not it was valid.
func (t *ValidatingTransport) Covered() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.covered))
	for id, n := range t.covered {
		out[id] = n
	}
	return out
}

// errorReader returns err from every Read.
type errorReader struct{ err error }

func (r errorReader) Read([]byte) (int, error) { return 0, r.err }
