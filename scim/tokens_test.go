package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/auth"
	"github.com/scimd/scimd/internal/console"
	dispatch "github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// tokenFixture is a real handler with a clock the test moves, a logger
// writing to a buffer at debug level, and one tenant with an owner who may
// use the console.
type tokenFixture struct {
	t        *testing.T
	store    store.Store
	svc      *provision.Service
	srv      *httptest.Server
	logs     *syncBuffer
	offset   atomic.Int64 // added to the real time
	tenantID string
	ownerID  string
	admin    string // adminToken
}

func (f *tokenFixture) now() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) }

func newTokenFixture(t *testing.T, s store.Store, cacheTTL time.Duration) *tokenFixture {
	t.Helper()
	f := &tokenFixture{t: t, store: s, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.svc = provision.New(s, f.now, log)
	f.srv = httptest.NewServer(NewServer(Config{Store: s, Provision: f.svc, Log: log, Now: f.now, TokenCacheTTL: cacheTTL}))
	t.Cleanup(f.srv.Close)
	ctx := context.Background()
	ten, err := f.svc.CreateTenant(ctx, provision.Actor{Name: "test"}, "acme")
	if err != nil {
		t.Fatal(err)
	}
	f.tenantID = ten.ID
	return f
}

// token creates a token of the tenant.
func (f *tokenFixture) token(kind string, ttl time.Duration) (string, store.Token) {
	f.t.Helper()
	secret, tok, err := f.svc.CreateToken(context.Background(), provision.Actor{Name: "test"},
		provision.TokenSpec{TenantID: f.tenantID, Kind: kind, TTL: ttl})
	if err != nil {
		f.t.Fatal(err)
	}
	return secret, tok
}

// call sends a request with a bearer token ("" for none); it is safe to
// call from several goroutines and returns the status and body.
func (f *tokenFixture) call(method, path, token string, body any) (int, []byte, http.Header, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case json.RawMessage: // sent as it is, valid or not
		rd = strings.NewReader(string(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = strings.NewReader(string(j))
	}
	r, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res.StatusCode, raw, res.Header, err
}

// status sends a request and fails the test on a transport error.
func (f *tokenFixture) status(method, path, token string, body any) (int, []byte) {
	f.t.Helper()
	st, raw, _, err := f.call(method, path, token, body)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	return st, raw
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleSession signs the tenant's owner in to the console with a fresh
// sign-in link and returns a client holding the session and the link's
// secret.
func (f *tokenFixture) consoleSession() (*http.Client, string) {
	f.t.Helper()
	ctx := context.Background()
	if f.ownerID == "" {
		st, raw := f.status(http.MethodPost, "/scim/v2/Users", f.adminToken(), map[string]any{
			"userName": "owner@example.com", "roles": []map[string]any{{"value": "owner"}},
		})
		if st != http.StatusCreated {
			f.t.Fatalf("create the owner: %d %s", st, raw)
		}
		var u struct{ ID string }
		_ = json.Unmarshal(raw, &u)
		f.ownerID = u.ID
	}
	link, err := console.IssueLoginLink(ctx, f.store, f.svc, provision.Actor{Name: "cli"}, "acme", "owner@example.com", f.srv.URL, f.now())
	if err != nil {
		f.t.Fatal(err)
	}
	secret := link[strings.LastIndex(link, "#")+1:]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(f.srv.URL+console.Prefix+"/login", url.Values{"token": {secret}})
	if err != nil {
		f.t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("console sign-in: %d", res.StatusCode)
	}
	return c, secret
}

// consolePost posts a form from the tenant page with its CSRF token and
// returns the status and the page.
func (f *tokenFixture) consolePost(c *http.Client, path string, form url.Values) (int, string) {
	f.t.Helper()
	res, err := c.Get(f.srv.URL + console.Prefix + "/tenant")
	if err != nil {
		f.t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	m := consoleCSRF.FindStringSubmatch(string(page))
	if m == nil {
		f.t.Fatalf("no CSRF token on the tenant page (%d)", res.StatusCode)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", html.UnescapeString(m[1]))
	res, err = c.PostForm(f.srv.URL+console.Prefix+path, form)
	if err != nil {
		f.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	return res.StatusCode, string(body)
}

// adminToken is a SCIM token the fixture uses for set-up.
func (f *tokenFixture) adminToken() string {
	if f.admin == "" {
		f.admin, _ = f.token(store.TokenSCIM, 0)
	}
	return f.admin
}

// TestTokenExpiry: a token works until its expiry and is refused with 401
// from then on, on the SCIM API and (host tokens) on the host API.
func TestTokenExpiry(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newTokenFixture(t, s, 0)
		scimTok, _ := f.token(store.TokenSCIM, time.Hour)
		hostTok, _ := f.token(store.TokenHost, time.Hour)
		if st, raw := f.status(http.MethodGet, "/scim/v2/Users", scimTok, nil); st != http.StatusOK {
			t.Fatalf("live SCIM token: %d %s", st, raw)
		}
		if st, raw := f.status(http.MethodGet, "/api/v1/audit", hostTok, nil); st != http.StatusOK {
			t.Fatalf("live host token: %d %s", st, raw)
		}
		f.offset.Store(int64(time.Hour + time.Second))
		if st, raw := f.status(http.MethodGet, "/scim/v2/Users", scimTok, nil); st != http.StatusUnauthorized {
			t.Fatalf("expired SCIM token: %d %s", st, raw)
		}
		if st, raw := f.status(http.MethodGet, "/api/v1/audit", hostTok, nil); st != http.StatusUnauthorized {
			t.Fatalf("expired host token: %d %s", st, raw)
		}
	})
}

// TestTokenRevokedAtOnce: a token revoked through the console is refused
// on its very next SCIM request, although the server's token cache would
// trust it for a minute.
func TestTokenRevokedAtOnce(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newTokenFixture(t, s, time.Minute)
		victim, tok := f.token(store.TokenSCIM, 0)
		if st, raw := f.status(http.MethodGet, "/scim/v2/Users", victim, nil); st != http.StatusOK {
			t.Fatalf("before the revocation: %d %s", st, raw)
		}
		c, _ := f.consoleSession()
		if st, page := f.consolePost(c, "/tenant/tokens/"+tok.ID+"/revoke", nil); st != http.StatusSeeOther {
			t.Fatalf("console revocation: %d %s", st, page)
		}
		if st, raw := f.status(http.MethodGet, "/scim/v2/Users", victim, nil); st != http.StatusUnauthorized {
			t.Fatalf("the first request after the revocation: %d %s", st, raw)
		}
		// Other tokens of the tenant are unaffected.
		if st, raw := f.status(http.MethodGet, "/scim/v2/Users", f.adminToken(), nil); st != http.StatusOK {
			t.Fatalf("another token after the revocation: %d %s", st, raw)
		}
	})
}

// TestTokenRotation rotates a tenant's token under load: while clients keep
// sending requests, a second token is issued, both work, the clients move
// to the new one, and the old one is revoked. No request fails at any
// point, and the old token is refused afterwards.
func TestTokenRotation(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newTokenFixture(t, s, scimDefaultTTL)
		oldTok, oldRow := f.token(store.TokenSCIM, 0)
		var current atomic.Value
		current.Store(oldTok)
		var (
			sent, failed atomic.Int64
			stop         = make(chan struct{})
			wg           sync.WaitGroup
			firstErr     atomic.Value
		)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					st, raw, _, err := f.call(http.MethodGet, "/scim/v2/Users?count=1", current.Load().(string), nil)
					sent.Add(1)
					if err != nil || st != http.StatusOK {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s %v", st, raw, err))
					}
				}
			}()
		}
		pause := func() { time.Sleep(300 * time.Millisecond) }
		pause()
		newTok, _ := f.token(store.TokenSCIM, 0)
		for _, tk := range []string{oldTok, newTok} {
			if st, raw := f.status(http.MethodGet, "/scim/v2/Users?count=1", tk, nil); st != http.StatusOK {
				t.Fatalf("two live tokens: %d %s", st, raw)
			}
		}
		pause()
		current.Store(newTok)
		time.Sleep(time.Second) // requests in flight with the old token finish
		if err := f.svc.RevokeToken(context.Background(), provision.Actor{Name: "test"}, oldRow.ID); err != nil {
			t.Fatal(err)
		}
		auth.ForgetTokens()
		pause()
		close(stop)
		wg.Wait()
		if failed.Load() != 0 {
			t.Fatalf("%d of %d requests failed during the rotation; first: %v", failed.Load(), sent.Load(), firstErr.Load())
		}
		if sent.Load() < 20 {
			t.Fatalf("only %d requests during the rotation", sent.Load())
		}
		if st, raw := f.status(http.MethodGet, "/scim/v2/Users", oldTok, nil); st != http.StatusUnauthorized {
			t.Fatalf("the old token after the rotation: %d %s", st, raw)
		}
		t.Logf("%d requests during the rotation, none failed", sent.Load())
	})
}

