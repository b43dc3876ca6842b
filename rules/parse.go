package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the size of a rules file, in bytes.
const MaxFileSize = 4 << 20

// Load reads the rules file at path and parses it; problems name the file by path.
func Load(path string) (*Set, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readFile reads at most MaxFileSize bytes of path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("rules: read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("rules: %s is larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// Parse parses a rules file: YAML syntax, structure, unknown keys, required fields, duplicate rule names, matcher
// syntax, regular expressions and user setting names. It reports every problem at once in a *ValidationError, each
// as "name:line: message". Names in DocuSign (accounts, profiles, groups) are checked by Validate.
func Parse(name string, data []byte) (*Set, error) {
	p := &parser{file: name}
	s := p.document(data)
	if ve := newValidationError(p.probs); ve != nil {
		return nil, ve
	}
	sum := sha256.Sum256(data)
	s.name, s.version = name, hex.EncodeToString(sum[:])
	return s, nil
}

// parser collects the problems of one file.
type parser struct {
	file  string
	probs []Problem
}

// entry is one key: value pair of a mapping.
type entry struct {
	key, val *yaml.Node
}

func (p *parser) addf(line int, format string, args ...any) {
	p.probs = append(p.probs, Problem{File: p.file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// Top-level keys.
const (
	keyVersion       = "version"
	keyMatch         = "match"
	keyEventAccounts = "event_accounts"
	keyDefaults      = "defaults"
	keyScope         = "scope"
	keyRules         = "rules"
)

func (p *parser) document(data []byte) *Set {
	if len(data) > MaxFileSize {
		p.addf(0, "the file is larger than %d bytes", MaxFileSize)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || (err == nil && len(doc.Content) == 0) {
		p.addf(0, `the file is empty; start it with "version: 1"`)
		return nil
	}
	if err != nil {
		p.yamlError(err)
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		p.addf(next.Line, `a second YAML document starts here; a rules file holds one document (remove the "---")`)
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}

	root := doc.Content[0]
	top, ok := p.mapping(root, "the file", []string{keyVersion, keyMatch, keyEventAccounts, keyDefaults, keyScope,
		keyRules})
	if !ok {
		return nil
	}
	s := &Set{precedence: PreferEvent, scope: scope{onExit: ExitClose}}

	if e, ok := top[keyVersion]; !ok {
		p.addf(root.Line, `missing "version"; add "version: 1" at the top`)
	} else if v, ok := p.scalar(e.val, keyVersion); ok && strings.TrimSpace(v) != "1" {
		p.addf(e.val.Line, "version %q is not supported; this worker reads version 1", v)
	}

	if e, ok := top[keyMatch]; !ok {
		p.addf(root.Line, `missing "match"; say how matching rules combine: "match: first" (the first matching `+
			`rule wins) or "match: merge" (every matching rule contributes)`)
	} else if v, ok := p.scalar(e.val, keyMatch); ok {
		switch m := MatchMode(v); m {
		case MatchFirst, MatchMerge:
			s.match = m
		default:
			p.addf(e.val.Line, `match %q is not a mode; use "first" (the first matching rule wins) or "merge" `+
				`(every matching rule contributes)`, v)
		}
	}

	if e, ok := top[keyEventAccounts]; ok {
		if v, ok := p.scalar(e.val, keyEventAccounts); ok {
			switch pr := Precedence(v); pr {
			case PreferEvent, PreferRules, MergeAccounts:
				s.precedence = pr
			default:
				p.addf(e.val.Line, `event_accounts %q is not a precedence; use "prefer_event" (the default), `+
					`"prefer_rules" or "merge"`, v)
			}
		}
	}

	if e, ok := top[keyDefaults]; ok && !isNull(e.val) {
		s.defaults = p.defaults(e.val)
	}
	if e, ok := top[keyScope]; ok && !isNull(e.val) {
		p.scope(e.val, &s.scope)
	}
	if e, ok := top[keyRules]; ok && !isNull(e.val) {
		s.rules = p.rules(e.val)
	}
	return s
}

// yamlError turns a yaml.v3 syntax error ("yaml: line 5: did not find expected key") into a problem.
func (p *parser) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				p.addf(line, "YAML syntax error: %s", text)
				return
			}
		}
	}
	p.addf(0, "YAML syntax error: %s", msg)
}

func (p *parser) defaults(n *yaml.Node) accountSpec {
	a, fields := p.account(n, keyDefaults, false)
	if a.id == "" {
		for _, k := range []string{"groups", "settings"} {
			if e, ok := fields[k]; ok && !isNull(e.val) {
				p.addf(e.key.Line, "defaults.%s needs defaults.account_id: they apply to the default account only; "+
					"add account_id or remove %s", k, k)
			}
		}
	}
	return a
}

func (p *parser) rules(n *yaml.Node) []rule {
	items, ok := p.sequence(n, keyRules)
	if !ok {
		return nil
	}
	out := make([]rule, 0, len(items))
	first := map[string]int{}
	for i, item := range items {
		r, ok := p.rule(item, i)
		if !ok {
			continue
		}
		if prev, dup := first[strings.ToLower(r.name)]; dup {
			p.addf(r.line, "duplicate rule name %q (first at line %d); rule names must be unique", r.name, prev)
			continue
		}
		first[strings.ToLower(r.name)] = r.line
		out = append(out, r)
	}
	return out
}

func (p *parser) rule(n *yaml.Node, index int) (rule, bool) {
	what := fmt.Sprintf("rule %d", index+1)
	fields, ok := p.mapping(n, what, []string{"name", "description", "when", "accounts"})
	if !ok {
		return rule{}, false
	}
	r := rule{line: n.Line}
	if e, ok := fields["name"]; !ok {
		p.addf(n.Line, `%s has no name; add "name: ..." (unique; it appears in audit records and plans)`, what)
	} else if v, ok := p.scalar(e.val, what+", name"); ok {
		switch r.name = strings.TrimSpace(v); {
		case r.name == "":
			p.addf(e.val.Line, "%s has an empty name; give it a unique name", what)
		case strings.EqualFold(r.name, DefaultsRule):
			p.addf(e.val.Line, "%s: the name %q is reserved for the default account in decisions; choose another",
				what, r.name)
			r.name = ""
		default:
			what = fmt.Sprintf("rule %q", r.name)
			r.line = e.val.Line
		}
	}
	if e, ok := fields["description"]; ok && !isNull(e.val) {
		p.scalar(e.val, what+", description")
	}
	if e, ok := fields["when"]; ok && !isNull(e.val) {
		r.when = p.matchers(e.val, what+", when")
	}
	if e, ok := fields["accounts"]; !ok || isNull(e.val) {
		p.addf(n.Line, "%s has no accounts; add at least one {account_id, permission_profile, groups} "+
			"(use scope to leave employees out)", what)
	} else if items, ok := p.sequence(e.val, what+", accounts"); ok {
		if len(items) == 0 {
			p.addf(e.val.Line, "%s has an empty accounts list; add at least one account", what)
		}
		seen := map[string]int{}
		for _, item := range items {
			a, _ := p.account(item, what, true)
			if a.id == "" {
				continue
			}
			if prev, dup := seen[strings.ToLower(a.id)]; dup {
				p.addf(a.idLine, "%s names account %s twice (first at line %d); put its groups and settings in one "+
					"entry", what, a.id, prev)
				continue
			}
			seen[strings.ToLower(a.id)] = a.idLine
			r.accounts = append(r.accounts, a)
		}
	}
	return r, r.name != ""
}

// account parses one account mapping: a rule's (needID; what names the rule) or "defaults" (what). It also
// returns the fields found.
func (p *parser) account(n *yaml.Node, what string, needID bool) (accountSpec, map[string]entry) {
	base, sep := "defaults", "."
	if needID {
		base, sep = what+", account", ", "
		if id := peekScalar(n, "account_id"); id != "" {
			base += " " + id
		}
	}
	fields, ok := p.mapping(n, base, []string{"account_id", "permission_profile", "groups", "settings"})
	if !ok {
		return accountSpec{}, nil
	}
	var a accountSpec
	if e, ok := fields["account_id"]; ok && !isNull(e.val) {
		if v, ok := p.scalar(e.val, base+sep+"account_id"); ok {
			if a.id = strings.TrimSpace(v); a.id == "" {
				p.addf(e.val.Line, "%s%saccount_id is empty; write the DocuSign account id (a GUID)", base, sep)
			}
			a.idLine = e.val.Line
		}
	} else if needID {
		p.addf(n.Line, "%s has no account_id; add the DocuSign account id (a GUID)", base)
	}
	sub := func(key string) string { return base + sep + key }
	if e, ok := fields["permission_profile"]; ok && !isNull(e.val) {
		if v, ok := p.scalar(e.val, sub("permission_profile")); ok {
			if a.profile = strings.TrimSpace(v); a.profile == "" {
				p.addf(e.val.Line, "%s is empty; name a profile or remove the key", sub("permission_profile"))
			}
			a.profileLine = e.val.Line
		}
	}
	if e, ok := fields["groups"]; ok && !isNull(e.val) {
		names, lines, _ := p.stringList(e.val, sub("groups"))
		for i, g := range names {
			if j := slices.Index(a.groups, g); j >= 0 {
				p.addf(lines[i], "%s: group %q is listed twice (first at line %d)", sub("groups"), g, a.groupLines[j])
				continue
			}
			a.groups = append(a.groups, g)
			a.groupLines = append(a.groupLines, lines[i])
		}
	}
	if e, ok := fields["settings"]; ok && !isNull(e.val) {
		a.settings = p.settings(e.val, sub("settings"))
	}
	return a, fields
}

// settings parses a user settings mapping.
func (p *parser) settings(n *yaml.Node, what string) map[string]string {
	entries, ok := p.entries(n, what)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, e := range entries {
		k := e.key.Value
		if !isUserSetting(k) {
			msg := "unknown user setting " + strconv.Quote(k)
			if len(p.probs) < MaxProblems {
				msg = unknownSetting(k)
			}
			p.addf(e.key.Line, "%s: %s", what, msg)
			continue
		}
		v, ok := p.scalar(e.val, what+": "+k)
		if !ok {
			continue
		}
		if v = strings.TrimSpace(v); v == "" {
			p.addf(e.val.Line, "%s: %s is empty; give a value or remove the key to leave the setting alone", what, k)
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// unknownSetting explains why name is not a settable user setting.
func unknownSetting(name string) string {
	switch {
	case slices.Contains(readOnlySettings, name):
		return fmt.Sprintf("user setting %q is written by DocuSign and cannot be set", name)
	case slices.Contains(nonStringSettings, name):
		return fmt.Sprintf("user setting %q is an object or a list in userSettingsInformation; rules set string "+
			"settings only", name)
	case strings.HasSuffix(name, "Metadata"):
		return fmt.Sprintf("%q is a read-only description of a setting, not a setting", name)
	}
	for _, s := range userSettings {
		if strings.EqualFold(s, name) {
			return fmt.Sprintf("unknown user setting %q (did you mean %q? names are case-sensitive)", name, s)
		}
	}
	return fmt.Sprintf("unknown user setting %q%s; settings are the property names of userSettingsInformation "+
		"in the eSignature v2.1 API (e.g. canSendEnvelope, locale)", name, suggest(name, userSettings))
}

// scope parses the "scope" section into sc.
func (p *parser) scope(n *yaml.Node, sc *scope) {
	fields, ok := p.mapping(n, keyScope, []string{"include", "exclude", "include_employees", "exclude_employees",
		"include_email_domains", "exclude_email_domains", "on_exit"})
	if !ok {
		return
	}
	if e, ok := fields["include"]; ok && !isNull(e.val) {
		sc.include = p.matchers(e.val, "scope.include")
		if sc.include == nil {
			sc.include = []matcher{}
			if e.val.Kind == yaml.MappingNode && len(e.val.Content) == 0 {
				p.addf(e.val.Line, "scope.include is empty; remove it to include everyone, or add matchers")
			}
		}
	}
	if e, ok := fields["exclude"]; ok && !isNull(e.val) {
		sc.exclude = p.matchers(e.val, "scope.exclude")
		if sc.exclude == nil && e.val.Kind == yaml.MappingNode && len(e.val.Content) == 0 {
			p.addf(e.val.Line, "scope.exclude is empty, which would exclude everyone; remove it or add matchers")
		}
	}
	var incLines, excLines map[string]int
	sc.includeIDs, incLines = p.idSet(fields, "include_employees", normalizeID)
	sc.excludeIDs, excLines = p.idSet(fields, "exclude_employees", normalizeID)
	p.overlap(incLines, excLines, "employee %s is in both include_employees and exclude_employees (line %d); "+
		"exclude_employees would win: remove one")
	sc.includeDomains, incLines = p.idSet(fields, "include_email_domains", p.domain)
	sc.excludeDomains, excLines = p.idSet(fields, "exclude_email_domains", p.domain)
	p.overlap(incLines, excLines, "domain %s is in both include_email_domains and exclude_email_domains "+
		"(line %d); remove one")
	if e, ok := fields["on_exit"]; ok && !isNull(e.val) {
		if v, ok := p.scalar(e.val, "scope.on_exit"); ok {
			switch ep := ExitPolicy(v); ep {
			case ExitClose, ExitIgnore:
				sc.onExit = ep
			default:
				p.addf(e.val.Line, `scope.on_exit %q is not a policy; use "close" (close the user like a leaver's, `+
					`the default) or "ignore" (leave the user alone)`, v)
			}
		}
	}
}

// normalizeID normalises an employee id of a scope list.
func normalizeID(_ int, v string) (string, bool) {
	return strings.ToLower(strings.TrimSpace(v)), true
}

// domain normalises an email domain of a scope list, reporting malformed ones.
func (p *parser) domain(line int, v string) (string, bool) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), ".")
	switch {
	case strings.Contains(d, "@"):
		p.addf(line, "email domain %q: write the domain without the @ (%s)", v, d[strings.LastIndexByte(d, '@')+1:])
		return "", false
	case strings.ContainsAny(d, " \t/*"):
		p.addf(line, "email domain %q is not a domain; write it as in corp.example (no wildcards: list "+
			"subdomains one by one)", v)
		return "", false
	}
	return d, true
}

// idSet parses an optional list of scope values into a set (nil when the key is absent), with each value's line.
func (p *parser) idSet(fields map[string]entry, key string, norm func(int, string) (string, bool),
) (map[string]bool, map[string]int) {
	e, ok := fields[key]
	if !ok || isNull(e.val) {
		return nil, nil
	}
	values, lines, _ := p.stringList(e.val, "scope."+key)
	set, at := map[string]bool{}, map[string]int{}
	for i, v := range values {
		if n, ok := norm(lines[i], v); ok {
			set[n] = true
			if _, seen := at[n]; !seen {
				at[n] = lines[i]
			}
		}
	}
	return set, at
}

// overlap reports values present in both include and exclude lists (format: value, exclude line).
func (p *parser) overlap(inc, exc map[string]int, format string) {
	for _, v := range slices.Sorted(maps.Keys(inc)) {
		if other, ok := exc[v]; ok {
			p.addf(inc[v], format, v, other)
		}
	}
}

// matchers parses a mapping of field → matcher (a rule's "when", scope.include, scope.exclude).
func (p *parser) matchers(n *yaml.Node, what string) []matcher {
	entries, ok := p.entries(n, what)
	if !ok {
		return nil
	}
	var out []matcher
	for _, e := range entries {
		field := e.key.Value
		if !validField(field) {
			msg := "unknown field " + strconv.Quote(field)
			if len(p.probs) < MaxProblems {
				msg = unknownField(field)
			}
			p.addf(e.key.Line, "%s: %s", what, msg)
			continue
		}
		fw := what + "." + field
		m := matcher{field: field}
		v := e.val
		switch {
		case v.Kind == yaml.MappingNode:
			ops, ok := p.entries(v, fw)
			if !ok {
				continue
			}
			if len(ops) != 1 {
				p.addf(v.Line, "%s: give exactly one of equals, in, prefix, regex (found %d); to combine "+
					"conditions on one field use regex", fw, len(ops))
				continue
			}
			op := ops[0]
			m.op = op.key.Value
			if !p.operand(&m, op, fw) {
				continue
			}
		case v.Kind == yaml.SequenceNode:
			p.addf(v.Line, "%s: a list is not a matcher; to match any of several values write {in: [...]}", fw)
			continue
		case isNull(v):
			p.addf(v.Line, "%s has no value; write a value to compare with, or {equals|in|prefix|regex: ...}", fw)
			continue
		default:
			s, ok := p.scalar(v, fw)
			if !ok {
				continue
			}
			if s = strings.TrimSpace(s); s == "" {
				p.addf(v.Line, "%s: an empty value never matches (a missing field matches nothing); remove the "+
					"matcher or give a value", fw)
				continue
			}
			m.op, m.values = opEquals, []string{strings.ToLower(s)}
		}
		out = append(out, m)
	}
	return out
}

// operand parses the operand of an explicit matcher operator into m.
func (p *parser) operand(m *matcher, op entry, what string) bool {
	what += "." + op.key.Value
	switch m.op {
	case opEquals, opPrefix:
		s, ok := p.scalar(op.val, what)
		if !ok {
			return false
		}
		if s = strings.TrimSpace(s); s == "" {
			p.addf(op.val.Line, "%s: an empty value never matches (a missing field matches nothing); remove the "+
				"matcher or give a value", what)
			return false
		}
		m.values = []string{strings.ToLower(s)}
	case opIn:
		values, lines, ok := p.stringList(op.val, what)
		if !ok {
			return false
		}
		if len(values) == 0 {
			p.addf(op.val.Line, "%s is empty and would never match; list at least one value", what)
			return false
		}
		for i, v := range values {
			if v == "" {
				p.addf(lines[i], "%s: an empty value never matches; remove it", what)
				return false
			}
			m.values = append(m.values, strings.ToLower(v))
		}
	case opRegex:
		s, ok := p.scalar(op.val, what)
		if !ok {
			return false
		}
		if s == "" {
			p.addf(op.val.Line, "%s is empty and matches every present value; remove the matcher or write an "+
				"expression", what)
			return false
		}
		re, err := regexp.Compile(s)
		if err != nil {
			p.addf(op.val.Line, "%s: invalid regular expression %q: %v; fix it (Go RE2 syntax, "+
				"https://golang.org/s/re2syntax)", what, s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			return false
		}
		m.re = re
	default:
		p.addf(op.key.Line, "%s: unknown matcher%s; use equals, in, prefix or regex", what,
			p.suggest(op.key.Value, operators()))
		return false
	}
	return true
}

// validField reports whether a matcher can test field.
func validField(field string) bool {
	if key, ok := strings.CutPrefix(field, attributesPrefix); ok {
		return strings.TrimSpace(key) != ""
	}
	return slices.Contains(fieldNames(), field)
}

// unknownField explains an invalid matcher field.
func unknownField(field string) string {
	if field == "attributes" || field == attributesPrefix {
		return fmt.Sprintf("%q needs a key: write attributes.<key>, e.g. attributes.level", field)
	}
	known := append(fieldNames(), "attributes")
	if i := strings.IndexByte(field, '.'); i > 0 {
		if s := suggest(field[:i], []string{"attributes"}); s != "" {
			return fmt.Sprintf("unknown field %q; did you mean %q?", field, attributesPrefix+field[i+1:])
		}
	}
	return fmt.Sprintf("unknown field %q%s; fields are %s and attributes.<key>", field, suggest(field, known),
		strings.Join(fieldNames(), ", "))
}

// mapping checks that n is a mapping and returns its entries by key, reporting duplicate keys and keys not in
// known.
func (p *parser) mapping(n *yaml.Node, what string, known []string) (map[string]entry, bool) {
	entries, ok := p.entries(n, what)
	if !ok {
		return nil, false
	}
	out := make(map[string]entry, len(entries))
	for _, e := range entries {
		if !slices.Contains(known, e.key.Value) {
			p.addf(e.key.Line, "%s: unknown key %q%s; known keys: %s", what, e.key.Value,
				p.suggest(e.key.Value, known), strings.Join(known, ", "))
			continue
		}
		out[e.key.Value] = e
	}
	return out, true
}

// entries checks that n is a mapping with plain, unique keys and returns its entries in file order.
func (p *parser) entries(n *yaml.Node, what string) ([]entry, bool) {
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "%s must be a mapping (key: value lines), not %s", what, describe(n))
		return nil, false
	}
	out := make([]entry, 0, len(n.Content)/2)
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(k) {
			p.addf(k.Line, "%s: keys must be plain words, not %s", what, describe(k))
			continue
		}
		if prev, dup := first[k.Value]; dup {
			p.addf(k.Line, "%s: duplicate key %q (first at line %d); keep one", what, k.Value, prev)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, entry{key: k, val: v})
	}
	return out, true
}

