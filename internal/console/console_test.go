package console_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a real scimd handler over a real store with two tenants:
// acme (admin alice, owner olga, members) and beta (admin bob, member
// zed).
type fixture struct {
	t     *testing.T
	store store.Store
	svc   *provision.Service
	clock *clock
	srv   *httptest.Server
	ids   map[string]string // "tenant/userName" → id
	ten   map[string]string // tenant name → id
}

func newFixture(t *testing.T, s store.Store) *fixture {
	t.Helper()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	f := &fixture{t: t, store: s, svc: provision.New(s, c.now, nil), clock: c, ids: map[string]string{}, ten: map[string]string{}}
	f.srv = httptest.NewServer(scim.NewServer(scim.Config{Store: s, Provision: f.svc, Now: c.now}))
	t.Cleanup(f.srv.Close)
	f.tenant("acme",
		user{"alice", "Alice Admin", "alice@acme.test", store.RoleAdmin, true},
		user{"olga", "Olga Owner", "olga@acme.test", store.RoleOwner, true},
		user{"carol", "Carol Chan", "carol@acme.test", store.RoleMember, true},
		user{"dave", "Dave Doe", "dave@acme.test", store.RoleMember, true},
		user{"erin", "Erin Ito", "erin@acme.test", store.RoleMember, true},
		user{"frank", "Frank Fox", "frank@acme.test", store.RoleViewer, false},
		user{"gina", "Gina Gmail", "gina@gmail.com", store.RoleMember, true},
		user{"mia", "Mia Member", "mia@acme.test", store.RoleMember, true},
	)
	f.tenant("beta",
		user{"bob", "Bob Beta", "bob@beta.test", store.RoleAdmin, true},
		user{"zed", "Zed Beta", "zed@beta.test", store.RoleMember, true},
	)
	return f
}

type user struct {
	name, display, email, role string
	active                     bool
}

func (f *fixture) tenant(name string, users ...user) {
	f.t.Helper()
	ctx := context.Background()
	a := provision.Actor{Name: "test"}
	ten, err := f.svc.CreateTenant(ctx, a, name)
	if err != nil {
		f.t.Fatal(err)
	}
	f.ten[name] = ten.ID
	a.TenantID = ten.ID
	for _, u := range users {
		doc := fmt.Sprintf(`{"userName":%q,"displayName":%q,"emails":[{"value":%q,"type":"work","primary":true}]}`, u.name, u.display, u.email)
		su := store.User{UserName: u.name, DisplayName: u.display, Active: u.active, Role: u.role, Doc: []byte(doc),
			Emails: []store.Email{{Value: u.email, Type: "work", Primary: true}}}
		got, err := f.svc.CreateUser(ctx, a, su)
		if err != nil {
			f.t.Fatalf("create %s: %v", u.name, err)
		}
		f.ids[name+"/"+u.name] = got.ID
	}
}

