package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scimd/scimd/store"
)

// webhook creates a webhook of the tenant.
func (e *env) webhook(tenantID, url string) store.Webhook {
	e.Helper()
	w := store.Webhook{ID: newID(), TenantID: tenantID, URL: url, Secret: []byte("s3cret-" + url), Created: t0}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.CreateWebhook(ctx, &w) })
	return w
}

// event appends one event of a resource in a transaction of its own.
func (e *env) event(tenantID, typ, resourceID string, when time.Time) store.Event {
	e.Helper()
	ev := store.Event{ID: newID(), TenantID: tenantID, At: when, Type: typ, ResourceType: "User", ResourceID: resourceID,
		Payload: []byte(`{"id":"` + resourceID + `"}`)}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.AppendEvent(ctx, &ev) })
	return ev
}

func testWebhooks(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	w1 := e.webhook(ta.ID, "http://127.0.0.1:1/one")
	w2 := e.webhook(ta.ID, "http://127.0.0.1:1/two")
	e.webhook(tb.ID, "http://127.0.0.1:1/one") // same URL, other tenant: fine
	dup := store.Webhook{ID: newID(), TenantID: ta.ID, URL: w1.URL, Secret: []byte("x"), Created: t0}
	err := e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateWebhook(ctx, &dup) })
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Attr != "url" {
		e.Errorf("CreateWebhook(same URL) = %v, want a conflict on url", err)
	}
	got, err := e.s.ListWebhooks(e.ctx, ta.ID)
	if err != nil {
		e.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != w1.ID || got[1].ID != w2.ID || got[0].URL != w1.URL || !got[0].Created.Equal(t0) ||
		len(got[0].Secret) != 0 || got[0].TenantID != ta.ID {
		e.Errorf("ListWebhooks(a) = %+v", got)
	}
	// Deleting is per tenant.
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.DeleteWebhook(ctx, tb.ID, w1.ID) })
	wantErr(e.T, "DeleteWebhook(other tenant)", err, store.ErrNotFound)
	e.event(ta.ID, "user.created", newID(), t0)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.DeleteWebhook(ctx, ta.ID, w1.ID) })
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.DeleteWebhook(ctx, ta.ID, w1.ID) })
	wantErr(e.T, "DeleteWebhook twice", err, store.ErrNotFound)
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.DeleteWebhook(ctx, ta.ID, "not-a-uuid") })
	wantErr(e.T, "DeleteWebhook(malformed)", err, store.ErrNotFound)
	if got, _ := e.s.ListWebhooks(e.ctx, ta.ID); len(got) != 1 || got[0].ID != w2.ID {
		e.Errorf("ListWebhooks after delete = %+v", got)
	}
	// The deleted webhook's deliveries went with it.
	ds, err := e.s.ListDeliveries(e.ctx, ta.ID, "", 10)
	if err != nil {
		e.Fatal(err)
	}
	if len(ds) != 1 || ds[0].WebhookID != w2.ID || ds[0].URL != w2.URL {
		e.Errorf("deliveries after delete = %+v", ds)
	}
}

