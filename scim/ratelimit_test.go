package scim

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// limitedHarness is a harness whose server enforces limits with a clock
// the test moves by hand (it stands still otherwise, so no bucket refills
// behind the test's back).
func limitedHarness(t *testing.T, s store.Store, limits ratelimit.Limits) (*harness, *testClock) {
	t.Helper()
	c := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	svc := provision.New(s, c.now, nil)
	h := &harness{t: t, store: s, svc: svc, metrics: obs.NewMetrics()}
	h.srv = httptest.NewServer(NewServer(Config{Store: s, Provision: svc, Metrics: h.metrics, Now: c.now, RateLimits: limits}))
	t.Cleanup(h.srv.Close)
	h.base = h.srv.URL + "/scim/v2"
	h.tenantID, h.token = h.newTenant("acme")
	return h, c
}

// newToken mints another token of kind (store.TokenSCIM or TokenHost)
// for a tenant.
func newToken(t *testing.T, h *harness, tenantID, kind string) string {
	t.Helper()
	secret, _, err := h.svc.CreateToken(context.Background(), provision.Actor{Name: "test"},
		provision.TokenSpec{TenantID: tenantID, Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// throttled checks that r is a SCIM 429 with Retry-After wantRetry, and a
// detail naming the scope that refused it; it returns the detail.
func throttled(t *testing.T, r resp, scope string, wantRetry string) string {
	t.Helper()
	d := r.scimError(t, 429, "")
	if got := r.Header.Get("Retry-After"); got != wantRetry {
		t.Fatalf("Retry-After %q, want %q", got, wantRetry)
	}
	if !strings.Contains(d, "for this "+scope+" exceeded") || !strings.Contains(d, "retry after "+wantRetry+" s") {
		t.Fatalf("429 detail %q does not say the %s limit and when to retry", d, scope)
	}
	return d
}

func rateLimitedCount(h *harness, scope ratelimit.Scope) float64 {
	return testutil.ToFloat64(h.metrics.RateLimited.WithLabelValues(string(scope)))
}

// TestRateLimits: past a token's or a tenant's limit requests get 429
// with Retry-After and a SCIM error, change nothing, and other tenants go
// on unaffected.
func TestRateLimits(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, clock := limitedHarness(t, s, ratelimit.Limits{
			Tenant: ratelimit.Limit{Rate: 1, Burst: 6},
			Token:  ratelimit.Limit{Rate: 0.5, Burst: 4},
		})
		for range 4 {
			h.req("GET", "/Users?count=1", nil).must(t, 200)
		}
		// The token's bucket is empty: the next request waits 2 s (0.5/s).
		d := throttled(t, h.req("GET", "/Users?count=1", nil), "token", "2")
		if want := "rate limit of 0.5 requests/s (burst 4) for this token exceeded; retry after 2 s"; d != want {
			t.Fatalf("detail %q, want %q", d, want)
		}
		// A refused write changes nothing and leaves no audit entry.
		auditBefore := len(auditEntries(t, h))
		throttled(t, h.req("POST", "/Users", map[string]any{"userName": "throttled@example.com"}), "token", "2")
		if n := len(auditEntries(t, h)); n != auditBefore {
			t.Fatalf("a refused POST wrote %d audit entries", n-auditBefore)
		}

		// A second token of the same tenant has a full bucket of its own,
		// but the tenant has only 2 requests left.
		tok2 := newToken(t, h, h.tenantID, store.TokenSCIM)
		for range 2 {
			h.req("GET", "/Users?count=1", nil, "Authorization", "Bearer "+tok2).must(t, 200)
		}
		throttled(t, h.req("GET", "/Users?count=1", nil, "Authorization", "Bearer "+tok2), "tenant", "1")

		// Another tenant is not throttled while acme is.
		_, betaTok := h.newTenant("beta")
		for range 3 {
			h.req("GET", "/Users?count=1", nil, "Authorization", "Bearer "+betaTok).must(t, 200)
		}
		h.req("POST", "/Users", map[string]any{"userName": "beta@example.com"}, "Authorization", "Bearer "+betaTok).must(t, 201)

		// Discovery is public and not limited; a bad token is a 401, not 429.
		for range 10 {
			h.req("GET", "/ServiceProviderConfig", nil).must(t, 200)
		}
		h.req("GET", "/Users", nil, "Authorization", "Bearer scimd_nonsense").scimError(t, 401, "")

		// Time refills the buckets: after 2 s the first token may go again.
		clock.advance(2 * time.Second)
		r := h.req("GET", "/Users?filter="+url.QueryEscape(`userName eq "throttled@example.com"`), nil).must(t, 200)
		if n := get(r.Body, "totalResults"); n != float64(0) {
			t.Fatalf("the user of the refused POST exists: totalResults %v", n)
		}
		if got, want := rateLimitedCount(h, ratelimit.ScopeToken), 2.0; got != want {
			t.Fatalf("scimd_rate_limited_total{scope=token} = %v, want %v", got, want)
		}
		if got, want := rateLimitedCount(h, ratelimit.ScopeTenant), 1.0; got != want {
			t.Fatalf("scimd_rate_limited_total{scope=tenant} = %v, want %v", got, want)
		}
	})
}

// auditEntries reads the harness tenant's audit trail through the store.
func auditEntries(t *testing.T, h *harness) []store.AuditEntry {
	t.Helper()
	es, err := h.store.ListAudit(context.Background(), h.tenantID, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// bulkOps is a BulkRequest of n operations made by op(i).
func bulkOps(n int, op func(i int) map[string]any) map[string]any {
	ops := make([]any, n)
	for i := range ops {
		ops[i] = op(i)
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}, "Operations": ops}
}

// bulkStatuses counts the operations of a BulkResponse by status, and
// checks that every 429 says it is the rate limit.
func bulkStatuses(t *testing.T, r resp) map[string]int {
	t.Helper()
	r.must(t, 200)
	out := map[string]int{}
	ops, _ := r.Body["Operations"].([]any)
	for _, o := range ops {
		st := gets(o, "status")
		out[st]++
		if st == "429" && !strings.Contains(gets(o, "response.detail"), "rate limit of") {
			t.Fatalf("a 429 operation without the rate limit's detail: %v", o)
		}
	}
	return out
}

// TestRateLimitBulk: every operation of a /Bulk counts as a request, in
// batched creations and in operations run one by one alike, so a big
// Bulk cannot slip past the limit.
func TestRateLimitBulk(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, clock := limitedHarness(t, s, ratelimit.Limits{Token: ratelimit.Limit{Rate: 1, Burst: 10}})
		// 15 user creations (the batched path): the request itself takes
		// 1 of the 10, 9 creations go, 6 are refused.
		r := h.req("POST", "/Bulk", bulkOps(15, func(i int) map[string]any {
			return map[string]any{"method": "POST", "path": "/Users", "bulkId": fmt.Sprint("u", i),
				"data": map[string]any{"userName": fmt.Sprintf("bulk%d@example.com", i)}}
		}))
		if got := bulkStatuses(t, r); got["201"] != 9 || got["429"] != 6 {
			t.Fatalf("batched creations: %v, want 9 × 201 and 6 × 429", got)
		}
		// The limit holds: nothing is left for another request.
		throttled(t, h.req("GET", "/Users?count=1", nil), "token", "1")

		// Groups run one by one through the router: the same count.
		clock.advance(time.Minute)
		r = h.req("POST", "/Bulk", bulkOps(12, func(i int) map[string]any {
			return map[string]any{"method": "POST", "path": "/Groups", "bulkId": fmt.Sprint("g", i),
				"data": map[string]any{"displayName": fmt.Sprint("group ", i)}}
		}))
		if got := bulkStatuses(t, r); got["201"] != 9 || got["429"] != 3 {
			t.Fatalf("operations one by one: %v, want 9 × 201 and 3 × 429", got)
		}
		clock.advance(time.Minute)
		r = h.req("GET", "/Users?count=0", nil).must(t, 200)
		if n := get(r.Body, "totalResults"); n != float64(9) {
			t.Fatalf("%v users exist, want the 9 created", n)
		}
		r = h.req("GET", "/Groups?count=0", nil).must(t, 200)
		if n := get(r.Body, "totalResults"); n != float64(9) {
			t.Fatalf("%v groups exist, want the 9 created", n)
		}
	})
}

