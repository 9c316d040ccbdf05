package scim

import (
	"testing"
)

func TestSearch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		for _, n := range []string{"ann@acme.test", "ben@acme.test", "cat@acme.test"} {
			createUser(t, h, n, n, "")
		}
		h.req("POST", "/Groups", map[string]any{"displayName": "Ann's team"}).must(t, 201)
		const sr = `"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]`
		r := h.req("POST", "/Users/.search", `{`+sr+`,"filter":"userName sw \"b\" or userName eq \"CAT@acme.test\"","sortBy":"userName","sortOrder":"descending","attributes":["userName"],"startIndex":1,"count":10}`).must(t, 200)
		if r.Body["totalResults"] != 2.0 || gets(r.Body, "Resources.0.userName") != "cat@acme.test" || gets(r.Body, "Resources.1.userName") != "ben@acme.test" ||
			get(r.Body, "Resources.0.emails") != nil || gets(r.Body, "Resources.0.id") == "" {
			t.Fatalf("users search: %s", r.Raw)
		}
		if r := h.req("POST", "/Groups/.search", `{`+sr+`,"filter":"displayName eq \"ann's TEAM\""}`).must(t, 200); r.Body["totalResults"] != 1.0 {
			t.Fatalf("groups search: %s", r.Raw)
		}
		// At the root: users then groups as one list, paged across both.
		r = h.req("POST", "/.search", `{`+sr+`,"startIndex":3,"count":2}`).must(t, 200)
		if r.Body["totalResults"] != 4.0 || r.Body["itemsPerPage"] != 2.0 || r.Body["startIndex"] != 3.0 ||
			gets(r.Body, "Resources.1.displayName") != "Ann's team" {
			t.Fatalf("root search: %s", r.Raw)
		}
		// A filter only users understand searches only users.
		if r := h.req("POST", "/.search", `{`+sr+`,"filter":"userName eq \"ann@acme.test\""}`).must(t, 200); r.Body["totalResults"] != 1.0 {
			t.Fatalf("root search by userName: %s", r.Raw)
		}
		h.req("POST", "/Users/.search", `{"filter":"userName pr"}`).scimError(t, 400, "invalidSyntax")
		h.req("POST", "/Users/.search", `{`+sr+`,"filter":"nope eq 1"}`).scimError(t, 400, "invalidFilter")
		h.req("POST", "/Users/.search", `{`+sr+`,"count":"ten"}`).scimError(t, 400, "invalidValue")
		h.req("POST", "/.search", `{`+sr+`,"filter":"nope eq 1"}`).scimError(t, 400, "invalidFilter")
	})
}