func testDeliveries(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	early := e.event(ta.ID, "user.created", newID(), t0) // before any webhook: never delivered
	w1 := e.webhook(ta.ID, "http://127.0.0.1:1/one")
	w2 := e.webhook(ta.ID, "http://127.0.0.1:1/two")
	uid := newID()
	ev := e.event(ta.ID, "user.deactivated", uid, at(time.Second))
	// Rolled back: no deliveries either.
	sentinel := errors.New("rollback")
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.AppendEvent(ctx, &store.Event{ID: newID(), TenantID: ta.ID, At: t0, Type: "user.created", ResourceType: "User", ResourceID: newID()}); err != nil {
			return err
		}
		return sentinel
	})
	if err != sentinel {
		e.Fatalf("Update = %v", err)
	}

	ds, err := e.s.ListDeliveries(e.ctx, ta.ID, store.DeliveryPending, 10)
	if err != nil {
		e.Fatal(err)
	}
	if len(ds) != 2 {
		e.Fatalf("pending deliveries = %+v, want one per webhook of the one event", ds)
	}
	for _, d := range ds {
		if d.Event.ID != ev.ID || d.Event.Type != ev.Type || d.Event.ResourceID != uid || !d.Event.At.Equal(ev.At) ||
			!jsonEqual(d.Event.Payload, ev.Payload) || d.State != store.DeliveryPending || d.Attempts != 0 ||
			!d.NextAttempt.Equal(ev.At) || d.TenantID != ta.ID || (d.WebhookID != w1.ID && d.WebhookID != w2.ID) ||
			len(d.Secret) != 0 || d.ID == "" {
			e.Errorf("pending delivery = %+v", d)
		}
		if d.Event.ID == early.ID {
			e.Errorf("an event written before the webhook existed got a delivery")
		}
	}
	if other, _ := e.s.ListDeliveries(e.ctx, tb.ID, "", 10); len(other) != 0 {
		e.Errorf("tenant b sees deliveries %+v", other)
	}

	// Not due yet: nothing to claim.
	if got, err := e.s.ClaimDeliveries(e.ctx, t0, time.Minute, 10); err != nil || len(got) != 0 {
		e.Fatalf("ClaimDeliveries before due = %+v, %v", got, err)
	}
	now := at(2 * time.Second)
	claimed, err := e.s.ClaimDeliveries(e.ctx, now, time.Minute, 10)
	if err != nil {
		e.Fatal(err)
	}
	if len(claimed) != 2 {
		e.Fatalf("claimed %d deliveries, want 2", len(claimed))
	}
	for _, d := range claimed {
		if d.Attempts != 1 || d.Claim == "" || d.URL == "" || string(d.Secret) != "s3cret-"+d.URL || d.Event.ID != ev.ID {
			e.Errorf("claimed delivery = %+v", d)
		}
	}
	// Leased: a second claim gets nothing until the lease runs out.
	if got, err := e.s.ClaimDeliveries(e.ctx, now.Add(30*time.Second), time.Minute, 10); err != nil || len(got) != 0 {
		e.Errorf("claim during the lease = %+v, %v", got, err)
	}
	// The first one delivered; the second fails and is due again later.
	var d1, d2 store.Delivery
	for _, d := range claimed {
		if d.WebhookID == w1.ID {
			d1 = d
		} else {
			d2 = d
		}
	}
	if err := e.s.FinishDelivery(e.ctx, d1, store.DeliveryOutcome{At: now, Delivered: true, Status: 204}); err != nil {
		e.Fatal(err)
	}
	retryAt := now.Add(10 * time.Second)
	if err := e.s.FinishDelivery(e.ctx, d2, store.DeliveryOutcome{At: now, Status: 500, Error: "HTTP 500", NextAttempt: retryAt}); err != nil {
		e.Fatal(err)
	}
	// Finishing with a stale claim changes nothing.
	stale := d1
	stale.Claim = newID()
	err = e.s.FinishDelivery(e.ctx, stale, store.DeliveryOutcome{At: now, Status: 500, Error: "late"})
	wantErr(e.T, "FinishDelivery(stale claim)", err, store.ErrNotFound)

	all, _ := e.s.ListDeliveries(e.ctx, ta.ID, "", 10)
	for _, d := range all {
		switch d.WebhookID {
		case w1.ID:
			if d.State != store.DeliveryDelivered || d.LastStatus != 204 || !d.DeliveredAt.Equal(now) || d.Attempts != 1 {
				e.Errorf("delivered = %+v", d)
			}
		case w2.ID:
			if d.State != store.DeliveryPending || d.LastStatus != 500 || d.LastError != "HTTP 500" || !d.NextAttempt.Equal(retryAt) {
				e.Errorf("failed = %+v", d)
			}
		}
	}
	if got, _ := e.s.ClaimDeliveries(e.ctx, retryAt.Add(-time.Second), time.Minute, 10); len(got) != 0 {
		e.Errorf("claimed before the retry time: %+v", got)
	}
	again, err := e.s.ClaimDeliveries(e.ctx, retryAt, time.Minute, 10)
	if err != nil || len(again) != 1 || again[0].WebhookID != w2.ID || again[0].Attempts != 2 {
		e.Fatalf("claim at the retry time = %+v, %v", again, err)
	}
	// The last attempt fails: dead.
	if err := e.s.FinishDelivery(e.ctx, again[0], store.DeliveryOutcome{At: retryAt, Dead: true, Error: "timeout"}); err != nil {
		e.Fatal(err)
	}
	dead, _ := e.s.ListDeliveries(e.ctx, ta.ID, store.DeliveryDead, 10)
	if len(dead) != 1 || dead[0].Event.ID != ev.ID || dead[0].LastError != "timeout" || dead[0].Attempts != 2 {
		e.Errorf("dead = %+v", dead)
	}
	if got, _ := e.s.ClaimDeliveries(e.ctx, retryAt.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		e.Errorf("a dead delivery was claimed: %+v", got)
	}
	st, err := e.s.DeliveryStats(e.ctx)
	if err != nil || st.Pending != 0 || st.Dead != 1 {
		e.Errorf("DeliveryStats = %+v, %v", st, err)
	}
	// Retry: per tenant; revives the dead ones.
	err = e.update(func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RetryDeliveries(ctx, tb.ID, ev.ID, retryAt)
		return err
	})
	wantErr(e.T, "RetryDeliveries(other tenant)", err, store.ErrNotFound)
	var n int
	e.must(func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.RetryDeliveries(ctx, ta.ID, ev.ID, at(time.Hour))
		return err
	})
	if n != 1 {
		e.Errorf("RetryDeliveries revived %d, want 1", n)
	}
	err = e.update(func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RetryDeliveries(ctx, ta.ID, ev.ID, retryAt)
		return err
	})
	wantErr(e.T, "RetryDeliveries with none dead", err, store.ErrNotFound)
	st, _ = e.s.DeliveryStats(e.ctx)
	if st.Pending != 1 || st.Dead != 0 || !st.OldestPending.Equal(ev.At) {
		e.Errorf("DeliveryStats after retry = %+v", st)
	}
	back, _ := e.s.ClaimDeliveries(e.ctx, at(time.Hour), time.Minute, 10)
	if len(back) != 1 || back[0].Attempts != 1 {
		e.Errorf("claim after retry = %+v", back)
	}
}