// TestRateLimitHostAPI: the host API is limited per host token and tenant
// too, in buckets apart from the SCIM API's.
func TestRateLimitHostAPI(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, clock := limitedHarness(t, s, ratelimit.Limits{
			Tenant: ratelimit.Limit{Rate: 1, Burst: 3},
			Token:  ratelimit.Limit{Rate: 1, Burst: 2},
		})
		host := newToken(t, h, h.tenantID, store.TokenHost)
		audit := h.srv.URL + "/api/v1/audit"
		for range 2 {
			h.req("GET", audit, nil, "Authorization", "Bearer "+host).must(t, 200)
		}
		r := h.req("GET", audit, nil, "Authorization", "Bearer "+host).must(t, 429)
		if r.Header.Get("Retry-After") != "1" || gets(r.Body, "error") != "rate_limited" ||
			!strings.Contains(gets(r.Body, "detail"), "rate limit of 1 requests/s (burst 2) for this token exceeded") {
			t.Fatalf("host API 429: Retry-After %q, body %s", r.Header.Get("Retry-After"), r.Raw)
		}
		// A second host token: the tenant's host bucket has 1 left.
		host2 := newToken(t, h, h.tenantID, store.TokenHost)
		h.req("GET", h.srv.URL+"/api/v1/users/nobody/access", nil, "Authorization", "Bearer "+host2).must(t, 200)
		r = h.req("GET", audit, nil, "Authorization", "Bearer "+host2).must(t, 429)
		if !strings.Contains(gets(r.Body, "detail"), "for this tenant exceeded") {
			t.Fatalf("second host token: %s, want a tenant refusal", r.Raw)
		}
		// The SCIM API's buckets are its own: the IdP is not throttled by
		// the host product.
		for range 2 {
			h.req("GET", "/Users?count=1", nil).must(t, 200)
		}
		clock.advance(time.Second)
		h.req("GET", audit, nil, "Authorization", "Bearer "+host).must(t, 200)
	})
}

