package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

func TestUserActions(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		b := f.browser().admin("acme", "alice")
		carol := f.ids["acme/carol"]
		page := "/admin/users/" + carol
		if p := b.get(page); p.status != http.StatusOK || !strings.Contains(p.body, "carol@acme.test") || !strings.Contains(p.body, `id="deactivate"`) {
			t.Fatalf("user page: %d", p.status)
		}
		// Deactivate, then reactivate: each through the provision service,
		// audited with the console as the actor.
		if p := b.post(page, page+"/deactivate", nil); p.status != http.StatusSeeOther {
			t.Fatalf("deactivate: %d %s", p.status, p.body)
		}
		u := f.user("acme", "carol")
		if u.Active || u.State != store.StateInactive || u.DeactivatedAt == nil {
			t.Fatalf("after deactivate: %+v", u)
		}
		if p := b.get(page + "?done=deactivate"); !strings.Contains(p.body, "The user was deactivated.") || !strings.Contains(p.body, "user.deactivate") {
			t.Error("user page after deactivation: no notice or timeline entry")
		}
		if p := b.post(page, page+"/reactivate", nil); p.status != http.StatusSeeOther || !f.user("acme", "carol").Active {
			t.Fatalf("reactivate: %d", p.status)
		}
		entries, err := s.QueryAudit(context.Background(), store.AuditQuery{TenantID: f.ten["acme"], ResourceID: carol, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) < 2 || entries[0].Operation != "user.reactivate" || entries[0].Actor != "console:"+f.ids["acme/alice"] {
			t.Errorf("audit: %+v", entries)
		}
		// A policy refusal is shown with the policy's own text.
		gina := "/admin/users/" + f.ids["acme/gina"]
		p := b.post(gina, gina+"/deactivate", nil)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, policy.RuleConsumerDomain) || !strings.Contains(p.body, "gmail.com") {
			t.Errorf("consumer-domain refusal: %d", p.status)
		}
		if !f.user("acme", "gina").Active {
			t.Error("refused deactivation deactivated")
		}
		// Changing a role.
		if p := b.post(page, page+"/role", url.Values{"role": {"viewer"}}); p.status != http.StatusSeeOther || f.user("acme", "carol").Role != store.RoleViewer {
			t.Errorf("role change: %d", p.status)
		}
		if p := b.post(page, page+"/role", url.Values{"role": {"owner"}}); p.status != http.StatusBadRequest || f.user("acme", "carol").Role != store.RoleViewer {
			t.Errorf("role owner: %d", p.status)
		}
		// Deleting says what it does under the tenant's policy, and needs
		// the confirmation.
		if p := b.get(page + "/delete"); !strings.Contains(p.body, "personal data is erased") || !strings.Contains(p.body, "cannot be undone") {
			t.Errorf("delete confirmation (erase policy): %s", p.body)
		}
		if _, err := f.svc.SetTenantPolicy(context.Background(), provision.Actor{Name: "test"}, "acme", "", []string{"deleted_user_data=retain", "restore_deleted_on_recreate=true"}); err != nil {
			t.Fatal(err)
		}
		if p := b.get(page + "/delete"); !strings.Contains(p.body, "retained") || strings.Contains(p.body, "cannot be undone") {
			t.Errorf("delete confirmation (retain policy)")
		}
		if p := b.post(page, page+"/delete", nil); p.status != http.StatusBadRequest {
			t.Errorf("delete without confirmation: %d", p.status)
		}
		if p := b.post(page, page+"/delete", url.Values{"confirm": {"yes"}}); p.status != http.StatusSeeOther {
			t.Fatalf("delete: %d", p.status)
		}
		if _, err := s.GetTombstone(context.Background(), f.ten["acme"], carol); err != nil {
			t.Fatalf("carol not deleted: %v", err)
		}
		if p := b.get(page); p.status != http.StatusOK || !strings.Contains(p.body, "status-deleted") || strings.Contains(p.body, `id="deactivate"`) {
			t.Errorf("deleted user's page: %d", p.status)
		}
		// Deleting the owner is refused by the policy.
		olga := "/admin/users/" + f.ids["acme/olga"]
		if p := b.post(olga, olga+"/delete", url.Values{"confirm": {"yes"}}); p.status < 400 || !strings.Contains(p.body, policy.RuleOwnerDelete) {
			t.Errorf("delete owner: %d", p.status)
		}
		// An unknown action is a 404.
		if p := b.post(page, "/admin/users/"+f.ids["acme/dave"]+"/promote", nil); p.status != http.StatusNotFound {
			t.Errorf("unknown action: %d", p.status)
		}
	})
}

