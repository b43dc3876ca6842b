package rules_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/jml-sync/docusign-worker/rules"
)

// compileSchema compiles schema/rules.schema.json on its own.
func compileSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	onDisk, err := os.ReadFile("schema/rules.schema.json")
	require.NoError(tb, err)
	require.Equal(tb, onDisk, rules.SchemaJSON())
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(onDisk))
	require.NoError(tb, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(tb, c.AddResource("rules.schema.json", doc))
	sch, err := c.Compile("rules.schema.json")
	require.NoError(tb, err)
	return sch
}

// yamlToJSON converts a YAML file to the JSON value the schema validates.
func yamlToJSON(tb testing.TB, name string) any {
	tb.Helper()
	data, err := os.ReadFile(name)
	require.NoError(tb, err)
	var v any
	require.NoError(tb, yaml.Unmarshal(data, &v))
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(tb, err)
	return inst
}

// TestSchema: every valid testdata file passes the schema (and Parse), every invalid one fails it (and Parse).
func TestSchema(t *testing.T) {
	t.Parallel()

	sch := compileSchema(t)
	valid, err := filepath.Glob("testdata/*.yaml")
	require.NoError(t, err)
	require.Contains(t, valid, filepath.Join("testdata", "example.yaml"))
	for _, name := range valid {
		t.Run(filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			require.NoError(t, sch.Validate(yamlToJSON(t, name)))
			_, err := rules.Load(name)
			require.NoError(t, err)
		})
	}
	// What the schema says about each invalid file.
	reasons := map[string]string{
		"bad-match.yaml":       "at '/match': value must be one of 'first', 'merge'",
		"missing-name.yaml":    "at '/rules/0': missing property 'name'",
		"two-operators.yaml":   "at '/rules/0/when/department': maxProperties: got 2, want 1",
		"unknown-key.yaml":     "invalid propertyName 'departmnet'",
		"unknown-setting.yaml": "invalid propertyName 'canSendEnvelop'",
	}
	invalid, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.Len(t, invalid, len(reasons))
	for _, name := range invalid {
		t.Run("invalid/"+filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			err := sch.Validate(yamlToJSON(t, name))
			require.ErrorContains(t, err, reasons[filepath.Base(name)])
			_, err = rules.Load(name)
			require.Error(t, err)
		})
	}
}
