package scim

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// oktaGET sends the headers Okta's Runscope SPEC suite sends on every GET.
var oktaGET = []string{
	"Accept", "application/scim+json", "Accept-Charset", "utf-8",
	"Content-Type", "application/scim+json; charset=utf-8", "User-Agent", "OKTA SCIM Integration",
}

func q(filter string) string { return url.QueryEscape(filter) }

// requireUserShape is the six-field check of SPEC steps 1 and 2.
func requireUserShape(t *testing.T, u any) {
	t.Helper()
	for _, f := range []string{"id", "name.familyName", "name.givenName", "userName", "emails.0.value"} {
		if gets(u, f) == "" {
			t.Fatalf("%s is empty in %v", f, u)
		}
	}
	if _, ok := get(u, "active").(bool); !ok {
		t.Fatalf("active missing in %v", u)
	}
}

func requireList(t *testing.T, r resp) {
	t.Helper()
	if s, _ := r.Body["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
		t.Fatalf("not a ListResponse: %s", r.Raw)
	}
	for _, f := range []string{"itemsPerPage", "startIndex", "totalResults"} {
		if _, ok := r.Body[f].(float64); !ok {
			t.Fatalf("%s must be a number: %s", f, r.Raw)
		}
	}
	if _, ok := r.Body["Resources"].([]any); !ok {
		t.Fatalf("Resources must be an array: %s", r.Raw)
	}
}

