package openapi

import (
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mustDocuSignSpecs loads DocuSign's Admin and eSignature documents, skipping
// the test when they are absent (failing with REQUIRE_INTEGRATION=1).
func mustDocuSignSpecs(tb testing.TB) (admin, esign *Spec) {
	tb.Helper()
	specs, err := DocuSignSpecs()
	require.NoError(tb, err)
	return specs[AdminPrefix], specs[ESignaturePrefix]
}

// mustParse parses an inline document.
func mustParse(tb testing.TB, doc string) *Spec {
	tb.Helper()
	s, err := Parse([]byte(doc))
	require.NoError(tb, err)
	return s
}

// details extracts the Detail of each violation.
func details(vs []Violation) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Detail)
	}
	return out
}

// TestDocuSignSpecsResolve walks every schema reachable from every operation
// of both documents: each definition parses, nothing cycles, and the only
// $ref that leads nowhere is the one known to be dangling in the eSignature
// document. It also records how long loading takes.
func TestDocuSignSpecsResolve(t *testing.T) {
	t.Parallel()
	start := time.Now()
	admin, esign := mustDocuSignSpecs(t)
	t.Logf("loaded both documents in %v", time.Since(start))

	for _, tt := range []struct {
		name       string
		spec       *Spec
		basePath   string
		minOps     int
		unresolved []string
	}{
		{name: "admin", spec: admin, basePath: "/Management", minOps: 70},
		{name: "esignature", spec: esign, basePath: "/restapi", minOps: 350,
			unresolved: []string{`unresolved $ref "#/definitions/offlineAttributes"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.basePath, tt.spec.BasePath)
			ops := tt.spec.Operations()
			require.GreaterOrEqual(t, len(ops), tt.minOps)
			w := &walker{spec: tt.spec, seen: map[*schema]bool{}, problems: map[string]bool{}}
			for _, op := range ops {
				require.NotEmpty(t, op.OperationID, "%s %s", op.Method, op.Path)
				if op.body != nil && op.body.Schema != nil {
					w.walk(op.body.Schema)
				}
				for _, resp := range op.responses {
					if resp != nil && resp.Schema != nil {
						w.walk(resp.Schema)
					}
				}
			}
			require.Greater(t, len(w.seen), 10)
			require.Equal(t, tt.unresolved, nilIfEmpty(sortedKeys(w.problems)))
		})
	}
}

// walker resolves every schema below a starting point, collecting problems.
type walker struct {
	spec     *Spec
	seen     map[*schema]bool
	problems map[string]bool
}

func (w *walker) walk(sc *schema) {
	flat, err := w.spec.flatten(sc, map[*schema]bool{})
	if err != nil {
		w.problems[err.Error()] = true
		return
	}
	if w.seen[flat] {
		return
	}
	w.seen[flat] = true
	if _, extra, err := flat.additional(); err != nil {
		w.problems[err.Error()] = true
	} else if extra != nil {
		w.walk(extra)
	}
	if flat.Items != nil {
		w.walk(flat.Items)
	}
	for _, p := range flat.Properties {
		w.walk(p)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		doc  string
		want string
	}{
		{name: "not JSON", doc: `{`, want: "decode"},
		{name: "OpenAPI 3", doc: `{"openapi":"3.0.0","paths":{}}`, want: `swagger version ""`},
		{
			name: "unresolved parameter ref",
			doc:  `{"swagger":"2.0","paths":{"/a":{"get":{"parameters":[{"$ref":"#/parameters/nope"}]}}}}`,
			want: `unresolved $ref "#/parameters/nope"`,
		},
		{
			name: "unsupported response ref",
			doc:  `{"swagger":"2.0","paths":{"/a":{"get":{"responses":{"200":{"$ref":"other.json#/x"}}}}}}`,
			want: `unsupported $ref "other.json#/x"`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.doc))
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "openapi:")
}
