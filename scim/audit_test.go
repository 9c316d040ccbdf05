package scim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// TestAuditTrail: every request that changes or tries to change state
// leaves exactly one audit entry — successes, policy refusals and failures
// alike — with actor, request id, client, operation, resource, status,
// rule and changed attribute names, and no secret anywhere in it.
func TestAuditTrail(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, _ := lifecycleHarness(t, s, "")
		const password = "Sup3r-Secret-Passw0rd!"
		const ua = "Okta SCIM Client 1.0"
		create := map[string]any{"userName": "g@gmail.com", "password": password, "active": true,
			"emails": []any{map[string]any{"value": "g@gmail.com", "type": "work", "primary": true}}}
		id := gets(h.req("POST", "/Users", create, "User-Agent", ua, "X-Request-Id", "req-create").must(t, 201).Body, "id")

		type step struct {
			method, path string
			body         any
			status       int
			op, rule     string
			changed      []string
		}
		patch := func(ops string) string { return patchOp + ops + `]}` }
		steps := []step{
			// success, with changed attribute names (the password's name, never its value)
			{"PATCH", "/Users/" + id, patch(`{"op":"replace","path":"name.givenName","value":"Gail"},{"op":"replace","path":"password","value":"` + password + `2"}`),
				200, "user.patch", "", []string{"name", "password"}},
			// policy refusal: consumer domains cannot be deactivated
			{"PATCH", "/Users/" + id, patch(`{"op":"replace","path":"active","value":false}`), 403, "user.patch", "policy.consumer_domain", nil},
			// failures: malformed body, unknown id, duplicate userName
			{"PATCH", "/Users/" + id, `{"Operations": "nope"}`, 400, "user.patch", "", nil},
			{"DELETE", "/Users/2b1c3f0e-0000-4000-8000-000000000000", nil, 404, "user.delete", "", nil},
			{"POST", "/Users", map[string]any{"userName": "G@gmail.com", "password": password,
				"emails": []any{map[string]any{"value": "other@example.com", "type": "work"}}}, 409, "user.create", "", nil},
			// a change that changes nothing is still an attempt
			{"PATCH", "/Users/" + id, patch(`{"op":"replace","path":"name.givenName","value":"Gail"}`), 200, "user.patch", "", nil},
			// reads leave nothing
			{"GET", "/Users/" + id, nil, 200, "", "", nil},
			{"POST", "/Users/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}}, 200, "", "", nil},
			{"DELETE", "/Users/" + id, nil, 204, "user.delete", "", nil},
		}
		for i, st := range steps {
			rid := "req-" + strings.Repeat("x", i+1)
			r := h.req(st.method, st.path, st.body, "User-Agent", ua, "X-Request-Id", rid)
			if r.Status != st.status {
				t.Fatalf("step %d %s %s: status %d, want %d: %s", i, st.method, st.path, r.Status, st.status, r.Raw)
			}
			got := auditByRequest(t, s, h.tenantID, rid)
			if st.op == "" {
				if len(got) != 0 {
					t.Errorf("step %d (read): audit entries %+v", i, got)
				}
				continue
			}
			if len(got) != 1 {
				t.Fatalf("step %d %s %s: %d audit entries, want 1: %+v", i, st.method, st.path, len(got), got)
			}
			e := got[0]
			if e.Operation != st.op || e.Status != st.status || e.Rule != st.rule || e.Client != ua ||
				!strings.HasPrefix(e.Actor, "token:") || e.ResourceType != "User" {
				t.Errorf("step %d: entry %+v, want op %s status %d rule %q", i, e, st.op, st.status, st.rule)
			}
			if strings.HasPrefix(st.path, "/Users/") && e.ResourceID != strings.TrimPrefix(st.path, "/Users/") {
				t.Errorf("step %d: resource id %q", i, e.ResourceID)
			}
			if st.changed != nil && strings.Join(e.Changed, ",") != strings.Join(st.changed, ",") {
				t.Errorf("step %d: changed %v, want %v", i, e.Changed, st.changed)
			}
		}
		if got := auditByRequest(t, s, h.tenantID, "req-create"); len(got) != 1 || got[0].Status != 201 || got[0].ResourceID != id {
			t.Errorf("create entry = %+v", got)
		}
		// A request with another tenant's token never lands in this trail,
		// and nothing in the trail holds a secret.
		all, err := s.QueryAudit(context.Background(), store.AuditQuery{TenantID: h.tenantID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(all)
		for _, secret := range []string{password, h.token, "$2a$", "$argon2"} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("the audit trail contains a secret (%q): %s", secret, raw)
			}
		}
	})
}

func auditByRequest(t *testing.T, s store.Store, tenantID, rid string) []store.AuditEntry {
	t.Helper()
	all, err := s.QueryAudit(context.Background(), store.AuditQuery{TenantID: tenantID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, e := range all {
		if e.RequestID == rid {
			out = append(out, e)
		}
	}
	return out
}
