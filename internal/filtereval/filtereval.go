// Package filtereval is the reference evaluator of store.Filter: it
// decides in plain Go, over one resource as the server renders it, what
// the backends decide in SQL. The storage conformance suite
// (store/storetest) runs generated filters through a backend and through
// Match and requires the same answer for every resource.
//
// The semantics are those documented on store.Filter:
//
//   - a value is present when it is not null, "", [] or {} and has its
//     attribute's type (another type counts as absent); pr tests presence,
//     of at least one value for a multi-valued attribute;
//   - a comparison with an absent value is false, except ne, which is true;
//   - a value filter (ValuePath) is true when one value of the multi-valued
//     attribute satisfies it; values are non-empty objects, and an email
//     without a non-empty "value" is not a value; the primary
//     sub-attribute of a value is false when absent;
//   - strings compare by byte order, after store.Fold of both sides unless
//     CaseExact; co, sw, ew are substring tests; booleans take eq and ne;
//     date-times compare as instants; numbers numerically;
//   - Not is plain negation.
package filtereval

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// Match reports whether the resource doc of type rt, as the server renders
// it (decoded JSON: maps, slices, strings, bools, float64 or json.Number),
// satisfies f. f must be a filter a backend accepts; anything else panics.
func Match(rt *schemas.ResourceType, f store.Filter, doc map[string]any) bool {
	return eval(rt, f, doc, nil, nil)
}

func eval(rt *schemas.ResourceType, f store.Filter, doc map[string]any, in *schemas.Attr, elem map[string]any) bool {
	switch f := f.(type) {
	case store.And:
		for _, t := range f {
			if !eval(rt, t, doc, in, elem) {
				return false
			}
		}
		return true
	case store.Or:
		for _, t := range f {
			if eval(rt, t, doc, in, elem) {
				return true
			}
		}
		return false
	case store.Not:
		return !eval(rt, f.Term, doc, in, elem)
	case store.ValuePath:
		a := lookup(rt, f.Attr)
		for _, e := range values(doc, a) {
			if eval(rt, f.Filter, doc, a, e) {
				return true
			}
		}
		return false
	case store.Cmp:
		var a *schemas.Attr
		var raw any
		if in != nil {
			sub, ok := in.SubAttr(f.Attr[len(in.Path)+1:])
			if !ok {
				panic("filtereval: no sub-attribute " + f.Attr)
			}
			a, raw = sub, elem[sub.Name]
		} else {
			a = lookup(rt, f.Attr)
			if a.MultiValued {
				return len(values(doc, a)) > 0 // pr
			}
			raw = get(doc, a)
		}
		v, present := typed(a, raw)
		return compare(f, v, present)
	}
	panic("filtereval: unknown filter node")
}

func lookup(rt *schemas.ResourceType, path string) *schemas.Attr {
	a, ok := rt.Lookup(path)
	if !ok {
		panic("filtereval: no attribute " + path)
	}
	return a
}

// get returns the value of a (not a sub-attribute of a multi-valued
// attribute) in doc, nil when there is none.
func get(doc map[string]any, a *schemas.Attr) any {
	var chain []*schemas.Attr
	for x := a; x != nil; x = x.Parent {
		chain = append([]*schemas.Attr{x}, chain...)
	}
	var cur any = doc
	if chain[0].Extension {
		cur = doc[chain[0].Schema]
	}
	for _, x := range chain {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[x.Name]
	}
	return cur
}

// values returns the values of the multi-valued attribute a: the
// non-empty objects of its array; of emails, those with a value.
func values(doc map[string]any, a *schemas.Attr) []map[string]any {
	list, _ := get(doc, a).([]any)
	var out []map[string]any
	for _, v := range list {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			continue
		}
		if a.Schema == schemas.UserURN && a.Name == "emails" {
			if s, _ := m["value"].(string); s == "" {
				continue
			}
		}
		out = append(out, m)
	}
	return out
}

// typed returns v as the Go value of a's type: string, bool, time.Time,
// float64, or the object itself for a complex attribute; present is false
// for an absent value or one of another type.
func typed(a *schemas.Attr, v any) (any, bool) {
	switch store.KindOf(a) {
	case store.KindString:
		s, ok := v.(string)
		return s, ok && s != ""
	case store.KindBool:
		b, ok := v.(bool)
		if !ok && a.Name == "primary" && a.Parent != nil && a.Parent.MultiValued {
			return false, true
		}
		return b, ok
	case store.KindTime:
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		if _, ok := store.DocTimeKey(s); !ok {
			return nil, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		return t, err == nil
	case store.KindInteger, store.KindDecimal:
		switch n := v.(type) {
		case float64:
			return n, true
		case json.Number:
			f, err := n.Float64()
			return f, err == nil
		}
		return nil, false
	case store.KindComplex:
		m, ok := v.(map[string]any)
		return m, ok && len(m) > 0
	}
	return nil, false
}

// compare applies c to the typed value v.
func compare(c store.Cmp, v any, present bool) bool {
	if c.Op == store.OpPr {
		return present
	}
	if !present {
		return c.Op == store.OpNe
	}
	var order int // v compared with c.Value: -1, 0, 1
	switch x := v.(type) {
	case string:
		want := c.Value.(string)
		if !c.CaseExact {
			x, want = store.Fold(x), store.Fold(want)
		}
		switch c.Op {
		case store.OpCo:
			return strings.Contains(x, want)
		case store.OpSw:
			return strings.HasPrefix(x, want)
		case store.OpEw:
			return strings.HasSuffix(x, want)
		}
		order = strings.Compare(x, want)
	case bool:
		eq := x == c.Value.(bool)
		return eq == (c.Op == store.OpEq)
	case time.Time:
		order = x.Compare(c.Value.(time.Time))
	case float64:
		var want float64
		switch n := c.Value.(type) {
		case int64:
			want = float64(n)
		case float64:
			want = n
		}
		switch {
		case x < want:
			order = -1
		case x > want:
			order = 1
		}
	default:
		panic("filtereval: comparing a value of an unknown type")
	}
	switch c.Op {
	case store.OpEq:
		return order == 0
	case store.OpNe:
		return order != 0
	case store.OpGt:
		return order > 0
	case store.OpGe:
		return order >= 0
	case store.OpLt:
		return order < 0
	case store.OpLe:
		return order <= 0
	}
	panic("filtereval: unknown operator " + string(c.Op))
}
