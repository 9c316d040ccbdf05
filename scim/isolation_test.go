package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// The tenant isolation matrix (issue 9 item 1): every route of the router,
// found by walking it, is either covered by cases below or exempted with a
// reason. A case sends a request as tenant B naming one of tenant A's
// identifiers, and the same request naming an identifier that exists
// nowhere (the "twin"); both must get the expected refusal (404 or 400,
// or for listings 200 with nothing found), the two answers must be the
// same once the identifier sent is replaced by a placeholder, no answer
// may contain any of A's identifiers, and neither A nor B may change.

const (
	isoUserURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	isoGroupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	isoPatchURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	isoSearchURN     = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	isoBulkURN       = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	isoErrorURN      = "urn:ietf:params:scim:api:messages:2.0:Error"
	isoEnterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// isoRequestID is sent as X-Request-Id with every request of the
	// matrix, so that answers naming their request id compare equal.
	isoRequestID = "iso-probe"
)

// isoExempt are the routes the matrix does not probe, with the reason.
// They take no tenant's identifier: public documents and probes, the
// console's static files and the steps of signing in and out.
var isoExempt = map[string]string{
	"GET /healthz":                       "public liveness probe; no tenant data",
	"GET /readyz":                        "public readiness probe; no tenant data",
	"GET /scim/v2/ServiceProviderConfig": "public discovery document (RFC 7644 §4); no tenant data",
	"GET /scim/v2/serviceConfiguration":  "public discovery document (alias); no tenant data",
	"GET /scim/v2/ResourceTypes":         "public discovery document; no tenant data",
	"GET /scim/v2/ResourceTypes/{name}":  "public discovery document; its parameter is a schema name, not a tenant's identifier",
	"GET /scim/v2/Schemas":               "public discovery document; no tenant data",
	"GET /scim/v2/Schemas/{urn}":         "public discovery document; its parameter is a schema URN, not a tenant's identifier",
	"GET /admin/login":                   "console sign-in form; no session, no tenant data",
	"POST /admin/login":                  "console sign-in: takes a one-time link secret (a credential, not an identifier); a tenant's link signs in to that tenant by design",
	"GET /admin/lang":                    "language switch: sets a cookie and redirects; names no tenant's identifier",
	"GET /admin/":                        "redirect to /admin/users; names no identifier",
	"POST /admin/logout":                 "ends the caller's own session; names no identifier",
	"GET /admin/static/*":                "the console's embedded static files; no tenant data",
	"*/admin/static/*":                   "the console's embedded static files (every method); no tenant data",
	"*/metrics":                          "Prometheus metrics for the operator, labelled by route pattern, method, status and the like, never by tenant; scanned for A's identifiers by scanPublic",
}

// isoApart are the routes probed apart from the table, by namespaces.
var isoApart = map[string]string{
	"POST /scim/v2/Users": "B creates users with A's userName, externalId, email and Idempotency-Key: 201, B's own user, A untouched",
}

// isoExpect is what both answers of a case must be.
type isoExpect int

const (
	// expTwin: both twins get one of the case's statuses (a 404 or 400
	// unless the case says why not) and the same answer.
	expTwin isoExpect = iota
	// expEmpty: a listing or a look-up that finds nothing: count must
	// return 0 (besides what expTwin asks).
	expEmpty
	// expScan: one request per value, no twin: the answer is the caller's
	// own data (a page, a feed) and must contain none of A's identifiers.
	expScan
)

// isoReq is one request of the matrix, sent with the credentials of the
// tenant it is sent as (SCIM token, host token or console session by the
// path's prefix).
type isoReq struct {
	method, path string
	body         any        // JSON-encoded unless []byte
	form         url.Values // console forms; the session's CSRF token is added
	header       []string   // extra header name/value pairs
}

type isoResp struct {
	status int
	header http.Header
	body   []byte
}

// isoCase is one way of naming A's identifiers on one route.
type isoCase struct {
	route string // "METHOD pattern" as chi.Walk reports it
	name  string
	exp   isoExpect
	// statuses are the statuses allowed (both twins get the same one).
	statuses []int
	// values are A's identifiers named, each sent against nowhere.
	values  []string
	nowhere string
	build   func(v string) isoReq
	// count returns the number of results of a listing (expEmpty).
	count func(r isoResp) (int, error)
	// check, when set, is a further check of each answer of the twins.
	check func(r isoResp) error
	// control, when set, is the same request naming B's own identifier,
	// which must get controlStatus: proof that the request is well formed
	// and that the refusal comes from the tenant boundary.
	control       string
	controlStatus int
	controlCheck  func(r isoResp) error
	// changesB, when set, says why the request may change B's own state
	// (never A's): then B's state is not compared before and after, and
	// the twins are compared with the ids and versions their changes
	// write masked (maskVolatile).
	changesB string
}

// isoTenant is one tenant of the matrix and its credentials.
type isoTenant struct {
	id, name         string
	scim, host       string // token secrets
	scimID, hostID   string // token ids
	spareTokenID     string // a token the console may revoke (B's control)
	cookie, csrf     string // console session
	admin, adminName string // the console admin's id and userName
	live, inactive   string // user ids
	deleted          string // a deleted user's id (tombstone)
	other            string // a second live member
	userName, extID  string // of live
	email            string // of live (work)
	group, group2    string // group ids
	groupName        string // displayName of group
	groupExtID       string
	deadEvent        string // an event with a dead delivery
	anyEvent         string // an event without one
	feed             string // the tenant's event feed position after setup
	userCursor       string // an RFC 9865 nextCursor of the tenant's /Users
	groupCursor      string // and of its /Groups
	hookURL          string
	// identifiers are every identifier of the tenant, for the leak scan.
	identifiers []string
}

// isoReporter receives the findings of the matrix: the test itself, or a
// recorder in TestTenantIsolationMatrixFails.
type isoReporter interface {
	Errorf(format string, args ...any)
}

type isoWorld struct {
	t      *testing.T
	report isoReporter
	// intercept, when set, answers a request before the server does: the
	// leaks TestTenantIsolationMatrixFails plants.
	intercept atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
	store     store.Store
	svc       *provision.Service
	handler   http.Handler
	srv       *httptest.Server
	client    *http.Client
	a, b      *isoTenant
	sent      int
}

func TestTenantIsolationMatrix(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		start := time.Now()
		w := newIsoWorld(t, s)
		cases := w.cases()
		pairs := w.checkCoverage(cases)
		if t.Failed() {
			return
		}
		snapA := w.snapshot(w.a)
		n := 0
		perRoute := map[string][2]int{} // route → cases, comparisons
		for _, c := range cases {
			k := w.run(c)
			n += k
			pr := perRoute[c.route]
			perRoute[c.route] = [2]int{pr[0] + 1, pr[1] + k}
		}
		var lines []string
		for r, pr := range perRoute {
			lines = append(lines, fmt.Sprintf("%s: %d cases, %d comparisons", r, pr[0], pr[1]))
		}
		sort.Strings(lines)
		t.Logf("per route:\n%s", strings.Join(lines, "\n"))
		w.scanPublic()
		after := w.snapshot(w.a)
		if after.Events != snapA.Events || after.Audit != snapA.Audit {
			t.Errorf("tenant A has %d events and %d audit entries after the matrix, %d and %d before", after.Events, after.Audit, snapA.Events, snapA.Audit)
		}
		if after.JSON != snapA.JSON {
			t.Errorf("tenant A changed during the matrix:\n%s", firstDiff(snapA.JSON, after.JSON))
		}
		w.namespaces()
		w.controlsOfA()
		t.Logf("isolation matrix: %d routes walked, %d (route, method) pairs probed by %d cases (%d comparisons of A's identifiers with nowhere), %d exempt; %d requests; %s",
			pairs.walked, pairs.probed, len(cases), n, pairs.exempt, w.sent, time.Since(start).Round(time.Millisecond))
	})
}

type isoCoverage struct{ walked, probed, exempt int }

