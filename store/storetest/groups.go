package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scimd/scimd/store"
)

// wantGroup is what reading g back returns: times in UTC, Version 1 unless
// set.
func wantGroup(g store.Group) store.Group {
	g.Created, g.Modified = g.Created.UTC(), g.Modified.UTC()
	if g.Version == 0 {
		g.Version = 1
	}
	return g
}

func testGroups(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	zone := time.FixedZone("UTC+3", 3*3600)
	eng := store.Group{
		TenantID: ta.ID, ID: newID(), DisplayName: "Engineering", ExternalID: "grp-ENG-1",
		Doc:     json.RawMessage(`{"displayName": "Engineering", "urn:example:ext": {"cost": [1, "x", null]}}`),
		Created: at(time.Microsecond).In(zone), Modified: at(time.Hour + 999999*time.Microsecond).In(zone),
	}
	minimal := store.Group{TenantID: ta.ID, ID: newID(), DisplayName: "Équipe", Doc: json.RawMessage(`{}`), Created: t0, Modified: t0}
	e.must(func(ctx context.Context, tx store.Tx) error {
		for _, g := range []*store.Group{&eng, &minimal} {
			if err := tx.CreateGroup(ctx, g); err != nil {
				return err
			}
			if g.Version != 1 {
				e.Errorf("CreateGroup: Version %d, want 1", g.Version)
			}
		}
		// Reads in the transaction see its writes.
		got, err := tx.GetGroup(ctx, ta.ID, eng.ID)
		if err != nil {
			return fmt.Errorf("tx.GetGroup: %w", err)
		}
		e.checkGroup("tx.GetGroup", got, wantGroup(eng))
		p, err := tx.ListGroups(ctx, ta.ID, store.Query{Limit: 10})
		if err != nil {
			return fmt.Errorf("tx.ListGroups: %w", err)
		}
		if p.Total != 2 || len(p.Groups) != 2 {
			e.Errorf("tx.ListGroups: %d groups, total %d; want 2", len(p.Groups), p.Total)
		}
		return nil
	})
	e.checkGroup("GetGroup", e.mustGetGroup(ta.ID, eng.ID), wantGroup(eng))
	e.checkGroup("GetGroup(minimal)", e.mustGetGroup(ta.ID, minimal.ID), wantGroup(minimal))
	want := []store.Group{wantGroup(eng), wantGroup(minimal)}
	if eng.ID > minimal.ID {
		want[0], want[1] = want[1], want[0]
	}
	if d := cmp.Diff(want, e.allGroups(ta.ID, nil), cmpOpts...); d != "" {
		e.Errorf("ListGroups (by id) (-want +got):\n%s", d)
	}
	e.must(func(ctx context.Context, tx store.Tx) error {
		got, err := tx.LockGroup(ctx, ta.ID, eng.ID)
		if err != nil {
			return err
		}
		e.checkGroup("LockGroup", got, wantGroup(eng))
		return nil
	})

	// The folded displayName is unique in a tenant.
	create := func(tenantID, name string) (store.Group, error) {
		g := store.Group{TenantID: tenantID, ID: newID(), DisplayName: name, Doc: json.RawMessage(`{}`), Created: t0, Modified: t0}
		err := e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateGroup(ctx, &g) })
		return g, err
	}
	for _, name := range []string{"Engineering", "engineering", "ENGINEERING", "équipe", "ÉQUIPE"} {
		_, err := create(ta.ID, name)
		wantConflict(e.T, "CreateGroup("+name+")", err, "displayName")
	}
	for _, c := range []struct{ tenant, name string }{{tb.ID, "ENGINEERING"}, {tb.ID, "équipe"}, {ta.ID, "Equipe"}, {ta.ID, "Engineering 2"}} {
		if _, err := create(c.tenant, c.name); err != nil {
			e.Errorf("CreateGroup(%s): %v", c.name, err)
		}
	}
	// A conflict rolls back the whole transaction.
	bystander := store.Group{TenantID: ta.ID, ID: newID(), DisplayName: "bystander", Created: t0, Modified: t0}
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateGroup(ctx, &bystander); err != nil {
			return err
		}
		dup := store.Group{TenantID: ta.ID, ID: newID(), DisplayName: "engineering", Created: t0, Modified: t0}
		return tx.CreateGroup(ctx, &dup)
	})
	wantConflict(e.T, "CreateGroup in tx", err, "displayName")
	if _, err := e.s.GetGroup(e.ctx, ta.ID, bystander.ID); !errors.Is(err, store.ErrNotFound) {
		e.Errorf("write before a conflict was committed: %v", err)
	}
	// A duplicate id is a conflict too.
	dup := store.Group{TenantID: ta.ID, ID: eng.ID, DisplayName: "fresh", Created: t0, Modified: t0}
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateGroup(ctx, &dup) })
	wantErr(e.T, "CreateGroup(duplicate id)", err, store.ErrConflict)

	// UpdateGroup: version 1 → 2, every field rewritten, "" clears.
	next := eng
	next.DisplayName, next.ExternalID = "Platform", ""
	next.Doc = json.RawMessage(`{"displayName": "Platform"}`)
	next.Modified = at(3 * time.Hour)
	e.must(func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockGroup(ctx, ta.ID, eng.ID)
		if err != nil {
			return err
		}
		if err := tx.UpdateGroup(ctx, &next, cur.Version); err != nil {
			return err
		}
		if next.Version != 2 {
			e.Errorf("UpdateGroup set Version %d, want 2", next.Version)
		}
		got, err := tx.GetGroup(ctx, ta.ID, eng.ID)
		if err != nil {
			return err
		}
		e.checkGroup("tx.GetGroup after UpdateGroup", got, wantGroup(next))
		return nil
	})
	e.checkGroup("GetGroup after UpdateGroup", e.mustGetGroup(ta.ID, eng.ID), wantGroup(next))
	// The old name is free again.
	if _, err := create(ta.ID, "ENGINEERING"); err != nil {
		e.Errorf("CreateGroup(old name after rename): %v", err)
	}

	// Stale versions: ErrPrecondition, nothing written.
	stale := next
	stale.DisplayName = "stale"
	for _, v := range []int64{1, 3, 0} {
		err := e.update(func(ctx context.Context, tx store.Tx) error { return tx.UpdateGroup(ctx, &stale, v) })
		wantErr(e.T, fmt.Sprintf("UpdateGroup(version %d)", v), err, store.ErrPrecondition)
	}
	if got := e.mustGetGroup(ta.ID, eng.ID); got.DisplayName != "Platform" || got.Version != 2 {
		e.Errorf("stale update wrote: %q version %d", got.DisplayName, got.Version)
	}
	// Onto a taken name: conflict; onto its own name in another case: fine.
	taken := next
	taken.DisplayName = "ÉQUIPE"
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.UpdateGroup(ctx, &taken, 2) })
	wantConflict(e.T, "UpdateGroup(taken name)", err, "displayName")
	own := next
	own.DisplayName = "PLATFORM"
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.UpdateGroup(ctx, &own, 2) })
	if got := e.mustGetGroup(ta.ID, eng.ID); got.DisplayName != "PLATFORM" || got.Version != 3 {
		e.Errorf("after renaming to its own name: %q version %d", got.DisplayName, got.Version)
	}

	// DeleteGroup removes the group and frees its name.
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.DeleteGroup(ctx, ta.ID, minimal.ID); err != nil {
			return err
		}
		_, err := tx.GetGroup(ctx, ta.ID, minimal.ID)
		wantErr(e.T, "tx.GetGroup(deleted)", err, store.ErrNotFound)
		return nil
	})
	_, err = e.s.GetGroup(e.ctx, ta.ID, minimal.ID)
	wantErr(e.T, "GetGroup(deleted)", err, store.ErrNotFound)
	for _, g := range e.allGroups(ta.ID, nil) {
		if g.ID == minimal.ID {
			e.Errorf("ListGroups returns the deleted group")
		}
	}
	if _, err := create(ta.ID, "équipe"); err != nil {
		e.Errorf("CreateGroup(name of a deleted group): %v", err)
	}
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, ta.ID, minimal.ID) })
	wantErr(e.T, "DeleteGroup(deleted)", err, store.ErrNotFound)
	err = e.update(func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateGroup(ctx, &store.Group{TenantID: ta.ID, ID: minimal.ID, DisplayName: "x", Modified: t0}, 1)
	})
	wantErr(e.T, "UpdateGroup(deleted)", err, store.ErrNotFound)
}

