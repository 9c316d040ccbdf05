package storetest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/scimd/scimd/store"
)

// testBrakeState: a tenant's brake state starts released, LockBrake
// creates it, PauseBrake and ResumeBrake change it, and nothing of one
// tenant shows in another's.
func testBrakeState(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	got, err := e.s.GetBrake(e.ctx, ta.ID)
	if err != nil || got.TenantID != ta.ID || got.Paused != nil || got.Resumed != nil {
		e.Fatalf("GetBrake before any lock = %+v, %v; want a released state", got, err)
	}
	for _, id := range []string{newID(), "not-a-uuid"} {
		if got, err := e.s.GetBrake(e.ctx, id); err != nil || got.Paused != nil {
			e.Errorf("GetBrake(%q) = %+v, %v; want a released state", id, got, err)
		}
	}
	// Pausing or resuming a state LockBrake never created is ErrNotFound.
	err = e.update(func(ctx context.Context, tx store.Tx) error {
		return tx.PauseBrake(ctx, ta.ID, store.BrakePause{At: t0, Count: 1, Limit: 1})
	})
	wantErr(e.T, "PauseBrake without a state", err, store.ErrNotFound)
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.ResumeBrake(ctx, ta.ID, t0) })
	wantErr(e.T, "ResumeBrake without a state", err, store.ErrNotFound)
	for _, id := range []string{newID(), "not-a-uuid", ""} {
		err := e.update(func(ctx context.Context, tx store.Tx) error {
			_, err := tx.LockBrake(ctx, id)
			return err
		})
		wantErr(e.T, "LockBrake("+id+")", err, store.ErrNotFound)
	}

	pause := store.BrakePause{At: at(time.Minute), Count: 11, Limit: 10, ActiveUsers: 95, Percent: 10, WindowMinutes: 15}
	e.must(func(ctx context.Context, tx store.Tx) error {
		b, err := tx.LockBrake(ctx, ta.ID)
		if err != nil {
			return err
		}
		if b.TenantID != ta.ID || b.Paused != nil || b.Resumed != nil {
			e.Errorf("first LockBrake = %+v", b)
		}
		if b, err = tx.LockBrake(ctx, ta.ID); err != nil || b.TenantID != ta.ID { // again, in one transaction
			e.Errorf("second LockBrake = %+v, %v", b, err)
		}
		return tx.PauseBrake(ctx, ta.ID, pause)
	})
	got, err = e.s.GetBrake(e.ctx, ta.ID)
	if err != nil || got.Paused == nil || *got.Paused != pause || got.Resumed != nil {
		e.Fatalf("after PauseBrake: %+v (%+v), %v; want paused with %+v", got, got.Paused, err, pause)
	}
	if got.Paused.At.Location() != time.UTC {
		e.Errorf("pause time in %v, want UTC", got.Paused.At.Location())
	}
	if other, err := e.s.GetBrake(e.ctx, tb.ID); err != nil || other.Paused != nil {
		e.Errorf("the other tenant: %+v, %v", other, err)
	}
	// A transaction that rolls back leaves the state alone.
	boom := errors.New("boom")
	err = e.update(func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.LockBrake(ctx, ta.ID); err != nil {
			return err
		}
		if err := tx.ResumeBrake(ctx, ta.ID, at(time.Hour)); err != nil {
			return err
		}
		return boom
	})
	wantErr(e.T, "rolled back resume", err, boom)
	if got, _ := e.s.GetBrake(e.ctx, ta.ID); got.Paused == nil {
		e.Error("a rolled back ResumeBrake released the brake")
	}
	e.must(func(ctx context.Context, tx store.Tx) error {
		b, err := tx.LockBrake(ctx, ta.ID)
		if err != nil {
			return err
		}
		if b.Paused == nil || *b.Paused != pause {
			e.Errorf("LockBrake of a paused tenant = %+v", b)
		}
		return tx.ResumeBrake(ctx, ta.ID, at(2*time.Hour))
	})
	got, err = e.s.GetBrake(e.ctx, ta.ID)
	if err != nil || got.Paused != nil || got.Resumed == nil || !got.Resumed.Equal(at(2*time.Hour)) {
		e.Fatalf("after ResumeBrake: %+v, %v", got, err)
	}
}