// checkCoverage walks the router and fails for every route neither probed
// nor exempt, and for every case or exemption naming a route that does not
// exist.
func (w *isoWorld) checkCoverage(cases []isoCase) isoCoverage {
	t := w.t
	routes, ok := w.handler.(chi.Routes)
	if !ok {
		t.Fatalf("NewServer returned %T, not a chi router: the matrix cannot walk it", w.handler)
	}
	walked := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		walked[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	probed := map[string]bool{}
	for k := range isoApart {
		if !walked[k] {
			w.report.Errorf("the matrix probes %q, which is not a route (any more): update isoApart", k)
		}
		probed[k] = true
	}
	for _, c := range cases {
		if !walked[c.route] {
			w.report.Errorf("the matrix probes %q, which is not a route (any more): update the table", c.route)
		}
		probed[c.route] = true
	}
	exemptUsed := map[string]bool{}
	var cov isoCoverage
	keys := make([]string, 0, len(walked))
	for k := range walked {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cov.walked++
		if probed[k] {
			cov.probed++
			continue
		}
		method, pattern, _ := strings.Cut(k, " ")
		if why, ok := isoExempt[k]; ok && why != "" {
			exemptUsed[k] = true
			cov.exempt++
			continue
		}
		if why, ok := isoExempt["*"+pattern]; ok && why != "" {
			exemptUsed["*"+pattern] = true
			cov.exempt++
			continue
		}
		w.report.Errorf("route %s %s is neither probed by the isolation matrix nor exempt: add cases for it (or an exemption with its reason)", method, pattern)
	}
	for k, why := range isoExempt {
		if why == "" {
			continue
		}
		if !exemptUsed[k] && !probed[k] {
			w.report.Errorf("exemption %q names no route (any more): remove it", k)
		}
	}
	return cov
}

func newIsoWorld(t *testing.T, s store.Store) *isoWorld {
	t.Helper()
	svc := provision.New(s, nil, nil)
	w := &isoWorld{t: t, report: t, store: s, svc: svc}
	w.handler = NewServer(Config{Store: s, Provision: svc})
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if f := w.intercept.Load(); f != nil && (*f)(rw, r) {
			return
		}
		w.handler.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.srv.Close)
	w.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := context.Background()
	// Each tenant gets a webhook before its data, so that every event has
	// a delivery; one of them is made dead below.
	w.a = w.tenant(ctx, "tenant-alpha", "alpha", "Alpha")
	w.b = w.tenant(ctx, "tenant-bravo", "bravo", "Bravo")
	w.deadDeliveries(ctx)
	for _, ten := range []*isoTenant{w.a, w.b} {
		evs, err := s.ListEvents(ctx, ten.id, "", 10000)
		if err != nil {
			t.Fatal(err)
		}
		dead, err := s.ListDeliveries(ctx, ten.id, store.DeliveryDead, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) == 0 || len(evs) < 2 {
			t.Fatalf("tenant %s: %d events, %d dead deliveries; the matrix needs both", ten.name, len(evs), len(dead))
		}
		ten.deadEvent = dead[0].Event.ID
		for _, e := range evs {
			ten.identifiers = append(ten.identifiers, e.ID)
			if ten.anyEvent == "" && !slices.ContainsFunc(dead, func(d store.Delivery) bool { return d.Event.ID == e.ID }) {
				ten.anyEvent = e.ID
			}
		}
		if ten.anyEvent == "" {
			t.Fatalf("tenant %s: every event has a dead delivery; the matrix needs one that has none", ten.name)
		}
		_, next, err := s.EventFeed(ctx, ten.id, "", 10000)
		if err != nil {
			t.Fatal(err)
		}
		ten.feed = next
		toks, err := s.ListTokens(ctx, ten.id)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range toks {
			ten.identifiers = append(ten.identifiers, k.ID)
		}
		ten.signIn(w)
	}
	return w
}

// tenant creates a tenant with an admin, users (with externalIds and work
// emails; one inactive, one deleted), two groups with members, a SCIM and
// a host token, a spare token and a webhook.
func (w *isoWorld) tenant(ctx context.Context, name, key, title string) *isoTenant {
	t := w.t
	a := provision.Actor{Name: "test"}
	ten, err := w.svc.CreateTenant(ctx, a, name)
	if err != nil {
		t.Fatal(err)
	}
	x := &isoTenant{id: ten.ID, name: name, hookURL: "http://127.0.0.1:9/hooks/" + key}
	a.TenantID = ten.ID
	if _, _, err := w.svc.CreateWebhook(ctx, a, x.hookURL); err != nil {
		t.Fatal(err)
	}
	var tok store.Token
	if x.scim, tok, err = w.svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: ten.ID}); err != nil {
		t.Fatal(err)
	}
	x.scimID = tok.ID
	if x.host, tok, err = w.svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: ten.ID, Kind: store.TokenHost}); err != nil {
		t.Fatal(err)
	}
	x.hostID = tok.ID
	if _, tok, err = w.svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: ten.ID}); err != nil {
		t.Fatal(err)
	}
	x.spareTokenID = tok.ID

	x.adminName = "admin." + key + "@" + key + ".example"
	adminEmail := "admin.work@" + key + ".example"
	doc := fmt.Sprintf(`{"userName":%q,"displayName":"%s Admin","emails":[{"value":%q,"type":"work","primary":true}]}`, x.adminName, title, adminEmail)
	admin, err := w.svc.CreateUser(ctx, a, store.User{UserName: x.adminName, DisplayName: title + " Admin", Active: true, Role: store.RoleAdmin,
		Doc: []byte(doc), Emails: []store.Email{{Value: adminEmail, Type: "work", Primary: true}}})
	if err != nil {
		t.Fatal(err)
	}
	x.admin = admin.ID
	x.identifiers = append(x.identifiers, ten.ID, name, x.hookURL, x.admin, x.adminName, adminEmail, title+" Admin")

	user := func(first string, active bool, manager string) string {
		t.Helper()
		un := first + "@" + key + ".example"
		ext := "ext-" + key + "-" + first
		email := first + ".work@" + key + ".example"
		doc := map[string]any{
			"schemas": []string{isoUserURN}, "userName": un, "externalId": ext, "active": active,
			"displayName": title + " " + first, "name": map[string]any{"givenName": first, "familyName": title},
			"emails": []any{map[string]any{"value": email, "type": "work", "primary": true}},
		}
		if manager != "" {
			doc["schemas"] = []string{isoUserURN, isoEnterpriseURN}
			doc[isoEnterpriseURN] = map[string]any{"manager": map[string]any{"value": manager}}
		}
		r := w.do(x, isoReq{method: http.MethodPost, path: "/scim/v2/Users", body: doc})
		if r.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", un, r.status, r.body)
		}
		var got struct{ ID string }
		if err := json.Unmarshal(r.body, &got); err != nil || got.ID == "" {
			t.Fatalf("create %s: %s", un, r.body)
		}
		x.identifiers = append(x.identifiers, got.ID, un, ext, email, title+" "+first)
		return got.ID
	}
	first := map[string][4]string{"alpha": {"amy", "abe", "ada", "ari"}, "bravo": {"bea", "ben", "bud", "bix"}}[key]
	x.live = user(first[0], true, "")
	x.userName, x.extID, x.email = first[0]+"@"+key+".example", "ext-"+key+"-"+first[0], first[0]+".work@"+key+".example"
	x.inactive = user(first[1], false, "")
	x.deleted = user(first[2], true, "")
	x.other = user(first[3], true, x.live)

	group := func(display string, members ...string) string {
		t.Helper()
		ms := []any{}
		for _, m := range members {
			ms = append(ms, map[string]any{"value": m})
		}
		ext := "ext-" + strings.ReplaceAll(strings.ToLower(display), " ", "-")
		r := w.do(x, isoReq{method: http.MethodPost, path: "/scim/v2/Groups", body: map[string]any{
			"schemas": []string{isoGroupURN}, "displayName": display, "externalId": ext, "members": ms,
		}})
		if r.status != http.StatusCreated {
			t.Fatalf("create group %s: %d %s", display, r.status, r.body)
		}
		var got struct{ ID string }
		if err := json.Unmarshal(r.body, &got); err != nil || got.ID == "" {
			t.Fatalf("create group %s: %s", display, r.body)
		}
		x.identifiers = append(x.identifiers, got.ID, display, ext)
		return got.ID
	}
	x.groupName = title + " Engineers"
	x.groupExtID = "ext-" + key + "-engineers"
	x.group = group(x.groupName, x.live, x.inactive, x.deleted)
	x.group2 = group(title+" Admins", x.admin, x.group)

	cursor := func(res string) string {
		t.Helper()
		r := w.do(x, isoReq{method: http.MethodGet, path: "/scim/v2/" + res + "?count=1&cursor"})
		var l struct{ NextCursor string }
		if err := json.Unmarshal(r.body, &l); err != nil || r.status != http.StatusOK || l.NextCursor == "" {
			t.Fatalf("%s of %s: no nextCursor: %d %s", res, name, r.status, r.body)
		}
		return l.NextCursor
	}
	x.userCursor, x.groupCursor = cursor("Users"), cursor("Groups")

	if r := w.do(x, isoReq{method: http.MethodDelete, path: "/scim/v2/Users/" + x.deleted}); r.status != http.StatusNoContent {
		t.Fatalf("delete %s: %d %s", x.deleted, r.status, r.body)
	}
	if _, err := w.store.GetTombstone(ctx, x.id, x.deleted); err != nil {
		t.Fatalf("the deleted user of %s left no tombstone (%v); the matrix needs one", name, err)
	}
	return x
}

