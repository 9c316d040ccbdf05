package scim

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/provision"
)

// TestTenantIsolation: tenant B's token never sees or changes tenant A's
// users and groups, and gets the same answer as for ids that exist nowhere.
func TestTenantIsolation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		aUser := createUser(t, h, "shared@acme.test", "shared@acme.test", "")
		aGroup := gets(h.req("POST", "/Groups", map[string]any{"displayName": "A-team", "members": []any{map[string]any{"value": aUser}}}).must(t, 201).Body, "id")
		_, tokB := h.newTenant("other")
		b := []string{"Authorization", "Bearer " + tokB}
		ghost := "0192f5a0-0000-7000-8000-000000000000"
		for _, id := range []string{aUser, ghost} {
			h.req("GET", "/Users/"+id, nil, b...).scimError(t, 404, "")
			h.req("PUT", "/Users/"+id, map[string]any{"userName": "x"}, b...).scimError(t, 404, "")
			h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"active","value":false}]}`, b...).scimError(t, 404, "")
			h.req("DELETE", "/Users/"+id, nil, b...).scimError(t, 404, "")
		}
		for _, id := range []string{aGroup, ghost} {
			h.req("GET", "/Groups/"+id, nil, b...).scimError(t, 404, "")
			h.req("PATCH", "/Groups/"+id, patchOp+`{"op":"remove","path":"members"}]}`, b...).scimError(t, 404, "")
			h.req("DELETE", "/Groups/"+id, nil, b...).scimError(t, 404, "")
		}
		for _, f := range []string{`userName eq "shared@acme.test"`, `emails.value eq "shared@acme.test"`, `id eq "` + aUser + `"`} {
			if r := h.req("GET", "/Users?filter="+q(f), nil, b...).must(t, 200); r.Body["totalResults"] != 0.0 {
				t.Fatalf("B sees A's user via %s: %s", f, r.Raw)
			}
		}
		if r := h.req("GET", "/Groups", nil, b...).must(t, 200); r.Body["totalResults"] != 0.0 {
			t.Fatalf("B sees A's groups: %s", r.Raw)
		}
		// B's group cannot take A's user as a member, and B can reuse A's names.
		h.req("POST", "/Groups", map[string]any{"displayName": "A-team", "members": []any{map[string]any{"value": aUser}}}, b...).scimError(t, 400, "invalidValue")
		h.req("POST", "/Users", map[string]any{"userName": "shared@acme.test"}, b...).must(t, 201)
		// Nothing of A changed.
		r := h.req("GET", "/Groups/"+aGroup, nil).must(t, 200)
		if gets(r.Body, "members.0.value") != aUser || gets(r.Body, "meta.version") != `W/"1"` {
			t.Fatalf("A's group changed: %s", r.Raw)
		}
		if r := h.req("GET", "/Users/"+aUser, nil).must(t, 200); r.Body["active"] != true || gets(r.Body, "meta.version") != `W/"1"` {
			t.Fatalf("A's user changed: %s", r.Raw)
		}
	})
}

func TestAuthFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		a := provision.Actor{Name: "test"}
		revoked, tok, _ := h.svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: h.tenantID})
		if err := h.svc.RevokeToken(ctx, a, tok.ID); err != nil {
			t.Fatal(err)
		}
		expired, _, _ := h.svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: h.tenantID, TTL: time.Nanosecond})
		time.Sleep(2 * time.Millisecond)
		for name, hdr := range map[string]string{
			"none": "", "garbage": "Bearer nope", "revoked": "Bearer " + revoked, "expired": "Bearer " + expired,
			"basic": "Basic " + h.token,
		} {
			r := h.req("GET", "/Users", nil, "Authorization", hdr)
			r.scimError(t, 401, "")
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: no WWW-Authenticate", name)
			}
		}
		// Discovery needs no token.
		h.req("GET", "/ServiceProviderConfig", nil, "Authorization", "").must(t, 200)
	})
}

func TestBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		id := createUser(t, h, "dora", "dora@acme.test", "")
		h.req("POST", "/Users", `{"userName": "x",`).scimError(t, 400, "invalidSyntax")
		h.req("POST", "/Users", `[1,2]`).scimError(t, 400, "invalidSyntax")
		h.req("POST", "/Users", `{"name":{"givenName":"no userName"}}`).scimError(t, 400, "invalidValue")
		h.req("POST", "/Users", `{"userName":"DORA"}`).scimError(t, 409, "uniqueness")
		h.req("POST", "/Users", `{"userName":"eve","active":"maybe"}`).scimError(t, 400, "invalidValue")
		h.req("POST", "/Users", `{"userName":"eve","roles":[{"value":"superuser"}]}`).scimError(t, 400, "invalidValue")
		h.req("PUT", "/Users/"+id, `{"name":{"givenName":"no userName"}}`).scimError(t, 400, "invalidValue")
		h.req("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`).must(t, 400)
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"remove"}]}`).scimError(t, 400, "noTarget")
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"emails[type eq \"home\"].value","value":"x@y"}]}`).scimError(t, 400, "noTarget")
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"id","value":"other"}]}`).scimError(t, 400, "mutability")
		for _, f := range []string{`userName xx "a"`, `password eq "x"`, `title gt true`, `userName eq`, `active gt true`, `meta.created gt "yesterday"`, strings.Repeat("a", MaxFilterLength+1)} {
			h.req("GET", "/Users?filter="+q(f), nil).scimError(t, 400, "invalidFilter")
		}
		h.req("GET", "/Users?sortBy=password", nil).scimError(t, 400, "invalidValue")
		h.req("GET", "/Users?count=abc", nil).scimError(t, 400, "invalidValue")
		h.req("POST", "/Users", `{"userName":"big","displayName":"`+strings.Repeat("x", DefaultMaxBodyBytes)+`"}`).scimError(t, 413, "")
		h.req("DELETE", "/Users", nil).scimError(t, 405, "")
		h.req("GET", "/Nope", nil).scimError(t, 404, "")
		// Nothing above changed dora.
		if r := h.req("GET", "/Users/"+id, nil).must(t, 200); gets(r.Body, "meta.version") != `W/"1"` {
			t.Fatalf("bad input changed the user: %s", r.Raw)
		}
		if r := h.req("GET", "/Users", nil).must(t, 200); r.Body["totalResults"] != 1.0 {
			t.Fatalf("bad input created users: %s", r.Raw)
		}
	})
}

func TestETags(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		id := createUser(t, h, "fay", "fay@acme.test", "")
		r := h.req("GET", "/Users/"+id, nil).must(t, 200)
		if r.Header.Get("ETag") != `W/"1"` || gets(r.Body, "meta.version") != `W/"1"` {
			t.Fatalf("etag %q", r.Header.Get("ETag"))
		}
		h.req("GET", "/Users/"+id, nil, "If-None-Match", `W/"1"`).must(t, 304)
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"displayName","value":"F"}]}`, "If-Match", `W/"7"`).scimError(t, 412, "")
		h.req("DELETE", "/Users/"+id, nil, "If-Match", `W/"7"`).scimError(t, 412, "")
		r = h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"displayName","value":"F"}]}`, "If-Match", `W/"1"`).must(t, 200)
		if r.Header.Get("ETag") != `W/"2"` || r.Body["displayName"] != "F" {
			t.Fatalf("after conditional patch: %q %s", r.Header.Get("ETag"), r.Raw)
		}
		h.req("GET", "/Users/"+id, nil, "If-None-Match", `W/"1"`).must(t, 200)
	})
}

// TestEntraShapes covers the Entra requests of CLIENTS.md §2.1 that the
// foundation must handle: matching filters, the create body, attribute
// PATCHes, soft delete, and group calls.
func TestEntraShapes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		// Test connection: a random GUID matches nobody.
		r := h.req("GET", "/Users?filter="+q(`userName eq "5171a35d82074e068ce2da9b7d5ef7ca"`), nil).must(t, 200)
		if r.Body["totalResults"] != 0.0 || len(r.Body["Resources"].([]any)) != 0 {
			t.Fatalf("test connection: %s", r.Raw)
		}
		create := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
			`"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee@contoso.com","active":true,` +
			`"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b@contoso.com"}],"meta":{"resourceType":"User"},` +
			`"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[],` +
			`"addresses":null,"phoneNumbers":null,"preferredLanguage":null,"title":null,"manager":null}`
		r = h.req("POST", "/Users", create).must(t, 201)
		id := gets(r.Body, "id")
		if get(r.Body, "roles.0.value") != "member" || r.Body["title"] != nil {
			t.Fatalf("create: %s", r.Raw)
		}
		for _, f := range []string{
			`userName eq "test_user_ab6490ee@contoso.com"`,
			`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`,
			`emails[type eq "work"].value eq "Test_User_fd0ea19b@contoso.com"`,
			`emails.value eq "test_user_fd0ea19b@contoso.com"`,
			`userName eq "Test_User_ab6490ee@contoso.com" and active eq true`,
			`id eq "` + id + `"`,
			`displayName pr or userName eq "Test_User_ab6490ee@contoso.com"`,
		} {
			r := h.req("GET", "/Users?filter="+strings.ReplaceAll(q(f), "%20", "+"), nil).must(t, 200)
			if r.Body["totalResults"] != 1.0 || gets(r.Body, "Resources.0.id") != id {
				t.Fatalf("filter %s: %s", f, r.Raw)
			}
		}
		if r := h.req("GET", "/Users?filter="+q(`emails[type eq "home"].value eq "Test_User_fd0ea19b@contoso.com"`), nil).must(t, 200); r.Body["totalResults"] != 0.0 {
			t.Fatalf("home email matched a work email: %s", r.Raw)
		}
		// Update: one Replace op per path, an Add on an enterprise path.
		r = h.req("PATCH", "/Users/"+id, patchOp+
			`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updated@contoso.com"},`+
			`{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"},`+
			`{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}]}`).must(t, 200)
		if gets(r.Body, "emails.0.value") != "updated@contoso.com" || gets(r.Body, "name.familyName") != "updatedFamilyName" ||
			gets(r.Body, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department") != "Sales" {
			t.Fatalf("update: %s", r.Raw)
		}
		if r := h.req("GET", "/Users?filter="+q(`emails[type eq "work"].value eq "UPDATED@contoso.com"`), nil).must(t, 200); r.Body["totalResults"] != 1.0 {
			t.Fatalf("email index not updated: %s", r.Raw)
		}
		// Soft delete: still returned by GET and filters.
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"Replace","path":"active","value":"False"}]}`).must(t, 200)
		if r := h.req("GET", "/Users?filter="+q(`active eq false`), nil).must(t, 200); r.Body["totalResults"] != 1.0 {
			t.Fatalf("soft-deleted user not found: %s", r.Raw)
		}
		// Groups: create with Entra's extra schema, filter by displayName without members, rename, add/remove.
		r = h.req("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],`+
			`"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}`).must(t, 201)
		gid := gets(r.Body, "id")
		r = h.req("GET", "/Groups?excludedAttributes=members&filter="+q(`displayName eq "DISPLAYNAME"`), nil).must(t, 200)
		if r.Body["totalResults"] != 1.0 || get(r.Body, "Resources.0.members") != nil {
			t.Fatalf("group filter: %s", r.Raw)
		}
		h.req("PATCH", "/Groups/"+gid, patchOp+`{"op":"Replace","path":"displayName","value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]}`).must(t, 204)
		h.req("PATCH", "/Groups/"+gid, patchOp+`{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+id+`"}]}]}`).must(t, 204)
		r = h.req("GET", "/Groups/"+gid+"?excludedAttributes=members", nil).must(t, 200)
		if r.Body["members"] != nil || !strings.HasSuffix(gets(r.Body, "displayName"), "updatedDisplayName") {
			t.Fatalf("group get: %s", r.Raw)
		}
		if r := h.req("GET", "/Groups?filter="+q(`members.value eq "`+id+`"`), nil).must(t, 200); r.Body["totalResults"] != 1.0 {
			t.Fatalf("members filter: %s", r.Raw)
		}
		h.req("PATCH", "/Groups/"+gid, patchOp+`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"`+id+`"}]}]}`).must(t, 204)
		if r := h.req("GET", "/Groups/"+gid, nil).must(t, 200); get(r.Body, "members.0") != nil {
			t.Fatalf("member not removed: %s", r.Raw)
		}
		h.req("DELETE", "/Users/"+id, nil).must(t, 204)
		h.req("DELETE", "/Groups/"+gid, nil).must(t, 204)
	})
}

