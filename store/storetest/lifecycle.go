package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scimd/scimd/store"
)

// withEmails sets the emails of a fixture user.
func withEmails(values ...string) func(*store.User) {
	return func(u *store.User) {
		u.Emails = nil
		for i, v := range values {
			u.Emails = append(u.Emails, store.Email{Value: v, Type: "work", Primary: i == 0})
		}
	}
}

// withRole sets the role of a fixture user.
func withRole(role string) func(*store.User) {
	return func(u *store.User) { u.Role = role }
}

// mustGetTombstone returns GetTombstone(id) and fails the test on error.
func (e *env) mustGetTombstone(tenantID, id string) store.User {
	e.Helper()
	u, err := e.s.GetTombstone(e.ctx, tenantID, id)
	if err != nil {
		e.Fatalf("GetTombstone(%s): %v", id, err)
	}
	return u
}

// asTombstone is what GetTombstone returns for u deleted (not erased) at
// when: the same data, state deleted, inactive, the version bumped.
func asTombstone(u store.User, when time.Time) store.User {
	u = wantUser(u)
	u.State, u.Active, u.Modified, u.Version = store.StateDeleted, false, when, u.Version+1
	return u
}

func (e *env) countUsers(tenantID string, states ...store.UserState) int {
	e.Helper()
	n, err := e.s.CountUsers(e.ctx, tenantID, states...)
	if err != nil {
		e.Fatalf("CountUsers(%v): %v", states, err)
	}
	return n
}

func testCountUsers(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	e.user(ta.ID, "a1")
	e.user(ta.ID, "a2")
	e.user(ta.ID, "a3", func(u *store.User) { u.Active, u.State = false, store.StateInactive })
	retained, erased := e.user(ta.ID, "retained"), e.user(ta.ID, "erased")
	e.deleteUserAt(ta.ID, retained.ID, at(time.Hour), false)
	e.deleteUserAt(ta.ID, erased.ID, at(time.Hour), true)
	e.user(tb.ID, "b1")

	active, inactive, deleted := store.StateActive, store.StateInactive, store.StateDeleted
	for _, c := range []struct {
		tenant string
		states []store.UserState
		want   int
	}{
		{ta.ID, nil, 0},
		{ta.ID, []store.UserState{active}, 2},
		{ta.ID, []store.UserState{inactive}, 1},
		{ta.ID, []store.UserState{deleted}, 2},
		{ta.ID, []store.UserState{active, inactive}, 3},
		{ta.ID, []store.UserState{inactive, deleted, active}, 5},
		{ta.ID, []store.UserState{active, active}, 2},
		{tb.ID, []store.UserState{active}, 1},
		{tb.ID, []store.UserState{inactive, deleted}, 0},
		{newID(), []store.UserState{active}, 0},
	} {
		if got := e.countUsers(c.tenant, c.states...); got != c.want {
			e.Errorf("CountUsers(%v) = %d, want %d", c.states, got, c.want)
		}
	}
	// A transaction counts its own writes.
	e.must(func(ctx context.Context, tx store.Tx) error {
		u := store.User{TenantID: ta.ID, ID: newID(), UserName: "a4", Active: true, State: store.StateActive,
			Doc: json.RawMessage(`{}`), Created: t0, Modified: t0}
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		n, err := tx.CountUsers(ctx, ta.ID, store.StateActive)
		if err != nil || n != 3 {
			e.Errorf("tx.CountUsers(active) after a create = %d, %v; want 3", n, err)
		}
		return nil
	})
}