// testDeliveryOrder: the events of one resource reach a webhook one at a
// time, in order; other resources do not wait.
func testDeliveryOrder(e *env) {
	ta := e.tenant("a")
	e.webhook(ta.ID, "http://127.0.0.1:1/hook")
	u1, u2 := newID(), newID()
	a1 := e.event(ta.ID, "user.created", u1, t0)
	b1 := e.event(ta.ID, "user.created", u2, t0)
	a2 := e.event(ta.ID, "user.deactivated", u1, t0)
	a3 := e.event(ta.ID, "user.reactivated", u1, t0)
	now := at(time.Second)
	got, err := e.s.ClaimDeliveries(e.ctx, now, time.Minute, 10)
	if err != nil {
		e.Fatal(err)
	}
	if len(got) != 2 || got[0].Event.ID != a1.ID || got[1].Event.ID != b1.ID {
		e.Fatalf("first claim = %v, want the first event of each user, oldest first", eventIDs(got))
	}
	// u1's next event waits while a1 is pending, even after a failure.
	if err := e.s.FinishDelivery(e.ctx, got[0], store.DeliveryOutcome{At: now, Status: 503, NextAttempt: now}); err != nil {
		e.Fatal(err)
	}
	if err := e.s.FinishDelivery(e.ctx, got[1], store.DeliveryOutcome{At: now, Delivered: true, Status: 200}); err != nil {
		e.Fatal(err)
	}
	next, _ := e.s.ClaimDeliveries(e.ctx, now, time.Minute, 10)
	if len(next) != 1 || next[0].Event.ID != a1.ID {
		e.Fatalf("after a failure = %v, want a1 again", eventIDs(next))
	}
	if err := e.s.FinishDelivery(e.ctx, next[0], store.DeliveryOutcome{At: now, Delivered: true, Status: 200}); err != nil {
		e.Fatal(err)
	}
	for _, want := range []store.Event{a2, a3} {
		got, _ := e.s.ClaimDeliveries(e.ctx, now, time.Minute, 10)
		if len(got) != 1 || got[0].Event.ID != want.ID {
			e.Fatalf("claim = %v, want %s", eventIDs(got), want.ID)
		}
		if err := e.s.FinishDelivery(e.ctx, got[0], store.DeliveryOutcome{At: now, Delivered: true, Status: 200}); err != nil {
			e.Fatal(err)
		}
	}
	// A dead head does not block the line.
	a4 := e.event(ta.ID, "user.updated", u1, t0)
	a5 := e.event(ta.ID, "user.updated", u1, t0)
	h, _ := e.s.ClaimDeliveries(e.ctx, now, time.Minute, 10)
	if len(h) != 1 || h[0].Event.ID != a4.ID {
		e.Fatalf("claim = %v, want a4", eventIDs(h))
	}
	if err := e.s.FinishDelivery(e.ctx, h[0], store.DeliveryOutcome{At: now, Dead: true, Error: "gone"}); err != nil {
		e.Fatal(err)
	}
	h, _ = e.s.ClaimDeliveries(e.ctx, now, time.Minute, 10)
	if len(h) != 1 || h[0].Event.ID != a5.ID {
		e.Fatalf("claim after a dead head = %v, want a5", eventIDs(h))
	}
}

