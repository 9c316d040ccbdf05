package schemas

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const ent = EnterpriseURN

// normalize runs Normalize on a JSON body, checks that the input was not
// modified, and returns the result and the lenient rewrites reported.
func normalize(t *testing.T, rt *ResourceType, body string, lenient bool) (map[string]any, []string, error) {
	t.Helper()
	in := decode(t, body)
	before := decode(t, body)
	var kinds []string
	out, err := Normalize(rt, in, Options{Lenient: lenient, Rewrote: func(k string) { kinds = append(kinds, k) }})
	if !reflect.DeepEqual(in, before) {
		t.Errorf("Normalize modified its input: %v", in)
	}
	return out, kinds, err
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		rt   *ResourceType
		in   string
		want string
	}{
		{"canonical key case", User,
			`{"USERNAME":"bjensen","Name":{"GIVENNAME":"Barbara","familyname":"Jensen"},"ACTIVE":true,"DisplayName":"Babs"}`,
			`{"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"displayName":"Babs"}`},
		{"unknown attributes and schemas dropped", User,
			`{"schemas":["` + UserURN + `","urn:example:unknown"],"userName":"a","foo":1,"name":{"nope":"x","givenName":"B"},"urn:example:unknown":{"x":1},"urn:example:unknown:x":"y"}`,
			`{"userName":"a","name":{"givenName":"B"}}`},
		{"readOnly attributes dropped", User,
			`{"id":"123","meta":{"created":"2020-01-01T00:00:00Z"},"groups":[{"value":"g1"}],"userName":"a","externalId":"ext-1",
			  "` + ent + `":{"manager":{"value":"m1","displayName":"Boss"}}}`,
			`{"userName":"a","externalId":"ext-1","` + ent + `":{"manager":{"value":"m1"}}}`},
		{"readOnly-only complex value removed", User,
			`{"userName":"a","` + ent + `":{"manager":{"displayName":"Boss"}}}`,
			`{"userName":"a"}`},
		{"URN-qualified core keys", User,
			`{"` + UserURN + `:userName":"a","` + strings.ToUpper(UserURN) + `:name.givenName":"B"}`,
			`{"userName":"a","name":{"givenName":"B"}}`},
		{"extension nested, any key case", User,
			`{"userName":"a","` + strings.ToLower(ent) + `":{"DEPARTMENT":"Sales","Manager":{"Value":"m1","$REF":"https://h/Users/m1"},"nope":1}}`,
			`{"userName":"a","` + ent + `":{"department":"Sales","manager":{"value":"m1","$ref":"https://h/Users/m1"}}}`},
		{"extension flat keys", User,
			`{"userName":"a","` + ent + `:department":"Sales","` + ent + `:manager.value":"m1","` + ent + `.employeeNumber":"701"}`,
			`{"userName":"a","` + ent + `":{"department":"Sales","employeeNumber":"701","manager":{"value":"m1"}}}`},
		{"extension bare keys", User,
			`{"userName":"a","department":"Sales","costCenter":"4130"}`,
			`{"userName":"a","` + ent + `":{"department":"Sales","costCenter":"4130"}}`},
		{"extension nested and flat, different attributes", User,
			`{"userName":"a","` + ent + `":{"department":"Sales"},"` + ent + `:division":"West"}`,
			`{"userName":"a","` + ent + `":{"department":"Sales","division":"West"}}`},
		{"empty extension object removed", User,
			`{"userName":"a","` + ent + `":{},"urn:example:x":{}}`,
			`{"userName":"a"}`},
		{"extension of nulls removed", User,
			`{"userName":"a","` + ent + `":{"department":null,"manager":{"value":""}}}`,
			`{"userName":"a"}`},
		{"dotted sub-attribute keys", User,
			`{"userName":"a","name.givenName":"B","NAME.familyName":"J"}`,
			`{"userName":"a","name":{"givenName":"B","familyName":"J"}}`},
		{"dotted key merges into whole value", User,
			`{"userName":"a","name":{"familyName":"J"},"name.givenName":"B"}`,
			`{"userName":"a","name":{"givenName":"B","familyName":"J"}}`},
		{"null, empty string, [] and {} removed", User,
			`{"userName":"a","displayName":"","nickName":null,"emails":[],"name":{},"phoneNumbers":[{"value":""},{}],"addresses":[{"type":null}],
			  "ims":[{"value":"x","display":""}]}`,
			`{"userName":"a","ims":[{"value":"x"}]}`},
		{"password kept", User,
			`{"userName":"a","password":"s3cret"}`,
			`{"userName":"a","password":"s3cret"}`},
		{"multi-valued complex", User,
			`{"userName":"a","emails":[{"VALUE":"a@example.com","Type":"work","primary":true},{"value":"b@example.com","primary":false}]}`,
			`{"userName":"a","emails":[{"value":"a@example.com","type":"work","primary":true},{"value":"b@example.com","primary":false}]}`},
		{"binary value", User,
			`{"userName":"a","x509Certificates":[{"value":"aGVsbG8="}]}`,
			`{"userName":"a","x509Certificates":[{"value":"aGVsbG8="}]}`},
		{"group members kept as value objects", Group,
			`{"displayName":"G","members":[{"value":"u1","display":"U1","type":"User"},{"VALUE":"u2","$ref":"https://h/Users/u2"}]}`,
			`{"displayName":"G","members":[{"value":"u1","display":"U1","type":"User"},{"value":"u2","$ref":"https://h/Users/u2"}]}`},
		{"group ignores user and extension attributes", Group,
			`{"displayName":"G","userName":"x","` + ent + `":{"department":"Sales"},"department":"Sales"}`,
			`{"displayName":"G"}`},
		{"empty body", User, `{}`, `{}`},
	}
	for _, tc := range tests {
		for _, lenient := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				got, kinds, err := normalize(t, tc.rt, tc.in, lenient)
				if err != nil {
					t.Fatalf("lenient=%v: %v", lenient, err)
				}
				jsonEqual(t, got, tc.want)
				if len(kinds) > 0 {
					t.Errorf("lenient=%v: rewrites %v for conforming input", lenient, kinds)
				}
			})
		}
	}
}

