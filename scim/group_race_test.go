package scim

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/pgtest"
)

// TestGroupRaceConcurrentMemberPatches fires 32 concurrent PATCH requests
// at one group on PostgreSQL, each adding or removing members, and checks
// that every one answers 204 and that the group ends with exactly the
// members a serial run gives. The requests never add an id that another
// removes (the same id may be added, or removed, by several), so the
// serial result is the same in every order: a lost membership change (a
// handler or store that read the member list and wrote it back without
// holding the group) shows as a wrong final set or version.
func TestGroupRaceConcurrentMemberPatches(t *testing.T) {
	h := newHarness(t, pgtest.Store(t))
	const nUsers, nInitial = 40, 8
	u := make([]string, nUsers)
	for i := range u {
		u[i] = gets(h.req("POST", "/Users", map[string]any{"userName": fmt.Sprintf("racer%02d@acme.test", i)}).must(t, 201).Body, "id")
	}
	initial := make([]any, nInitial)
	for i := range initial {
		initial[i] = map[string]any{"value": u[i]}
	}
	created := h.req("POST", "/Groups", map[string]any{"displayName": "racers", "members": initial}).must(t, 201)
	gid := gets(created.Body, "id")
	version0 := created.Header.Get("ETag")

	// The operations of one request.
	add := func(ids ...int) map[string]any {
		vals := make([]any, len(ids))
		for i, id := range ids {
			vals[i] = map[string]any{"value": u[id]}
		}
		return map[string]any{"op": "add", "path": "members", "value": vals}
	}
	remove := func(ids ...int) map[string]any {
		terms := make([]string, len(ids))
		for i, id := range ids {
			terms[i] = fmt.Sprintf("value eq %q", u[id])
		}
		return map[string]any{"op": "remove", "path": "members[" + strings.Join(terms, " or ") + "]"}
	}
	var requests [][]map[string]any
	// Removes of initial members, u0 and u1 twice, u5 and u6 together and
	// u6 alone too; u7 is never touched and stays.
	for _, id := range []int{0, 1, 2, 3, 4, 0, 1} {
		requests = append(requests, []map[string]any{remove(id)})
	}
	requests = append(requests, []map[string]any{remove(5, 6)}, []map[string]any{remove(6)})
	// A remove of a user that is never a member changes nothing.
	requests = append(requests, []map[string]any{remove(39)})
	// Adds of new members, one each, u8 twice.
	for id := 8; id <= 25; id++ {
		requests = append(requests, []map[string]any{add(id)})
	}
	requests = append(requests, []map[string]any{add(8)})
	// Several ids in one add, overlapping on u28, and one request with an
	// add and a remove of disjoint ids.
	requests = append(requests,
		[]map[string]any{add(28, 29, 30)},
		[]map[string]any{add(28, 31)},
		[]map[string]any{add(32), remove(2, 39)},
	)
	if len(requests) != 32 {
		t.Fatalf("%d requests, want 32", len(requests))
	}

	// The serial result, and a check that no id is both added and removed
	// (which would make the result depend on the order).
	want := map[string]bool{}
	for _, id := range u[:nInitial] {
		want[id] = true
	}
	added, removed := map[string]bool{}, map[string]bool{}
	for _, ops := range requests {
		for _, op := range ops {
			if op["op"] == "add" {
				for _, v := range op["value"].([]any) {
					id := v.(map[string]any)["value"].(string)
					added[id], want[id] = true, true
				}
				continue
			}
			for _, id := range u {
				if strings.Contains(op["path"].(string), id) {
					removed[id] = true
					delete(want, id)
				}
			}
		}
	}
	for id := range added {
		if removed[id] {
			t.Fatalf("user %s is both added and removed: the result would depend on the order", id)
		}
	}

	// Fire them together. h.req fails the test on a transport error, which
	// only the test goroutine may do, so the goroutines use their own client.
	type answer struct {
		status int
		body   string
		err    error
	}
	answers := make([]answer, len(requests))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, ops := range requests {
		body, err := json.Marshal(map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": ops,
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			<-start
			r, err := http.NewRequest("PATCH", h.base+"/Groups/"+gid, strings.NewReader(string(body)))
			if err != nil {
				answers[i].err = err
				return
			}
			r.Header.Set("Authorization", "Bearer "+h.token)
			r.Header.Set("Content-Type", "application/scim+json")
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				answers[i].err = err
				return
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			answers[i] = answer{status: res.StatusCode, body: string(raw)}
		})
	}
	close(start)
	wg.Wait()
	for i, a := range answers {
		if a.err != nil || a.status != http.StatusNoContent {
			t.Errorf("request %d %v: status %d, %v, body %s; want 204", i, requests[i], a.status, a.err, a.body)
		}
	}

	got := h.req("GET", "/Groups/"+gid, nil).must(t, 200)
	var members []string
	list, _ := got.Body["members"].([]any)
	for _, m := range list {
		members = append(members, gets(m, "value"))
	}
	slices.Sort(members)
	if w := slices.Sorted(maps.Keys(want)); !slices.Equal(members, w) {
		name := make(map[string]string, len(u))
		for i, id := range u {
			name[id] = fmt.Sprintf("u%d", i)
		}
		names := func(ids []string) []string {
			out := make([]string, len(ids))
			for i, id := range ids {
				out[i] = name[id]
			}
			return out
		}
		t.Errorf("members after the concurrent PATCHes:\n got  %v\n want %v (the serial result)", names(members), names(w))
	}
	// Every PATCH bumped the version once.
	if v, want := got.Header.Get("ETag"), fmt.Sprintf(`W/"%d"`, 1+len(requests)); version0 != `W/"1"` || v != want {
		t.Errorf("ETag %s after %d PATCHes of version %s, want %s", v, len(requests), version0, want)
	}
}