// deadDeliveries makes some deliveries of every tenant dead, so that the
// console's retry has events of each to name.
func (w *isoWorld) deadDeliveries(ctx context.Context) {
	now := time.Now()
	ds, err := w.store.ClaimDeliveries(ctx, now, time.Minute, 1000)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, d := range ds {
		if err := w.store.FinishDelivery(ctx, d, store.DeliveryOutcome{At: now, Dead: true, Status: 500, Error: "test"}); err != nil {
			w.t.Fatal(err)
		}
	}
}

var isoCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs the tenant's admin in to the console as a browser does and
// keeps the session cookie and its CSRF token.
func (x *isoTenant) signIn(w *isoWorld) {
	t := w.t
	link, err := console.IssueLoginLink(context.Background(), w.store, w.svc, provision.Actor{Name: "test"}, x.name, x.adminName, w.srv.URL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil || u.Fragment == "" {
		t.Fatalf("sign-in link %q", link)
	}
	r := w.send(http.MethodPost, "/admin/login", strings.NewReader(url.Values{"token": {u.Fragment}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign-in to %s: %d %s", x.name, r.status, r.body)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "scimd_console" && c.Value != "" {
			x.cookie = c.Value
		}
	}
	if x.cookie == "" {
		t.Fatalf("sign-in to %s set no session cookie", x.name)
	}
	p := w.do(x, isoReq{method: http.MethodGet, path: "/admin/users"})
	m := isoCSRF.FindSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("users page of %s: %d, no CSRF token", x.name, p.status)
	}
	x.csrf = html.UnescapeString(string(m[1]))
}

// send sends one request with no credentials but those in hdr.
func (w *isoWorld) send(method, path string, body io.Reader, hdr ...string) isoResp {
	w.t.Helper()
	req, err := http.NewRequest(method, w.srv.URL+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", isoRequestID)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := w.client.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	w.sent++
	return isoResp{status: res.StatusCode, header: res.Header, body: raw}
}

// do sends q as tenant x: with its SCIM token under /scim/v2, its host
// token under /api/v1, its console session (and CSRF token, for forms)
// under /admin.
func (w *isoWorld) do(x *isoTenant, q isoReq) isoResp {
	w.t.Helper()
	var body io.Reader
	hdr := slices.Clone(q.header)
	switch {
	case q.form != nil:
		f := url.Values{}
		for k, v := range q.form {
			f[k] = slices.Clone(v)
		}
		f.Set("csrf", x.csrf)
		body = strings.NewReader(f.Encode())
		hdr = append(hdr, "Content-Type", "application/x-www-form-urlencoded")
	case q.body != nil:
		b, ok := q.body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(q.body); err != nil {
				w.t.Fatal(err)
			}
		}
		body = bytes.NewReader(b)
		hdr = append(hdr, "Content-Type", "application/scim+json")
	}
	switch {
	case strings.HasPrefix(q.path, "/scim/v2/"):
		hdr = append(hdr, "Authorization", "Bearer "+x.scim)
	case strings.HasPrefix(q.path, "/api/v1/"):
		hdr = append(hdr, "Authorization", "Bearer "+x.host)
	case strings.HasPrefix(q.path, console.Prefix+"/"):
		hdr = append(hdr, "Cookie", "scimd_console="+x.cookie)
	}
	return w.send(q.method, q.path, body, hdr...)
}

// isoSnapshot is everything of a tenant that a request could change.
type isoSnapshot struct {
	JSON   string
	Events int
	Audit  int
}

// snapshot reads every user (live and deleted) and group document with
// its version, memberships, events, audit entries, tokens, webhooks and
// deliveries of a tenant.
func (w *isoWorld) snapshot(x *isoTenant) isoSnapshot {
	t := w.t
	t.Helper()
	ctx := context.Background()
	s := w.store
	var snap struct {
		Tenant     store.Tenant
		Users      []store.User
		Deleted    []store.User
		Groups     []store.Group
		Members    map[string][]store.Member
		Events     []store.Event
		Audit      []store.AuditEntry
		Tokens     []store.Token
		Webhooks   []store.Webhook
		Deliveries []store.Delivery
		Counts     map[string]int
	}
	var err error
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("snapshot of %s: %s: %v", x.name, what, err)
		}
	}
	snap.Tenant, err = s.GetTenant(ctx, x.id)
	fail("tenant", err)
	up, err := s.ListUsers(ctx, x.id, store.Query{Limit: 10000, WithGroups: true})
	fail("users", err)
	snap.Users = up.Users
	dp, err := s.ListUsers(ctx, x.id, store.Query{Limit: 10000, Deleted: true})
	fail("deleted users", err)
	snap.Deleted = dp.Users
	gp, err := s.ListGroups(ctx, x.id, store.Query{Limit: 10000})
	fail("groups", err)
	snap.Groups = gp.Groups
	var gids []string
	for _, g := range gp.Groups {
		gids = append(gids, g.ID)
	}
	snap.Members, err = s.GroupMembers(ctx, x.id, gids)
	fail("members", err)
	snap.Events, err = s.ListEvents(ctx, x.id, "", 100000)
	fail("events", err)
	snap.Audit, err = s.ListAudit(ctx, x.id, "", 100000)
	fail("audit", err)
	snap.Tokens, err = s.ListTokens(ctx, x.id)
	fail("tokens", err)
	snap.Webhooks, err = s.ListWebhooks(ctx, x.id)
	fail("webhooks", err)
	snap.Deliveries, err = s.ListDeliveries(ctx, x.id, "", 100000)
	fail("deliveries", err)
	snap.Counts, err = s.CountDeliveries(ctx, x.id)
	fail("delivery counts", err)
	b, err := json.Marshal(snap)
	fail("encoding", err)
	return isoSnapshot{JSON: string(b), Events: len(snap.Events), Audit: len(snap.Audit)}
}

// stateOf is the part of B's snapshot a refused request must leave alone:
// everything but the audit trail, which records B's own refused attempts.
func (w *isoWorld) stateOf(x *isoTenant) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(w.snapshot(x).JSON), &m); err != nil {
		w.t.Fatal(err)
	}
	delete(m, "Audit")
	b, _ := json.Marshal(m)
	return string(b)
}

