package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scimd/scimd/store"
)

// idemKey returns a key row of the tenant created at created, live for a
// day, with the fingerprint of body.
func idemKey(tenantID, key, body string, created time.Time) store.IdempotencyKey {
	fp := sha256.Sum256([]byte(body))
	return store.IdempotencyKey{TenantID: tenantID, Key: key, Fingerprint: fp[:], ResourceType: "User",
		Created: created, Expires: created.Add(24 * time.Hour)}
}

// putKey records k in a transaction of its own and returns Update's error.
func (e *env) putKey(k store.IdempotencyKey) error {
	return e.update(func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotencyKey(ctx, &k) })
}

func (e *env) checkKey(what string, got, want store.IdempotencyKey) {
	e.Helper()
	if len(want.Response) == 0 {
		want.Response = nil
	}
	if len(got.Response) == 0 {
		got.Response = nil
	}
	if d := cmp.Diff(want, got); d != "" {
		e.Errorf("%s: key mismatch (-want +got):\n%s", what, d)
	}
	checkUTC(e.T, what, got.Created, got.Expires)
}

// testIdempotencyPut: a key written in a change's transaction commits and
// rolls back with it, is live until it expires, scoped to its tenant, and
// a live one cannot be written over.
func testIdempotencyPut(e *env) {
	a, b := e.tenant("a"), e.tenant("b")
	now := at(time.Minute)
	_, err := e.s.GetIdempotencyKey(e.ctx, a.ID, "k1", now)
	wantErr(e.T, "GetIdempotencyKey(unknown)", err, store.ErrNotFound)

	// Rolled back with the change it belongs to.
	rollback := errors.New("rollback")
	k := idemKey(a.ID, "k1", "first", now)
	k.State, k.Status, k.ResourceID = store.IdempotencyDone, 201, newID()
	err = e.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutIdempotencyKey(ctx, &k); err != nil {
			return err
		}
		return rollback
	})
	wantErr(e.T, "Update that fails", err, rollback)
	_, err = e.s.GetIdempotencyKey(e.ctx, a.ID, "k1", now)
	wantErr(e.T, "GetIdempotencyKey after a rollback", err, store.ErrNotFound)

	// Committed with it, together with the user it names.
	var u store.User
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutIdempotencyKey(ctx, &k); err != nil {
			return err
		}
		u = store.User{TenantID: a.ID, ID: k.ResourceID, UserName: "alice", Active: true, Role: store.RoleMember,
			State: store.StateActive, Doc: []byte(`{"userName":"alice"}`), Created: now, Modified: now}
		return tx.CreateUser(ctx, &u)
	})
	got, err := e.s.GetIdempotencyKey(e.ctx, a.ID, "k1", now)
	if err != nil {
		e.Fatalf("GetIdempotencyKey: %v", err)
	}
	e.checkKey("committed key", got, k)
	if _, err := e.getUser(a.ID, k.ResourceID); err != nil {
		e.Errorf("the user created with the key: %v", err)
	}

	// A live key is not written over, whatever the request.
	again := idemKey(a.ID, "k1", "second", now.Add(time.Hour))
	again.State, again.Status = store.IdempotencyDone, 201
	wantErr(e.T, "PutIdempotencyKey of a live key", e.putKey(again), store.ErrKeyInUse)
	// … and a transaction that finds it taken can still roll back cleanly.
	got, _ = e.s.GetIdempotencyKey(e.ctx, a.ID, "k1", now.Add(time.Hour))
	e.checkKey("key after a refused write", got, k)

	// Tenants do not share keys.
	other := idemKey(b.ID, "k1", "first", now)
	other.State, other.Status, other.ResourceID = store.IdempotencyDone, 201, newID()
	if err := e.putKey(other); err != nil {
		e.Fatalf("PutIdempotencyKey of another tenant's key: %v", err)
	}
	got, _ = e.s.GetIdempotencyKey(e.ctx, b.ID, "k1", now)
	e.checkKey("other tenant's key", got, other)
	got, _ = e.s.GetIdempotencyKey(e.ctx, a.ID, "k1", now)
	e.checkKey("first tenant's key after the other's", got, k)

	// Live until Expires (exclusive), then gone and replaceable.
	if _, err := e.s.GetIdempotencyKey(e.ctx, a.ID, "k1", k.Expires.Add(-time.Microsecond)); err != nil {
		e.Errorf("GetIdempotencyKey just before expiry: %v", err)
	}
	_, err = e.s.GetIdempotencyKey(e.ctx, a.ID, "k1", k.Expires)
	wantErr(e.T, "GetIdempotencyKey at expiry", err, store.ErrNotFound)
	early := idemKey(a.ID, "k1", "third", k.Expires.Add(-time.Microsecond))
	early.State, early.Status = store.IdempotencyDone, 201
	wantErr(e.T, "PutIdempotencyKey a microsecond before expiry", e.putKey(early), store.ErrKeyInUse)
	late := idemKey(a.ID, "k1", "third", k.Expires)
	late.State, late.Status, late.ResourceType, late.ResourceID = store.IdempotencyDone, 201, "Group", newID()
	if err := e.putKey(late); err != nil {
		e.Fatalf("PutIdempotencyKey over an expired key: %v", err)
	}
	got, _ = e.s.GetIdempotencyKey(e.ctx, a.ID, "k1", k.Expires)
	e.checkKey("key written over an expired one", got, late)
}