func TestListParameters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		for i := range 5 {
			h.req("POST", "/Users", map[string]any{"userName": fmt.Sprintf("u%d", 4-i), "displayName": fmt.Sprintf("D%d", i)}).must(t, 201)
		}
		r := h.req("GET", "/Users?count=0", nil).must(t, 200)
		if r.Body["totalResults"] != 5.0 || len(r.Body["Resources"].([]any)) != 0 {
			t.Fatalf("count=0: %s", r.Raw)
		}
		r = h.req("GET", "/Users?startIndex=0&count=-3", nil).must(t, 200)
		if r.Body["startIndex"] != 1.0 || r.Body["itemsPerPage"] != 0.0 {
			t.Fatalf("negative count: %s", r.Raw)
		}
		r = h.req("GET", "/Users?startIndex=9", nil).must(t, 200)
		if r.Body["itemsPerPage"] != 0.0 || r.Body["totalResults"] != 5.0 {
			t.Fatalf("past the end: %s", r.Raw)
		}
		r = h.req("GET", "/Users?sortBy=userName&sortOrder=descending&attributes=userName", nil).must(t, 200)
		var names []string
		for _, u := range r.Body["Resources"].([]any) {
			names = append(names, gets(u, "userName"))
			if gets(u, "id") == "" || get(u, "displayName") != nil {
				t.Fatalf("projection: %v", u)
			}
		}
		if strings.Join(names, ",") != "u4,u3,u2,u1,u0" {
			t.Fatalf("sorted: %v", names)
		}
		r = h.req("GET", "/Users?excludedAttributes=emails,displayName&count=1", nil).must(t, 200)
		if get(r.Body, "Resources.0.displayName") != nil || gets(r.Body, "Resources.0.userName") == "" {
			t.Fatalf("excludedAttributes: %s", r.Raw)
		}
		// Trailing slash as Microsoft's collection sends it.
		h.req("GET", "/Users/?filter="+q(`displayName eq "d1"`), nil).must(t, 200)
	})
}