func TestNormalizeTypes(t *testing.T) {
	out, _, err := normalize(t, User, `{"userName":"a","active":false,"emails":[{"value":"a@b","primary":true}]}`, false)
	if err != nil {
		t.Fatal(err)
	}
	if out["active"] != false {
		t.Errorf("active = %#v", out["active"])
	}
	emails, ok := out["emails"].([]any)
	if !ok || len(emails) != 1 {
		t.Fatalf("emails = %#v, want []any", out["emails"])
	}
	if e, ok := emails[0].(map[string]any); !ok || e["primary"] != true || e["value"] != "a@b" {
		t.Errorf("emails[0] = %#v", emails[0])
	}
	if _, ok := out[ent]; ok {
		t.Error("extension object created without extension attributes")
	}
}

func TestNormalizeLenient(t *testing.T) {
	tests := []struct {
		name  string
		rt    *ResourceType
		in    string
		want  string
		kinds []string
	}{
		{"True string", User, `{"userName":"a","active":"True"}`, `{"userName":"a","active":true}`, []string{"bool_string"}},
		{"false string", User, `{"userName":"a","active":"false"}`, `{"userName":"a","active":false}`, []string{"bool_string"}},
		{"primary string", User, `{"userName":"a","emails":[{"value":"x","primary":"True"}]}`,
			`{"userName":"a","emails":[{"value":"x","primary":true}]}`, []string{"bool_string"}},
		{"number for string", User, `{"userName":"a","` + ent + `":{"employeeNumber":701}}`,
			`{"userName":"a","` + ent + `":{"employeeNumber":"701"}}`, []string{"number_to_string"}},
		{"single to array", User, `{"userName":"a","emails":{"value":"x"}}`,
			`{"userName":"a","emails":[{"value":"x"}]}`, []string{"single_to_array"}},
		{"array to single", User, `{"userName":["a"]}`, `{"userName":"a"}`, []string{"array_to_single"}},
		{"array to single complex", User, `{"userName":"a","name":[{"givenName":"B"}]}`,
			`{"userName":"a","name":{"givenName":"B"}}`, []string{"array_to_single"}},
		{"string to value", User, `{"userName":"a","emails":["x@example.com"]}`,
			`{"userName":"a","emails":[{"value":"x@example.com"}]}`, []string{"string_to_value"}},
		{"bare string single to array", User, `{"userName":"a","emails":"x@example.com"}`,
			`{"userName":"a","emails":[{"value":"x@example.com"}]}`, []string{"single_to_array", "string_to_value"}},
		{"manager string", User, `{"userName":"a","` + ent + `":{"manager":"m1"}}`,
			`{"userName":"a","` + ent + `":{"manager":{"value":"m1"}}}`, []string{"manager_string"}},
		{"members string", Group, `{"displayName":"G","members":["u1","u2"]}`,
			`{"displayName":"G","members":[{"value":"u1"},{"value":"u2"}]}`, []string{"string_to_value", "string_to_value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, kinds, err := normalize(t, tc.rt, tc.in, true)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, tc.want)
			if !slices.Equal(kinds, tc.kinds) {
				t.Errorf("rewrites = %v, want %v", kinds, tc.kinds)
			}
			// The same input is refused in strict mode.
			_, _, err = normalize(t, tc.rt, tc.in, false)
			scimErr(t, err, InvalidValue)
		})
	}
}

