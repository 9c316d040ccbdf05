package patch

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// quote quotes client text for an error detail, shortening it so that a
// huge value does not end up in a log line or a response.
func quote(s string) string {
	const limit = 200
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// isBlank reports whether v is "absent" in the sense of RFC 7643 §2.5:
// null, "", an empty object, or an array of only such values.
func isBlank(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case map[string]any:
		return len(t) == 0
	case []any:
		for _, e := range t {
			if !isBlank(e) {
				return false
			}
		}
		return true
	}
	return false
}

// clone returns a deep copy of a JSON-like value.
func clone(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = clone(e)
		}
		return s
	}
	return v
}

// same reports whether two document values are identical (numbers compared
// by value, whatever their Go type).
func same(a, b any) bool {
	if isBlank(a) && isBlank(b) {
		return true
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !same(e, f) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !same(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if fa, ok := toNumber(a); ok {
		fb, ok := toNumber(b)
		return ok && fa.equal(fb)
	}
	return reflect.DeepEqual(a, b)
}

// number is a numeric value kept exact for integers.
type number struct {
	isInt bool
	i     int64
	f     float64
}

func toNumber(v any) (number, bool) {
	switch t := v.(type) {
	case int64:
		return number{isInt: true, i: t, f: float64(t)}, true
	case int:
		return number{isInt: true, i: int64(t), f: float64(t)}, true
	case float64:
		return number{f: t}, true
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return number{isInt: true, i: i, f: float64(i)}, true
		}
		if f, err := t.Float64(); err == nil && !math.IsInf(f, 0) {
			return number{f: f}, true
		}
	}
	return number{}, false
}

// cmp compares two numbers: -1, 0 or +1.
func (a number) cmp(b number) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	}
	return 0
}

func (a number) equal(b number) bool { return a.cmp(b) == 0 }
