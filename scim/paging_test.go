package scim

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// pageIDs returns the ids of a ListResponse's resources.
func pageIDs(t *testing.T, r resp) []string {
	t.Helper()
	list, _ := r.Body["Resources"].([]any)
	ids := make([]string, len(list))
	for i, x := range list {
		ids[i] = gets(x, "id")
	}
	return ids
}

// postUser creates a user over HTTP from a document (schemas and userName
// are added) and returns its id.
func postUser(t *testing.T, h *harness, userName string, doc map[string]any) string {
	t.Helper()
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName}
	for k, v := range doc {
		body[k] = v
	}
	return gets(h.req("POST", "/Users", body).must(t, 201).Body, "id")
}

// walkCursor follows nextCursor from first (a path with "cursor" in its
// query) to the last page and returns the ids and each page's response.
func walkCursor(t *testing.T, h *harness, first string) ([]string, []resp) {
	t.Helper()
	var ids []string
	var pages []resp
	path := first
	for range 1000 {
		r := h.req("GET", path, nil).must(t, 200)
		pages = append(pages, r)
		ids = append(ids, pageIDs(t, r)...)
		next, ok := r.Body["nextCursor"].(string)
		if !ok {
			return ids, pages
		}
		if next == "" || strings.Trim(next, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
			t.Fatalf("nextCursor %q is not made of unreserved characters", next)
		}
		u, _ := url.Parse(path)
		q := u.Query()
		q.Set("cursor", next)
		u.RawQuery = q.Encode()
		path = u.String()
	}
	t.Fatal("the cursor walk does not end")
	return nil, nil
}

