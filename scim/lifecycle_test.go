package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// testClock is a clock the lifecycle tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lifecycleHarness is a harness whose service reads a test clock, with the
// tenant's policy set to preset plus sets.
func lifecycleHarness(t *testing.T, s store.Store, preset string, sets ...string) (*harness, *testClock) {
	t.Helper()
	c := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	svc := provision.New(s, c.now, nil)
	h := &harness{t: t, store: s, svc: svc, metrics: obs.NewMetrics()}
	h.srv = httptest.NewServer(NewServer(Config{Store: s, Provision: svc, Metrics: h.metrics, Now: c.now}))
	t.Cleanup(h.srv.Close)
	h.base = h.srv.URL + "/scim/v2"
	h.tenantID, h.token = h.newTenant("acme")
	if preset != "" || len(sets) > 0 {
		if _, err := svc.SetTenantPolicy(context.Background(), provision.Actor{Name: "test"}, "acme", preset, sets); err != nil {
			t.Fatal(err)
		}
	}
	return h, c
}

// ownedToken mints a SCIM token owned by userName and returns it.
func ownedToken(t *testing.T, h *harness, userName string) (secret, id string) {
	t.Helper()
	secret, tok, err := h.svc.CreateToken(context.Background(), provision.Actor{Name: "test"},
		provision.TokenSpec{TenantID: h.tenantID, OwnerUserName: userName})
	if err != nil {
		t.Fatal(err)
	}
	return secret, tok.ID
}

func hostToken(t *testing.T, h *harness) string {
	t.Helper()
	secret, _, err := h.svc.CreateToken(context.Background(), provision.Actor{Name: "test"},
		provision.TokenSpec{TenantID: h.tenantID, Kind: store.TokenHost})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// access asks the host API whether a user may sign in.
func access(t *testing.T, h *harness, token, id string) (int, map[string]any) {
	t.Helper()
	r := h.req("GET", h.srv.URL+"/api/v1/users/"+id+"/access", nil, "Authorization", "Bearer "+token)
	return r.Status, r.Body
}

// refusal checks a refusal's status, rule code and remedy.
func refusal(t *testing.T, r resp, status int, rule string) {
	t.Helper()
	scimType := ""
	if status == 409 {
		scimType = "uniqueness"
	}
	d := r.scimError(t, status, scimType)
	if !strings.HasPrefix(d, rule+": ") || len(d) < len(rule)+40 {
		t.Fatalf("detail %q does not start with %s and explain", d, rule)
	}
}

// events returns the types of the tenant's outbox events, oldest first,
// with their payloads.
func events(t *testing.T, h *harness) ([]string, []provision.EventPayload) {
	t.Helper()
	evs, err := h.store.ListEvents(context.Background(), h.tenantID, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	var payloads []provision.EventPayload
	for _, e := range evs {
		types = append(types, e.Type)
		var p provision.EventPayload
		if e.ResourceType == "User" {
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				t.Fatal(err)
			}
		}
		payloads = append(payloads, p)
	}
	return types, payloads
}

func TestSeatsAndAccessOverHTTP(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, _ := lifecycleHarness(t, s, "", "seats=2")
		host := hostToken(t, h)
		a := createUser(t, h, "a@acme.test", "a@acme.test", "")
		b := createUser(t, h, "b@acme.test", "b@acme.test", "")
		body := map[string]any{"userName": "c@acme.test", "active": true}
		refusal(t, h.req("POST", "/Users", body), 403, "policy.seats")
		// Created inactive it takes no seat.
		body["active"] = false
		c := gets(h.req("POST", "/Users", body).must(t, 201).Body, "id")

		if st, body := access(t, h, host, a); st != 200 || body["allowed"] != true || body["reason"] != nil {
			t.Fatalf("access of an active user: %d %v", st, body)
		}
		// Each deactivation shape takes effect at once and frees the seat.
		for i, shape := range []string{
			patchOp + `{"op":"replace","value":{"active":false}}]}`,
			patchOp + `{"op":"Replace","path":"active","value":"False"}]}`,
		} {
			id := []string{a, b}[i]
			h.req("PATCH", "/Users/"+id, shape).must(t, 200)
			if st, body := access(t, h, host, id); st != 200 || body["allowed"] != false || body["reason"] != "inactive" {
				t.Fatalf("access after deactivation: %d %v", st, body)
			}
		}
		// Two seats are free again: c can be reactivated (Okta's shape).
		h.req("PATCH", "/Users/"+c, patchOp+`{"op":"replace","value":{"active":true}}]}`).must(t, 200)
		h.req("PATCH", "/Users/"+a, patchOp+`{"op":"replace","path":"active","value":true}]}`).must(t, 200)
		refusal(t, h.req("PATCH", "/Users/"+b, patchOp+`{"op":"replace","path":"active","value":true}]}`), 403, "policy.seats")
		if r := h.req("GET", "/Users/"+b, nil).must(t, 200); r.Body["active"] != false {
			t.Fatalf("refused reactivation changed the user: %s", r.Raw)
		}
		// Deactivating an inactive user is a no-op, not an error, and no event.
		before, _ := events(t, h)
		r := h.req("PATCH", "/Users/"+b, patchOp+`{"op":"replace","path":"active","value":false}]}`).must(t, 200)
		if gets(r.Body, "meta.version") != `W/"2"` {
			t.Fatalf("no-op deactivation wrote: %s", r.Raw)
		}
		if after, _ := events(t, h); len(after) != len(before) {
			t.Fatalf("no-op deactivation emitted events: %v", after[len(before):])
		}

		h.req("DELETE", "/Users/"+b, nil).must(t, 204)
		if st, body := access(t, h, host, b); st != 200 || body["reason"] != "deleted" {
			t.Fatalf("access of a deleted user: %d %v", st, body)
		}
		if st, body := access(t, h, host, "01a2f0f0-0000-7000-8000-000000000000"); st != 200 || body["reason"] != "unknown" {
			t.Fatalf("access of an unknown user: %d %v", st, body)
		}
		// Tokens work only on their own API.
		if st, _ := access(t, h, h.token, a); st != http.StatusUnauthorized {
			t.Fatalf("SCIM token on the host API: %d", st)
		}
		h.req("GET", "/Users", nil, "Authorization", "Bearer "+host).scimError(t, 401, "")

		types, payloads := events(t, h)
		want := []string{"user.created", "user.created", "user.created", "user.deactivated", "user.deactivated",
			"user.reactivated", "user.reactivated", "user.deleted"}
		if strings.Join(types, ",") != strings.Join(want, ",") {
			t.Fatalf("events %v, want %v", types, want)
		}
		if p := payloads[3]; !p.RevokeSessions || !p.DisableAutomations || !p.SeatFreed || p.Active {
			t.Fatalf("deactivation payload %+v", p)
		}
		if p := payloads[5]; !p.ReissueCertificates || !p.Active {
			t.Fatalf("reactivation payload %+v", p)
		}
		if p := payloads[7]; !p.RemoveSharing || !p.DataErased || !p.RevokeSessions || p.State != "deleted" {
			t.Fatalf("deletion payload %+v", p)
		}
	})
}