// wantMembers fails the test unless the members of the group are exactly
// want (any order given; the backend must order them by id).
func (e *env) wantMembers(what, tenantID, groupID string, want ...store.User) {
	e.Helper()
	ids := make([]string, len(want))
	for i, u := range want {
		ids[i] = u.ID
	}
	if got, w := e.members(tenantID, groupID), sorted(ids); !slices.Equal(got, w) {
		e.Errorf("%s: members %v, want %v (ordered by id)", what, got, w)
	}
}

// wantGroupsOf fails the test unless UserGroups says user belongs to
// exactly groups, ordered by display name then id.
func (e *env) wantGroupsOf(what, tenantID string, user store.User, groups ...store.Group) {
	e.Helper()
	ug, err := e.s.UserGroups(e.ctx, tenantID, []string{user.ID})
	if err != nil {
		e.Fatalf("%s: UserGroups: %v", what, err)
	}
	want := make([]store.GroupRef, len(groups))
	for i, g := range groups {
		want[i] = store.GroupRef{ID: g.ID, DisplayName: g.DisplayName}
	}
	slices.SortFunc(want, func(a, b store.GroupRef) int {
		if c := strings.Compare(a.DisplayName, b.DisplayName); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	got, ok := ug[user.ID]
	if !ok {
		e.Errorf("%s: UserGroups has no entry for live user %s", what, user.UserName)
		return
	}
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if d := cmp.Diff(want, got); d != "" {
		e.Errorf("%s: UserGroups(%s) (-want +got):\n%s", what, user.UserName, d)
	}
}

func testMembers(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	a := e.user(ta.ID, "ann", func(u *store.User) { u.DisplayName = "Ann A." })
	b := e.user(ta.ID, "Bea")
	c := e.user(ta.ID, "cy", func(u *store.User) { u.DisplayName = "Cy" })
	d := e.user(ta.ID, "dee")
	lonely := e.user(ta.ID, "lonely")
	gone := e.user(ta.ID, "gone")
	e.deleteUser(ta.ID, gone.ID)
	foreign := e.user(tb.ID, "ann")
	// Created out of name order, so that name order is not id order.
	gamma, alpha, beta := e.group(ta.ID, "gamma"), e.group(ta.ID, "alpha"), e.group(ta.ID, "beta")
	empty := e.group(ta.ID, "empty")

	// Adding; reads in the transaction see the new members.
	e.must(func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, ta.ID, alpha.ID, []string{b.ID, a.ID})
		if err != nil || len(missing) != 0 {
			return fmt.Errorf("AddMembers = %v, %v", missing, err)
		}
		gm, err := tx.GroupMembers(ctx, ta.ID, []string{alpha.ID})
		if err != nil {
			return err
		}
		if len(gm[alpha.ID]) != 2 {
			e.Errorf("tx.GroupMembers after AddMembers: %v", gm)
		}
		return nil
	})
	e.wantMembers("after AddMembers", ta.ID, alpha.ID, a, b)

	// Ids already members change nothing; duplicates in one call are fine.
	e.addMembers(ta.ID, alpha.ID, a.ID, a.ID, c.ID, b.ID, c.ID)
	e.wantMembers("after adding again", ta.ID, alpha.ID, a, b, c)
	e.addMembers(ta.ID, alpha.ID)
	e.wantMembers("after adding none", ta.ID, alpha.ID, a, b, c)

	// Ids that are not live users of the tenant are returned and nothing
	// is added.
	bad := []string{newID(), "not-a-uuid", "", gone.ID, foreign.ID}
	e.must(func(ctx context.Context, tx store.Tx) error {
		ids := append([]string{d.ID, a.ID}, bad...)
		ids = append(ids, bad[0]) // a duplicate missing id
		missing, err := tx.AddMembers(ctx, ta.ID, beta.ID, ids)
		if err != nil {
			return err
		}
		if got, want := slices.Compact(sorted(missing)), sorted(bad); !slices.Equal(got, want) {
			e.Errorf("AddMembers missing = %q, want %q", missing, want)
		}
		gm, err := tx.GroupMembers(ctx, ta.ID, []string{beta.ID})
		if err != nil {
			return err
		}
		if len(gm[beta.ID]) != 0 {
			e.Errorf("AddMembers with missing ids added %v", gm[beta.ID])
		}
		return nil
	})
	e.wantMembers("after AddMembers with missing ids", ta.ID, beta.ID)
	// A rolled-back AddMembers adds nothing.
	rollback := errors.New("rollback")
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.AddMembers(ctx, ta.ID, beta.ID, []string{d.ID}); err != nil {
			return err
		}
		return rollback
	})
	if err != rollback {
		e.Errorf("Update = %v, want the rollback sentinel", err)
	}
	e.wantMembers("after a rolled-back AddMembers", ta.ID, beta.ID)

	e.addMembers(ta.ID, beta.ID, d.ID, a.ID)
	e.addMembers(ta.ID, gamma.ID, a.ID)

	// GroupMembers: members ordered by id, with their type, userName and
	// displayName; groups without members (and unknown ids) are absent.
	gm, err := e.s.GroupMembers(e.ctx, ta.ID, []string{alpha.ID, beta.ID, empty.ID, newID(), "not-a-uuid", alpha.ID})
	if err != nil {
		e.Fatalf("GroupMembers: %v", err)
	}
	wantAlpha := []store.Member{
		{ID: a.ID, Type: store.MemberUser, UserName: "ann", DisplayName: "Ann A."},
		{ID: b.ID, Type: store.MemberUser, UserName: "Bea"},
		{ID: c.ID, Type: store.MemberUser, UserName: "cy", DisplayName: "Cy"},
	}
	slices.SortFunc(wantAlpha, func(x, y store.Member) int { return strings.Compare(x.ID, y.ID) })
	if d := cmp.Diff(wantAlpha, gm[alpha.ID]); d != "" {
		e.Errorf("GroupMembers(alpha) (-want +got):\n%s", d)
	}
	if len(gm[beta.ID]) != 2 {
		e.Errorf("GroupMembers(beta) = %v, want 2 members", gm[beta.ID])
	}
	if len(gm) != 2 {
		e.Errorf("GroupMembers returned %d groups, want alpha and beta only: %v", len(gm), gm)
	}
	if gm, err := e.s.GroupMembers(e.ctx, ta.ID, nil); err != nil || len(gm) != 0 {
		e.Errorf("GroupMembers(none) = %v, %v", gm, err)
	}

	// UserGroups: ordered by display name then id; live users without
	// groups map to none; missing, deleted and foreign ids are absent.
	e.wantGroupsOf("UserGroups", ta.ID, a, alpha, beta, gamma)
	e.wantGroupsOf("UserGroups", ta.ID, b, alpha)
	e.wantGroupsOf("UserGroups", ta.ID, d, beta)
	e.wantGroupsOf("UserGroups", ta.ID, lonely)
	ug, err := e.s.UserGroups(e.ctx, ta.ID, []string{a.ID, b.ID, lonely.ID, gone.ID, foreign.ID, newID(), "not-a-uuid", a.ID})
	if err != nil {
		e.Fatalf("UserGroups: %v", err)
	}
	if len(ug) != 3 || len(ug[a.ID]) != 3 || len(ug[b.ID]) != 1 {
		e.Errorf("UserGroups = %v, want entries for ann (3 groups), Bea (1) and lonely (none) only", ug)
	}
	if ug, err := e.s.UserGroups(e.ctx, ta.ID, nil); err != nil || len(ug) != 0 {
		e.Errorf("UserGroups(none) = %v, %v", ug, err)
	}

	// ListUsers with WithGroups reads every user's groups with the page,
	// as UserGroups has them (an empty slice for none); without it, none.
	e.wantListGroups(ta.ID)

	// RemoveMembers ignores ids that are not members.
	e.must(func(ctx context.Context, tx store.Tx) error {
		return tx.RemoveMembers(ctx, ta.ID, alpha.ID, []string{a.ID, d.ID, newID(), "not-a-uuid", a.ID})
	})
	e.wantMembers("after RemoveMembers", ta.ID, alpha.ID, b, c)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.RemoveMembers(ctx, ta.ID, alpha.ID, nil) })
	e.wantMembers("after RemoveMembers(none)", ta.ID, alpha.ID, b, c)
	e.wantGroupsOf("after RemoveMembers", ta.ID, a, beta, gamma)

	// ClearMembers empties one group only.
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.ClearMembers(ctx, ta.ID, alpha.ID) })
	e.wantMembers("after ClearMembers", ta.ID, alpha.ID)
	if gm, _ := e.s.GroupMembers(e.ctx, ta.ID, []string{alpha.ID}); len(gm) != 0 {
		e.Errorf("GroupMembers of a cleared group = %v, want absent", gm)
	}
	e.wantMembers("other group after ClearMembers", ta.ID, beta.ID, a, d)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.ClearMembers(ctx, ta.ID, alpha.ID) })

	// DeleteUser removes the user from every group.
	e.deleteUser(ta.ID, a.ID)
	e.wantMembers("beta after DeleteUser", ta.ID, beta.ID, d)
	e.wantMembers("gamma after DeleteUser", ta.ID, gamma.ID)
	if ug, _ := e.s.UserGroups(e.ctx, ta.ID, []string{a.ID}); len(ug) != 0 {
		e.Errorf("UserGroups(deleted user) = %v, want absent", ug)
	}

	// DeleteGroup removes its memberships.
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, ta.ID, beta.ID) })
	e.wantGroupsOf("after DeleteGroup", ta.ID, d)
	if gm, _ := e.s.GroupMembers(e.ctx, ta.ID, []string{beta.ID}); len(gm) != 0 {
		e.Errorf("GroupMembers(deleted group) = %v", gm)
	}
	// The user can join another group afterwards.
	e.addMembers(ta.ID, gamma.ID, d.ID)
	e.wantGroupsOf("after re-adding", ta.ID, d, gamma)
}

