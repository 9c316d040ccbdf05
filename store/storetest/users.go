package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scimd/scimd/store"
)

func testUserRoundTrip(e *env) {
	tn := e.tenant("a")
	zone := time.FixedZone("UTC-7", -7*3600)
	deact := at(90 * time.Minute).In(zone)
	full := store.User{
		TenantID: tn.ID, ID: newID(), UserName: "Élodie.Dupré@Example.com", ExternalID: "00u1ABC",
		Active: false, DisplayName: "Élodie Dupré", GivenName: "Élodie", FamilyName: "Dupré",
		Role: store.RoleAdmin, State: store.StateInactive, DeactivatedAt: &deact,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		Emails: []store.Email{
			{Value: "elodie@example.com", Type: "work", Primary: true},
			{Value: "E.Dupre@home.example", Type: "home"},
			{Value: "third@example.com"},
		},
		Doc: json.RawMessage(`{"userName":"Élodie.Dupré@Example.com","name":{"givenName":"Élodie","familyName":"Dupré"},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42"},"nested":[1,2.5,"x",null,true]}`),
		Created:  at(time.Microsecond).In(zone),
		Modified: at(time.Hour + 999999*time.Microsecond).In(zone),
	}
	minimal := store.User{TenantID: tn.ID, ID: newID(), UserName: "min", Active: true, State: store.StateActive,
		Doc: json.RawMessage(`{}`), Created: t0, Modified: t0}
	e.must(func(ctx context.Context, tx store.Tx) error {
		for _, u := range []*store.User{&full, &minimal} {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			if u.Version != 1 {
				e.Errorf("CreateUser: Version %d, want 1", u.Version)
			}
		}
		got, err := tx.GetUser(ctx, tn.ID, full.ID)
		if err != nil {
			return fmt.Errorf("tx.GetUser: %w", err)
		}
		e.checkUser("tx.GetUser", got, wantUser(full))
		return nil
	})
	want := wantUser(full)
	e.checkUser("GetUser", e.mustGetUser(tn.ID, full.ID), want)
	e.checkUser("GetUser(minimal)", e.mustGetUser(tn.ID, minimal.ID), wantUser(minimal))
	for _, name := range []string{full.UserName, "élodie.dupré@example.com", "ÉLODIE.DUPRÉ@EXAMPLE.COM"} {
		got, err := e.s.GetUserByUserName(e.ctx, tn.ID, name)
		if err != nil {
			e.Errorf("GetUserByUserName(%q): %v", name, err)
			continue
		}
		e.checkUser("GetUserByUserName", got, want)
	}
	_, err := e.s.GetUserByUserName(e.ctx, tn.ID, "elodie.dupre@example.com")
	wantErr(e.T, "GetUserByUserName(unaccented)", err, store.ErrNotFound)
	list := e.allUsers(tn.ID, nil)
	if len(list) != 2 {
		e.Fatalf("ListUsers: %d users, want 2", len(list))
	}
	for _, u := range list {
		if u.ID == full.ID {
			e.checkUser("ListUsers", u, want)
		} else {
			e.checkUser("ListUsers(minimal)", u, wantUser(minimal))
		}
	}
	e.must(func(ctx context.Context, tx store.Tx) error {
		got, err := tx.LockUser(ctx, tn.ID, full.ID)
		if err != nil {
			return err
		}
		e.checkUser("LockUser", got, want)
		return nil
	})
	for _, id := range []string{newID(), "not-a-uuid", ""} {
		_, err := e.getUser(tn.ID, id)
		wantErr(e.T, "GetUser("+id+")", err, store.ErrNotFound)
		err = e.update(func(ctx context.Context, tx store.Tx) error {
			_, err := tx.LockUser(ctx, tn.ID, id)
			return err
		})
		wantErr(e.T, "LockUser("+id+")", err, store.ErrNotFound)
	}
}

// wantUser is what reading u back returns: times in UTC, Version 1.
func wantUser(u store.User) store.User {
	u.Created, u.Modified = u.Created.UTC(), u.Modified.UTC()
	if u.DeactivatedAt != nil {
		u.DeactivatedAt = ptr(u.DeactivatedAt.UTC())
	}
	if u.Version == 0 {
		u.Version = 1
	}
	return u
}