// scimDefaultTTL is the token cache TTL scimd serves with.
const scimDefaultTTL = DefaultTokenCacheTTL

// TestTokenInQueryRefused: a bearer token in the query string is refused
// with 400 on the SCIM API and the host API, whatever the parameter's case
// and even with a valid Authorization header, and its value is not
// logged.
func TestTokenInQueryRefused(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newTokenFixture(t, s, 0)
		scimTok, _ := f.token(store.TokenSCIM, 0)
		hostTok, _ := f.token(store.TokenHost, 0)
		for _, c := range []struct{ path, header string }{
			{"/scim/v2/Users?access_token=" + scimTok, ""},
			{"/scim/v2/Users?access_token=" + scimTok, scimTok},
			{"/scim/v2/Users?count=1&Access_Token=" + scimTok, ""},
			{"/scim/v2/Users/x?TOKEN=" + scimTok, ""},
			{"/scim/v2/Groups?bearer=" + scimTok, ""},
			{"/scim/v2/users?access%5Ftoken=" + scimTok, ""},
			{"/api/v1/audit?access_token=" + hostTok, ""},
			{"/api/v1/events?token=" + hostTok, hostTok},
		} {
			st, raw := f.status(http.MethodGet, c.path, c.header, nil)
			if st != http.StatusBadRequest || !strings.Contains(string(raw), "Authorization header") {
				t.Errorf("%s: %d %s", c.path, st, raw)
			}
			if strings.HasPrefix(c.path, "/scim/") {
				var e errorBody
				if err := json.Unmarshal(raw, &e); err != nil || e.Status != "400" || len(e.Schemas) != 1 {
					t.Errorf("%s: not a SCIM error: %s", c.path, raw)
				}
			}
		}
		// A parameter value that merely says "token" is no token.
		if st, raw := f.status(http.MethodGet, `/scim/v2/Users?filter=userName%20eq%20%22token%22`, scimTok, nil); st != http.StatusOK {
			t.Errorf("a filter on the word token: %d %s", st, raw)
		}
		for _, secret := range []string{scimTok, hostTok} {
			if strings.Contains(f.logs.String(), secret) {
				t.Errorf("the log holds a token sent in a query string")
			}
		}
	})
}

