package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func mustUpdate(t testing.TB, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func newTenant(t testing.TB, s store.Store) string {
	t.Helper()
	tn := store.Tenant{ID: newID(), Name: "t-" + newID(), Created: t0}
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateTenant(ctx, &tn) })
	return tn.ID
}

func newUser(t testing.TB, s store.Store, tenantID, userName string, mods ...func(*store.User)) store.User {
	t.Helper()
	u := store.User{
		TenantID: tenantID, ID: newID(), UserName: userName, Active: true, Role: store.RoleMember,
		State: store.StateActive, Doc: json.RawMessage(`{}`), Created: t0, Modified: t0,
	}
	for _, m := range mods {
		m(&u)
	}
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &u) })
	return u
}

func newGroup(t testing.TB, s store.Store, tenantID, name string) store.Group {
	t.Helper()
	g := store.Group{TenantID: tenantID, ID: newID(), DisplayName: name, Created: t0, Modified: t0}
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateGroup(ctx, &g) })
	return g
}

func TestMigrateConcurrently(t *testing.T) {
	url := pgtest.EmptyURL(t)
	ctx := context.Background()
	const n = 3
	stores := make([]*postgres.Store, n)
	for i := range stores {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	// Migrating a migrated database does nothing, and the schema works.
	if err := stores[0].Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	newTenant(t, stores[0])
}

func TestOpenBadURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"); err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if _, err := postgres.Open(ctx, "postgres://%zz"); err == nil {
		t.Fatal("Open on a malformed URL succeeded")
	}
}

func TestConflicts(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	u := newUser(t, s, tid, "Alice")

	dup := store.User{TenantID: tid, ID: newID(), UserName: "ALICE", State: store.StateActive, Created: t0, Modified: t0}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &dup) })
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Attr != "userName" || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate userName: %v", err)
	}

	// The same userName in another tenant is fine.
	newUser(t, s, newTenant(t, s), "alice")

	// Renaming another user onto the name conflicts too.
	b := newUser(t, s, tid, "bob")
	b.UserName = "aLiCe"
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &b, 1) })
	if !errors.As(err, &ce) || ce.Attr != "userName" {
		t.Fatalf("rename onto taken userName: %v", err)
	}

	// A deleted user frees the name.
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, tid, u.ID, t0, false) })
	newUser(t, s, tid, "alice")

	// The same id twice is a plain conflict.
	again := store.User{TenantID: tid, ID: b.ID, UserName: "carol", State: store.StateActive, Created: t0, Modified: t0}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &again) })
	if !errors.Is(err, store.ErrConflict) || errors.As(err, &ce) {
		t.Fatalf("duplicate id: %v", err)
	}

	newGroup(t, s, tid, "Admins")
	g := store.Group{TenantID: tid, ID: newID(), DisplayName: "admins", Created: t0, Modified: t0}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateGroup(ctx, &g) })
	if !errors.As(err, &ce) || ce.Attr != "displayName" {
		t.Fatalf("duplicate displayName: %v", err)
	}

	tn := store.Tenant{ID: newID(), Name: "dup", Created: t0}
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateTenant(ctx, &tn) })
	tn.ID = newID()
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateTenant(ctx, &tn) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate tenant name: %v", err)
	}

	tok := store.Token{ID: newID(), TenantID: tid, Hash: []byte("h"), Created: t0}
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateToken(ctx, &tok) })
	tok.ID = newID()
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateToken(ctx, &tok) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate token hash: %v", err)
	}
}