// sequence checks that n is a list and returns its items.
func (p *parser) sequence(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		p.addf(n.Line, "%s must be a list (lines starting with \"- \" or [a, b]), not %s", what, describe(n))
		return nil, false
	}
	return n.Content, true
}

// stringList parses a list of non-empty values, trimmed, with their lines.
func (p *parser) stringList(n *yaml.Node, what string) ([]string, []int, bool) {
	items, ok := p.sequence(n, what)
	if !ok {
		return nil, nil, false
	}
	values, lines := make([]string, 0, len(items)), make([]int, 0, len(items))
	all := true
	for _, item := range items {
		v, ok := p.scalar(item, what)
		if !ok {
			all = false
			continue
		}
		if v = strings.TrimSpace(v); v == "" {
			p.addf(item.Line, "%s: empty entry; remove it", what)
			all = false
			continue
		}
		values, lines = append(values, v), append(lines, item.Line)
	}
	return values, lines, all
}

// scalar returns the text of a single value: strings, numbers and dates as written, booleans as "true" or
// "false". Null, lists, mappings, aliases and custom tags are reported.
func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
	case yaml.AliasNode:
		p.addf(n.Line, "%s: aliases (*%s) are not supported; write the value out", what, n.Value)
		return "", false
	default:
		p.addf(n.Line, "%s must be a single value, not %s", what, describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
		return n.Value, true
	case "!!bool":
		return strings.ToLower(n.Value), true
	case "!!null":
		p.addf(n.Line, "%s has no value; write one or remove the key", what)
	default:
		p.addf(n.Line, "%s: the YAML tag %s is not supported; write a plain value", what, n.Tag)
	}
	return "", false
}

