package scim

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/dbopen"
	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
)

// syncBuffer is testenv.SyncBuffer.
type syncBuffer = testenv.SyncBuffer

// outcome is one answered request of the load.
type outageOutcome struct {
	phase      string
	method     string
	path       string
	status     int
	dur        time.Duration
	retryAfter string
	body       []byte
	err        error
}

// outageClient sends requests with a bound far above any answer scimd may
// take, so that a hang shows as an error instead of stopping the test.
var outageClient = &http.Client{Timeout: 60 * time.Second}

func outageDo(base, token, method, path string, body any) outageOutcome {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	o := outageOutcome{method: method, path: path}
	r, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		o.err = err
		return o
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	start := time.Now()
	res, err := outageClient.Do(r)
	if err != nil {
		o.err, o.dur = err, time.Since(start)
		return o
	}
	o.body, _ = io.ReadAll(res.Body)
	_ = res.Body.Close()
	o.dur = time.Since(start)
	o.status = res.StatusCode
	o.retryAfter = res.Header.Get("Retry-After")
	return o
}

// checkUnavailable reports what is wrong with a 503 answer, or "".
func checkUnavailable(o outageOutcome) string {
	if o.retryAfter != "5" {
		return fmt.Sprintf("Retry-After %q, want 5", o.retryAfter)
	}
	var e errorBody
	if err := json.Unmarshal(o.body, &e); err != nil {
		return fmt.Sprintf("body is not JSON: %s", o.body)
	}
	if len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || e.Status != "503" {
		return fmt.Sprintf("not a SCIM 503 error body: %s", o.body)
	}
	if !strings.HasPrefix(e.Detail, UnavailableDetail) {
		return fmt.Sprintf("detail %q does not start with %q", e.Detail, UnavailableDetail)
	}
	for _, raw := range []string{"pq:", "dial", "127.0.0.1", "timeout", "connection", "EOF"} {
		if strings.Contains(string(o.body), raw) {
			return fmt.Sprintf("body shows the raw error (%q): %s", raw, o.body)
		}
	}
	return ""
}