func TestBatch(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		b := f.browser().admin("acme", "alice")
		ids := url.Values{"id": {f.ids["acme/carol"], f.ids["acme/dave"], f.ids["acme/erin"]}, "action": {"deactivate"}}
		p := b.post("/admin/users", "/admin/users/batch?status=active", ids)
		if p.status != http.StatusOK || strings.Count(p.body, `<tr class="ok">`) != 3 {
			t.Fatalf("batch of 3: %d", p.status)
		}
		for _, n := range []string{"carol", "dave", "erin"} {
			if f.user("acme", n).Active {
				t.Errorf("%s still active", n)
			}
		}
		// The page after the batch keeps its view (active users only).
		_, list, _ := strings.Cut(p.body, `id="batch-form"`)
		if got := strings.Join(names(list), ","); got != "Alice Admin,Gina Gmail,Mia Member,Olga Owner" {
			t.Errorf("view after batch: %v", got)
		}
		p = b.post("/admin/users", "/admin/users/batch", url.Values{"id": {f.ids["acme/erin"], f.ids["acme/dave"]}, "action": {"reactivate"}})
		if !f.user("acme", "dave").Active || !f.user("acme", "erin").Active || strings.Count(p.body, `<tr class="ok">`) != 2 {
			t.Errorf("reactivate batch: %d", p.status)
		}
		// Per-user outcomes: gina is refused by the policy.
		p = b.post("/admin/users", "/admin/users/batch", url.Values{"id": {f.ids["acme/gina"]}, "action": {"deactivate"}})
		if !strings.Contains(p.body, `<tr class="refused">`) || !strings.Contains(p.body, policy.RuleConsumerDomain) {
			t.Errorf("refused user in a batch: %s", p.body)
		}
		// Role changes.
		p = b.post("/admin/users", "/admin/users/batch", url.Values{"id": {f.ids["acme/dave"], f.ids["acme/erin"]}, "action": {"role:guest"}})
		if f.user("acme", "dave").Role != store.RoleGuest || f.user("acme", "erin").Role != store.RoleGuest {
			t.Errorf("batch role: %d", p.status)
		}
		// The signed-in admin cannot be in a batch; more than 200 users,
		// none, or an unknown action start nothing.
		var many []string
		for i := range 201 {
			many = append(many, fmt.Sprintf("01900000-0000-7000-8000-%012d", i))
		}
		for name, form := range map[string]url.Values{
			"self":     {"id": {f.ids["acme/alice"], f.ids["acme/dave"]}, "action": {"role:viewer"}},
			"201":      {"id": many, "action": {"deactivate"}},
			"none":     {"action": {"deactivate"}},
			"unknown":  {"id": {f.ids["acme/dave"]}, "action": {"role:owner"}},
			"nonsense": {"id": {f.ids["acme/dave"]}, "action": {"explode"}},
		} {
			if p := b.post("/admin/users", "/admin/users/batch", form); p.status != http.StatusBadRequest {
				t.Errorf("%s: %d", name, p.status)
			}
		}
		if u := f.user("acme", "dave"); u.Role != store.RoleGuest {
			t.Errorf("a refused batch changed dave: %s", u.Role)
		}
	})
}

func TestLastActive(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		ctx := context.Background()
		acme := f.ten["acme"]
		if f.user("acme", "dave").LastActive != nil {
			t.Fatal("new user has a last activity")
		}
		if acc, err := f.svc.CheckAccess(ctx, acme, f.ids["acme/dave"]); err != nil || !acc.Allowed {
			t.Fatal(acc, err)
		}
		first := f.user("acme", "dave").LastActive
		if first == nil || !first.Equal(f.clock.now()) {
			t.Fatalf("last active after an allowed check: %v, want %v", first, f.clock.now())
		}
		// Within the granularity nothing is written; after it, it moves.
		f.clock.add(store.ActiveGranularity / 2)
		_, _ = f.svc.CheckAccess(ctx, acme, f.ids["acme/dave"])
		if got := f.user("acme", "dave").LastActive; !got.Equal(*first) {
			t.Errorf("within the granularity: %v", got)
		}
		f.clock.add(store.ActiveGranularity)
		_, _ = f.svc.CheckAccess(ctx, acme, f.ids["acme/carol"])
		_, _ = f.svc.CheckAccess(ctx, acme, f.ids["acme/dave"])
		if got := f.user("acme", "dave").LastActive; !got.After(*first) {
			t.Errorf("after the granularity: %v", got)
		}
		// A refused check (inactive user) records nothing.
		_, _ = f.svc.CheckAccess(ctx, acme, f.ids["acme/frank"])
		if f.user("acme", "frank").LastActive != nil {
			t.Error("inactive user got a last activity")
		}
		// Recording activity is not a change.
		if v := f.user("acme", "dave").Version; v != 1 {
			t.Errorf("version after activity: %d", v)
		}
		// The users screen sorts by it: most recent first.
		b := f.browser().admin("acme", "alice")
		got := names(b.get("/admin/users?sort=lastActive").body)
		if len(got) < 2 || got[0] != "Dave Doe" || got[1] != "Carol Chan" {
			t.Errorf("sorted by last active: %v", got)
		}
	})
}