// testDeliveryClaimsConcurrent: concurrent claimers never get the same
// delivery twice while the lease holds.
func testDeliveryClaimsConcurrent(e *env) {
	ta := e.tenant("a")
	e.webhook(ta.ID, "http://127.0.0.1:1/hook")
	const events = 60
	for i := 0; i < events; i++ {
		e.event(ta.ID, "user.created", newID(), t0)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := e.s.ClaimDeliveries(e.ctx, at(time.Second), time.Hour, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.Fatal(err)
	}
	if len(seen) != events {
		e.Errorf("claimed %d distinct deliveries, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			e.Errorf("delivery %s claimed %d times", id, n)
		}
	}
}

func eventIDs(ds []store.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Event.ID)
	}
	return out
}

// testEventFeed: the feed returns committed events in commit order and
// continues from the position it returns.
func testEventFeed(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	var want []string
	for i := 0; i < 5; i++ {
		want = append(want, e.event(ta.ID, "user.created", newID(), at(time.Duration(i)*time.Second)).ID)
	}
	e.event(tb.ID, "user.created", newID(), t0)
	got, next, err := e.feedWait(ta.ID, "", 3, 3)
	if err != nil {
		e.Fatal(err)
	}
	if fmt.Sprint(ids(got)) != fmt.Sprint(want[:3]) || next == "" {
		e.Fatalf("feed page 1 = %v (next %q), want %v", ids(got), next, want[:3])
	}
	if !jsonEqual(got[0].Payload, []byte(`{"id":"`+got[0].ResourceID+`"}`)) || got[0].TenantID != ta.ID || got[0].Type != "user.created" {
		e.Errorf("feed event = %+v", got[0])
	}
	got, next2, err := e.feedWait(ta.ID, next, 10, 2)
	if err != nil || fmt.Sprint(ids(got)) != fmt.Sprint(want[3:]) {
		e.Fatalf("feed page 2 = %v, %v", ids(got), err)
	}
	got, next3, err := e.s.EventFeed(e.ctx, ta.ID, next2, 10)
	if err != nil || len(got) != 0 || next3 != next2 {
		e.Errorf("feed at the end = %v, %q (%v), want nothing and the same position", ids(got), next3, err)
	}
	// A later event (even with an earlier time) comes after the position.
	late := e.event(ta.ID, "user.deleted", newID(), t0.Add(-time.Hour))
	got, _, err = e.feedWait(ta.ID, next2, 10, 1)
	if err != nil || len(got) != 1 || got[0].ID != late.ID {
		e.Errorf("feed after a later commit = %v, %v", ids(got), err)
	}
	for _, bad := range []string{"nonsense", "1.2.3", "-5", "x.00000000-0000-0000-0000-000000000000"} {
		_, _, err := e.s.EventFeed(e.ctx, ta.ID, bad, 10)
		wantErr(e.T, "EventFeed("+bad+")", err, store.ErrInvalidCursor)
	}

	// An event whose transaction is still open is not shown, nor anything
	// committed after it, until it commits.
	hold := make(chan struct{})
	written := make(chan string)
	done := make(chan error, 1)
	go func() {
		done <- e.s.Update(e.ctx, func(ctx context.Context, tx store.Tx) error {
			ev := store.Event{ID: newID(), TenantID: ta.ID, At: t0, Type: "user.updated", ResourceType: "User", ResourceID: newID()}
			if err := tx.AppendEvent(ctx, &ev); err != nil {
				close(written)
				return err
			}
			written <- ev.ID
			<-hold
			return nil
		})
	}()
	slowID, ok := <-written
	if !ok {
		e.Fatalf("append in the held transaction failed: %v", <-done)
	}
	// SQLite has one writer: the held transaction blocks other writers, so
	// there is nothing that could commit after it meanwhile. PostgreSQL:
	// another transaction commits after the held one started.
	var fast store.Event
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		fast = e.event(ta.ID, "user.updated", newID(), t0)
	}()
	select {
	case <-fastDone:
	case <-time.After(500 * time.Millisecond):
	}
	_, pos, _ := e.feedWait(ta.ID, next2, 10, 1)
	got, _, err = e.s.EventFeed(e.ctx, ta.ID, pos, 10)
	if err != nil || len(got) != 0 {
		e.Errorf("feed while a writer is open = %v, %v; want nothing past it", ids(got), err)
	}
	close(hold)
	if err := <-done; err != nil {
		e.Fatal(err)
	}
	<-fastDone
	got, _, err = e.feedWait(ta.ID, pos, 10, 2)
	if err != nil {
		e.Fatal(err)
	}
	gotIDs := map[string]bool{}
	for _, ev := range got {
		gotIDs[ev.ID] = true
	}
	if !gotIDs[slowID] || !gotIDs[fast.ID] || len(got) != 2 {
		e.Errorf("feed after the commit = %v, want %s and %s", ids(got), slowID, fast.ID)
	}
}

