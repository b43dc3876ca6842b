package rules_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/rules"
)

// BenchmarkEvaluate measures one decision against the example file (scope, three rules with regexes).
func BenchmarkEvaluate(b *testing.B) {
	s, err := rules.Load("testdata/example.yaml")
	require.NoError(b, err)
	e := rules.Employee{EmployeeID: "E2", Email: "ada@example.com", Department: "Finance", JobTitle: "Analyst",
		Location: "US-NYC", EmploymentType: "employee", CostCenter: "4200", Attributes: map[string]string{"level": "L3"}}
	b.ReportAllocs()
	for b.Loop() {
		if d := s.Evaluate(e); len(d.Accounts) != 2 {
			b.Fatalf("unexpected decision %+v", d)
		}
	}
}

// BenchmarkParse measures parsing the example file.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/example.yaml")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rules.Parse("example.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
