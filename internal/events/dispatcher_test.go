package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/scim/webhook"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
)

// clock is a fake clock tests move by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func newID() string                  { return uuid.Must(uuid.NewV7()).String() }
func mustUpdate(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// fixture is a tenant with one webhook pointing at srv.
type fixture struct {
	s      store.Store
	tenant string
	hook   store.Webhook
	clk    *clock
}

func newFixture(t *testing.T, s store.Store, url string) *fixture {
	t.Helper()
	f := &fixture{s: s, tenant: newID(), clk: newClock()}
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &store.Tenant{ID: f.tenant, Name: "t-" + f.tenant[:8], Policy: json.RawMessage(`{}`), Created: f.clk.Now()}); err != nil {
			return err
		}
		f.hook = store.Webhook{ID: newID(), TenantID: f.tenant, URL: url, Secret: []byte("whsec-" + f.tenant), Created: f.clk.Now()}
		return tx.CreateWebhook(ctx, &f.hook)
	})
	return f
}

func (f *fixture) event(t *testing.T, typ, userID string) store.Event {
	t.Helper()
	ev := store.Event{ID: newID(), TenantID: f.tenant, At: f.clk.Now(), Type: typ, ResourceType: "User", ResourceID: userID,
		Payload: json.RawMessage(`{"id":"` + userID + `","active":false}`)}
	mustUpdate(t, f.s, func(ctx context.Context, tx store.Tx) error { return tx.AppendEvent(ctx, &ev) })
	return ev
}

func (f *fixture) dispatcher(cfg events.Config) *events.Dispatcher {
	cfg.Store = f.s
	cfg.Now = f.clk.Now
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	cfg.Jitter = func() float64 { return 0.5 }
	return events.New(cfg)
}

// receiver records verified deliveries and answers with the statuses
// given in turn (200 once they run out).
type receiver struct {
	mu       sync.Mutex
	secret   []byte
	now      func() time.Time
	statuses []int
	hang     int // the first hang requests wait for the client to give up
	got      []webhook.Event
	posts    int
	bad      []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.posts++
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.SignatureHeader), body, 0, rc.now()); err != nil {
		rc.bad = append(rc.bad, err.Error())
	}
	if rc.hang > 0 {
		rc.hang--
		rc.mu.Unlock()
		<-r.Context().Done()
		return
	}
	status := 200
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	if status/100 == 2 {
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			rc.bad = append(rc.bad, "body: "+err.Error())
		}
		if r.Header.Get(webhook.EventIDHeader) != ev.ID || r.Header.Get(webhook.EventTypeHeader) != ev.Type {
			rc.bad = append(rc.bad, "headers do not match the body")
		}
		rc.got = append(rc.got, ev)
	}
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) snapshot() (got []webhook.Event, posts int, bad []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]webhook.Event(nil), rc.got...), rc.posts, append([]string(nil), rc.bad...)
}

func setup(t *testing.T, s store.Store) (*fixture, *receiver) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	f := newFixture(t, s, srv.URL+"/hooks/scimd")
	rc.secret, rc.now = f.hook.Secret, f.clk.Now
	return f, rc
}

func runOnce(t *testing.T, d *events.Dispatcher) int {
	t.Helper()
	n, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeliverSigned(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f, rc := setup(t, s)
		uid := newID()
		ev := f.event(t, "user.deactivated", uid)
		d := f.dispatcher(events.Config{})
		if n := runOnce(t, d); n != 1 {
			t.Fatalf("claimed %d", n)
		}
		got, posts, bad := rc.snapshot()
		if len(bad) != 0 || posts != 1 || len(got) != 1 {
			t.Fatalf("posts %d, got %+v, bad %v", posts, got, bad)
		}
		g := got[0]
		if g.ID != ev.ID || g.Type != "user.deactivated" || g.TenantID != f.tenant || g.ResourceType != "User" ||
			g.ResourceID != uid || !g.OccurredAt.Equal(ev.At) || string(g.Data) != string(ev.Payload) {
			t.Errorf("delivered %+v, want event %+v", g, ev)
		}
		if n := runOnce(t, d); n != 0 {
			t.Errorf("a delivered event was claimed again (%d)", n)
		}
		ds, _ := s.ListDeliveries(context.Background(), f.tenant, store.DeliveryDelivered, 10)
		if len(ds) != 1 || ds[0].LastStatus != 200 {
			t.Errorf("deliveries = %+v", ds)
		}
	})
}

