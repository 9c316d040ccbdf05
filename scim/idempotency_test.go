package scim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// keyClock is a settable clock for scim.Config.Now.
type keyClock struct{ ns atomic.Int64 }

func (c *keyClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *keyClock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *keyClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// keyHarness is a harness whose server reads the time from clock.
func keyHarness(t *testing.T, s store.Store) (*harness, *keyClock) {
	t.Helper()
	clock := &keyClock{}
	clock.set(time.Now())
	svc := provision.New(s, nil, nil)
	h := &harness{t: t, store: s, svc: svc, metrics: obs.NewMetrics()}
	h.srv = httptest.NewServer(NewServer(Config{Store: s, Provision: svc, Metrics: h.metrics, Now: clock.now}))
	t.Cleanup(h.srv.Close)
	h.base = h.srv.URL + "/scim/v2"
	h.tenantID, h.token = h.newTenant("acme")
	return h, clock
}

func forEachKeyBackend(t *testing.T, f func(t *testing.T, h *harness, clock *keyClock)) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, clock := keyHarness(t, s)
		f(t, h, clock)
	})
}

func userBody(userName string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `","active":true}`
}

// countOps returns how many audit entries and events of the tenant have
// the given operation and event type.
func countOps(t *testing.T, s store.Store, tenantID, op, eventType string) (audits, events int) {
	t.Helper()
	es, err := s.ListAudit(context.Background(), tenantID, "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Operation == op {
			audits++
		}
	}
	evs, err := s.ListEvents(context.Background(), tenantID, "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == eventType {
			events++
		}
	}
	return audits, events
}

func countUsers(t *testing.T, s store.Store, tenantID string) int {
	t.Helper()
	n, err := s.CountUsers(context.Background(), tenantID, store.StateActive, store.StateInactive)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdempotencyKeyUsers: a POST /Users retried with its key and body
// gets the first outcome (same id, 201, Location) and creates nothing;
// another body with the key is a 422; no key keeps RFC 7644's 409.
func TestIdempotencyKeyUsers(t *testing.T) {
	forEachKeyBackend(t, func(t *testing.T, h *harness, _ *keyClock) {
		first := h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "key-1").must(t, 201)
		id := gets(first.Body, "id")
		if id == "" || first.Header.Get(replayedHeader) != "" {
			t.Fatalf("first answer: id %q, %s %q", id, replayedHeader, first.Header.Get(replayedHeader))
		}
		for range 2 {
			again := h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "key-1").must(t, 201)
			if got := gets(again.Body, "id"); got != id {
				t.Errorf("replayed id %q, want %q", got, id)
			}
			if again.Header.Get("Location") != first.Header.Get("Location") || again.Header.Get("Location") == "" {
				t.Errorf("replayed Location %q, want %q", again.Header.Get("Location"), first.Header.Get("Location"))
			}
			if again.Header.Get(replayedHeader) != "true" {
				t.Errorf("a replay lacks %s: true", replayedHeader)
			}
			if gets(again.Body, "userName") != "alice" {
				t.Errorf("replayed body: %s", again.Raw)
			}
		}
		// The path as routed: a trailing slash is the same request.
		if got := h.req("POST", "/Users/", userBody("alice"), "Idempotency-Key", "key-1").must(t, 201); gets(got.Body, "id") != id {
			t.Errorf("replay at /Users/: id %q, want %q", gets(got.Body, "id"), id)
		}
		if n := countUsers(t, h.store, h.tenantID); n != 1 {
			t.Errorf("%d users after retries, want 1", n)
		}
		if a, e := countOps(t, h.store, h.tenantID, "user.create", "user.created"); a != 1 || e != 1 {
			t.Errorf("%d user.create audit entries and %d user.created events, want 1 and 1", a, e)
		}

		// The same key with another body (or another endpoint) is refused
		// and changes nothing.
		d := h.req("POST", "/Users", userBody("bob"), "Idempotency-Key", "key-1").scimError(t, 422, "")
		if !strings.Contains(d, "Idempotency-Key") || !strings.Contains(d, "different request") {
			t.Errorf("422 detail %q does not say why", d)
		}
		h.req("POST", "/Groups", `{"displayName":"g"}`, "Idempotency-Key", "key-1").scimError(t, 422, "")
		if n := countUsers(t, h.store, h.tenantID); n != 1 {
			t.Errorf("%d users after a refused key, want 1", n)
		}
		if _, err := h.store.GetUserByUserName(context.Background(), h.tenantID, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob was created under a refused key: %v", err)
		}

		// Without a key a retry is a plain create: 409 uniqueness (RFC
		// 7644 §3.3, what Okta's SPEC test expects).
		h.req("POST", "/Users", userBody("alice")).scimError(t, 409, "uniqueness")
		// A new key for the same body is a new request: 409 too.
		h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "key-2").scimError(t, 409, "uniqueness")
		// … and a refusal records nothing: the key is free for a create.
		h.req("POST", "/Users", userBody("carol"), "Idempotency-Key", "key-2").must(t, 201)

		// Deleted since: the replay answers what a GET would.
		h.req("DELETE", "/Users/"+id, nil).must(t, 204)
		h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "key-1").scimError(t, 404, "")
	})
}

