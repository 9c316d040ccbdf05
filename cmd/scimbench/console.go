package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// consoleAdmin is the admin of the bench tenant the console phase signs
// in as; it is created on first use and kept.
const consoleAdmin = "bench-console-admin"

// consoleCookie is the console's session cookie.
const consoleCookie = "scimd_console"

// consoleActor is who issues the console sign-in link and creates the
// admin, in the audit trail.
var consoleActor = provision.Actor{Name: "scimbench"}

// consoleOps are the console requests the console phase picks from at
// random; each is a row "console/<op>".
var consoleOps = []string{"users", "walk", "search", "inactive", "user"}

var (
	usersTable = []byte(`<table class="users">`)
	nextLinkRE = regexp.MustCompile(`<a\s[^>]*\brel="next"[^>]*>`)
	csrfRE     = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	hrefRE     = regexp.MustCompile(`\bhref="([^"]*)"`)
)

// consoleWalk is one worker's place in the console-walk operation: the
// next page to fetch ("" for the first) and its depth (1 for the first).
type consoleWalk struct {
	next  string
	depth int
}

// consolePhase measures the admin console's user-management screens over
// HTTP, signed in as the bench tenant's admin: the first users page, a
// walk of the pages sorted by lastModified that goes deeper with every
// request of a worker, a search, the inactive filter and one user's page.
func (b *bench) consolePhase(ctx context.Context, name string, conc int) []Row {
	fail := func(err error) []Row {
		return []Row{{Phase: name, Class: phaseClass(name), Concurrency: conc, Errors: 1,
			ErrorSamples: []string{"signing in to the console: " + err.Error()}}}
	}
	c, err := b.consoleSignIn(ctx, conc)
	if err != nil {
		return fail(err)
	}
	defer c.close()
	defer consoleSignOut(context.WithoutCancel(ctx), c)

	walks := make([]consoleWalk, conc) // walks[w.id] is touched by worker w only
	var deepest, restarts atomic.Int64
	setup := func(w *worker) { walks[w.id] = consoleWalk{depth: 1} }
	rows := b.timed(ctx, name, conc, setup, func(ctx context.Context, w *worker) (string, int, error) {
		op := consoleOps[w.rng.IntN(len(consoleOps))]
		var path string
		var u poolUser
		switch op {
		case "users":
			path = "/admin/users"
		case "walk":
			path = walks[w.id].next
			if path == "" {
				path = "/admin/users?sort=lastModified"
			}
		case "search":
			u = b.pool[w.rng.IntN(len(b.pool))]
			path = "/admin/users?q=" + url.QueryEscape(firstChars(u.userName, 6))
		case "inactive":
			path = "/admin/users?status=inactive"
		case "user":
			u = b.pool[w.rng.IntN(len(b.pool))]
			path = "/admin/users/" + url.PathEscape(u.id)
		}
		st, body, err := c.do(ctx, &w.buf, "GET", path, nil)
		switch {
		case err != nil:
			return op, 0, err
		case st != http.StatusOK:
			return op, 0, statusError("GET", path, st, body)
		case op == "user":
			if !containsHTML(body, u.userName) {
				return op, 0, fmt.Errorf("GET %s: the page does not show %s", path, u.userName)
			}
			return op, 0, nil
		case !bytes.Contains(body, usersTable):
			return op, 0, fmt.Errorf("GET %s: no users table in the page", path)
		}
		if op == "walk" {
			wk := &walks[w.id]
			for d := int64(wk.depth); ; {
				cur := deepest.Load()
				if d <= cur || deepest.CompareAndSwap(cur, d) {
					break
				}
			}
			if next := nextHref(body); next != "" {
				wk.next, wk.depth = next, wk.depth+1
			} else {
				wk.next, wk.depth = "", 1
				restarts.Add(1)
			}
		}
		return op, 0, nil
	})
	for i := range rows {
		if rows[i].Phase == name+"/walk" {
			rows[i].Note = fmt.Sprintf("deepest page %d (%d rows a page, sort=lastModified); %d walks reached the last page",
				deepest.Load(), console.DefaultPageSize, restarts.Load())
		}
	}
	return rows
}

