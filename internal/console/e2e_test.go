//go:build e2e

package console_test

// The end-to-end test of the console: a real Chromium, driven headless
// through chromedp, signs in with a link of console.IssueLoginLink and uses
// the console as an admin would (typing, clicking, the keyboard), on every
// backend. Every step checks the page and the store.
//
//	make test-e2e
//
// Environment:
//
//	SCIMD_CHROMIUM          the browser (default /usr/bin/chromium)
//	SCIMD_REQUIRE_BROWSER=1 a missing browser fails the test (CI); otherwise it skips
//	SCIMD_E2E_OUT           where the screenshots go (default e2e-out/ at the repository root)
//	TEST_DATABASE_URL, SCIMD_REQUIRE_PG   the PostgreSQL backend, as for every test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/scimd/scimd/internal/auth"
	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

const (
	// e2eStep bounds every browser step: generous, for a 2-core machine
	// running the race detector.
	e2eStep = 30 * time.Second
	// e2eWidth and e2eHeight are the window the console must fit.
	e2eWidth, e2eHeight = 1280, 800
)

func TestE2EConsole(t *testing.T) {
	exe := e2eBrowser(t)
	out := e2eOutDir(t)
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		e := newE2E(t, newFixture(t, s), exe, out)
		e.scenario()
	})
}

// e2eBrowser returns the browser to drive, skipping the test when there
// is none (failing it when SCIMD_REQUIRE_BROWSER=1).
func e2eBrowser(t *testing.T) string {
	t.Helper()
	exe := os.Getenv("SCIMD_CHROMIUM")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	p, err := exec.LookPath(exe)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("no browser at %s (%v): install Debian's chromium (apt-get install chromium) or set SCIMD_CHROMIUM to a Chromium or Chrome binary", exe, err)
	if os.Getenv("SCIMD_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + "; SCIMD_REQUIRE_BROWSER=1 makes this a failure")
	}
	t.Skip(msg + "; set SCIMD_REQUIRE_BROWSER=1 to make this a failure")
	return ""
}

// e2eOutDir is where the screenshots go: SCIMD_E2E_OUT, else e2e-out/ at
// the repository root (the test runs in internal/console).
func e2eOutDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SCIMD_E2E_OUT")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(wd, "..", "..", "e2e-out")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// e2e is one browser (one tab) on one fixture.
type e2e struct {
	t       *testing.T
	f       *fixture
	ctx     context.Context // the tab; steps derive their timeouts from it
	backend string
	out     string

	mu      sync.Mutex
	console []chromedp.ConsoleMessage // what the pages wrote to the console
}

func newE2E(t *testing.T, f *fixture, exe, out string) *e2e {
	t.Helper()
	profile, err := os.MkdirTemp("", "scimd-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers can still write into the profile for a
		// moment after the browser exits.
		for i := 0; ; i++ {
			if err = os.RemoveAll(profile); err == nil || i == 50 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Logf("profile %s left behind: %v", profile, err)
		}
	})
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(e2eWidth, e2eHeight),
	)
	t.Cleanup(cancelAlloc) // waits for the browser to exit
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first Do starts the browser; it gets a timeout of its own that
	// does not bind the browser's life (cancelling it would end the
	// browser).
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", exe, err)
		}
	case <-time.After(2 * e2eStep):
		t.Fatalf("starting %s: no answer in %s", exe, 2*e2eStep)
	}
	e := &e2e{t: t, f: f, ctx: ctx, backend: path.Base(t.Name()), out: out}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			e.mu.Lock()
			e.console = append(e.console, m)
			e.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// fail ends the test at a failed step, with a screenshot of the page.
func (e *e2e) fail(step string, err error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	shot := ""
	if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
		shot = filepath.Join(e.out, e.backend+"-FAILED.png")
		if werr := os.WriteFile(shot, png, 0o644); werr != nil {
			shot = werr.Error()
		}
	}
	e.t.Fatalf("%s: %v\n\tpage: %s\n\tscreenshot: %s", step, err, loc, shot)
}