func testManyMembers(e *env) {
	tn := e.tenant("a")
	const n = 2000
	users := make([]store.User, n)
	ids := make([]string, n)
	e.must(func(ctx context.Context, tx store.Tx) error {
		for i := range users {
			users[i] = store.User{TenantID: tn.ID, ID: newID(), UserName: fmt.Sprintf("user%04d", i), Active: true,
				Role: store.RoleMember, State: store.StateActive, Created: t0, Modified: t0}
			ids[i] = users[i].ID
			if err := tx.CreateUser(ctx, &users[i]); err != nil {
				return err
			}
		}
		return nil
	})
	g := e.group(tn.ID, "everyone")
	other := e.group(tn.ID, "other")
	// Reversed, so that the backend has to order them.
	rev := slices.Clone(ids)
	slices.Reverse(rev)

	// One unknown id among 2000 adds none of them.
	stranger := newID()
	e.must(func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, tn.ID, g.ID, append(slices.Clone(rev[:n/2]), append([]string{stranger}, rev[n/2:]...)...))
		if err != nil {
			return err
		}
		if len(missing) != 1 || missing[0] != stranger {
			e.Errorf("AddMembers missing = %v, want [%s]", missing, stranger)
		}
		return nil
	})
	if got := e.members(tn.ID, g.ID); len(got) != 0 {
		e.Fatalf("AddMembers with a missing id added %d members", len(got))
	}

	e.addMembers(tn.ID, g.ID, rev...)
	if got := e.members(tn.ID, g.ID); !slices.Equal(got, sorted(ids)) {
		e.Fatalf("GroupMembers: %d members, want all %d in id order", len(got), n)
	}
	e.addMembers(tn.ID, other.ID, ids[7])
	ug, err := e.s.UserGroups(e.ctx, tn.ID, ids)
	if err != nil {
		e.Fatalf("UserGroups: %v", err)
	}
	if len(ug) != n {
		e.Errorf("UserGroups: %d entries, want %d", len(ug), n)
	}
	for i, id := range ids {
		want := []store.GroupRef{{ID: g.ID, DisplayName: "everyone"}}
		if i == 7 {
			want = append(want, store.GroupRef{ID: other.ID, DisplayName: "other"})
		}
		if !slices.Equal(ug[id], want) {
			e.Errorf("UserGroups(%s) = %v, want %v", users[i].UserName, ug[id], want)
			break
		}
	}
	memberOf := func(id string) []store.Group {
		return e.allGroups(tn.ID, store.ValuePath{Attr: "members", Filter: store.Cmp{Attr: "members.value", Op: store.OpEq, Value: id, CaseExact: true}})
	}
	if got := groupIDs(memberOf(ids[n-1])); !slices.Equal(got, []string{g.ID}) {
		e.Errorf("groups with member #%d = %v, want [everyone]", n-1, got)
	}

	// Remove half in one call, then add everyone again: the half that stayed
	// is not duplicated.
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.RemoveMembers(ctx, tn.ID, g.ID, ids[:n/2]) })
	if got := e.members(tn.ID, g.ID); !slices.Equal(got, sorted(ids[n/2:])) {
		e.Errorf("after removing half: %d members, want %d", len(got), n/2)
	}
	e.addMembers(tn.ID, g.ID, ids...)
	if got := e.members(tn.ID, g.ID); len(got) != n {
		e.Errorf("after adding everyone again: %d members, want %d", len(got), n)
	}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.ClearMembers(ctx, tn.ID, g.ID) })
	if got := e.members(tn.ID, g.ID); len(got) != 0 {
		e.Errorf("after ClearMembers: %d members", len(got))
	}
	if got := e.members(tn.ID, other.ID); len(got) != 1 {
		e.Errorf("ClearMembers touched another group: %d members", len(got))
	}
}