// consoleSignIn makes sure the bench tenant has an active admin, issues
// a sign-in link for it, signs in, and returns a client to the server's
// origin that sends the session cookie and follows no redirects.
func (b *bench) consoleSignIn(ctx context.Context, conc int) (*client, error) {
	svc := provision.New(b.db, nil, nil)
	if err := ensureConsoleAdmin(ctx, b.db, svc, b.tenantID); err != nil {
		return nil, err
	}
	origin := strings.TrimSuffix(strings.TrimRight(b.scim.base, "/"), "/scim/v2")
	link, err := console.IssueLoginLink(ctx, b.db, svc, consoleActor, b.cfg.tenant, consoleAdmin, origin, time.Now())
	if err != nil {
		return nil, fmt.Errorf("issuing a sign-in link: %w", err)
	}
	_, secret, ok := strings.Cut(link, "#")
	if !ok || secret == "" {
		return nil, fmt.Errorf("sign-in link %q has no secret", strings.SplitN(link, "#", 2)[0]+"#…")
	}
	c := newClient(origin, "", conc, b.cfg.timeout)
	c.accept = "text/html"
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, "POST", origin+console.Prefix+"/login",
		strings.NewReader(url.Values{"token": {secret}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == consoleCookie && ck.Value != "" {
			c.cookie = (&http.Cookie{Name: ck.Name, Value: ck.Value}).String()
			return c, nil
		}
	}
	return nil, statusError("POST", console.Prefix+"/login", resp.StatusCode, body.Bytes())
}

// consoleSignOut ends the phase's session (its row is deleted), best
// effort: the CSRF token of the users page, then POST /admin/logout.
func consoleSignOut(ctx context.Context, c *client) {
	var buf bytes.Buffer
	st, body, err := c.do(ctx, &buf, "GET", console.Prefix+"/users?count=1", nil)
	if err != nil || st != http.StatusOK {
		return
	}
	m := csrfRE.FindSubmatch(body)
	if m == nil {
		return
	}
	form := url.Values{"csrf": {html.UnescapeString(string(m[1]))}}.Encode()
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+console.Prefix+"/logout", strings.NewReader(form))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", c.cookie)
	if resp, err := c.hc.Do(req); err == nil {
		resp.Body.Close()
	}
}

// ensureConsoleAdmin creates the bench tenant's console admin through the
// provision service, or makes the existing one an active admin again.
func ensureConsoleAdmin(ctx context.Context, s store.Store, svc *provision.Service, tenantID string) error {
	a := consoleActor
	a.TenantID = tenantID
	u, err := s.GetUserByUserName(ctx, tenantID, consoleAdmin)
	switch {
	case errors.Is(err, store.ErrNotFound):
		doc := `{"userName":"` + consoleAdmin + `","displayName":"Bench Console Admin"}`
		_, err = svc.CreateUser(ctx, a, store.User{UserName: consoleAdmin, DisplayName: "Bench Console Admin",
			Active: true, Role: store.RoleAdmin, Doc: []byte(doc)})
		if err != nil {
			return fmt.Errorf("creating the console admin %s: %w", consoleAdmin, err)
		}
		return nil
	case err != nil:
		return err
	case console.MayUseConsole(&u):
		return nil
	}
	_, err = svc.UpdateUser(ctx, a, u.ID, nil, "user.update", func(u *store.User) error {
		u.Active = true
		if u.Role != store.RoleOwner {
			u.Role = store.RoleAdmin
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("making %s an active admin again: %w", consoleAdmin, err)
	}
	return nil
}

// nextHref is the HTML-unescaped href of a page's rel="next" link, "" when
// it has none.
func nextHref(body []byte) string {
	tag := nextLinkRE.Find(body)
	if tag == nil {
		return ""
	}
	m := hrefRE.FindSubmatch(tag)
	if m == nil {
		return ""
	}
	return html.UnescapeString(string(m[1]))
}

// containsHTML reports whether an HTML page shows the text s, escaped as
// html/template escapes text.
func containsHTML(body []byte, s string) bool {
	if bytes.Contains(body, []byte(s)) {
		return true
	}
	// html/template's text escaper also writes "+" as "&#43;", which
	// template.HTMLEscapeString does not.
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
	return bytes.Contains(body, []byte(esc))
}

// firstChars is the first n characters of s.
func firstChars(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