func TestReactivationWindowOverHTTP(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, clock := lifecycleHarness(t, s, "smartsheet")
		id := createUser(t, h, "r@acme.test", "r@acme.test", "")
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"active","value":false}]}`).must(t, 200)
		clock.advance(7*24*time.Hour - time.Minute)
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"active","value":true}]}`).must(t, 200)
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"active","value":false}]}`).must(t, 200)
		clock.advance(7*24*time.Hour + time.Minute)
		r := h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","value":{"active":true}}]}`)
		refusal(t, r, 403, "policy.reactivation_window")
		if !strings.Contains(gets(r.Body, "detail"), "delete the user and provision it again") {
			t.Fatalf("no remedy: %s", r.Raw)
		}
		// Smartsheet blocks consumer domains too.
		g := createUser(t, h, "g@gmail.com", "g@gmail.com", "")
		refusal(t, h.req("PATCH", "/Users/"+g, patchOp+`{"op":"replace","path":"active","value":false}]}`), 403, "policy.consumer_domain")
	})
}

func TestRolesOverHTTP(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, _ := lifecycleHarness(t, s, "")
		owner := createUser(t, h, "owner@acme.test", "owner@acme.test", "owner")
		refusal(t, h.req("POST", "/Users", map[string]any{"userName": "o2@acme.test",
			"roles": []any{map[string]any{"value": "owner", "primary": true}}}), 403, "policy.single_owner")
		refusal(t, h.req("DELETE", "/Users/"+owner, nil), 403, "policy.owner_delete")
		refusal(t, h.req("PATCH", "/Users/"+owner, patchOp+`{"op":"replace","path":"roles","value":[{"value":"admin","primary":true}]}]}`), 403, "policy.owner_demote")

		admin := createUser(t, h, "admin@acme.test", "admin@acme.test", "admin")
		secret, _ := ownedToken(t, h, "admin@acme.test")
		// A PUT without roles keeps the admin an admin.
		r := h.req("PUT", "/Users/"+admin, map[string]any{"userName": "admin@acme.test", "active": true}).must(t, 200)
		if gets(r.Body, "roles.0.value") != "admin" {
			t.Fatalf("PUT without roles changed the role: %s", r.Raw)
		}
		refusal(t, h.req("PATCH", "/Users/"+admin, patchOp+`{"op":"replace","path":"roles","value":[{"value":"member"}]}]}`), 403, "policy.token_owner")
		// No one deactivates or deletes themselves through their own token.
		refusal(t, h.req("PATCH", "/Users/"+admin, patchOp+`{"op":"replace","path":"active","value":false}]}`, "Authorization", "Bearer "+secret), 403, "policy.self")
		refusal(t, h.req("DELETE", "/Users/"+admin, nil, "Authorization", "Bearer "+secret), 403, "policy.self")
		// Ownership moves by transfer, and the old owner becomes an admin.
		if _, err := h.svc.TransferOwnership(context.Background(), provision.Actor{TenantID: h.tenantID, Name: "test"}, "admin@acme.test"); err != nil {
			t.Fatal(err)
		}
		if r := h.req("GET", "/Users/"+owner, nil).must(t, 200); gets(r.Body, "roles.0.value") != "admin" {
			t.Fatalf("old owner: %s", r.Raw)
		}
		h.req("DELETE", "/Users/"+owner, nil).must(t, 204)
	})
}

