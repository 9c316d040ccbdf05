package schemas

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func attr(typ string) *Attr { return &Attr{Name: "x", Path: "x", Type: typ} }

func TestCoerceSingular(t *testing.T) {
	created, _ := User.Lookup("meta.created")
	cert, _ := User.Lookup("x509Certificates.value")
	profile, _ := User.Lookup("profileUrl")
	active, _ := User.Lookup("active")
	userName, _ := User.Lookup("userName")

	strict, lenient := Options{}, Options{Lenient: true}
	tests := []struct {
		name string
		a    *Attr
		v    any
		o    Options
		want any
		kind string // the rewrite reported, if any
	}{
		{"nil", userName, nil, strict, nil, ""},
		{"string", userName, "bjensen", strict, "bjensen", ""},
		{"empty string", userName, "", strict, "", ""},
		{"reference", profile, "https://example.com/b", strict, "https://example.com/b", ""},
		{"binary", cert, "aGVsbG8=", strict, "aGVsbG8=", ""},
		{"bool", active, true, strict, true, ""},
		{"bool false", active, false, lenient, false, ""},
		{"True string", active, "True", lenient, true, "bool_string"},
		{"false string", active, " FALSE ", lenient, false, "bool_string"},
		{"number to string", userName, json.Number("42"), lenient, "42", "number_to_string"},
		{"integer json.Number", attr(TypeInteger), json.Number("42"), strict, int64(42), ""},
		{"integer negative", attr(TypeInteger), json.Number("-7"), strict, int64(-7), ""},
		{"integer int64", attr(TypeInteger), int64(3), strict, int64(3), ""},
		{"integer whole float", attr(TypeInteger), float64(5), strict, int64(5), ""},
		{"integer whole json float", attr(TypeInteger), json.Number("5.0"), strict, int64(5), ""},
		{"integer string", attr(TypeInteger), " 12 ", lenient, int64(12), "number_string"},
		{"decimal json.Number", attr(TypeDecimal), json.Number("2.5"), strict, 2.5, ""},
		{"decimal from int", attr(TypeDecimal), json.Number("2"), strict, float64(2), ""},
		{"decimal float", attr(TypeDecimal), 1.25, strict, 1.25, ""},
		{"decimal string", attr(TypeDecimal), "1.5", lenient, 1.5, "number_string"},
		{"dateTime Z", created, "2008-01-23T04:56:22Z", strict, "2008-01-23T04:56:22Z", ""},
		{"dateTime offset to UTC", created, "2015-10-10T14:38:21.8617979-07:00", strict, "2015-10-10T21:38:21.8617979Z", ""},
		{"dateTime no offset", created, "2008-01-23T04:56:22", strict, "2008-01-23T04:56:22Z", ""},
		{"dateTime no offset fraction", created, "2008-01-23T04:56:22.5", strict, "2008-01-23T04:56:22.5Z", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var kinds []string
			o := tc.o
			o.Rewrote = func(k string) { kinds = append(kinds, k) }
			got, err := CoerceSingular(tc.a, tc.v, o)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if got != tc.want {
				t.Errorf("got %#v (%T), want %#v (%T)", got, got, tc.want, tc.want)
			}
			want := []string{}
			if tc.kind != "" {
				want = []string{tc.kind}
			}
			if strings.Join(kinds, ",") != strings.Join(want, ",") {
				t.Errorf("rewrites = %v, want %v", kinds, want)
			}
		})
	}
}