func testEmailTaken(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	alice := e.user(ta.ID, "alice", withEmails("Alice@Example.com", "shared@x.example"))
	bob := e.user(ta.ID, "bob", withEmails("bob@x.example", "shared@x.example"), func(u *store.User) {
		u.Active, u.State = false, store.StateInactive // inactive users are live
	})
	ghost := e.user(ta.ID, "ghost", withEmails("ghost@x.example"))
	e.deleteUser(ta.ID, ghost.ID)
	e.user(tb.ID, "other", withEmails("other@b.example"))

	for _, c := range []struct {
		tenant, email, except string
		want                  bool
	}{
		{ta.ID, "alice@example.com", "", true},
		{ta.ID, "ALICE@EXAMPLE.COM", "", true},
		{ta.ID, "Alice@Example.com", "", true},
		{ta.ID, "alice@example.com", alice.ID, false},
		{ta.ID, "alice@example.com", bob.ID, true},
		{ta.ID, "alice@example.com", "not-a-uuid", true},
		{ta.ID, "bob@x.example", "", true},
		{ta.ID, "shared@x.example", alice.ID, true},
		{ta.ID, "shared@x.example", bob.ID, true},
		{ta.ID, "ghost@x.example", "", false},
		{ta.ID, "other@b.example", "", false},
		{tb.ID, "other@b.example", "", true},
		{tb.ID, "alice@example.com", "", false},
		{ta.ID, "alice@example", "", false},
		{ta.ID, "nobody@x.example", "", false},
		{ta.ID, "", "", false},
	} {
		got, err := e.s.EmailTaken(e.ctx, c.tenant, c.email, c.except)
		if err != nil || got != c.want {
			e.Errorf("EmailTaken(%q, except %q) = %v, %v; want %v", c.email, c.except, got, err, c.want)
		}
	}
	// Inside a transaction, an email just removed is free.
	e.must(func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockUser(ctx, ta.ID, alice.ID)
		if err != nil {
			return err
		}
		cur.Emails = nil
		if err := tx.UpdateUser(ctx, &cur, cur.Version); err != nil {
			return err
		}
		taken, err := tx.EmailTaken(ctx, ta.ID, "alice@example.com", "")
		if err != nil || taken {
			e.Errorf("tx.EmailTaken after removing the email = %v, %v; want false", taken, err)
		}
		return nil
	})
}