// TestRateLimitPause: a refused request is held for the pause before its
// 429, but the refused operations of a /Bulk are not held one by one (with
// a pause of an hour, the Bulk would otherwise never answer).
func TestRateLimitPause(t *testing.T) {
	s := testenv.Open(t, "sqlite")
	h, _ := limitedHarness(t, s, ratelimit.Limits{Token: ratelimit.Limit{Rate: 1, Burst: 3}, Pause: 50 * time.Millisecond})
	for range 3 {
		h.req("GET", "/Users?count=1", nil).must(t, 200)
	}
	start := time.Now()
	throttled(t, h.req("GET", "/Users?count=1", nil), "token", "1")
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("the 429 came after %v, before the pause of 50ms", d)
	}

	h, clock := limitedHarness(t, testenv.Open(t, "sqlite"), ratelimit.Limits{Token: ratelimit.Limit{Rate: 1, Burst: 3}, Pause: time.Hour})
	r := h.req("POST", "/Bulk", bulkOps(6, func(i int) map[string]any {
		return map[string]any{"method": "POST", "path": "/Groups", "bulkId": fmt.Sprint("g", i),
			"data": map[string]any{"displayName": fmt.Sprint("group ", i)}}
	}))
	if got := bulkStatuses(t, r); got["201"] != 2 || got["429"] != 4 {
		t.Fatalf("bulk: %v, want 2 × 201 and 4 × 429", got)
	}
	clock.advance(time.Minute)
	h.req("GET", "/Groups?count=0", nil).must(t, 200)
}