// feedWait reads the feed until it returns at least want events or five
// seconds pass. The contract lets a backend hold events back while it
// cannot rule out a running transaction that could write before them
// (PostgreSQL does, briefly, when transactions of other databases end
// between its snapshot and its look at pg_stat_activity), so a test that
// expects events polls for them as a client does.
func (e *env) feedWait(tenantID, after string, limit, want int) ([]store.Event, string, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, next, err := e.s.EventFeed(e.ctx, tenantID, after, limit)
		if err != nil || len(got) >= want || time.Now().After(deadline) {
			return got, next, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ids(evs []store.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

// testQueryAudit: newest first, per resource, since, and cursor pages.
func testQueryAudit(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	uid, other := newID(), newID()
	var entries []store.AuditEntry
	for i := 0; i < 6; i++ {
		rid := uid
		if i%3 == 2 {
			rid = other
		}
		entries = append(entries, store.AuditEntry{ID: newID(), TenantID: ta.ID, At: at(time.Duration(i) * time.Minute),
			Actor: "cli", Operation: "user.patch", ResourceType: "User", ResourceID: rid, Status: 200, Changed: []string{"active"}})
	}
	// Two entries at the same instant: ordered by id.
	entries = append(entries, store.AuditEntry{ID: newID(), TenantID: ta.ID, At: at(5 * time.Minute), Actor: "cli",
		Operation: "user.patch", ResourceType: "User", ResourceID: uid, Status: 403, Rule: "consumer-domain"})
	entries = append(entries, store.AuditEntry{ID: newID(), TenantID: tb.ID, At: at(time.Hour), Actor: "cli",
		Operation: "user.patch", ResourceType: "User", ResourceID: uid, Status: 200})
	e.must(func(ctx context.Context, tx store.Tx) error {
		for i := range entries {
			if err := tx.AppendAudit(ctx, &entries[i]); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := e.s.QueryAudit(e.ctx, store.AuditQuery{TenantID: ta.ID, Limit: 100})
	if err != nil {
		e.Fatal(err)
	}
	wantOrder := []string{entries[6].ID, entries[5].ID, entries[4].ID, entries[3].ID, entries[2].ID, entries[1].ID, entries[0].ID}
	if fmt.Sprint(auditIDs(got)) != fmt.Sprint(wantOrder) {
		e.Errorf("QueryAudit(all) = %v, want %v", auditIDs(got), wantOrder)
	}
	if len(got) > 0 && (got[0].Rule != "consumer-domain" || got[0].Status != 403) {
		e.Errorf("newest entry = %+v", got[0])
	}
	got, _ = e.s.QueryAudit(e.ctx, store.AuditQuery{TenantID: ta.ID, ResourceID: other, Limit: 100})
	if fmt.Sprint(auditIDs(got)) != fmt.Sprint([]string{entries[5].ID, entries[2].ID}) {
		e.Errorf("QueryAudit(resource) = %v", auditIDs(got))
	}
	got, _ = e.s.QueryAudit(e.ctx, store.AuditQuery{TenantID: ta.ID, ResourceID: uid, Since: at(3 * time.Minute), Limit: 100})
	if fmt.Sprint(auditIDs(got)) != fmt.Sprint([]string{entries[6].ID, entries[4].ID, entries[3].ID}) {
		e.Errorf("QueryAudit(resource, since) = %v", auditIDs(got))
	}
	// Cursor pages of 2 walk the same order without gaps or repeats.
	var walked []string
	q := store.AuditQuery{TenantID: ta.ID, Limit: 2}
	for i := 0; i < 10; i++ {
		page, err := e.s.QueryAudit(e.ctx, q)
		if err != nil {
			e.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		walked = append(walked, auditIDs(page)...)
		last := page[len(page)-1]
		q.BeforeAt, q.BeforeID = last.At, last.ID
	}
	if fmt.Sprint(walked) != fmt.Sprint(wantOrder) {
		e.Errorf("paged audit = %v, want %v", walked, wantOrder)
	}
	if got, _ := e.s.QueryAudit(e.ctx, store.AuditQuery{TenantID: tb.ID, ResourceID: other, Limit: 10}); len(got) != 0 {
		e.Errorf("tenant b sees %v", auditIDs(got))
	}
}

func auditIDs(es []store.AuditEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}
