package schemas

import (
	"slices"
	"strings"
)

// Limits on the values of one multi-valued attribute in one resource or
// request. The request body limit bounds them too; these keep a document
// that fits in it from holding more values than any client sends.
const (
	// MaxMembers is the largest number of values the members attribute of
	// a group may be given in one request; more is an error of type
	// tooMany. Okta's group push sends a group's whole member list in one
	// request, so it is far above the group sizes a push carries.
	MaxMembers = 10000
	// MaxValues is the largest number of values any other multi-valued
	// attribute (emails, phoneNumbers, addresses, entitlements …) may hold
	// in one resource; more is an error of type tooMany.
	MaxValues = 1000
)

// MaxValuesOf is the largest number of values multi-valued attribute a
// may be given: MaxMembers for group members, MaxValues for any other.
// It has no error.
func MaxValuesOf(a *Attr) int {
	if a.Schema == GroupURN && a.Name == "members" {
		return MaxMembers
	}
	return MaxValues
}

// Normalize reads the body of a POST or PUT (decoded with
// json.Decoder.UseNumber, so numbers arrive as json.Number) into the
// canonical document of resource type rt:
//
//   - keys in canonical case; extension attributes in the object under the
//     extension's canonical URN key, whether the client nested them there
//     (in any key case) or sent flat URN-qualified keys
//     ("urn:…:enterprise:2.0:User:department"); path-less dotted keys such as
//     "name.givenName" set that sub-attribute;
//   - unknown attributes, unknown schemas, "schemas" itself and readOnly
//     attributes and sub-attributes (id, meta, groups, manager.displayName)
//     are dropped without an error;
//   - null, "", [] and {} are removed at every depth (RFC 7643 §2.5: null,
//     empty and absent are equivalent);
//   - values are typed and shaped by NormalizeValue.
//
// The writeOnly password is kept: the caller hashes it and removes it.
// Group members stay as []any of {"value", "display"?, "type"?, "$ref"?};
// the caller moves them to the membership table. Required attributes are
// not checked here (the caller decides per verb; see MissingRequired).
//
// Errors are *Error values: invalidValue for a value of the wrong type or
// shape (with the attribute path in the detail), for more than one
// primary:true in one multi-valued attribute, for a group member without a
// value and for a dotted key into a multi-valued attribute ("emails.value");
// invalidSyntax when one attribute is given twice (in two key cases, or
// nested and flat); tooMany for a multi-valued attribute with more values
// than MaxValuesOf allows. in is not modified.
func Normalize(rt *ResourceType, in map[string]any, o Options) (map[string]any, error) {
	n := normalizer{rt: rt, o: o, out: map[string]any{}, seen: map[*Attr]string{}}
	type pending struct {
		key string
		a   *Attr
		v   any
	}
	// Whole attributes first, dotted sub-attributes after, so that the
	// result does not depend on the order of the keys.
	var subs []pending
	visit := func(key string, a *Attr, v any) error {
		if a.Parent != nil {
			subs = append(subs, pending{key, a, v})
			return nil
		}
		return n.setTop(key, a, v)
	}
	for _, k := range sortedKeys(in) {
		v := in[k]
		if strings.EqualFold(k, "schemas") {
			continue
		}
		if urn, ok := rt.IsExtension(k); ok {
			if isEmpty(v) {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, Errorf(InvalidValue, "%s must be an object holding the extension's attributes, not %s", urn, describe(v))
			}
			for _, sk := range sortedKeys(m) {
				if a, ok := rt.Lookup(urn + ":" + sk); ok {
					if err := visit(urn+":"+sk, a, m[sk]); err != nil {
						return nil, err
					}
				}
			}
			continue
		}
		if a, ok := rt.Lookup(k); ok {
			if err := visit(k, a, v); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range subs {
		if err := n.setSub(s.key, s.a, s.v); err != nil {
			return nil, err
		}
	}
	return n.out, nil
}

type normalizer struct {
	rt   *ResourceType
	o    Options
	out  map[string]any
	seen map[*Attr]string // attribute → the input key that gave it a value
}

// container returns the map a top-level attribute lives in, creating the
// extension object on first use.
func (n *normalizer) container(a *Attr) map[string]any {
	if !a.Extension {
		return n.out
	}
	m, ok := n.out[a.Schema].(map[string]any)
	if !ok {
		m = map[string]any{}
		n.out[a.Schema] = m
	}
	return m
}

func (n *normalizer) mark(a *Attr, key string) error {
	if prev, dup := n.seen[a]; dup {
		return Errorf(InvalidSyntax, "%s is given twice, as %q and as %q", a.Path, prev, key)
	}
	n.seen[a] = key
	return nil
}

func (n *normalizer) setTop(key string, a *Attr, v any) error {
	if a.Mutability == ReadOnly {
		return nil
	}
	val, err := NormalizeValue(a, v, true, n.o)
	if err != nil || val == nil {
		return err
	}
	if err := n.mark(a, key); err != nil {
		return err
	}
	if m, ok := val.(map[string]any); ok {
		for sk := range m {
			if sa, ok := a.SubAttr(sk); ok {
				n.seen[sa] = key
			}
		}
	}
	n.container(a)[a.Name] = val
	return nil
}

func (n *normalizer) setSub(key string, a *Attr, v any) error {
	p := a.Parent
	if a.Mutability == ReadOnly || p.Mutability == ReadOnly {
		return nil
	}
	val, err := NormalizeValue(a, v, true, n.o)
	if err != nil || val == nil {
		return err
	}
	if p.MultiValued {
		return Errorf(InvalidValue, "%q: %s is multi-valued; give its values as an array of objects", key, p.Path)
	}
	if err := n.mark(a, key); err != nil {
		return err
	}
	c := n.container(p)
	pm, ok := c[p.Name].(map[string]any)
	if !ok {
		pm = map[string]any{}
		c[p.Name] = pm
	}
	pm[a.Name] = val
	return nil
}

// CheckValueCounts returns an *Error of type tooMany when a multi-valued
// attribute of doc, a canonical document of rt, holds more values than
// MaxValuesOf allows (as a PATCH that adds values over several operations
// can leave it); nil otherwise.
func CheckValueCounts(rt *ResourceType, doc map[string]any) error {
	for _, a := range rt.Attrs() {
		if !a.MultiValued || a.Parent != nil {
			continue
		}
		c := doc
		if a.Extension {
			c, _ = doc[a.Schema].(map[string]any)
		}
		if list, ok := c[a.Name].([]any); ok && len(list) > MaxValuesOf(a) {
			return Errorf(TooMany, "%s would have %d values; at most %d are allowed", a.Path, len(list), MaxValuesOf(a))
		}
	}
	return nil
}

// NormalizeValue checks a value given for attribute a and returns it in
// canonical form: singular values typed by CoerceSingular; complex values
// as a new map with canonical sub-attribute keys (unknown and readOnly
// sub-attributes dropped); multi-valued attributes as []any. Null, "", []
// and {} are removed at every depth, and an empty result is returned as
// nil. multi says whether v is the whole value of a multi-valued attribute
// (true) or one element of it (false); it does not matter for singular
// attributes.
//
// With o.Lenient it also accepts, and reports through o.Rewrote: a lone
// value where an array is expected ("single_to_array"); a one-element
// array where a single value is expected ("array_to_single"); a bare
// string for an element of a multi-valued complex attribute with a
// "value" sub-attribute ("string_to_value", it becomes {"value": s}); a
// bare string for a singular complex attribute with a "value"
// sub-attribute (manager: "manager_string"); and CoerceSingular's rewrites.
//
// Errors are *Error values: invalidValue for a value of the wrong type or
// shape, for more than one primary:true among the values, and for a group
// member without a value; invalidSyntax for a sub-attribute given twice in
// one object (in two key cases); tooMany for more values than MaxValuesOf
// allows. v is not modified.
func NormalizeValue(a *Attr, v any, multi bool, o Options) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.MultiValued && multi {
		list, ok := v.([]any)
		if !ok {
			if isEmpty(v) {
				return nil, nil
			}
			if !o.Lenient {
				return nil, Errorf(InvalidValue, "%s is multi-valued and takes an array, not %s", a.Path, describe(v))
			}
			o.rewrote("single_to_array")
			list = []any{v}
		}
		if limit := MaxValuesOf(a); len(list) > limit {
			return nil, Errorf(TooMany, "%s has %d values; at most %d are allowed", a.Path, len(list), limit)
		}
		out := make([]any, 0, len(list))
		primaries := 0
		for _, el := range list {
			if _, nested := el.([]any); nested {
				return nil, Errorf(InvalidValue, "%s takes an array of values, not an array of arrays", a.Path)
			}
			n, err := NormalizeValue(a, el, false, o)
			if err != nil {
				return nil, err
			}
			if n == nil {
				continue
			}
			if m, ok := n.(map[string]any); ok && m["primary"] == true {
				primaries++
			}
			out = append(out, n)
		}
		if primaries > 1 {
			return nil, Errorf(InvalidValue, "%s has %d values marked primary; at most one may be", a.Path, primaries)
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	if list, ok := v.([]any); ok {
		switch {
		case len(list) == 0:
			return nil, nil
		case len(list) == 1 && o.Lenient:
			if _, nested := list[0].([]any); !nested {
				o.rewrote("array_to_single")
				return NormalizeValue(a, list[0], multi, o)
			}
		}
		if a.MultiValued {
			return nil, Errorf(InvalidValue, "a value of %s must not be an array", a.Path)
		}
		return nil, Errorf(InvalidValue, "%s is single-valued and takes one value, not an array", a.Path)
	}
	if a.Type != TypeComplex {
		c, err := CoerceSingular(a, v, o)
		if err != nil {
			return nil, err
		}
		if s, ok := c.(string); ok && s == "" {
			return nil, nil
		}
		return c, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		s, isString := v.(string)
		_, hasValue := a.SubAttr("value")
		switch {
		case isString && s == "":
			return nil, nil
		case isString && hasValue && o.Lenient:
			if a.MultiValued {
				o.rewrote("string_to_value")
			} else {
				o.rewrote(strings.ToLower(a.Name) + "_string")
			}
			m = map[string]any{"value": s}
		default:
			return nil, Errorf(InvalidValue, "%s takes an object, not %s", a.Path, describe(v))
		}
	}
	out := make(map[string]any, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	for _, k := range keys {
		sa, ok := a.SubAttr(k)
		if !ok || sa.Mutability == ReadOnly {
			continue
		}
		n, err := NormalizeValue(sa, m[k], true, o)
		if err != nil {
			return nil, err
		}
		if n == nil {
			continue
		}
		if _, dup := out[sa.Name]; dup {
			return nil, Errorf(InvalidSyntax, "%s is given twice in one value", sa.Path)
		}
		out[sa.Name] = n
	}
	if len(out) == 0 {
		return nil, nil
	}
	if a.Schema == GroupURN && a.Name == "members" && out["value"] == nil {
		return nil, Errorf(InvalidValue, "every value of %s needs a \"value\" sub-attribute (the member's id)", a.Path)
	}
	return out, nil
}

// MissingRequired returns the canonical paths of the required attributes
// (userName for User, displayName for Group, and any required extension
// attribute) that are absent or empty in doc, a canonical document as
// Normalize returns it. readOnly attributes (id) are the server's and are
// never reported. It returns nil when nothing is missing; it has no error.
func MissingRequired(rt *ResourceType, doc map[string]any) []string {
	var missing []string
	for _, a := range rt.attrs {
		if !a.Required || a.Mutability == ReadOnly {
			continue
		}
		c := doc
		if a.Extension {
			c, _ = doc[a.Schema].(map[string]any)
		}
		if isEmpty(c[a.Name]) {
			missing = append(missing, a.Path)
		}
	}
	return missing
}

// isEmpty reports whether v is null, "", [] or {}.
func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