func testUserNameReserved(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	retained := e.user(ta.ID, "Ghost.User")
	erased := e.user(ta.ID, "Élodie.Erased")
	e.user(ta.ID, "alive")
	e.deleteUserAt(ta.ID, retained.ID, at(time.Hour), false)
	e.deleteUserAt(ta.ID, erased.ID, at(time.Hour), true)

	for _, c := range []struct {
		tenant, name string
		want         bool
	}{
		{ta.ID, "Ghost.User", true},
		{ta.ID, "ghost.user", true},
		{ta.ID, "GHOST.USER", true},
		{ta.ID, "Élodie.Erased", true},
		{ta.ID, "élodie.erased", true},
		{ta.ID, "ÉLODIE.ERASED", true},
		{ta.ID, "elodie.erased", false},
		{ta.ID, "alive", false}, // live users do not reserve their name here
		{ta.ID, "nobody", false},
		{ta.ID, "", false},
		// The erased key itself is no userName that was ever used.
		{ta.ID, store.ErasedKey("Élodie.Erased"), false},
		{tb.ID, "ghost.user", false},
		{tb.ID, "élodie.erased", false},
	} {
		got, err := e.s.UserNameReserved(e.ctx, c.tenant, c.name)
		if err != nil || got != c.want {
			e.Errorf("UserNameReserved(%q) = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	// A live user taking the name again does not free the tombstone's hold.
	e.user(ta.ID, "ghost.user")
	if got, err := e.s.UserNameReserved(e.ctx, ta.ID, "Ghost.User"); err != nil || !got {
		e.Errorf("UserNameReserved after re-create = %v, %v; want true", got, err)
	}
	// Deleting the live user in a transaction reserves its name there.
	alive, err := e.s.GetUserByUserName(e.ctx, ta.ID, "alive")
	if err != nil {
		e.Fatalf("GetUserByUserName(alive): %v", err)
	}
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.DeleteUser(ctx, ta.ID, alive.ID, at(2*time.Hour), false); err != nil {
			return err
		}
		got, err := tx.UserNameReserved(ctx, ta.ID, "ALIVE")
		if err != nil || !got {
			e.Errorf("tx.UserNameReserved after delete = %v, %v; want true", got, err)
		}
		return nil
	})
}

func testFindRetainedByEmail(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	older := e.user(ta.ID, "older", withEmails("Same@X.example"))
	newer := e.user(ta.ID, "newer", withEmails("first@x.example", "same@x.example"), func(u *store.User) {
		u.DisplayName, u.GivenName, u.ExternalID, u.PasswordHash = "Newer", "New", "ext-n", "hash"
	})
	erasedLater := e.user(ta.ID, "erased", withEmails("same@x.example", "only-erased@x.example"))
	e.user(ta.ID, "live", withEmails("same@x.example", "only-live@x.example"))
	e.deleteUserAt(ta.ID, newer.ID, at(2*time.Hour), false)
	e.deleteUserAt(ta.ID, older.ID, at(time.Hour), false)
	e.deleteUserAt(ta.ID, erasedLater.ID, at(3*time.Hour), true)
	other := e.user(tb.ID, "other", withEmails("same@x.example"))
	e.deleteUserAt(tb.ID, other.ID, at(4*time.Hour), false)

	for _, email := range []string{"same@x.example", "SAME@x.EXAMPLE"} {
		got, err := e.s.FindRetainedByEmail(e.ctx, ta.ID, email)
		if err != nil {
			e.Errorf("FindRetainedByEmail(%q): %v", email, err)
			continue
		}
		e.checkUser("FindRetainedByEmail (the most recently deleted)", got, asTombstone(newer, at(2*time.Hour)))
	}
	if got, err := e.s.FindRetainedByEmail(e.ctx, ta.ID, "first@x.example"); err != nil || got.ID != newer.ID {
		e.Errorf("FindRetainedByEmail(first) = %s, %v; want newer", got.UserName, err)
	}
	if got, err := e.s.FindRetainedByEmail(e.ctx, tb.ID, "same@x.example"); err != nil || got.ID != other.ID {
		e.Errorf("FindRetainedByEmail(tenant b) = %s, %v; want other", got.UserName, err)
	}
	for _, email := range []string{"only-erased@x.example", "only-live@x.example", "nobody@x.example", ""} {
		_, err := e.s.FindRetainedByEmail(e.ctx, ta.ID, email)
		wantErr(e.T, "FindRetainedByEmail("+email+")", err, store.ErrNotFound)
	}
	// Once the newer tombstone is restored, the older one is found.
	e.must(func(ctx context.Context, tx store.Tx) error {
		u, err := tx.GetTombstone(ctx, ta.ID, newer.ID)
		if err != nil {
			return err
		}
		u.State, u.Active, u.Modified = store.StateActive, true, at(5*time.Hour)
		if err := tx.RestoreUser(ctx, &u); err != nil {
			return err
		}
		got, err := tx.FindRetainedByEmail(ctx, ta.ID, "same@x.example")
		if err != nil || got.ID != older.ID {
			e.Errorf("tx.FindRetainedByEmail after restoring newer = %s, %v; want older", got.UserName, err)
		}
		return nil
	})
}

func testOwner(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	_, err := e.s.GetOwner(e.ctx, ta.ID)
	wantErr(e.T, "GetOwner(no owner)", err, store.ErrNotFound)
	e.user(ta.ID, "admin", withRole(store.RoleAdmin))
	_, err = e.s.GetOwner(e.ctx, ta.ID)
	wantErr(e.T, "GetOwner(admins only)", err, store.ErrNotFound)

	owner := e.user(ta.ID, "owner", withRole(store.RoleOwner), withEmails("owner@x.example"))
	got, err := e.s.GetOwner(e.ctx, ta.ID)
	if err != nil {
		e.Fatalf("GetOwner: %v", err)
	}
	e.checkUser("GetOwner", got, wantUser(owner))
	otherOwner := e.user(tb.ID, "owner-b", withRole(store.RoleOwner)) // another tenant is independent
	if got, err := e.s.GetOwner(e.ctx, tb.ID); err != nil || got.ID != otherOwner.ID {
		e.Errorf("GetOwner(b) = %s, %v; want owner-b", got.UserName, err)
	}

	create := func(name string) error {
		u := store.User{TenantID: ta.ID, ID: newID(), UserName: name, Active: true, Role: store.RoleOwner,
			State: store.StateActive, Doc: json.RawMessage(`{}`), Created: t0, Modified: t0}
		return e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &u) })
	}
	wantConflict(e.T, "CreateUser(second owner)", create("second"), "roles")
	if _, err := e.s.GetUserByUserName(e.ctx, ta.ID, "second"); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("refused second owner was written: %v", err)
	}
	member := e.user(ta.ID, "member")
	promoted := member
	promoted.Role, promoted.Modified = store.RoleOwner, at(time.Minute)
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &promoted, 1) })
	wantConflict(e.T, "UpdateUser(promote to second owner)", err, "roles")
	if got := e.mustGetUser(ta.ID, member.ID); got.Role != store.RoleMember || got.Version != 1 {
		e.Errorf("refused promotion wrote: role %q version %d", got.Role, got.Version)
	}
	// The owner may be updated, and an inactive owner is still the owner.
	cur := owner
	cur.Active, cur.State, cur.Modified = false, store.StateInactive, at(time.Minute)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &cur, 1) })
	if got, err := e.s.GetOwner(e.ctx, ta.ID); err != nil || got.ID != owner.ID || got.State != store.StateInactive {
		e.Errorf("GetOwner(inactive owner) = %s %s, %v", got.UserName, got.State, err)
	}
	wantConflict(e.T, "CreateUser(owner while the owner is inactive)", create("third"), "roles")

	// A deleted owner blocks nobody: handing over in one transaction works.
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.DeleteUser(ctx, ta.ID, owner.ID, at(time.Hour), false); err != nil {
			return err
		}
		if _, err := tx.GetOwner(ctx, ta.ID); !errors.Is(err, store.ErrNotFound) {
			e.Errorf("tx.GetOwner after deleting the owner: %v", err)
		}
		p, err := tx.LockUser(ctx, ta.ID, member.ID)
		if err != nil {
			return err
		}
		p.Role, p.Modified = store.RoleOwner, at(time.Hour)
		return tx.UpdateUser(ctx, &p, p.Version)
	})
	if got, err := e.s.GetOwner(e.ctx, ta.ID); err != nil || got.ID != member.ID {
		e.Errorf("GetOwner after hand-over = %s, %v; want member", got.UserName, err)
	}
	// Restoring the old owner as owner conflicts; as an admin it does not.
	old := e.mustGetTombstone(ta.ID, owner.ID)
	old.State, old.Active, old.Modified = store.StateActive, true, at(2*time.Hour)
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.RestoreUser(ctx, &old) })
	wantConflict(e.T, "RestoreUser(second owner)", err, "roles")
	if got := e.mustGetTombstone(ta.ID, owner.ID); got.Version != 3 {
		e.Errorf("refused restore wrote: version %d, want 3", got.Version)
	}
	old.Role = store.RoleAdmin
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.RestoreUser(ctx, &old) })
	if got, err := e.s.GetOwner(e.ctx, ta.ID); err != nil || got.ID != member.ID {
		e.Errorf("GetOwner after restoring the old owner as admin = %s, %v; want member", got.UserName, err)
	}
	// Two owner tombstones are fine.
	e.deleteUserAt(ta.ID, member.ID, at(3*time.Hour), false)
	if err := create("fourth"); err != nil {
		e.Errorf("CreateUser(owner after the owner was deleted): %v", err)
	}
	_, err = e.s.GetOwner(e.ctx, newID())
	wantErr(e.T, "GetOwner(missing tenant)", err, store.ErrNotFound)
}