func testMissingGroup(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	u := e.user(ta.ID, "u")
	keep := e.group(ta.ID, "keep")
	e.addMembers(ta.ID, keep.ID, u.ID)
	deleted := e.group(ta.ID, "deleted")
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, ta.ID, deleted.ID) })
	foreign := e.group(tb.ID, "foreign")

	for _, c := range []struct{ what, id string }{
		{"missing", newID()}, {"malformed", "not-a-uuid"}, {"empty", ""}, {"deleted", deleted.ID},
		{"another tenant's", foreign.ID}, {"a user's", u.ID},
	} {
		what := func(op string) string { return op + "(" + c.what + " group)" }
		_, err := e.s.GetGroup(e.ctx, ta.ID, c.id)
		wantErr(e.T, what("GetGroup"), err, store.ErrNotFound)
		err = e.update(func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetGroup(ctx, ta.ID, c.id)
			return err
		})
		wantErr(e.T, what("tx.GetGroup"), err, store.ErrNotFound)
		err = e.update(func(ctx context.Context, tx store.Tx) error {
			_, err := tx.LockGroup(ctx, ta.ID, c.id)
			return err
		})
		wantErr(e.T, what("LockGroup"), err, store.ErrNotFound)
		err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, ta.ID, c.id) })
		wantErr(e.T, what("DeleteGroup"), err, store.ErrNotFound)
		err = e.update(func(ctx context.Context, tx store.Tx) error {
			g := store.Group{TenantID: ta.ID, ID: c.id, DisplayName: "renamed", Created: t0, Modified: t0}
			return tx.UpdateGroup(ctx, &g, 1)
		})
		wantErr(e.T, what("UpdateGroup"), err, store.ErrNotFound)
		err = e.update(func(ctx context.Context, tx store.Tx) error {
			_, err := tx.AddMembers(ctx, ta.ID, c.id, []string{u.ID})
			return err
		})
		wantErr(e.T, what("AddMembers"), err, store.ErrNotFound)
	}
	// Nothing else changed.
	if got := e.mustGetGroup(ta.ID, keep.ID); got.Version != 1 || got.DisplayName != "keep" {
		e.Errorf("the existing group changed: %+v", got)
	}
	e.wantMembers("existing group", ta.ID, keep.ID, u)
	if got := e.mustGetGroup(tb.ID, foreign.ID); got.Version != 1 || got.DisplayName != "foreign" {
		e.Errorf("another tenant's group changed: %+v", got)
	}
	if n := len(e.allGroups(ta.ID, nil)); n != 1 {
		e.Errorf("ListGroups: %d groups, want 1", n)
	}
}

