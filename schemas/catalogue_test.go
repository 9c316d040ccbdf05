package schemas

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	const ent = EnterpriseURN
	tests := []struct {
		rt        *ResourceType
		path      string
		wantPath  string // canonical path; "" for not found
		wantExt   bool
		wantType  string
		wantMulti bool
	}{
		{User, "userName", "userName", false, TypeString, false},
		{User, "USERNAME", "userName", false, TypeString, false},
		{User, "username", "userName", false, TypeString, false},
		{User, "name", "name", false, TypeComplex, false},
		{User, "name.givenName", "name.givenName", false, TypeString, false},
		{User, "NAME.GIVENNAME", "name.givenName", false, TypeString, false},
		{User, "emails", "emails", false, TypeComplex, true},
		{User, "emails.value", "emails.value", false, TypeString, false},
		{User, "Emails.Primary", "emails.primary", false, TypeBoolean, false},
		{User, "groups.$ref", "groups.$ref", false, TypeReference, false},
		{User, "x509Certificates.value", "x509Certificates.value", false, TypeBinary, false},
		{User, "active", "active", false, TypeBoolean, false},
		// Common attributes, bare and with the core URN.
		{User, "id", "id", false, TypeString, false},
		{User, "ID", "id", false, TypeString, false},
		{User, "externalId", "externalId", false, TypeString, false},
		{User, "meta.created", "meta.created", false, TypeDateTime, false},
		{User, "META.LASTMODIFIED", "meta.lastModified", false, TypeDateTime, false},
		{User, UserURN + ":id", "id", false, TypeString, false},
		{User, UserURN + ":meta.location", "meta.location", false, TypeReference, false},
		// URN-qualified core attributes, in any case.
		{User, UserURN + ":userName", "userName", false, TypeString, false},
		{User, UserURN + ":name.givenName", "name.givenName", false, TypeString, false},
		{User, strings.ToUpper(UserURN) + ":NAME.familyname", "name.familyName", false, TypeString, false},
		{User, UserURN + ".userName", "userName", false, TypeString, false},
		// Extension attributes: qualified, case-insensitively, old Entra
		// form with ".", and bare when unambiguous.
		{User, ent + ":department", ent + ":department", true, TypeString, false},
		{User, strings.ToLower(ent) + ":DEPARTMENT", ent + ":department", true, TypeString, false},
		{User, ent + ":manager", ent + ":manager", true, TypeComplex, false},
		{User, ent + ":manager.value", ent + ":manager.value", true, TypeString, false},
		{User, ent + ":manager.$ref", ent + ":manager.$ref", true, TypeReference, false},
		{User, ent + ".manager.value", ent + ":manager.value", true, TypeString, false},
		{User, ent + ".employeeNumber", ent + ":employeeNumber", true, TypeString, false},
		{User, "department", ent + ":department", true, TypeString, false},
		{User, "Manager.Value", ent + ":manager.value", true, TypeString, false},
		{User, "employeeNumber", ent + ":employeeNumber", true, TypeString, false},
		// Group.
		{Group, "displayName", "displayName", false, TypeString, false},
		{Group, "members", "members", false, TypeComplex, true},
		{Group, "MEMBERS.VALUE", "members.value", false, TypeString, false},
		{Group, "members.$ref", "members.$ref", false, TypeReference, false},
		{Group, GroupURN + ":members.value", "members.value", false, TypeString, false},
		{Group, "id", "id", false, TypeString, false},
		// Not attributes.
		{User, "", "", false, "", false},
		{User, "nope", "", false, "", false},
		{User, "name.nope", "", false, "", false},
		{User, "name.givenName.x", "", false, "", false},
		{User, "userName.x", "", false, "", false},
		{User, "schemas", "", false, "", false},
		{User, UserURN, "", false, "", false},
		{User, ent, "", false, "", false},
		{User, ent + ":userName", "", false, "", false},
		{User, ent + ":id", "", false, "", false},
		{User, UserURN + ":department", "", false, "", false},
		{User, GroupURN + ":userName", "", false, "", false},
		{User, "urn:example:other:department", "", false, "", false},
		{User, `emails[type eq "work"].value`, "", false, "", false},
		{Group, "userName", "", false, "", false},
		{Group, "manager", "", false, "", false},
		{Group, "department", "", false, "", false},
		{Group, ent + ":department", "", false, "", false},
		{Group, UserURN + ":displayName", "", false, "", false},
	}
	for _, tc := range tests {
		a, ok := tc.rt.Lookup(tc.path)
		if tc.wantPath == "" {
			if ok {
				t.Errorf("%s.Lookup(%q) = %s, want not found", tc.rt.Name, tc.path, a.Path)
			}
			continue
		}
		if !ok {
			t.Errorf("%s.Lookup(%q): not found, want %s", tc.rt.Name, tc.path, tc.wantPath)
			continue
		}
		if a.Path != tc.wantPath || a.Extension != tc.wantExt || a.Type != tc.wantType || a.MultiValued != tc.wantMulti {
			t.Errorf("%s.Lookup(%q) = {Path %s, Extension %v, Type %s, MultiValued %v}, want {%s, %v, %s, %v}",
				tc.rt.Name, tc.path, a.Path, a.Extension, a.Type, a.MultiValued,
				tc.wantPath, tc.wantExt, tc.wantType, tc.wantMulti)
		}
	}
}

