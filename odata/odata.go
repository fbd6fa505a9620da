// Package odata parses the OData system query options activityd supports: $filter (comparisons of a
// date-time property joined by "and"), $expand with a nested $filter, $select, $top and $count, and
// OData date-time literals. It knows nothing of HTTP or of activityd's domain, and imports only the
// standard library.
package odata

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SyntaxError reports a query option that cannot be parsed. Its message is safe to show a client.
type SyntaxError struct {
	Option string // the option at fault, such as "$filter"
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("Invalid %s: %s", e.Option, e.Msg) }

func errorf(option, format string, args ...any) error {
	return &SyntaxError{Option: option, Msg: fmt.Sprintf(format, args...)}
}

// Op is a comparison operator of $filter.
type Op string

// The comparison operators $filter supports.
const (
	Eq Op = "eq"
	Gt Op = "gt"
	Ge Op = "ge"
	Lt Op = "lt"
	Le Op = "le"
)

// Comparison is one "property op literal" term of a $filter.
type Comparison struct {
	Property string
	Op       Op
	Value    time.Time
}

// String returns the comparison in OData syntax, such that parsing it again gives the same value.
func (c Comparison) String() string {
	return c.Property + " " + string(c.Op) + " " + FormatDateTime(c.Value)
}

// Filter is a conjunction of comparisons: every one must hold.
type Filter []Comparison

// String returns the filter in OData syntax.
func (f Filter) String() string {
	parts := make([]string, len(f))
	for i, c := range f {
		parts[i] = c.String()
	}
	return strings.Join(parts, " and ")
}

// ParseFilter parses a $filter made of comparisons of a property with a date-time literal, joined by
// "and" and optionally grouped in parentheses, such as
// "lastModifiedDateTime gt 2018-01-22T21:45:00.347Z and lastModifiedDateTime lt 2018-01-22T22:00:00.347Z".
func ParseFilter(s string) (Filter, error) {
	p := &parser{option: "$filter", toks: tokenize(s)}
	if len(p.toks) == 0 {
		return nil, errorf("$filter", "the expression is empty")
	}
	f, err := p.conjunction()
	if err != nil {
		return nil, err
	}
	if !p.done() {
		return nil, errorf("$filter", "unexpected '%s'; only comparisons joined by 'and' are supported", p.peek())
	}
	return f, nil
}

type parser struct {
	option string
	toks   []string
	pos    int
}

func (p *parser) done() bool { return p.pos >= len(p.toks) }

func (p *parser) peek() string {
	if p.done() {
		return ""
	}
	return p.toks[p.pos]
}

func (p *parser) next() string { t := p.peek(); p.pos++; return t }

// maxFilterTerms bounds the work a single $filter can ask for.
const maxFilterTerms = 16

func (p *parser) conjunction() (Filter, error) {
	var f Filter
	for {
		terms, err := p.term()
		if err != nil {
			return nil, err
		}
		f = append(f, terms...)
		if len(f) > maxFilterTerms {
			return nil, errorf(p.option, "more than %d comparisons", maxFilterTerms)
		}
		if !strings.EqualFold(p.peek(), "and") {
			return f, nil
		}
		p.next()
	}
}

func (p *parser) term() (Filter, error) {
	switch t := p.next(); {
	case t == "":
		return nil, errorf(p.option, "the expression ends too early")
	case t == "(":
		if p.pos > 2*maxFilterTerms {
			return nil, errorf(p.option, "too deeply nested")
		}
		f, err := p.conjunction()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, errorf(p.option, "a '(' is not closed")
		}
		return f, nil
	case !isIdentifier(t):
		return nil, errorf(p.option, "expected a property name, found '%s'", t)
	default:
		op := Op(strings.ToLower(p.next()))
		switch op {
		case Eq, Gt, Ge, Lt, Le:
		case "":
			return nil, errorf(p.option, "the comparison of '%s' has no operator", t)
		default:
			return nil, errorf(p.option, "the operator '%s' is not supported; use eq, gt, ge, lt or le", op)
		}
		lit := p.next()
		if lit == "" {
			return nil, errorf(p.option, "the comparison of '%s' has no value", t)
		}
		v, err := ParseDateTime(lit)
		if err != nil {
			return nil, errorf(p.option, "'%s' is not a date-time value like 2018-01-22T21:45:00.347Z", lit)
		}
		return Filter{{Property: t, Op: op, Value: v}}, nil
	}
}