// browser is an HTTP client with a cookie jar, signed in or not.
type browser struct {
	f    *fixture
	c    *http.Client
	lang string
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) page {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.f.srv.URL+path, body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func (b *browser) get(path string) page { b.f.t.Helper(); return b.do(http.MethodGet, path, nil) }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post sends a form with the CSRF token of the page at from.
func (b *browser) post(from, path string, form url.Values) page {
	b.f.t.Helper()
	p := b.get(from)
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		b.f.t.Fatalf("no CSRF token on %s (status %d)", from, p.status)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", html.UnescapeString(m[1]))
	return b.do(http.MethodPost, path, form)
}

// link issues a sign-in link for tenant/userName.
func (f *fixture) link(tenant, userName string) string {
	f.t.Helper()
	l, err := console.IssueLoginLink(context.Background(), f.store, f.svc, provision.Actor{Name: "cli"}, tenant, userName, f.srv.URL, f.clock.now())
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

// signIn follows a sign-in link as a browser does.
func (b *browser) signIn(link string) page {
	b.f.t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Fragment == "" || u.Path != "/admin/login" {
		b.f.t.Fatalf("link %q: want …/admin/login#secret", link)
	}
	if p := b.get(u.Path); p.status != http.StatusOK || !strings.Contains(p.body, `id="login-form"`) {
		b.f.t.Fatalf("login page: %d", p.status)
	}
	return b.do(http.MethodPost, "/admin/login", url.Values{"token": {u.Fragment}})
}

func (b *browser) admin(tenant, userName string) *browser {
	b.f.t.Helper()
	if p := b.signIn(b.f.link(tenant, userName)); p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/users" {
		b.f.t.Fatalf("sign-in: %d %s", p.status, p.body)
	}
	return b
}

func (f *fixture) user(tenant, name string) store.User {
	f.t.Helper()
	u, err := f.store.GetUser(context.Background(), f.ten[tenant], f.ids[tenant+"/"+name])
	if err != nil {
		f.t.Fatalf("%s/%s: %v", tenant, name, err)
	}
	return u
}

func TestSignInAndOut(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		b := f.browser()
		if p := b.get("/admin/users"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/login" {
			t.Fatalf("signed out users page: %d %s", p.status, p.header.Get("Location"))
		}
		link := f.link("acme", "alice")
		p := b.signIn(link)
		if p.status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", p.status)
		}
		ck := p.header.Get("Set-Cookie")
		for _, want := range []string{"scimd_console=", "HttpOnly", "SameSite=Strict", "Path=/admin"} {
			if !strings.Contains(ck, want) {
				t.Errorf("Set-Cookie %q lacks %s", ck, want)
			}
		}
		if p := b.get("/admin/users"); p.status != http.StatusOK || !strings.Contains(p.body, "Carol Chan") || strings.Contains(p.body, "Zed Beta") {
			t.Fatalf("users page: %d", p.status)
		}
		// A link works once.
		if p := f.browser().signIn(link); p.status != http.StatusUnauthorized {
			t.Errorf("second use of a link: %d", p.status)
		}
		// Signing out ends the session: the old cookie is refused.
		session := sessionCookie(t, b)
		if p := b.post("/admin/users", "/admin/logout", nil); p.status != http.StatusOK {
			t.Fatalf("sign-out: %d", p.status)
		}
		old := f.browser()
		old.c.Jar.SetCookies(mustURL(f.srv.URL+"/admin"), []*http.Cookie{session})
		if p := old.get("/admin/users"); p.status != http.StatusSeeOther {
			t.Errorf("cookie after sign-out: %d", p.status)
		}
		if p := old.do(http.MethodPost, "/admin/users/"+f.ids["acme/carol"]+"/deactivate", url.Values{"csrf": {"x"}}); p.status != http.StatusUnauthorized {
			t.Errorf("post with a signed-out cookie: %d", p.status)
		}
		if !f.user("acme", "carol").Active {
			t.Error("a signed-out post changed a user")
		}
		// Sign-in, sign-in link and sign-out are audited.
		entries, err := s.QueryAudit(context.Background(), store.AuditQuery{TenantID: f.ten["acme"], ResourceID: f.ids["acme/alice"], Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, e := range entries {
			ops = append(ops, e.Operation)
		}
		if got := strings.Join(ops, ","); !strings.Contains(got, "console.signout,console.signin,console.login_link") {
			t.Errorf("audit of alice: %s", got)
		}
	})
}