func TestLookupParentsAndSchemas(t *testing.T) {
	a, ok := User.Lookup("name.givenName")
	if !ok || a.Parent == nil || a.Parent.Path != "name" || a.Schema != UserURN || a.Name != "givenName" {
		t.Fatalf("name.givenName = %+v", a)
	}
	if top, _ := User.Lookup("name"); top != a.Parent {
		t.Error("Lookup(name) is not the parent of name.givenName")
	}
	for _, p := range []string{"id", "externalId", "meta", "meta.created"} {
		a, _ := User.Lookup(p)
		if a.Schema != "" {
			t.Errorf("%s: Schema = %q, want \"\" (common attribute)", p, a.Schema)
		}
	}
	m, _ := User.Lookup("manager.displayName")
	if m.Schema != EnterpriseURN || !m.Extension || m.Mutability != ReadOnly {
		t.Errorf("manager.displayName = %+v", m)
	}
	if s, ok := m.Parent.SubAttr("VALUE"); !ok || s.Name != "value" {
		t.Errorf("SubAttr(VALUE) = %v, %v", s, ok)
	}
	if _, ok := m.Parent.SubAttr("nope"); ok {
		t.Error("SubAttr(nope) found")
	}
}

// TestCatalogueCorrections checks the values RFC 7643 §8.7 gives where
// elimity-com/scim's definitions differ or where scimd enforces more.
func TestCatalogueCorrections(t *testing.T) {
	for _, p := range []string{"profileUrl", "photos.value", "groups.$ref", "meta.location", "manager.$ref"} {
		a, ok := User.Lookup(p)
		if !ok {
			t.Fatalf("%s not found", p)
		}
		if a.CaseExact {
			t.Errorf("%s: caseExact true, want false", p)
		}
	}
	if a, _ := Group.Lookup("members.$ref"); a.CaseExact {
		t.Error("members.$ref: caseExact true, want false")
	}
	if a, _ := User.Lookup("meta.location"); len(a.ReferenceTypes) != 1 || a.ReferenceTypes[0] != "uri" {
		t.Errorf("meta.location referenceTypes = %v, want [uri]", a.ReferenceTypes)
	}
	if a, _ := Group.Lookup("displayName"); a.Uniqueness != UniqueServer || !a.Required {
		t.Errorf("Group displayName: uniqueness %s required %v", a.Uniqueness, a.Required)
	}
	if a, _ := User.Lookup("userName"); a.Uniqueness != UniqueServer || !a.Required || a.CaseExact {
		t.Errorf("userName: uniqueness %s required %v caseExact %v", a.Uniqueness, a.Required, a.CaseExact)
	}
	if a, _ := User.Lookup("password"); a.Mutability != WriteOnly || a.Returned != ReturnedNever {
		t.Errorf("password: mutability %s returned %s", a.Mutability, a.Returned)
	}
	if a, _ := User.Lookup("id"); a.Mutability != ReadOnly || a.Returned != ReturnedAlways {
		t.Errorf("id: mutability %s returned %s", a.Mutability, a.Returned)
	}
	if a, _ := User.Lookup("groups"); a.Mutability != ReadOnly {
		t.Errorf("groups: mutability %s", a.Mutability)
	}
	if a, _ := User.Lookup("emails.type"); strings.Join(a.Canonical, ",") != "work,home,other" {
		t.Errorf("emails.type canonicalValues = %v", a.Canonical)
	}
	if User.Schema.ID != UserURN || Group.Schema.ID != GroupURN || len(User.Extensions) != 1 || User.Extensions[0].ID != EnterpriseURN {
		t.Error("resource types built from the wrong schemas")
	}
	if User.Extensions[0].Name.Value() != "EnterpriseUser" {
		t.Errorf("enterprise schema name = %q, want EnterpriseUser (RFC 7643 §8.7.2)", User.Extensions[0].Name.Value())
	}
}

func TestAttrsOrder(t *testing.T) {
	var names []string
	for _, a := range User.Attrs() {
		names = append(names, a.Name)
	}
	got := strings.Join(names, ",")
	if !strings.HasPrefix(got, "id,externalId,meta,userName,") || !strings.HasSuffix(got, ",department,manager") {
		t.Errorf("User.Attrs() order = %s", got)
	}
	if strings.Contains(got, "schemas") {
		t.Error("User.Attrs() lists schemas")
	}
	for _, a := range User.Attrs() {
		if a.Parent != nil {
			t.Errorf("Attrs() has sub-attribute %s", a.Path)
		}
	}
}

func TestIsExtensionAndSchemasOf(t *testing.T) {
	if urn, ok := User.IsExtension(strings.ToUpper(EnterpriseURN)); !ok || urn != EnterpriseURN {
		t.Errorf("IsExtension(upper) = %q, %v", urn, ok)
	}
	if _, ok := User.IsExtension(UserURN); ok {
		t.Error("the core schema is reported as an extension")
	}
	if _, ok := Group.IsExtension(EnterpriseURN); ok {
		t.Error("Group has the enterprise extension")
	}
	jsonEqual(t, User.SchemasOf(map[string]any{"userName": "a"}), `["`+UserURN+`"]`)
	jsonEqual(t, User.SchemasOf(map[string]any{EnterpriseURN: map[string]any{}}), `["`+UserURN+`"]`)
	jsonEqual(t, User.SchemasOf(map[string]any{EnterpriseURN: map[string]any{"department": "x"}}),
		`["`+UserURN+`","`+EnterpriseURN+`"]`)
	jsonEqual(t, Group.SchemasOf(map[string]any{"displayName": "g"}), `["`+GroupURN+`"]`)
}

func TestErrorString(t *testing.T) {
	e := Errorf(InvalidValue, "%s is bad", "x")
	if e.Error() != "invalidValue: x is bad" || e.ScimType != InvalidValue || e.Detail != "x is bad" {
		t.Errorf("Errorf = %+v, %q", e, e.Error())
	}
}