// tokenize splits s into parentheses and runs of other non-space characters.
func tokenize(s string) []string {
	var toks []string
	start := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r', '(', ')':
			if start >= 0 {
				toks, start = append(toks, s[start:i]), -1
			}
			if c == '(' || c == ')' {
				toks = append(toks, s[i:i+1])
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		toks = append(toks, s[start:])
	}
	return toks
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ParseDateTime parses an OData DateTimeOffset: RFC 3339 with a zone (Z or ±hh:mm) and up to 7
// fractional digits, as Graph sends and accepts them, and returns it in UTC.
func ParseDateTime(s string) (time.Time, error) {
	// Go accepts up to 9 fractional digits and some forms RFC 3339 does not; check the shape first.
	if len(s) < len("2006-01-02T15:04:05Z") || len(s) > len("2006-01-02T15:04:05.1234567+00:00") ||
		(s[10] != 'T' && s[10] != 't') {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time with a zone", s)
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		j := i + 1
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j-i-1 < 1 || j-i-1 > 7 {
			return time.Time{}, fmt.Errorf("%q has %d fractional digits; 1 to 7 are allowed", s, j-i-1)
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time with a zone", s)
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("%q is out of range", s)
	}
	return t.UTC(), nil
}

// FormatDateTime formats t as Graph does: UTC, a Z, and only the fractional digits that are needed.
func FormatDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.9999999Z07:00")
}

// AppendDateTime appends FormatDateTime(t) to b.
func AppendDateTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.9999999Z07:00")
}

// ParseTop parses $top: a whole number from 1 up.
func ParseTop(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, errorf("$top", "'%s' is not a whole number greater than zero", s)
	}
	return n, nil
}

// ParseCount parses $count: true or false.
func ParseCount(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errorf("$count", "'%s' is neither true nor false", s)
}

// ParseSelect parses $select: a comma-separated list of property names.
func ParseSelect(s string) ([]string, error) {
	var props []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !isIdentifier(p) {
			return nil, errorf("$select", "'%s' is not a property name", p)
		}
		props = append(props, p)
	}
	return props, nil
}

// Expand is one navigation property of $expand with its nested options.
type Expand struct {
	Property string
	Filter   Filter // nested $filter, or nil
}

// ParseExpand parses $expand: one navigation property, optionally followed by nested options in
// parentheses, of which $filter is supported, such as "historyItems($filter=lastModifiedDateTime gt …)".
func ParseExpand(s string) ([]Expand, error) {
	var out []Expand
	for _, item := range splitTopLevel(s, ',') {
		item = strings.TrimSpace(item)
		name, nested := item, ""
		if i := strings.IndexByte(item, '('); i >= 0 {
			if !strings.HasSuffix(item, ")") {
				return nil, errorf("$expand", "a '(' is not closed in '%s'", item)
			}
			name, nested = strings.TrimSpace(item[:i]), item[i+1:len(item)-1]
		}
		if !isIdentifier(name) {
			return nil, errorf("$expand", "'%s' is not a navigation property", name)
		}
		e := Expand{Property: name}
		for _, opt := range splitTopLevel(nested, ';') {
			if strings.TrimSpace(opt) == "" {
				continue
			}
			key, value, ok := strings.Cut(opt, "=")
			key = strings.TrimSpace(key)
			if !ok || !strings.EqualFold(strings.TrimPrefix(key, "$"), "filter") {
				return nil, errorf("$expand", "the nested option '%s' is not supported; only $filter is", key)
			}
			f, err := ParseFilter(value)
			if err != nil {
				return nil, errorf("$expand", "in the nested $filter: %v", err.(*SyntaxError).Msg)
			}
			e.Filter = f
		}
		out = append(out, e)
	}
	return out, nil
}

// splitTopLevel splits s at sep where sep is outside parentheses.
func splitTopLevel(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case sep:
			if depth == 0 {
				parts, start = append(parts, s[start:i]), i+1
			}
		}
	}
	return append(parts, s[start:])
}
