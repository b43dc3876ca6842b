package rules

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrLookup is wrapped by the problems Validate reports when a Directory look-up failed (network, authentication,
// rate limit), as opposed to a name DocuSign does not know: errors.Is(err, ErrLookup) says that the file may well
// be right and that the check should be retried later.
var ErrLookup = errors.New("rules: directory look-up failed")

// Problem is one thing wrong in a rules file.
type Problem struct {
	// File is the name given to Parse (the path for Load).
	File string
	// Line is the 1-based line the problem is on; 0 when it concerns the whole file.
	Line int
	// Message says what is wrong and how to fix it.
	Message string
	// Err is the cause of a failed Directory look-up (it wraps ErrLookup); nil for problems in the file itself.
	Err error
}

// String formats the problem as "file:line: message", the form editors and CI logs link to.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// MaxProblems bounds the problems a ValidationError lists; the rest are only counted (Omitted).
const MaxProblems = 100

// ValidationError is returned by Parse, Load and Validate: every problem found, ordered by line.
type ValidationError struct {
	// Problems holds one entry per problem, at most MaxProblems; never empty.
	Problems []Problem
	// Omitted counts the problems left out beyond MaxProblems.
	Omitted int
}

// newValidationError orders problems by line (stable) and keeps the first MaxProblems; nil for none.
func newValidationError(problems []Problem) *ValidationError {
	if len(problems) == 0 {
		return nil
	}
	slices.SortStableFunc(problems, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	e := &ValidationError{Problems: problems}
	if len(problems) > MaxProblems {
		e.Problems, e.Omitted = problems[:MaxProblems:MaxProblems], len(problems)-MaxProblems
	}
	return e
}

// Error lists the problems, one per line, after a count when there are several.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 && e.Omitted == 0 {
		return "rules: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rules: %d problems:", len(e.Problems)+e.Omitted)
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.String())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "\n... and %d more", e.Omitted)
	}
	return b.String()
}

// Unwrap returns the causes of failed look-ups, so errors.Is(err, ErrLookup) finds them.
func (e *ValidationError) Unwrap() []error {
	var errs []error
	for _, p := range e.Problems {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// LookupOnly reports whether every problem is a failed look-up: the file itself showed nothing wrong, the check
// could not be completed.
func (e *ValidationError) LookupOnly() bool {
	for _, p := range e.Problems {
		if p.Err == nil {
			return false
		}
	}
	return len(e.Problems) > 0
}