// isoTimestamp matches the times answers show (RFC 3339 in JSON, the
// console's "2006-01-02 15:04 UTC").
var isoTimestamp = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}| UTC)?`)

// normalize is an answer with the identifier sent replaced by a
// placeholder (in every escaping it can take) and times removed: what two
// twins must agree on.
func normalize(r isoResp, probe string) string {
	repl := func(s string) string {
		if probe == "" {
			return isoTimestamp.ReplaceAllString(s, "<time>")
		}
		for _, form := range []string{probe, url.QueryEscape(url.QueryEscape(probe)), strings.ReplaceAll(url.QueryEscape(probe), "+", "&#43;"), url.QueryEscape(probe), url.PathEscape(probe), html.EscapeString(probe), strings.ToLower(probe)} {
			s = strings.ReplaceAll(s, form, "<probe>")
		}
		return isoTimestamp.ReplaceAllString(s, "<time>")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", r.status)
	for _, h := range []string{"Content-Type", "Content-Language", "Location", "ETag", "WWW-Authenticate", "Cache-Control", "Retry-After", "X-Request-Id"} {
		if v := r.header.Values(h); len(v) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", h, repl(strings.Join(v, ", ")))
		}
	}
	b.WriteString(repl(string(r.body)))
	return b.String()
}

var (
	isoUUID    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	isoVersion = regexp.MustCompile(`W/\\?"\d+\\?"`)
	isoNew     = regexp.MustCompile(`new-\d+@`)
)

// maskVolatile removes from a normalized answer what differs between two
// requests that each change B's own state: the ids of what they create
// and the versions they write. Leaks are scanned for before.
func maskVolatile(s string) string {
	s = isoNew.ReplaceAllString(s, "new-<n>@")
	return isoVersion.ReplaceAllString(isoUUID.ReplaceAllString(s, "<id>"), "<version>")
}

// leaks returns the identifiers of x an answer contains once the probe is
// replaced.
func leaks(x *isoTenant, normalized string) []string {
	low := strings.ToLower(normalized)
	var out []string
	for _, id := range x.identifiers {
		if id != "" && strings.Contains(low, strings.ToLower(id)) {
			out = append(out, id)
		}
	}
	return out
}

// run runs a case and returns how many of A's identifiers it compared
// with nowhere.
func (w *isoWorld) run(c isoCase) int {
	t := w.t
	t.Helper()
	label := c.route + " [" + c.name + "]"
	n := 0
	// Reads are checked against the snapshot of A taken before and after
	// the whole matrix; the rest, and the host API's reads (an access
	// check records activity), also case by case.
	perCase := !strings.HasPrefix(c.route, "GET ") || strings.HasPrefix(c.route, "GET /api/v1/")
	var beforeA, beforeB string
	if perCase {
		beforeA, beforeB = w.snapshot(w.a).JSON, w.stateOf(w.b)
	}
	for _, v := range c.values {
		ra := w.do(w.b, c.build(v))
		probe := v
		if c.exp == expScan {
			probe = "" // the answer is B's own: scan it whole
		}
		na := normalize(ra, probe)
		w.expect(c, label, v, ra, na)
		if c.exp == expTwin || c.exp == expEmpty {
			rn := w.do(w.b, c.build(c.nowhere))
			nn := normalize(rn, c.nowhere)
			w.expect(c, label, "nowhere "+c.nowhere, rn, nn)
			if c.changesB != "" {
				na, nn = maskVolatile(na), maskVolatile(nn)
			}
			if na != nn {
				w.report.Errorf("%s: A's %s and an identifier that exists nowhere get different answers:\n%s", label, v, firstDiff(na, nn))
			}
			n++
		}
	}
	if perCase {
		if after := w.snapshot(w.a).JSON; after != beforeA {
			w.report.Errorf("%s changed tenant A:\n%s", label, firstDiff(beforeA, after))
		}
		if after := w.stateOf(w.b); after != beforeB && c.changesB == "" {
			w.report.Errorf("%s changed tenant B:\n%s", label, firstDiff(beforeB, after))
		}
	}
	if c.control != "" {
		r := w.do(w.b, c.build(c.control))
		if r.status != c.controlStatus {
			w.report.Errorf("%s: control with B's own %s: status %d, want %d: %s", label, c.control, r.status, c.controlStatus, clip(string(r.body)))
		} else if c.controlCheck != nil {
			if err := c.controlCheck(r); err != nil {
				w.report.Errorf("%s: control with B's own %s: %v", label, c.control, err)
			}
		}
	}
	return n
}

// expect checks one answer against the case's expectation.
func (w *isoWorld) expect(c isoCase, label, v string, r isoResp, normalized string) {
	t := w.t
	t.Helper()
	if !slices.Contains(c.statuses, r.status) {
		w.report.Errorf("%s naming %s: status %d, want one of %v: %s", label, v, r.status, c.statuses, clip(string(r.body)))
		return
	}
	if l := leaks(w.a, normalized); len(l) > 0 {
		w.report.Errorf("%s naming %s: the answer contains A's identifiers %q: %s", label, v, l, clip(normalized))
	}
	if strings.HasPrefix(c.route, "GET /scim/v2") || strings.HasPrefix(c.route, "POST /scim/v2") || strings.HasPrefix(c.route, "PUT /scim/v2") ||
		strings.HasPrefix(c.route, "PATCH /scim/v2") || strings.HasPrefix(c.route, "DELETE /scim/v2") {
		if r.status >= 400 {
			if err := isSCIMError(r); err != nil {
				w.report.Errorf("%s naming %s: %v", label, v, err)
			}
		}
	}
	if c.exp == expEmpty {
		got, err := c.count(r)
		if err != nil {
			w.report.Errorf("%s naming %s: %v: %s", label, v, err, clip(string(r.body)))
		} else if got != 0 {
			w.report.Errorf("%s naming %s: %d results, want none: %s", label, v, got, clip(string(r.body)))
		}
	}
	if c.check != nil {
		if err := c.check(r); err != nil {
			w.report.Errorf("%s naming %s: %v: %s", label, v, err, clip(string(r.body)))
		}
	}
}

func isSCIMError(r isoResp) error {
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		return fmt.Errorf("error with content type %q", ct)
	}
	var e struct {
		Schemas []string
		Status  string
		Detail  string
	}
	if err := json.Unmarshal(r.body, &e); err != nil || len(e.Schemas) != 1 || e.Schemas[0] != isoErrorURN ||
		e.Status != fmt.Sprint(r.status) || e.Detail == "" {
		return fmt.Errorf("not a SCIM error body (RFC 7644 §3.12): %s", r.body)
	}
	return nil
}

// firstDiff shows where two texts first differ.
func firstDiff(x, y string) string {
	i := 0
	for i < len(x) && i < len(y) && x[i] == y[i] {
		i++
	}
	from := max(0, i-200)
	return fmt.Sprintf("at byte %d:\n  %q\n  %q", i, x[from:min(len(x), i+300)], y[from:min(len(y), i+300)])
}

func clip(s string) string {
	if len(s) > 1500 {
		return s[:1500] + "…"
	}
	return s
}

// scimTotal counts the results of a SCIM ListResponse.
func scimTotal(r isoResp) (int, error) {
	var l struct {
		TotalResults *int
		Resources    []json.RawMessage
	}
	if err := json.Unmarshal(r.body, &l); err != nil || l.TotalResults == nil {
		return 0, fmt.Errorf("not a ListResponse")
	}
	if len(l.Resources) > *l.TotalResults {
		return len(l.Resources), nil
	}
	return *l.TotalResults, nil
}

func wantAtLeast(n int) func(isoResp) error {
	return func(r isoResp) error {
		got, err := scimTotal(r)
		if err != nil {
			return err
		}
		if got < n {
			return fmt.Errorf("%d results, want at least %d", got, n)
		}
		return nil
	}
}

func wantTotal(n int) func(isoResp) error {
	return func(r isoResp) error {
		got, err := scimTotal(r)
		if err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("%d results, want %d", got, n)
		}
		return nil
	}
}

func contains(s string) func(isoResp) error {
	return func(r isoResp) error {
		if !strings.Contains(string(r.body), s) {
			return fmt.Errorf("the answer does not contain %q", s)
		}
		return nil
	}
}

// forged is a cursor of the same shape as c whose signature is not one.
func forged(c string) string {
	payload, mac, _ := strings.Cut(c, ".")
	b := []byte(mac)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return payload + "." + string(b)
}

func newUUID() string { return uuid.Must(uuid.NewV7()).String() }

// cases is the table: every probed route with the ways of naming A's
// identifiers on it.
func (w *isoWorld) cases() []isoCase {
	a, b := w.a, w.b
	userIDs := []string{a.live, a.inactive, a.deleted, a.admin, a.group}
	groupIDs := []string{a.group, a.group2, a.live}
	memberIDs := []string{a.live, a.deleted, a.group}
	tokenIDs := []string{a.scimID, a.hostID, a.spareTokenID}
	nowhereID := newUUID()
	newUsers := 0
	var cs []isoCase

	// SCIM resources by id.
	putUser := func(v string) any {
		return map[string]any{"schemas": []string{isoUserURN}, "userName": b.userName, "externalId": b.extID, "displayName": "Put Probe", "active": true,
			"emails": []any{map[string]any{"value": b.email, "type": "work", "primary": true}}}
	}
	cs = append(cs,
		isoCase{route: "GET /scim/v2/Users/{id}", name: "A's user ids", statuses: []int{404}, values: userIDs, nowhere: nowhereID,
			build:   func(v string) isoReq { return isoReq{method: "GET", path: "/scim/v2/Users/" + v} },
			control: b.live, controlStatus: 200, controlCheck: contains(b.userName)},
		isoCase{route: "PUT /scim/v2/Users/{id}", name: "A's user ids", statuses: []int{404}, values: userIDs, nowhere: nowhereID,
			build:   func(v string) isoReq { return isoReq{method: "PUT", path: "/scim/v2/Users/" + v, body: putUser(v)} },
			control: b.live, controlStatus: 200},
		isoCase{route: "PATCH /scim/v2/Users/{id}", name: "A's user ids, deactivate", statuses: []int{404}, values: userIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "PATCH", path: "/scim/v2/Users/" + v, body: map[string]any{"schemas": []string{isoPatchURN},
					"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}}
			}},
		isoCase{route: "PATCH /scim/v2/Users/{id}", name: "A's user ids, rename", statuses: []int{404}, values: userIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "PATCH", path: "/scim/v2/Users/" + v, body: map[string]any{"schemas": []string{isoPatchURN},
					"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "Patched By B"}}}}
			},
			control: b.live, controlStatus: 200},
		isoCase{route: "PATCH /scim/v2/Users/{id}", name: "B's user, manager = A's user ids", statuses: []int{200, 400}, values: userIDs, nowhere: newUUID(),
			changesB: "sets B's own user's manager: scimd stores a manager reference as given and resolves nothing from it, so the answer is the same as for an id that exists nowhere",
			build: func(v string) isoReq {
				return isoReq{method: "PATCH", path: "/scim/v2/Users/" + b.inactive, body: map[string]any{"schemas": []string{isoPatchURN},
					"Operations": []any{map[string]any{"op": "replace", "path": isoEnterpriseURN + ":manager", "value": map[string]any{"value": v}}}}}
			}},
		isoCase{route: "POST /scim/v2/Users", name: "B's new user naming A's groups in groups (read-only)", statuses: []int{201, 400}, values: []string{a.group, a.group2}, nowhere: nowhereID,
			changesB: "creates B's own user (a new userName each time, so that the twins do not collide)",
			build: func(v string) isoReq {
				newUsers++
				return isoReq{method: "POST", path: "/scim/v2/Users", body: map[string]any{"schemas": []string{isoUserURN},
					"userName": fmt.Sprintf("new-%d@bravo.example", newUsers), "groups": []any{map[string]any{"value": v}}}}
			},
			check: func(r isoResp) error {
				var u struct{ Groups []any }
				if err := json.Unmarshal(r.body, &u); err != nil {
					return err
				}
				if r.status == http.StatusCreated && len(u.Groups) > 0 {
					return fmt.Errorf("the new user is in groups %v", u.Groups)
				}
				return nil
			}},
		// No control: deleting B's users would trip the tenant's own
		// deprovisioning brake; the twins prove the refusal.
		isoCase{route: "DELETE /scim/v2/Users/{id}", name: "A's user ids", statuses: []int{404}, values: userIDs, nowhere: nowhereID,
			build: func(v string) isoReq { return isoReq{method: "DELETE", path: "/scim/v2/Users/" + v} }},
		isoCase{route: "GET /scim/v2/Groups/{id}", name: "A's group ids", statuses: []int{404}, values: groupIDs, nowhere: nowhereID,
			build:   func(v string) isoReq { return isoReq{method: "GET", path: "/scim/v2/Groups/" + v} },
			control: b.group, controlStatus: 200, controlCheck: contains(b.groupName)},
		isoCase{route: "PUT /scim/v2/Groups/{id}", name: "A's group ids", statuses: []int{404}, values: groupIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "PUT", path: "/scim/v2/Groups/" + v, body: map[string]any{"schemas": []string{isoGroupURN},
					"displayName": "Put Probe", "members": []any{map[string]any{"value": b.live}}}}
			}},
		isoCase{route: "PUT /scim/v2/Groups/{id}", name: "B's group with A's member values", statuses: []int{400, 404}, values: memberIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "PUT", path: "/scim/v2/Groups/" + b.group, body: map[string]any{"schemas": []string{isoGroupURN},
					"displayName": b.groupName, "externalId": b.groupExtID,
					"members": []any{map[string]any{"value": b.live}, map[string]any{"value": b.inactive}, map[string]any{"value": v}}}}
			}},
		isoCase{route: "PATCH /scim/v2/Groups/{id}", name: "A's group ids, add B's user", statuses: []int{404}, values: groupIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "PATCH", path: "/scim/v2/Groups/" + v, body: map[string]any{"schemas": []string{isoPatchURN},
					"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": b.other}}}}}}
			}},
		isoCase{route: "PATCH /scim/v2/Groups/{id}", name: "B's group, add A's member values", statuses: []int{400, 404}, values: memberIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "PATCH", path: "/scim/v2/Groups/" + b.group, body: map[string]any{"schemas": []string{isoPatchURN},
					"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": v}}}}}}
			},
			control: b.other, controlStatus: 204},
		isoCase{route: "PATCH /scim/v2/Groups/{id}", name: "B's group, replace members with A's values", statuses: []int{400, 404}, values: memberIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "PATCH", path: "/scim/v2/Groups/" + b.group, body: map[string]any{"schemas": []string{isoPatchURN},
					"Operations": []any{map[string]any{"op": "replace", "path": "members", "value": []any{map[string]any{"value": v}}}}}}
			}},
		// Removing a member that is not one changes nothing: the answer
		// may be a success, but the same for A's id as for nowhere.
		isoCase{route: "PATCH /scim/v2/Groups/{id}", name: "B's group, remove A's member values by filter", statuses: []int{200, 204, 400, 404}, values: memberIDs, nowhere: nowhereID,
			changesB: "a PATCH whose operations change nothing still writes B's group (new version, group.updated event) — the same for A's ids as for nowhere",
			build: func(v string) isoReq {
				return isoReq{method: "PATCH", path: "/scim/v2/Groups/" + b.group, body: map[string]any{"schemas": []string{isoPatchURN},
					"Operations": []any{map[string]any{"op": "remove", "path": `members[value eq "` + v + `"]`}}}}
			}},
		isoCase{route: "DELETE /scim/v2/Groups/{id}", name: "A's group ids", statuses: []int{404}, values: groupIDs, nowhere: nowhereID,
			build:   func(v string) isoReq { return isoReq{method: "DELETE", path: "/scim/v2/Groups/" + v} },
			control: b.group2, controlStatus: 204},
		isoCase{route: "POST /scim/v2/Groups", name: "B creates a group with A's member values", statuses: []int{400, 404}, values: memberIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/scim/v2/Groups", body: map[string]any{"schemas": []string{isoGroupURN},
					"displayName": "Bravo Probe", "members": []any{map[string]any{"value": b.live}, map[string]any{"value": v}}}}
			},
			control: b.live, controlStatus: 201},
	)

	// Filters: on listings, on the three search endpoints.
	type filter struct{ name, pattern, a, nowhere, b string }
	userFilters := []filter{
		{"userName", `userName eq "%s"`, a.userName, "nobody@alpha.example", b.userName},
		{"admin userName", `userName eq "%s"`, a.adminName, "nobody@alpha.example", b.adminName},
		{"externalId", `externalId eq "%s"`, a.extID, "ext-alpha-nobody", b.extID},
		{"emails.value", `emails.value eq "%s"`, a.email, "nobody.work@alpha.example", b.email},
		{"emails[value eq]", `emails[type eq "work" and value eq "%s"]`, a.email, "nobody.work@alpha.example", b.email},
		{"emails co", `emails.value co "%s"`, a.email, "nobody.work@alpha.example", b.email},
		{"id", `id eq "%s"`, a.live, nowhereID, b.live},
		{"deleted id", `id eq "%s"`, a.deleted, nowhereID, b.live},
		{"userName sw", `userName sw "%s"`, a.userName, "nobody@alpha.example", b.userName},
		{"groups.value", `groups.value eq "%s"`, a.group, nowhereID, b.group},
		{"manager.value", isoEnterpriseURN + `:manager.value eq "%s"`, a.live, nowhereID, b.live},
		{"displayName", `displayName eq "%s"`, "Alpha ari", "Alpha nobody", "Bravo bix"},
	}
	groupFilters := []filter{
		{"members.value", `members.value eq "%s"`, a.live, nowhereID, b.live},
		{"members[value eq]", `members[value eq "%s"]`, a.live, nowhereID, b.live},
		{"nested member", `members.value eq "%s"`, a.group, nowhereID, b.live},
		{"displayName", `displayName eq "%s"`, a.groupName, "Alpha Nobodies", b.groupName},
		{"externalId", `externalId eq "%s"`, a.groupExtID, "ext-alpha-nobodies", b.groupExtID},
		{"id", `id eq "%s"`, a.group, nowhereID, b.group},
	}
	listCase := func(route, resource string, f filter) isoCase {
		get := func(v string) isoReq {
			return isoReq{method: "GET", path: "/scim/v2/" + resource + "?filter=" + url.QueryEscape(fmt.Sprintf(f.pattern, v))}
		}
		return isoCase{route: route, name: "filter " + f.name, exp: expEmpty, statuses: []int{200}, values: []string{f.a}, nowhere: f.nowhere,
			build: get, count: scimTotal, control: f.b, controlStatus: 200, controlCheck: wantAtLeast(1)}
	}
	searchCase := func(route, path string, f filter, resourceTypeFilter bool) isoCase {
		post := func(v string) isoReq {
			return isoReq{method: "POST", path: path, body: map[string]any{"schemas": []string{isoSearchURN}, "filter": fmt.Sprintf(f.pattern, v)}}
		}
		c := isoCase{route: route, name: "filter " + f.name, exp: expEmpty, statuses: []int{200}, values: []string{f.a}, nowhere: f.nowhere,
			build: post, count: scimTotal, control: f.b, controlStatus: 200}
		if !resourceTypeFilter {
			c.controlCheck = wantAtLeast(1)
		}
		return c
	}
	for _, f := range userFilters {
		cs = append(cs, listCase("GET /scim/v2/Users", "Users", f),
			searchCase("POST /scim/v2/Users/.search", "/scim/v2/Users/.search", f, false),
			searchCase("POST /scim/v2/.search", "/scim/v2/.search", f, true))
	}
	for _, f := range groupFilters {
		cs = append(cs, listCase("GET /scim/v2/Groups", "Groups", f),
			searchCase("POST /scim/v2/Groups/.search", "/scim/v2/Groups/.search", f, false),
			searchCase("POST /scim/v2/.search", "/scim/v2/.search", f, true))
	}
	// RFC 9865 cursors are bound to their tenant: A's cursor is as
	// invalid for B as one whose signature is forged.
	for _, c := range []struct{ res, cursor string }{{"Users", a.userCursor}, {"Groups", a.groupCursor}} {
		cs = append(cs, isoCase{route: "GET /scim/v2/" + c.res, name: "A's cursor", statuses: []int{400}, values: []string{c.cursor}, nowhere: forged(c.cursor),
			build: func(v string) isoReq {
				return isoReq{method: "GET", path: "/scim/v2/" + c.res + "?count=1&cursor=" + url.QueryEscape(v)}
			}})
	}
	// The unfiltered listings are B's own: none of A's.
	for _, res := range []string{"Users", "Groups"} {
		cs = append(cs, isoCase{route: "GET /scim/v2/" + res, name: "unfiltered", exp: expScan, statuses: []int{200}, values: []string{""},
			build: func(string) isoReq { return isoReq{method: "GET", path: "/scim/v2/" + res + "?count=1000"} }})
	}
	cs = append(cs, isoCase{route: "POST /scim/v2/.search", name: "unfiltered", exp: expScan, statuses: []int{200}, values: []string{""},
		build: func(string) isoReq {
			return isoReq{method: "POST", path: "/scim/v2/.search", body: map[string]any{"schemas": []string{isoSearchURN}, "count": 1000}}
		}})

	// /Bulk.
	bulk := func(ops ...map[string]any) map[string]any {
		return map[string]any{"schemas": []string{isoBulkURN}, "Operations": ops}
	}
	bulkOps := func(want ...int) func(isoResp) error {
		return func(r isoResp) error {
			var br struct {
				Operations []struct {
					Status string
				}
			}
			if err := json.Unmarshal(r.body, &br); err != nil {
				return err
			}
			if len(br.Operations) != len(want) {
				return fmt.Errorf("%d operation results, want %d", len(br.Operations), len(want))
			}
			for i, op := range br.Operations {
				if op.Status != fmt.Sprint(want[i]) {
					return fmt.Errorf("operation %d: status %s, want %d", i, op.Status, want[i])
				}
			}
			return nil
		}
	}
	patchOp := map[string]any{"schemas": []string{isoPatchURN}, "Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}
	cs = append(cs,
		isoCase{route: "POST /scim/v2/Bulk", name: "PUT, PATCH, DELETE of A's users", statuses: []int{200}, values: userIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/scim/v2/Bulk", body: bulk(
					map[string]any{"method": "PUT", "path": "/Users/" + v, "data": putUser(v)},
					map[string]any{"method": "PATCH", "path": "/Users/" + v, "data": patchOp},
					map[string]any{"method": "DELETE", "path": "/Users/" + v})}
			},
			check: bulkOps(404, 404, 404)},
		isoCase{route: "POST /scim/v2/Bulk", name: "PUT, PATCH, DELETE of A's groups", statuses: []int{200}, values: groupIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/scim/v2/Bulk", body: bulk(
					map[string]any{"method": "PUT", "path": "/Groups/" + v, "data": map[string]any{"schemas": []string{isoGroupURN}, "displayName": "Bulk Probe"}},
					map[string]any{"method": "PATCH", "path": "/Groups/" + v, "data": map[string]any{"schemas": []string{isoPatchURN},
						"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": b.live}}}}}},
					map[string]any{"method": "DELETE", "path": "/Groups/" + v})}
			},
			check: bulkOps(404, 404, 404)},
		isoCase{route: "POST /scim/v2/Bulk", name: "A's member values in a new group, in B's group, and a bulkId reference to the failed creation",
			statuses: []int{200}, values: memberIDs, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/scim/v2/Bulk", body: bulk(
					map[string]any{"method": "POST", "path": "/Groups", "bulkId": "g1", "data": map[string]any{"schemas": []string{isoGroupURN},
						"displayName": "Bulk Probe", "members": []any{map[string]any{"value": v}}}},
					map[string]any{"method": "PATCH", "path": "/Groups/" + b.group, "data": map[string]any{"schemas": []string{isoPatchURN},
						"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": v}}}}}},
					map[string]any{"method": "PATCH", "path": "/Groups/bulkId:g1", "data": map[string]any{"schemas": []string{isoPatchURN},
						"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": b.live}}}}}})}
			},
			check: bulkOps(400, 400, 409)},
		isoCase{route: "POST /scim/v2/Bulk", name: "A's ids as bulkId references", statuses: []int{200}, values: []string{a.live, a.group}, nowhere: nowhereID,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/scim/v2/Bulk", body: bulk(
					map[string]any{"method": "PATCH", "path": "/Users/bulkId:" + v, "data": patchOp})}
			},
			check: bulkOps(409)},
		isoCase{route: "POST /scim/v2/Bulk", name: "control of B's own user", statuses: []int{200}, values: nil,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/scim/v2/Bulk", body: bulk(
					map[string]any{"method": "PATCH", "path": "/Users/" + v, "data": map[string]any{"schemas": []string{isoPatchURN},
						"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "Bulk Patched"}}}})}
			},
			control: b.live, controlStatus: 200, controlCheck: func(r isoResp) error { return bulkOps(200)(r) }},
	)

	// The host API.
	accessUnknown := func(r isoResp) error {
		var ar struct {
			Allowed bool
			Reason  string
		}
		if err := json.Unmarshal(r.body, &ar); err != nil {
			return err
		}
		if ar.Allowed || ar.Reason != "unknown" {
			return fmt.Errorf("access %+v, want not allowed, reason unknown", ar)
		}
		return nil
	}
	auditCount := func(r isoResp) (int, error) {
		if r.status == 404 {
			return 0, nil
		}
		var p struct{ Entries []json.RawMessage }
		if err := json.Unmarshal(r.body, &p); err != nil || p.Entries == nil {
			return 0, fmt.Errorf("not an audit page")
		}
		return len(p.Entries), nil
	}
	// The access check is answered 200 by design (the host product asks
	// "may this user in?"): a user of another tenant is "unknown", as one
	// that exists nowhere.
	cs = append(cs,
		isoCase{route: "GET /api/v1/users/{id}/access", name: "A's user ids (200, allowed false, reason unknown)", statuses: []int{200}, values: userIDs, nowhere: nowhereID,
			build: func(v string) isoReq { return isoReq{method: "GET", path: "/api/v1/users/" + v + "/access"} },
			check: accessUnknown, control: b.live, controlStatus: 200, controlCheck: contains(`"allowed":true`)},
		isoCase{route: "GET /api/v1/audit", name: "audit trail of A's user ids (200, no entries)", exp: expEmpty, statuses: []int{200}, values: []string{a.live, a.deleted, a.admin}, nowhere: nowhereID,
			build: func(v string) isoReq { return isoReq{method: "GET", path: "/api/v1/audit?user=" + url.QueryEscape(v)} },
			count: auditCount, control: b.live, controlStatus: 200, controlCheck: contains(b.live)},
		isoCase{route: "GET /api/v1/audit", name: "audit trail of A's userNames (404)", exp: expEmpty, statuses: []int{404}, values: []string{a.userName, a.adminName}, nowhere: "nobody@alpha.example",
			build: func(v string) isoReq { return isoReq{method: "GET", path: "/api/v1/audit?user=" + url.QueryEscape(v)} },
			count: auditCount, control: b.userName, controlStatus: 200, controlCheck: contains(b.live)},
		isoCase{route: "GET /api/v1/audit", name: "whole audit trail", exp: expScan, statuses: []int{200}, values: []string{""},
			build: func(string) isoReq { return isoReq{method: "GET", path: "/api/v1/audit?limit=1000"} }},
		// The feed position is a place in one sequence, not an
		// identifier: B's feed after A's position holds B's events only.
		isoCase{route: "GET /api/v1/events", name: "B's feed from the start and from A's position", exp: expScan, statuses: []int{200}, values: []string{"", a.feed},
			build: func(v string) isoReq {
				return isoReq{method: "GET", path: "/api/v1/events?limit=1000&after=" + url.QueryEscape(v)}
			}},
	)

	// The console.
	consolePage := func(r isoResp) error {
		if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			return fmt.Errorf("content type %q", r.header.Get("Content-Type"))
		}
		return nil
	}
	cs = append(cs,
		isoCase{route: "GET /admin/users/{id}", name: "A's user ids", statuses: []int{404}, values: userIDs, nowhere: nowhereID, check: consolePage,
			build:   func(v string) isoReq { return isoReq{method: "GET", path: "/admin/users/" + v} },
			control: b.live, controlStatus: 200, controlCheck: contains(b.userName)},
		isoCase{route: "GET /admin/users/{id}/delete", name: "A's user ids", statuses: []int{404}, values: userIDs, nowhere: nowhereID, check: consolePage,
			build:   func(v string) isoReq { return isoReq{method: "GET", path: "/admin/users/" + v + "/delete"} },
			control: b.live, controlStatus: 200},
	)
	for _, act := range []struct {
		action  string
		form    url.Values
		control bool
	}{
		{"deactivate", url.Values{}, false},
		{"reactivate", url.Values{}, false},
		{"role", url.Values{"role": {"admin"}}, false},
		{"delete", url.Values{"confirm": {"yes"}}, false},
		{"role", url.Values{"role": {"viewer"}}, true},
	} {
		c := isoCase{route: "POST /admin/users/{id}/{action}", name: "A's user ids, " + act.action + " " + act.form.Encode(), statuses: []int{404},
			values: userIDs, nowhere: nowhereID, check: consolePage,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/admin/users/" + v + "/" + act.action, form: act.form}
			}}
		if act.control {
			c.control, c.controlStatus = b.other, http.StatusSeeOther
		}
		cs = append(cs, c)
	}
	for _, action := range []string{"deactivate", "reactivate", "role:admin", "role:viewer"} {
		c := isoCase{route: "POST /admin/users/batch", name: "A's user ids, " + action, statuses: []int{200}, values: userIDs, nowhere: nowhereID,
			check: consolePage,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/admin/users/batch", form: url.Values{"id": {v}, "action": {action}}}
			}}
		if action == "role:viewer" {
			c.control, c.controlStatus = b.other, 200
		}
		cs = append(cs, c)
	}
	cs = append(cs,
		isoCase{route: "GET /admin/users", name: "search A's names, emails, externalIds and ids (zero rows)", statuses: []int{200},
			values: []string{a.userName, a.email, a.extID, a.live, a.adminName, "Alpha amy"}, nowhere: "nobody.work@alpha.example", check: consolePage,
			build:   func(v string) isoReq { return isoReq{method: "GET", path: "/admin/users?q=" + url.QueryEscape(v)} },
			control: b.userName, controlStatus: 200, controlCheck: contains(b.live)},
		isoCase{route: "GET /admin/users", name: "every page of B's users", exp: expScan, statuses: []int{200}, values: []string{""},
			build: func(string) isoReq { return isoReq{method: "GET", path: "/admin/users"} }},
		isoCase{route: "GET /admin/tenant", name: "B's tenant page", exp: expScan, statuses: []int{200}, values: []string{""},
			build: func(string) isoReq { return isoReq{method: "GET", path: "/admin/tenant"} }},
		isoCase{route: "POST /admin/tenant/tokens", name: "a token owned by A's admin", statuses: []int{400}, values: []string{a.adminName, a.userName},
			nowhere: "nobody@alpha.example", check: consolePage,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/admin/tenant/tokens", form: url.Values{"kind": {"scim"}, "owner": {v}}}
			},
			control: b.adminName, controlStatus: 200},
		isoCase{route: "POST /admin/tenant/tokens/{id}/revoke", name: "A's token ids", statuses: []int{404}, values: tokenIDs, nowhere: nowhereID, check: consolePage,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/admin/tenant/tokens/" + v + "/revoke", form: url.Values{}}
			},
			control: b.spareTokenID, controlStatus: http.StatusSeeOther},
		isoCase{route: "POST /admin/tenant/events/{id}/retry", name: "A's event ids", statuses: []int{404}, values: []string{a.deadEvent, a.anyEvent},
			nowhere: nowhereID, check: consolePage,
			build: func(v string) isoReq {
				return isoReq{method: "POST", path: "/admin/tenant/events/" + v + "/retry", form: url.Values{}}
			},
			control: b.deadEvent, controlStatus: http.StatusSeeOther},
	)
	// Reads of the host API first: the audit trail of an id lists B's own
	// entries about it, and the changes tried above write such entries.
	slices.SortStableFunc(cs, func(x, y isoCase) int {
		rank := func(c isoCase) int {
			if strings.HasPrefix(c.route, "GET /api/v1/") {
				return 0
			}
			return 1
		}
		return rank(x) - rank(y)
	})
	return cs
}

// scanPublic reads the public, exempt documents and checks that none names
// an identifier of A.
func (w *isoWorld) scanPublic() {
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/scim/v2/ServiceProviderConfig", "/scim/v2/ResourceTypes",
		"/scim/v2/ResourceTypes/User", "/scim/v2/Schemas", "/scim/v2/Schemas/" + isoUserURN, "/admin/login"} {
		r := w.send(http.MethodGet, p, nil)
		if r.status != http.StatusOK {
			w.t.Errorf("public %s: status %d", p, r.status)
		}
		if l := leaks(w.a, string(r.body)); len(l) > 0 {
			w.t.Errorf("public %s names A's identifiers %q", p, l)
		}
	}
}

// namespaces checks that tenants are separate namespaces: B creates a
// user with A's userName, externalId and email — with the Idempotency-Key
// A used to create that user, so that a key shared across tenants would
// show — and gets a user of its own, A's untouched.
func (w *isoWorld) namespaces() {
	t := w.t
	a, b := w.a, w.b
	key := "iso-key-" + a.live
	body := map[string]any{"schemas": []string{isoUserURN}, "userName": "twin@alpha.example", "externalId": "ext-alpha-twin",
		"emails": []any{map[string]any{"value": "twin.work@alpha.example", "type": "work"}}}
	ra := w.do(a, isoReq{method: "POST", path: "/scim/v2/Users", body: body, header: []string{"Idempotency-Key", key}})
	if ra.status != http.StatusCreated {
		t.Fatalf("A creates twin: %d %s", ra.status, ra.body)
	}
	var ua struct{ ID string }
	_ = json.Unmarshal(ra.body, &ua)
	a.identifiers = append(a.identifiers, ua.ID)
	before := w.snapshot(a)
	for _, c := range []struct {
		name string
		body map[string]any
		hdr  []string
	}{
		{"A's userName, externalId and email", map[string]any{"schemas": []string{isoUserURN}, "userName": a.userName, "externalId": a.extID,
			"emails": []any{map[string]any{"value": a.email, "type": "work", "primary": true}}}, nil},
		{"the body and Idempotency-Key A used", body, []string{"Idempotency-Key", key}},
	} {
		r := w.do(b, isoReq{method: http.MethodPost, path: "/scim/v2/Users", body: c.body, header: c.hdr})
		if r.status != http.StatusCreated {
			t.Errorf("POST /scim/v2/Users as B with %s: %d, want 201 (tenants are separate namespaces): %s", c.name, r.status, r.body)
			continue
		}
		var u struct{ ID, UserName string }
		if err := json.Unmarshal(r.body, &u); err != nil || u.ID == "" {
			t.Errorf("POST /scim/v2/Users as B with %s: %s", c.name, r.body)
			continue
		}
		// The userName, externalId and email are B's now too; no id of A's
		// may appear.
		for _, id := range []string{a.id, a.live, ua.ID, a.admin, a.group, a.group2} {
			if strings.Contains(string(r.body), id) {
				t.Errorf("POST /scim/v2/Users as B with %s answers with A's id %s: %s", c.name, id, r.body)
			}
		}
		if u.ID == a.live || u.ID == ua.ID {
			t.Errorf("POST /scim/v2/Users as B with %s returned A's user %s", c.name, u.ID)
		}
		if _, err := w.store.GetUser(context.Background(), b.id, u.ID); err != nil {
			t.Errorf("B's new user %s: %v", u.ID, err)
		}
	}
	if after := w.snapshot(a); after.JSON != before.JSON {
		t.Errorf("B's creations changed tenant A:\n%s", firstDiff(before.JSON, after.JSON))
	}
	// Each tenant finds its own user by the shared userName.
	for _, x := range []*isoTenant{a, b} {
		r := w.do(x, isoReq{method: "GET", path: "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "`+a.userName+`"`)})
		if err := wantTotal(1)(r); err != nil {
			t.Errorf("%s looks up the shared userName: %v", x.name, err)
		}
		if x == a && !strings.Contains(string(r.body), a.live) || x == b && strings.Contains(string(r.body), a.live) {
			t.Errorf("%s looks up the shared userName: %s", x.name, r.body)
		}
	}
}