// TestSecretsNeverRecorded exercises every way a secret enters scimd (SCIM
// and host tokens, passwords in creates, replaces, PATCH and /Bulk, token
// creation in the console, a console sign-in link and session, a webhook
// signing secret, a wrong token of the right shape), logging at debug
// level, then searches the log, every audit entry, every outbox event and
// every webhook delivery (body and headers) for each secret: none may hold
// one.
func TestSecretsNeverRecorded(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f := newTokenFixture(t, s, scimDefaultTTL)
		ctx := context.Background()
		var secrets []string
		keep := func(s string) string { secrets = append(secrets, s); return s }

		scimTok, _ := f.token(store.TokenSCIM, 0)
		keep(scimTok)
		hostTok, _ := f.token(store.TokenHost, 0)
		keep(hostTok)
		keep(f.adminToken())

		// A webhook receiver that keeps what it is sent.
		var mu sync.Mutex
		var deliveries []string
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			h, _ := json.Marshal(r.Header)
			mu.Lock()
			deliveries = append(deliveries, string(b)+string(h))
			mu.Unlock()
		}))
		defer recv.Close()
		whSecret, _, err := f.svc.CreateWebhook(ctx, provision.Actor{Name: "test", TenantID: f.tenantID}, recv.URL)
		if err != nil {
			t.Fatal(err)
		}
		keep(whSecret)

		must := func(want int, method, path, token string, body any) []byte {
			t.Helper()
			st, raw := f.status(method, path, token, body)
			if st != want {
				t.Fatalf("%s %s: %d, want %d: %s", method, path, st, want, raw)
			}
			return raw
		}
		id := func(raw []byte) string {
			var v struct{ ID string }
			_ = json.Unmarshal(raw, &v)
			return v.ID
		}
		user := "urn:ietf:params:scim:schemas:core:2.0:User"
		raw := must(http.StatusCreated, http.MethodPost, "/scim/v2/Users", scimTok, map[string]any{
			"schemas": []string{user}, "userName": "ann@example.com", "password": keep("Create-Pass-3141!"),
		})
		annID := id(raw)
		must(http.StatusOK, http.MethodPut, "/scim/v2/Users/"+annID, scimTok, map[string]any{
			"schemas": []string{user}, "userName": "ann@example.com", "password": keep("Replace-Pass-2718!"),
		})
		must(http.StatusOK, http.MethodPatch, "/scim/v2/Users/"+annID, scimTok, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "password", "value": keep("Patch-Pass-1618!")}},
		})
		must(http.StatusOK, http.MethodPatch, "/scim/v2/Users/"+annID, scimTok, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"password": keep("Patch-Pass-Value-1414!")}}},
		})
		raw = must(http.StatusOK, http.MethodPost, "/scim/v2/Bulk", scimTok, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
			"Operations": []map[string]any{
				{"method": "POST", "path": "/Users", "bulkId": "b1", "data": map[string]any{
					"schemas": []string{user}, "userName": "bob@example.com", "password": keep("Bulk-Pass-1732!")}},
				{"method": "PATCH", "path": "/Users/" + annID, "data": map[string]any{
					"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []map[string]any{{"op": "replace", "path": "password", "value": keep("Bulk-Patch-Pass-2236!")}}}},
				// A failing operation with a password: its error is logged
				// and audited too.
				{"method": "POST", "path": "/Users", "bulkId": "b2", "data": map[string]any{
					"schemas": []string{user}, "userName": "ann@example.com", "password": keep("Bulk-Dup-Pass-2645!")}},
			},
		})
		if strings.Count(string(raw), `"status":"20`) != 2 {
			t.Fatalf("bulk: %s", raw)
		}
		// A create refused for a duplicate userName, with a password.
		must(http.StatusConflict, http.MethodPost, "/scim/v2/Users", scimTok, map[string]any{
			"schemas": []string{user}, "userName": "ann@example.com", "password": keep("Conflict-Pass-3316!"),
		})
		// Malformed JSON with a password in it.
		st, _, _, err := f.call(http.MethodPost, "/scim/v2/Users", scimTok, json.RawMessage(`{"userName":"x","password":"`+keep("Broken-Pass-1123!")+`",}`))
		if err == nil && st == http.StatusCreated {
			t.Fatal("malformed JSON created a user")
		}
		// Wrong tokens of the right shape, on both APIs and in a query.
		wrong, _, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		keep(wrong)
		must(http.StatusUnauthorized, http.MethodGet, "/scim/v2/Users", wrong, nil)
		must(http.StatusUnauthorized, http.MethodGet, "/api/v1/audit", wrong, nil)
		must(http.StatusBadRequest, http.MethodGet, "/scim/v2/Users?access_token="+wrong, "", nil)
		must(http.StatusOK, http.MethodGet, "/api/v1/users/"+annID+"/access", hostTok, nil)
		must(http.StatusOK, http.MethodGet, "/api/v1/events", hostTok, nil)

		// The console: sign in with a link, create a token there.
		c, linkSecret := f.consoleSession()
		keep(linkSecret)
		for _, ck := range c.Jar.Cookies(mustParse(t, f.srv.URL+console.Prefix+"/tenant")) {
			keep(ck.Value)
		}
		st, page := f.consolePost(c, "/tenant/tokens", url.Values{"kind": {store.TokenSCIM}})
		if st != http.StatusOK {
			t.Fatalf("console token creation: %d", st)
		}
		created := regexp.MustCompile(auth.TokenPrefix + `[A-Za-z0-9_-]{20,}`).FindString(page)
		if created == "" {
			t.Fatal("the console did not show the new token")
		}
		keep(created)
		must(http.StatusOK, http.MethodGet, "/scim/v2/Users", created, nil)

		// Deliver the events.
		d := dispatch.New(dispatch.Config{Store: s, Now: f.now})
		for range 10 {
			n, err := d.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		mu.Lock()
		nDeliveries := len(deliveries)
		mu.Unlock()
		if nDeliveries == 0 {
			t.Fatal("no webhook delivery was made")
		}

		// Where secrets could end up.
		places := map[string]string{"log": f.logs.String()}
		audit := jsonPages(t, func(after string) ([]store.AuditEntry, error) { return s.ListAudit(ctx, f.tenantID, after, 500) },
			func(e store.AuditEntry) string { return e.ID })
		evs := jsonPages(t, func(after string) ([]store.Event, error) { return s.ListEvents(ctx, f.tenantID, after, 500) },
			func(e store.Event) string { return e.ID })
		if len(audit) < 10 || len(evs) < 3 {
			t.Fatalf("too little recorded to search: %d audit entries, %d events", len(audit), len(evs))
		}
		places["audit"] = strings.Join(audit, "\n")
		places["events"] = strings.Join(evs, "\n")
		mu.Lock()
		places["webhook deliveries"] = strings.Join(deliveries, "\n")
		mu.Unlock()
		if !strings.Contains(places["log"], "level=DEBUG") && !strings.Contains(places["log"], "level=INFO") {
			t.Fatal("nothing was logged")
		}
		for where, text := range places {
			for _, secret := range secrets {
				if strings.Contains(text, secret) {
					t.Errorf("the %s holds the secret %.12s…", where, secret)
				}
			}
		}
		t.Logf("searched %d secrets in %d log bytes, %d audit entries, %d events, %d deliveries: none found",
			len(secrets), len(places["log"]), len(audit), len(evs), nDeliveries)
	})
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// jsonPages reads every page of a listing keyed by the last id seen and
// returns each item as JSON.
func jsonPages[T any](t *testing.T, list func(after string) ([]T, error), id func(T) string) []string {
	t.Helper()
	var out []string
	for after := ""; ; {
		items, err := list(after)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			return out
		}
		for _, it := range items {
			b, _ := json.Marshal(it)
			out = append(out, string(b))
		}
		after = id(items[len(items)-1])
	}
}
