package patch

import (
	"encoding/json"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/schemas"
)

// target is a parsed PATCH path.
type target struct {
	attr   *schemas.Attr // top-level attribute; nil when ext is set
	sub    *schemas.Attr // sub-attribute, or nil
	filter *cond         // value filter, or nil
	ext    string        // canonical URN when the path names a whole extension
}

// parsePath parses a PATCH path:
//
//	attrPath [ "[" valFilter "]" [ "." subAttr ] ]
//
// where attrPath is [URN ":"] name ["." sub]. The value filter is split off
// here (respecting quoted strings) and parsed with filter.ParseFilterNumber,
// because filter-parser's own value-path grammar takes at most two terms.
// Unknown attributes are reported with ok=false and a nil error, so that a
// caller can ignore them; every other problem is an error.
func (a *applier) parsePath(s string) (t target, known bool, err error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxPathLength {
		return t, false, a.errf(schemas.InvalidPath, "the path is longer than %d characters", MaxPathLength)
	}
	s, err = a.fixExtensionDot(s)
	if err != nil {
		return t, false, err
	}
	if urn, ok := a.rt.IsExtension(s); ok {
		return target{ext: urn}, true, nil
	}
	attrPart, filterText, subName, hasFilter, err := a.splitPath(s)
	if err != nil {
		return t, false, err
	}
	at, ok := a.rt.Lookup(attrPart)
	if !ok {
		return t, false, nil
	}
	if at.Parent != nil {
		t.attr, t.sub = at.Parent, at
	} else {
		t.attr = at
	}
	if !hasFilter {
		return t, true, nil
	}
	if t.sub != nil {
		return t, true, a.errf(schemas.InvalidPath, "a value filter can only follow a multi-valued attribute")
	}
	if !t.attr.MultiValued {
		// Entra has been seen sending manager[value eq "…"]: a filter on a
		// singular complex attribute, which selects its one value.
		if !a.o.Lenient || t.attr.Type != schemas.TypeComplex {
			return t, true, a.errf(schemas.InvalidPath, "a value filter can only follow a multi-valued attribute")
		}
		rewrote(a.o, "singular_filter")
	}
	t.filter, err = a.parseValueFilter(t.attr, filterText)
	if err != nil {
		return t, true, err
	}
	if subName != "" {
		sa, ok := t.attr.SubAttr(subName)
		if !ok {
			return t, false, nil
		}
		t.sub = sa
	}
	return t, true, nil
}

// fixExtensionDot rewrites "urn:…:enterprise:2.0:User.department" (a "."
// where the RFC has ":") in lenient mode.
func (a *applier) fixExtensionDot(s string) (string, error) {
	ids := []string{a.rt.Schema.ID}
	for _, e := range a.rt.Extensions {
		ids = append(ids, e.ID)
	}
	for _, id := range ids {
		if len(s) > len(id)+1 && strings.EqualFold(s[:len(id)], id) && s[len(id)] == '.' {
			if !a.o.Lenient {
				return s, a.errf(schemas.InvalidPath, "the attribute must follow the schema URN after \":\", not \".\"")
			}
			rewrote(a.o, "extension_dot")
			return s[:len(id)] + ":" + s[len(id)+1:], nil
		}
	}
	return s, nil
}

// splitPath splits "attr[filter].sub" into its parts.
func (a *applier) splitPath(s string) (attr, filterText, sub string, hasFilter bool, err error) {
	open := strings.IndexByte(s, '[')
	if open < 0 {
		if strings.ContainsAny(s, "]\" ") || s == "" {
			return "", "", "", false, a.errf(schemas.InvalidPath, "the path is not a valid attribute path")
		}
		return s, "", "", false, nil
	}
	closing := -1
	inQuote := false
	for i := open + 1; i < len(s) && closing < 0; i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ']':
			closing = i
		}
	}
	if closing < 0 {
		return "", "", "", false, a.errf(schemas.InvalidPath, "the value filter in the path has no closing \"]\"")
	}
	attr, filterText, rest := s[:open], s[open+1:closing], s[closing+1:]
	if attr == "" || strings.ContainsAny(attr, "]\" ") {
		return "", "", "", false, a.errf(schemas.InvalidPath, "the path is not a valid attribute path")
	}
	if rest != "" {
		sub = rest[1:]
		if rest[0] != '.' || sub == "" || strings.ContainsAny(sub, ".[]\" ") {
			return "", "", "", false, a.errf(schemas.InvalidPath, "after the value filter a path can only name one sub-attribute, as in emails[type eq \"work\"].value")
		}
	}
	return attr, filterText, sub, true, nil
}