func testTenantIsolation(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	emails := func(u *store.User) {
		u.DisplayName, u.ExternalID = "Alice", "ext-1"
		u.Emails = []store.Email{{Value: "alice@example.com", Type: "work", Primary: true}}
	}
	// The same userName, group name, emails and externalId in both tenants.
	ua, ub := e.user(ta.ID, "alice", emails), e.user(tb.ID, "alice", emails)
	ga, gb := e.group(ta.ID, "admins", func(g *store.Group) { g.ExternalID = "g-1" }), e.group(tb.ID, "admins", func(g *store.Group) { g.ExternalID = "g-1" })
	e.addMembers(ta.ID, ga.ID, ua.ID)
	e.addMembers(tb.ID, gb.ID, ub.ID)
	tokA := store.Token{ID: newID(), TenantID: ta.ID, Hash: []byte(newID()), OwnerID: ua.ID, Created: t0}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.CreateToken(ctx, &tokA) })

	// check runs every reader of tenant b (whose own rows are ub and gb)
	// against the ids of tenant a.
	check := func(where string, r store.Reader) {
		ctx := e.ctx
		what := func(s string) string { return where + ": " + s }
		if _, err := r.GetUser(ctx, tb.ID, ua.ID); !errors.Is(err, store.ErrNotFound) {
			e.Errorf("%s: %v, want ErrNotFound", what("GetUser(other tenant's user)"), err)
		}
		if got, err := r.GetUserByUserName(ctx, tb.ID, "ALICE"); err != nil || got.ID != ub.ID {
			e.Errorf("%s = %s, %v; want tenant b's alice", what("GetUserByUserName"), got.ID, err)
		}
		users := []store.Filter{
			nil,
			store.Cmp{Attr: "userName", Op: store.OpEq, Value: "alice"},
			store.Cmp{Attr: "id", Op: store.OpNe, Value: "x", CaseExact: true},
			store.Cmp{Attr: "externalId", Op: store.OpEq, Value: "ext-1", CaseExact: true},
			store.ValuePath{Attr: "emails", Filter: store.Cmp{Attr: "emails.value", Op: store.OpEq, Value: "alice@example.com"}},
		}
		for _, f := range users {
			p, err := r.ListUsers(ctx, tb.ID, store.Query{Filter: f, Limit: 100})
			if err != nil || p.Total != 1 || len(p.Users) != 1 || p.Users[0].ID != ub.ID {
				e.Errorf("%s(%#v) = %v users, total %d, %v; want tenant b's alice only", what("ListUsers"), f, userIDs(p.Users), p.Total, err)
			}
		}
		p, err := r.ListUsers(ctx, tb.ID, store.Query{Filter: store.Cmp{Attr: "id", Op: store.OpEq, Value: ua.ID, CaseExact: true}, Limit: 10})
		if err != nil || p.Total != 0 || len(p.Users) != 0 {
			e.Errorf("%s: %d users, total %d, %v", what("ListUsers(id of tenant a's user)"), len(p.Users), p.Total, err)
		}
		if ug, err := r.UserGroups(ctx, tb.ID, []string{ua.ID}); err != nil || len(ug) != 0 {
			e.Errorf("%s = %v, %v; want none", what("UserGroups(tenant a's user)"), ug, err)
		}
		if ug, err := r.UserGroups(ctx, tb.ID, []string{ub.ID}); err != nil || len(ug[ub.ID]) != 1 || ug[ub.ID][0].ID != gb.ID {
			e.Errorf("%s = %v, %v; want tenant b's group", what("UserGroups(tenant b's user)"), ug, err)
		}
		if _, err := r.GetGroup(ctx, tb.ID, ga.ID); !errors.Is(err, store.ErrNotFound) {
			e.Errorf("%s: %v, want ErrNotFound", what("GetGroup(other tenant's group)"), err)
		}
		groups := []store.Filter{
			nil,
			store.Cmp{Attr: "displayName", Op: store.OpEq, Value: "ADMINS"},
			store.Cmp{Attr: "externalId", Op: store.OpEq, Value: "g-1", CaseExact: true},
			store.ValuePath{Attr: "members", Filter: store.Cmp{Attr: "members.value", Op: store.OpPr}},
		}
		for _, f := range groups {
			p, err := r.ListGroups(ctx, tb.ID, store.Query{Filter: f, Limit: 100})
			if err != nil || p.Total != 1 || len(p.Groups) != 1 || p.Groups[0].ID != gb.ID {
				e.Errorf("%s(%#v) = %v, total %d, %v; want tenant b's group only", what("ListGroups"), f, groupIDs(p.Groups), p.Total, err)
			}
		}
		gp, err := r.ListGroups(ctx, tb.ID, store.Query{Filter: store.ValuePath{Attr: "members",
			Filter: store.Cmp{Attr: "members.value", Op: store.OpEq, Value: ua.ID, CaseExact: true}}, Limit: 10})
		if err != nil || gp.Total != 0 {
			e.Errorf("%s: total %d, %v", what("ListGroups(member of tenant a)"), gp.Total, err)
		}
		if gm, err := r.GroupMembers(ctx, tb.ID, []string{ga.ID}); err != nil || len(gm) != 0 {
			e.Errorf("%s = %v, %v; want none", what("GroupMembers(tenant a's group)"), gm, err)
		}
		if toks, err := r.ListTokens(ctx, tb.ID); err != nil || len(toks) != 0 {
			e.Errorf("%s = %v, %v; want none", what("ListTokens"), toks, err)
		}
		if ok, err := r.UserOwnsLiveToken(ctx, tb.ID, ua.ID, t0); err != nil || ok {
			e.Errorf("%s = %v, %v; want false", what("UserOwnsLiveToken(tenant a's owner)"), ok, err)
		}
	}
	check("Store", e.s)
	e.must(func(ctx context.Context, tx store.Tx) error {
		check("Tx", tx)
		return nil
	})

	// Writes through tenant b never reach tenant a's rows.
	notFound := func(what string, fn func(ctx context.Context, tx store.Tx) error) {
		e.Helper()
		wantErr(e.T, what, e.update(fn), store.ErrNotFound)
	}
	notFound("LockUser(tenant a's user)", func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LockUser(ctx, tb.ID, ua.ID)
		return err
	})
	notFound("UpdateUser(tenant a's user)", func(ctx context.Context, tx store.Tx) error {
		u := ua
		u.TenantID, u.DisplayName = tb.ID, "hijacked"
		return tx.UpdateUser(ctx, &u, 1)
	})
	notFound("DeleteUser(tenant a's user)", func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteUser(ctx, tb.ID, ua.ID, t0, false)
	})
	notFound("LockGroup(tenant a's group)", func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LockGroup(ctx, tb.ID, ga.ID)
		return err
	})
	notFound("UpdateGroup(tenant a's group)", func(ctx context.Context, tx store.Tx) error {
		g := ga
		g.TenantID, g.DisplayName = tb.ID, "hijacked"
		return tx.UpdateGroup(ctx, &g, 1)
	})
	notFound("DeleteGroup(tenant a's group)", func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteGroup(ctx, tb.ID, ga.ID)
	})
	e.must(func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, tb.ID, gb.ID, []string{ua.ID})
		if err == nil && (len(missing) != 1 || missing[0] != ua.ID) {
			e.Errorf("AddMembers(tenant a's user to tenant b's group) missing = %v", missing)
		}
		return err
	})
	// The contract does not say what these return for a group of another
	// tenant; they must not touch it.
	_ = e.update(func(ctx context.Context, tx store.Tx) error {
		return tx.RemoveMembers(ctx, tb.ID, ga.ID, []string{ua.ID})
	})
	_ = e.update(func(ctx context.Context, tx store.Tx) error { return tx.ClearMembers(ctx, tb.ID, ga.ID) })
	_ = e.update(func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AddMembers(ctx, tb.ID, ga.ID, []string{ub.ID})
		return err
	})

	// Tenant a is untouched.
	e.checkUser("tenant a's user", e.mustGetUser(ta.ID, ua.ID), wantUser(ua))
	e.checkGroup("tenant a's group", e.mustGetGroup(ta.ID, ga.ID), wantGroup(ga))
	e.wantMembers("tenant a's group", ta.ID, ga.ID, ua)
	e.wantMembers("tenant b's group", tb.ID, gb.ID, ub)
	if ok, err := e.s.UserOwnsLiveToken(e.ctx, ta.ID, ua.ID, t0); err != nil || !ok {
		e.Errorf("UserOwnsLiveToken(tenant a) = %v, %v; want true", ok, err)
	}
	// Deleting tenant b's alice leaves tenant a's alone.
	e.deleteUser(tb.ID, ub.ID)
	if got, err := e.s.GetUserByUserName(e.ctx, ta.ID, "alice"); err != nil || got.ID != ua.ID {
		e.Errorf("GetUserByUserName(tenant a) after deleting tenant b's alice = %s, %v", got.ID, err)
	}
	e.wantMembers("tenant a's group after deleting tenant b's alice", ta.ID, ga.ID, ua)
}

