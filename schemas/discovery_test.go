package schemas

import (
	"encoding/json"
	"strings"
	"testing"
)

const base = "https://h/scim/v2"

// mustJSON marshals v with encoding/json and decodes it into generic form.
func mustJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestServiceProviderConfig(t *testing.T) {
	doc := ServiceProviderConfig(base, SPConfig{
		PatchSupported:     true,
		BulkSupported:      false,
		BulkMaxOperations:  0,
		BulkMaxPayloadSize: 1 << 20,
		FilterSupported:    true,
		FilterMaxResults:   200,
		SortSupported:      true,
		ETagSupported:      true,
	})
	jsonEqual(t, doc, `{
	  "schemas": ["`+ServiceProviderConfigURN+`"],
	  "patch": {"supported": true},
	  "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 1048576},
	  "filter": {"supported": true, "maxResults": 200},
	  "changePassword": {"supported": false},
	  "sort": {"supported": true},
	  "etag": {"supported": true},
	  "authenticationSchemes": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token",
	    "description": "Authentication with a bearer token issued by `+"`scimd token create`"+`.", "primary": true}],
	  "meta": {"resourceType": "ServiceProviderConfig", "location": "https://h/scim/v2/ServiceProviderConfig"}
	}`)
	doc = ServiceProviderConfig(base, SPConfig{ChangePasswordSupported: true, BulkSupported: true, BulkMaxOperations: 10})
	got := mustJSON(t, doc).(map[string]any)
	if got["changePassword"].(map[string]any)["supported"] != true {
		t.Error("changePassword.supported not set")
	}
	if b := got["bulk"].(map[string]any); b["supported"] != true || b["maxOperations"] != float64(10) {
		t.Errorf("bulk = %v", b)
	}
	if got["patch"].(map[string]any)["supported"] != false {
		t.Error("patch.supported set")
	}
}

func TestResourceTypes(t *testing.T) {
	docs := ResourceTypes(base)
	jsonEqual(t, docs, `[
	  {"schemas": ["`+ResourceTypeURN+`"], "id": "User", "name": "User", "endpoint": "/Users",
	   "description": "User Account", "schema": "`+UserURN+`",
	   "schemaExtensions": [{"schema": "`+EnterpriseURN+`", "required": false}],
	   "meta": {"resourceType": "ResourceType", "location": "https://h/scim/v2/ResourceTypes/User"}},
	  {"schemas": ["`+ResourceTypeURN+`"], "id": "Group", "name": "Group", "endpoint": "/Groups",
	   "description": "Group", "schema": "`+GroupURN+`",
	   "meta": {"resourceType": "ResourceType", "location": "https://h/scim/v2/ResourceTypes/Group"}}
	]`)
	if _, ok := docs[1]["schemaExtensions"]; ok {
		t.Error("Group lists schemaExtensions")
	}
	if !strings.Contains(docs[0]["description"].(string), "User Account") {
		t.Errorf("User description = %v", docs[0]["description"])
	}
}

func TestResourceTypeDoc(t *testing.T) {
	for _, name := range []string{"User", "user", "USER"} {
		doc, ok := ResourceTypeDoc(base, name)
		if !ok || doc["id"] != "User" || doc["endpoint"] != "/Users" {
			t.Errorf("ResourceTypeDoc(%q) = %v, %v", name, doc, ok)
		}
	}
	doc, ok := ResourceTypeDoc(base, "Group")
	if !ok || doc["schema"] != GroupURN {
		t.Errorf("ResourceTypeDoc(Group) = %v, %v", doc, ok)
	}
	for _, name := range []string{"", "Users", "Groups", "EnterpriseUser", UserURN} {
		if doc, ok := ResourceTypeDoc(base, name); ok || doc != nil {
			t.Errorf("ResourceTypeDoc(%q) = %v, %v; want nil, false", name, doc, ok)
		}
	}
	mustJSON(t, doc)
}