func TestRetryThenDeliverOnce(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f, rc := setup(t, s)
		rc.statuses = []int{500}
		f.event(t, "user.created", newID())
		m := obs.NewMetrics()
		d := f.dispatcher(events.Config{BaseDelay: time.Minute, Metrics: m})
		runOnce(t, d)
		if got, posts, _ := rc.snapshot(); posts != 1 || len(got) != 0 {
			t.Fatalf("after a 500: posts %d, delivered %d", posts, len(got))
		}
		ds, _ := s.ListDeliveries(context.Background(), f.tenant, "", 10)
		if len(ds) != 1 || ds[0].State != store.DeliveryPending || ds[0].LastStatus != 500 ||
			ds[0].LastError == "" || ds[0].Attempts != 1 {
			t.Fatalf("after a 500: %+v", ds)
		}
		// Backoff: first retry after between 30 s and 1 min (jitter 0.5 → 45 s).
		wantNext := f.clk.Now().Add(45 * time.Second)
		if !ds[0].NextAttempt.Equal(wantNext) {
			t.Errorf("next attempt %v, want %v", ds[0].NextAttempt, wantNext)
		}
		if n := runOnce(t, d); n != 0 {
			t.Errorf("retried before the backoff (%d)", n)
		}
		f.clk.Add(45 * time.Second)
		runOnce(t, d)
		runOnce(t, d)
		got, posts, bad := rc.snapshot()
		if posts != 2 || len(got) != 1 || len(bad) != 0 {
			t.Errorf("posts %d, delivered %d, bad %v; want 2 posts, delivered once", posts, len(got), bad)
		}
		if f, dl := testutil.ToFloat64(m.Deliveries.WithLabelValues("failed")), testutil.ToFloat64(m.Deliveries.WithLabelValues("delivered")); f != 1 || dl != 1 {
			t.Errorf("deliveries metric: failed %v delivered %v, want 1 and 1", f, dl)
		}
		if n := testutil.CollectAndCount(m.DeliveryLag); n != 1 {
			t.Errorf("delivery lag series = %d", n)
		}
	})
}

func TestHangingReceiverTimesOut(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f, rc := setup(t, s)
		rc.hang = 1
		f.event(t, "user.created", newID())
		d := f.dispatcher(events.Config{Timeout: 300 * time.Millisecond, BaseDelay: time.Second})
		start := time.Now()
		runOnce(t, d)
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("the attempt took %v with a 300 ms timeout", el)
		}
		ds, _ := s.ListDeliveries(context.Background(), f.tenant, "", 10)
		if len(ds) != 1 || ds[0].State != store.DeliveryPending || ds[0].LastStatus != 0 || ds[0].LastError == "" {
			t.Fatalf("after a hang: %+v", ds)
		}
		f.clk.Add(time.Second)
		runOnce(t, d)
		if got, posts, _ := rc.snapshot(); posts != 2 || len(got) != 1 {
			t.Errorf("posts %d, delivered %d; want the retry delivered", posts, len(got))
		}
	})
}

func TestDeadAndRetry(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f, rc := setup(t, s)
		rc.statuses = []int{500, 502, 404}
		ev := f.event(t, "user.deleted", newID())
		d := f.dispatcher(events.Config{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: time.Second})
		for i := 0; i < 3; i++ {
			runOnce(t, d)
			f.clk.Add(time.Second)
		}
		dead, _ := s.ListDeliveries(context.Background(), f.tenant, store.DeliveryDead, 10)
		if len(dead) != 1 || dead[0].Event.ID != ev.ID || dead[0].Attempts != 3 || dead[0].LastStatus != 404 {
			t.Fatalf("dead = %+v", dead)
		}
		if n := runOnce(t, d); n != 0 {
			t.Errorf("a dead delivery was claimed")
		}
		mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.RetryDeliveries(ctx, f.tenant, ev.ID, f.clk.Now())
			return err
		})
		runOnce(t, d)
		if got, posts, _ := rc.snapshot(); posts != 4 || len(got) != 1 {
			t.Errorf("posts %d, delivered %d after the retry", posts, len(got))
		}
	})
}