// Personal strings of the erase fixture; none may survive an erase.
const (
	eraseUserName   = "Zephyrine.Quillfeather@Erase.example"
	eraseExternalID = "ext-Quillfeather-77"
	eraseEmail      = "zephyrine.private@mail.example"
)

func testEraseUser(e *env) {
	tn := e.tenant("a")
	deact := at(30 * time.Minute)
	victim := e.user(tn.ID, eraseUserName, withEmails(eraseEmail, "ZQ@work.example"), func(u *store.User) {
		u.ExternalID, u.DisplayName, u.GivenName, u.FamilyName = eraseExternalID, "Zephyrine Q.", "Zephyrine", "Quillfeather"
		u.Role, u.PasswordHash = store.RoleAdmin, "$argon2id$v=19$secret-hash"
		u.Active, u.State, u.DeactivatedAt = false, store.StateInactive, &deact
		u.Doc = json.RawMessage(`{"userName":"` + eraseUserName + `","phoneNumbers":[{"value":"+1 555 0100"}]}`)
	})
	keep := e.user(tn.ID, "keep", withEmails("keep@x.example"))
	g := e.group(tn.ID, "g")
	e.addMembers(tn.ID, g.ID, victim.ID, keep.ID)

	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.DeleteUser(ctx, tn.ID, victim.ID, at(2*time.Hour), true); err != nil {
			return err
		}
		got, err := tx.GetTombstone(ctx, tn.ID, victim.ID)
		if err != nil || !got.Erased {
			e.Errorf("tx.GetTombstone after erase: erased %v, %v", got.Erased, err)
		}
		return nil
	})
	want := store.User{
		TenantID: tn.ID, ID: victim.ID, Role: store.RoleAdmin, State: store.StateDeleted, Erased: true,
		Doc: json.RawMessage(`{}`), Version: 2, Created: t0, Modified: at(2 * time.Hour),
	}
	e.checkUser("GetTombstone(erased)", e.mustGetTombstone(tn.ID, victim.ID), want)

	_, err := e.getUser(tn.ID, victim.ID)
	wantErr(e.T, "GetUser(erased)", err, store.ErrNotFound)
	for _, name := range []string{eraseUserName, ""} {
		_, err = e.s.GetUserByUserName(e.ctx, tn.ID, name)
		wantErr(e.T, "GetUserByUserName("+name+")", err, store.ErrNotFound)
	}
	if got := userIDs(e.allUsers(tn.ID, nil)); !slices.Equal(got, []string{keep.ID}) {
		e.Errorf("ListUsers after erase = %v, want [keep]", got)
	}
	e.wantMembers("members after erase", tn.ID, g.ID, keep)
	if ug, err := e.s.UserGroups(e.ctx, tn.ID, []string{victim.ID}); err != nil || len(ug) != 0 {
		e.Errorf("UserGroups(erased) = %v, %v; want none", ug, err)
	}
	if taken, err := e.s.EmailTaken(e.ctx, tn.ID, eraseEmail, ""); err != nil || taken {
		e.Errorf("EmailTaken(erased email) = %v, %v", taken, err)
	}
	_, err = e.s.FindRetainedByEmail(e.ctx, tn.ID, eraseEmail)
	wantErr(e.T, "FindRetainedByEmail(erased)", err, store.ErrNotFound)
	if n := e.countUsers(tn.ID, store.StateDeleted); n != 1 {
		e.Errorf("CountUsers(deleted) = %d, want 1", n)
	}
	if n := e.countUsers(tn.ID, store.StateActive, store.StateInactive); n != 1 {
		e.Errorf("CountUsers(live) = %d, want 1", n)
	}
	if got, err := e.s.UserNameReserved(e.ctx, tn.ID, eraseUserName); err != nil || !got {
		e.Errorf("UserNameReserved(erased name) = %v, %v; want true", got, err)
	}
	// The name is free for a new live user.
	e.user(tn.ID, eraseUserName)

	// A retained tombstone keeps everything; it cannot be erased later by
	// DeleteUser, nor can an erased one be deleted again.
	e.deleteUserAt(tn.ID, keep.ID, at(3*time.Hour), false)
	e.checkUser("GetTombstone(retained)", e.mustGetTombstone(tn.ID, keep.ID), asTombstone(keep, at(3*time.Hour)))
	for _, id := range []string{victim.ID, keep.ID, newID(), "not-a-uuid"} {
		err := e.update(func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteUser(ctx, tn.ID, id, at(4*time.Hour), true)
		})
		wantErr(e.T, "DeleteUser(erase "+id+")", err, store.ErrNotFound)
	}
	// GetTombstone: live, missing, malformed and other tenants' ids are not found.
	live := e.user(tn.ID, "live")
	for _, c := range []struct{ tenant, id string }{
		{tn.ID, live.ID}, {tn.ID, newID()}, {tn.ID, "not-a-uuid"}, {e.tenant("b").ID, victim.ID},
	} {
		_, err := e.s.GetTombstone(e.ctx, c.tenant, c.id)
		wantErr(e.T, "GetTombstone("+c.id+")", err, store.ErrNotFound)
	}
}

