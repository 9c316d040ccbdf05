package schemas

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

const userDoc = `{
  "schemas": ["` + UserURN + `", "` + EnterpriseURN + `"],
  "id": "2819c223",
  "externalId": "bjensen-ext",
  "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z",
           "location": "https://h/scim/v2/Users/2819c223", "version": "W/\"3\""},
  "userName": "bjensen",
  "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen"},
  "displayName": "Babs",
  "active": true,
  "password": "t1meMa$heen",
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@example.org", "type": "home"}],
  "groups": [{"value": "g1", "display": "Tour Guides", "$ref": "https://h/scim/v2/Groups/g1"}],
  "` + EnterpriseURN + `": {"department": "Tour Operations", "employeeNumber": "701984",
      "manager": {"value": "26118915", "$ref": "https://h/scim/v2/Users/26118915", "displayName": "John Smith"}}
}`

func project(t *testing.T, rt *ResourceType, doc string, attributes, excluded []string) map[string]any {
	t.Helper()
	in := decode(t, doc)
	before := decode(t, doc)
	out, err := Project(rt, in, attributes, excluded)
	if err != nil {
		t.Fatalf("Project(%v, %v): %v", attributes, excluded, err)
	}
	if !reflect.DeepEqual(in, before) {
		t.Errorf("Project modified its input")
	}
	return out
}

func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestProjectDefault(t *testing.T) {
	got := project(t, User, userDoc, nil, nil)
	if _, ok := got["password"]; ok {
		t.Error("password returned")
	}
	want := decode(t, userDoc)
	delete(want, "password")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default projection:\n got %v\nwant %v", got, want)
	}
}

func TestProjectAttributes(t *testing.T) {
	const sch = `"schemas":["` + UserURN + `","` + EnterpriseURN + `"],"id":"2819c223"`
	tests := []struct {
		name       string
		attributes []string
		excluded   []string
		want       string
	}{
		{"one attribute", []string{"userName"}, nil, `{` + sch + `,"userName":"bjensen"}`},
		{"case-insensitive", []string{"USERNAME", "DisplayName"}, nil, `{` + sch + `,"userName":"bjensen","displayName":"Babs"}`},
		{"URN-qualified", []string{UserURN + ":userName"}, nil, `{` + sch + `,"userName":"bjensen"}`},
		{"sub-attribute", []string{"name.givenName"}, nil, `{` + sch + `,"name":{"givenName":"Barbara"}}`},
		{"sub-attributes of a multi-valued attribute", []string{"emails.value"}, nil,
			`{` + sch + `,"emails":[{"value":"bjensen@example.com"},{"value":"babs@example.org"}]}`},
		{"whole and sub", []string{"name.givenName", "name"}, nil,
			`{` + sch + `,"name":{"givenName":"Barbara","familyName":"Jensen","formatted":"Ms. Barbara J Jensen"}}`},
		{"meta sub-attribute", []string{"meta.lastModified"}, nil, `{` + sch + `,"meta":{"lastModified":"2011-05-13T04:42:34Z"}}`},
		{"password never", []string{"userName", "password"}, nil, `{` + sch + `,"userName":"bjensen"}`},
		{"id named", []string{"id"}, nil, `{` + sch + `}`},
		{"unknown names ignored", []string{"userName", "nope", "members", "urn:example:x:y"}, nil, `{` + sch + `,"userName":"bjensen"}`},
		{"extension attribute", []string{EnterpriseURN + ":department"}, nil,
			`{` + sch + `,"` + EnterpriseURN + `":{"department":"Tour Operations"}}`},
		{"bare extension attribute", []string{"employeeNumber"}, nil,
			`{` + sch + `,"` + EnterpriseURN + `":{"employeeNumber":"701984"}}`},
		{"old Entra dotted form", []string{EnterpriseURN + ".manager.value"}, nil,
			`{` + sch + `,"` + EnterpriseURN + `":{"manager":{"value":"26118915"}}}`},
		{"extension sub-attribute", []string{EnterpriseURN + ":manager.value"}, nil,
			`{` + sch + `,"` + EnterpriseURN + `":{"manager":{"value":"26118915"}}}`},
		{"extension schema URN", []string{strings.ToUpper(EnterpriseURN)}, nil,
			`{` + sch + `,"` + EnterpriseURN + `":{"department":"Tour Operations","employeeNumber":"701984",
			  "manager":{"value":"26118915","$ref":"https://h/scim/v2/Users/26118915","displayName":"John Smith"}}}`},
		{"value filter ignored", []string{`emails[type eq "work"].value`}, nil,
			`{` + sch + `,"emails":[{"value":"bjensen@example.com"},{"value":"babs@example.org"}]}`},
		{"value filter on the whole attribute", []string{`emails[type eq "work"]`}, nil,
			`{` + sch + `,"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@example.org","type":"home"}]}`},
		{"attributes and excluded", []string{"userName", "name"}, []string{"name.formatted", "userName"},
			`{` + sch + `,"name":{"givenName":"Barbara","familyName":"Jensen"}}`},
		{"everything of a value excluded", []string{"name.givenName"}, []string{"name.givenName"}, `{` + sch + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jsonEqual(t, project(t, User, userDoc, tc.attributes, tc.excluded), tc.want)
		})
	}
}