func TestMalformedIDs(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	u := newUser(t, s, tid, "alice")
	g := newGroup(t, s, tid, "g")
	bad := []string{"", "x", "'; DROP TABLE users; --", "00000000-0000-0000-0000-00000000000g",
		// Valid UUIDs in other spellings are not the stored id either.
		"{" + u.ID + "}", "urn:uuid:" + u.ID, toUpper(u.ID)}
	for _, id := range bad {
		if _, err := s.GetUser(ctx, tid, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUser(%q): %v", id, err)
		}
		if _, err := s.GetUser(ctx, id, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUser(tenant %q): %v", id, err)
		}
		if _, err := s.GetGroup(ctx, tid, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetGroup(%q): %v", id, err)
		}
		if _, err := s.GetTenant(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetTenant(%q): %v", id, err)
		}
		p, err := s.ListUsers(ctx, tid, store.Query{Filter: store.Cmp{Attr: "id", Op: store.OpEq, Value: id, CaseExact: true}, Limit: 10})
		if err != nil || p.Total != 0 {
			t.Errorf("ListUsers(id eq %q) = %d, %v", id, p.Total, err)
		}
		p, err = s.ListUsers(ctx, tid, store.Query{Filter: store.Cmp{Attr: "id", Op: store.OpNe, Value: id, CaseExact: true}, Limit: 10})
		if err != nil || p.Total != 1 {
			t.Errorf("ListUsers(id ne %q) = %d, %v", id, p.Total, err)
		}
		err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.LockUser(ctx, tid, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("LockUser(%q): %v", id, err)
			}
			if err := tx.DeleteUser(ctx, tid, id, t0, false); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteUser(%q): %v", id, err)
			}
			if err := tx.DeleteGroup(ctx, tid, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteGroup(%q): %v", id, err)
			}
			if err := tx.RevokeToken(ctx, id, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("RevokeToken(%q): %v", id, err)
			}
			missing, err := tx.AddMembers(ctx, tid, g.ID, []string{u.ID, id})
			if err != nil || len(missing) != 1 || missing[0] != id {
				t.Errorf("AddMembers(%q) = %q, %v", id, missing, err)
			}
			if err := tx.RemoveMembers(ctx, tid, g.ID, []string{id}); err != nil {
				t.Errorf("RemoveMembers(%q): %v", id, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Update (%q): %v", id, err)
		}
	}
	// Nothing was added by the refused AddMembers calls.
	m, err := s.GroupMembers(ctx, tid, append([]string{g.ID}, bad...))
	if err != nil || len(m) != 0 {
		t.Errorf("GroupMembers = %v, %v", m, err)
	}
	// Writes refuse malformed ids instead of storing them.
	x := store.User{TenantID: tid, ID: "not-a-uuid", UserName: "x", State: store.StateActive, Created: t0, Modified: t0}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &x) }); err == nil {
		t.Error("CreateUser with a malformed id succeeded")
	}
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestUpdateRollsBack(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	boom := errors.New("boom")
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		u := store.User{TenantID: tid, ID: newID(), UserName: "a", State: store.StateActive, Created: t0, Modified: t0}
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update returned %v, want the function's error unchanged", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "panic!" {
				t.Fatalf("recovered %v, want the function's panic", r)
			}
		}()
		_ = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			u := store.User{TenantID: tid, ID: newID(), UserName: "b", State: store.StateActive, Created: t0, Modified: t0}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			panic("panic!")
		})
	}()
	p, err := s.ListUsers(ctx, tid, store.Query{Limit: 10})
	if err != nil || p.Total != 0 {
		t.Fatalf("after rollbacks: %d users, %v", p.Total, err)
	}
	// The pool still works: the connection of the panicked transaction was
	// released.
	for range 20 {
		newUser(t, s, tid, "c-"+newID())
	}
}

// TestLockUserSerialises runs read-modify-write cycles on one user from many
// goroutines: LockUser must make them queue, so no versioned update ever
// sees another version.
func TestLockUserSerialises(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	u := newUser(t, s, tid, "counter", func(u *store.User) { u.Doc = json.RawMessage(`{"n":0}`) })
	g := newGroup(t, s, tid, "counter")
	const workers, rounds = 8, 5
	var failures atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
					cur, err := tx.LockUser(ctx, tid, u.ID)
					if err != nil {
						return err
					}
					var doc struct{ N int }
					if err := json.Unmarshal(cur.Doc, &doc); err != nil {
						return err
					}
					time.Sleep(time.Millisecond) // widen the window
					cur.Doc = json.RawMessage(fmt.Sprintf(`{"n":%d}`, doc.N+1))
					if err := tx.UpdateUser(ctx, &cur, cur.Version); err != nil {
						return err
					}
					gr, err := tx.LockGroup(ctx, tid, g.ID)
					if err != nil {
						return err
					}
					return tx.UpdateGroup(ctx, &gr, gr.Version)
				})
				if err != nil {
					failures.Add(1)
					t.Errorf("Update: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got, err := s.GetUser(ctx, tid, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(workers*rounds) - failures.Load()
	if got.Version != want+1 || string(got.Doc) != fmt.Sprintf(`{"n":%d}`, want) {
		t.Errorf("after %d increments: version %d, doc %s", want, got.Version, got.Doc)
	}
	gg, _ := s.GetGroup(ctx, tid, g.ID)
	if gg.Version != want+1 {
		t.Errorf("group version %d, want %d", gg.Version, want+1)
	}
}

func TestVersionedUpdate(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	u := newUser(t, s, tid, "a")
	stale := u
	u.DisplayName = "A"
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &u, 1) })
	if u.Version != 2 {
		t.Fatalf("Version %d after update", u.Version)
	}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &stale, 1) })
	if !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("stale update: %v", err)
	}
	missing := store.User{TenantID: tid, ID: newID(), UserName: "m"}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &missing, 1) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of missing user: %v", err)
	}
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, tid, u.ID, t0, false) })
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &u, 3) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of deleted user: %v", err)
	}
}