func testRestoreUser(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	rita := e.user(ta.ID, "Rita", withEmails("rita@old.example", "r@old.example"), func(u *store.User) {
		u.DisplayName, u.Role, u.PasswordHash = "Rita", store.RoleAdmin, "hash"
	})
	g := e.group(ta.ID, "g")
	e.addMembers(ta.ID, g.ID, rita.ID)
	e.deleteUserAt(ta.ID, rita.ID, at(time.Hour), false)

	restored := e.mustGetTombstone(ta.ID, rita.ID)
	if len(restored.Emails) != 2 || restored.Erased {
		e.Fatalf("retained tombstone: emails %v, erased %v", restored.Emails, restored.Erased)
	}
	restored.State, restored.Active = store.StateActive, true
	restored.DisplayName, restored.Modified = "Rita Restored", at(2*time.Hour)
	restored.Emails = []store.Email{{Value: "rita@new.example", Type: "home", Primary: true}}
	restored.Doc = json.RawMessage(`{"userName":"Rita","displayName":"Rita Restored"}`)
	restored.Version = 0
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.RestoreUser(ctx, &restored); err != nil {
			return err
		}
		if restored.Version != 3 {
			e.Errorf("RestoreUser set Version %d, want 3 (tombstone version + 1)", restored.Version)
		}
		got, err := tx.GetUser(ctx, ta.ID, rita.ID)
		if err != nil {
			return fmt.Errorf("tx.GetUser after restore: %w", err)
		}
		e.checkUser("tx.GetUser after restore", got, restored)
		return nil
	})
	e.checkUser("GetUser after restore", e.mustGetUser(ta.ID, rita.ID), restored)
	if got, err := e.s.GetUserByUserName(e.ctx, ta.ID, "rita"); err != nil || got.ID != rita.ID {
		e.Errorf("GetUserByUserName after restore = %s, %v", got.ID, err)
	}
	if got := userIDs(e.allUsers(ta.ID, store.Cmp{Attr: "displayName", Op: store.OpEq, Value: "rita restored"})); !slices.Equal(got, []string{rita.ID}) {
		e.Errorf("ListUsers(displayName) after restore = %v", got)
	}
	_, err := e.s.GetTombstone(e.ctx, ta.ID, rita.ID)
	wantErr(e.T, "GetTombstone after restore", err, store.ErrNotFound)
	// The emails were replaced.
	for email, want := range map[string]bool{"rita@new.example": true, "rita@old.example": false} {
		if got, err := e.s.EmailTaken(e.ctx, ta.ID, email, ""); err != nil || got != want {
			e.Errorf("EmailTaken(%s) after restore = %v, %v; want %v", email, got, err, want)
		}
	}
	_, err = e.s.FindRetainedByEmail(e.ctx, ta.ID, "rita@old.example")
	wantErr(e.T, "FindRetainedByEmail after restore", err, store.ErrNotFound)
	if got, err := e.s.UserNameReserved(e.ctx, ta.ID, "rita"); err != nil || got {
		e.Errorf("UserNameReserved after restore = %v, %v; want false", got, err)
	}
	// Group memberships ended with the delete and do not come back.
	e.wantMembers("members after restore", ta.ID, g.ID)
	e.wantGroupsOf("UserGroups after restore", ta.ID, rita)

	// A restored user is an ordinary live user: update and delete it again.
	next := restored
	next.Modified = at(3 * time.Hour)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.UpdateUser(ctx, &next, 3) })
	if next.Version != 4 {
		e.Errorf("UpdateUser after restore: version %d, want 4", next.Version)
	}

	// Restoring into the inactive state.
	ina := e.user(ta.ID, "ina")
	e.deleteUser(ta.ID, ina.ID)
	back := e.mustGetTombstone(ta.ID, ina.ID)
	back.State, back.Active, back.Modified = store.StateInactive, false, at(2*time.Hour)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.RestoreUser(ctx, &back) })
	if got := e.mustGetUser(ta.ID, ina.ID); got.State != store.StateInactive || got.Version != 3 {
		e.Errorf("restored inactive user: state %s version %d", got.State, got.Version)
	}

	// A userName taken by a live user meanwhile conflicts.
	sam := e.user(ta.ID, "sam")
	e.deleteUser(ta.ID, sam.ID)
	e.user(ta.ID, "SAM")
	samBack := e.mustGetTombstone(ta.ID, sam.ID)
	samBack.State, samBack.Active = store.StateActive, true
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.RestoreUser(ctx, &samBack) })
	wantConflict(e.T, "RestoreUser(userName taken)", err, "userName")
	if got := e.mustGetTombstone(ta.ID, sam.ID); got.Version != 2 || got.State != store.StateDeleted {
		e.Errorf("refused restore wrote: %s version %d", got.State, got.Version)
	}

	// Erased tombstones, live users, missing, malformed and other tenants'
	// ids are not found.
	er := e.user(ta.ID, "erased")
	e.deleteUserAt(ta.ID, er.ID, at(time.Hour), true)
	for _, c := range []struct{ what, tenant, id string }{
		{"erased", ta.ID, er.ID},
		{"live", ta.ID, rita.ID},
		{"missing", ta.ID, newID()},
		{"malformed", ta.ID, "not-a-uuid"},
		{"other tenant", tb.ID, sam.ID},
	} {
		u := store.User{TenantID: c.tenant, ID: c.id, UserName: "x-" + c.what, Active: true, State: store.StateActive,
			Doc: json.RawMessage(`{}`), Created: t0, Modified: at(5 * time.Hour)}
		err := e.update(func(ctx context.Context, tx store.Tx) error { return tx.RestoreUser(ctx, &u) })
		wantErr(e.T, "RestoreUser("+c.what+")", err, store.ErrNotFound)
	}
	if got := e.mustGetTombstone(ta.ID, er.ID); !got.Erased || got.UserName != "" {
		e.Errorf("erased tombstone after a refused restore: erased %v userName %q", got.Erased, got.UserName)
	}
	if got := e.mustGetUser(ta.ID, rita.ID); got.Version != 4 {
		e.Errorf("live user after a refused restore: version %d, want 4", got.Version)
	}
}