func TestProjectCoreSchemaURN(t *testing.T) {
	got := project(t, User, userDoc, []string{UserURN}, nil)
	want := decode(t, userDoc)
	delete(want, "password")
	delete(want, EnterpriseURN)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes=<core URN>:\n got %v\nwant %v", keys(got), keys(want))
	}
}

func TestProjectExcluded(t *testing.T) {
	tests := []struct {
		name     string
		excluded []string
		gone     []string // top-level keys that must be missing
		check    func(t *testing.T, got map[string]any)
	}{
		{"id cannot be excluded", []string{"id", "schemas"}, nil, func(t *testing.T, got map[string]any) {
			if got["id"] != "2819c223" || got["schemas"] == nil {
				t.Errorf("id or schemas dropped: %v", keys(got))
			}
		}},
		{"attributes", []string{"emails", "GROUPS", "meta"}, []string{"emails", "groups", "meta", "password"}, nil},
		{"sub-attribute", []string{"name.familyName", "emails.type"}, []string{"password"}, func(t *testing.T, got map[string]any) {
			jsonEqual(t, got["name"], `{"givenName":"Barbara","formatted":"Ms. Barbara J Jensen"}`)
			jsonEqual(t, got["emails"], `[{"value":"bjensen@example.com","primary":true},{"value":"babs@example.org"}]`)
		}},
		{"extension attributes", []string{EnterpriseURN + ":manager", "department"}, nil, func(t *testing.T, got map[string]any) {
			jsonEqual(t, got[EnterpriseURN], `{"employeeNumber":"701984"}`)
		}},
		{"empty extension object removed", []string{EnterpriseURN + ":manager", "department", "employeeNumber"}, []string{EnterpriseURN}, nil},
		{"extension schema URN", []string{EnterpriseURN}, []string{EnterpriseURN}, nil},
		{"core schema URN", []string{UserURN}, []string{"userName", "name", "meta", "externalId", "emails"}, func(t *testing.T, got map[string]any) {
			if got["id"] == nil || got[EnterpriseURN] == nil {
				t.Errorf("kept %v", keys(got))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := project(t, User, userDoc, nil, tc.excluded)
			for _, k := range tc.gone {
				if _, ok := got[k]; ok {
					t.Errorf("%s returned", k)
				}
			}
			if got["id"] != "2819c223" {
				t.Error("id not returned")
			}
			if _, ok := got["schemas"]; !ok {
				t.Error("schemas not returned")
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

func TestProjectUnknownKeys(t *testing.T) {
	doc := `{"schemas":["` + UserURN + `"],"id":"1","userName":"a","x-internal":1,"` + EnterpriseURN + `":{"department":"D","x-ext":2}}`
	jsonEqual(t, project(t, User, doc, nil, []string{"userName"}),
		`{"schemas":["`+UserURN+`"],"id":"1","x-internal":1,"`+EnterpriseURN+`":{"department":"D","x-ext":2}}`)
	jsonEqual(t, project(t, User, doc, []string{"department"}, nil),
		`{"schemas":["`+UserURN+`"],"id":"1","`+EnterpriseURN+`":{"department":"D"}}`)
}

func TestProjectGroup(t *testing.T) {
	doc := `{"schemas":["` + GroupURN + `"],"id":"g1","displayName":"Tour Guides",
	  "members":[{"value":"u1","display":"Babs","$ref":"https://h/scim/v2/Users/u1","type":"User"}],
	  "meta":{"resourceType":"Group"}}`
	jsonEqual(t, project(t, Group, doc, nil, []string{"members"}),
		`{"schemas":["`+GroupURN+`"],"id":"g1","displayName":"Tour Guides","meta":{"resourceType":"Group"}}`)
	jsonEqual(t, project(t, Group, doc, []string{"members.value"}, nil),
		`{"schemas":["`+GroupURN+`"],"id":"g1","members":[{"value":"u1"}]}`)
	jsonEqual(t, project(t, Group, doc, []string{"userName"}, nil),
		`{"schemas":["`+GroupURN+`"],"id":"g1"}`)
}

func TestProjectMalformed(t *testing.T) {
	for _, tc := range []struct{ attributes, excluded []string }{
		{[]string{`emails[type eq "work"`}, nil},
		{[]string{`emails]`}, nil},
		{[]string{`emails[type eq "work"]x`}, nil},
		{[]string{`emails[type eq "work"].value[x]`}, nil},
		{[]string{"name..givenName"}, nil},
		{[]string{"name.givenName.x.y"}, nil},
		{[]string{"user name"}, nil},
		{[]string{"1userName"}, nil},
		{[]string{"userName", ""}, nil},
		{nil, []string{"emails["}},
		{nil, []string{"na*me"}},
	} {
		out, err := Project(User, decode(t, userDoc), tc.attributes, tc.excluded)
		e := scimErr(t, err, InvalidValue)
		if out != nil {
			t.Errorf("%v %v: result returned with the error", tc.attributes, tc.excluded)
		}
		if !strings.Contains(e.Detail, "is not an attribute name") {
			t.Errorf("detail %q", e.Detail)
		}
		param := "attributes"
		if tc.attributes == nil {
			param = "excludedAttributes"
		}
		if !strings.HasPrefix(e.Detail, param+":") {
			t.Errorf("detail %q does not name %s", e.Detail, param)
		}
	}
}

func TestProjectionReuse(t *testing.T) {
	p, err := NewProjection(User, []string{"userName"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		got := p.Apply(map[string]any{"id": name, "userName": name, "displayName": name})
		jsonEqual(t, got, `{"id":"`+name+`","userName":"`+name+`"}`)
	}
}

func TestProjectionConcurrent(t *testing.T) {
	p, err := NewProjection(User, []string{"userName", "name.givenName", "emails.value", "department"}, []string{"emails.type"})
	if err != nil {
		t.Fatal(err)
	}
	doc := decode(t, userDoc)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got := p.Apply(doc)
				if got["userName"] != "bjensen" || got["id"] != "2819c223" {
					t.Errorf("Apply = %v", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestProjectionWants(t *testing.T) {
	tests := []struct {
		attributes, excluded []string
		path                 string
		want                 bool
	}{
		{nil, nil, "userName", true},
		{nil, nil, "groups", true},
		{nil, nil, "password", false},
		{nil, nil, "id", true},
		{nil, nil, "nope", false},
		{nil, nil, "manager.value", true},
		{[]string{"userName"}, nil, "groups", false},
		{[]string{"userName"}, nil, "userName", true},
		{[]string{"userName"}, nil, "id", true},
		{[]string{"password"}, nil, "password", false},
		{[]string{"name.givenName"}, nil, "name.givenName", true},
		{[]string{"name.givenName"}, nil, "name.familyName", false},
		{[]string{"name.givenName"}, nil, "name", true},
		{[]string{"groups"}, nil, "GROUPS.display", true},
		{nil, []string{"groups"}, "groups", false},
		{nil, []string{"groups"}, "groups.value", false},
		{nil, []string{"groups.display"}, "groups.display", false},
		{nil, []string{"groups.display"}, "groups", true},
		{nil, []string{"id"}, "id", true},
		{nil, []string{EnterpriseURN}, "manager", false},
	}
	for _, tc := range tests {
		p, err := NewProjection(User, tc.attributes, tc.excluded)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Wants(tc.path); got != tc.want {
			t.Errorf("attributes=%v excluded=%v: Wants(%q) = %v, want %v", tc.attributes, tc.excluded, tc.path, got, tc.want)
		}
	}
	p, _ := NewProjection(Group, nil, []string{"members"})
	if p.Wants("members") || !p.Wants("displayName") {
		t.Error("Group excludedAttributes=members")
	}
}

func TestParseAttributeList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"userName", []string{"userName"}},
		{"userName, name.givenName ,emails", []string{"userName", "name.givenName", "emails"}},
		{`emails[type eq "work,home"].value,userName`, []string{`emails[type eq "work,home"].value`, "userName"}},
		{`emails[type eq "a\"],b"],x`, []string{`emails[type eq "a\"],b"]`, "x"}},
		{`emails[type eq "work" or type eq "home"], name`, []string{`emails[type eq "work" or type eq "home"]`, "name"}},
		{"a,,b", []string{"a", "b"}},
	}
	for _, tc := range tests {
		got := ParseAttributeList(tc.in)
		if !slices.Equal(got, tc.want) || (tc.want == nil && got != nil) {
			t.Errorf("ParseAttributeList(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}
