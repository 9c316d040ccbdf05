package scim

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// TestDeprovisioningBrake deactivates users of a 12-user tenant through
// SCIM (the brake is on by default, its limit there the floor of 10) until
// it trips, and checks the refusal of every destructive request shape —
// Entra's PATCH, PUT, DELETE, a /Bulk DELETE — as a SCIM 403 whose detail
// says why and how to approve, with nothing changed, and that a resume
// lets them through.
func TestDeprovisioningBrake(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		var ids []string
		for i := range 12 {
			r := h.req("POST", "/Users", map[string]any{
				"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": fmt.Sprintf("user%02d@acme.test", i), "active": true,
			}).must(t, 201)
			ids = append(ids, gets(r.Body, "id"))
		}
		entraOff := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}}}
		for _, id := range ids[:10] {
			h.req("PATCH", "/Users/"+id, entraOff).must(t, 200)
		}
		detail := h.req("PATCH", "/Users/"+ids[10], entraOff).scimError(t, 403, "")
		for _, want := range []string{"policy.deprovisioning_paused: ", "11 of them within 10 minutes", "limit of 10",
			"nothing was changed", "`scimd tenant resume acme`"} {
			if !strings.Contains(detail, want) {
				t.Errorf("detail %q lacks %q", detail, want)
			}
		}
		if active, _ := get(h.req("GET", "/Users/"+ids[10], nil).must(t, 200).Body, "active").(bool); !active {
			t.Fatal("the refused PATCH deactivated the user")
		}
		// Every destructive shape is refused the same way while paused.
		put := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "user11@acme.test", "active": false}
		if d := h.req("PUT", "/Users/"+ids[11], put).scimError(t, 403, ""); d != detail {
			t.Errorf("PUT active=false: %q, want %q", d, detail)
		}
		if d := h.req("DELETE", "/Users/"+ids[11], nil).scimError(t, 403, ""); d != detail {
			t.Errorf("DELETE: %q, want %q", d, detail)
		}
		st, out := doBulk(t, h, `{`+bulkURN+`,"Operations":[{"method":"DELETE","path":"/Users/`+ids[11]+`"}]}`)
		if st != 200 || len(out.Operations) != 1 || out.Operations[0].Status != "403" ||
			gets(out.Operations[0].Response, "detail") != detail {
			t.Errorf("bulk DELETE: %d %+v", st, out)
		}
		h.req("GET", "/Users/"+ids[11], nil).must(t, 200)
		// Creates and reactivations are not braked.
		h.req("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "late@acme.test"}).must(t, 201)
		h.req("PATCH", "/Users/"+ids[0], map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "active", "value": true}}}).must(t, 200)

		if _, err := h.svc.ResumeDeprovisioning(context.Background(), provision.Actor{Name: "test"}, "acme"); err != nil {
			t.Fatal(err)
		}
		h.req("DELETE", "/Users/"+ids[11], nil).must(t, 204)
		h.req("PATCH", "/Users/"+ids[10], entraOff).must(t, 200)
		// The refusals are audited with the rule, as other refusals are.
		entries, err := h.store.ListAudit(context.Background(), h.tenantID, "", 10000)
		if err != nil {
			t.Fatal(err)
		}
		refusals := 0
		for _, e := range entries {
			if e.Rule == "policy.deprovisioning_paused" && e.Status == 403 {
				refusals++
			}
		}
		if refusals != 4 {
			t.Errorf("%d refusals audited, want 4 (PATCH, PUT, DELETE, bulk DELETE)", refusals)
		}
		ev, err := h.store.ListEvents(context.Background(), h.tenantID, "", 10000)
		if err != nil {
			t.Fatal(err)
		}
		var paused, resumed int
		for _, e := range ev {
			switch e.Type {
			case provision.EventDeprovisioningPaused:
				paused++
			case provision.EventDeprovisioningResumed:
				resumed++
			}
		}
		if paused != 1 || resumed != 1 {
			t.Errorf("%d paused and %d resumed events, want 1 and 1", paused, resumed)
		}
		if n, err := h.store.CountUsers(context.Background(), h.tenantID, store.StateInactive); err != nil || n != 10 {
			t.Errorf("%d inactive users, %v; want 10 (9 of the first ten, and the one after the resume)", n, err)
		}
	})
}