// testIdempotencyClaim: the claim, finish and release of a /Bulk key, the
// take-over of a stale pending claim and of an expired key.
func testIdempotencyClaim(e *env) {
	a := e.tenant("a")
	now := at(time.Minute)
	stale := now.Add(-2 * time.Minute)
	k := idemKey(a.ID, "bulk-1", "bulk", now)
	k.State, k.ResourceType = store.IdempotencyPending, "Bulk"
	if _, claimed, err := e.s.ClaimIdempotencyKey(e.ctx, &k, stale); err != nil || !claimed {
		e.Fatalf("first ClaimIdempotencyKey = %v, %v; want claimed", claimed, err)
	}
	got, err := e.s.GetIdempotencyKey(e.ctx, a.ID, "bulk-1", now)
	if err != nil {
		e.Fatalf("GetIdempotencyKey of a pending key: %v", err)
	}
	e.checkKey("pending key", got, k)

	// A second claim while it is pending and fresh finds it.
	k2 := idemKey(a.ID, "bulk-1", "other bulk", now.Add(time.Minute))
	k2.State, k2.ResourceType = store.IdempotencyPending, "Bulk"
	existing, claimed, err := e.s.ClaimIdempotencyKey(e.ctx, &k2, now.Add(-time.Minute))
	if err != nil || claimed {
		e.Fatalf("second ClaimIdempotencyKey = %v, %v; want the pending row", claimed, err)
	}
	e.checkKey("row found by a second claim", existing, k)

	// A pending key is not a key a change can write.
	put := idemKey(a.ID, "bulk-1", "user", now)
	put.State, put.Status = store.IdempotencyDone, 201
	wantErr(e.T, "PutIdempotencyKey of a pending key", e.putKey(put), store.ErrKeyInUse)

	// Finished: the outcome is recorded and later claims find it.
	k.Status, k.Response = 200, []byte(`{"Operations":[]}`)
	if err := e.s.FinishIdempotencyKey(e.ctx, &k); err != nil {
		e.Fatalf("FinishIdempotencyKey: %v", err)
	}
	want := k
	want.State = store.IdempotencyDone
	got, _ = e.s.GetIdempotencyKey(e.ctx, a.ID, "bulk-1", now)
	e.checkKey("finished key", got, want)
	wantErr(e.T, "FinishIdempotencyKey twice", e.s.FinishIdempotencyKey(e.ctx, &k), store.ErrNotFound)
	// A done row is never stale: a claim long after (before expiry) finds it.
	late := idemKey(a.ID, "bulk-1", "bulk", now.Add(time.Hour))
	late.State, late.ResourceType = store.IdempotencyPending, "Bulk"
	existing, claimed, err = e.s.ClaimIdempotencyKey(e.ctx, &late, now.Add(time.Hour-2*time.Minute))
	if err != nil || claimed {
		e.Fatalf("ClaimIdempotencyKey of a done key = %v, %v; want the done row", claimed, err)
	}
	e.checkKey("done row found by a claim", existing, want)
	// Releasing a done row changes nothing.
	if err := e.s.ReleaseIdempotencyKey(e.ctx, &k); err != nil {
		e.Fatalf("ReleaseIdempotencyKey of a done row: %v", err)
	}
	if got, err := e.s.GetIdempotencyKey(e.ctx, a.ID, "bulk-1", now); err != nil || got.State != store.IdempotencyDone {
		e.Errorf("done row after a release = %+v, %v", got, err)
	}
	// Expired: a claim takes it over.
	exp := idemKey(a.ID, "bulk-1", "new bulk", k.Expires)
	exp.State, exp.ResourceType = store.IdempotencyPending, "Bulk"
	if _, claimed, err := e.s.ClaimIdempotencyKey(e.ctx, &exp, k.Expires.Add(-2*time.Minute)); err != nil || !claimed {
		e.Fatalf("ClaimIdempotencyKey of an expired key = %v, %v; want claimed", claimed, err)
	}

	// A stale pending claim is taken over; its late finish is refused
	// and its release leaves the new claim alone.
	p := idemKey(a.ID, "bulk-2", "bulk", now)
	p.State, p.ResourceType = store.IdempotencyPending, "Bulk"
	if _, claimed, err := e.s.ClaimIdempotencyKey(e.ctx, &p, stale); err != nil || !claimed {
		e.Fatalf("ClaimIdempotencyKey(bulk-2) = %v, %v", claimed, err)
	}
	q := idemKey(a.ID, "bulk-2", "bulk", now.Add(3*time.Minute))
	q.State, q.ResourceType = store.IdempotencyPending, "Bulk"
	if _, claimed, err := e.s.ClaimIdempotencyKey(e.ctx, &q, now.Add(time.Minute)); err != nil || !claimed {
		e.Fatalf("ClaimIdempotencyKey over a stale pending row = %v, %v; want claimed", claimed, err)
	}
	p.Status = 200
	wantErr(e.T, "FinishIdempotencyKey of a claim taken over", e.s.FinishIdempotencyKey(e.ctx, &p), store.ErrNotFound)
	if err := e.s.ReleaseIdempotencyKey(e.ctx, &p); err != nil {
		e.Fatalf("ReleaseIdempotencyKey of a claim taken over: %v", err)
	}
	got, err = e.s.GetIdempotencyKey(e.ctx, a.ID, "bulk-2", now.Add(3*time.Minute))
	if err != nil {
		e.Fatalf("GetIdempotencyKey(bulk-2): %v", err)
	}
	e.checkKey("claim that took over", got, q)
	// Released: gone, and the next claim wins.
	if err := e.s.ReleaseIdempotencyKey(e.ctx, &q); err != nil {
		e.Fatalf("ReleaseIdempotencyKey: %v", err)
	}
	_, err = e.s.GetIdempotencyKey(e.ctx, a.ID, "bulk-2", now.Add(3*time.Minute))
	wantErr(e.T, "GetIdempotencyKey after a release", err, store.ErrNotFound)
	if _, claimed, err := e.s.ClaimIdempotencyKey(e.ctx, &q, stale); err != nil || !claimed {
		e.Fatalf("ClaimIdempotencyKey after a release = %v, %v; want claimed", claimed, err)
	}
}

