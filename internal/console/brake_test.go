package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// TestBrakeInConsole: the console's batch deactivation goes through the
// mass-deprovisioning brake (the users past the limit are refused with
// its text), and the tenant page then says the tenant is paused and how
// to resume it, until it is resumed.
func TestBrakeInConsole(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		ctx := context.Background()
		if _, err := f.svc.SetTenantPolicy(ctx, provision.Actor{Name: "test"}, "acme", "", []string{"deprovision_brake_min=2"}); err != nil {
			t.Fatal(err)
		}
		b := f.browser().admin("acme", "alice")
		if p := b.get("/admin/tenant"); strings.Contains(p.body, `id="brake-paused"`) {
			t.Fatal("the tenant page says paused before anything happened")
		}
		ids := url.Values{"id": {f.ids["acme/carol"], f.ids["acme/dave"], f.ids["acme/erin"]}, "action": {"deactivate"}}
		p := b.post("/admin/users", "/admin/users/batch?status=active", ids)
		if p.status != http.StatusOK || strings.Count(p.body, `<tr class="ok">`) != 2 || strings.Count(p.body, `<tr class="refused">`) != 1 ||
			!strings.Contains(p.body, policy.RuleDeprovisioningPaused) {
			t.Fatalf("batch of 3 with a limit of 2: %d\n%s", p.status, p.body)
		}
		if !f.user("acme", "erin").Active {
			t.Error("the refused user was deactivated")
		}
		p = b.get("/admin/tenant")
		notice := between(p.body, `id="brake-paused"`, `</div>`)
		for _, want := range []string{"3 of them within 10 minutes exceeded the limit of 2", "<code>scimd tenant resume acme</code>"} {
			if !strings.Contains(notice, want) {
				t.Errorf("tenant page notice %q lacks %q", notice, want)
			}
		}
		if _, err := f.svc.ResumeDeprovisioning(ctx, provision.Actor{Name: "test"}, "acme"); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/admin/tenant"); strings.Contains(p.body, `id="brake-paused"`) {
			t.Error("the tenant page says paused after the resume")
		}
		erin := "/admin/users/" + f.ids["acme/erin"]
		if p := b.post(erin, erin+"/deactivate", nil); p.status != http.StatusSeeOther || f.user("acme", "erin").Active {
			t.Errorf("deactivation after the resume: %d", p.status)
		}
	})
}