func testUserConflicts(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	create := func(tenantID, name string) (store.User, error) {
		u := store.User{TenantID: tenantID, ID: newID(), UserName: name, Active: true, State: store.StateActive,
			Doc: json.RawMessage(`{}`), Created: t0, Modified: t0}
		err := e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &u) })
		return u, err
	}
	e.user(ta.ID, "alice")
	elodie := e.user(ta.ID, "ÉLODIE")
	for _, name := range []string{"alice", "ALICE", "Alice", "élodie", "Élodie", "ÉLODIE"} {
		_, err := create(ta.ID, name)
		wantConflict(e.T, "CreateUser("+name+")", err, "userName")
	}
	// Other tenants and other names are free.
	for _, c := range []struct{ tenant, name string }{{tb.ID, "ALICE"}, {tb.ID, "élodie"}, {ta.ID, "elodie"}, {ta.ID, "alice2"}} {
		if _, err := create(c.tenant, c.name); err != nil {
			e.Errorf("CreateUser(%s): %v", c.name, err)
		}
	}
	// A conflict rolls back the whole transaction.
	other := store.User{TenantID: ta.ID, ID: newID(), UserName: "bystander", Active: true, State: store.StateActive, Created: t0, Modified: t0}
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateUser(ctx, &other); err != nil {
			return err
		}
		dup := store.User{TenantID: ta.ID, ID: newID(), UserName: "Alice", Active: true, State: store.StateActive, Created: t0, Modified: t0}
		return tx.CreateUser(ctx, &dup)
	})
	wantConflict(e.T, "CreateUser in tx", err, "userName")
	if _, err := e.getUser(ta.ID, other.ID); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("write before a conflict was committed: %v", err)
	}

	// UpdateUser onto a taken name conflicts; onto its own name in another case does not.
	u := elodie
	u.UserName = "Alice"
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &u, 1) })
	wantConflict(e.T, "UpdateUser(taken)", err, "userName")
	u = elodie
	u.UserName = "élodie"
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &u, 1) })
	if got := e.mustGetUser(ta.ID, elodie.ID); got.UserName != "élodie" || got.Version != 2 {
		e.Errorf("after renaming: %q version %d", got.UserName, got.Version)
	}

	// A tombstone frees the name.
	e.deleteUser(ta.ID, elodie.ID)
	again, err := create(ta.ID, "Élodie")
	if err != nil {
		e.Fatalf("CreateUser after delete: %v", err)
	}
	got, err := e.s.GetUserByUserName(e.ctx, ta.ID, "ÉLODIE")
	if err != nil || got.ID != again.ID {
		e.Errorf("GetUserByUserName after re-create = %s, %v; want %s", got.ID, err, again.ID)
	}
	// Two tombstones with one name are fine too.
	e.deleteUser(ta.ID, again.ID)
	if _, err := create(ta.ID, "élodie"); err != nil {
		e.Errorf("CreateUser after two deletes: %v", err)
	}

	// A duplicate id is a conflict as well (whatever the attribute).
	dup := store.User{TenantID: ta.ID, ID: elodie.ID, UserName: "fresh", Active: true, State: store.StateActive, Created: t0, Modified: t0}
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &dup) })
	wantErr(e.T, "CreateUser(duplicate id)", err, store.ErrConflict)
}

