package scim

import (
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// quickCompare parses the one filter shape that nearly every IdP request
// carries, a single comparison of an attribute (or sub-attribute) with a
// plain string — userName eq "…", externalId eq "…", name.givenName sw
// "…" — into the expression filter-parser returns for it, without running
// the general parser (which costs more than the rest of such a request).
// Anything else — a URN path, escapes, control characters, other spacing,
// logical operators, value paths, non-string values — reports false and
// goes to filter.ParseFilter. Tests compare the two on every shape.
func quickCompare(text string) (*filter.AttributeExpression, bool) {
	name, rest, ok := strings.Cut(text, " ")
	if !ok {
		return nil, false
	}
	op, value, ok := strings.Cut(rest, " ")
	if !ok || len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return nil, false
	}
	value = value[1 : len(value)-1]
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '"' || c == '\\' || c < 0x20 || c == 0x7f {
			return nil, false
		}
	}
	// filter-parser's operators are their lowercase names.
	o := filter.CompareOperator(strings.ToLower(op))
	switch o {
	case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.GT, filter.GE, filter.LT, filter.LE:
	default:
		return nil, false
	}
	attr, sub, dotted := strings.Cut(name, ".")
	if !attrName(attr) || (dotted && !attrName(sub)) {
		return nil, false
	}
	e := &filter.AttributeExpression{AttributePath: filter.AttributePath{AttributeName: attr}, Operator: o, CompareValue: value}
	if dotted {
		e.AttributePath.SubAttribute = &sub
	}
	return e, true
}

// attrName reports whether s is an ATTRNAME of RFC 7643 §2.1: ALPHA
// followed by ALPHA, DIGIT, "-" or "_".
func attrName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_'):
		default:
			return false
		}
	}
	return true
}