func TestNormalizeErrors(t *testing.T) {
	tests := []struct {
		name     string
		rt       *ResourceType
		in       string
		lenient  bool
		scimType string
		detail   string // a substring of the detail
	}{
		{"string for bool", User, `{"userName":"a","active":"yes"}`, true, InvalidValue, "active"},
		{"number for bool", User, `{"userName":"a","active":1}`, true, InvalidValue, "active"},
		{"object for string", User, `{"userName":{"value":"a"}}`, true, InvalidValue, "userName"},
		{"bool for string", User, `{"userName":true}`, true, InvalidValue, "userName"},
		{"sub-attribute type", User, `{"userName":"a","name":{"givenName":false}}`, true, InvalidValue, "name.givenName"},
		{"element sub-attribute type", User, `{"userName":"a","emails":[{"value":"x","primary":"maybe"}]}`, true, InvalidValue, "emails.primary"},
		{"string for complex without value", User, `{"userName":"a","name":"Barbara"}`, true, InvalidValue, "name"},
		{"number for complex", User, `{"userName":"a","name":5}`, true, InvalidValue, "name"},
		{"array of arrays", User, `{"userName":"a","emails":[[{"value":"x"}]]}`, true, InvalidValue, "emails"},
		{"two-element array for single", User, `{"userName":["a","b"]}`, true, InvalidValue, "userName"},
		{"array in an element", User, `{"userName":"a","emails":[{"value":["x","y"]}]}`, true, InvalidValue, "emails.value"},
		{"bad base64", User, `{"userName":"a","x509Certificates":[{"value":"%%%"}]}`, true, InvalidValue, "x509Certificates.value"},
		{"two primaries", User, `{"userName":"a","emails":[{"value":"x","primary":true},{"value":"y","primary":true}]}`, true, InvalidValue, "primary"},
		{"two primaries lenient strings", User, `{"userName":"a","phoneNumbers":[{"value":"1","primary":"true"},{"value":"2","primary":"True"}]}`, true, InvalidValue, "phoneNumbers"},
		{"member without value", Group, `{"displayName":"G","members":[{"display":"U1"}]}`, true, InvalidValue, "members"},
		{"extension not an object", User, `{"userName":"a","` + ent + `":"Sales"}`, true, InvalidValue, ent},
		{"extension attribute type", User, `{"userName":"a","` + ent + `":{"department":true}}`, true, InvalidValue, ent + ":department"},
		{"dotted key into multi-valued", User, `{"userName":"a","emails.value":"x"}`, true, InvalidValue, "emails"},
		{"given twice in two cases", User, `{"userName":"a","USERNAME":"b"}`, false, InvalidSyntax, "userName"},
		{"sub given twice in two cases", User, `{"userName":"a","name":{"givenName":"B","GIVENNAME":"C"}}`, false, InvalidSyntax, "name.givenName"},
		{"dotted and nested", User, `{"userName":"a","name":{"givenName":"B"},"name.givenName":"C"}`, false, InvalidSyntax, "name.givenName"},
		{"dotted twice", User, `{"userName":"a","name.givenName":"B","NAME.GIVENNAME":"C"}`, false, InvalidSyntax, "name.givenName"},
		{"extension nested and flat", User, `{"userName":"a","` + ent + `":{"department":"A"},"` + ent + `:department":"B"}`, false, InvalidSyntax, "department"},
		{"extension qualified and bare", User, `{"userName":"a","department":"A","` + ent + `:department":"B"}`, false, InvalidSyntax, "department"},
		{"extension object twice", User, `{"userName":"a","` + ent + `":{"department":"A"},"` + strings.ToUpper(ent) + `":{"department":"B"}}`, false, InvalidSyntax, "department"},
		{"core qualified and bare", User, `{"userName":"a","` + UserURN + `:userName":"b"}`, false, InvalidSyntax, "userName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := normalize(t, tc.rt, tc.in, tc.lenient)
			e := scimErr(t, err, tc.scimType)
			if out != nil {
				t.Errorf("result %v returned with the error", out)
			}
			if !strings.Contains(e.Detail, tc.detail) {
				t.Errorf("detail %q does not contain %q", e.Detail, tc.detail)
			}
		})
	}
}

// TestNormalizeEmptyDuplicateIgnored: a key whose value is empty sets
// nothing, so it cannot clash with another spelling of the same attribute.
func TestNormalizeEmptyDuplicateIgnored(t *testing.T) {
	got, _, err := normalize(t, User, `{"userName":"a","USERNAME":null,"UserName":""}`, false)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, `{"userName":"a"}`)
}