func testLockTenant(e *env) {
	ta := e.tenant("a")
	e.tenant("b")
	e.must(func(ctx context.Context, tx store.Tx) error {
		got, err := tx.LockTenant(ctx, ta.ID)
		if err != nil {
			return err
		}
		if got.ID != ta.ID || got.Name != "a" || !jsonEqual(got.Policy, ta.Policy) || !got.Created.Equal(t0) {
			e.Errorf("LockTenant = %+v, want %+v", got, ta)
		}
		for _, id := range []string{newID(), "not-a-uuid", ""} {
			_, err := tx.LockTenant(ctx, id)
			wantErr(e.T, "LockTenant("+id+")", err, store.ErrNotFound)
		}
		return nil
	})
}

func testTokenKinds(e *env) {
	tn := e.tenant("a")
	scimOnly, hostOnly, both, hostAndRevoked := e.user(tn.ID, "scim-only"), e.user(tn.ID, "host-only"),
		e.user(tn.ID, "both"), e.user(tn.ID, "host-and-revoked")
	rev := at(-time.Hour)
	mk := func(owner, kind string, revoked *time.Time) store.Token {
		return store.Token{ID: newID(), TenantID: tn.ID, Kind: kind, Hash: []byte(newID()), OwnerID: owner,
			Created: at(-2 * time.Hour), Revoked: revoked}
	}
	toks := []store.Token{
		mk(scimOnly.ID, "", nil),
		mk(hostOnly.ID, store.TokenHost, nil),
		mk(both.ID, store.TokenHost, nil),
		mk(both.ID, store.TokenSCIM, nil),
		mk(hostAndRevoked.ID, store.TokenHost, nil),
		mk(hostAndRevoked.ID, store.TokenSCIM, &rev),
	}
	e.must(func(ctx context.Context, tx store.Tx) error {
		for i := range toks {
			if err := tx.CreateToken(ctx, &toks[i]); err != nil {
				return err
			}
		}
		return nil
	})
	wantKind := []string{store.TokenSCIM, store.TokenHost, store.TokenHost, store.TokenSCIM, store.TokenHost, store.TokenSCIM}
	for i, tk := range toks {
		got, err := e.s.TokenByHash(e.ctx, tk.Hash)
		if err != nil || got.Kind != wantKind[i] {
			e.Errorf("TokenByHash(#%d).Kind = %q, %v; want %q", i, got.Kind, err, wantKind[i])
		}
	}
	list, err := e.s.ListTokens(e.ctx, tn.ID)
	if err != nil {
		e.Fatalf("ListTokens: %v", err)
	}
	kinds := map[string]string{}
	for _, tk := range list {
		kinds[tk.ID] = tk.Kind
	}
	for i, tk := range toks {
		if kinds[tk.ID] != wantKind[i] {
			e.Errorf("ListTokens: token #%d kind %q, want %q", i, kinds[tk.ID], wantKind[i])
		}
	}
	for _, c := range []struct {
		user store.User
		want bool
	}{{scimOnly, true}, {hostOnly, false}, {both, true}, {hostAndRevoked, false}} {
		got, err := e.s.UserOwnsLiveToken(e.ctx, tn.ID, c.user.ID, t0)
		if err != nil || got != c.want {
			e.Errorf("UserOwnsLiveToken(%s) = %v, %v; want %v", c.user.UserName, got, err, c.want)
		}
	}
	// Only the two kinds exist.
	err = e.update(func(ctx context.Context, tx store.Tx) error {
		bad := mk("", "admin", nil)
		return tx.CreateToken(ctx, &bad)
	})
	if err == nil {
		e.Errorf("CreateToken(kind admin) succeeded")
	}
}