func sessionCookie(t *testing.T, b *browser) *http.Cookie {
	t.Helper()
	for _, c := range b.c.Jar.Cookies(mustURL(b.f.srv.URL + "/admin/users")) {
		if c.Name == "scimd_console" {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestLoginLinks(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		ctx := context.Background()
		for _, tc := range []struct {
			tenant, user string
			want         error
		}{
			{"acme", "carol", console.ErrNotAdmin}, // a member
			{"acme", "nobody", store.ErrNotFound},  // no such user
			{"gamma", "alice", store.ErrNotFound},  // no such tenant
			{"beta", "alice", store.ErrNotFound},   // another tenant's admin
			{"acme", "olga", nil},                  // the owner
		} {
			_, err := console.IssueLoginLink(ctx, s, f.svc, provision.Actor{Name: "cli"}, tc.tenant, tc.user, f.srv.URL, f.clock.now())
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Errorf("%s/%s: %v, want %v", tc.tenant, tc.user, err, tc.want)
			}
		}
		// An expired link does not work.
		link := f.link("acme", "alice")
		f.clock.add(console.LoginLinkTTL + time.Second)
		if p := f.browser().signIn(link); p.status != http.StatusUnauthorized {
			t.Errorf("expired link: %d", p.status)
		}
		// A link of an admin deactivated since does not work, and an
		// admin deactivated while signed in loses the session.
		b := f.browser().admin("acme", "alice")
		link = f.link("acme", "olga")
		if _, err := f.svc.UpdateUser(ctx, provision.Actor{TenantID: f.ten["acme"], Name: "test"}, f.ids["acme/alice"], nil, "user.patch",
			func(u *store.User) error { u.Active = false; return nil }); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/admin/users"); p.status != http.StatusSeeOther {
			t.Errorf("session of a deactivated admin: %d", p.status)
		}
		if _, err := f.svc.UpdateUser(ctx, provision.Actor{TenantID: f.ten["acme"], Name: "test"}, f.ids["acme/olga"], nil, "user.patch",
			func(u *store.User) error { u.Role = store.RoleMember; return nil }); err == nil {
			// (the policy may refuse demoting the owner; either way the link
			// below must follow the user's current role)
			if p := f.browser().signIn(link); p.status != http.StatusUnauthorized {
				t.Errorf("link of a demoted owner: %d", p.status)
			}
		}
		// Sessions expire.
		b = f.browser().admin("acme", "olga")
		f.clock.add(console.DefaultSessionTTL + time.Second)
		if p := b.get("/admin/users"); p.status != http.StatusSeeOther {
			t.Errorf("expired session: %d", p.status)
		}
		// The next sign-in clears the expired links and sessions.
		f.browser().admin("acme", "olga")
		if n, err := s.PurgeConsoleSecrets(ctx, f.clock.now()); err != nil || n != 0 {
			t.Errorf("expired secrets left after a sign-in: %d %v", n, err)
		}
		// A garbage token is refused without a 500.
		if p := f.browser().do(http.MethodPost, "/admin/login", url.Values{"token": {"\x00garbage"}}); p.status != http.StatusUnauthorized {
			t.Errorf("garbage token: %d", p.status)
		}
	})
}

