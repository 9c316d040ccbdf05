package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// decode reads a JSON object the way the handlers read request bodies:
// with json.Decoder.UseNumber.
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// roundTrip marshals v and decodes it again (with UseNumber), so that
// values can be compared with JSON literals.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %#v: %v", v, err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return out
}

// jsonEqual fails the test unless got encodes to the same JSON value as
// the literal want.
func jsonEqual(t *testing.T, got any, want string) {
	t.Helper()
	g := roundTrip(t, got)
	var w any
	d := json.NewDecoder(bytes.NewReader([]byte(want)))
	d.UseNumber()
	if err := d.Decode(&w); err != nil {
		t.Fatalf("bad want literal %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.Marshal(got)
		t.Errorf("got  %s\nwant %s", gb, want)
	}
}

// scimErr fails the test unless err is an *Error of the given scimType and
// returns it.
func scimErr(t *testing.T, err error, scimType string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a %s error", scimType)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *schemas.Error", err, err)
	}
	if e.ScimType != scimType {
		t.Fatalf("scimType = %q (%s), want %q", e.ScimType, e.Detail, scimType)
	}
	return e
}
