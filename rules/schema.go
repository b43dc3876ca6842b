package rules

import (
	"bytes"
	_ "embed"
)

//go:embed schema/rules.schema.json
var schemaJSON []byte //nolint:gochecknoglobals // embedded file, read-only

// SchemaJSON returns a copy of the JSON Schema of the rules file (rules/schema/rules.schema.json), for editors and
// tools; a YAML rules file converted to JSON validates against it. Parse checks more than the schema can (regular
// expressions compile, rule names are unique, the same employee is not both included and excluded).
func SchemaJSON() []byte { return bytes.Clone(schemaJSON) }
