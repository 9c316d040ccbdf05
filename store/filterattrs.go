package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/scimd/scimd/schemas"
)

// Kind is the type of the values a filter compares an attribute with.
type Kind int

// The kinds of filterable values.
const (
	KindString  Kind = iota // string, reference and binary attributes: a string
	KindBool                // boolean: a bool, eq and ne only
	KindTime                // dateTime: a time.Time, compared as an instant
	KindInteger             // integer: an int64
	KindDecimal             // decimal: a float64 or an int64
	KindComplex             // complex: pr only
)

// KindOf returns the kind of the values of a.
func KindOf(a *schemas.Attr) Kind {
	switch a.Type {
	case schemas.TypeBoolean:
		return KindBool
	case schemas.TypeDateTime:
		return KindTime
	case schemas.TypeInteger:
		return KindInteger
	case schemas.TypeDecimal:
		return KindDecimal
	case schemas.TypeComplex:
		return KindComplex
	}
	return KindString
}

// FilterAttr returns the catalogue attribute of rt that a Cmp inside a
// ValuePath on inside (nil at the top level) names, after checking the
// comparison the way every backend must: a known attribute other than
// password, a sub-attribute of a multi-valued attribute only inside a
// ValuePath on it, a known operator, a value of the attribute's type
// (nil for pr), only eq and ne on booleans, no co, sw or ew on date-times
// and numbers, only pr on complex attributes. A failed check is a
// *UnsupportedError.
func FilterAttr(rt *schemas.ResourceType, c Cmp, inside *schemas.Attr) (*schemas.Attr, error) {
	var a *schemas.Attr
	if inside != nil {
		prefix := inside.Path + "."
		if len(c.Attr) > len(prefix) && strings.EqualFold(c.Attr[:len(prefix)], prefix) {
			a, _ = inside.SubAttr(c.Attr[len(prefix):])
		}
		if a == nil {
			return nil, unsupported("attribute %q inside a value filter on %q", c.Attr, inside.Path)
		}
	} else {
		var ok bool
		if a, ok = rt.Lookup(c.Attr); !ok {
			return nil, unsupported("%s has no attribute %q", rt.Name, c.Attr)
		}
		if a.Parent != nil && a.Parent.MultiValued {
			return nil, unsupported("%s is a sub-attribute of the multi-valued %s; filter on it inside a value filter %s[…]", a.Path, a.Parent.Path, a.Parent.Path)
		}
	}
	if a.Returned == schemas.ReturnedNever {
		return nil, unsupported("%s cannot be filtered on", a.Path)
	}
	kind := KindOf(a)
	switch c.Op {
	case OpPr:
		return a, nil
	case OpEq, OpNe, OpCo, OpSw, OpEw, OpGt, OpGe, OpLt, OpLe:
	default:
		return nil, unsupported("operator %q", c.Op)
	}
	bad := func() error {
		return unsupported("%s %s needs a %s value, not %T", a.Path, c.Op, a.Type, c.Value)
	}
	switch kind {
	case KindComplex:
		return nil, unsupported("%s is complex; only pr applies (filter on a sub-attribute)", a.Path)
	case KindString:
		if _, ok := c.Value.(string); !ok {
			return nil, bad()
		}
		return a, nil
	case KindBool:
		if _, ok := c.Value.(bool); !ok {
			return nil, bad()
		}
		if c.Op != OpEq && c.Op != OpNe {
			return nil, unsupported("%s is a boolean; only eq, ne and pr apply", a.Path)
		}
		return a, nil
	case KindTime:
		if _, ok := c.Value.(time.Time); !ok {
			return nil, bad()
		}
	case KindInteger:
		if _, ok := c.Value.(int64); !ok {
			return nil, bad()
		}
	case KindDecimal:
		switch c.Value.(type) {
		case int64, float64:
		default:
			return nil, bad()
		}
	}
	if c.Op == OpCo || c.Op == OpSw || c.Op == OpEw {
		return nil, unsupported("%s is a %s; co, sw and ew do not apply", a.Path, a.Type)
	}
	return a, nil
}

// ActiveState returns the state of the live users that the comparison
// "active op v" (op OpEq or OpNe, which FilterAttr allows on a boolean)
// selects: StateActive or StateInactive, since a live user is active
// exactly when its state is StateActive (see User). The backends compile
// that comparison over live users as a test of the state, which their
// indexes hold; over tombstones (all inactive, in StateDeleted) it stays a
// test of active.
func ActiveState(op Op, v bool) UserState {
	if v != (op == OpNe) {
		return StateActive
	}
	return StateInactive
}

// FilterValuePath returns the multi-valued attribute of rt a ValuePath
// names, or a *UnsupportedError for a nested value path (inside is not
// nil), an attribute that is not multi-valued and complex, or an empty
// filter.
func FilterValuePath(rt *schemas.ResourceType, v ValuePath, inside *schemas.Attr) (*schemas.Attr, error) {
	if inside != nil {
		return nil, unsupported("nested value filter on %q inside %q", v.Attr, inside.Path)
	}
	a, ok := rt.Lookup(v.Attr)
	if !ok || a.Parent != nil || !a.MultiValued || a.Type != schemas.TypeComplex {
		return nil, unsupported("%q is not a multi-valued complex attribute of %s, so it takes no value filter", v.Attr, rt.Name)
	}
	if v.Filter == nil {
		return nil, unsupported("empty value filter on %q", a.Path)
	}
	return a, nil
}

// DocKeys returns the JSON keys that lead to a's value in a stored
// document: from the root for an attribute that is not a sub-attribute of
// a multi-valued one ("name", "middleName"; an extension attribute starts
// with its schema URN), from one value for a sub-attribute of a
// multi-valued attribute ("type" of "emails.type").
func DocKeys(a *schemas.Attr) []string {
	var keys []string
	for x := a; x != nil; x = x.Parent {
		keys = append(keys, x.Name)
		if x.Parent != nil && x.Parent.MultiValued {
			break
		}
		if x.Parent == nil && x.Extension {
			keys = append(keys, x.Schema)
		}
	}
	for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
		keys[i], keys[j] = keys[j], keys[i]
	}
	return keys
}

func unsupported(format string, a ...any) error {
	return &UnsupportedError{What: fmt.Sprintf(format, a...)}
}

// TimeKey returns a key of the instant t whose byte order is the order of
// instants (for the years 0 to 9999): UTC, fixed width, nanoseconds, as
// "2006-01-02T15:04:05.000000000".
func TimeKey(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000") }

// DocTimeKey returns the TimeKey of a date-time as a stored document holds
// it: in UTC with "Z" and up to nine fractional digits, the form
// schemas.CoerceSingular writes ("2006-01-02T15:04:05.999999999Z"). Any
// other string is not a date-time to a filter (false); both backends and
// the reference evaluator use this rule.
func DocTimeKey(s string) (string, bool) {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(shape)+1 || s[len(s)-1] != 'Z' {
		return "", false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' && (s[i] < '0' || s[i] > '9') || shape[i] != 'd' && s[i] != shape[i] {
			return "", false
		}
	}
	frac := s[len(shape) : len(s)-1]
	if frac != "" {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return "", false
		}
		for i := 1; i < len(frac); i++ {
			if frac[i] < '0' || frac[i] > '9' {
				return "", false
			}
		}
		frac = frac[1:]
	}
	return s[:len(shape)] + "." + (frac + "000000000")[:9], true
}