// TestDatabaseOutage drives concurrent look-ups and writes through the real
// handler over a PostgreSQL store reached through a TCP proxy, then takes
// the database away twice: first as a stopped server (connections reset
// and refused), then as a blackholed one (connections accepted, nothing
// answered). During each outage every answer must be a 2xx (a request that
// got through before the cut) or a SCIM 503 with Retry-After, none may hang
// past the bound the statement timeout sets, and /readyz must say 503;
// after each the handler must serve 2xx again by itself, and every user
// whose creation was acknowledged with 201 must be in the database.
func TestDatabaseOutage(t *testing.T) {
	const (
		statementTimeout = 2 * time.Second
		connectTimeout   = time.Second
		workers          = 8
	)
	// No request may wait longer than this: a call's bound is the
	// statement timeout plus 2 s; a request may wait for a connection
	// (one bound), dial one (connect timeout) and then for its answer
	// (one bound). Anything longer is a hang.
	hangBound := 2*(statementTimeout+2*time.Second) + connectTimeout + 2*time.Second

	direct := pgtest.URL(t)
	proxy := pgtest.NewProxy(t, direct)
	ctx := context.Background()
	db, err := dbopen.OpenWith(ctx, dbopen.Target{Kind: dbopen.Postgres, URL: proxy.URL(direct)},
		dbopen.Options{StatementTimeout: statementTimeout, ConnectTimeout: connectTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := provision.New(db, nil, log)
	// TokenCacheTTL 0: every request reads its token, so every request
	// meets the database.
	srv := httptest.NewServer(NewServer(Config{Store: db, Provision: svc, Log: log}))
	t.Cleanup(srv.Close)
	a := provision.Actor{Name: "test"}
	ten, err := svc.CreateTenant(ctx, a, "acme")
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	base := srv.URL + "/scim/v2"
	hostToken, _, err := svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: ten.ID, Kind: store.TokenHost})
	if err != nil {
		t.Fatal(err)
	}
	admin := outageConsole(t, db, svc, srv.URL, token)

	// otherAPIs checks the host API and the console during an outage.
	otherAPIs := func(name string) {
		o := outageDo(srv.URL, hostToken, http.MethodGet, "/api/v1/audit", nil)
		var e struct{ Error, Detail string }
		_ = json.Unmarshal(o.body, &e)
		if o.err != nil || o.status != http.StatusServiceUnavailable || o.retryAfter != "5" || e.Error != "unavailable" ||
			!strings.HasPrefix(e.Detail, "the database is unavailable; retry later") {
			t.Errorf("%s: host API: %d %q %s %v", name, o.status, o.retryAfter, o.body, o.err)
		}
		res, err := admin.Get(srv.URL + "/admin/users")
		if err != nil {
			t.Errorf("%s: console: %v", name, err)
			return
		}
		page, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "5" ||
			!strings.Contains(string(page), "The database is unavailable right now") || strings.Contains(string(page), "pq:") {
			t.Errorf("%s: console: %d %q", name, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}

	var (
		phase    atomic.Value // string: the phase requests are sent in
		mu       sync.Mutex
		outcomes []outageOutcome
		acked    = map[string]string{} // id → userName of every 201
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		seq      atomic.Int64
	)
	phase.Store("before")
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []string // ids this worker created
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var o outageOutcome
				switch {
				case i%3 == 1 && len(mine) > 0:
					o = outageDo(base, token, http.MethodGet, "/Users/"+mine[len(mine)-1], nil)
				case i%3 == 2:
					o = outageDo(base, token, http.MethodGet, fmt.Sprintf(`/Users?filter=userName%%20sw%%20%%22w%d-%%22&count=5`, w), nil)
				default:
					name := fmt.Sprintf("w%d-%d@example.com", w, seq.Add(1))
					o = outageDo(base, token, http.MethodPost, "/Users", map[string]any{
						"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
						"userName": name, "active": true,
					})
					if o.status == http.StatusCreated {
						var u struct{ ID string }
						_ = json.Unmarshal(o.body, &u)
						mine = append(mine, u.ID)
						mu.Lock()
						acked[u.ID] = name
						mu.Unlock()
					}
				}
				// The phase the answer came in: a request sent before a
				// cut and answered after it belongs to the outage.
				o.phase = phase.Load().(string)
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if o.status == http.StatusServiceUnavailable {
					time.Sleep(50 * time.Millisecond) // as a client honouring Retry-After would, briefly
				}
			}
		}()
	}

	// ready reads /readyz and says how long it took.
	ready := func() (int, time.Duration) {
		start := time.Now()
		res, err := outageClient.Get(srv.URL + "/readyz")
		if err != nil {
			t.Errorf("/readyz: %v", err)
			return 0, time.Since(start)
		}
		_ = res.Body.Close()
		return res.StatusCode, time.Since(start)
	}
	// recovered waits until a request of every kind succeeds again.
	recovered := func(what string) time.Duration {
		start := time.Now()
		for time.Since(start) < 60*time.Second {
			o := outageDo(base, token, http.MethodGet, "/Users?count=1", nil)
			if o.status == http.StatusOK {
				if st, _ := ready(); st == http.StatusOK {
					return time.Since(start)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no recovery within 60s after %s", what)
		return 0
	}
	var maxReady time.Duration
	outage := func(name string, cut func()) {
		time.Sleep(time.Second)
		phase.Store(name)
		cut()
		otherAPIs(name)
		// Long enough for requests held by a silent server to reach
		// their bound and for fresh ones to fail; /readyz is read at
		// least twice whatever the checks above took.
		deadline := time.Now().Add(statementTimeout + 4*time.Second)
		sawReady503 := false
		for i := 0; i < 2 || time.Now().Before(deadline); i++ {
			st, d := ready()
			maxReady = max(maxReady, d)
			if st == http.StatusServiceUnavailable {
				sawReady503 = true
			} else {
				t.Errorf("%s: /readyz answered %d, want 503", name, st)
			}
			time.Sleep(500 * time.Millisecond)
		}
		if !sawReady503 {
			t.Errorf("%s: /readyz never answered 503", name)
		}
		phase.Store("after " + name)
		proxy.Resume()
		t.Logf("%s: recovered %v after the database came back", name, recovered(name).Round(time.Millisecond))
	}
	outage("refused", proxy.Refuse)
	outage("blackholed", proxy.Blackhole)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	// Every answer: 2xx, or a SCIM 503 with Retry-After during an outage
	// and the moments after it; none slower than the hang bound.
	counts := map[string]map[int]int{}
	var maxDur time.Duration
	var maxPhase string
	for _, o := range outcomes {
		if counts[o.phase] == nil {
			counts[o.phase] = map[int]int{}
		}
		counts[o.phase][o.status]++
		if o.err != nil {
			t.Errorf("%s %s (%s): no answer after %v: %v", o.method, o.path, o.phase, o.dur, o.err)
			continue
		}
		if o.dur > maxDur {
			maxDur, maxPhase = o.dur, o.phase
		}
		if o.dur > hangBound {
			t.Errorf("%s %s (%s): answered %d after %v, beyond the %v bound", o.method, o.path, o.phase, o.status, o.dur, hangBound)
		}
		switch {
		case o.status >= 200 && o.status < 300:
		case o.status == http.StatusServiceUnavailable && o.phase != "before":
			if msg := checkUnavailable(o); msg != "" {
				t.Errorf("%s %s (%s): %s", o.method, o.path, o.phase, msg)
			}
		default:
			t.Errorf("%s %s (%s): status %d: %s", o.method, o.path, o.phase, o.status, o.body)
		}
	}
	for _, ph := range []string{"refused", "blackholed"} {
		if counts[ph][http.StatusServiceUnavailable] == 0 {
			t.Errorf("%s: no request was answered 503 (%v): the outage was not exercised", ph, counts[ph])
		}
	}
	for _, ph := range []string{"before", "after refused", "after blackholed"} {
		if counts[ph][http.StatusCreated] == 0 {
			t.Errorf("%s: no user was created (%v)", ph, counts[ph])
		}
	}
	t.Logf("answers by phase and status: %v", counts)
	t.Logf("slowest answer: %v (%s); slowest /readyz during an outage: %v; hang bound %v",
		maxDur.Round(time.Millisecond), maxPhase, maxReady.Round(time.Millisecond), hangBound)

	// The raw errors went to the log, with request ids.
	if l := logs.String(); !strings.Contains(l, "database unavailable") || !strings.Contains(l, "request_id=") {
		t.Errorf("the log does not record the unavailable database with request ids")
	}

	// Every acknowledged creation is in the database (read directly, not
	// through the proxy).
	check, err := postgres.Open(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	for id, name := range acked {
		u, err := check.GetUser(ctx, ten.ID, id)
		if err != nil || u.UserName != name {
			t.Errorf("acknowledged user %s (%s) lost: %v", id, name, err)
		}
	}
	t.Logf("%d creations acknowledged, all present", len(acked))
}

// TestSQLiteLockedIsUnavailable holds SQLite's write lock from another
// connection past the busy timeout: a write then answers a SCIM 503 with
// Retry-After (not a 500), reads keep working, and writes work again once
// the lock is released.
func TestSQLiteLockedIsUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for SQLite's 10 s busy timeout")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "locked.db")
	db, err := dbopen.Open(ctx, dbopen.Target{Kind: dbopen.SQLite, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, db)
	h.req(http.MethodPost, "/Users", map[string]any{"userName": "before@example.com"}).must(t, http.StatusCreated)

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := h.req(http.MethodPost, "/Users", map[string]any{"userName": "locked@example.com"})
	took := time.Since(start)
	o := outageOutcome{status: r.Status, retryAfter: r.Header.Get("Retry-After"), body: r.Raw}
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("write under a held lock: status %d, want 503: %s", r.Status, r.Raw)
	}
	if msg := checkUnavailable(o); msg != "" {
		t.Fatal(msg)
	}
	t.Logf("write under a held lock answered 503 after %v", took.Round(time.Millisecond))
	h.req(http.MethodGet, "/Users?filter=userName%20eq%20%22before@example.com%22", nil).must(t, http.StatusOK)
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	h.req(http.MethodPost, "/Users", map[string]any{"userName": "locked@example.com"}).must(t, http.StatusCreated)
	if _, err := db.GetUserByUserName(ctx, h.tenantID, "locked@example.com"); err != nil {
		t.Fatalf("the write after the lock: %v", err)
	}
}

// outageConsole creates an owner through the SCIM API and returns an HTTP
// client signed in to the console as that owner.
func outageConsole(t *testing.T, s store.Store, svc *provision.Service, srvURL, token string) *http.Client {
	t.Helper()
	o := outageDo(srvURL+"/scim/v2", token, http.MethodPost, "/Users", map[string]any{
		"userName": "owner@example.com", "roles": []map[string]any{{"value": "owner"}},
	})
	if o.status != http.StatusCreated {
		t.Fatalf("create the owner: %d %s %v", o.status, o.body, o.err)
	}
	link, err := console.IssueLoginLink(context.Background(), s, svc, provision.Actor{Name: "test"}, "acme", "owner@example.com", srvURL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(srvURL+console.Prefix+"/login", url.Values{"token": {link[strings.LastIndex(link, "#")+1:]}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("console sign-in: %d", res.StatusCode)
	}
	return c
}