func withCursor(path, cursor string) string {
	u, _ := url.Parse(path)
	q := u.Query()
	q.Set("cursor", cursor)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestCursorPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		var ids []string
		middle := map[string]string{}
		for i := range 23 {
			doc := map[string]any{"active": i%3 != 0}
			if i%4 != 0 {
				m := fmt.Sprintf("M%02d", (i*7)%23)
				if i%2 == 0 {
					m = strings.ToLower(m)
				}
				doc["name"] = map[string]any{"middleName": m}
				middle[fmt.Sprintf("user%02d", i)] = strings.ToLower(m)
			}
			ids = append(ids, postUser(t, h, fmt.Sprintf("user%02d", i), doc))
		}

		// The first page: five users, a nextCursor, no previousCursor, no
		// startIndex.
		first := h.req("GET", "/Users?cursor&count=5", nil).must(t, 200)
		if got := pageIDs(t, first); !slices.Equal(got, ids[:5]) {
			t.Fatalf("first page %v, want %v", got, ids[:5])
		}
		if first.Body["totalResults"] != 23.0 || first.Body["itemsPerPage"] != 5.0 {
			t.Fatalf("first page: %s", first.Raw)
		}
		if _, ok := first.Body["previousCursor"]; ok {
			t.Errorf("first page has a previousCursor: %s", first.Raw)
		}
		if _, ok := first.Body["startIndex"]; ok {
			t.Errorf("a cursor page has startIndex: %s", first.Raw)
		}

		// The whole walk, in order, each user once; the last page has no
		// nextCursor.
		got, pages := walkCursor(t, h, "/Users?cursor=&count=5")
		if !slices.Equal(got, ids) || len(pages) != 5 {
			t.Fatalf("walk: %d pages, %v\nwant %v", len(pages), got, ids)
		}
		last := pages[len(pages)-1]
		if _, ok := last.Body["nextCursor"]; ok || last.Body["itemsPerPage"] != 3.0 {
			t.Errorf("last page: %s", last.Raw)
		}

		// previousCursor walks back page by page.
		var back []string
		r := last
		back = append(pageIDs(t, r), back...)
		for range 10 {
			prev, ok := r.Body["previousCursor"].(string)
			if !ok {
				break
			}
			r = h.req("GET", "/Users?count=5&cursor="+url.QueryEscape(prev), nil).must(t, 200)
			if _, ok := r.Body["nextCursor"]; !ok {
				t.Fatalf("a page reached by previousCursor has no nextCursor: %s", r.Raw)
			}
			back = append(pageIDs(t, r), back...)
		}
		if !slices.Equal(back, ids) {
			t.Errorf("backward walk %v\nwant %v", back, ids)
		}

		// Filter and sort by a document attribute, descending; later pages
		// may repeat the filter and sort or leave them out.
		path := "/Users?filter=" + url.QueryEscape(`active eq true`) + "&sortBy=name.middleName&sortOrder=descending&count=4&cursor"
		r = h.req("GET", path, nil).must(t, 200)
		next := gets(r.Body, "nextCursor")
		again := h.req("GET", withCursor(path, next), nil).must(t, 200)
		bare := h.req("GET", "/Users?count=4&cursor="+url.QueryEscape(next), nil).must(t, 200)
		if !slices.Equal(pageIDs(t, again), pageIDs(t, bare)) || len(pageIDs(t, bare)) != 4 {
			t.Errorf("the second page differs with and without the repeated filter: %v, %v", pageIDs(t, again), pageIDs(t, bare))
		}
		got, _ = walkCursor(t, h, path)
		var want []string
		for i := range ids {
			if i%3 != 0 {
				want = append(want, ids[i])
			}
		}
		key := func(id string) string {
			for i, x := range ids {
				if x == id {
					return middle[fmt.Sprintf("user%02d", i)]
				}
			}
			return ""
		}
		slices.SortStableFunc(want, func(a, b string) int {
			ka, kb := key(a), key(b)
			switch {
			case ka == kb:
				return strings.Compare(b, a)
			case ka == "": // absent first descending
				return -1
			case kb == "":
				return 1
			}
			return strings.Compare(kb, ka)
		})
		if !slices.Equal(got, want) {
			t.Errorf("filtered walk by name.middleName descending:\n got %v\nwant %v", got, want)
		}
		// A cursor with another filter, sort or order is refused.
		for _, p := range []string{
			"/Users?filter=" + url.QueryEscape(`active eq false`) + "&cursor=",
			"/Users?sortBy=userName&cursor=",
			"/Users?sortOrder=ascending&cursor=",
		} {
			h.req("GET", p+url.QueryEscape(next), nil).scimError(t, 400, "invalidCursor")
		}

		// Forged, altered and misplaced cursors.
		tampered := []byte(next)
		tampered[3] ^= 1
		for _, c := range []string{"abc", "abc.def", string(tampered), next + "x", "." + strings.Split(next, ".")[1]} {
			h.req("GET", "/Users?cursor="+url.QueryEscape(c), nil).scimError(t, 400, "invalidCursor")
		}
		h.req("GET", "/Groups?cursor="+url.QueryEscape(next), nil).scimError(t, 400, "invalidCursor")
		_, otherToken := h.newTenant("other")
		h.req("GET", "/Users?cursor="+url.QueryEscape(next), nil, "Authorization", "Bearer "+otherToken).scimError(t, 400, "invalidCursor")
		h.req("GET", "/Users?startIndex=1&cursor=", nil).scimError(t, 400, "invalidValue")
		h.req("GET", "/Users?startIndex=3&cursor="+url.QueryEscape(next), nil).scimError(t, 400, "invalidValue")

		// count=0: only the total, and a nextCursor that keeps the place.
		r = h.req("GET", "/Users?cursor&count=0", nil).must(t, 200)
		if r.Body["totalResults"] != 23.0 || len(pageIDs(t, r)) != 0 || gets(r.Body, "nextCursor") == "" {
			t.Errorf("count=0: %s", r.Raw)
		}
		r = h.req("GET", "/Users?count=2&cursor="+url.QueryEscape(gets(r.Body, "nextCursor")), nil).must(t, 200)
		if got := pageIDs(t, r); !slices.Equal(got, ids[:2]) {
			t.Errorf("after count=0: %v, want %v", got, ids[:2])
		}

		// Another replica (another server on the database) accepts the
		// cursor while it is fresh and refuses it once it has expired.
		later := time.Now()
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return later }
		replica := httptest.NewServer(NewServer(Config{Store: h.store, Provision: h.svc, Now: clock}))
		defer replica.Close()
		h.req("GET", replica.URL+"/scim/v2/Users?count=4&cursor="+url.QueryEscape(next), nil).must(t, 200)
		mu.Lock()
		later = later.Add(CursorTimeout + time.Minute)
		mu.Unlock()
		h.req("GET", replica.URL+"/scim/v2/Users?count=4&cursor="+url.QueryEscape(next), nil).scimError(t, 400, "expiredCursor")

		// POST /Users/.search takes cursor in the body.
		search := func(body map[string]any) resp {
			body["schemas"] = []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}
			return h.req("POST", "/Users/.search", body).must(t, 200)
		}
		r = search(map[string]any{"cursor": "", "count": 10, "sortBy": "userName", "sortOrder": "descending"})
		r2 := search(map[string]any{"cursor": gets(r.Body, "nextCursor"), "count": 10})
		if got := append(pageIDs(t, r), pageIDs(t, r2)...); len(got) != 20 || got[0] != ids[22] || got[19] != ids[3] {
			t.Errorf(".search by cursor: %v", got)
		}
		h.req("POST", "/Users/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"cursor": 5}).scimError(t, 400, "invalidValue")
		h.req("POST", "/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"cursor": ""}).scimError(t, 400, "invalidValue")

		// Groups page by cursor too.
		var gids []string
		for i := range 7 {
			gids = append(gids, gets(h.req("POST", "/Groups", map[string]any{
				"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": fmt.Sprintf("g%d", 6-i),
			}).must(t, 201).Body, "id"))
		}
		got, pages = walkCursor(t, h, "/Groups?sortBy=displayName&count=3&cursor")
		slices.Reverse(gids)
		if !slices.Equal(got, gids) || len(pages) != 3 {
			t.Errorf("groups by cursor: %v, want %v", got, gids)
		}
	})
}

