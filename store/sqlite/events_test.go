package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// TestMigrateEvents migrates a database that was at version 5 and holds
// events: they get seq 1, 2, … in id order, the feed lists them, and the
// next event follows them and gets a delivery; down to 5 drops the webhooks,
// the deliveries and seq and keeps the events.
func TestMigrateEvents(t *testing.T) {
	s, p := migratedTo(t, 5)
	ctx := t.Context()
	ta, tb := newTestID(), newTestID()
	e1, e2, e3 := newTestID(), newTestID(), newTestID() // UUIDv7: in this order
	// Inserted out of order, in two tenants.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO outbox (tenant_id, id, at, type, resource_type, resource_id, payload)
		VALUES (?1, ?4, 3, 'user.updated', 'User', 'u', '{}'), (?2, ?3, 2, 'user.created', 'User', 'v', '{}'),
		       (?1, ?5, 1, 'user.created', 'User', 'u', '{"id":"u"}')`, ta, tb, e2, e3, e1); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if got := rawRows(t, s.w.DB, `SELECT id, seq FROM outbox ORDER BY seq`); !slices.Equal(got,
		[]string{"id=" + e1 + "|seq=1", "id=" + e2 + "|seq=2", "id=" + e3 + "|seq=3"}) {
		t.Errorf("outbox after migrating = %v", got)
	}
	evs, next, err := s.EventFeed(ctx, ta, "", 10)
	if err != nil || len(evs) != 2 || evs[0].ID != e1 || evs[1].ID != e3 || next != "3" || string(evs[0].Payload) != `{"id":"u"}` {
		t.Errorf("EventFeed(a) = %+v, %q, %v", evs, next, err)
	}
	w := store.Webhook{ID: newTestID(), TenantID: ta, URL: "http://127.0.0.1:1/hook", Secret: []byte("k"), Created: tt0}
	e4 := store.Event{ID: newTestID(), TenantID: ta, At: tt0, Type: "user.deleted", ResourceType: "User", ResourceID: "u"}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateWebhook(ctx, &w); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, &e4)
	}); err != nil {
		t.Fatal(err)
	}
	if evs, next, err := s.EventFeed(ctx, ta, "3", 10); err != nil || len(evs) != 1 || evs[0].ID != e4.ID || next != "4" {
		t.Errorf("EventFeed(a, 3) = %+v, %q, %v", evs, next, err)
	}
	if ds, err := s.ListDeliveries(ctx, ta, "", 10); err != nil || len(ds) != 1 || ds[0].Event.ID != e4.ID {
		t.Errorf("deliveries = %+v, %v", ds, err)
	}

	if _, err := p.DownTo(ctx, 5); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if got := rawRows(t, s.w.DB, `SELECT count(*) AS n FROM outbox`); !slices.Equal(got, []string{"n=4"}) {
		t.Errorf("events after down = %v", got)
	}
	if got := rawRows(t, s.w.DB, `SELECT name FROM sqlite_master WHERE name IN ('webhooks', 'deliveries')
		UNION ALL SELECT name FROM pragma_table_info('outbox') WHERE name = 'seq'
		UNION ALL SELECT idx FROM sqlite_stat1 WHERE tbl IN ('outbox', 'webhooks', 'deliveries')`); len(got) != 0 {
		t.Errorf("left after down: %v", got)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if evs, _, err := s.EventFeed(ctx, ta, "", 10); err != nil || len(evs) != 3 || evs[2].ID != e4.ID {
		t.Errorf("EventFeed after down and up = %+v, %v", evs, err)
	}
}

// TestFeedPosition: a position is the canonical decimal of a seq.
func TestFeedPosition(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "0": 0, "7": 7, "120": 120, "9223372036854775807": 1<<63 - 1} {
		if got, err := parseFeedPosition(in); err != nil || got != want {
			t.Errorf("parseFeedPosition(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"007", "00", "+5", "-5", " 5", "5 ", "5x", "1.2.3", "1e3", "0x10", "9223372036854775808", "nonsense"} {
		if got, err := parseFeedPosition(in); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("parseFeedPosition(%q) = %d, %v; want ErrInvalidCursor", in, got, err)
		}
	}
}

// TestDeliveryLines: events without a resource form one line per webhook,
// and a line is per webhook: one webhook's failing head does not hold back
// another's.
func TestDeliveryLines(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ta := newTestID()
	w1 := store.Webhook{ID: newTestID(), TenantID: ta, URL: "http://127.0.0.1:1/one", Secret: []byte("k"), Created: tt0}
	w2 := store.Webhook{ID: newTestID(), TenantID: ta, URL: "http://127.0.0.1:1/two", Secret: []byte("k"), Created: tt0}
	var evs []store.Event
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, w := range []*store.Webhook{&w1, &w2} {
			if err := tx.CreateWebhook(ctx, w); err != nil {
				return err
			}
		}
		for i := range 2 {
			ev := store.Event{ID: newTestID(), TenantID: ta, At: tt0, Type: fmt.Sprint("tenant.changed", i)}
			if err := tx.AppendEvent(ctx, &ev); err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimDeliveries(ctx, tt0, 0, 10)
	if err != nil || len(got) != 2 || got[0].Event.ID != evs[0].ID || got[1].Event.ID != evs[0].ID {
		t.Fatalf("first claim = %+v, %v; want the first event for each webhook", got, err)
	}
	if got[0].Claim == got[1].Claim {
		t.Errorf("two deliveries share the claim %s", got[0].Claim)
	}
	for _, d := range got {
		o := store.DeliveryOutcome{At: tt0, Delivered: true, Status: 200}
		if d.WebhookID == w2.ID {
			o = store.DeliveryOutcome{At: tt0, Status: 500, NextAttempt: tt0.Add(time.Second)}
		}
		if err := s.FinishDelivery(ctx, d, o); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.ClaimDeliveries(ctx, tt0, 0, 10)
	if err != nil || len(got) != 1 || got[0].WebhookID != w1.ID || got[0].Event.ID != evs[1].ID {
		t.Fatalf("second claim = %+v, %v; want the second event for the first webhook only", got, err)
	}
}