// TestCrashBetweenCommitAndDelivery: a dispatcher stops after claiming
// (its attempt never finishes); once the lease runs out another dispatcher
// delivers the event.
func TestCrashBetweenCommitAndDelivery(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f, rc := setup(t, s)
		rc.hang = 1
		ev := f.event(t, "user.deactivated", newID())
		first := f.dispatcher(events.Config{Timeout: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = first.RunOnce(ctx)
		}()
		for {
			if _, posts, _ := rc.snapshot(); posts == 1 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel() // the process dies mid-attempt: no outcome is recorded
		<-done
		second := f.dispatcher(events.Config{Timeout: time.Minute})
		if n := runOnce(t, second); n != 0 {
			t.Fatalf("claimed %d while the first claim's lease holds", n)
		}
		f.clk.Add(2 * time.Minute)
		runOnce(t, second)
		got, _, _ := rc.snapshot()
		if len(got) != 1 || got[0].ID != ev.ID {
			t.Errorf("delivered %+v after the restart", got)
		}
	})
}

// TestTwoDispatchersOnePostgres: two dispatchers, each with its own
// connection pool on one PostgreSQL database, never deliver one event at
// the same time and keep every user's events in order, with failures.
func TestTwoDispatchersOnePostgres(t *testing.T) {
	url := pgtest.URL(t)
	open := func() store.Store {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s1, s2 := open(), open()
	var mu sync.Mutex
	inFlight := map[string]bool{}
	var concurrent []string
	delivered := map[string]int{}  // event id → successful deliveries
	order := map[string][]string{} // user id → event ids in delivery order
	var fail atomic.Int64
	f := &fixture{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev webhook.Event
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		if inFlight[ev.ID] {
			concurrent = append(concurrent, ev.ID)
		}
		inFlight[ev.ID] = true
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		status := 200
		if fail.Add(1)%5 == 0 { // every fifth post fails
			status = 503
		}
		mu.Lock()
		delete(inFlight, ev.ID)
		if status == 200 {
			delivered[ev.ID]++
			order[ev.ResourceID] = append(order[ev.ResourceID], ev.ID)
		}
		mu.Unlock()
		w.WriteHeader(status)
	}))
	defer srv.Close()
	*f = *newFixture(t, s1, srv.URL)
	want := map[string][]string{}
	const users, perUser = 6, 15
	var userIDs []string
	for i := 0; i < users; i++ {
		userIDs = append(userIDs, newID())
	}
	for j := 0; j < perUser; j++ {
		for _, u := range userIDs {
			want[u] = append(want[u], f.event(t, fmt.Sprintf("user.updated.%d", j), u).ID)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mk := func(s store.Store) *events.Dispatcher {
		// Real clock here: retries come due by themselves (1 ms backoff).
		return events.New(events.Config{Store: s, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond,
			Batch: 4, Poll: 5 * time.Millisecond, Timeout: 5 * time.Second})
	}
	var wg sync.WaitGroup
	for _, d := range []*events.Dispatcher{mk(s1), mk(s2)} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = d.Run(ctx) }()
	}
	total := users * perUser
	for ctx.Err() == nil {
		mu.Lock()
		n := len(delivered)
		mu.Unlock()
		if n == total {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(concurrent) != 0 {
		t.Errorf("events delivered by both dispatchers at once: %v", concurrent)
	}
	if len(delivered) != total {
		t.Fatalf("delivered %d of %d events", len(delivered), total)
	}
	for id, n := range delivered {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	for u, w := range want {
		if fmt.Sprint(order[u]) != fmt.Sprint(w) {
			t.Errorf("user %s: delivery order %v, want %v", u, order[u], w)
		}
	}
}

// TestQueueMetrics: a running dispatcher reports the queue depth, the dead
// count and the age of the oldest pending event.
func TestQueueMetrics(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f, rc := setup(t, s)
		rc.statuses = []int{500, 500, 500}
		f.event(t, "user.created", newID())
		f.clk.Add(90 * time.Second)
		m := obs.NewMetrics()
		d := f.dispatcher(events.Config{Metrics: m, BaseDelay: time.Hour, Poll: 10 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_ = d.Run(ctx) // reads the stats when it starts, then fails the one attempt
		if q, age := testutil.ToFloat64(m.QueueDepth), testutil.ToFloat64(m.OldestPending); q != 1 || age != 90 {
			t.Errorf("queue depth %v, oldest pending age %v s; want 1 and 90", q, age)
		}
		if n := testutil.ToFloat64(m.Deliveries.WithLabelValues("failed")); n != 1 {
			t.Errorf("failed attempts %v, want 1", n)
		}
	})
}
