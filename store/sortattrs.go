package store

import (
	"github.com/scimd/scimd/schemas"
)

// SortAttr is a sort attribute resolved against the catalogue: what a
// backend needs to build its key.
type SortAttr struct {
	// Attr is the attribute sorted by; nil for the default order (by id).
	Attr *schemas.Attr
	// Kind is the kind of the key: KindString, KindBool, KindTime,
	// KindInteger or KindDecimal.
	Kind Kind
	// Multi is the multi-valued attribute Attr is a sub-attribute of, or
	// nil: the key is then Attr of Multi's primary value, else of its first
	// value (RFC 7644 §3.4.2.3).
	Multi *schemas.Attr
	// Keys are the JSON keys that lead to the value in a stored document
	// (DocKeys): from the root, or from one value of Multi.
	Keys []string
}

// ResolveSort resolves Query.SortBy for rt: "" is the default order (by
// id); anything else must name, case-insensitively and in any form
// schemas.ResourceType.Lookup accepts, an attribute of rt's catalogue that
// is not complex, not multi-valued itself (a sub-attribute of a
// multi-valued attribute is fine: "emails.value") and not the writeOnly
// password. Anything else is a *UnsupportedError.
func ResolveSort(rt *schemas.ResourceType, sortBy string) (SortAttr, error) {
	if sortBy == "" {
		return SortAttr{}, nil
	}
	a, ok := rt.Lookup(sortBy)
	if !ok {
		return SortAttr{}, unsupported("sorting %s by %q: no such attribute", rt.Name, sortBy)
	}
	switch {
	case a.Returned == schemas.ReturnedNever:
		return SortAttr{}, unsupported("sorting %s by %s: it is never returned", rt.Name, a.Path)
	case a.Type == schemas.TypeComplex:
		return SortAttr{}, unsupported("sorting %s by the complex %s: name one of its sub-attributes", rt.Name, a.Path)
	case a.MultiValued:
		return SortAttr{}, unsupported("sorting %s by the multi-valued %s", rt.Name, a.Path)
	}
	sa := SortAttr{Attr: a, Kind: KindOf(a), Keys: DocKeys(a)}
	if a.Parent != nil && a.Parent.MultiValued {
		sa.Multi = a.Parent
	}
	return sa, nil
}

// SortsByLastActive reports whether sortBy is SortLastActive, which
// ResolveSort does not know (it is no attribute of the catalogue): the
// backends call it first and, when it reports true, sort users by their
// last-active time. For any other resource type than schemas.User,
// SortLastActive is a *UnsupportedError; any other sortBy reports false
// and no error.
func SortsByLastActive(rt *schemas.ResourceType, sortBy string) (bool, error) {
	if sortBy != SortLastActive {
		return false, nil
	}
	if rt != schemas.User {
		return false, unsupported("sorting %s by %s: only users have a last-active time", rt.Name, sortBy)
	}
	return true, nil
}