// condKind is the kind of a value-filter node.
type condKind int

const (
	condCmp condKind = iota
	condAnd
	condOr
	condNot
)

// cond is a value filter resolved against a multi-valued attribute's
// sub-attributes, with typed compare values.
type cond struct {
	kind condKind
	l, r *cond         // and, or: both; not: l
	attr *schemas.Attr // compared sub-attribute (the attribute itself when self)
	self bool          // compares the element itself (multi-valued simple attribute)
	op   filter.CompareOperator
	val  any // string, bool, number, time.Time, or nil for null / pr
}

// parseValueFilter parses and resolves the text between "[" and "]".
func (a *applier) parseValueFilter(parent *schemas.Attr, text string) (*cond, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, a.errf(schemas.InvalidFilter, "the value filter is empty")
	}
	expr, ok := fastFilter(text)
	if !ok {
		e, err := filter.ParseFilterNumber([]byte(upcaseUnicodeEscapes(text)))
		if err != nil {
			return nil, a.errf(schemas.InvalidFilter, "the value filter %s is not a valid SCIM filter", quote(text))
		}
		expr = e
	}
	return a.resolve(parent, expr)
}

// fastFilter parses the overwhelmingly common `name eq "literal"` without
// the (slow) general parser. The literal must not contain escapes.
func fastFilter(s string) (filter.Expression, bool) {
	name, rest, ok := strings.Cut(s, " ")
	if !ok || name == "" || !isAttrName(name) {
		return nil, false
	}
	op, lit, ok := strings.Cut(rest, " ")
	if !ok || !strings.EqualFold(op, "eq") || len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return nil, false
	}
	lit = lit[1 : len(lit)-1]
	if strings.ContainsAny(lit, "\"\\") {
		return nil, false
	}
	for _, r := range lit {
		if r < 0x20 {
			return nil, false
		}
	}
	var path filter.AttributePath
	if n, sub, ok := strings.Cut(name, "."); ok {
		path = filter.AttributePath{AttributeName: n, SubAttribute: &sub}
	} else {
		path = filter.AttributePath{AttributeName: name}
	}
	return &filter.AttributeExpression{AttributePath: path, Operator: filter.EQ, CompareValue: lit}, true
}

func isAttrName(s string) bool {
	for _, part := range strings.SplitN(s, ".", 2) {
		if part == "" {
			return false
		}
		for i, r := range part {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			case i == 0 && r == '$':
			case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_'):
			default:
				return false
			}
		}
	}
	return true
}

// upcaseUnicodeEscapes upper-cases the hex digits of \uXXXX escapes inside
// quoted strings: filter-parser v2.2.1 only accepts upper-case ones.
func upcaseUnicodeEscapes(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	b := []byte(s)
	inQuote := false
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			inQuote = !inQuote
		case inQuote && b[i] == '\\' && i+1 < len(b):
			if b[i+1] == 'u' {
				for j := i + 2; j < i+6 && j < len(b); j++ {
					if b[j] >= 'a' && b[j] <= 'f' {
						b[j] -= 'a' - 'A'
					}
				}
			}
			i++
		}
	}
	return string(b)
}

// resolve checks a parsed value filter against the multi-valued attribute
// parent and types its compare values.
func (a *applier) resolve(parent *schemas.Attr, e filter.Expression) (*cond, error) {
	switch t := e.(type) {
	case *filter.LogicalExpression:
		l, err := a.resolve(parent, t.Left)
		if err != nil {
			return nil, err
		}
		r, err := a.resolve(parent, t.Right)
		if err != nil {
			return nil, err
		}
		if l == nil || r == nil {
			return nil, a.errf(schemas.InvalidFilter, "the value filter is incomplete")
		}
		k := condAnd
		if strings.EqualFold(string(t.Operator), string(filter.OR)) {
			k = condOr
		}
		return &cond{kind: k, l: l, r: r}, nil
	case *filter.NotExpression:
		l, err := a.resolve(parent, t.Expression)
		if err != nil {
			return nil, err
		}
		return &cond{kind: condNot, l: l}, nil
	case *filter.AttributeExpression:
		return a.resolveCmp(parent, t)
	case *filter.ValuePath:
		return nil, a.errf(schemas.InvalidFilter, "a value filter cannot contain another value filter")
	}
	return nil, a.errf(schemas.InvalidFilter, "the value filter is not a valid SCIM filter")
}