func TestLanguage(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		b := f.browser().admin("acme", "alice")
		if p := b.get("/admin/users"); !strings.Contains(p.body, `<html lang="en">`) || !strings.Contains(p.body, "Deactivated") {
			t.Error("default language is not English")
		}
		b.lang = "ja-JP,ja;q=0.9,en;q=0.8"
		if p := b.get("/admin/users"); !strings.Contains(p.body, `<html lang="ja">`) || !strings.Contains(p.body, "ユーザー") {
			t.Error("Accept-Language ja not honoured")
		}
		b.lang = "fr, en;q=0.5, ja;q=0.4"
		if p := b.get("/admin/users"); !strings.Contains(p.body, `<html lang="en">`) {
			t.Error("Accept-Language order not honoured")
		}
		// The switch wins over the browser and returns to the page.
		p := b.get("/admin/lang?l=ja&next=%2Fadmin%2Ftenant")
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/tenant" {
			t.Fatalf("switch: %d %s", p.status, p.header.Get("Location"))
		}
		if p := b.get("/admin/tenant"); !strings.Contains(p.body, `<html lang="ja">`) || !strings.Contains(p.body, "ライフサイクルポリシー") {
			t.Error("switch to Japanese not kept")
		}
		// On a page answered to a post the switch returns to the page the
		// post came from, not to the post's address.
		p = b.post("/admin/users", "/admin/users/batch?status=active", url.Values{"id": {f.ids["acme/dave"]}, "action": {"deactivate"}})
		if !strings.Contains(p.body, "next="+url.QueryEscape("/admin/users?status=active")) {
			t.Error("language switch after a batch does not return to the users view")
		}
		p = b.post("/admin/tenant", "/admin/users/"+f.ids["acme/gina"]+"/deactivate", nil)
		if !strings.Contains(p.body, "next="+url.QueryEscape("/admin/users/"+f.ids["acme/gina"])+`"`) {
			t.Error("language switch after a refusal does not return to the user's page")
		}
		// The switch never leaves the console.
		for _, next := range []string{"https://evil.example/", "//evil.example/admin/", "/scim/v2/Users", "javascript:alert(1)"} {
			if p := b.get("/admin/lang?l=en&next=" + url.QueryEscape(next)); p.header.Get("Location") != "/admin/users" {
				t.Errorf("next=%s → %s", next, p.header.Get("Location"))
			}
		}
	})
}

func TestTenantPage(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		ctx := context.Background()
		if _, err := f.svc.SetTenantPolicy(ctx, provision.Actor{Name: "test"}, "acme", "kintone", []string{"seats=10"}); err != nil {
			t.Fatal(err)
		}
		b := f.browser().admin("acme", "alice")
		p := b.get("/admin/tenant")
		for _, want := range []string{"kintone", "inactive_users_consume_seats", `<dt>Licensed</dt><dd>10</dd>`, `<dt>Used</dt><dd>7</dd>`, `<dt>Free</dt><dd>3</dd>`, "No dead deliveries."} {
			if !strings.Contains(p.body, want) {
				t.Errorf("tenant page lacks %q", want)
			}
		}
		// A token is shown once, then listed without its secret; revoking
		// it takes effect.
		p = b.post("/admin/tenant", "/admin/tenant/tokens", url.Values{"kind": {"scim"}, "owner": {"alice"}, "days": {"30"}})
		if p.status != http.StatusOK {
			t.Fatalf("create token: %d", p.status)
		}
		secret := between(p.body, `id="token-secret" readonly value="`, `"`)
		if !strings.HasPrefix(secret, "scimd_") {
			t.Fatalf("token secret not shown: %q", secret)
		}
		if strings.Contains(b.get("/admin/tenant").body, secret) {
			t.Error("the secret is shown again")
		}
		toks, err := s.ListTokens(ctx, f.ten["acme"])
		if err != nil || len(toks) != 1 || toks[0].OwnerID != f.ids["acme/alice"] || toks[0].Expires == nil {
			t.Fatalf("tokens: %+v %v", toks, err)
		}
		if p := b.post("/admin/tenant", "/admin/tenant/tokens/"+toks[0].ID+"/revoke", nil); p.status != http.StatusSeeOther {
			t.Errorf("revoke: %d", p.status)
		}
		if toks, _ = s.ListTokens(ctx, f.ten["acme"]); toks[0].Revoked == nil {
			t.Error("token not revoked")
		}
		// Bad token requests are 400s.
		for _, form := range []url.Values{{"kind": {"root"}}, {"kind": {"scim"}, "days": {"-1"}}, {"kind": {"scim"}, "owner": {"carol"}}} {
			if p := b.post("/admin/tenant", "/admin/tenant/tokens", form); p.status != http.StatusBadRequest {
				t.Errorf("token %v: %d", form, p.status)
			}
		}
		// Retrying an event with no dead delivery is a 404, not a 500.
		if p := b.post("/admin/tenant", "/admin/tenant/events/01900000-0000-7000-8000-000000000000/retry", nil); p.status != http.StatusNotFound {
			t.Errorf("retry unknown event: %d", p.status)
		}
	})
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}
