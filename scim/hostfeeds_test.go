package scim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

type feedPage struct {
	Events []struct {
		ID, Type, TenantID, ResourceType, ResourceID string
		OccurredAt                                   time.Time
		Data                                         map[string]any
	}
	NextCursor string
}

func pollFeed(t *testing.T, h *harness, token, query string) (int, feedPage) {
	t.Helper()
	r := h.req("GET", h.srv.URL+"/api/v1/events?"+query, nil, "Authorization", "Bearer "+token)
	var p feedPage
	if r.Status == 200 {
		if err := json.Unmarshal(r.Raw, &p); err != nil {
			t.Fatal(err)
		}
	}
	return r.Status, p
}

// TestEventFeed: the pull feed pages through the tenant's events in order,
// long-polls for new ones, and refuses bad input and SCIM tokens.
func TestEventFeed(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h := newHarness(t, s)
		host := hostToken(t, h)
		id := createUser(t, h, "ann@example.com", "ann@example.com", "")
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"replace","path":"active","value":false}]}`).must(t, 200)

		st, p := pollFeed(t, h, host, "wait=5s&limit=1")
		if st != 200 || len(p.Events) != 1 || p.Events[0].Type != "user.created" || p.Events[0].ResourceID != id || p.NextCursor == "" {
			t.Fatalf("first page: %d %+v", st, p)
		}
		_, p2 := pollFeed(t, h, host, "wait=5s&after="+url.QueryEscape(p.NextCursor))
		if len(p2.Events) != 1 || p2.Events[0].Type != "user.deactivated" || p2.Events[0].Data["revokeSessions"] != true ||
			p2.Events[0].TenantID != h.tenantID {
			t.Fatalf("second page: %+v", p2)
		}
		// Nothing new: an immediate poll answers empty with the same cursor.
		_, p3 := pollFeed(t, h, host, "after="+url.QueryEscape(p2.NextCursor))
		if len(p3.Events) != 0 || p3.NextCursor != p2.NextCursor {
			t.Fatalf("empty poll: %+v", p3)
		}
		// A long poll returns as soon as an event commits.
		var wg sync.WaitGroup
		wg.Add(1)
		var lp feedPage
		var lpStatus int
		var took time.Duration
		go func() {
			defer wg.Done()
			start := time.Now()
			lpStatus, lp = pollFeed(t, h, host, "wait=20s&after="+url.QueryEscape(p2.NextCursor))
			took = time.Since(start)
		}()
		time.Sleep(300 * time.Millisecond)
		h.req("DELETE", "/Users/"+id, nil).must(t, 204)
		wg.Wait()
		if lpStatus != 200 || len(lp.Events) != 1 || lp.Events[0].Type != "user.deleted" || took > 10*time.Second {
			t.Fatalf("long poll: %d %+v after %v", lpStatus, lp, took)
		}
		for _, q := range []string{"after=garbage", "wait=2m", "wait=-1s", "limit=0", "limit=5000"} {
			if st, _ := pollFeed(t, h, host, q); st != 400 {
				t.Errorf("%s: status %d, want 400", q, st)
			}
		}
		if st, _ := pollFeed(t, h, h.token, ""); st != 401 {
			t.Errorf("a SCIM token on the host API: %d, want 401", st)
		}
		// Another tenant's host token sees none of these events.
		other, _ := h.newTenant("other")
		_ = other
		h2 := *h
		h2.tenantID = other
		otherHost := hostToken(t, &h2)
		if _, op := pollFeed(t, h, otherHost, ""); len(op.Events) != 0 {
			t.Errorf("tenant other sees %+v", op.Events)
		}
	})
}

// TestAuditAPI: GET /api/v1/audit pages newest first, per user (by id or
// userName) and since a time.
func TestAuditAPI(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h := newHarness(t, s)
		host := hostToken(t, h)
		id := createUser(t, h, "bob@example.com", "bob@example.com", "")
		for i := 0; i < 4; i++ {
			h.req("PATCH", "/Users/"+id, patchOp+fmt.Sprintf(`{"op":"replace","path":"title","value":"T%d"}]}`, i)).must(t, 200)
		}
		createUser(t, h, "carol@example.com", "carol@example.com", "")
		get := func(q string) (int, map[string]any) {
			r := h.req("GET", h.srv.URL+"/api/v1/audit?"+q, nil, "Authorization", "Bearer "+host)
			return r.Status, r.Body
		}
		var ops []string
		cursor := ""
		for i := 0; i < 10; i++ {
			st, b := get("user=bob@example.com&limit=2&cursor=" + url.QueryEscape(cursor))
			if st != 200 {
				t.Fatalf("status %d: %v", st, b)
			}
			for _, e := range b["entries"].([]any) {
				m := e.(map[string]any)
				if m["resourceId"] != id {
					t.Errorf("entry of another resource: %v", m)
				}
				ops = append(ops, m["operation"].(string))
			}
			c, _ := b["nextCursor"].(string)
			if c == "" {
				break
			}
			cursor = c
		}
		if strings.Join(ops, ",") != "user.patch,user.patch,user.patch,user.patch,user.create" {
			t.Errorf("bob's timeline newest first = %v", ops)
		}
		if st, b := get("user=" + id + "&limit=1"); st != 200 || len(b["entries"].([]any)) != 1 {
			t.Errorf("by id: %d %v", st, b)
		}
		if st, b := get("since=1h"); st != 200 || len(b["entries"].([]any)) < 6 {
			t.Errorf("since 1h: %d %v", st, b)
		}
		if st, b := get("since=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))); st != 200 || len(b["entries"].([]any)) != 0 {
			t.Errorf("since the future: %d %v", st, b)
		}
		for _, q := range []string{"user=nobody@example.com", "since=yesterday", "cursor=bm9wZQ", "limit=0"} {
			if st, _ := get(q); st != 400 && st != 404 {
				t.Errorf("%s: status %d, want 400/404", q, st)
			}
		}
	})
}