// TestServiceProviderConfigPagination checks the RFC 9865 advertisement.
func TestServiceProviderConfigPagination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		r := h.req("GET", "/ServiceProviderConfig", nil).must(t, 200)
		p, _ := r.Body["pagination"].(map[string]any)
		want := map[string]any{"cursor": true, "index": true, "defaultPaginationMethod": "index",
			"defaultPageSize": float64(DefaultCount), "maxPageSize": float64(MaxCount), "cursorTimeout": 3600.0}
		for k, v := range want {
			if p[k] != v {
				t.Errorf("pagination.%s = %v, want %v (%s)", k, p[k], v, r.Raw)
			}
		}
		if get(r.Body, "sort.supported") != true {
			t.Errorf("sort.supported: %s", r.Raw)
		}
	})
}

// TestSortByAnyAttribute sorts over HTTP by document attributes, an
// extension's, a multi-valued attribute's primary value, and refuses what
// cannot be sorted.
func TestSortByAnyAttribute(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
		a := postUser(t, h, "a", map[string]any{"name": map[string]any{"middleName": "b"},
			ent:      map[string]any{"manager": map[string]any{"value": "M2"}},
			"emails": []any{map[string]any{"value": "z@x.test"}, map[string]any{"value": "c@x.test", "primary": true}}})
		b := postUser(t, h, "b", map[string]any{"name": map[string]any{"middleName": "A"},
			ent:      map[string]any{"manager": map[string]any{"value": "m1"}},
			"emails": []any{map[string]any{"value": "d@x.test"}}})
		c := postUser(t, h, "c", nil)
		for _, tc := range []struct {
			sort string
			want []string
		}{
			{"sortBy=name.middleName", []string{b, a, c}},
			{"sortBy=NAME.MIDDLENAME&sortOrder=descending", []string{c, a, b}},
			{"sortBy=" + url.QueryEscape(ent+":manager.value"), []string{b, a, c}},
			{"sortBy=manager.value", []string{b, a, c}},
			{"sortBy=emails", []string{a, b, c}}, // the primary email c@ of a, else the first
			{"sortBy=emails.value&sortOrder=descending", []string{c, b, a}},
			{"sortBy=phoneNumbers", []string{a, b, c}}, // absent everywhere: by id
			{"sortBy=meta.version", []string{a, b, c}},
		} {
			r := h.req("GET", "/Users?"+tc.sort, nil).must(t, 200)
			if got := pageIDs(t, r); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.sort, got, tc.want)
			}
		}
		for _, bad := range []string{"password", "name", "addresses", ent + ":manager", "nope", "members"} {
			h.req("GET", "/Users?sortBy="+url.QueryEscape(bad), nil).scimError(t, 400, "invalidValue")
		}
		h.req("GET", "/Groups?sortBy=members.display", nil).must(t, 200)
		h.req("GET", "/Groups?sortBy=userName", nil).scimError(t, 400, "invalidValue")
	})
}