// TestIdempotencyKeyGroups: the same for POST /Groups; a replay shows the
// group as it is now.
func TestIdempotencyKeyGroups(t *testing.T) {
	forEachKeyBackend(t, func(t *testing.T, h *harness, _ *keyClock) {
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering"}`
		first := h.req("POST", "/Groups", body, "Idempotency-Key", "g-1").must(t, 201)
		id := gets(first.Body, "id")
		h.req("PATCH", "/Groups/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"externalId","value":"ext-1"}]}`).must(t, 204)
		again := h.req("POST", "/Groups", body, "Idempotency-Key", "g-1").must(t, 201)
		if gets(again.Body, "id") != id || gets(again.Body, "externalId") != "ext-1" {
			t.Errorf("replay %s, want group %s as it is now", again.Raw, id)
		}
		if again.Header.Get("Location") == "" || again.Header.Get(replayedHeader) != "true" {
			t.Errorf("replay headers %v", again.Header)
		}
		if a, e := countOps(t, h.store, h.tenantID, "group.create", "group.created"); a != 1 || e != 1 {
			t.Errorf("%d group.create audit entries and %d group.created events, want 1 and 1", a, e)
		}
		h.req("POST", "/Groups", body).scimError(t, 409, "uniqueness")
		h.req("POST", "/Groups", `{"displayName":"Other"}`, "Idempotency-Key", "g-1").scimError(t, 422, "")
	})
}

// TestIdempotencyKeyMalformed: keys that are empty, too long or not
// printable ASCII, and repeated headers, are 400 invalidValue and create
// nothing.
func TestIdempotencyKeyMalformed(t *testing.T) {
	forEachKeyBackend(t, func(t *testing.T, h *harness, _ *keyClock) {
		h.req("POST", "/Users", userBody("a1"), "Idempotency-Key", strings.Repeat("k", 256)).scimError(t, 400, "invalidValue")
		h.req("POST", "/Users", userBody("a1"), "Idempotency-Key", "clé").scimError(t, 400, "invalidValue")
		h.req("POST", "/Bulk", `{}`, "Idempotency-Key", "tab\there").scimError(t, 400, "invalidValue")
		// An empty header and two headers, straight through the handler.
		handler := h.srv.Config.Handler
		for _, vals := range [][]string{{""}, {"a", "b"}} {
			r := httptest.NewRequest("POST", "/scim/v2/Users", strings.NewReader(userBody("a1")))
			r.Header.Set("Authorization", "Bearer "+h.token)
			r.Header.Set("Content-Type", "application/scim+json")
			r.Header["Idempotency-Key"] = vals
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			if w.Code != 400 || !strings.Contains(w.Body.String(), "Idempotency-Key") {
				t.Errorf("Idempotency-Key %q: %d %s, want 400", vals, w.Code, w.Body)
			}
		}
		// A body over the limit (of unknown length, so only reading finds
		// out) is answered 413 as without a key.
		for _, path := range []string{"/scim/v2/Users", "/scim/v2/Bulk"} {
			big := `{"userName":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
			r := httptest.NewRequest("POST", path, io.NopCloser(strings.NewReader(big)))
			r.ContentLength = -1
			r.Header.Set("Authorization", "Bearer "+h.token)
			r.Header.Set("Content-Type", "application/scim+json")
			r.Header.Set("Idempotency-Key", "big")
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			if w.Code != 413 {
				t.Errorf("%s: oversized keyed body: %d %s, want 413", path, w.Code, w.Body)
			}
		}
		// The longest key is fine.
		h.req("POST", "/Users", userBody("a1"), "Idempotency-Key", strings.Repeat("~", 255)).must(t, 201)
		if n := countUsers(t, h.store, h.tenantID); n != 1 {
			t.Errorf("%d users, want 1", n)
		}
	})
}

// TestIdempotencyKeyConcurrent: eight simultaneous requests with one key
// and body create one user; every answer is that user (201) or a 409
// "in progress".
func TestIdempotencyKeyConcurrent(t *testing.T) {
	forEachKeyBackend(t, func(t *testing.T, h *harness, _ *keyClock) {
		for round, path := range []string{"/Users", "/Groups"} {
			body := userBody("racer")
			if path == "/Groups" {
				body = `{"displayName":"racers"}`
			}
			const n = 8
			var wg sync.WaitGroup
			answers := make([]resp, n)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					answers[i] = h.req("POST", path, body, "Idempotency-Key", fmt.Sprint("race-", round))
				}()
			}
			close(start)
			wg.Wait()
			ids := map[string]int{}
			for _, a := range answers {
				switch {
				case a.Status == 201:
					ids[gets(a.Body, "id")]++
				case a.Status == 409 && strings.Contains(gets(a.Body, "detail"), "in progress"):
				default:
					t.Errorf("%s: answer %d %s", path, a.Status, a.Raw)
				}
			}
			if len(ids) != 1 {
				t.Errorf("%s: ids answered %v, want one id", path, ids)
			}
		}
		if n := countUsers(t, h.store, h.tenantID); n != 1 {
			t.Errorf("%d users, want 1", n)
		}
		if a, e := countOps(t, h.store, h.tenantID, "user.create", "user.created"); a != 1 || e != 1 {
			t.Errorf("%d user.create audit entries and %d user.created events, want 1 and 1", a, e)
		}
		if a, e := countOps(t, h.store, h.tenantID, "group.create", "group.created"); a != 1 || e != 1 {
			t.Errorf("%d group.create audit entries and %d group.created events, want 1 and 1", a, e)
		}
	})
}

// TestIdempotencyKeyTenants: a key means nothing to another tenant.
func TestIdempotencyKeyTenants(t *testing.T) {
	forEachKeyBackend(t, func(t *testing.T, h *harness, _ *keyClock) {
		_, tokenB := h.newTenant("beta")
		a := h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "shared").must(t, 201)
		b := h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "shared", "Authorization", "Bearer "+tokenB).must(t, 201)
		if gets(a.Body, "id") == gets(b.Body, "id") || b.Header.Get(replayedHeader) != "" {
			t.Errorf("tenant B got tenant A's outcome: %s", b.Raw)
		}
		// Another body under the same key is B's own business.
		h.req("POST", "/Users", userBody("bob"), "Idempotency-Key", "other", "Authorization", "Bearer "+tokenB).must(t, 201)
		h.req("POST", "/Users", userBody("bob"), "Idempotency-Key", "other").must(t, 201)
		// Replays stay in their tenant.
		ra := h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "shared").must(t, 201)
		rb := h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "shared", "Authorization", "Bearer "+tokenB).must(t, 201)
		if gets(ra.Body, "id") != gets(a.Body, "id") || gets(rb.Body, "id") != gets(b.Body, "id") {
			t.Errorf("replays crossed tenants: A %s, B %s", ra.Raw, rb.Raw)
		}
	})
}

// TestIdempotencyKeyExpiry: after IdempotencyTTL a key is new again, and
// keyed requests purge the expired rows.
func TestIdempotencyKeyExpiry(t *testing.T) {
	forEachKeyBackend(t, func(t *testing.T, h *harness, clock *keyClock) {
		first := h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "k").must(t, 201)
		clock.advance(IdempotencyTTL - time.Second)
		h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "k").must(t, 201)
		h.req("POST", "/Users", userBody("bob"), "Idempotency-Key", "k").scimError(t, 422, "")
		clock.advance(time.Second)
		// Expired: the same body is a new create (409: alice exists) …
		h.req("POST", "/Users", userBody("alice"), "Idempotency-Key", "k").scimError(t, 409, "uniqueness")
		// … and another body creates under the old key.
		bob := h.req("POST", "/Users", userBody("bob"), "Idempotency-Key", "k").must(t, 201)
		if gets(bob.Body, "id") == gets(first.Body, "id") {
			t.Fatal("an expired key replayed its outcome")
		}
		again := h.req("POST", "/Users", userBody("bob"), "Idempotency-Key", "k").must(t, 201)
		if gets(again.Body, "id") != gets(bob.Body, "id") {
			t.Errorf("the new outcome of the key is not replayed: %s", again.Raw)
		}

		// Keyed requests purge expired keys (at most once a minute).
		h.req("POST", "/Users", userBody("carol"), "Idempotency-Key", "k2").must(t, 201)
		clock.advance(IdempotencyTTL + time.Minute)
		h.req("POST", "/Users", userBody("dave"), "Idempotency-Key", "k3").must(t, 201)
		n, err := h.store.PurgeIdempotencyKeys(context.Background(), clock.now(), 1000)
		if err != nil || n != 0 {
			t.Errorf("expired keys left after a keyed request: %d, %v", n, err)
		}
		if _, err := h.store.GetIdempotencyKey(context.Background(), h.tenantID, "k3", clock.now()); err != nil {
			t.Errorf("the live key k3: %v", err)
		}
	})
}

// TestIdempotencyKeyBulk: a /Bulk request retried with its key and body
// gets the identical response and runs nothing again; another body is a
// 422; a run in progress is a 409 with Retry-After, until it goes stale.
func TestIdempotencyKeyBulk(t *testing.T) {
	forEachKeyBackend(t, func(t *testing.T, h *harness, clock *keyClock) {
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
			{"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"bulk-a"}},
			{"method":"POST","path":"/Users","bulkId":"b","data":{"userName":"bulk-b"}},
			{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"bulk-g","members":[{"value":"bulkId:a"}]}},
			{"method":"POST","path":"/Users","bulkId":"c","data":{"userName":"bulk-a"}}]}`
		first := h.req("POST", "/Bulk", body, "Idempotency-Key", "bulk-1").must(t, 200)
		if !strings.Contains(string(first.Raw), `"status":"409"`) || strings.Count(string(first.Raw), `"status":"201"`) != 3 {
			t.Fatalf("first bulk answer: %s", first.Raw)
		}
		again := h.req("POST", "/Bulk", body, "Idempotency-Key", "bulk-1").must(t, 200)
		if !bytes.Equal(again.Raw, first.Raw) {
			t.Errorf("replayed bulk response differs:\n%s\nwant\n%s", again.Raw, first.Raw)
		}
		if again.Header.Get(replayedHeader) != "true" || !strings.HasPrefix(again.Header.Get("Content-Type"), "application/scim+json") {
			t.Errorf("replay headers %v", again.Header)
		}
		if n := countUsers(t, h.store, h.tenantID); n != 2 {
			t.Errorf("%d users after a replayed bulk, want 2", n)
		}
		if a, _ := countOps(t, h.store, h.tenantID, "user.create", ""); a != 3 { // two created, one conflict
			t.Errorf("%d user.create audit entries, want 3", a)
		}
		h.req("POST", "/Bulk", strings.Replace(body, "bulk-b", "bulk-x", 1), "Idempotency-Key", "bulk-1").scimError(t, 422, "")
		// Without a key the same request runs again: every create conflicts.
		plain := h.req("POST", "/Bulk", body).must(t, 200)
		if strings.Contains(string(plain.Raw), `"status":"201"`) {
			t.Errorf("a keyless bulk retry created again: %s", plain.Raw)
		}

		// A refusal of the whole request records nothing.
		h.req("POST", "/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[]}`,
			"Idempotency-Key", "bulk-2").must(t, 400)
		ok := h.req("POST", "/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
			{"method":"POST","path":"/Users","bulkId":"d","data":{"userName":"bulk-d"}}]}`, "Idempotency-Key", "bulk-2").must(t, 200)
		if !strings.Contains(string(ok.Raw), `"status":"201"`) {
			t.Errorf("bulk under a released key: %s", ok.Raw)
		}

		// A run in progress (its claim pending) holds the key off …
		pendingBody := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
			{"method":"POST","path":"/Users","bulkId":"e","data":{"userName":"bulk-e"}}]}`
		fp := sha256.Sum256([]byte("POST\x00/scim/v2/Bulk\x00" + pendingBody))
		now := clock.now().Truncate(store.TimePrecision)
		k := store.IdempotencyKey{TenantID: h.tenantID, Key: "bulk-3", Fingerprint: fp[:], State: store.IdempotencyPending,
			ResourceType: "Bulk", Created: now, Expires: now.Add(IdempotencyTTL)}
		if _, claimed, err := h.store.ClaimIdempotencyKey(context.Background(), &k, now.Add(-time.Minute)); err != nil || !claimed {
			t.Fatalf("claim: %v, %v", claimed, err)
		}
		busy := h.req("POST", "/Bulk", pendingBody, "Idempotency-Key", "bulk-3")
		if d := busy.scimError(t, 409, ""); !strings.Contains(d, "in progress") || busy.Header.Get("Retry-After") == "" {
			t.Errorf("pending key: %q, Retry-After %q", d, busy.Header.Get("Retry-After"))
		}
		if _, err := h.store.GetUserByUserName(context.Background(), h.tenantID, "bulk-e"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a bulk ran under a pending key: %v", err)
		}
		// … until it is stale (its server died mid-run): a retry takes over.
		clock.advance(bulkKeyStale + time.Second)
		took := h.req("POST", "/Bulk", pendingBody, "Idempotency-Key", "bulk-3").must(t, 200)
		if !strings.Contains(string(took.Raw), `"status":"201"`) || took.Header.Get(replayedHeader) != "" {
			t.Errorf("retry of a stale claim: %s", took.Raw)
		}
		replayed := h.req("POST", "/Bulk", pendingBody, "Idempotency-Key", "bulk-3").must(t, 200)
		if !bytes.Equal(replayed.Raw, took.Raw) {
			t.Errorf("replay after a take-over differs: %s", replayed.Raw)
		}
	})
}

// brokenWriter is a connection that died: the handler's answer is lost.
type brokenWriter struct{ h http.Header }

func (b *brokenWriter) Header() http.Header       { return b.h }
func (b *brokenWriter) WriteHeader(int)           {}
func (b *brokenWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// TestIdempotencyKeyLostAnswer: a create that committed but whose answer
// never reached the client (a crash or a cut connection after the
// commit) is found by the keyed retry: the original id, 201, and one
// user, audit entry and event — not a 409 loop.
func TestIdempotencyKeyLostAnswer(t *testing.T) {
	forEachKeyBackend(t, func(t *testing.T, h *harness, _ *keyClock) {
		for _, c := range []struct{ path, body, op, event, field string }{
			{"/Users", userBody("lost"), "user.create", "user.created", "userName"},
			{"/Groups", `{"displayName":"lost"}`, "group.create", "group.created", "displayName"},
		} {
			r := httptest.NewRequest("POST", "/scim/v2"+c.path, strings.NewReader(c.body))
			r.Header.Set("Authorization", "Bearer "+h.token)
			r.Header.Set("Content-Type", "application/scim+json")
			r.Header.Set("Idempotency-Key", "lost-"+c.path)
			h.srv.Config.Handler.ServeHTTP(&brokenWriter{h: http.Header{}}, r)

			// The client never saw an id; a plain retry would loop on 409.
			h.req("POST", c.path, c.body).scimError(t, 409, "uniqueness")
			retry := h.req("POST", c.path, c.body, "Idempotency-Key", "lost-"+c.path).must(t, 201)
			id := gets(retry.Body, "id")
			got := h.req("GET", c.path+"/"+id, nil).must(t, 200)
			if gets(got.Body, c.field) != "lost" {
				t.Errorf("%s: the retry's id %s is not the committed resource: %s", c.path, id, got.Raw)
			}
			if a, e := countOps(t, h.store, h.tenantID, c.op, c.event); a != 2 || e != 1 {
				// Two audit entries: the create and the keyless 409 attempt.
				t.Errorf("%s: %d %s audit entries and %d %s events, want 2 and 1", c.path, a, c.op, e, c.event)
			}
		}
		if n := countUsers(t, h.store, h.tenantID); n != 1 {
			t.Errorf("%d users, want 1", n)
		}
	})
}

// BenchmarkIdempotencyKey measures POST /Users through the handler
// without a key, with a new key each time (the key row is one more write
// in the create's transaction), and replayed (the same key and body each
// time: a key read and a user read).
func BenchmarkIdempotencyKey(b *testing.B) {
	for _, backend := range testenv.Backends {
		for _, mode := range []string{"plain", "keyed", "replay"} {
			b.Run(backend+"/"+mode, func(b *testing.B) {
				s := testenv.Open(b, backend)
				svc := provision.New(s, nil, nil)
				handler := NewServer(Config{Store: s, Provision: svc})
				ctx := context.Background()
				ten, err := svc.CreateTenant(ctx, provision.Actor{Name: "bench"}, "acme")
				if err != nil {
					b.Fatal(err)
				}
				tok, _, err := svc.CreateToken(ctx, provision.Actor{Name: "bench"}, provision.TokenSpec{TenantID: ten.ID})
				if err != nil {
					b.Fatal(err)
				}
				i := 0
				for b.Loop() {
					name, key := fmt.Sprint("user", i), fmt.Sprint("key", i)
					if mode == "replay" {
						name, key = "user", "key"
					}
					i++
					r := httptest.NewRequest("POST", "/scim/v2/Users", strings.NewReader(userBody(name)))
					r.Header.Set("Authorization", "Bearer "+tok)
					r.Header.Set("Content-Type", "application/scim+json")
					if mode != "plain" {
						r.Header.Set("Idempotency-Key", key)
					}
					w := httptest.NewRecorder()
					handler.ServeHTTP(w, r)
					if w.Code != 201 {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}
