package scim

import (
	"context"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/provision"
)

const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`

// deactivations are every shape a client deactivates a user with.
var deactivations = []struct {
	name   string
	method string
	body   func(full map[string]any) any
}{
	{"path active false", "PATCH", func(map[string]any) any { return patchOp + `{"op":"replace","path":"active","value":false}]}` }},
	{"Okta path-less value", "PATCH", func(map[string]any) any { return patchOp + `{"op":"replace","value":{"active":false}}]}` }},
	{"Entra default dialect False string", "PATCH", func(map[string]any) any {
		return patchOp + `{"op":"Replace","path":"active","value":"False"}]}`
	}},
	{"PUT active false", "PUT", func(full map[string]any) any { full["active"] = false; return full }},
}

func createUser(t *testing.T, h *harness, userName, email, role string) string {
	t.Helper()
	body := map[string]any{"userName": userName, "name": map[string]any{"givenName": "G", "familyName": "F"}, "active": true,
		"emails": []any{map[string]any{"value": email, "type": "work", "primary": true}}}
	if role != "" {
		body["roles"] = []any{map[string]any{"value": role, "primary": true}}
	}
	return gets(h.req("POST", "/Users", body).must(t, 201).Body, "id")
}

// refusedUnchanged checks a 403 refusal with the rule code and that the
// user is still active at the same version.
func refusedUnchanged(t *testing.T, h *harness, r resp, id, rule string) {
	t.Helper()
	d := r.scimError(t, 403, "")
	if !strings.HasPrefix(d, rule+": ") || !strings.Contains(d, "instead") && !strings.Contains(d, "first") {
		t.Fatalf("detail %q does not start with %s and say what to do", d, rule)
	}
	g := h.req("GET", "/Users/"+id, nil).must(t, 200)
	if g.Body["active"] != true || gets(g.Body, "meta.version") != `W/"1"` {
		t.Fatalf("refused request changed the user: %s", g.Raw)
	}
}

func TestConsumerDomainCannotBeDeactivated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		id := createUser(t, h, "alice", "alice@GMail.com", "")
		for _, d := range deactivations {
			t.Run(d.name, func(t *testing.T) {
				full := h.req("GET", "/Users/"+id, nil).must(t, 200).Body
				refusedUnchanged(t, h, h.req(d.method, "/Users/"+id, d.body(full)), id, "policy.consumer_domain")
			})
		}
		// A corporate user is deactivated by the same requests.
		bob := createUser(t, h, "bob", "bob@acme.test", "")
		h.req("PATCH", "/Users/"+bob, patchOp+`{"op":"Replace","path":"active","value":"False"}]}`).must(t, 200)
		if r := h.req("GET", "/Users/"+bob, nil).must(t, 200); r.Body["active"] != false {
			t.Fatalf("bob not deactivated: %s", r.Raw)
		}
		// Consumer-domain users can only be removed.
		h.req("DELETE", "/Users/"+id, nil).must(t, 204)
		h.req("GET", "/Users/"+id, nil).scimError(t, 404, "")
	})
}

func TestTokenOwnerCannotBeDeactivated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		id := createUser(t, h, "root@acme.test", "root@acme.test", "admin")
		_, tok, err := h.svc.CreateToken(context.Background(), provision.Actor{Name: "test"},
			provision.TokenSpec{TenantID: h.tenantID, OwnerUserName: "ROOT@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range deactivations {
			t.Run(d.name, func(t *testing.T) {
				full := h.req("GET", "/Users/"+id, nil).must(t, 200).Body
				refusedUnchanged(t, h, h.req(d.method, "/Users/"+id, d.body(full)), id, "policy.token_owner")
			})
		}
		// Other changes to the admin are fine.
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"displayName","value":"Root"}]}`).must(t, 200)
		// Once the token is revoked, the admin can be deactivated.
		if err := h.svc.RevokeToken(context.Background(), provision.Actor{Name: "test"}, tok.ID); err != nil {
			t.Fatal(err)
		}
		r := h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"active","value":false}]}`).must(t, 200)
		if r.Body["active"] != false {
			t.Fatalf("not deactivated after revoke: %s", r.Raw)
		}
		// The refusal counter saw every refusal.
		if n := testutilCount(h, "policy.token_owner"); n != float64(len(deactivations)) {
			t.Fatalf("refusal metric %v, want %d", n, len(deactivations))
		}
	})
}

func TestTokenOwnerMustBeAdmin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		createUser(t, h, "plain@acme.test", "plain@acme.test", "member")
		a := provision.Actor{Name: "test"}
		if _, _, err := h.svc.CreateToken(context.Background(), a, provision.TokenSpec{TenantID: h.tenantID, OwnerUserName: "plain@acme.test"}); err == nil {
			t.Fatal("a member became a token owner")
		}
		if _, _, err := h.svc.CreateToken(context.Background(), a, provision.TokenSpec{TenantID: h.tenantID, OwnerUserName: "nobody"}); err == nil {
			t.Fatal("an unknown user became a token owner")
		}
	})
}