func TestContextCancellation(t *testing.T) {
	s := pgtest.Store(t)
	tid := newTenant(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ListUsers(ctx, tid, store.Query{Limit: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("ListUsers with a cancelled context: %v", err)
	}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context: %v", err)
	}
	// A transaction whose context ends while it waits for a row lock gives
	// up instead of waiting.
	u := newUser(t, s, tid, "locked")
	locked := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.LockUser(ctx, tid, u.ID); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	wctx, wcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer wcancel()
	start := time.Now()
	err = s.Update(wctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LockUser(ctx, tid, u.ID)
		return err
	})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("waiting for a lock past the deadline: %v after %v", err, time.Since(start))
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestAddMembersDeleteRace checks that a user deleted while a concurrent
// transaction adds it to a group is either reported missing or removed by
// the delete: a tombstone never stays a member.
func TestAddMembersDeleteRace(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	g := newGroup(t, s, tid, "g")
	for range 20 {
		u := newUser(t, s, tid, "u-"+newID())
		var wg sync.WaitGroup
		wg.Go(func() {
			_ = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.AddMembers(ctx, tid, g.ID, []string{u.ID})
				return err
			})
		})
		wg.Go(func() {
			mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, tid, u.ID, t0, false) })
		})
		wg.Wait()
	}
	m, err := s.GroupMembers(ctx, tid, []string{g.ID})
	if err != nil || len(m) != 0 {
		t.Fatalf("deleted users left in the group: %v, %v", m, err)
	}
}

// TestLockedGroupsJoinEachOther holds two groups locked in two transactions
// (as a PATCH does) and then adds each to the other: the key-share lock of
// AddMembers must not wait for LockGroup's lock, or the two deadlock.
func TestLockedGroupsJoinEachOther(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	a, b := newGroup(t, s, tid, "a"), newGroup(t, s, tid, "b")
	var locked sync.WaitGroup
	locked.Add(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, p := range [][2]store.Group{{a, b}, {b, a}} {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				cur, err := tx.LockGroup(ctx, tid, p[0].ID)
				locked.Done()
				if err != nil {
					return err
				}
				locked.Wait() // both groups are locked
				if err := tx.UpdateGroup(ctx, &cur, cur.Version); err != nil {
					return err
				}
				missing, err := tx.AddMembers(ctx, tid, p[0].ID, []string{p[1].ID})
				if err == nil && len(missing) > 0 {
					err = fmt.Errorf("missing %v", missing)
				}
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	m, err := s.GroupMembers(ctx, tid, []string{a.ID, b.ID})
	if err != nil || len(m[a.ID]) != 1 || m[a.ID][0].ID != b.ID || len(m[b.ID]) != 1 || m[b.ID][0].ID != a.ID {
		t.Errorf("GroupMembers = %v, %v; want each group in the other", m, err)
	}
}

// TestDeleteGroupWaitsForAddMembers deletes a group while an open
// transaction has added it to another group: the delete waits for that
// transaction and then removes the new membership, so no row of the
// deleted group is left behind.
func TestDeleteGroupWaitsForAddMembers(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	outer, doomed := newGroup(t, s, tid, "outer"), newGroup(t, s, tid, "doomed")
	added, release := make(chan struct{}), make(chan struct{})
	addErr := make(chan error, 1)
	go func() {
		addErr <- s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			missing, err := tx.AddMembers(ctx, tid, outer.ID, []string{doomed.ID})
			if err == nil && len(missing) > 0 {
				err = fmt.Errorf("missing %v", missing)
			}
			close(added)
			<-release
			return err
		})
	}()
	<-added
	delErr := make(chan error, 1)
	go func() {
		delErr <- s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.LockGroup(ctx, tid, doomed.ID); err != nil {
				return err
			}
			return tx.DeleteGroup(ctx, tid, doomed.ID)
		})
	}()
	select {
	case err := <-delErr:
		t.Fatalf("DeleteGroup did not wait for the open AddMembers: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-addErr; err != nil {
		t.Fatalf("AddMembers: %v", err)
	}
	if err := <-delErr; err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	p, err := s.ListGroups(ctx, tid, store.Query{Limit: 10, Filter: store.ValuePath{Attr: "members",
		Filter: store.Cmp{Attr: "members.value", Op: store.OpEq, Value: doomed.ID, CaseExact: true}}})
	if err != nil || p.Total != 0 {
		t.Errorf("groups with the deleted group as member: %d, %v; want none", p.Total, err)
	}
}