func TestDeletionAndRestoreOverHTTP(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, _ := lifecycleHarness(t, s, "monday")
		id := createUser(t, h, "m@acme.test", "m@acme.test", "")
		gid := gets(h.req("POST", "/Groups", map[string]any{"displayName": "Ops", "members": []any{map[string]any{"value": id}}}).must(t, 201).Body, "id")
		if r := h.req("GET", "/Groups/"+gid, nil).must(t, 200); gets(r.Body, "members.0.value") != id {
			t.Fatalf("member missing before the delete: %s", r.Raw)
		}
		refusal(t, h.req("DELETE", "/Users/"+id, nil), 403, "policy.deactivate_first")
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"active","value":false}]}`).must(t, 200)
		h.req("DELETE", "/Users/"+id, nil).must(t, 204)
		h.req("GET", "/Users/"+id, nil).scimError(t, 404, "")
		if r := h.req("GET", "/Groups/"+gid, nil).must(t, 200); get(r.Body, "members.0") != nil {
			t.Fatalf("deleted user still a member: %s", r.Raw)
		}
		tomb, err := s.GetTombstone(context.Background(), h.tenantID, id)
		if err != nil || !tomb.Erased || tomb.UserName != "" || len(tomb.Emails) != 0 {
			t.Fatalf("tombstone under erase: %+v %v", tomb, err)
		}
		// The userName is free again (monday does not reserve it).
		createUser(t, h, "m@acme.test", "m@acme.test", "")
	})
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, _ := lifecycleHarness(t, s, "hubble")
		refusal(t, h.req("POST", "/Users", map[string]any{"userName": "no"}), 403, "policy.username_pattern")
		id := createUser(t, h, "hana_k", "hana@acme.test", "admin")
		refusal(t, h.req("POST", "/Users", map[string]any{"userName": "other_user",
			"emails": []any{map[string]any{"value": "HANA@acme.test"}}}), 409, "policy.unique_email")
		refusal(t, h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"active","value":false}]}`), 403, "policy.protected_admin")
		gid := gets(h.req("POST", "/Groups", map[string]any{"displayName": "Ops", "members": []any{map[string]any{"value": id}}}).must(t, 201).Body, "id")
		h.req("DELETE", "/Users/"+id, nil).must(t, 204)
		// The userName stays reserved for anyone else.
		refusal(t, h.req("POST", "/Users", map[string]any{"userName": "HANA_K", "emails": []any{map[string]any{"value": "new@acme.test"}}}), 409, "policy.username_reserved")
		// Re-creating with the same email restores the user: same id and
		// role, no group memberships.
		r := h.req("POST", "/Users", map[string]any{"userName": "hana_k", "emails": []any{map[string]any{"value": "hana@acme.test", "primary": true}}}).must(t, 201)
		if gets(r.Body, "id") != id || gets(r.Body, "roles.0.value") != "admin" || r.Body["groups"] != nil {
			t.Fatalf("restore: %s", r.Raw)
		}
		if g := h.req("GET", "/Groups/"+gid, nil).must(t, 200); get(g.Body, "members.0") != nil {
			t.Fatalf("restored user got its memberships back: %s", g.Raw)
		}
		types, _ := events(t, h)
		if types[len(types)-1] != "user.restored" {
			t.Fatalf("events %v", types)
		}
	})
}
