package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/scimd/scimd/schemas"
)

const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

var lenient = schemas.Options{Lenient: true}

// doc decodes a JSON document the way the server stores it.
func doc(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad fixture %s: %v", s, err)
	}
	n, err := schemas.Normalize(schemas.User, m, schemas.Options{})
	if err != nil {
		t.Fatalf("fixture %s: %v", s, err)
	}
	return n
}

func ops(t *testing.T, o schemas.Options, list string) []Op {
	t.Helper()
	got, err := Decode([]byte(`{"schemas":["`+schemas.PatchOpURN+`"],"Operations":[`+list+`]}`), o)
	if err != nil {
		t.Fatalf("Decode %s: %v", list, err)
	}
	return got
}

// canon renders a document as sorted JSON for comparison.
func canon(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, b)
	return buf.String()
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		o          schemas.Options
		want       []Op
		scimType   string
	}{
		{"replace", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`,
			schemas.Options{}, []Op{{OpReplace, "active", false}}, ""},
		{"member names any case", `{"SCHEMAS":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[{"OP":"remove","PATH":"title"}]}`,
			schemas.Options{}, []Op{{OpRemove, "title", nil}}, ""},
		{"op case lenient", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
			lenient, []Op{{OpReplace, "active", "False"}}, ""},
		{"op case strict", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":false}]}`,
			schemas.Options{}, nil, schemas.InvalidSyntax},
		{"empty operations lenient", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`,
			lenient, []Op{}, ""},
		{"empty operations strict", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`,
			schemas.Options{}, nil, schemas.InvalidValue},
		{"no schema", `{"Operations":[{"op":"remove","path":"title"}]}`, lenient, nil, schemas.InvalidSyntax},
		{"wrong schema", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"Operations":[{"op":"remove","path":"title"}]}`, lenient, nil, schemas.InvalidSyntax},
		{"not json", `{"schemas":`, lenient, nil, schemas.InvalidSyntax},
		{"trailing data", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"a"}]} {}`, lenient, nil, schemas.InvalidSyntax},
		{"array body", `[]`, lenient, nil, schemas.InvalidSyntax},
		{"unknown op", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"merge","path":"a","value":1}]}`, lenient, nil, schemas.InvalidSyntax},
		{"add without value", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"title"}]}`, lenient, nil, schemas.InvalidValue},
		{"path not string", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":1}]}`, lenient, nil, schemas.InvalidSyntax},
		{"operation not object", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":["x"]}`, lenient, nil, schemas.InvalidSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.body), tc.o)
			if tc.scimType != "" {
				var se *schemas.Error
				if !errors.As(err, &se) || se.ScimType != tc.scimType {
					t.Fatalf("err = %v, want scimType %s", err, tc.scimType)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("ops (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeTooMany(t *testing.T) {
	op := `{"op":"remove","path":"title"}`
	list := strings.TrimSuffix(strings.Repeat(op+",", MaxOperations+1), ",")
	_, err := Decode([]byte(`{"schemas":["`+schemas.PatchOpURN+`"],"Operations":[`+list+`]}`), lenient)
	var se *schemas.Error
	if !errors.As(err, &se) || se.ScimType != schemas.TooMany {
		t.Fatalf("err = %v", err)
	}
}

const base = `{"userName":"bjensen","active":true,"name":{"givenName":"Barbara","familyName":"Jensen"},
	"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.example","type":"home"}],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Tour Operations","manager":{"value":"m1"}}}`

func TestApplyUser(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       schemas.Options
		ops     string
		want    string // expected document, as JSON
		changed []string
	}{
		{"replace simple", lenient, `{"op":"replace","path":"active","value":false}`,
			`{"active":false,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"},{"type":"home","value":"babs@home.example"}],"name":{"familyName":"Jensen","givenName":"Barbara"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Tour Operations","manager":{"value":"m1"}},"userName":"bjensen"}`,
			[]string{"active"}},
		{"entra string boolean", lenient, `{"op":"Replace","path":"active","value":"False"}`, "", []string{"active"}},
		{"okta path-less deactivate", lenient, `{"op":"replace","value":{"active":false}}`, "", []string{"active"}},
		{"no change", lenient, `{"op":"replace","path":"active","value":true}`, "", nil},
		{"replace complex merges", lenient, `{"op":"replace","path":"name","value":{"givenName":"Babs"}}`, "", []string{"name"}},
		{"sub-attribute", lenient, `{"op":"replace","path":"name.familyName","value":"J"}`, "", []string{"name"}},
		{"filtered sub", lenient, `{"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@example.com"}`, "", []string{"emails"}},
		{"add creates on absent filter", lenient, `{"op":"add","path":"emails[type eq \"other\"].value","value":"o@example.com"}`, "", []string{"emails"}},
		{"remove filtered", lenient, `{"op":"remove","path":"emails[type eq \"home\"]"}`, "", []string{"emails"}},
		{"remove unmatched filter is a no-op", lenient, `{"op":"remove","path":"emails[type eq \"other\"]"}`, "", nil},
		{"add existing value changes nothing", lenient, `{"op":"add","path":"emails","value":[{"value":"babs@home.example","type":"home"}]}`, "", nil},
		{"enterprise path", lenient, `{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}`, "", []string{ent + ":department"}},
		{"manager string", lenient, `{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m2"}`, "", []string{ent + ":manager"}},
		{"manager cleared by empty string", lenient, `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}`, "", []string{ent + ":manager"}},
		{"manager filter remove", lenient, `{"op":"remove","path":"manager[value eq \"m1\"]"}`, "", []string{ent + ":manager"}},
		{"dotted keys", lenient, `{"op":"replace","value":{"name.givenName":"G","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}`, "", []string{"name", ent + ":employeeNumber"}},
		{"extension dot form", lenient, `{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.costCenter","value":"42"}`, "", []string{ent + ":costCenter"}},
		{"id equal is accepted", lenient, `{"op":"replace","path":"id","value":"u1"}`, "", nil},
		{"readOnly in value ignored", lenient, `{"op":"replace","value":{"id":"other","meta":{"resourceType":"User"},"title":"Boss"}}`, "", []string{"title"}},
		{"unknown attribute ignored", lenient, `{"op":"add","path":"favouriteColour","value":"blue"}`, "", nil},
		{"null removes", lenient, `{"op":"replace","path":"name.givenName","value":null}`, "", []string{"name"}},
		{"remove whole extension", lenient, `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}`, "", []string{ent + ":department", ent + ":manager"}},
		{"primary moves", lenient, `{"op":"add","path":"emails","value":[{"value":"x@example.com","primary":true}]}`, "", []string{"emails"}},
		{"remove with value list", lenient, `{"op":"remove","path":"emails","value":[{"value":"babs@home.example"}]}`, "", []string{"emails"}},
		{"empty operations", lenient, ``, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := doc(t, base)
			res, err := Apply(schemas.User, "u1", d, ops(t, tc.o, tc.ops), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				if got := canon(t, d); got != canon(t, doc(t, tc.want)) {
					t.Fatalf("doc = %s\nwant  %s", got, tc.want)
				}
			}
			if diff := cmp.Diff(tc.changed, res.Changed); diff != "" {
				t.Fatalf("changed (-want +got):\n%s\ndoc %s", diff, canon(t, d))
			}
		})
	}
}

// TestApplyValues checks the resulting values of the trickier operations.
func TestApplyValues(t *testing.T) {
	for _, tc := range []struct {
		name, ops string
		check     func(d map[string]any) bool
	}{
		{"filtered replace keeps other emails", `{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@example.com"}`, func(d map[string]any) bool {
			return canon(t, d["emails"]) == `[{"primary":true,"type":"work","value":"new@example.com"},{"type":"home","value":"babs@home.example"}]`
		}},
		{"create on absent seeds the filter", `{"op":"add","path":"emails[type eq \"other\"].value","value":"o@example.com"}`, func(d map[string]any) bool {
			return canon(t, d["emails"].([]any)[2]) == `{"type":"other","value":"o@example.com"}`
		}},
		{"primary moves", `{"op":"add","path":"emails","value":[{"value":"x@example.com","primary":true}]}`, func(d map[string]any) bool {
			return canon(t, d["emails"]) == `[{"type":"work","value":"bjensen@example.com"},{"type":"home","value":"babs@home.example"},{"primary":true,"value":"x@example.com"}]`
		}},
		{"filtered primary moves", `{"op":"replace","path":"emails[type eq \"home\"].primary","value":"true"}`, func(d map[string]any) bool {
			return canon(t, d["emails"]) == `[{"type":"work","value":"bjensen@example.com"},{"primary":true,"type":"home","value":"babs@home.example"}]`
		}},
		{"manager string", `{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m2"}`, func(d map[string]any) bool {
			return canon(t, d[ent]) == `{"department":"Tour Operations","manager":{"value":"m2"}}`
		}},
		{"manager older array form", `{"op":"Add","path":"manager","value":[{"$ref":"https://h/Users/m3","value":"m3"}]}`, func(d map[string]any) bool {
			return canon(t, d[ent].(map[string]any)["manager"]) == `{"$ref":"https://h/Users/m3","value":"m3"}`
		}},
		{"removing the last extension attribute drops the object", `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}`, func(d map[string]any) bool {
			_, ok := d[ent]
			return !ok
		}},
		{"remove value list removes only listed", `{"op":"remove","path":"emails","value":[{"value":"BABS@home.example"}]}`, func(d map[string]any) bool {
			return canon(t, d["emails"]) == `[{"primary":true,"type":"work","value":"bjensen@example.com"}]`
		}},
		{"and filter", `{"op":"replace","path":"emails[type eq \"work\" and primary eq true].display","value":"Work"}`, func(d map[string]any) bool {
			return d["emails"].([]any)[0].(map[string]any)["display"] == "Work"
		}},
		{"path-less add appends emails", `{"op":"add","value":{"emails":[{"value":"third@example.com","type":"other"}]}}`, func(d map[string]any) bool {
			return len(d["emails"].([]any)) == 3
		}},
		{"path-less replace replaces emails", `{"op":"replace","value":{"emails":[{"value":"only@example.com","type":"work"}]}}`, func(d map[string]any) bool {
			return canon(t, d["emails"]) == `[{"type":"work","value":"only@example.com"}]`
		}},
		{"password kept for the caller", `{"op":"replace","value":{"password":"s3cret!"}}`, func(d map[string]any) bool {
			return d["password"] == "s3cret!"
		}},
		{"complex merge: an empty sub-attribute is removed, the others stay", `{"op":"replace","path":"name","value":{"familyName":"","middleName":"J"}}`, func(d map[string]any) bool {
			return canon(t, d["name"]) == `{"givenName":"Barbara","middleName":"J"}`
		}},
		{"path-less complex merge with only an empty sub-attribute", `{"op":"replace","value":{"name":{"familyName":null}}}`, func(d map[string]any) bool {
			return canon(t, d["name"]) == `{"givenName":"Barbara"}`
		}},
		{"complex set to {} is removed whole", `{"op":"replace","path":"name","value":{}}`, func(d map[string]any) bool {
			_, ok := d["name"]
			return !ok
		}},
		{"manager string replaces the whole value", `{"op":"add","path":"manager","value":[{"$ref":"https://h/Users/m3","value":"m3"}]},{"op":"replace","path":"manager","value":"m4"}`, func(d map[string]any) bool {
			return canon(t, d[ent].(map[string]any)["manager"]) == `{"value":"m4"}`
		}},
		{"filtered element merge: an empty sub-attribute is removed, the element stays", `{"op":"replace","path":"emails[type eq \"work\"]","value":{"primary":null,"display":"W"}}`, func(d map[string]any) bool {
			return canon(t, d["emails"]) == `[{"display":"W","type":"work","value":"bjensen@example.com"},{"type":"home","value":"babs@home.example"}]`
		}},
		{"filtered element set to null is removed", `{"op":"replace","path":"emails[type eq \"home\"]","value":null}`, func(d map[string]any) bool {
			return canon(t, d["emails"]) == `[{"primary":true,"type":"work","value":"bjensen@example.com"}]`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := doc(t, base)
			if _, err := Apply(schemas.User, "u1", d, ops(t, lenient, tc.ops), lenient); err != nil {
				t.Fatal(err)
			}
			if !tc.check(d) {
				t.Fatalf("unexpected document %s", canon(t, d))
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        schemas.Options
		ops      string
		scimType string
	}{
		{"remove without path", lenient, `{"op":"remove"}`, schemas.NoTarget},
		{"replace unmatched filter", lenient, `{"op":"replace","path":"emails[type eq \"other\"].value","value":"x"}`, schemas.NoTarget},
		{"add unmatched or filter", lenient, `{"op":"add","path":"emails[type eq \"a\" or type eq \"b\"].value","value":"x"}`, schemas.NoTarget},
		{"readOnly id changed", lenient, `{"op":"replace","path":"id","value":"other"}`, schemas.Mutability},
		{"readOnly meta", lenient, `{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}`, schemas.Mutability},
		{"readOnly groups", lenient, `{"op":"add","path":"groups","value":[{"value":"g1"}]}`, schemas.Mutability},
		{"remove required", lenient, `{"op":"remove","path":"userName"}`, schemas.InvalidValue},
		{"empty required", lenient, `{"op":"replace","path":"userName","value":""}`, schemas.InvalidValue},
		{"wrong type", lenient, `{"op":"replace","path":"active","value":"maybe"}`, schemas.InvalidValue},
		{"string boolean strict", schemas.Options{}, `{"op":"replace","path":"active","value":"False"}`, schemas.InvalidValue},
		{"unknown attribute strict", schemas.Options{}, `{"op":"add","path":"favouriteColour","value":"blue"}`, schemas.InvalidPath},
		{"dotted key strict", schemas.Options{}, `{"op":"replace","value":{"name.givenName":"G"}}`, schemas.InvalidValue},
		{"extension dot strict", schemas.Options{}, `{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.costCenter","value":"42"}`, schemas.InvalidPath},
		{"remove with value strict", schemas.Options{}, `{"op":"remove","path":"emails","value":[{"value":"babs@home.example"}]}`, schemas.InvalidSyntax},
		{"filter on singular strict", schemas.Options{}, `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m1\"]"}`, schemas.InvalidPath},
		{"bad filter", lenient, `{"op":"remove","path":"emails[type eq]"}`, schemas.InvalidFilter},
		{"filter on unknown sub", lenient, `{"op":"remove","path":"emails[colour eq \"red\"]"}`, schemas.InvalidFilter},
		{"unclosed filter", lenient, `{"op":"remove","path":"emails[type eq \"work\""}`, schemas.InvalidPath},
		{"two primaries selected", lenient, `{"op":"replace","path":"emails[value pr].primary","value":true}`, schemas.InvalidValue},
		{"path-less value not object", lenient, `{"op":"replace","value":"x"}`, schemas.InvalidValue},
		{"long path", lenient, `{"op":"remove","path":"` + strings.Repeat("a", MaxPathLength+1) + `"}`, schemas.InvalidPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := doc(t, base)
			_, err := Apply(schemas.User, "u1", d, ops(t, tc.o, tc.ops), tc.o)
			var se *schemas.Error
			if !errors.As(err, &se) || se.ScimType != tc.scimType {
				t.Fatalf("err = %v, want scimType %s", err, tc.scimType)
			}
			if !strings.HasPrefix(se.Detail, "Operations[0]") && tc.scimType != schemas.InvalidValue {
				t.Errorf("detail %q does not name the operation", se.Detail)
			}
		})
	}
}

func TestApplyGroup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       schemas.Options
		ops     string
		members []MemberOp
		name2   string // displayName afterwards, "" for unchanged
	}{
		{"okta rename with id in value", lenient, `{"op":"replace","value":{"id":"g1","displayName":"Ops"}}`, nil, "Ops"},
		{"okta membership", lenient, `{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"add","path":"members","value":[{"value":"u2","display":"bob"}]}`,
			[]MemberOp{{MemberRemove, []string{"u1"}}, {MemberAdd, []string{"u2"}}}, ""},
		{"okta full push", lenient, `{"op":"replace","path":"members","value":[{"value":"u1"},{"value":"u2"},{"value":"u1"}]}`,
			[]MemberOp{{MemberReplace, []string{"u1", "u2"}}}, ""},
		{"replace with empty list clears", lenient, `{"op":"replace","path":"members","value":[]}`, []MemberOp{{MemberClear, nil}}, ""},
		{"entra default remove", lenient, `{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u9"}]}`, []MemberOp{{MemberRemove, []string{"u9"}}}, ""},
		{"entra add", lenient, `{"op":"Add","path":"members","value":[{"$ref":null,"value":"u9"}]}`, []MemberOp{{MemberAdd, []string{"u9"}}}, ""},
		{"remove all", lenient, `{"op":"remove","path":"members"}`, []MemberOp{{MemberClear, nil}}, ""},
		{"or filter", lenient, `{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}`, []MemberOp{{MemberRemove, []string{"a", "b"}}}, ""},
		{"string member", lenient, `{"op":"add","path":"members","value":"string id 1"}`, []MemberOp{{MemberAdd, []string{"string id 1"}}}, ""},
		{"path-less members", lenient, `{"op":"add","value":{"members":[{"value":"u3"}],"displayName":"New"}}`, []MemberOp{{MemberAdd, []string{"u3"}}}, "New"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := map[string]any{"displayName": "Engineering"}
			res, err := Apply(schemas.Group, "g1", d, ops(t, tc.o, tc.ops), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.members, res.Members); diff != "" {
				t.Fatalf("members (-want +got):\n%s", diff)
			}
			want := tc.name2
			if want == "" {
				want = "Engineering"
			}
			if d["displayName"] != want {
				t.Fatalf("displayName = %v", d["displayName"])
			}
		})
	}
}

func TestApplyGroupErrors(t *testing.T) {
	many := make([]string, MaxMemberValues+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"value":"u%d"}`, i)
	}
	for _, tc := range []struct {
		name, ops, scimType string
	}{
		{"filter other than value", `{"op":"remove","path":"members[display eq \"bob\"]"}`, schemas.InvalidFilter},
		{"add on a filter", `{"op":"add","path":"members[value eq \"u1\"]","value":[{"value":"u1"}]}`, schemas.InvalidPath},
		{"member without value", `{"op":"add","path":"members","value":[{"display":"bob"}]}`, schemas.InvalidValue},
		{"too many members", `{"op":"add","path":"members","value":[` + strings.Join(many, ",") + `]}`, schemas.TooMany},
		{"remove displayName", `{"op":"remove","path":"displayName"}`, schemas.InvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(schemas.Group, "g1", map[string]any{"displayName": "E"}, ops(t, lenient, tc.ops), lenient)
			var se *schemas.Error
			if !errors.As(err, &se) || se.ScimType != tc.scimType {
				t.Fatalf("err = %v, want %s", err, tc.scimType)
			}
		})
	}
}

// TestRewritesCounted checks that every lenient rewrite is reported.
func TestRewritesCounted(t *testing.T) {
	var kinds []string
	o := schemas.Options{Lenient: true, Rewrote: func(k string) { kinds = append(kinds, k) }}
	d := doc(t, base)
	list := ops(t, o, `{"op":"Replace","path":"active","value":"False"},{"op":"remove","path":"emails","value":[{"value":"babs@home.example"}]},{"op":"add","path":"nope","value":1}`)
	if _, err := Apply(schemas.User, "u1", d, list, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"op_case", "bool_string", "remove_value", "unknown_attribute"} {
		found := false
		for _, k := range kinds {
			found = found || k == want
		}
		if !found {
			t.Errorf("rewrite %q not reported; got %v", want, kinds)
		}
	}
}

// FuzzPatch feeds arbitrary request bodies through Decode and Apply: they
// must never panic, and an error must always be a *schemas.Error.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails[type eq \"work\"].value","value":"x"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name","value":{"givenName":["x"]}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, o := range []schemas.Options{lenient, {}} {
			list, err := Decode([]byte(body), o)
			if err != nil {
				fuzzSCIMError(t, "Decode", err)
				continue
			}
			if len(list) > MaxOperations {
				t.Fatalf("Decode returned %d operations", len(list))
			}
			for _, rt := range []*schemas.ResourceType{schemas.User, schemas.Group} {
				d := doc(t, base)
				if rt == schemas.Group {
					d = map[string]any{"displayName": "E"}
				}
				res, err := Apply(rt, "u1", d, list, o)
				if err != nil {
					fuzzSCIMError(t, "Apply", err)
					continue
				}
				checkPatched(t, rt, d, res)
			}
		}
	})
}

// fuzzSCIMError fails the test unless err is a *schemas.Error with a type
// and a detail: the HTTP layer answers it with a SCIM 400.
func fuzzSCIMError(t *testing.T, what string, err error) {
	t.Helper()
	var se *schemas.Error
	if !errors.As(err, &se) || se.ScimType == "" || se.Detail == "" {
		t.Fatalf("%s error %T %v is not a SCIM error with a type and a detail", what, err, err)
	}
}

// checkPatched checks the result of a successful Apply: the document is a
// valid canonical document of rt (it encodes to JSON, Normalize takes it
// as it is, its required attributes are there, no attribute holds more
// values than allowed), member operations only come from a Group and name
// no more members than allowed, and Changed is sorted.
func checkPatched(t *testing.T, rt *schemas.ResourceType, d map[string]any, res Result) {
	t.Helper()
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("the result does not encode: %v", err)
	}
	again := doc(t, string(raw))
	fixed, err := schemas.Normalize(rt, again, lenient)
	if err != nil {
		t.Fatalf("%s: the result %s is not a valid document: %v", rt.Name, raw, err)
	}
	if diff := cmp.Diff(again, fixed); diff != "" {
		t.Fatalf("%s: the result %s is not canonical (-result +normalized):\n%s", rt.Name, raw, diff)
	}
	if missing := schemas.MissingRequired(rt, fixed); len(missing) > 0 {
		t.Fatalf("%s: the result lacks %v: %s", rt.Name, missing, raw)
	}
	if err := schemas.CheckValueCounts(rt, fixed); err != nil {
		t.Fatalf("%s: %v", rt.Name, err)
	}
	n := 0
	for _, m := range res.Members {
		if rt != schemas.Group {
			t.Fatalf("%s: member operations %+v", rt.Name, res.Members)
		}
		for _, id := range m.IDs {
			if id == "" {
				t.Fatalf("an empty member id in %+v", res.Members)
			}
		}
		n += len(m.IDs)
	}
	if n > MaxMemberValues {
		t.Fatalf("%d member values", n)
	}
	for i := 1; i < len(res.Changed); i++ {
		if res.Changed[i-1] > res.Changed[i] {
			t.Fatalf("Changed is not sorted: %v", res.Changed)
		}
	}
}

// TestImmutable checks RFC 7643 §7 immutable handling. The catalogue has
// no immutable attribute of its own, so the test marks externalId
// immutable for its duration.
func TestImmutable(t *testing.T) {
	at, _ := schemas.User.Lookup("externalId")
	saved := at.Mutability
	at.Mutability = schemas.Immutable
	defer func() { at.Mutability = saved }()
	for _, tc := range []struct {
		name, start, ops, scimType string
	}{
		{"first value may be set", `{"userName":"a"}`, `{"op":"add","path":"externalId","value":"x1"}`, ""},
		{"the same value again", `{"userName":"a","externalId":"x1"}`, `{"op":"replace","path":"externalId","value":"x1"}`, ""},
		{"a new value", `{"userName":"a","externalId":"x1"}`, `{"op":"replace","path":"externalId","value":"x2"}`, schemas.Mutability},
		{"a new value without path", `{"userName":"a","externalId":"x1"}`, `{"op":"replace","value":{"externalId":"x2"}}`, schemas.Mutability},
		{"removal", `{"userName":"a","externalId":"x1"}`, `{"op":"remove","path":"externalId"}`, schemas.Mutability},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(schemas.User, "u1", doc(t, tc.start), ops(t, lenient, tc.ops), lenient)
			if tc.scimType == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *schemas.Error
			if !errors.As(err, &se) || se.ScimType != tc.scimType {
				t.Fatalf("err = %v, want %s", err, tc.scimType)
			}
		})
	}
}