// TestNoRateLimits: the zero Config limits nothing.
func TestNoRateLimits(t *testing.T) {
	h, _ := limitedHarness(t, testenv.Open(t, "sqlite"), ratelimit.Limits{})
	for range 50 {
		h.req("GET", "/Users?count=1", nil).must(t, 200)
	}
	if n := rateLimitedCount(h, ratelimit.ScopeToken) + rateLimitedCount(h, ratelimit.ScopeTenant); n != 0 {
		t.Fatalf("%v refusals counted without limits", n)
	}
}

// BenchmarkRateLimited measures the server's cost of a request refused by
// the rate limits (the 429 path: request id, routing, authentication from
// the token cache, the buckets, the SCIM error), next to an allowed
// userName look-up of the same tenant, through the handler without a
// network.
func BenchmarkRateLimited(b *testing.B) {
	ctx := context.Background()
	s := testenv.Open(b, "sqlite")
	c := &testClock{t: time.Now().UTC()}
	svc := provision.New(s, c.now, nil)
	h := NewServer(Config{Store: s, Provision: svc, Now: c.now, TokenCacheTTL: time.Hour,
		RateLimits: ratelimit.Limits{Token: ratelimit.Limit{Rate: 1, Burst: 1}}})
	a := provision.Actor{Name: "bench"}
	ten, err := svc.CreateTenant(ctx, a, "acme")
	if err != nil {
		b.Fatal(err)
	}
	token := func() string {
		secret, _, err := svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: ten.ID})
		if err != nil {
			b.Fatal(err)
		}
		return "Bearer " + secret
	}
	do := func(auth, method, path, body string) int {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", auth)
		if body != "" {
			r.Header.Set("Content-Type", "application/scim+json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if st := do(token(), "POST", "/scim/v2/Users", `{"userName":"ann@example.com"}`); st != 201 {
		b.Fatalf("creating the user: %d", st)
	}
	lookup := "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "ann@example.com"`)
	b.Run("refused", func(b *testing.B) {
		auth := token()
		if st := do(auth, "GET", lookup, ""); st != 200 { // the bucket's one request
			b.Fatalf("first look-up: %d", st)
		}
		for b.Loop() {
			if st := do(auth, "GET", lookup, ""); st != 429 {
				b.Fatalf("status %d, want 429", st)
			}
		}
	})
	b.Run("allowed", func(b *testing.B) {
		auth := token()
		for b.Loop() {
			c.advance(time.Second) // refills the one-request bucket
			if st := do(auth, "GET", lookup, ""); st != 200 {
				b.Fatalf("status %d, want 200", st)
			}
		}
	})
}

// TestRateLimitConcurrent: with one request of a tenant running at a time,
// a /Bulk's operations run inside their request's slot (no deadlock) and
// concurrent requests queue instead of failing. (That tenants do not wait
// for each other is TestEnter's, in internal/ratelimit.)
func TestRateLimitConcurrent(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, _ := limitedHarness(t, s, ratelimit.Limits{Concurrent: 1})
		r := h.req("POST", "/Bulk", bulkOps(20, func(i int) map[string]any {
			return map[string]any{"method": "POST", "path": "/Groups", "bulkId": fmt.Sprint("g", i),
				"data": map[string]any{"displayName": fmt.Sprint("group ", i)}}
		}))
		if got := bulkStatuses(t, r); got["201"] != 20 {
			t.Fatalf("bulk under a cap of 1: %v, want 20 × 201", got)
		}
		var wg sync.WaitGroup
		statuses := make(chan int, 12)
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- h.req("POST", "/Users", map[string]any{
					"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": fmt.Sprintf("c%d@example.com", i)}).Status
			}()
		}
		wg.Wait()
		close(statuses)
		for st := range statuses {
			if st != http.StatusCreated {
				t.Fatalf("a queued create answered %d, want 201", st)
			}
		}
		if n := get(h.req("GET", "/Users?count=0", nil).must(t, 200).Body, "totalResults"); n != float64(12) {
			t.Fatalf("%v users exist, want the 12 created", n)
		}
	})
}
