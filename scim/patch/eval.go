package patch

import (
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// match reports whether the element el of a multi-valued attribute
// satisfies the filter.
func (c *cond) match(el any) bool {
	switch c.kind {
	case condAnd:
		return c.l.match(el) && c.r.match(el)
	case condOr:
		return c.l.match(el) || c.r.match(el)
	case condNot:
		return !c.l.match(el)
	}
	var have any
	if c.self {
		have = el
	} else if m, ok := el.(map[string]any); ok {
		have = m[c.attr.Name]
	}
	if list, ok := have.([]any); ok {
		for _, h := range list {
			if c.compare(h) {
				return true
			}
		}
		return c.op == filter.NE && len(list) == 0
	}
	return c.compare(have)
}

// compare applies a comparison to one value.
func (c *cond) compare(have any) bool {
	if c.op == filter.PR {
		return !isBlank(have)
	}
	if isBlank(have) || c.val == nil {
		bothNull := isBlank(have) && c.val == nil
		switch c.op {
		case filter.EQ:
			return bothNull
		case filter.NE:
			return !bothNull
		}
		return false
	}
	r, ok := c.order(have)
	if !ok {
		return c.op == filter.NE
	}
	switch c.op {
	case filter.EQ:
		return r == 0
	case filter.NE:
		return r != 0
	case filter.GT:
		return r > 0
	case filter.GE:
		return r >= 0
	case filter.LT:
		return r < 0
	case filter.LE:
		return r <= 0
	}
	// co, sw, ew: strings only (dateTime compared as written).
	hs, ok := have.(string)
	ws, ok2 := c.val.(string)
	if !ok || !ok2 {
		return false
	}
	if !c.attr.CaseExact {
		hs, ws = store.Fold(hs), store.Fold(ws)
	}
	switch c.op {
	case filter.CO:
		return strings.Contains(hs, ws)
	case filter.SW:
		return strings.HasPrefix(hs, ws)
	case filter.EW:
		return strings.HasSuffix(hs, ws)
	}
	return false
}

// order compares have with the compare value: -1, 0, +1; ok is false when
// they cannot be compared (wrong type in the document). For co/sw/ew it
// reports ok=false unless the value is compared with ordering operators.
func (c *cond) order(have any) (int, bool) {
	switch w := c.val.(type) {
	case string:
		if c.op == filter.CO || c.op == filter.SW || c.op == filter.EW {
			return 0, false
		}
		h, ok := have.(string)
		if !ok {
			return 0, false
		}
		if !c.attr.CaseExact {
			h, w = store.Fold(h), store.Fold(w)
		}
		return strings.Compare(h, w), true
	case bool:
		h, ok := have.(bool)
		if !ok {
			return 0, false
		}
		if h == w {
			return 0, true
		}
		return 1, true
	case number:
		h, ok := toNumber(have)
		if !ok {
			return 0, false
		}
		return h.cmp(w), true
	case time.Time:
		s, ok := have.(string)
		if !ok {
			return 0, false
		}
		h, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, false
		}
		return h.Compare(w), true
	}
	return 0, false
}

// seed adds to el the "eq" terms of a filter joined by "and", for creating
// the element an add on an unmatched value filter asks for. It reports
// false when the filter has an "or" or "not" (no single element to build).
func (c *cond) seed(el map[string]any) bool {
	switch c.kind {
	case condAnd:
		return c.l.seed(el) && c.r.seed(el)
	case condCmp:
		if c.self {
			return false
		}
		if c.op == filter.EQ && c.val != nil {
			switch v := c.val.(type) {
			case number:
				if v.isInt {
					el[c.attr.Name] = v.i
				} else {
					el[c.attr.Name] = v.f
				}
			case time.Time:
				el[c.attr.Name] = v.UTC().Format(time.RFC3339Nano)
			default:
				el[c.attr.Name] = v
			}
		}
		return true
	}
	return false
}

// memberIDs returns the ids of a members filter made of `value eq "id"`
// terms joined by "or"; ok is false for any other filter.
func (c *cond) memberIDs(ids []string) ([]string, bool) {
	switch c.kind {
	case condOr:
		ids, ok := c.l.memberIDs(ids)
		if !ok {
			return nil, false
		}
		return c.r.memberIDs(ids)
	case condCmp:
		s, ok := c.val.(string)
		if c.self || c.op != filter.EQ || c.attr.Name != "value" || !ok || s == "" {
			return nil, false
		}
		return append(ids, s), true
	}
	return nil, false
}

// equalValue reports whether two canonical values of attribute at are equal,
// comparing strings of caseExact=false attributes case-insensitively.
func equalValue(at *schemas.Attr, x, y any) bool {
	if isBlank(x) || isBlank(y) {
		return isBlank(x) && isBlank(y)
	}
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok {
			return false
		}
		for k, e := range xv {
			if !equalSub(at, k, e, yv[k]) {
				return false
			}
		}
		for k, e := range yv {
			if _, ok := xv[k]; !ok && !isBlank(e) {
				return false
			}
		}
		return true
	case []any:
		yv, ok := y.([]any)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for i := range xv {
			if !equalValue(at, xv[i], yv[i]) {
				return false
			}
		}
		return true
	case string:
		ys, ok := y.(string)
		if !ok {
			return false
		}
		if at != nil && !at.CaseExact && at.Type != schemas.TypeComplex {
			return store.Fold(xv) == store.Fold(ys)
		}
		return xv == ys
	}
	return same(x, y)
}

func equalSub(at *schemas.Attr, name string, x, y any) bool {
	var sa *schemas.Attr
	if at != nil {
		sa, _ = at.SubAttr(name)
	}
	return equalValue(sa, x, y)
}

// contains reports whether the element part is "contained" in el: every
// sub-attribute part gives has an equal value in el. For simple values it
// is equality.
func contains(at *schemas.Attr, el, part any) bool {
	pm, ok := part.(map[string]any)
	if !ok {
		return equalValue(at, el, part)
	}
	em, ok := el.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range pm {
		if !equalSub(at, k, em[k], v) {
			return false
		}
	}
	return true
}