func TestSchemaDocs(t *testing.T) {
	docs := SchemaDocs(base)
	var ids []string
	for _, d := range docs {
		ids = append(ids, d["id"].(string))
	}
	if strings.Join(ids, " ") != UserURN+" "+EnterpriseURN+" "+GroupURN {
		t.Fatalf("schema ids = %v", ids)
	}
	names := map[string]string{UserURN: "User", EnterpriseURN: "EnterpriseUser", GroupURN: "Group"}
	descriptions := map[string]string{UserURN: "User Account", EnterpriseURN: "Enterprise User", GroupURN: "Group"}
	for _, d := range docs {
		urn := d["id"].(string)
		got := mustJSON(t, d).(map[string]any)
		jsonEqual(t, got["schemas"], `["`+SchemaURN+`"]`)
		if got["name"] != names[urn] || got["description"] != descriptions[urn] {
			t.Errorf("%s: name %v description %v", urn, got["name"], got["description"])
		}
		jsonEqual(t, got["meta"], `{"resourceType":"Schema","location":"https://h/scim/v2/Schemas/`+urn+`"}`)
		attrs := got["attributes"].([]any)
		if len(attrs) == 0 {
			t.Errorf("%s has no attributes", urn)
		}
		for _, a := range attrs {
			checkAttrDoc(t, urn, a.(map[string]any), false)
		}
	}
}

// checkAttrDoc checks one rendered attribute definition (RFC 7643 §7)
// against the catalogue.
func checkAttrDoc(t *testing.T, urn string, a map[string]any, sub bool) {
	t.Helper()
	name, _ := a["name"].(string)
	for _, k := range []string{"name", "type", "multiValued", "description", "required", "caseExact", "mutability", "returned", "uniqueness"} {
		if _, ok := a[k]; !ok {
			t.Errorf("%s %s: no %s", urn, name, k)
		}
	}
	if !sub {
		switch strings.ToLower(name) {
		case "id", "externalid", "meta", "schemas":
			t.Errorf("%s lists the common attribute %s", urn, name)
		}
	}
	if d, _ := a["description"].(string); d == "" {
		t.Errorf("%s %s: empty description", urn, name)
	}
	typ := a["type"].(string)
	if _, ok := a["referenceTypes"]; ok != (typ == TypeReference) {
		t.Errorf("%s %s: referenceTypes present %v for type %s", urn, name, ok, typ)
	}
	subs, hasSubs := a["subAttributes"].([]any)
	if hasSubs != (typ == TypeComplex) {
		t.Errorf("%s %s: subAttributes present %v for type %s", urn, name, hasSubs, typ)
	}
	if cv, ok := a["canonicalValues"]; ok && len(cv.([]any)) == 0 {
		t.Errorf("%s %s: empty canonicalValues", urn, name)
	}
	for _, s := range subs {
		sm := s.(map[string]any)
		if _, ok := sm["subAttributes"]; ok {
			t.Errorf("%s %s.%s: nested subAttributes", urn, name, sm["name"])
		}
		checkAttrDoc(t, urn, sm, true)
	}
}