// peekScalar returns the trimmed text of key's value in the mapping n when it is a plain value, for naming n in
// messages before n is checked; "" otherwise.
func peekScalar(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == key && v.Kind == yaml.ScalarNode && !isNull(v) {
			return strings.TrimSpace(v.Value)
		}
	}
	return ""
}

// isNull reports whether n is an explicit or implicit null ("key:" with nothing after it).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names the kind of a node for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias (aliases are not supported)"
	case yaml.DocumentNode:
		return "a document"
	}
	if isNull(n) {
		return "nothing"
	}
	return fmt.Sprintf("the value %q", n.Value)
}

// suggest returns ` (did you mean "x"?)` for the known word closest to word (case-insensitive, at most 2 edits,
// or a prefix of it), or "" (also once MaxProblems problems are reported).
func (p *parser) suggest(word string, known []string) string {
	if len(p.probs) >= MaxProblems {
		return "" // the problem will not be shown; spare the distance computations
	}
	return suggest(word, known)
}

// suggest returns ` (did you mean "x"?)` for the known word closest to word, as parser.suggest.
func suggest(word string, known []string) string {
	if len(word) > maxSuggestLen {
		return ""
	}
	best, bestD := "", 3
	lw := strings.ToLower(word)
	for _, k := range known {
		lk := strings.ToLower(k)
		d := editDistance(lw, lk)
		if len(lw) >= 4 && (strings.HasPrefix(lk, lw) || strings.HasPrefix(lw, lk)) {
			d = min(d, 2) // a truncated or extended word: "account" for "account_id"
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// maxSuggestLen bounds the words suggest compares (the distance costs len(a)·len(b)).
const maxSuggestLen = 64

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
