package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminLoginURL signs in to a running server's console with the link
// `scimd admin login-url` prints.
func TestAdminLoginURL(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "scimd.db")
	base, stderr, stop := serve(t, db)
	defer stop()
	m := bootstrapToken.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no bootstrap token:\n%s", stderr.String())
	}
	for name, role := range map[string]string{"root@acme.test": "admin", "pat@acme.test": "member"} {
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `","roles":[{"value":"` + role + `","primary":true}]}`
		req, _ := http.NewRequest("POST", base+"/Users", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+m[1])
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("create %s: %d", name, res.StatusCode)
		}
	}
	origin := strings.TrimSuffix(base, "/scim/v2")
	link := strings.TrimSpace(mustCLI(t, db, "admin", "login-url", "--tenant", "default", "--user", "root@acme.test", "--url", origin))
	u, err := url.Parse(link)
	if err != nil || u.Path != "/admin/login" || u.Fragment == "" || !strings.HasPrefix(link, origin) {
		t.Fatalf("link %q", link)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signIn := func() *http.Response {
		res, err := noRedirect.PostForm(origin+"/admin/login", url.Values{"token": {u.Fragment}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := signIn(); res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Set-Cookie"), "scimd_console=") {
		t.Fatalf("sign-in: %d %q", res.StatusCode, res.Header.Get("Set-Cookie"))
	}
	if res := signIn(); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("second sign-in with the link: %d", res.StatusCode)
	}
	// Members, unknown users and missing flags get an error, not a link.
	for _, args := range [][]string{
		{"--tenant", "default", "--user", "pat@acme.test"},
		{"--tenant", "default", "--user", "nobody@acme.test"},
		{"--tenant", "nope", "--user", "root@acme.test"},
		{"--tenant", "default"},
	} {
		out, _, err := cli(t, db, append([]string{"admin", "login-url"}, args...)...)
		if err == nil || strings.Contains(out, "/admin/login") {
			t.Errorf("login-url %v: %v %q", args, err, out)
		}
	}
	// The audit trail records the link.
	if out := mustCLI(t, db, "audit", "--tenant", "default", "--user", "root@acme.test"); !strings.Contains(out, "console.login_link") || !strings.Contains(out, "console.signin") {
		t.Errorf("audit:\n%s", out)
	}
}
