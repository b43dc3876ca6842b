package openapi

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownPath means no path template of the document matches the path.
var ErrUnknownPath = errors.New("openapi: no operation matches the path")

// ErrUnknownMethod means the path matches a template that does not declare
// the method.
var ErrUnknownMethod = errors.New("openapi: method not declared for the path")

// segment is one "/"-separated part of a path template.
type segment struct {
	literal string
	param   bool // a {parameter}: matches any non-empty segment
}

// Match finds the operation for method and path. The path is taken relative
// to the document's basePath; a leading basePath is removed first, compared
// without regard to case (the Admin API document says "/Management", its
// hosts serve "/management"). Among templates that match, the one with a
// literal segment at the first position where they differ wins, so
// /users/profile is preferred to /users/{userId}. The method is then looked up
// on that template only.
func (s *Spec) Match(method, path string) (*Operation, error) {
	if rest, ok := cutPrefixFold(path, s.BasePath); ok {
		path = rest
	}
	parts := splitPath(path)
	var best *route
	for _, r := range s.routes {
		if r.matches(parts) && (best == nil || r.moreSpecific(best)) {
			best = r
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPath, path)
	}
	op, ok := best.ops[strings.ToUpper(method)]
	if !ok {
		return nil, fmt.Errorf("%w: %s %s (template %s)", ErrUnknownMethod, strings.ToUpper(method), path, best.template)
	}
	return op, nil
}

func (r *route) matches(parts []string) bool {
	if len(parts) != len(r.segments) {
		return false
	}
	for i, seg := range r.segments {
		if seg.param {
			if parts[i] == "" {
				return false
			}
		} else if parts[i] != seg.literal {
			return false
		}
	}
	return true
}

// moreSpecific reports whether r has a literal segment where other has a
// parameter, at the first position where the two differ.
func (r *route) moreSpecific(other *route) bool {
	for i := range r.segments {
		if r.segments[i].param != other.segments[i].param {
			return !r.segments[i].param
		}
	}
	return false
}

// splitPath splits "/a/b" into ["a", "b"].
func splitPath(path string) []string {
	return strings.Split(strings.TrimPrefix(path, "/"), "/")
}

// cutPrefixFold removes prefix from path when path equals it or continues
// with "/" after it, comparing without regard to case.
func cutPrefixFold(path, prefix string) (string, bool) {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" || len(path) < len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return path, false
	}
	rest := path[len(prefix):]
	if rest != "" && rest[0] != '/' {
		return path, false
	}
	return rest, true
}