func (a *applier) resolveCmp(parent *schemas.Attr, e *filter.AttributeExpression) (*cond, error) {
	p := e.AttributePath
	if uri := p.URI(); uri != "" && !strings.EqualFold(uri, parent.Schema) {
		return nil, a.errf(schemas.InvalidFilter, "the value filter names an attribute of another schema (%s)", quote(uri))
	}
	name := p.AttributeName
	if p.SubAttribute != nil {
		if !strings.EqualFold(name, parent.Name) {
			return nil, a.errf(schemas.InvalidFilter, "the value filter can only name sub-attributes of %s, not %s", parent.Name, quote(p.String()))
		}
		name = *p.SubAttribute
	}
	c := &cond{kind: condCmp, op: filter.CompareOperator(strings.ToLower(string(e.Operator)))}
	if len(parent.Sub) == 0 {
		if !strings.EqualFold(name, "value") {
			return nil, a.errf(schemas.InvalidFilter, "%s has no sub-attributes; filter on value", parent.Name)
		}
		c.attr, c.self = parent, true
	} else {
		sa, ok := parent.SubAttr(name)
		if !ok {
			return nil, a.errf(schemas.InvalidFilter, "%s has no sub-attribute %s", parent.Name, quote(name))
		}
		if sa.Type == schemas.TypeComplex {
			return nil, a.errf(schemas.InvalidFilter, "%s is complex and cannot be compared", sa.Path)
		}
		c.attr = sa
	}
	at := c.attr
	switch c.op {
	case filter.PR:
		return c, nil
	case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.GT, filter.GE, filter.LT, filter.LE:
	default:
		return nil, a.errf(schemas.InvalidFilter, "unknown comparison operator %s", quote(string(c.op)))
	}
	ordering := c.op == filter.GT || c.op == filter.GE || c.op == filter.LT || c.op == filter.LE
	substring := c.op == filter.CO || c.op == filter.SW || c.op == filter.EW
	if e.CompareValue == nil {
		if c.op != filter.EQ && c.op != filter.NE {
			return nil, a.errf(schemas.InvalidFilter, "null can only be compared with eq or ne")
		}
		return c, nil
	}
	wrongType := func(want string) error {
		return a.errf(schemas.InvalidFilter, "%s is a %s and must be compared with %s", at.Path, at.Type, want)
	}
	switch at.Type {
	case schemas.TypeString, schemas.TypeReference, schemas.TypeBinary:
		raw, ok := e.CompareValue.(string)
		if !ok {
			return nil, wrongType("a string")
		}
		s, err := decodeString(raw)
		if err != nil {
			return nil, a.errf(schemas.InvalidFilter, "the string %s in the value filter has an invalid escape", quote(raw))
		}
		if at.Type == schemas.TypeBinary && ordering {
			return nil, a.errf(schemas.InvalidFilter, "%s is binary and cannot be compared with %s", at.Path, c.op)
		}
		c.val = s
	case schemas.TypeBoolean:
		b, ok := e.CompareValue.(bool)
		if !ok {
			return nil, wrongType("true or false")
		}
		if ordering || substring {
			return nil, a.errf(schemas.InvalidFilter, "%s is a boolean and can only be compared with eq or ne", at.Path)
		}
		c.val = b
	case schemas.TypeInteger, schemas.TypeDecimal:
		n, ok := toNumber(e.CompareValue)
		if !ok {
			return nil, wrongType("a number in range")
		}
		if substring {
			return nil, a.errf(schemas.InvalidFilter, "%s is a number and cannot be compared with %s", at.Path, c.op)
		}
		c.val = n
	case schemas.TypeDateTime:
		raw, ok := e.CompareValue.(string)
		if !ok {
			return nil, wrongType("a date-time string")
		}
		s, err := decodeString(raw)
		if err != nil {
			return nil, a.errf(schemas.InvalidFilter, "the string %s in the value filter has an invalid escape", quote(raw))
		}
		if substring {
			c.val = s
			return c, nil
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, a.errf(schemas.InvalidFilter, "%s must be compared with an RFC 3339 date-time, not %s", at.Path, quote(s))
		}
		c.val = tm
	default:
		return nil, a.errf(schemas.InvalidFilter, "%s cannot be compared", at.Path)
	}
	return c, nil
}

// decodeString decodes the JSON escapes filter-parser leaves in a string.
func decodeString(raw string) (string, error) {
	if !strings.Contains(raw, `\`) {
		return raw, nil
	}
	var s string
	err := json.Unmarshal([]byte(`"`+raw+`"`), &s)
	return s, err
}