func TestCSRF(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		b := f.browser().admin("acme", "alice")
		carol := f.ids["acme/carol"]
		for name, form := range map[string]url.Values{
			"no token":    {},
			"wrong token": {"csrf": {"AAAA"}},
		} {
			if p := b.do(http.MethodPost, "/admin/users/"+carol+"/deactivate", form); p.status != http.StatusForbidden {
				t.Errorf("%s: %d", name, p.status)
			}
		}
		// The right token from another site is refused too.
		tok := csrfRE.FindStringSubmatch(b.get("/admin/users").body)[1]
		form := url.Values{"csrf": {html.UnescapeString(tok)}}
		if p := b.do(http.MethodPost, "/admin/users/"+carol+"/deactivate", form, "Origin", "https://evil.example"); p.status != http.StatusForbidden {
			t.Errorf("cross-origin post: %d", p.status)
		}
		if p := b.do(http.MethodPost, "/admin/users/"+carol+"/deactivate", form, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("cross-site post: %d", p.status)
		}
		if !f.user("acme", "carol").Active {
			t.Fatal("a refused post deactivated carol")
		}
		// Another session's token does not work for this one.
		other := f.browser().admin("acme", "olga")
		otok := csrfRE.FindStringSubmatch(other.get("/admin/users").body)[1]
		if otok == tok {
			t.Fatal("two sessions share a CSRF token")
		}
		if p := b.do(http.MethodPost, "/admin/users/"+carol+"/deactivate", url.Values{"csrf": {html.UnescapeString(otok)}}); p.status != http.StatusForbidden {
			t.Errorf("another session's token: %d", p.status)
		}
		// With its own token the same post works.
		if p := b.do(http.MethodPost, "/admin/users/"+carol+"/deactivate", form); p.status != http.StatusSeeOther {
			t.Errorf("good post: %d", p.status)
		}
		if f.user("acme", "carol").Active {
			t.Error("carol still active")
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		b := f.browser().admin("acme", "alice")
		zed := f.ids["beta/zed"]
		missing := "01900000-0000-7000-8000-000000000000"
		// A user of beta and an id that exists nowhere get the same answer.
		for _, id := range []string{zed, missing} {
			for _, path := range []string{"/admin/users/" + id, "/admin/users/" + id + "/delete"} {
				p := b.get(path)
				if p.status != http.StatusNotFound || strings.Contains(p.body, "Zed") {
					t.Errorf("GET %s: %d", path, p.status)
				}
			}
			for _, action := range []string{"deactivate", "delete", "role"} {
				p := b.post("/admin/users", "/admin/users/"+id+"/"+action, url.Values{"confirm": {"yes"}, "role": {"guest"}})
				if p.status != http.StatusNotFound {
					t.Errorf("POST %s on %s: %d", action, id, p.status)
				}
			}
			p := b.post("/admin/users", "/admin/users/batch", url.Values{"id": {id}, "action": {"deactivate"}})
			if p.status != http.StatusOK || strings.Contains(p.body, `class="ok"`) {
				t.Errorf("batch on %s: %d", id, p.status)
			}
		}
		if u := f.user("beta", "zed"); !u.Active || u.Role != store.RoleMember {
			t.Fatal("acme's session changed beta's user")
		}
		// Listing and search never show beta's users.
		if p := b.get("/admin/users?q=zed"); strings.Contains(p.body, "Zed Beta") {
			t.Error("search shows another tenant's user")
		}
		// beta's tokens cannot be revoked from acme.
		_, tok, err := f.svc.CreateToken(context.Background(), provision.Actor{Name: "test"}, provision.TokenSpec{TenantID: f.ten["beta"]})
		if err != nil {
			t.Fatal(err)
		}
		if p := b.post("/admin/tenant", "/admin/tenant/tokens/"+tok.ID+"/revoke", nil); p.status != http.StatusNotFound {
			t.Errorf("revoke beta's token: %d", p.status)
		}
		toks, _ := s.ListTokens(context.Background(), f.ten["beta"])
		if len(toks) != 1 || toks[0].Revoked != nil {
			t.Error("beta's token was revoked")
		}
		if p := b.get("/admin/tenant"); strings.Contains(p.body, tok.ID) {
			t.Error("tenant page shows beta's token")
		}
	})
}

// names returns the user names of a users page's table, in order.
var rowRE = regexp.MustCompile(`<td><a href="/admin/users/([0-9a-f-]+)">([^<]*)</a>`)

func names(body string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[2]))
	}
	return out
}