// do runs the actions of one step.
func (e *e2e) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, e2eStep)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		e.fail(step, err)
	}
}

// load runs actions that load a page (a click on a link or a button, a
// form submitted) and checks the status of the page it ends on (after
// redirects).
func (e *e2e) load(step string, status int, actions ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, e2eStep)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		e.fail(step, err)
	}
	if res == nil {
		e.fail(step, errors.New("no page was loaded"))
	}
	if int(res.Status) != status {
		e.fail(step, fmt.Errorf("HTTP %d %s, want %d", res.Status, res.URL, status))
	}
}

// open navigates to a console path.
func (e *e2e) open(step, p string, status int) {
	e.t.Helper()
	e.load(step, status, chromedp.Navigate(e.f.srv.URL+p))
}

// e2eRun runs one action that returns a value.
func e2eRun[T any](e *e2e, step string, a chromedp.Action[T]) T {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, e2eStep)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		e.fail(step, err)
	}
	return v
}

// js evaluates a script in the page.
func js[T any](e *e2e, step, script string) T {
	e.t.Helper()
	return e2eRun(e, step, chromedp.Evaluate[T](script))
}

// text is the visible text of the first element sel matches (waiting
// for it).
func (e *e2e) text(sel string) string {
	e.t.Helper()
	return strings.TrimSpace(e2eRun(e, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// path is the path and query of the page.
func (e *e2e) path() string {
	e.t.Helper()
	loc := e2eRun(e, "location", chromedp.Location())
	return strings.TrimPrefix(loc, e.f.srv.URL)
}

// body is the text of the page.
func (e *e2e) body() string {
	e.t.Helper()
	return js[string](e, "page text", `document.body.innerText`)
}

// rows are the names in the users table, in order.
func (e *e2e) rows() []string {
	e.t.Helper()
	return js[[]string](e, "users table", `Array.from(document.querySelectorAll("table.users tbody td:nth-child(2) a")).map(a => a.textContent.trim())`)
}

// shot saves a full-page screenshot of the current page as
// <backend>-<screen>.png.
func (e *e2e) shot(screen string) {
	e.t.Helper()
	png := e2eRun(e, "screenshot "+screen, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(e.out, e.backend+"-"+screen+".png"), png, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// fits checks that the page has no horizontal scrollbar in the window.
func (e *e2e) fits(screen string) {
	e.t.Helper()
	w := js[struct {
		Scroll int `json:"scroll"`
		Client int `json:"client"`
		Inner  int `json:"inner"`
	}](e, "width of "+screen, `({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth, inner: window.innerWidth})`)
	if w.Inner != e2eWidth {
		e.t.Errorf("%s: the window is %d px wide, want %d", screen, w.Inner, e2eWidth)
	}
	if w.Scroll > e2eWidth || w.Scroll > w.Client {
		e.t.Errorf("%s: horizontal scrollbar at %d px: the page is %d px wide in %d px", screen, e2eWidth, w.Scroll, w.Client)
	}
	if bad := js[[]string](e, "labels of "+screen, unlabelledJS); len(bad) > 0 {
		e.t.Errorf("%s: form controls without an accessible name: %v", screen, bad)
	}
}

// unlabelledJS lists the visible form controls that have no accessible
// name: no label, aria-label(ledby), title or (buttons) text.
const unlabelledJS = `Array.from(document.querySelectorAll("input, select, textarea, button")).filter(c => {
	if (c.type === "hidden" || c.hidden) return false;
	if (c.getAttribute("aria-label") || c.getAttribute("aria-labelledby") || c.title) return false;
	if (c.labels && c.labels.length > 0 && Array.from(c.labels).some(l => l.textContent.trim() !== "")) return false;
	if (c.tagName === "BUTTON" && c.textContent.trim() !== "") return false;
	return true;
}).map(c => c.tagName.toLowerCase() + (c.id ? "#" + c.id : "") + (c.name ? "[name=" + c.name + "]" : ""))`

// user is the fixture's user tenant/name, read from the store.
func (e *e2e) user(tenant, name string) store.User { e.t.Helper(); return e.f.user(tenant, name) }

// focused describes document.activeElement.
type focused struct {
	Tag   string `json:"tag"`
	ID    string `json:"id"`
	Class string `json:"class"`
	Href  string `json:"href"`
	Text  string `json:"text"`
	Left  int    `json:"left"`
}

func (f focused) String() string {
	s := f.Tag
	if f.ID != "" {
		s += "#" + f.ID
	}
	if f.Class != "" {
		s += "." + strings.ReplaceAll(f.Class, " ", ".")
	}
	if f.Href != "" {
		s += "[href=" + f.Href + "]"
	}
	if f.Text != "" {
		s += "(" + f.Text + ")"
	}
	return s
}

const activeJS = `(() => {
	const a = document.activeElement;
	if (!a) return {tag: ""};
	return {tag: a.tagName.toLowerCase(), id: a.id, class: a.className || "", href: a.getAttribute("href") || "",
		text: a.matches("a, button") ? a.textContent.trim().slice(0, 40) : "", left: Math.round(a.getBoundingClientRect().left)};
})()`

func (e *e2e) scenario() {
	f, t := e.f, e.t
	ctx := context.Background()
	carol, gina, mia := f.ids["acme/carol"], f.ids["acme/gina"], f.ids["acme/mia"]

	// Sign in with the link IssueLoginLink prints: the page's script takes
	// the secret from the fragment into the form and drops it from the
	// address bar.
	e.signIn("acme", "alice", true)
	if got := e.rows(); len(got) != 8 || !slices.Contains(got, "Carol Chan") || slices.Contains(got, "Zed Beta") {
		t.Fatalf("users after sign-in: %v", got)
	}
	if got := e.text("header .who"); !strings.Contains(got, "alice") || !strings.Contains(got, "acme") {
		t.Errorf("header after sign-in: %q", got)
	}
	ck := e.sessionCookie()
	if !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteStrict || ck.Path != "/admin" {
		t.Errorf("session cookie: httpOnly %v, sameSite %q, path %q", ck.HTTPOnly, ck.SameSite, ck.Path)
	}
	if strings.Contains(js[string](e, "document.cookie", `document.cookie`), ck.Value) {
		t.Error("the session secret is readable by scripts")
	}
	if _, err := f.store.ConsoleSessionByHash(ctx, auth.Hash(ck.Value), f.clock.now()); err != nil {
		t.Fatalf("the browser's session is not in the store: %v", err)
	}
	e.fits("users")
	e.shot("users")

	// Keyboard: from the top of the page, Tab reaches the skip link first,
	// then the search field and the first user's link.
	e.keyboard()

	// Find a user by search: type a prefix, press Enter.
	e.load("search", http.StatusOK, chromedp.SendKeys(chromedp.ID("q"), "car\n"))
	if p := e.path(); !strings.Contains(p, "q=car") {
		t.Errorf("search URL: %s", p)
	}
	if got := e.rows(); !slices.Equal(got, []string{"Carol Chan"}) {
		t.Errorf("search car: %v", got)
	}
	if href := js[string](e, "result link", `document.querySelector("table.users tbody a").getAttribute("href")`); href != "/admin/users/"+carol {
		t.Errorf("search result links to %s, want carol %s", href, carol)
	}

	// The inactive filter: clear the search, choose the status, apply. The
	// URL says what is shown, so it can be shared.
	e.do("inactive filter", chromedp.Clear(chromedp.ID("q")), chromedp.SetValue(chromedp.ID("status"), "inactive"))
	e.load("inactive filter", http.StatusOK, chromedp.Click(chromedp.ID("apply")))
	shared := e.path()
	if !strings.Contains(shared, "status=inactive") || strings.Contains(shared, "q=car") {
		t.Errorf("filter URL: %s", shared)
	}
	if got := e.rows(); !slices.Equal(got, []string{"Frank Fox"}) || e.user("acme", "frank").Active {
		t.Errorf("inactive users: %v", got)
	}
	e.open("shared filter URL", "/admin/users", http.StatusOK)
	e.open("shared filter URL", shared, http.StatusOK)
	if got := e.rows(); !slices.Equal(got, []string{"Frank Fox"}) {
		t.Errorf("shared URL %s shows %v", shared, got)
	}
	if v := e2eRun(e, "status select", chromedp.Value(chromedp.ID("status"))); v != "inactive" {
		t.Errorf("the status select of the shared URL shows %q", v)
	}

	// Open a user from the list; deactivate, then reactivate.
	e.open("users", "/admin/users", http.StatusOK)
	e.load("open carol", http.StatusOK, chromedp.Click(chromedp.CSS(`table.users a[href="/admin/users/`+carol+`"]`)))
	if h := e.text("h1"); h != "Carol Chan" {
		t.Errorf("user page heading %q", h)
	}
	if s := e.text("#user-status"); s != "Active" {
		t.Errorf("carol's status: %q", s)
	}
	if !strings.Contains(e.body(), "carol@acme.test") {
		t.Error("carol's page lacks her email")
	}
	e.fits("user")
	e.shot("user")
	e.load("deactivate", http.StatusOK, chromedp.Click(chromedp.ID("deactivate")))
	if s, n := e.text("#user-status"), e.text("#done"); s != "Deactivated" || n != "The user was deactivated." {
		t.Errorf("after deactivate: status %q, notice %q", s, n)
	}
	if u := e.user("acme", "carol"); u.Active || u.State != store.StateInactive {
		t.Errorf("carol in the store after deactivate: active %v, state %s", u.Active, u.State)
	}
	if !strings.Contains(e.text("table.timeline tbody"), "user.deactivate") {
		t.Error("the timeline lacks the deactivation")
	}
	e.load("reactivate", http.StatusOK, chromedp.Click(chromedp.ID("reactivate")))
	if s, n := e.text("#user-status"), e.text("#done"); s != "Active" || n != "The user was reactivated." {
		t.Errorf("after reactivate: status %q, notice %q", s, n)
	}
	if !e.user("acme", "carol").Active {
		t.Error("carol inactive in the store after reactivate")
	}

	// A policy refusal is shown with its rule: gina's address is gmail.com.
	e.open("gina", "/admin/users/"+gina, http.StatusOK)
	e.load("deactivate gina", http.StatusForbidden, chromedp.Click(chromedp.ID("deactivate")))
	e.do("refusal", chromedp.WaitVisible(chromedp.ID("problem")))
	if rule := e.text("#problem code.rule"); rule != policy.RuleConsumerDomain { // policy.consumer_domain
		t.Errorf("refusal rule %q", rule)
	}
	if p := e.text("#problem"); !strings.Contains(p, "gmail.com") {
		t.Errorf("refusal without the policy's text: %q", p)
	}
	if id := js[string](e, "focus", `document.activeElement.id`); id != "problem" {
		t.Errorf("focus after a refusal is on %q, want the alert", id)
	}
	if !e.user("acme", "gina").Active {
		t.Error("a refused deactivation deactivated gina")
	}
	e.shot("refusal")

	// Batch: tick three users, choose the change, apply.
	e.open("users", "/admin/users", http.StatusOK)
	three := []string{"carol", "dave", "erin"}
	for _, n := range three {
		e.do("tick "+n, chromedp.Click(chromedp.CSS(`input.pick[value="`+f.ids["acme/"+n]+`"]`)))
	}
	if got := js[int](e, "ticked", `document.querySelectorAll("input.pick:checked").length`); got != 3 {
		t.Fatalf("%d boxes ticked, want 3", got)
	}
	e.do("batch action", chromedp.SetValue(chromedp.ID("action"), "deactivate"))
	e.load("batch apply", http.StatusOK, chromedp.Click(chromedp.ID("batch-apply")))
	e.do("batch results", chromedp.WaitVisible(chromedp.ID("batch-results")))
	if n := js[int](e, "ok rows", `document.querySelectorAll("#batch-results tbody tr.ok").length`); n != 3 {
		t.Errorf("batch: %d ok rows, want 3:\n%s", n, e.text("#batch-results"))
	}
	got := js[[]string](e, "batch names", `Array.from(document.querySelectorAll("#batch-results tbody td:first-child")).map(td => td.textContent.trim())`)
	if !slices.Equal(got, []string{"Carol Chan", "Dave Doe", "Erin Ito"}) {
		t.Errorf("batch results: %v", got)
	}
	for _, n := range three {
		if e.user("acme", n).Active {
			t.Errorf("%s still active after the batch", n)
		}
	}
	if id := js[string](e, "focus", `document.activeElement.id`); id != "results-h" {
		t.Errorf("focus after a batch is on %q, want the results", id)
	}
	e.fits("batch")
	e.shot("batch")

	// Deleting first says what it does; cancelling changes nothing.
	dave := f.ids["acme/dave"]
	e.open("dave", "/admin/users/"+dave, http.StatusOK)
	e.load("delete", http.StatusOK, chromedp.Click(chromedp.ID("delete")))
	if h := e.text("h1"); h != "Delete user" {
		t.Errorf("delete page heading %q", h)
	}
	if effects := e.text("#delete-effects"); !strings.Contains(effects, "personal data is erased") {
		t.Errorf("delete effects: %q", effects)
	}
	e.do("confirm box", chromedp.WaitVisible(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("confirm-delete")))
	e.fits("delete")
	e.shot("delete")
	e.load("cancel delete", http.StatusOK, chromedp.Click(chromedp.CSS(`#main form a[href="/admin/users/`+dave+`"]`)))
	if p := e.path(); p != "/admin/users/"+dave {
		t.Errorf("cancel went to %s", p)
	}
	if u := e.user("acme", "dave"); u.State == store.StateDeleted {
		t.Error("cancelling deleted dave")
	}

	// Japanese, by the header's switch, and back.
	e.open("users", "/admin/users", http.StatusOK)
	e.load("日本語", http.StatusOK, chromedp.Click(chromedp.CSS(`header a[hreflang="ja"]`)))
	if lang := js[string](e, "lang", `document.documentElement.lang`); lang != "ja" {
		t.Errorf("html lang after the switch: %q", lang)
	}
	if h, p := e.text("h1"), e.path(); h != "ユーザー" || p != "/admin/users" {
		t.Errorf("Japanese users page: heading %q at %s", h, p)
	}
	if b := e.body(); !strings.Contains(b, "無効") && !strings.Contains(b, "ログアウト") {
		t.Errorf("no Japanese text on the page:\n%s", b)
	}
	e.fits("users-ja")
	e.shot("users-ja")
	e.load("English", http.StatusOK, chromedp.Click(chromedp.CSS(`header a[hreflang="en"]`)))
	if lang, h := js[string](e, "lang", `document.documentElement.lang`), e.text("h1"); lang != "en" || h != "Users" {
		t.Errorf("back to English: lang %q, heading %q", lang, h)
	}

	// The tenant page: seats and tokens.
	e.load("tenant", http.StatusOK, chromedp.Click(chromedp.CSS(`header nav a[href="/admin/tenant"]`)))
	e.do("tenant sections", chromedp.WaitVisible(chromedp.ID("seats")), chromedp.WaitVisible(chromedp.ID("tokens")), chromedp.WaitVisible(chromedp.ID("events")))
	if h := e.text("#seats-h"); h != "Seats" {
		t.Errorf("seats heading %q", h)
	}
	if h := e.text("#tokens-h"); h != "Tokens" {
		t.Errorf("tokens heading %q", h)
	}
	st, err := f.svc.Status(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	used := js[string](e, "seats used", `document.querySelector("#seats dd:nth-of-type(2)").textContent.trim()`)
	if used != strconv.Itoa(st.Seats.Used) {
		t.Errorf("seats used %q, the store says %d", used, st.Seats.Used)
	}
	e.fits("tenant")
	e.shot("tenant")

	// Sign out; the old session cookie no longer works.
	old := e.sessionCookie()
	e.load("sign out", http.StatusOK, chromedp.Click(chromedp.ID("signout")))
	e.do("login page", chromedp.WaitVisible(chromedp.ID("login-form")))
	if n := e.text("p.notice"); n != "You are signed out." {
		t.Errorf("sign-out notice %q", n)
	}
	if _, err := f.store.ConsoleSessionByHash(ctx, auth.Hash(old.Value), f.clock.now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session is still in the store after sign-out: %v", err)
	}
	if c := e.cookies(); slices.ContainsFunc(c, func(c *network.Cookie) bool { return c.Name == "scimd_console" }) {
		t.Error("the browser kept the session cookie")
	}
	e.do("re-inject the old cookie", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: old.Name, Value: old.Value, URL: f.srv.URL + "/admin/", Path: old.Path,
			HTTPOnly: new(true), SameSite: network.CookieSameSiteStrict,
		})
		return err
	}))
	if c := e.cookies(); !slices.ContainsFunc(c, func(c *network.Cookie) bool { return c.Value == old.Value }) {
		t.Fatal("the old cookie was not set again")
	}
	e.open("users with the old cookie", "/admin/users", http.StatusOK)
	if p := e.path(); p != "/admin/login" {
		t.Errorf("the old cookie after sign-out reached %s", p)
	}
	e.do("login page", chromedp.WaitVisible(chromedp.ID("login-form")))
	if strings.Contains(e.body(), "Carol Chan") {
		t.Error("the old cookie shows users")
	}

	// A form without the CSRF token is refused.
	e.signIn("acme", "alice", false)
	e.load("post without csrf", http.StatusForbidden, chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.createElement("form");
		f.method = "post";
		f.action = "/admin/users/`+mia+`/deactivate";
		document.body.appendChild(f);
		f.submit();
	})()`))
	if p := e.text("#problem"); !strings.Contains(p, "The form was refused") {
		t.Errorf("CSRF refusal page: %q", p)
	}
	if !e.user("acme", "mia").Active {
		t.Error("a post without the CSRF token deactivated mia")
	}

	// Tenant A's session cannot see tenant B's user.
	e.open("beta's user", "/admin/users/"+f.ids["beta/zed"], http.StatusNotFound)
	if b := e.body(); strings.Contains(b, "Zed") || strings.Contains(b, "zed@beta.test") || !strings.Contains(b, "Not found.") {
		t.Errorf("beta's user from acme's session:\n%s", b)
	}
	if u := e.user("beta", "zed"); !u.Active {
		t.Error("zed changed")
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.console {
		if m.IsException() {
			t.Errorf("script error on %s:%d: %s", m.URL, m.Line+1, m)
		} else if m.Type == chromedp.ConsoleError && !strings.Contains(m.Text, "status of 403") && !strings.Contains(m.Text, "status of 404") {
			t.Logf("console %s: %s (%s)", m.Type, m, m.URL)
		}
	}
}

// signIn follows a fresh sign-in link and clicks Sign in; shoot saves the
// login screen first.
func (e *e2e) signIn(tenant, userName string, shoot bool) {
	e.t.Helper()
	link := e.f.link(tenant, userName)
	_, secret, _ := strings.Cut(link, "#")
	// From a blank page, so the link's page loads even when the browser
	// is on /admin/login already.
	e.do("blank", chromedp.Navigate("about:blank"))
	e.open("sign-in link", strings.TrimPrefix(link, e.f.srv.URL), http.StatusOK)
	e.do("login form", chromedp.WaitVisible(chromedp.ID("login-form")))
	if v := e2eRun(e, "token field", chromedp.Value(chromedp.ID("token"))); v != secret {
		e.t.Fatalf("the login page's script did not fill the form from the link (%d characters)", len(v))
	}
	if p := e.path(); p != "/admin/login" {
		e.t.Errorf("the secret stays in the address bar: %s", p)
	}
	if id := js[string](e, "focus", `document.activeElement.id`); id != "signin" {
		e.t.Errorf("focus on the login page is on %q, want the Sign in button", id)
	}
	if shoot {
		e.fits("login")
		e.shot("login")
	}
	e.load("sign in", http.StatusOK, chromedp.Click(chromedp.ID("signin")))
	if p := e.path(); p != "/admin/users" {
		e.t.Fatalf("signed in at %s, want /admin/users", p)
	}
	e.do("users table", chromedp.WaitVisible(chromedp.CSS("table.users")))
	entries, err := e.f.store.QueryAudit(context.Background(), store.AuditQuery{TenantID: e.f.ten[tenant], ResourceID: e.f.ids[tenant+"/"+userName], Limit: 1})
	if err != nil || len(entries) != 1 || entries[0].Operation != "console.signin" {
		e.t.Errorf("the sign-in is not the last audit entry of %s: %+v %v", userName, entries, err)
	}
}

// cookies are the browser's cookies for the console.
func (e *e2e) cookies() []*network.Cookie {
	e.t.Helper()
	res := e2eRun(e, "cookies", chromedp.Action[network.GetCookiesResult](func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.f.srv.URL + "/admin/users"}})
	}))
	return res.Cookies
}

func (e *e2e) sessionCookie() *network.Cookie {
	e.t.Helper()
	for _, c := range e.cookies() {
		if c.Name == "scimd_console" {
			return c
		}
	}
	e.t.Fatal("the browser has no session cookie")
	return nil
}

// keyboard checks, on a fresh users page, that Tab from the top reaches
// the skip link first (shown when focused), then the search field, then
// the first user's link.
func (e *e2e) keyboard() {
	e.t.Helper()
	e.open("users", "/admin/users", http.StatusOK)
	first := js[string](e, "first user link", `document.querySelector("table.users tbody td:nth-child(2) a").getAttribute("href")`)
	var seen []focused
	var q, link int
	for i := 1; i <= 40 && link == 0; i++ {
		e.do("Tab", chromedp.KeyEvent(kb.Tab))
		a := js[focused](e, "focus", activeJS)
		seen = append(seen, a)
		switch {
		case i == 1:
			if a.Class != "skip" {
				e.t.Errorf("the first Tab focuses %s, want the skip link", a)
			} else if a.Left < 0 {
				e.t.Errorf("the focused skip link is off screen (left %d px)", a.Left)
			}
		case a.ID == "q" && q == 0:
			q = i
		case a.Tag == "a" && a.Href == first:
			link = i
		}
	}
	if q == 0 || link == 0 || q > link {
		e.t.Errorf("Tab order: search field at %d, first user link at %d; focus went through %v", q, link, seen)
	}
	e.t.Logf("Tab order to the first user (%d presses): %v", len(seen), seen)

	// The skip link skips the header: Enter on it, and the next Tab is
	// the search field.
	e.open("users", "/admin/users", http.StatusOK)
	e.do("Tab, Enter", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
	if a := js[focused](e, "focus", activeJS); a.ID != "main" {
		e.t.Errorf("the skip link moved focus to %s, want main", a)
	}
	e.do("Tab", chromedp.KeyEvent(kb.Tab))
	if a := js[focused](e, "focus", activeJS); a.ID != "q" {
		e.t.Errorf("Tab after the skip link focuses %s, want the search field", a)
	}
}