// testDeprovisionCounts: changes count by the minute from the minute of
// since, per tenant, a day at most, and not after a resume.
func testDeprovisionCounts(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	base := time.Date(2026, 5, 6, 7, 8, 0, 0, time.UTC) // on a minute
	record := func(tenantID string, offsets ...time.Duration) {
		e.Helper()
		e.must(func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.LockBrake(ctx, tenantID); err != nil {
				return err
			}
			for _, d := range offsets {
				if err := tx.RecordDeprovision(ctx, tenantID, base.Add(d)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	count := func(tenantID string, since time.Time) int {
		e.Helper()
		var n int
		e.must(func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.CountDeprovisions(ctx, tenantID, since)
			return err
		})
		return n
	}
	if n := count(ta.ID, base.Add(-time.Hour)); n != 0 {
		e.Fatalf("count before any change: %d", n)
	}
	// Three in minute 0 (its first and last microsecond), two in minute
	// 1, one in minute 5; one in tenant b.
	record(ta.ID, 0, 30*time.Second, time.Minute-time.Microsecond, time.Minute, 90*time.Second, 5*time.Minute+time.Second)
	record(tb.ID, time.Minute)
	for _, tc := range []struct {
		since time.Duration
		want  int
	}{
		{-time.Hour, 6}, {0, 6}, {30 * time.Second, 6}, // since within minute 0 counts all of minute 0
		{time.Minute, 3}, {time.Minute + 59*time.Second, 3}, {2 * time.Minute, 1}, {5 * time.Minute, 1},
		{5*time.Minute + 59*time.Second, 1}, {6 * time.Minute, 0}, {time.Hour, 0},
	} {
		if n := count(ta.ID, base.Add(tc.since)); n != tc.want {
			e.Errorf("CountDeprovisions(since base%+v) = %d, want %d", tc.since, n, tc.want)
		}
	}
	if n := count(tb.ID, base.Add(-time.Hour)); n != 1 {
		e.Errorf("tenant b counts %d, want 1", n)
	}
	if n := count(newID(), base.Add(-time.Hour)); n != 0 {
		e.Errorf("an unknown tenant counts %d", n)
	}
	// A rolled back change does not count.
	boom := errors.New("boom")
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.RecordDeprovision(ctx, ta.ID, base.Add(2*time.Minute)); err != nil {
			return err
		}
		return boom
	})
	wantErr(e.T, "rolled back record", err, boom)
	if n := count(ta.ID, base); n != 6 {
		e.Errorf("after a rolled back record: %d, want 6", n)
	}
	// A change a day and more later forgets the minutes older than a day
	// before it; the minutes within the day stay.
	record(ta.ID, store.DeprovisionKeep+2*time.Minute+time.Second)
	if n := count(ta.ID, base.Add(-time.Hour)); n != 2 {
		e.Errorf("after a change a day later: %d counted since the start, want 2 (minute 5 and the new one)", n)
	}
	// A resume forgets every count of the tenant, and only its own.
	e.must(func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.LockBrake(ctx, ta.ID); err != nil {
			return err
		}
		return tx.ResumeBrake(ctx, ta.ID, base.Add(2*store.DeprovisionKeep))
	})
	if n := count(ta.ID, base.Add(-time.Hour)); n != 0 {
		e.Errorf("after a resume: %d", n)
	}
	if n := count(tb.ID, base.Add(-time.Hour)); n != 1 {
		e.Errorf("tenant b after a's resume: %d, want 1", n)
	}
	record(ta.ID, 2*store.DeprovisionKeep+time.Second)
	if n := count(ta.ID, base.Add(2*store.DeprovisionKeep)); n != 1 {
		e.Errorf("a change after the resume: %d, want 1", n)
	}
}

// testBrakeConcurrency: transactions that lock the brake, count and
// record only below a limit, from many goroutines at once, record
// exactly the limit: LockBrake serialises them.
func testBrakeConcurrency(e *env) {
	tn := e.tenant("a")
	const limit, workers = 7, 16
	now := time.Date(2026, 5, 6, 7, 8, 0, 0, time.UTC)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		recorded int
	)
	for range workers {
		wg.Go(func() {
			var did bool
			err := e.update(func(ctx context.Context, tx store.Tx) error {
				did = false
				if _, err := tx.LockBrake(ctx, tn.ID); err != nil {
					return err
				}
				n, err := tx.CountDeprovisions(ctx, tn.ID, now.Add(-10*time.Minute))
				if err != nil || n >= limit {
					return err
				}
				did = true
				return tx.RecordDeprovision(ctx, tn.ID, now)
			})
			if err != nil {
				e.Errorf("worker: %v", err)
				return
			}
			if did {
				mu.Lock()
				recorded++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var n int
	e.must(func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.CountDeprovisions(ctx, tn.ID, now.Add(-time.Hour))
		return err
	})
	if recorded != limit || n != limit {
		e.Fatalf("%d workers recorded %d changes, %d counted; want exactly %d", workers, recorded, n, limit)
	}
}