// wantMemberList fails the test unless GroupMembers lists exactly want
// (ordered by id here) for the group, in r (the store or a transaction).
func (e *env) wantMemberList(what string, r store.Reader, tenantID, groupID string, want ...store.Member) {
	e.Helper()
	gm, err := r.GroupMembers(e.ctx, tenantID, []string{groupID})
	if err != nil {
		e.Fatalf("%s: GroupMembers: %v", what, err)
	}
	want = slices.Clone(want)
	slices.SortFunc(want, func(x, y store.Member) int { return strings.Compare(x.ID, y.ID) })
	if len(want) == 0 {
		if got, ok := gm[groupID]; ok {
			e.Errorf("%s: GroupMembers = %v, want the group absent", what, got)
		}
		return
	}
	if d := cmp.Diff(want, gm[groupID]); d != "" {
		e.Errorf("%s: GroupMembers (-want +got):\n%s", what, d)
	}
}

func userMember(u store.User) store.Member {
	return store.Member{ID: u.ID, Type: store.MemberUser, UserName: u.UserName, DisplayName: u.DisplayName}
}

func groupMember(g store.Group) store.Member {
	return store.Member{ID: g.ID, Type: store.MemberGroup, DisplayName: g.DisplayName}
}

// testGroupMembers checks groups as members of groups: their type and
// displayName, the rejected ids (the group itself, another tenant's group,
// a deleted group), mixed adds ordered by id across types, direct
// membership only, and the removal of a deleted group from the groups it
// was a member of.
func testGroupMembers(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	// Users and groups created alternately, so that ids of both types
	// interleave and id order is not type order.
	u1 := e.user(ta.ID, "u1", func(u *store.User) { u.DisplayName = "User One" })
	inner := e.group(ta.ID, "inner")
	u2 := e.user(ta.ID, "u2")
	second := e.group(ta.ID, "Second")
	u3 := e.user(ta.ID, "u3")
	outer := e.group(ta.ID, "outer")
	foreign := e.group(tb.ID, "foreign")
	deleted := e.group(ta.ID, "deleted")
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, ta.ID, deleted.ID) })

	// A group as member: Type Group, the group's displayName, no userName;
	// reads in the transaction see it.
	e.must(func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, ta.ID, outer.ID, []string{inner.ID})
		if err != nil || len(missing) != 0 {
			return fmt.Errorf("AddMembers(group) = %v, %v", missing, err)
		}
		e.wantMemberList("tx.GroupMembers after adding a group", tx, ta.ID, outer.ID, groupMember(inner))
		return nil
	})
	e.wantMemberList("after adding a group", e.s, ta.ID, outer.ID, groupMember(inner))

	// Rejected: the group itself, another tenant's group, a deleted group;
	// nothing of the call is added, the valid ids included.
	for _, c := range []struct {
		what string
		bad  string
	}{{"itself", outer.ID}, {"another tenant's group", foreign.ID}, {"a deleted group", deleted.ID}} {
		e.must(func(ctx context.Context, tx store.Tx) error {
			missing, err := tx.AddMembers(ctx, ta.ID, outer.ID, []string{u1.ID, c.bad, second.ID, c.bad})
			if err != nil {
				return err
			}
			if !slices.Equal(missing, []string{c.bad}) {
				e.Errorf("AddMembers(%s) missing = %v, want [%s]", c.what, missing, c.bad)
			}
			e.wantMemberList("tx.GroupMembers after AddMembers("+c.what+")", tx, ta.ID, outer.ID, groupMember(inner))
			return nil
		})
		e.must(func(ctx context.Context, tx store.Tx) error {
			missing, err := tx.AddMembers(ctx, ta.ID, outer.ID, []string{c.bad})
			if err == nil && !slices.Equal(missing, []string{c.bad}) {
				e.Errorf("AddMembers(%s alone) missing = %v, want [%s]", c.what, missing, c.bad)
			}
			return err
		})
	}
	e.wantMemberList("after rejected adds", e.s, ta.ID, outer.ID, groupMember(inner))
	// A group of tenant b cannot take tenant a's group either.
	e.must(func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, tb.ID, foreign.ID, []string{inner.ID})
		if err == nil && !slices.Equal(missing, []string{inner.ID}) {
			e.Errorf("AddMembers(tenant a's group to tenant b's) missing = %v", missing)
		}
		return err
	})
	e.wantMemberList("tenant b's group", e.s, tb.ID, foreign.ID)

	// Users and groups in one call, in reverse id order, with duplicates
	// and an id that is already a member: ordered by id across types.
	e.addMembers(ta.ID, outer.ID, second.ID, u3.ID, u2.ID, inner.ID, u1.ID, u2.ID, second.ID)
	all := []store.Member{userMember(u1), groupMember(inner), userMember(u2), groupMember(second), userMember(u3)}
	e.wantMemberList("after a mixed add", e.s, ta.ID, outer.ID, all...)
	if got := e.members(ta.ID, outer.ID); !slices.Equal(got, []string{u1.ID, inner.ID, u2.ID, second.ID, u3.ID}) ||
		!slices.IsSorted(got) {
		e.Errorf("GroupMembers ids = %v, want the creation order (id order)", got)
	}
	// GroupMembers of several groups at once.
	e.addMembers(ta.ID, inner.ID, u3.ID)
	gm, err := e.s.GroupMembers(e.ctx, ta.ID, []string{inner.ID, outer.ID, second.ID})
	if err != nil {
		e.Fatalf("GroupMembers: %v", err)
	}
	if len(gm) != 2 || len(gm[outer.ID]) != 5 || len(gm[inner.ID]) != 1 {
		e.Errorf("GroupMembers(inner, outer, second) = %v, want inner (1) and outer (5)", gm)
	}

	// Membership is direct: inner's member is not outer's, and UserGroups
	// lists only the groups a user is directly in; a group id is no user.
	e.wantGroupsOf("UserGroups(u3)", ta.ID, u3, inner, outer)
	e.wantGroupsOf("UserGroups(u1)", ta.ID, u1, outer)
	if ug, err := e.s.UserGroups(e.ctx, ta.ID, []string{inner.ID, second.ID}); err != nil || len(ug) != 0 {
		e.Errorf("UserGroups(group ids) = %v, %v; want none", ug, err)
	}
	// The members filter finds a group by its group member.
	byMember := func(id string) []string {
		return groupIDs(e.allGroups(ta.ID, store.ValuePath{Attr: "members",
			Filter: store.Cmp{Attr: "members.value", Op: store.OpEq, Value: id, CaseExact: true}}))
	}
	if got := byMember(inner.ID); !slices.Equal(got, []string{outer.ID}) {
		e.Errorf("groups with member inner = %v, want [outer]", got)
	}

	// The member's displayName is the group's current one.
	renamed := inner
	renamed.DisplayName, renamed.Modified = "Inner Renamed", at(time.Hour)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.UpdateGroup(ctx, &renamed, 1) })
	all[1] = groupMember(renamed)
	e.wantMemberList("after renaming a member group", e.s, ta.ID, outer.ID, all...)

	// RemoveMembers removes a group member like a user member.
	e.must(func(ctx context.Context, tx store.Tx) error {
		return tx.RemoveMembers(ctx, ta.ID, outer.ID, []string{second.ID, u2.ID})
	})
	e.wantMemberList("after RemoveMembers", e.s, ta.ID, outer.ID, userMember(u1), groupMember(renamed), userMember(u3))
	if got := byMember(second.ID); len(got) != 0 {
		e.Errorf("groups with removed member second = %v", got)
	}

	// Deleting a member group removes it from every group it was in (and
	// leaves no row a filter would find); the outer group's other members
	// stay, and the deleted group's own memberships go.
	e.addMembers(ta.ID, second.ID, inner.ID)
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.DeleteGroup(ctx, ta.ID, inner.ID); err != nil {
			return err
		}
		e.wantMemberList("tx.GroupMembers after DeleteGroup(member)", tx, ta.ID, outer.ID, userMember(u1), userMember(u3))
		return nil
	})
	e.wantMemberList("outer after DeleteGroup(member)", e.s, ta.ID, outer.ID, userMember(u1), userMember(u3))
	e.wantMemberList("second after DeleteGroup(member)", e.s, ta.ID, second.ID)
	if got := byMember(inner.ID); len(got) != 0 {
		e.Errorf("groups with the deleted member group = %v, want none", got)
	}
	e.wantGroupsOf("UserGroups(u3) after DeleteGroup", ta.ID, u3, outer)
	e.must(func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, ta.ID, outer.ID, []string{inner.ID})
		if err == nil && !slices.Equal(missing, []string{inner.ID}) {
			e.Errorf("AddMembers(deleted member group) missing = %v", missing)
		}
		return err
	})

	// Deleting the outer group leaves its member groups alone; deleting a
	// user removes it and keeps the group members.
	e.addMembers(ta.ID, outer.ID, second.ID)
	e.deleteUser(ta.ID, u1.ID)
	e.wantMemberList("after DeleteUser", e.s, ta.ID, outer.ID, groupMember(second), userMember(u3))
	top := e.group(ta.ID, "top")
	e.addMembers(ta.ID, top.ID, outer.ID, second.ID, u3.ID)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, ta.ID, top.ID) })
	e.wantMemberList("outer after deleting the group it was in", e.s, ta.ID, outer.ID, groupMember(second), userMember(u3))
	if got := byMember(outer.ID); len(got) != 0 {
		e.Errorf("groups with member outer after deleting top = %v", got)
	}
	// ClearMembers removes group members too.
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.ClearMembers(ctx, ta.ID, outer.ID) })
	e.wantMemberList("after ClearMembers", e.s, ta.ID, outer.ID)
	e.checkGroup("second after all", e.mustGetGroup(ta.ID, second.ID), wantGroup(second))
}

