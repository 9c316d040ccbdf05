package schemas

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Options say how lenient reading client input is.
type Options struct {
	// Lenient accepts the known IdP deviations: "True"/"False" strings for
	// booleans, numeric strings for numbers, a JSON number for a string, a
	// single value where an array is expected, a one-element array where a
	// single value is expected, and a bare string for a complex value that
	// has a "value" sub-attribute. A tenant in strict mode turns it off.
	Lenient bool
	// Rewrote, when set, is called with a short kind name each time a
	// lenient rewrite happened, so the caller can count them. The kinds are
	// "bool_string", "number_string", "number_to_string",
	// "single_to_array", "array_to_single", "string_to_value" (a bare
	// string element of a multi-valued complex attribute) and
	// "<attribute>_string" for a singular complex attribute given as a
	// string ("manager_string").
	Rewrote func(kind string)
}

func (o Options) rewrote(kind string) {
	if o.Rewrote != nil {
		o.Rewrote(kind)
	}
}

// CoerceSingular checks a singular (non-complex) value against the
// attribute's type and returns it in canonical Go form: string (string,
// reference, binary), bool, int64, float64, or for dateTime the instant in
// UTC formatted with time.RFC3339Nano. JSON numbers may arrive as
// json.Number, float64 or int64. Null (nil) is returned as nil. A value of
// the wrong type — or, for binary, not valid base64, for dateTime not a
// valid date and time (see ParseDateTime) — is an *Error of type
// invalidValue whose detail names a.Path.
func CoerceSingular(a *Attr, v any, o Options) (any, error) {
	if v == nil {
		return nil, nil
	}
	if n, ok := v.(json.Number); ok {
		if a.Type == TypeString && o.Lenient {
			o.rewrote("number_to_string")
			return n.String(), nil
		}
		v = numberValue(n)
	}
	switch a.Type {
	case TypeString, TypeReference:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeBinary:
		if s, ok := v.(string); ok {
			if _, err := base64.StdEncoding.DecodeString(s); err == nil {
				return s, nil
			}
			return nil, Errorf(InvalidValue, "%s must be base64-encoded binary", a.Path)
		}
	case TypeBoolean:
		switch t := v.(type) {
		case bool:
			return t, nil
		case string:
			if o.Lenient {
				switch s := strings.TrimSpace(t); {
				case strings.EqualFold(s, "true"):
					o.rewrote("bool_string")
					return true, nil
				case strings.EqualFold(s, "false"):
					o.rewrote("bool_string")
					return false, nil
				}
			}
		}
	case TypeInteger:
		switch t := v.(type) {
		case int64:
			return t, nil
		case float64:
			if t == math.Trunc(t) && t >= math.MinInt64 && t < math.MaxInt64 {
				return int64(t), nil
			}
		case string:
			if o.Lenient {
				if i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
					o.rewrote("number_string")
					return i, nil
				}
			}
		}
	case TypeDecimal:
		switch t := v.(type) {
		case int64:
			return float64(t), nil
		case float64:
			return t, nil
		case string:
			if o.Lenient {
				if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
					o.rewrote("number_string")
					return f, nil
				}
			}
		}
	case TypeDateTime:
		if s, ok := v.(string); ok {
			t, err := ParseDateTime(s)
			if err != nil {
				return nil, Errorf(InvalidValue, "%s must be a dateTime such as 2008-01-23T04:56:22Z, not %s", a.Path, describe(v))
			}
			return t.UTC().Format(time.RFC3339Nano), nil
		}
	}
	return nil, Errorf(InvalidValue, "%s must be a %s, not %s", a.Path, a.Type, describe(v))
}

// ParseDateTime parses an xsd:dateTime as RFC 7643 §2.3.5 uses it: RFC 3339
// with or without fractional seconds (any number of digits, as in
// Microsoft's "2015-10-10T14:38:21.8617979-07:00") and with a "Z" or
// numeric offset; a value without an offset is read as UTC, as xsd:dateTime
// allows it. Anything else is an error from package time.
func ParseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t, nil
	}
	if t2, err2 := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err2 == nil {
		return t2, nil
	}
	return time.Time{}, err
}

func numberValue(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return string(n)
}

func describe(v any) string {
	switch t := v.(type) {
	case string:
		for i := range t {
			if i >= 40 {
				t = t[:i] + "…"
				break
			}
		}
		return strconv.Quote(t)
	case bool:
		return strconv.FormatBool(t)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case json.Number:
		return t.String()
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return "a value of an unknown kind"
		}
		return string(b)
	}
}