func TestNormalizeReadOnlyNeverClashes(t *testing.T) {
	got, _, err := normalize(t, User, `{"userName":"a","id":"1","ID":"2","meta":{"version":"W/\"1\""},"meta.version":"x"}`, false)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, `{"userName":"a"}`)
}

func TestNormalizeDoesNotAlias(t *testing.T) {
	in := decode(t, `{"userName":"a","name":{"givenName":"B"},"emails":[{"value":"x"}]}`)
	out, err := Normalize(User, in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out["name"].(map[string]any)["givenName"] = "changed"
	out["emails"].([]any)[0].(map[string]any)["value"] = "changed"
	jsonEqual(t, in, `{"userName":"a","name":{"givenName":"B"},"emails":[{"value":"x"}]}`)
}

func TestNormalizeDeterministic(t *testing.T) {
	// Whatever order the keys come in, the dotted key and the whole value
	// clash the same way, and the error names both keys.
	body := `{"name.givenName":"C","name":{"givenName":"B"},"userName":"a"}`
	for range 20 {
		_, _, err := normalize(t, User, body, false)
		e := scimErr(t, err, InvalidSyntax)
		if !strings.Contains(e.Detail, `"name"`) || !strings.Contains(e.Detail, `"name.givenName"`) {
			t.Fatalf("detail %q", e.Detail)
		}
	}
}

func TestNormalizeValue(t *testing.T) {
	emails, _ := User.Lookup("emails")
	// One element of a multi-valued attribute (multi=false).
	got, err := NormalizeValue(emails, map[string]any{"Value": "x", "TYPE": "work"}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, `{"value":"x","type":"work"}`)
	// An array as one element is refused.
	_, err = NormalizeValue(emails, []any{map[string]any{"value": "x"}}, false, Options{})
	scimErr(t, err, InvalidValue)
	// The whole value.
	got, err = NormalizeValue(emails, []any{map[string]any{"value": "x"}, nil, map[string]any{}}, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, `[{"value":"x"}]`)
	// Entirely empty values are nil.
	for _, v := range []any{nil, "", []any{}, map[string]any{}, []any{map[string]any{"value": ""}}} {
		got, err := NormalizeValue(emails, v, true, Options{})
		if err != nil || got != nil {
			t.Errorf("NormalizeValue(%#v) = %#v, %v; want nil, nil", v, got, err)
		}
	}
	// Singular attribute: multi does not matter.
	userName, _ := User.Lookup("userName")
	for _, multi := range []bool{false, true} {
		got, err := NormalizeValue(userName, "bjensen", multi, Options{})
		if err != nil || got != "bjensen" {
			t.Errorf("multi=%v: %#v, %v", multi, got, err)
		}
	}
	// A readOnly sub-attribute is dropped but the value is not.
	manager, _ := User.Lookup("manager")
	got, err = NormalizeValue(manager, map[string]any{"value": "m", "displayName": "Boss"}, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, `{"value":"m"}`)
	// Numbers that arrive as json.Number from a decoder with UseNumber.
	employee, _ := User.Lookup("employeeNumber")
	if _, err := NormalizeValue(employee, json.Number("1"), true, Options{}); err == nil {
		t.Error("a number for a string attribute accepted in strict mode")
	}
}

func TestMissingRequired(t *testing.T) {
	tests := []struct {
		rt   *ResourceType
		doc  map[string]any
		want []string
	}{
		{User, map[string]any{}, []string{"userName"}},
		{User, map[string]any{"userName": ""}, []string{"userName"}},
		{User, map[string]any{"userName": nil}, []string{"userName"}},
		{User, map[string]any{"displayName": "B"}, []string{"userName"}},
		{User, map[string]any{"userName": "a"}, nil},
		{User, map[string]any{"userName": "a", "id": ""}, nil},
		{Group, map[string]any{}, []string{"displayName"}},
		{Group, map[string]any{"displayName": "G"}, nil},
		{Group, map[string]any{"userName": "G"}, []string{"displayName"}},
	}
	for _, tc := range tests {
		got := MissingRequired(tc.rt, tc.doc)
		if !slices.Equal(got, tc.want) {
			t.Errorf("MissingRequired(%s, %v) = %#v, want %#v", tc.rt.Name, tc.doc, got, tc.want)
		}
		if tc.want == nil && got != nil {
			t.Errorf("MissingRequired(%s, %v) = %#v, want nil", tc.rt.Name, tc.doc, got)
		}
	}
	// A document Normalize made from a body without userName.
	doc, err := Normalize(User, decode(t, `{"id":"x","userName":"","name":{"givenName":"B"}}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := MissingRequired(User, doc); !slices.Equal(got, []string{"userName"}) {
		t.Errorf("MissingRequired(normalized) = %v", got)
	}
}