// TestIndexWalkUnderChurn walks /Users by startIndex (startIndex += count,
// until startIndex passes totalResults, as Okta does) while another
// client deletes users spread over the whole order and creates new ones:
// every user that exists throughout the walk is returned exactly once.
// With offsets over the current matches, each deletion before the
// client's place would make it skip a user.
func TestIndexWalkUnderChurn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		a := provision.Actor{TenantID: h.tenantID, Name: "test"}
		// The churn deletes 50 of 150 users at once: past the default
		// mass-deprovisioning brake, which is not what this test is about.
		if _, err := h.svc.SetTenantPolicy(ctx, a, "acme", "", []string{"deprovision_brake=false"}); err != nil {
			t.Fatal(err)
		}
		kept := map[string]bool{}
		var victims []string
		for i := range 150 {
			u := store.User{UserName: fmt.Sprintf("u%03d", i), Active: true, Doc: []byte(`{}`)}
			created, err := h.svc.CreateUser(ctx, a, u)
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				victims = append(victims, created.ID)
			} else {
				kept[created.ID] = true
			}
		}
		for _, sort := range []string{"", "&sortBy=userName&sortOrder=descending"} {
			var ops atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var churnErr atomic.Value
			const budget = 120 // churn operations per walk, so that the walk ends
			wg.Go(func() {
				for i := 0; i < budget; i++ {
					select {
					case <-stop:
						return
					default:
					}
					var err error
					if i%2 == 0 && len(victims) > 0 {
						err = h.svc.DeleteUser(ctx, a, victims[0], nil)
						victims = victims[1:]
					} else {
						_, err = h.svc.CreateUser(ctx, a, store.User{UserName: fmt.Sprintf("new%d-%04d", len(sort), i), Active: true, Doc: []byte(`{}`)})
					}
					if err != nil {
						churnErr.Store(err)
						return
					}
					ops.Add(1)
				}
			})
			seen := map[string]int{}
			const count = 10
			for start := 1; ; start += count {
				r := h.req("GET", fmt.Sprintf("/Users?startIndex=%d&count=%d%s", start, count, sort), nil).must(t, 200)
				for _, id := range pageIDs(t, r) {
					seen[id]++
				}
				if total := int(r.Body["totalResults"].(float64)); start+count > total {
					break
				}
				for n, deadline := ops.Load(), time.Now().Add(5*time.Second); ops.Load() < min(n+2, budget) && time.Now().Before(deadline) && churnErr.Load() == nil; {
					time.Sleep(100 * time.Microsecond)
				}
			}
			close(stop)
			wg.Wait()
			if err, _ := churnErr.Load().(error); err != nil {
				t.Fatal(err)
			}
			for id := range kept {
				if seen[id] != 1 {
					t.Errorf("walk%s: kept user %s seen %d times", sort, id, seen[id])
				}
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("walk%s: user %s seen %d times", sort, id, n)
				}
			}
			// Refill the victims for the next walk.
			for i := range 50 {
				u, err := h.svc.CreateUser(ctx, a, store.User{UserName: fmt.Sprintf("v%d-%03d", len(sort), i), Active: true, Doc: []byte(`{}`)})
				if err != nil {
					t.Fatal(err)
				}
				victims = append(victims, u.ID)
			}
		}
	})
}