// controlsOfA shows that the identifiers the matrix named are real: A's
// own credentials find them.
func (w *isoWorld) controlsOfA() {
	a := w.a
	for _, c := range []struct {
		q      isoReq
		status int
		want   string
	}{
		{isoReq{method: "GET", path: "/scim/v2/Users/" + a.live}, 200, a.userName},
		{isoReq{method: "GET", path: "/scim/v2/Groups/" + a.group}, 200, a.groupName},
		{isoReq{method: "GET", path: "/scim/v2/Groups?filter=" + url.QueryEscape(`members.value eq "`+a.live+`"`)}, 200, a.group},
		{isoReq{method: "GET", path: "/api/v1/users/" + a.live + "/access"}, 200, `"allowed":true`},
		{isoReq{method: "GET", path: "/api/v1/users/" + a.deleted + "/access"}, 200, `"deleted"`},
		{isoReq{method: "GET", path: "/api/v1/audit?user=" + url.QueryEscape(a.userName)}, 200, a.live},
		{isoReq{method: "GET", path: "/admin/users/" + a.live}, 200, a.userName},
		{isoReq{method: "GET", path: "/admin/tenant"}, 200, a.hostID},
	} {
		r := w.do(a, c.q)
		if r.status != c.status || !strings.Contains(string(r.body), c.want) {
			w.t.Errorf("control as A: %s %s: %d, want %d with %q: %s", c.q.method, c.q.path, r.status, c.status, c.want, clip(string(r.body)))
		}
	}
}