func TestUsersView(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		b := f.browser().admin("acme", "alice")
		ctx := context.Background()
		if err := f.svc.DeleteUser(ctx, provision.Actor{TenantID: f.ten["acme"], Name: "test"}, f.ids["acme/mia"], nil); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			query string
			want  string
		}{
			{"", "Alice Admin,Carol Chan,Dave Doe,Erin Ito,Frank Fox,Gina Gmail,Olga Owner"},
			{"q=car", "Carol Chan"},             // userName prefix
			{"q=Dave", "Dave Doe"},              // display name, any case
			{"q=gina%40gmail", "Gina Gmail"},    // email prefix
			{"q=Ito", ""},                       // prefixes only: "Erin Ito" does not start with it
			{"status=inactive", "Frank Fox"},    // the inactive filter
			{"status=deleted", "(erased user)"}, // mia, erased by default
			{"role=admin", "Alice Admin"},       // role
			{"role=member&status=active", "Carol Chan,Dave Doe,Erin Ito,Gina Gmail"},
			{"sort=name&order=desc", "Olga Owner,Gina Gmail,Frank Fox,Erin Ito,Dave Doe,Carol Chan,Alice Admin"},
			{"sort=userName", "Alice Admin,Carol Chan,Dave Doe,Erin Ito,Frank Fox,Gina Gmail,Olga Owner"},
		} {
			p := b.get("/admin/users?" + tc.query)
			if p.status != http.StatusOK {
				t.Errorf("%s: %d", tc.query, p.status)
				continue
			}
			if got := strings.Join(names(p.body), ","); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.query, got, tc.want)
			}
		}
		// Bad views are a 400 with the page, never a 500.
		for _, q := range []string{"status=gone", "role=king", "sort=height", "order=up", "count=0", "count=201", "after=!!!", "after=eyJ0IjoieCJ9", "q=" + strings.Repeat("x", 201), "q=a"} {
			if p := b.get("/admin/users?" + q); p.status != http.StatusBadRequest {
				t.Errorf("%s: %d", q, p.status)
			}
		}
		// Paging by the next links visits every user once, in order.
		var walked []string
		next := "/admin/users?count=2&sort=lastModified"
		for i := 0; next != "" && i < 10; i++ {
			p := b.get(next)
			walked = append(walked, names(p.body)...)
			next = ""
			if m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(p.body); m != nil {
				next = html.UnescapeString(m[1])
			}
		}
		if len(walked) != 7 {
			t.Errorf("walk by pages of 2: %v", walked)
		}
		seen := map[string]bool{}
		for _, n := range walked {
			if seen[n] {
				t.Errorf("%s twice in the walk", n)
			}
			seen[n] = true
		}
	})
}

// TestSearchPaging walks a search whose matches come by name and by email
// only, by the next links and back by the previous links: every match
// once, in order, both ways.
func TestSearchPaging(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newFixture(t, s)
		var users []user
		var want []string
		for i := range 5 {
			users = append(users, user{fmt.Sprintf("zz-name%d", i), fmt.Sprintf("Zz Name %d", i), fmt.Sprintf("n%d@acme.test", i), store.RoleMember, true})
			users = append(users, user{fmt.Sprintf("mail%d", i), fmt.Sprintf("Mail %d", i), fmt.Sprintf("zz-mail%d@acme.test", i), store.RoleMember, i%2 == 0})
		}
		for i := range 5 {
			want = append(want, fmt.Sprintf("Mail %d", i))
		}
		for i := range 5 {
			want = append(want, fmt.Sprintf("Zz Name %d", i))
		}
		f.tenant("gamma", append(users, user{"root", "Root", "root@acme.test", store.RoleAdmin, true})...)
		b := f.browser().admin("gamma", "root")
		link := regexp.MustCompile(`href="([^"]+)" rel="(next|prev)"`)
		follow := func(body, rel string) string {
			for _, m := range link.FindAllStringSubmatch(body, -1) {
				if m[2] == rel {
					return html.UnescapeString(m[1])
				}
			}
			return ""
		}
		var walked []string
		var last string
		for next, i := "/admin/users?q=ZZ&count=3", 0; next != "" && i < 10; i++ {
			p := b.get(next)
			if p.status != http.StatusOK {
				t.Fatalf("%s: %d", next, p.status)
			}
			walked = append(walked, names(p.body)...)
			last, next = p.body, follow(p.body, "next")
		}
		if got := strings.Join(walked, ","); got != strings.Join(want, ",") {
			t.Fatalf("forward walk: %s\nwant %s", got, strings.Join(want, ","))
		}
		var back []string
		for prev, i := follow(last, "prev"), 0; prev != "" && i < 10; i++ {
			p := b.get(prev)
			back = append(names(p.body), back...)
			prev = follow(p.body, "prev")
		}
		if got := strings.Join(append(back, names(last)...), ","); got != strings.Join(want, ",") {
			t.Errorf("backward walk: %s", got)
		}
		// With a status filter too: the inactive ones only.
		if got := strings.Join(names(b.get("/admin/users?q=zz&status=inactive").body), ","); got != "Mail 1,Mail 3" {
			t.Errorf("inactive search: %s", got)
		}
	})
}