func testUpdateUser(e *env) {
	tn := e.tenant("a")
	orig := e.user(tn.ID, "bob", func(u *store.User) {
		u.Emails = []store.Email{{Value: "a@x.example", Type: "work", Primary: true}, {Value: "b@x.example", Type: "home"}}
		u.DisplayName, u.ExternalID = "Bob", "ext"
	})
	deact := at(2 * time.Hour)
	next := orig
	next.UserName, next.DisplayName, next.ExternalID = "Robert", "", ""
	next.GivenName, next.FamilyName = "Robert", "Tables"
	next.Active, next.State, next.DeactivatedAt, next.Role = false, store.StateInactive, &deact, store.RoleViewer
	next.PasswordHash = "hash"
	next.Emails = []store.Email{{Value: "c@x.example", Type: "other"}}
	next.Doc = json.RawMessage(`{"userName": "Robert"}`)
	next.Modified = at(3 * time.Hour)
	e.must(func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockUser(ctx, tn.ID, orig.ID)
		if err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, &next, cur.Version); err != nil {
			return err
		}
		if next.Version != 2 {
			e.Errorf("UpdateUser set Version %d, want 2", next.Version)
		}
		got, err := tx.GetUser(ctx, tn.ID, orig.ID)
		if err != nil {
			return err
		}
		e.checkUser("tx.GetUser after UpdateUser", got, next)
		return nil
	})
	e.checkUser("GetUser after UpdateUser", e.mustGetUser(tn.ID, orig.ID), next)
	// Emails were rewritten: the old ones no longer match.
	byEmail := func(v string) []store.User {
		return e.allUsers(tn.ID, store.ValuePath{Attr: "emails", Filter: store.Cmp{Attr: "emails.value", Op: store.OpEq, Value: v}})
	}
	if n := len(byEmail("a@x.example")); n != 0 {
		e.Errorf("old email still matches %d users", n)
	}
	if n := len(byEmail("c@x.example")); n != 1 {
		e.Errorf("new email matches %d users, want 1", n)
	}
	// The old name is free, the new one taken.
	if _, err := e.s.GetUserByUserName(e.ctx, tn.ID, "bob"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("old userName still found: %v", err)
	}
	if got, err := e.s.GetUserByUserName(e.ctx, tn.ID, "ROBERT"); err != nil || got.ID != orig.ID {
		e.Errorf("GetUserByUserName(new name) = %v, %v", got.ID, err)
	}

	// Stale version: ErrPrecondition, nothing written.
	stale := next
	stale.DisplayName = "stale"
	for _, v := range []int64{1, 3, 0} {
		err := e.update(func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &stale, v) })
		wantErr(e.T, fmt.Sprintf("UpdateUser(version %d)", v), err, store.ErrPrecondition)
	}
	if got := e.mustGetUser(tn.ID, orig.ID); got.DisplayName != "" || got.Version != 2 {
		e.Errorf("stale update wrote: %q version %d", got.DisplayName, got.Version)
	}
	// Missing and malformed ids: ErrNotFound.
	for _, id := range []string{newID(), "not-a-uuid"} {
		m := next
		m.ID = id
		err := e.update(func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &m, 2) })
		wantErr(e.T, "UpdateUser(missing)", err, store.ErrNotFound)
	}
	// Deleted: ErrNotFound whatever the version.
	e.deleteUser(tn.ID, orig.ID)
	for _, v := range []int64{2, 3} {
		err := e.update(func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &stale, v) })
		wantErr(e.T, "UpdateUser(deleted)", err, store.ErrNotFound)
	}
}

func testDeleteUser(e *env) {
	tn := e.tenant("a")
	keep := e.user(tn.ID, "keep")
	gone := e.user(tn.ID, "gone", func(u *store.User) {
		u.DisplayName = "Gone"
		u.Emails = []store.Email{{Value: "gone@example.com", Type: "work"}}
	})
	g1, g2 := e.group(tn.ID, "one"), e.group(tn.ID, "two")
	e.addMembers(tn.ID, g1.ID, keep.ID, gone.ID)
	e.addMembers(tn.ID, g2.ID, gone.ID)
	owner := store.Token{ID: newID(), TenantID: tn.ID, Hash: []byte(newID()), OwnerID: gone.ID, Created: t0}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.CreateToken(ctx, &owner) })

	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.DeleteUser(ctx, tn.ID, gone.ID, at(time.Hour), false); err != nil {
			return err
		}
		_, err := tx.GetUser(ctx, tn.ID, gone.ID)
		wantErr(e.T, "tx.GetUser(deleted)", err, store.ErrNotFound)
		return nil
	})
	_, err := e.getUser(tn.ID, gone.ID)
	wantErr(e.T, "GetUser(deleted)", err, store.ErrNotFound)
	_, err = e.s.GetUserByUserName(e.ctx, tn.ID, "gone")
	wantErr(e.T, "GetUserByUserName(deleted)", err, store.ErrNotFound)
	err = e.update(func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LockUser(ctx, tn.ID, gone.ID)
		return err
	})
	wantErr(e.T, "LockUser(deleted)", err, store.ErrNotFound)
	for _, f := range []store.Filter{
		nil,
		store.Cmp{Attr: "id", Op: store.OpEq, Value: gone.ID, CaseExact: true},
		store.Cmp{Attr: "userName", Op: store.OpEq, Value: "gone"},
		store.Cmp{Attr: "displayName", Op: store.OpPr},
		store.Cmp{Attr: "active", Op: store.OpEq, Value: false},
		store.Not{Term: store.Cmp{Attr: "userName", Op: store.OpEq, Value: "keep"}},
		store.ValuePath{Attr: "emails", Filter: store.Cmp{Attr: "emails.value", Op: store.OpPr}},
	} {
		for _, u := range e.allUsers(tn.ID, f) {
			if u.ID != keep.ID {
				e.Errorf("ListUsers(%#v) returned %s (%s)", f, u.UserName, u.State)
			}
		}
	}
	if got := e.members(tn.ID, g1.ID); len(got) != 1 || got[0] != keep.ID {
		e.Errorf("members of g1 after delete: %v, want [keep]", got)
	}
	gm, err := e.s.GroupMembers(e.ctx, tn.ID, []string{g1.ID, g2.ID})
	if err != nil || len(gm[g2.ID]) != 0 {
		e.Errorf("GroupMembers(g2) = %v, %v; want none", gm[g2.ID], err)
	}
	ug, err := e.s.UserGroups(e.ctx, tn.ID, []string{gone.ID, keep.ID})
	if err != nil || len(ug[gone.ID]) != 0 || len(ug[keep.ID]) != 1 {
		e.Errorf("UserGroups after delete = %v, %v", ug, err)
	}
	for _, g := range e.allGroups(tn.ID, store.ValuePath{Attr: "members", Filter: store.Cmp{Attr: "members.value", Op: store.OpEq, Value: gone.ID, CaseExact: true}}) {
		e.Errorf("group %s still filters by deleted member", g.DisplayName)
	}
	// A deleted user cannot be added back to a group.
	e.must(func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, tn.ID, g2.ID, []string{gone.ID})
		if err != nil {
			return err
		}
		if len(missing) != 1 || missing[0] != gone.ID {
			e.Errorf("AddMembers(deleted) missing = %v", missing)
		}
		return nil
	})
	// Deleting again, or a missing user: ErrNotFound.
	for _, id := range []string{gone.ID, newID(), "not-a-uuid"} {
		err := e.update(func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteUser(ctx, tn.ID, id, at(2*time.Hour), false)
		})
		wantErr(e.T, "DeleteUser("+id+")", err, store.ErrNotFound)
	}
	// The token owned by the deleted user is still returned by hash.
	if _, err := e.s.TokenByHash(e.ctx, owner.Hash); err != nil {
		e.Errorf("TokenByHash after owner deleted: %v", err)
	}
}