func TestCoerceSingularErrors(t *testing.T) {
	created, _ := User.Lookup("meta.created")
	cert, _ := User.Lookup("x509Certificates.value")
	active, _ := User.Lookup("active")
	userName, _ := User.Lookup("userName")
	given, _ := User.Lookup("name.givenName")

	strict, lenient := Options{}, Options{Lenient: true}
	tests := []struct {
		name string
		a    *Attr
		v    any
		o    Options
	}{
		{"number for string (strict)", userName, json.Number("42"), strict},
		{"bool for string", userName, true, lenient},
		{"object for string", given, map[string]any{"a": "b"}, lenient},
		{"array for string", given, []any{"a"}, lenient},
		{"True string (strict)", active, "True", strict},
		{"yes for bool", active, "yes", lenient},
		{"number for bool", active, json.Number("1"), lenient},
		{"bad base64", cert, "not base64!", lenient},
		{"number for binary", cert, json.Number("1"), lenient},
		{"fractional integer", attr(TypeInteger), json.Number("1.5"), lenient},
		{"integer overflow", attr(TypeInteger), json.Number("9223372036854775808"), lenient},
		{"integer string (strict)", attr(TypeInteger), "12", strict},
		{"integer bad string", attr(TypeInteger), "twelve", lenient},
		{"decimal string (strict)", attr(TypeDecimal), "1.5", strict},
		{"decimal out of range", attr(TypeDecimal), json.Number("1e400"), lenient},
		{"decimal NaN string", attr(TypeDecimal), "NaN", lenient},
		{"bad dateTime", created, "yesterday", lenient},
		{"date only", created, "2008-01-23", lenient},
		{"number for dateTime", created, json.Number("1200000000"), lenient},
		{"string for complex", attr(TypeComplex), "x", lenient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CoerceSingular(tc.a, tc.v, tc.o)
			e := scimErr(t, err, InvalidValue)
			if got != nil {
				t.Errorf("value %#v returned with the error", got)
			}
			if !strings.Contains(e.Detail, tc.a.Path) {
				t.Errorf("detail %q does not name %s", e.Detail, tc.a.Path)
			}
		})
	}
}

func TestCoerceSingularLongValueInDetail(t *testing.T) {
	userName, _ := User.Lookup("active")
	_, err := CoerceSingular(userName, strings.Repeat("y", 500), Options{Lenient: true})
	e := scimErr(t, err, InvalidValue)
	if len(e.Detail) > 200 || !strings.Contains(e.Detail, "…") {
		t.Errorf("detail not shortened: %q", e.Detail)
	}
}

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2008-01-23T04:56:22Z", time.Date(2008, 1, 23, 4, 56, 22, 0, time.UTC)},
		{" 2008-01-23T04:56:22Z ", time.Date(2008, 1, 23, 4, 56, 22, 0, time.UTC)},
		{"2008-01-23T04:56:22.123Z", time.Date(2008, 1, 23, 4, 56, 22, 123e6, time.UTC)},
		{"2015-10-10T14:38:21.8617979-07:00", time.Date(2015, 10, 10, 21, 38, 21, 861797900, time.UTC)},
		{"2008-01-23T04:56:22+02:00", time.Date(2008, 1, 23, 2, 56, 22, 0, time.UTC)},
		{"2008-01-23T04:56:22", time.Date(2008, 1, 23, 4, 56, 22, 0, time.UTC)},
		{"2008-01-23T04:56:22.000001", time.Date(2008, 1, 23, 4, 56, 22, 1000, time.UTC)},
		{"2015-10-10T14:38:21.861797912345Z", time.Date(2015, 10, 10, 14, 38, 21, 861797912, time.UTC)},
	}
	for _, tc := range tests {
		got, err := ParseDateTime(tc.in)
		if err != nil {
			t.Errorf("ParseDateTime(%q): %v", tc.in, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("ParseDateTime(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{"", "yesterday", "2008-01-23", "2008-13-23T04:56:22Z", "2008-01-23 04:56:22Z", "1200000000"} {
		if got, err := ParseDateTime(in); err == nil {
			t.Errorf("ParseDateTime(%q) = %v, want an error", in, got)
		}
	}
}

func TestCoerceSingularIntegerBounds(t *testing.T) {
	a := attr(TypeInteger)
	if got, err := CoerceSingular(a, json.Number("-9223372036854775808"), Options{}); err != nil || got != int64(math.MinInt64) {
		t.Errorf("MinInt64: %v, %v", got, err)
	}
	if got, err := CoerceSingular(a, json.Number("9223372036854775807"), Options{}); err != nil || got != int64(math.MaxInt64) {
		t.Errorf("MaxInt64: %v, %v", got, err)
	}
	if _, err := CoerceSingular(a, math.Pow(2, 63), Options{}); err == nil {
		t.Error("2^63 as float64 accepted as an integer")
	}
}