// attrDocs returns the rendered attributes of a schema by name.
func attrDocs(t *testing.T, urn string) map[string]map[string]any {
	t.Helper()
	doc, ok := SchemaDoc(base, urn)
	if !ok {
		t.Fatalf("SchemaDoc(%s) not found", urn)
	}
	out := map[string]map[string]any{}
	for _, a := range mustJSON(t, doc).(map[string]any)["attributes"].([]any) {
		m := a.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

func subDoc(a map[string]any, name string) map[string]any {
	for _, s := range a["subAttributes"].([]any) {
		if m := s.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

func TestSchemaDocContents(t *testing.T) {
	user := attrDocs(t, UserURN)
	for _, n := range []string{"id", "externalId", "meta", "schemas", "department", "manager", "employeeNumber"} {
		if _, ok := user[n]; ok {
			t.Errorf("User schema lists %s", n)
		}
	}
	for _, n := range []string{"userName", "name", "displayName", "active", "password", "emails", "groups", "x509Certificates"} {
		if _, ok := user[n]; !ok {
			t.Errorf("User schema does not list %s", n)
		}
	}
	userName := map[string]any{}
	for k, v := range user["userName"] {
		userName[k] = v
	}
	if d, _ := userName["description"].(string); d == "" {
		t.Error("userName has no description")
	}
	delete(userName, "description")
	jsonEqual(t, userName, `{"name":"userName","type":"string","multiValued":false,
	  "required":true,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"server"}`)
	if p := user["password"]; p["mutability"] != WriteOnly || p["returned"] != ReturnedNever {
		t.Errorf("password = %v", p)
	}
	if g := user["groups"]; g["mutability"] != ReadOnly || g["multiValued"] != true {
		t.Errorf("groups = %v", g)
	}
	ref := subDoc(user["groups"], "$ref")
	jsonEqual(t, ref["referenceTypes"], `["User","Group"]`)
	if ref["caseExact"] != false {
		t.Error("groups.$ref is caseExact (the corrected catalogue says false)")
	}
	if p := user["profileUrl"]; p["caseExact"] != false {
		t.Error("profileUrl is caseExact")
	}
	jsonEqual(t, subDoc(user["emails"], "type")["canonicalValues"], `["work","home","other"]`)
	if _, ok := subDoc(user["emails"], "value")["canonicalValues"]; ok {
		t.Error("emails.value has canonicalValues")
	}

	ext := attrDocs(t, EnterpriseURN)
	for _, n := range []string{"employeeNumber", "costCenter", "organization", "division", "department", "manager"} {
		if _, ok := ext[n]; !ok {
			t.Errorf("Enterprise schema does not list %s", n)
		}
	}
	if len(ext) != 6 {
		t.Errorf("Enterprise schema lists %d attributes", len(ext))
	}
	jsonEqual(t, subDoc(ext["manager"], "$ref")["referenceTypes"], `["User"]`)
	if d := subDoc(ext["manager"], "displayName"); d["mutability"] != ReadOnly {
		t.Errorf("manager.displayName = %v", d)
	}

	group := attrDocs(t, GroupURN)
	if len(group) != 2 || group["displayName"] == nil || group["members"] == nil {
		t.Errorf("Group schema attributes = %v", group)
	}
	if d := group["displayName"]; d["uniqueness"] != UniqueServer || d["required"] != true {
		t.Errorf("Group displayName = %v", d)
	}
	jsonEqual(t, subDoc(group["members"], "type")["canonicalValues"], `["User","Group"]`)
}

func TestSchemaDoc(t *testing.T) {
	for _, urn := range []string{UserURN, EnterpriseURN, GroupURN} {
		for _, q := range []string{urn, strings.ToLower(urn), strings.ToUpper(urn)} {
			doc, ok := SchemaDoc(base, q)
			if !ok || doc["id"] != urn {
				t.Errorf("SchemaDoc(%q) = %v, %v", q, doc["id"], ok)
				continue
			}
			if loc := doc["meta"].(map[string]any)["location"]; loc != base+"/Schemas/"+urn {
				t.Errorf("SchemaDoc(%q) location = %v", q, loc)
			}
		}
	}
	for _, q := range []string{"", "User", "urn:example:nope", SchemaURN, ResourceTypeURN, ServiceProviderConfigURN, UserURN + ":userName"} {
		if doc, ok := SchemaDoc(base, q); ok || doc != nil {
			t.Errorf("SchemaDoc(%q) = %v, %v; want nil, false", q, doc, ok)
		}
	}
}

func TestDiscoveryJSON(t *testing.T) {
	var all []any
	all = append(all, ServiceProviderConfig(base, SPConfig{}))
	for _, d := range ResourceTypes(base) {
		all = append(all, d)
	}
	for _, d := range SchemaDocs(base) {
		all = append(all, d)
	}
	for i, d := range all {
		if _, err := json.Marshal(d); err != nil {
			t.Errorf("document %d: %v", i, err)
		}
	}
	// Documents are fresh values: changing one does not change the next.
	a := SchemaDocs(base)
	a[0]["id"] = "changed"
	a[0]["attributes"].([]any)[0].(map[string]any)["name"] = "changed"
	b := SchemaDocs(base)
	if b[0]["id"] != UserURN || b[0]["attributes"].([]any)[0].(map[string]any)["name"] == "changed" {
		t.Error("SchemaDocs shares state between calls")
	}
	if a, _ := User.Lookup(b[0]["attributes"].([]any)[0].(map[string]any)["name"].(string)); a == nil || a.Name == "changed" {
		t.Error("the catalogue was modified through a document")
	}
}
