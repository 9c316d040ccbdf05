package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/store"
)

// checkpointSpy counts what the checkpoints ask of the store.
type checkpointSpy struct {
	store.Store
	reads, checked, stale atomic.Int64
}

func (s *checkpointSpy) UserCheckpoints(ctx context.Context, tenantID string, every int) (store.Checkpoints, error) {
	s.reads.Add(1)
	return s.Store.UserCheckpoints(ctx, tenantID, every)
}

func (s *checkpointSpy) ListUsers(ctx context.Context, tenantID string, q store.Query) (store.UserPage, error) {
	if q.IfChurn != nil {
		s.checked.Add(1)
	}
	p, err := s.Store.ListUsers(ctx, tenantID, q)
	if errors.Is(err, store.ErrStale) {
		s.stale.Add(1)
	}
	return p, err
}

// TestCheckpointSeek checks the arithmetic of store.Checkpoints.Seek at
// the boundaries of checkpointEvery: the rows after checkpoint i start at
// (i+1)·every, so an offset k seeks after the last checkpoint whose rows
// start at or before k.
func TestCheckpointSeek(t *testing.T) {
	every := checkpointEvery
	cp := store.Checkpoints{Every: every, IDs: []string{"c0", "c1", "c2"}} // at offsets every-1, 2·every-1, 3·every-1
	for _, tc := range []struct {
		k     int
		after string
		rest  int
		ok    bool
	}{
		{0, "", 0, false},
		{every - 1, "", every - 1, false}, // the first checkpoint itself: nothing before it
		{every, "c0", 0, true},            // the row right after the first checkpoint
		{every + 1, "c0", 1, true},
		{2*every - 1, "c0", every - 1, true}, // the second checkpoint, reached from the first
		{2 * every, "c1", 0, true},
		{2*every + 1, "c1", 1, true},
		{3 * every, "c2", 0, true},
		{4*every - 1, "c2", every - 1, true},
		{4 * every, "c2", every, true}, // past the last checkpoint's block: past the end
		{10*every + 7, "c2", 7*every + 7, true},
	} {
		after, rest, ok := cp.Seek(tc.k)
		if after != tc.after || rest != tc.rest || ok != tc.ok {
			t.Errorf("Seek(%d) = %q, %d, %v; want %q, %d, %v", tc.k, after, rest, ok, tc.after, tc.rest, tc.ok)
		}
	}
	if _, _, ok := (store.Checkpoints{Every: every}).Seek(5 * every); ok {
		t.Error("Seek without checkpoints found one")
	}
}