// testIdempotencyConcurrent: of concurrent claims of one key, and of
// concurrent transactions writing one key, exactly one wins; the others
// find the winner's row.
func testIdempotencyConcurrent(e *env) {
	a := e.tenant("a")
	now := at(time.Minute)
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	claims, lost := 0, 0
	var errs []error
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := idemKey(a.ID, "raced-claim", fmt.Sprint("bulk ", i), now)
			k.State, k.ResourceType = store.IdempotencyPending, "Bulk"
			existing, claimed, err := e.s.ClaimIdempotencyKey(e.ctx, &k, now.Add(-2*time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case claimed:
				claims++
			case existing.State == store.IdempotencyPending && existing.Key == "raced-claim":
				lost++
			default:
				errs = append(errs, fmt.Errorf("a lost claim found %+v", existing))
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 || claims != 1 || lost != n-1 {
		e.Errorf("concurrent claims: %d claimed, %d found the winner, errors %v; want 1, %d, none", claims, lost, errs, n-1)
	}

	// Concurrent changes writing one key, each with a user of its own:
	// one commits, the others roll back with ErrKeyInUse.
	wins, inUse := 0, 0
	errs = nil
	ids := make([]string, n)
	for i := range n {
		ids[i] = newID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := idemKey(a.ID, "raced-put", "create", now)
			k.State, k.Status, k.ResourceID = store.IdempotencyDone, 201, ids[i]
			err := e.update(func(ctx context.Context, tx store.Tx) error {
				if err := tx.PutIdempotencyKey(ctx, &k); err != nil {
					return err
				}
				u := store.User{TenantID: a.ID, ID: ids[i], UserName: fmt.Sprint("user", i), Active: true,
					Role: store.RoleMember, State: store.StateActive, Doc: []byte(`{}`), Created: now, Modified: now}
				return tx.CreateUser(ctx, &u)
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrKeyInUse):
				inUse++
			default:
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 || wins != 1 || inUse != n-1 {
		e.Fatalf("concurrent puts: %d committed, %d in use, errors %v; want 1, %d, none", wins, inUse, errs, n-1)
	}
	got, err := e.s.GetIdempotencyKey(e.ctx, a.ID, "raced-put", now)
	if err != nil {
		e.Fatalf("GetIdempotencyKey(raced-put): %v", err)
	}
	live := 0
	for _, id := range ids {
		if _, err := e.getUser(a.ID, id); err == nil {
			live++
			if id != got.ResourceID {
				e.Errorf("user %s exists but the key names %s", id, got.ResourceID)
			}
		}
	}
	if live != 1 {
		e.Errorf("%d users created under one key, want 1", live)
	}
}

// testIdempotencyPurge: a purge removes expired rows only, at most limit
// of them.
func testIdempotencyPurge(e *env) {
	a, b := e.tenant("a"), e.tenant("b")
	for i := range 5 {
		for _, tn := range []store.Tenant{a, b} {
			k := idemKey(tn.ID, fmt.Sprint("old", i), "x", at(time.Duration(i)*time.Minute))
			k.State, k.Status = store.IdempotencyDone, 201
			if err := e.putKey(k); err != nil {
				e.Fatalf("PutIdempotencyKey: %v", err)
			}
		}
	}
	fresh := idemKey(a.ID, "fresh", "x", at(time.Hour))
	fresh.State, fresh.Status = store.IdempotencyDone, 201
	if err := e.putKey(fresh); err != nil {
		e.Fatalf("PutIdempotencyKey: %v", err)
	}
	// At t0+24h+4m the ten "old" rows have expired (the last exactly then).
	now := at(24*time.Hour + 4*time.Minute)
	if n, err := e.s.PurgeIdempotencyKeys(e.ctx, now, 0); err != nil || n != 0 {
		e.Errorf("PurgeIdempotencyKeys(limit 0) = %d, %v; want 0", n, err)
	}
	if n, err := e.s.PurgeIdempotencyKeys(e.ctx, now, 4); err != nil || n != 4 {
		e.Errorf("PurgeIdempotencyKeys(limit 4) = %d, %v; want 4", n, err)
	}
	// The oldest went first: old0 and old1 of both tenants.
	for _, tn := range []store.Tenant{a, b} {
		for i := range 2 {
			k := idemKey(tn.ID, fmt.Sprint("old", i), "y", now)
			k.State, k.Status = store.IdempotencyDone, 201
			k.Expires = now.Add(-time.Hour) // an expired row of its own: gone if the old one was purged
			k.Created = now.Add(-25 * time.Hour)
			if err := e.putKey(k); err != nil {
				e.Errorf("PutIdempotencyKey over purged old%d: %v", i, err)
			}
		}
	}
	if n, err := e.s.PurgeIdempotencyKeys(e.ctx, now, 100); err != nil || n != 10 {
		e.Errorf("PurgeIdempotencyKeys(limit 100) = %d, %v; want 10", n, err)
	}
	if got, err := e.s.GetIdempotencyKey(e.ctx, a.ID, "fresh", now); err != nil {
		e.Errorf("the live key after purges: %v", err)
	} else {
		e.checkKey("live key after purges", got, fresh)
	}
	if n, err := e.s.PurgeIdempotencyKeys(e.ctx, now, 100); err != nil || n != 0 {
		e.Errorf("PurgeIdempotencyKeys with nothing expired = %d, %v; want 0", n, err)
	}
}