// TestOktaSPECSuite replays "Okta SCIM 2.0 SPEC Test" (CLIENTS.md §1.1) step
// by step, with the extra steps of the older "Okta SCIM 2.0 Tests" export.
func TestOktaSPECSuite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		// The suite needs a pre-existing user; an ISV creates one first.
		h.req("POST", "/Users", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "existing@atko.com",
			"name":   map[string]any{"givenName": "Ex", "familyName": "Isting"},
			"emails": []any{map[string]any{"primary": true, "value": "existing@atko.com", "type": "work"}}, "active": true,
		}).must(t, 201)

		// 1. GET /Users?count=1&startIndex=1
		r := h.req("GET", "/Users?count=1&startIndex=1", nil, oktaGET...).must(t, 200)
		requireList(t, r)
		res := r.Body["Resources"].([]any)
		if len(res) != 1 {
			t.Fatalf("step 1: %d resources", len(res))
		}
		requireUserShape(t, res[0])
		id := gets(res[0], "id")

		// 2. GET /Users/{id}
		r = h.req("GET", "/Users/"+id, nil, oktaGET...).must(t, 200)
		requireUserShape(t, r.Body)
		if r.Body["id"] != id {
			t.Fatalf("step 2: id %v", r.Body["id"])
		}

		// 3. and 5. filters for users that do not exist → 200, totalResults 0.
		for _, name := range []string{"invalid-user@atko.com", "Runscope9999random@atko.com"} {
			r = h.req("GET", "/Users?filter="+q(`userName eq "`+name+`"`), nil, oktaGET...).must(t, 200)
			requireList(t, r)
			if r.Body["totalResults"] != 0.0 {
				t.Fatalf("filter for %s: %s", name, r.Raw)
			}
		}

		// 4. GET an id that does not exist → 404 SCIM error with detail.
		h.req("GET", "/Users/010101001010101010", nil, oktaGET...).scimError(t, 404, "")

		// 6. Create with realistic values; Content-Type application/json.
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Runscope42Ab@atko.com",` +
			`"name":{"givenName":"Given42","familyName":"Family42"},` +
			`"emails":[{"primary":true,"value":"Runscope42Ab@atko.com","type":"work"}],"displayName":"Given42 Family42","active":true}`
		r = h.req("POST", "/Users", body, "Content-Type", "application/json", "Accept", "application/scim+json; charset=utf-8").must(t, 201)
		newID := gets(r.Body, "id")
		if newID == "" || r.Body["active"] != true || gets(r.Body, "name.familyName") != "Family42" ||
			gets(r.Body, "name.givenName") != "Given42" || r.Body["userName"] != "Runscope42Ab@atko.com" {
			t.Fatalf("step 6: %s", r.Raw)
		}
		if !strings.Contains(string(r.Raw), `"urn:ietf:params:scim:schemas:core:2.0:User"`) {
			t.Fatalf("step 6 schemas: %s", r.Raw)
		}
		if loc := r.Header.Get("Location"); loc != h.base+"/Users/"+newID || gets(r.Body, "meta.location") != loc {
			t.Fatalf("step 6 Location %q meta.location %q", loc, gets(r.Body, "meta.location"))
		}

		// 7. Verify.
		r = h.req("GET", "/Users/"+newID, nil, oktaGET...).must(t, 200)
		if r.Body["userName"] != "Runscope42Ab@atko.com" || gets(r.Body, "name.familyName") != "Family42" {
			t.Fatalf("step 7: %s", r.Raw)
		}

		// 8. Same POST again → 409.
		h.req("POST", "/Users", body, "Content-Type", "application/json").scimError(t, 409, "uniqueness")

		// 9. Case sensitivity: the upper-case twin finds the user.
		r = h.req("GET", "/Users?filter="+q(`userName eq "RUNSCOPE42AB@ATKO.COM"`), nil, oktaGET...).must(t, 200)
		if r.Body["totalResults"] != 1.0 || gets(r.Body, "Resources.0.id") != newID {
			t.Fatalf("step 9: %s", r.Raw)
		}

		// 10. Groups endpoint; older suite: count=100&startIndex=1 and count=2.
		requireList(t, h.req("GET", "/Groups", nil, oktaGET...).must(t, 200))
		requireList(t, h.req("GET", "/Groups?count=100&startIndex=1", nil, oktaGET...).must(t, 200))
		r = h.req("GET", "/Users?count=2&startIndex=1", nil, oktaGET...).must(t, 200)
		if r.Body["itemsPerPage"] != 2.0 || r.Body["totalResults"] != 2.0 {
			t.Fatalf("count=2: %s", r.Raw)
		}

		// 11. Authorization "non-token" → 401 with status "401".
		h.req("GET", "/Users?filter="+q(`userName eq "x"`), nil, "Authorization", "non-token").scimError(t, 401, "")

		// 12. GET /Users/00919288221112222 → 404 with status "404".
		h.req("GET", "/Users/00919288221112222", nil, oktaGET...).scimError(t, 404, "")

		// Older suite's last step: path-less deactivate → 200 with active false.
		r = h.req("PATCH", "/Users/"+newID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`).must(t, 200)
		if r.Body["active"] != false {
			t.Fatalf("deactivate: %s", r.Raw)
		}
	})
}

// TestOktaProvisioning replays what Okta's provisioning engine sends
// (CLIENTS.md §1.3): look-up, create, import paging, profile PUT,
// deactivate/reactivate, password sync, and group push.
func TestOktaProvisioning(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		ua := []string{"User-Agent", "Okta SCIM Client 1.0.0"}
		// Assignment: look-up (encoded as Okta sends it), then create.
		r := h.req("GET", "/Users?filter=userName%20eq%20%22jane.doe%40example.com%22&startIndex=1&count=100", nil, ua...).must(t, 200)
		if r.Body["totalResults"] != 0.0 {
			t.Fatalf("look-up: %s", r.Raw)
		}
		create := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane.doe@example.com",` +
			`"name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"primary":true,"value":"jane.doe@example.com","type":"work"}],` +
			`"displayName":"Jane Doe","locale":"en-US","externalId":"00u1abcdEFGH2345x697","groups":[],"password":"t1meMa$heen","active":true}`
		r = h.req("POST", "/Users", create, append(ua, "Content-Type", "application/json")...).must(t, 201)
		id := gets(r.Body, "id")
		if strings.Contains(string(r.Raw), "t1meMa$heen") || r.Body["password"] != nil {
			t.Fatalf("password echoed: %s", r.Raw)
		}
		if r.Body["externalId"] != "00u1abcdEFGH2345x697" || r.Body["locale"] != "en-US" || get(r.Body, "roles.0.value") != "member" {
			t.Fatalf("create: %s", r.Raw)
		}
		// The raw row holds a hash, never the password.
		u, err := h.store.GetUser(t.Context(), h.tenantID, id)
		if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") || strings.Contains(string(u.Doc), "t1meMa") {
			t.Fatalf("stored password: %q %s %v", u.PasswordHash, u.Doc, err)
		}
		// A retried create → 409 with an Error body.
		h.req("POST", "/Users", create, ua...).scimError(t, 409, "uniqueness")
		// Matching by externalId works too.
		r = h.req("GET", "/Users?filter="+q(`externalId eq "00u1abcdEFGH2345x697"`), nil, ua...).must(t, 200)
		if r.Body["totalResults"] != 1.0 {
			t.Fatalf("externalId filter: %s", r.Raw)
		}

		// Import: 7 more users, paged 3 at a time; stable order, every user once.
		for i := range 7 {
			h.req("POST", "/Users", map[string]any{"userName": fmt.Sprintf("imp%d@example.com", i), "name": map[string]any{"givenName": "I", "familyName": "P"}}).must(t, 201)
		}
		seen := map[string]bool{}
		for start := 1; ; start += 3 {
			r = h.req("GET", fmt.Sprintf("/Users?startIndex=%d&count=3", start), nil, ua...).must(t, 200)
			if r.Body["startIndex"] != float64(start) || r.Body["totalResults"] != 8.0 {
				t.Fatalf("page %d: %s", start, r.Raw)
			}
			for _, res := range r.Body["Resources"].([]any) {
				rid := gets(res, "id")
				if seen[rid] {
					t.Fatalf("user %s on two pages", rid)
				}
				seen[rid] = true
			}
			if start+3 > 8 {
				break
			}
		}
		if len(seen) != 8 {
			t.Fatalf("import saw %d users, want 8", len(seen))
		}

		// Profile update: GET, then PUT of the whole object (id, groups, meta included).
		r = h.req("GET", "/Users/"+id, nil, ua...).must(t, 200)
		full := r.Body
		full["name"].(map[string]any)["givenName"] = "Janet"
		full["groups"] = []any{}
		r = h.req("PUT", "/Users/"+id, full, ua...).must(t, 200)
		if gets(r.Body, "name.givenName") != "Janet" || r.Body["id"] != id || r.Body["active"] != true || get(r.Body, "roles.0.value") != "member" {
			t.Fatalf("PUT: %s", r.Raw)
		}

		// Deactivate, reactivate, password sync: PATCH without path.
		patch := func(value string) resp {
			return h.req("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":`+value+`}]}`, ua...).must(t, 200)
		}
		if r = patch(`{"active":false}`); r.Body["active"] != false {
			t.Fatalf("deactivate: %s", r.Raw)
		}
		// Deactivated users are still returned by GET and filters.
		r = h.req("GET", "/Users?filter="+q(`userName eq "jane.doe@example.com"`), nil, ua...).must(t, 200)
		if r.Body["totalResults"] != 1.0 || get(r.Body, "Resources.0.active") != false {
			t.Fatalf("inactive user in filter: %s", r.Raw)
		}
		if r = patch(`{"active":true}`); r.Body["active"] != true {
			t.Fatalf("reactivate: %s", r.Raw)
		}
		before, _ := h.store.GetUser(t.Context(), h.tenantID, id)
		patch(`{"password":"n3wPassw0rd!"}`)
		after, _ := h.store.GetUser(t.Context(), h.tenantID, id)
		if after.PasswordHash == before.PasswordHash || after.PasswordHash == "" {
			t.Fatal("password sync did not change the hash")
		}

		// Group push.
		other := gets(h.req("GET", "/Users?filter="+q(`userName eq "imp0@example.com"`), nil).Body, "Resources.0.id")
		third := gets(h.req("GET", "/Users?filter="+q(`userName eq "imp1@example.com"`), nil).Body, "Resources.0.id")
		r = h.req("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[]}`, ua...).must(t, 201)
		gid := gets(r.Body, "id")
		if r.Body["displayName"] != "Engineering" || r.Header.Get("Location") != h.base+"/Groups/"+gid {
			t.Fatalf("group create: %s", r.Raw)
		}
		h.req("GET", "/Groups/"+gid, nil, ua...).must(t, 200)
		// Rename re-sends the read-only id inside value.
		gpatch := func(ops string) {
			t.Helper()
			r := h.req("PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`, ua...)
			if r.Status != 200 && r.Status != 204 {
				t.Fatalf("group PATCH %s: %d %s", ops, r.Status, r.Raw)
			}
		}
		gpatch(`{"op":"replace","value":{"id":"` + gid + `","displayName":"Engineering EMEA"}}`)
		gpatch(`{"op":"add","path":"members","value":[{"value":"` + id + `","display":"jane.doe@example.com"},{"value":"` + other + `","display":"imp0"}]}`)
		members := func() []string {
			r := h.req("GET", "/Groups/"+gid, nil, ua...).must(t, 200)
			if r.Body["displayName"] != "Engineering EMEA" {
				t.Fatalf("rename lost: %s", r.Raw)
			}
			var ids []string
			for _, m := range get(r.Body, "members").([]any) {
				ids = append(ids, gets(m, "value"))
			}
			return ids
		}
		if m := members(); len(m) != 2 {
			t.Fatalf("members after add: %v", m)
		}
		// One PATCH with a remove-by-filter and an add, as Okta sends it.
		gpatch(`{"op":"remove","path":"members[value eq \"` + other + `\"]"},{"op":"add","path":"members","value":[{"value":"` + third + `","display":"imp1"}]}`)
		if m := strings.Join(members(), ","); !strings.Contains(m, id) || !strings.Contains(m, third) || strings.Contains(m, other) {
			t.Fatalf("members after remove+add: %v", m)
		}
		// The user shows the group.
		r = h.req("GET", "/Users/"+id, nil, ua...).must(t, 200)
		if gets(r.Body, "groups.0.value") != gid || gets(r.Body, "groups.0.display") != "Engineering EMEA" {
			t.Fatalf("user groups: %s", r.Raw)
		}
		// Full push replaces the whole list.
		gpatch(`{"op":"replace","path":"members","value":[{"value":"` + other + `"}]}`)
		if m := members(); len(m) != 1 || m[0] != other {
			t.Fatalf("members after replace: %v", m)
		}
		// Unlink with "delete in target app".
		h.req("DELETE", "/Groups/"+gid, nil, ua...).must(t, 204)
		h.req("GET", "/Groups/"+gid, nil, ua...).scimError(t, 404, "")
	})
}