// TestDeepIndexPages jumps cold to deep startIndex pages of /Users in a
// tenant of 260 live users (and some tombstones), with a checkpoint every
// 100 users, through the real handler: each page, served through the
// checkpoints, equals the plain offset's answer (the same request sorted
// by id, which never uses them, and the store's offset page), also right
// after a create or a delete made between two deep requests, when the
// checkpoints are stale and are read again only checkpointRebuild later.
func TestDeepIndexPages(t *testing.T) {
	defer func(every int) { checkpointEvery = every }(checkpointEvery)
	checkpointEvery = 100 // 2,700 users to seed would take SQLite half a minute under -race
	forEachBackend(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		var ids []string
		created := time.Now().UTC().Truncate(time.Microsecond)
		for batch := range 6 {
			if err := h.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				for i := range 45 {
					name := fmt.Sprintf("deep%d-%03d", batch, i)
					u := store.User{TenantID: h.tenantID, ID: uuid.Must(uuid.NewV7()).String(), UserName: name, Active: true,
						Role: store.RoleMember, State: store.StateActive, Doc: []byte(`{"userName":"` + name + `"}`),
						Created: created, Modified: created}
					if err := tx.CreateUser(ctx, &u); err != nil {
						return err
					}
					ids = append(ids, u.ID)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		// 270 users of which 10 are tombstones, spread over the order.
		if err := h.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := 0; i < len(ids); i += 27 {
				if err := tx.DeleteUser(ctx, h.tenantID, ids[i], created, i%2 == 0); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		spy := &checkpointSpy{Store: h.store}
		var mu sync.Mutex
		clock := time.Now()
		now := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return clock
		}
		advance := func(d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(d)
		}
		srv := httptest.NewServer(NewServer(Config{Store: spy, Provision: h.svc, Metrics: obs.NewMetrics(), Now: now}))
		t.Cleanup(srv.Close)
		deep := *h
		deep.base = srv.URL + "/scim/v2"

		// Every request takes a startIndex no earlier full page ends at, so
		// that no walk mark (walk.go) applies: each is a cold offset.
		used := map[int]bool{}
		page := func(what string, startIndex, count int) resp {
			t.Helper()
			if used[startIndex] {
				t.Fatalf("%s: startIndex %d continues an earlier page", what, startIndex)
			}
			path := fmt.Sprintf("/Users?startIndex=%d&count=%d", startIndex, count)
			got := deep.req("GET", path, nil).must(t, 200)
			if n := len(pageIDs(t, got)); n == count {
				used[startIndex+n] = true
			}
			// The same answer, but for the server's address in meta.location.
			want := h.req("GET", path+"&sortBy=id", nil).must(t, 200)
			var same map[string]any
			if err := json.Unmarshal([]byte(strings.ReplaceAll(string(got.Raw), deep.base, h.base)), &same); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(same, want.Body) {
				t.Errorf("%s: GET %s: ids %v (total %v), the offset's %v (total %v)", what, path, pageIDs(t, got),
					got.Body["totalResults"], pageIDs(t, want), want.Body["totalResults"])
			}
			sp, err := h.store.ListUsers(ctx, h.tenantID, store.Query{Offset: startIndex - 1, Limit: count})
			if err != nil {
				t.Fatal(err)
			}
			if ids := pageIDs(t, got); !slices.Equal(ids, userIDs(sp.Users)) || int(got.Body["totalResults"].(float64)) != sp.Total {
				t.Errorf("%s: GET %s: ids %v (total %v), the store's offset page %v (total %d)", what, path, ids,
					got.Body["totalResults"], userIDs(sp.Users), sp.Total)
			}
			return got
		}
		counts := func(what string, reads, checked, stale int64) {
			t.Helper()
			if r, c, s := spy.reads.Load(), spy.checked.Load(), spy.stale.Load(); r != reads || c != checked || s != stale {
				t.Errorf("%s: %d checkpoint reads, %d checked pages, %d stale; want %d, %d, %d", what, r, c, s, reads, checked, stale)
			}
		}

		page("shallow", 1, 10)
		page("just before the first checkpoint's rows", 100, 10) // offset 99
		counts("shallow pages", 0, 0, 0)
		for i, tc := range []struct{ start, count int }{
			{101, 10}, // offset 100: right after checkpoint 0
			{102, 10},
			{150, 7},
			{200, 10}, // offset 199: checkpoint 1 itself, 99 after checkpoint 0
			{201, 10}, // right after checkpoint 1
			{202, 3},
			{255, 10}, // the last page, not full
			{260, 10}, // the last user alone
			{261, 10}, // past the end
			{265, 10},
			{500, 10}, // far past the end
		} {
			r := page(fmt.Sprintf("deep page %d", i), tc.start, tc.count)
			if tc.start <= 260 && len(pageIDs(t, r)) == 0 {
				t.Errorf("deep page at %d is empty", tc.start)
			}
		}
		counts("deep pages", 1, 11, 0)

		// A create between two deep requests: the checkpoints are stale,
		// the page is the offset's, and they are not read again at once.
		postUser(t, h, "late-create", nil)
		page("after a create", 171, 10)
		counts("after a create", 1, 12, 1)
		page("after a create, again", 172, 10)
		counts("the checkpoints are not read again at once", 1, 12, 1)

		advance(checkpointRebuild + time.Second)
		page("after the rebuild interval", 173, 10)
		counts("read again after the interval", 2, 13, 1)

		// A delete early in the order shifts every deep page by one.
		h.req("DELETE", "/Users/"+ids[1], nil).must(t, 204)
		page("after a delete", 221, 10)
		counts("after a delete", 2, 14, 2)
		advance(checkpointRebuild + time.Second)
		page("after a delete and the rebuild interval", 222, 10)
		page("after a delete and the rebuild interval, deeper", 235, 5)
		counts("after a delete, read again", 3, 16, 2)

		// Pages that are not the unfiltered default order never use them.
		deep.req("GET", "/Users?startIndex=240&count=10&sortOrder=descending", nil).must(t, 200)
		deep.req("GET", `/Users?startIndex=140&count=10&filter=userName+sw+"deep"`, nil).must(t, 200)
		deep.req("GET", "/Groups?startIndex=140&count=10", nil).must(t, 200)
		counts("other lists", 3, 16, 2)
	})
}

func userIDs(us []store.User) []string {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

// fakeCheckpoints answers UserCheckpoints from a function and counts the
// calls; the rest of store.Reader is not used.
type fakeCheckpoints struct {
	store.Reader
	calls atomic.Int64
	fn    func(tenantID string) (store.Checkpoints, error)
}

func (f *fakeCheckpoints) UserCheckpoints(_ context.Context, tenantID string, every int) (store.Checkpoints, error) {
	f.calls.Add(1)
	cp, err := f.fn(tenantID)
	cp.Every = every
	return cp, err
}

// TestCheckpointCache checks the per-process cache: concurrent deep pages
// of a tenant share one read, a stale list is dropped (only the list with
// that churn count) and read again no sooner than checkpointRebuild after
// the last read, a failed read is not retried at once, and the number of
// tenants kept is bounded.
func TestCheckpointCache(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	release := make(chan struct{})
	var churn atomic.Int64
	churn.Store(7)
	f := &fakeCheckpoints{fn: func(string) (store.Checkpoints, error) {
		<-release
		return store.Checkpoints{Churn: churn.Load(), IDs: []string{"a"}}, nil
	}}
	var c checkpointCache
	got := make([]*store.Checkpoints, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = c.get(ctx, f, "t1", now) })
	}
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others find the read in flight
	close(release)
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("8 concurrent deep pages read the checkpoints %d times, want once", n)
	}
	for i, cp := range got {
		if cp == nil || cp != got[0] || cp.Churn != 7 {
			t.Fatalf("request %d got %+v, want the one list with churn 7", i, cp)
		}
	}

	c.stale("t1", 6) // an older list's churn: keeps this one
	if cp := c.get(ctx, f, "t1", now.Add(time.Second)); cp == nil || cp.Churn != 7 || f.calls.Load() != 1 {
		t.Fatalf("after a stale report for another churn: %+v, %d reads", cp, f.calls.Load())
	}
	c.stale("t1", 7)
	churn.Store(8)
	if cp := c.get(ctx, f, "t1", now.Add(checkpointRebuild-time.Millisecond)); cp != nil || f.calls.Load() != 1 {
		t.Fatalf("stale, within the rebuild interval: %+v, %d reads; want none, 1 read", cp, f.calls.Load())
	}
	if cp := c.get(ctx, f, "t1", now.Add(checkpointRebuild)); cp == nil || cp.Churn != 8 || f.calls.Load() != 2 {
		t.Fatalf("stale, after the rebuild interval: %+v, %d reads; want churn 8, 2 reads", cp, f.calls.Load())
	}

	// A failed read is not retried before the interval either.
	fail := &fakeCheckpoints{fn: func(string) (store.Checkpoints, error) { return store.Checkpoints{}, errors.New("down") }}
	if cp := c.get(ctx, fail, "t2", now); cp != nil {
		t.Fatalf("a failed read gave %+v", cp)
	}
	if cp := c.get(ctx, fail, "t2", now.Add(time.Second)); cp != nil || fail.calls.Load() != 1 {
		t.Fatalf("after a failed read: %+v, %d reads; want none, 1 read", cp, fail.calls.Load())
	}

	// A waiting request gives up with its context.
	block := make(chan struct{})
	slow := &fakeCheckpoints{fn: func(string) (store.Checkpoints, error) { <-block; return store.Checkpoints{}, nil }}
	go c.get(ctx, slow, "t3", now)
	for slow.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if cp := c.get(cctx, slow, "t3", now); cp != nil {
		t.Fatalf("a cancelled wait gave %+v", cp)
	}
	close(block)

	// Bounded: the least recently used tenants are forgotten.
	quick := &fakeCheckpoints{fn: func(string) (store.Checkpoints, error) { return store.Checkpoints{IDs: []string{"x"}}, nil }}
	for i := range checkpointTenants + 50 {
		c.get(ctx, quick, fmt.Sprintf("many%d", i), now.Add(time.Duration(i)*time.Millisecond))
	}
	c.mu.Lock()
	n := len(c.tenants)
	_, first := c.tenants["many0"]
	_, last := c.tenants[fmt.Sprintf("many%d", checkpointTenants+49)]
	c.mu.Unlock()
	if n > checkpointTenants || first || !last {
		t.Fatalf("%d tenants kept (cap %d); the oldest kept %v, the newest %v", n, checkpointTenants, first, last)
	}
}