func testConcurrentUpdates(e *env) {
	tn := e.tenant("a")
	u := e.user(tn.ID, "contended")
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.s.Update(e.ctx, func(ctx context.Context, tx store.Tx) error {
				cur, err := tx.LockUser(ctx, tn.ID, u.ID)
				if err != nil {
					return err
				}
				cur.DisplayName = fmt.Sprintf("writer %d", i)
				cur.Modified = at(time.Duration(i) * time.Second)
				return tx.UpdateUser(ctx, &cur, cur.Version)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			e.Errorf("concurrent Update: %v", err)
		}
	}
	if got := e.mustGetUser(tn.ID, u.ID); got.Version != n+1 {
		e.Errorf("final version %d, want %d (an update was lost)", got.Version, n+1)
	}
}

// testUpdateUserEmailsInOneTx updates a locked user several times in one
// transaction — emails changed, unchanged, changed back — and reads back
// exactly the emails of the last update, in the table (filters) and on
// the user.
func testUpdateUserEmailsInOneTx(e *env) {
	tn := e.tenant("a")
	u := e.user(tn.ID, "eve", func(u *store.User) {
		u.Emails = []store.Email{{Value: "eve@one.test", Type: "work", Primary: true}}
	})
	two := []store.Email{{Value: "eve@two.test", Type: "work", Primary: true}, {Value: "eve@home.test", Type: "home"}}
	steps := [][]store.Email{two, two, {{Value: "eve@one.test", Type: "work", Primary: true}}, nil, two}
	if err := e.update(func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockUser(ctx, tn.ID, u.ID)
		if err != nil {
			return err
		}
		for i, emails := range steps {
			cur.Emails = emails
			cur.DisplayName = fmt.Sprintf("step %d", i)
			if err := tx.UpdateUser(ctx, &cur, cur.Version); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		e.Fatalf("updates: %v", err)
	}
	got := e.mustGetUser(tn.ID, u.ID)
	if d := cmp.Diff(two, got.Emails); d != "" {
		e.Errorf("emails after the updates (-want +got):\n%s", d)
	}
	for _, c := range []struct {
		email string
		n     int
	}{{"eve@two.test", 1}, {"EVE@home.test", 1}, {"eve@one.test", 0}} {
		page, err := e.s.ListUsers(e.ctx, tn.ID, store.Query{Limit: 10, Filter: store.ValuePath{Attr: "emails",
			Filter: store.Cmp{Attr: "emails.value", Op: store.OpEq, Value: c.email}}})
		if err != nil {
			e.Fatalf("ListUsers: %v", err)
		}
		if len(page.Users) != c.n {
			e.Errorf("emails.value eq %q finds %d users, want %d", c.email, len(page.Users), c.n)
		}
	}
}