// testGroupMemberConcurrency runs AddMembers of a group concurrently with
// the deletion of that group (it ends up a member or gone, never a
// dangling row), and two transactions that each lock their own group and
// add it to the other's (neither deadlocks nor fails).
func testGroupMemberConcurrency(e *env) {
	tn := e.tenant("a")
	outer := e.group(tn.ID, "outer")
	added := 0
	for i := range 20 {
		g := e.group(tn.ID, fmt.Sprintf("doomed %d", i))
		add := func() {
			_ = e.update(func(ctx context.Context, tx store.Tx) error {
				missing, err := tx.AddMembers(ctx, tn.ID, outer.ID, []string{g.ID})
				if err == nil && len(missing) == 0 {
					added++
				}
				return err
			})
		}
		del := func() {
			err := e.update(func(ctx context.Context, tx store.Tx) error {
				if _, err := tx.LockGroup(ctx, tn.ID, g.ID); err != nil {
					return err
				}
				return tx.DeleteGroup(ctx, tn.ID, g.ID)
			})
			if err != nil {
				e.Errorf("DeleteGroup: %v", err)
			}
		}
		// Either may start first.
		first, second := add, del
		if i%2 == 1 {
			first, second = del, add
		}
		var wg sync.WaitGroup
		wg.Go(first)
		wg.Go(second)
		wg.Wait()
	}
	e.Logf("AddMembers won %d of 20 races", added)
	if got := e.members(tn.ID, outer.ID); len(got) != 0 {
		e.Errorf("deleted groups left as members: %v", got)
	}
	if got := e.allGroups(tn.ID, store.ValuePath{Attr: "members", Filter: store.Cmp{Attr: "members.value", Op: store.OpPr}}); len(got) != 0 {
		e.Errorf("groups with members after the deletions: %v", groupIDs(got))
	}

	a, b := e.group(tn.ID, "a"), e.group(tn.ID, "b")
	for range 10 {
		var wg sync.WaitGroup
		for _, p := range [][2]store.Group{{a, b}, {b, a}} {
			wg.Go(func() {
				err := e.update(func(ctx context.Context, tx store.Tx) error {
					cur, err := tx.LockGroup(ctx, tn.ID, p[0].ID)
					if err != nil {
						return err
					}
					cur.Modified = cur.Modified.Add(time.Second)
					if err := tx.UpdateGroup(ctx, &cur, cur.Version); err != nil {
						return err
					}
					if missing, err := tx.AddMembers(ctx, tn.ID, p[0].ID, []string{p[1].ID}); err != nil || len(missing) > 0 {
						return fmt.Errorf("AddMembers = %v, %v", missing, err)
					}
					return tx.RemoveMembers(ctx, tn.ID, p[0].ID, []string{p[1].ID})
				})
				if err != nil {
					e.Errorf("%s joins %s: %v", p[1].DisplayName, p[0].DisplayName, err)
				}
			})
		}
		wg.Wait()
	}
	if got := e.mustGetGroup(tn.ID, a.ID); got.Version != 11 {
		e.Errorf("group a: version %d, want 11", got.Version)
	}
}

