package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
)

// TestMigrateEvents migrates a database at version 4 that holds events:
// they come first in the feed, in id order, before the events written
// afterwards; down to 4 and up again works.
func TestMigrateEvents(t *testing.T) {
	url, db, p := migratedTo(t, 4)
	ctx := context.Background()
	tn, e1, e2 := newID(), newID(), newID()
	// The events written in the reverse order of their ids, in one
	// statement each.
	const event = `INSERT INTO outbox (tenant_id, id, at, type) VALUES ($1, $2, now(), 'user.created')`
	s := upgraded(t, url, db, seed{`INSERT INTO tenants (id, name, created) VALUES ($1, 'a', now())`, []any{tn}},
		seed{event, []any{tn, e2}}, seed{event, []any{tn, e1}})
	e3 := store.Event{ID: newID(), TenantID: tn, At: t0, Type: "user.updated"}
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.AppendEvent(ctx, &e3) })
	got, _, err := s.EventFeed(ctx, tn, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != e1 || got[1].ID != e2 || got[2].ID != e3.ID {
		t.Errorf("feed after migrating = %v, want %s %s %s", got, e1, e2, e3.ID)
	}
	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
}

// TestAppendEventSkipsDeletedWebhook deletes a webhook while an event is
// appended: the append waits for the delete and then writes no delivery
// for the deleted webhook rather than failing its foreign key.
func TestAppendEventSkipsDeletedWebhook(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	doomed := store.Webhook{ID: newID(), TenantID: tid, URL: "http://127.0.0.1:1/doomed", Secret: []byte("x"), Created: t0}
	kept := store.Webhook{ID: newID(), TenantID: tid, URL: "http://127.0.0.1:1/kept", Secret: []byte("y"), Created: t0}
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateWebhook(ctx, &doomed); err != nil {
			return err
		}
		return tx.CreateWebhook(ctx, &kept)
	})
	deleted, release := make(chan struct{}), make(chan struct{})
	delErr := make(chan error, 1)
	go func() {
		delErr <- s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			err := tx.DeleteWebhook(ctx, tid, doomed.ID)
			close(deleted)
			<-release
			return err
		})
	}()
	<-deleted
	appendErr := make(chan error, 1)
	ev := store.Event{ID: newID(), TenantID: tid, At: t0, Type: "user.created", ResourceType: "User", ResourceID: newID()}
	go func() {
		appendErr <- s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendEvent(ctx, &ev) })
	}()
	select {
	case err := <-appendErr:
		t.Fatalf("AppendEvent did not wait for the open delete: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-delErr; err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if err := <-appendErr; err != nil {
		t.Fatalf("AppendEvent: %v", err)
	}
	ds, err := s.ListDeliveries(ctx, tid, "", 10)
	if err != nil || len(ds) != 1 || ds[0].WebhookID != kept.ID || ds[0].Event.ID != ev.ID {
		t.Errorf("deliveries = %+v, %v; want one, to the kept webhook", ds, err)
	}
}

// TestTxReadsItsAudit reads audit entries inside the transaction that
// appended them (the last one is held back until the next write).
func TestTxReadsItsAudit(t *testing.T) {
	s := pgtest.Store(t)
	tid := newTenant(t, s)
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error {
		a := store.AuditEntry{ID: newID(), TenantID: tid, At: t0, Operation: "user.patch", Status: 200}
		if err := tx.AppendAudit(ctx, &a); err != nil {
			return err
		}
		got, err := tx.QueryAudit(ctx, store.AuditQuery{TenantID: tid, Limit: 10})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].ID != a.ID {
			t.Errorf("QueryAudit in the transaction = %+v", got)
		}
		listed, err := tx.ListAudit(ctx, tid, "", 10)
		if err != nil {
			return err
		}
		if len(listed) != 1 || listed[0].ID != a.ID {
			t.Errorf("ListAudit in the transaction = %+v", listed)
		}
		return nil
	})
	got, err := s.QueryAudit(context.Background(), store.AuditQuery{TenantID: tid, Limit: 10})
	if err != nil || len(got) != 1 {
		t.Errorf("QueryAudit after the commit = %+v, %v; want the one entry", got, err)
	}
}

// TestFeedPositions checks positions that do not parse and that a
// malformed tenant reads nothing.
func TestFeedPositions(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	for _, bad := range []string{".", "1.", "+1.00000000-0000-0000-0000-000000000000", "1.00000000-0000-0000-0000-00000000000G",
		"18446744073709551616.00000000-0000-0000-0000-000000000000", " 1.00000000-0000-0000-0000-000000000000"} {
		if _, _, err := s.EventFeed(ctx, tid, bad, 10); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("EventFeed(%q) = %v, want ErrInvalidCursor", bad, err)
		}
	}
	evs, next, err := s.EventFeed(ctx, "not-a-uuid", "", 10)
	if err != nil || len(evs) != 0 || next != "" {
		t.Errorf("EventFeed(malformed tenant) = %v, %q, %v", evs, next, err)
	}
}

// TestFeedIgnoresOtherDatabases: a write transaction left open in another
// database of the server does not hold the feed back; one in this database
// does, until it ends.
func TestFeedIgnoresOtherDatabases(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn := store.Tenant{ID: newID(), Name: "feed", Policy: []byte(`{}`), Created: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateTenant(ctx, &tn) }); err != nil {
		t.Fatal(err)
	}
	appendOne := func() string {
		ev := store.Event{ID: newID(), TenantID: tn.ID, At: tn.Created, Type: "user.created", ResourceType: "User", ResourceID: newID()}
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendEvent(ctx, &ev) }); err != nil {
			t.Fatal(err)
		}
		return ev.ID
	}
	hold := func(url string) (release func()) {
		tx, err := openRaw(t, url).BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `SELECT pg_current_xact_id()`); err != nil {
			t.Fatal(err)
		}
		return func() { _ = tx.Rollback() }
	}

	releaseOther := hold(pgtest.EmptyURL(t))
	defer releaseOther()
	first := appendOne()
	evs, pos, err := s.EventFeed(ctx, tn.ID, "", 10)
	if err != nil || len(evs) != 1 || evs[0].ID != first {
		t.Fatalf("feed with a transaction open in another database = %v, %v; want the event", evs, err)
	}

	releaseSame := hold(url)
	second := appendOne()
	if evs, _, err := s.EventFeed(ctx, tn.ID, pos, 10); err != nil || len(evs) != 0 {
		t.Fatalf("feed with an older transaction open in this database = %v, %v; want nothing yet", evs, err)
	}
	releaseSame()
	if evs, _, err := s.EventFeed(ctx, tn.ID, pos, 10); err != nil || len(evs) != 1 || evs[0].ID != second {
		t.Fatalf("feed after that transaction ended = %v, %v; want the second event", evs, err)
	}
}