// isoRecorder collects the findings of the matrix instead of failing.
type isoRecorder struct{ msgs []string }

func (r *isoRecorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

// TestTenantIsolationMatrixFails plants a leak of each kind the matrix
// looks for and checks that it reports each: a cross-tenant read, a
// cross-tenant filter match, an answer that tells A's ids from nowhere, a
// cross-tenant change behind a correct-looking 404, and routes the table
// misses or names wrongly.
func TestTenantIsolationMatrixFails(t *testing.T) {
	s := testenv.Open(t, "sqlite")
	w := newIsoWorld(t, s)
	cases := w.cases()
	find := func(route, name string) isoCase {
		t.Helper()
		for _, c := range cases {
			if c.route == route && strings.HasPrefix(c.name, name) {
				return c
			}
		}
		t.Fatalf("no case %s [%s]", route, name)
		return isoCase{}
	}
	// asA serves a request of B's as if A had sent it.
	asA := func(r *http.Request) *http.Request {
		r2 := r.Clone(r.Context())
		r2.Header.Set("Authorization", "Bearer "+w.a.scim)
		return r2
	}
	b := "Bearer " + w.b.scim
	for _, f := range []struct {
		name      string
		c         isoCase
		intercept func(rw http.ResponseWriter, r *http.Request) bool
		want      []string
	}{
		{"read", find("GET /scim/v2/Users/{id}", "A's user ids"),
			func(rw http.ResponseWriter, r *http.Request) bool {
				if r.Method == "GET" && r.URL.Path == "/scim/v2/Users/"+w.a.live && r.Header.Get("Authorization") == b {
					w.handler.ServeHTTP(rw, asA(r))
					return true
				}
				return false
			},
			[]string{"status 200, want one of [404]", "get different answers"}},
		{"filter", find("GET /scim/v2/Users", "filter userName"),
			func(rw http.ResponseWriter, r *http.Request) bool {
				if r.Method == "GET" && strings.Contains(r.URL.RawQuery, url.QueryEscape(w.a.userName)) && r.Header.Get("Authorization") == b {
					w.handler.ServeHTTP(rw, asA(r))
					return true
				}
				return false
			},
			[]string{"1 results, want none", "the answer contains A's identifiers", "get different answers"}},
		{"different answer", find("PATCH /scim/v2/Users/{id}", "A's user ids, rename"),
			func(rw http.ResponseWriter, r *http.Request) bool {
				if r.Method == "PATCH" && r.URL.Path == "/scim/v2/Users/"+w.a.admin && r.Header.Get("Authorization") == b {
					rw.Header().Set("Content-Type", "application/scim+json")
					rw.WriteHeader(http.StatusNotFound)
					_, _ = rw.Write([]byte(`{"schemas":["` + isoErrorURN + `"],"status":"404","detail":"that user belongs to another tenant"}`))
					return true
				}
				return false
			},
			[]string{"get different answers"}},
		{"change behind a 404", find("DELETE /scim/v2/Users/{id}", "A's user ids"),
			func(rw http.ResponseWriter, r *http.Request) bool {
				if r.Method == "DELETE" && r.URL.Path == "/scim/v2/Users/"+w.a.inactive && r.Header.Get("Authorization") == b {
					w.handler.ServeHTTP(httptest.NewRecorder(), asA(r))
					r2 := r.Clone(r.Context())
					r2.URL.Path = "/scim/v2/Users/" + newUUID()
					w.handler.ServeHTTP(rw, r2)
					return true
				}
				return false
			},
			[]string{"changed tenant A"}},
	} {
		rec := &isoRecorder{}
		w.report = rec
		w.intercept.Store(&f.intercept)
		w.run(f.c)
		w.intercept.Store(nil)
		all := strings.Join(rec.msgs, "\n")
		for _, want := range f.want {
			if !strings.Contains(all, want) {
				t.Errorf("planted %s: the matrix did not report %q; it reported:\n%s", f.name, want, clip(all))
			}
		}
	}

	// A route the table misses, and a case naming a route that is gone.
	rec := &isoRecorder{}
	w.report = rec
	var partial []isoCase
	for _, c := range cases {
		if c.route != "DELETE /scim/v2/Groups/{id}" {
			partial = append(partial, c)
		}
	}
	partial = append(partial, isoCase{route: "GET /scim/v2/Gone/{id}"})
	w.checkCoverage(partial)
	all := strings.Join(rec.msgs, "\n")
	for _, want := range []string{"route DELETE /scim/v2/Groups/{id} is neither probed", `probes "GET /scim/v2/Gone/{id}", which is not a route`} {
		if !strings.Contains(all, want) {
			t.Errorf("coverage: the matrix did not report %q; it reported:\n%s", want, all)
		}
	}
}
