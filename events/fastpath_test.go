package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func seedBodies(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(tb, err)
	require.NotEmpty(tb, files)
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(tb, err)
		out = append(out, b)
	}
	return out
}

// checkFastPath asserts the fast path's contract on one body: what it
// accepts, the schema accepts, and it builds the same event as the
// schema-validated path.
func checkFastPath(t *testing.T, d *Decoder, body []byte) (accepted bool) {
	t.Helper()
	ev, ok := d.fastDecode(nil, false, body)
	if !ok {
		return false
	}
	doc, err := unmarshalJSON(body)
	require.NoError(t, err, "fast path accepted what encoding/json rejects: %q", body)
	require.NoError(t, d.schema.s.Validate(doc), "fast path accepted what the schema rejects: %s", body)
	slow, err := fromStructured(body)
	require.NoError(t, err)
	normalise(ev)
	normalise(slow)
	require.Equal(t, slow, ev)
	return true
}

func TestFastPath(t *testing.T) {
	t.Parallel()
	d, err := NewDecoder(0)
	require.NoError(t, err)

	// Ordinary events take the fast path.
	for _, b := range seedBodies(t) {
		require.True(t, checkFastPath(t, d, b), "%s", b)
	}

	// Edge cases on either side of the schema's limits.
	raw, err := os.ReadFile("testdata/joined.json")
	require.NoError(t, err)
	joined := string(raw)
	cases := []struct {
		name   string
		body   string
		accept bool
	}{
		{"lower-case t in time", strings.Replace(joined, "2026-11-01T09:00:00Z", "2026-11-01t09:00:00z", 1), false},
		{"offset time", strings.Replace(joined, "2026-11-01T09:00:00Z", "2026-11-01T09:00:00.123+05:30", 1), true},
		{"ten fraction digits", strings.Replace(joined, "2026-11-01T09:00:00Z", "2026-11-01T09:00:00.1234567890Z", 1), false},
		{"leap day", strings.Replace(joined, "2026-11-01T09:00:00Z", "2028-02-29T09:00:00Z", 1), true},
		{"no leap day", strings.Replace(joined, "2026-11-01T09:00:00Z", "2027-02-29T09:00:00Z", 1), false},
		{"256 code points", strings.Replace(joined, `"Ada"`, `"`+strings.Repeat("é", 256)+`"`, 1), true},
		{"257 code points", strings.Replace(joined, `"Ada"`, `"`+strings.Repeat("é", 257)+`"`, 1), false},
		{"empty job title", strings.Replace(joined, `"Analyst"`, `""`, 1), true},
		{"null job title", strings.Replace(joined, `"Analyst"`, `null`, 1), false},
		{"number in unknown field", strings.Replace(joined, `"cost_center"`, `"badge": 7, "cost_center"`, 1), true},
		{"upper-case field", strings.Replace(joined, `"cost_center"`, `"Cost_center"`, 1), false},
		{"extension attribute", strings.Replace(joined, `"specversion"`, `"traceparent": "x", "specversion"`, 1), true},
		{"content type with parameters", strings.Replace(joined, `"application/json"`, `"application/json; charset=utf-8"`, 1), true},
		{"vendor json content type", strings.Replace(joined, `"application/json"`, `"application/vnd.hr+json"`, 1), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.accept, checkFastPath(t, d, []byte(c.body)))
		})
	}
}

// FuzzFastPath checks the fast path against the schema file on arbitrary
// input: it never accepts what the schema rejects, and builds the same
// event as the schema-validated path.
func FuzzFastPath(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b)
	}
	d, err := NewDecoder(0)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastPath(t, d, body)
	})
}

// FuzzFastParse checks the fast JSON parser against encoding/json: what it
// accepts, encoding/json accepts and reads into the same tree.
func FuzzFastParse(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b)
	}
	for _, s := range []string{`{"a":[1,-0.5e+3,true,false,null,{}]}`, `"caf\u00e9"`, `{"é":"ü"}`, `[[[[]]]]`, `01`, `{"a":1,"a":"x"}`, ` {} `, `{"k":"\xff"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := fastParse(body)
		if !ok {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var want any
		require.NoError(t, dec.Decode(&want), "%q", body)
		_, err := dec.Token()
		require.Error(t, err, "trailing data accepted: %q", body)
		require.Equal(t, numbersAsFast(want), got, "%q", body)
	})
}

func numbersAsFast(v any) any {
	switch v := v.(type) {
	case json.Number:
		return fastNumber{}
	case map[string]any:
		for k, x := range v {
			v[k] = numbersAsFast(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbersAsFast(x)
		}
	}
	return v
}