// wantListGroups fails the test unless ListUsers with WithGroups fills the
// Groups of every live user of the tenant exactly as UserGroups reports
// them, with a filter and without, and leaves them nil without WithGroups.
func (e *env) wantListGroups(tenantID string) {
	e.Helper()
	for _, q := range []store.Query{
		{Limit: 1000, WithGroups: true},
		{Limit: 1000, WithGroups: true, SortBy: "userName", Descending: true},
		{Limit: 1000, WithGroups: true, Filter: store.Cmp{Attr: "userName", Op: store.OpPr}},
		{Limit: 1000, WithGroups: true, WithoutEmails: true},
	} {
		page, err := e.s.ListUsers(e.ctx, tenantID, q)
		if err != nil {
			e.Fatalf("ListUsers(WithGroups): %v", err)
		}
		if len(page.Users) == 0 {
			e.Fatalf("ListUsers(WithGroups) returned no users")
		}
		ids := make([]string, len(page.Users))
		for i, u := range page.Users {
			ids[i] = u.ID
		}
		ug, err := e.s.UserGroups(e.ctx, tenantID, ids)
		if err != nil {
			e.Fatalf("UserGroups: %v", err)
		}
		for _, u := range page.Users {
			if q.WithoutEmails && u.Emails != nil {
				e.Errorf("ListUsers(WithoutEmails) filled the emails of %s: %v", u.UserName, u.Emails)
			}
			if !q.WithoutEmails {
				got, err := e.s.GetUser(e.ctx, tenantID, u.ID)
				if err != nil {
					e.Fatalf("GetUser: %v", err)
				}
				if d := cmp.Diff(got.Emails, u.Emails); d != "" {
					e.Errorf("ListUsers emails of %s (-GetUser +ListUsers):\n%s", u.UserName, d)
				}
			}
			want := ug[u.ID]
			if want == nil {
				want = []store.GroupRef{}
			}
			if u.Groups == nil {
				e.Errorf("ListUsers(WithGroups): %s has nil Groups, want %v", u.UserName, want)
				continue
			}
			if d := cmp.Diff(want, u.Groups); d != "" {
				e.Errorf("ListUsers(WithGroups) groups of %s (-UserGroups +ListUsers):\n%s", u.UserName, d)
			}
		}
	}
	page, err := e.s.ListUsers(e.ctx, tenantID, store.Query{Limit: 1000})
	if err != nil {
		e.Fatalf("ListUsers: %v", err)
	}
	for _, u := range page.Users {
		if u.Groups != nil {
			e.Errorf("ListUsers without WithGroups filled the groups of %s: %v", u.UserName, u.Groups)
		}
	}
}
