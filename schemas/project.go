package schemas

import "strings"

// Projection is a compiled pair of "attributes" and "excludedAttributes"
// lists (RFC 7644 §3.4.2.5, §3.9) for one resource type. Compile it once
// per request with NewProjection and Apply it to every resource of a list
// response. A Projection is safe for concurrent use.
//
// Rules, attribute by attribute and sub-attribute by sub-attribute:
//   - returned "never" (password) is never returned, even when named;
//   - returned "always" (id) is always returned, and excludedAttributes
//     has no effect on it; "schemas" is always returned as well;
//   - with an attributes list, only the named attributes (plus "always"
//     ones) are returned; naming a sub-attribute ("name.givenName",
//     "emails.value", "meta.lastModified") returns its parent with only the
//     named sub-attributes, and naming a schema URN names every attribute
//     of that schema;
//   - returned "request" is returned only when named in attributes; the
//     caller passes the attributes a PUT, POST or PATCH set when it wants
//     them echoed;
//   - excludedAttributes removes the named attributes or sub-attributes
//     from what is left; both lists may be given, the exclusion applies
//     last;
//   - an extension object that ends up empty is removed, and so are
//     values of a multi-valued attribute that end up empty.
type Projection struct {
	rt      *ResourceType
	include map[*Attr]*selection // nil: no attributes list (the default set)
	exclude map[*Attr]*selection
}

// selection says which part of a top-level attribute a list names.
type selection struct {
	all  bool           // the whole attribute
	subs map[*Attr]bool // else these sub-attributes
}