func TestDiscovery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		r := h.req("GET", "/ServiceProviderConfig", nil).must(t, 200)
		if get(r.Body, "patch.supported") != true || get(r.Body, "etag.supported") != true || get(r.Body, "bulk.supported") != true ||
			get(r.Body, "bulk.maxOperations") != float64(MaxBulkOperations) ||
			get(r.Body, "filter.maxResults") != float64(MaxCount) || get(r.Body, "bulk.maxPayloadSize") != float64(DefaultMaxBodyBytes) {
			t.Fatalf("ServiceProviderConfig: %s", r.Raw)
		}
		r = h.req("GET", "/ResourceTypes", nil).must(t, 200)
		if gets(r.Body, "Resources.0.endpoint") != "/Users" || r.Body["totalResults"] != 2.0 {
			t.Fatalf("ResourceTypes: %s", r.Raw)
		}
		h.req("GET", "/ResourceTypes/Group", nil).must(t, 200)
		h.req("GET", "/ResourceTypes/Nope", nil).scimError(t, 404, "")
		r = h.req("GET", "/Schemas", nil).must(t, 200)
		if r.Body["totalResults"] != 3.0 || !strings.Contains(string(r.Raw), "User Account") {
			t.Fatalf("Schemas: %s", r.Raw)
		}
		r = h.req("GET", "/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", nil).must(t, 200)
		if r.Body["id"] != "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" {
			t.Fatalf("Schemas/urn: %s", r.Raw)
		}
		h.req("GET", "/Schemas/urn:nope", nil).scimError(t, 404, "")
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			t.Fatalf("content type %q", ct)
		}
	})
}

// TestPanicIsAGenericSCIM500 drives the middleware with a handler that
// panics: the client gets a SCIM 500 without the panic text.
func TestPanicIsAGenericSCIM500(t *testing.T) {
	s := &server{cfg: Config{MaxBodyBytes: 1024}, log: slog.New(slog.DiscardHandler), metrics: obs.NewMetrics()}
	h := withRequestID(s.observe(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret database password in here") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") || !strings.Contains(rec.Body.String(), `"status":"500"`) ||
		!strings.Contains(rec.Body.String(), rec.Header().Get("X-Request-Id")) {
		t.Fatalf("panic answer: %d %s", rec.Code, rec.Body.String())
	}
}