// NewProjection compiles the attributes and excludedAttributes lists of a
// request; each entry is one attribute name as ParseAttributeList returns
// it. Names are case-insensitive and may be URN-qualified or a schema URN.
// A value filter in a name ("emails[type eq \"work\"]",
// "emails[type eq \"work\"].value", as Microsoft's test collection sends
// it) is ignored: the attribute, or its named sub-attribute, is kept whole,
// which returns a superset of what was asked. Names that are well-formed
// but name no attribute of rt (another resource type's, an unknown
// extension's, a misspelling) are ignored: RFC 7644 defines no error for
// them, and ignoring unknown attributes is what it asks of request bodies.
// A name that is not attribute notation at all (unbalanced brackets, empty
// or invalid name segments) is an *Error of type invalidValue naming it.
func NewProjection(rt *ResourceType, attributes, excluded []string) (*Projection, error) {
	p := &Projection{rt: rt}
	var err error
	if len(attributes) > 0 {
		if p.include, err = rt.selections("attributes", attributes); err != nil {
			return nil, err
		}
	}
	if len(excluded) > 0 {
		if p.exclude, err = rt.selections("excludedAttributes", excluded); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Project returns the part of resource, a canonical document with id,
// schemas and meta in place, that a response carries for the given
// attributes and excludedAttributes lists; see Projection for the rules.
// It is NewProjection followed by Apply, and returns NewProjection's
// *Error for a malformed name.
func Project(rt *ResourceType, resource map[string]any, attributes, excluded []string) (map[string]any, error) {
	p, err := NewProjection(rt, attributes, excluded)
	if err != nil {
		return nil, err
	}
	return p.Apply(resource), nil
}

// Apply returns the projected copy of resource, a canonical document. The
// result shares unchanged nested values with resource; resource itself is
// not modified. Keys the catalogue does not know are kept unless an
// attributes list was given. Apply has no error.
func (p *Projection) Apply(resource map[string]any) map[string]any {
	out := make(map[string]any, len(resource))
	for k, v := range resource {
		if strings.EqualFold(k, "schemas") {
			out[k] = v
			continue
		}
		if urn, ok := p.rt.IsExtension(k); ok {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			em := make(map[string]any, len(m))
			for ek, ev := range m {
				a, ok := p.rt.Lookup(urn + ":" + ek)
				if !ok || a.Parent != nil {
					if p.include == nil {
						em[ek] = ev
					}
					continue
				}
				if pv, keep := p.attr(a, ev); keep {
					em[ek] = pv
				}
			}
			if len(em) > 0 {
				out[k] = em
			}
			continue
		}
		a, ok := p.rt.Lookup(k)
		if !ok || a.Parent != nil || a.Extension {
			if p.include == nil {
				out[k] = v
			}
			continue
		}
		if pv, keep := p.attr(a, v); keep {
			out[k] = pv
		}
	}
	return out
}

// Wants reports whether Apply keeps any part of the attribute at path (a
// top-level attribute or a sub-attribute, as Lookup reads it), so that the
// caller can skip loading what will not be returned — a group's members
// under excludedAttributes=members, a user's groups under
// attributes=userName. An unknown path is not wanted.
func (p *Projection) Wants(path string) bool {
	a, ok := p.rt.Lookup(path)
	if !ok {
		return false
	}
	top, sub := a, (*Attr)(nil)
	if a.Parent != nil {
		top, sub = a.Parent, a
	}
	// The top-level attribute, decided as attr decides it.
	switch top.Returned {
	case ReturnedNever:
		return false
	case ReturnedAlways:
		return sub == nil || sub.Returned != ReturnedNever
	}
	var in, ex *selection
	if p.include != nil {
		s, named := p.include[top]
		if !named {
			return false
		}
		in = s
	} else if top.Returned == ReturnedRequest {
		return false
	}
	if s, ok := p.exclude[top]; ok {
		if s.all {
			return false
		}
		ex = s
	}
	if sub == nil {
		return true
	}
	// The sub-attribute, decided as keep in attr decides it: returned
	// "request" sub-attributes only when asked for, "always" ones even
	// when excluded.
	switch {
	case sub.Returned == ReturnedNever:
		return false
	case sub.Returned == ReturnedAlways:
		return true
	case ex != nil && ex.subs[sub]:
		return false
	case in != nil && !in.all:
		return in.subs[sub]
	}
	return sub.Returned != ReturnedRequest || (in != nil && in.all)
}

// attr projects the value v of top-level attribute a; false drops it.
func (p *Projection) attr(a *Attr, v any) (any, bool) {
	switch a.Returned {
	case ReturnedNever:
		return nil, false
	case ReturnedAlways:
		return v, true
	}
	var in, ex *selection
	if p.include != nil {
		s, named := p.include[a]
		if !named {
			return nil, false
		}
		in = s
	} else if a.Returned == ReturnedRequest {
		return nil, false
	}
	if s, ok := p.exclude[a]; ok {
		if s.all {
			return nil, false
		}
		ex = s
	}
	if len(a.Sub) == 0 || (in == nil || in.all) && ex == nil && !specialSubs(a) {
		return v, true
	}
	keep := func(sa *Attr) bool {
		if sa == nil { // a key the catalogue does not know
			return in == nil || in.all
		}
		switch {
		case sa.Returned == ReturnedNever:
			return false
		case sa.Returned == ReturnedAlways:
			return true
		case ex != nil && ex.subs[sa]:
			return false
		case in != nil && !in.all:
			return in.subs[sa]
		}
		return sa.Returned != ReturnedRequest || (in != nil && in.all)
	}
	pv := pick(a, v, keep)
	return pv, pv != nil
}

// specialSubs reports whether a has sub-attributes that are not returned
// by default.
func specialSubs(a *Attr) bool {
	for _, s := range a.Sub {
		if s.Returned == ReturnedNever || s.Returned == ReturnedRequest {
			return true
		}
	}
	return false
}

// pick keeps the sub-attributes of a complex value (or of every element of
// a multi-valued one) that keep accepts; empty results are nil.
func pick(a *Attr, v any, keep func(*Attr) bool) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, sv := range t {
			sa, _ := a.SubAttr(k)
			if keep(sa) {
				out[k] = sv
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		out := make([]any, 0, len(t))
		for _, el := range t {
			if pv := pick(a, el, keep); pv != nil {
				out = append(out, pv)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

// selections resolves the names of one list to the attributes they name.
func (rt *ResourceType) selections(param string, names []string) (map[*Attr]*selection, error) {
	sel := map[*Attr]*selection{}
	for _, raw := range names {
		name, ok := stripValueFilter(strings.TrimSpace(raw))
		if !ok || !wellFormed(name) {
			return nil, Errorf(InvalidValue, "%s: %q is not an attribute name", param, raw)
		}
		if urn, ok := rt.schemaURN(name); ok {
			for _, a := range rt.attrs {
				if a.Schema == urn || (a.Schema == "" && urn == rt.Schema.ID) {
					sel[a] = &selection{all: true}
				}
			}
			continue
		}
		a, ok := rt.Lookup(name)
		if !ok {
			continue
		}
		if a.Parent == nil {
			sel[a] = &selection{all: true}
			continue
		}
		s := sel[a.Parent]
		if s == nil {
			s = &selection{subs: map[*Attr]bool{}}
			sel[a.Parent] = s
		}
		if !s.all {
			s.subs[a] = true
		}
	}
	return sel, nil
}

// stripValueFilter removes a value filter from an attribute name:
// `emails[type eq "work"].value` becomes "emails.value". The result is
// false for unbalanced brackets.
func stripValueFilter(s string) (string, bool) {
	i := strings.IndexByte(s, '[')
	if i < 0 {
		return s, !strings.Contains(s, "]")
	}
	quoted := false
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case quoted && c == '\\':
			j++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ']':
			rest := s[j+1:]
			if strings.ContainsAny(rest, "[]") || (rest != "" && rest[0] != '.') {
				return "", false
			}
			return s[:i] + rest, true
		}
	}
	return "", false
}

// wellFormed reports whether s is attribute notation (RFC 7644 §3.10): an
// optional URN prefix, then an attribute name and at most one
// sub-attribute name, or a bare schema URN.
func wellFormed(s string) bool {
	if len(s) > 4 && strings.EqualFold(s[:4], "urn:") {
		s = s[strings.LastIndexByte(s, ':')+1:]
	}
	parts := strings.Split(s, ".")
	if len(parts) > 3 { // "User.manager.value": the old Entra URN form
		return false
	}
	for _, p := range parts {
		if !attrName(p) {
			return false
		}
	}
	return true
}

// attrName reports whether s matches ATTRNAME of RFC 7644 §3.10 (with "$"
// allowed first, for "$ref").
func attrName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '$':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// ParseAttributeList splits the value of an "attributes" or
// "excludedAttributes" query parameter into names: at commas that are not
// inside a value filter's brackets or quotes, with surrounding spaces
// trimmed and empty names dropped. It returns nil for an empty list; it
// has no error (NewProjection judges the names).
func ParseAttributeList(param string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	flush := func(end int) {
		if n := strings.TrimSpace(param[start:end]); n != "" {
			out = append(out, n)
		}
	}
	for i := 0; i < len(param); i++ {
		switch c := param[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			flush(i)
			start = i + 1
		}
	}
	flush(len(param))
	return out
}
