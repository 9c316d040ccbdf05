package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scimd/scimd/store"
)

// checkpoints reads the tenant's checkpoints and fails the test on error.
func (e *env) checkpoints(tenantID string, every int) store.Checkpoints {
	e.Helper()
	cp, err := e.s.UserCheckpoints(e.ctx, tenantID, every)
	if err != nil {
		e.Fatalf("UserCheckpoints(every %d): %v", every, err)
	}
	if cp.Every != every {
		e.Errorf("UserCheckpoints(every %d): Every %d", every, cp.Every)
	}
	return cp
}

// churn returns the tenant's churn count.
func (e *env) churn(tenantID string) int64 {
	e.Helper()
	return e.checkpoints(tenantID, 1000).Churn
}

// testChurn checks that the churn count of a tenant's live users grows
// exactly when a user enters the live set (create, restore) or leaves it
// (delete, erase), and not for updates that keep it live (deactivation
// included), group changes, other tenants or rolled-back transactions.
func testChurn(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	if c := e.churn(ta.ID); c != 0 {
		e.Errorf("churn of a new tenant: %d, want 0", c)
	}
	if c := e.churn(newID()); c != 0 {
		e.Errorf("churn of an unknown tenant: %d, want 0", c)
	}
	if cp, err := e.s.UserCheckpoints(e.ctx, "not-a-uuid", 3); err != nil || cp.Churn != 0 || len(cp.IDs) != 0 {
		e.Errorf("UserCheckpoints(malformed tenant) = %+v, %v; want churn 0, no ids", cp, err)
	}
	for _, every := range []int{0, -1} {
		if _, err := e.s.UserCheckpoints(e.ctx, ta.ID, every); !errors.Is(err, store.ErrUnsupported) {
			e.Errorf("UserCheckpoints(every %d): %v, want ErrUnsupported", every, err)
		}
	}
	last := int64(0)
	step := func(what string, moves bool) {
		e.Helper()
		c := e.churn(ta.ID)
		switch {
		case moves && c <= last:
			e.Errorf("%s: churn %d, want more than %d", what, c, last)
		case !moves && c != last:
			e.Errorf("%s: churn %d, want it unchanged at %d", what, c, last)
		}
		last = c
	}
	u1 := e.user(ta.ID, "one")
	step("create", true)
	u2 := e.user(ta.ID, "two", func(u *store.User) { u.Active, u.State = false, store.StateInactive })
	step("create inactive (live)", true)
	e.user(tb.ID, "other")
	step("create in another tenant", false)
	g := e.group(ta.ID, "g")
	e.addMembers(ta.ID, g.ID, u1.ID)
	step("group create and membership", false)

	update := func(id string, fn func(u *store.User)) {
		e.Helper()
		e.must(func(ctx context.Context, tx store.Tx) error {
			u, err := tx.LockUser(ctx, ta.ID, id)
			if err != nil {
				return err
			}
			v := u.Version
			fn(&u)
			return tx.UpdateUser(ctx, &u, v)
		})
	}
	update(u1.ID, func(u *store.User) { u.DisplayName, u.Doc = "One", []byte(`{"displayName":"One"}`) })
	step("update", false)
	deact := at(time.Minute)
	update(u1.ID, func(u *store.User) { u.Active, u.State, u.DeactivatedAt = false, store.StateInactive, &deact })
	step("deactivate", false)
	update(u1.ID, func(u *store.User) { u.Active, u.State, u.DeactivatedAt = true, store.StateActive, nil })
	step("reactivate", false)
	update(u2.ID, func(u *store.User) { u.UserName = "two-renamed" })
	step("rename", false)

	e.deleteUser(ta.ID, u1.ID)
	step("delete", true)
	e.must(func(ctx context.Context, tx store.Tx) error {
		t, err := tx.GetTombstone(ctx, ta.ID, u1.ID)
		if err != nil {
			return err
		}
		t.State, t.Active = store.StateActive, true
		return tx.RestoreUser(ctx, &t)
	})
	step("restore", true)
	e.deleteUserAt(ta.ID, u2.ID, at(time.Hour), true)
	step("erase", true)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, ta.ID, g.ID) })
	step("group delete", false)

	boom := errors.New("roll back")
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		u := store.User{TenantID: ta.ID, ID: newID(), UserName: "gone", Active: true, Role: store.RoleMember,
			State: store.StateActive, Doc: []byte(`{}`), Created: t0, Modified: t0}
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		// The transaction sees its own change.
		cp, err := tx.UserCheckpoints(ctx, ta.ID, 1)
		if err != nil {
			return err
		}
		if cp.Churn <= last || !slices.Contains(cp.IDs, u.ID) {
			e.Errorf("in the creating transaction: churn %d (before %d), ids %v", cp.Churn, last, cp.IDs)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		e.Fatalf("Update: %v", err)
	}
	step("rolled-back create", false)

	// Several changes in one transaction move it by as many.
	before := last
	e.must(func(ctx context.Context, tx store.Tx) error {
		for i := range 3 {
			u := store.User{TenantID: ta.ID, ID: newID(), UserName: fmt.Sprintf("batch%d", i), Active: true,
				Role: store.RoleMember, State: store.StateActive, Doc: []byte(`{}`), Created: t0, Modified: t0}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
		}
		return nil
	})
	step("three creates", true)
	if last-before != 3 {
		e.Errorf("three creates in one transaction moved the churn by %d, want 3", last-before)
	}
}

// testUserCheckpoints compares UserCheckpoints with the offsets of a full
// ListUsers walk, for directory sizes around multiples of every, with
// tombstones and another tenant's users in between.
func testUserCheckpoints(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	check := func(what string) {
		e.Helper()
		all := userIDs(e.allUsers(ta.ID, nil))
		for _, every := range []int{1, 2, 3, 4, 7} {
			cp := e.checkpoints(ta.ID, every)
			var want []string
			for i := every - 1; i < len(all); i += every {
				want = append(want, all[i])
			}
			if !slices.Equal(cp.IDs, want) {
				e.Errorf("%s, %d live users, every %d: checkpoints %v, want %v", what, len(all), every, cp.IDs, want)
			}
		}
	}
	check("empty")
	var mine []string
	for i := range 13 {
		mine = append(mine, e.user(ta.ID, fmt.Sprintf("u%02d", i)).ID)
		if i%4 == 1 {
			e.user(tb.ID, fmt.Sprintf("b%02d", i))
		}
		check(fmt.Sprintf("after %d creates", i+1))
	}
	// Tombstones (retained and erased) are not live.
	e.deleteUser(ta.ID, mine[0])
	check("after deleting the first")
	e.deleteUserAt(ta.ID, mine[5], at(time.Hour), true)
	check("after erasing the sixth")
	e.deleteUser(ta.ID, mine[12])
	check("after deleting the last")
	for i := range 3 {
		e.user(ta.ID, fmt.Sprintf("late%d", i))
	}
	check("after three more creates")
}

// testCheckedPages checks pages conditional on the churn count: after a
// checkpoint with an offset (as Checkpoints.Seek gives them) they hold
// exactly what the plain offset does, for every offset around the
// checkpoints and past the end; when the live users have changed since
// the checkpoints they are ErrStale and nothing else, but not after an
// update that keeps every user live; other queries cannot be conditional.
func testCheckedPages(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	var ids []string
	for i := range 23 {
		ids = append(ids, e.user(ta.ID, fmt.Sprintf("u%02d", i)).ID)
		if i%5 == 2 {
			e.user(tb.ID, fmt.Sprintf("b%02d", i))
		}
	}
	e.deleteUser(ta.ID, ids[3])
	e.deleteUser(ta.ID, ids[11])
	g := e.group(ta.ID, "g")
	e.addMembers(ta.ID, g.ID, ids[7], ids[16])
	const every = 5
	cp := e.checkpoints(ta.ID, every)
	list := func(q store.Query) (store.UserPage, error) { return e.s.ListUsers(e.ctx, ta.ID, q) }
	same := func(what string, q store.Query) {
		e.Helper()
		k := q.Offset
		plain, err := list(q)
		if err != nil {
			e.Fatalf("%s: plain offset: %v", what, err)
		}
		c := q
		c.IfChurn = &cp.Churn
		after, rest, ok := cp.Seek(k)
		if ok {
			c.After, c.Offset = &store.Position{ID: after}, rest
			if rest >= every && k < plain.Total {
				e.Errorf("%s: Seek(%d) left %d rows to skip", what, k, rest)
			}
		} else if k >= every {
			e.Errorf("%s: Seek(%d) found no checkpoint among %d", what, k, len(cp.IDs))
		}
		got, err := list(c)
		if err != nil {
			e.Fatalf("%s: checked page (after %q, offset %d): %v", what, after, c.Offset, err)
		}
		if d := cmp.Diff(plain.Users, got.Users, cmpOpts...); d != "" {
			e.Errorf("%s: checked page (after %q, offset %d) differs from offset %d (-offset +checked):\n%s", what, after, c.Offset, k, d)
		}
		if !slices.Equal(plain.Keys, got.Keys) || plain.Total != got.Total || plain.HasNext != got.HasNext {
			e.Errorf("%s: checked page keys %v total %d next %v; offset: keys %v total %d next %v", what,
				got.Keys, got.Total, got.HasNext, plain.Keys, plain.Total, plain.HasNext)
		}
	}
	for _, limit := range []int{0, 1, 4, 5, 7, 100} {
		for k := 0; k <= 25; k++ {
			same(fmt.Sprintf("limit %d offset %d", limit, k), store.Query{Offset: k, Limit: limit})
		}
	}
	same("with groups and emails", store.Query{Offset: 12, Limit: 6, WithGroups: true})
	same("without emails", store.Query{Offset: 10, Limit: 6, WithGroups: true, WithoutEmails: true})
	same("sorted by id", store.Query{SortBy: "id", Offset: 9, Limit: 3})
	same("edges", store.Query{Offset: 11, Limit: 3, Edges: true})
	same("far past the end", store.Query{Offset: 1_000_000, Limit: 3})

	// A transaction's own reads take it too.
	want := userIDs(e.allUsers(ta.ID, nil))[13:15]
	e.must(func(ctx context.Context, tx store.Tx) error {
		after, rest, _ := cp.Seek(13)
		p, err := tx.ListUsers(ctx, ta.ID, store.Query{After: &store.Position{ID: after}, Offset: rest, Limit: 2, IfChurn: &cp.Churn})
		if err == nil && !slices.Equal(userIDs(p.Users), want) {
			e.Errorf("checked page in a transaction: %v", userIDs(p.Users))
		}
		return err
	})

	stale := func(what string) {
		e.Helper()
		for _, q := range []store.Query{
			{After: &store.Position{ID: cp.IDs[1]}, Offset: 2, Limit: 3},
			{Offset: 2, Limit: 3},
			{After: &store.Position{ID: cp.IDs[0]}, Limit: 0},
		} {
			q.IfChurn = &cp.Churn
			p, err := list(q)
			if !errors.Is(err, store.ErrStale) {
				e.Errorf("%s: checked page %+v: error %v, want ErrStale", what, q, err)
			}
			if len(p.Users) != 0 || p.Total != 0 || len(p.Keys) != 0 {
				e.Errorf("%s: a stale page came with %d users, total %d", what, len(p.Users), p.Total)
			}
		}
	}
	// An update that keeps every user live changes nothing.
	e.must(func(ctx context.Context, tx store.Tx) error {
		u, err := tx.LockUser(ctx, ta.ID, ids[0])
		if err != nil {
			return err
		}
		v := u.Version
		u.Active, u.State = false, store.StateInactive
		return tx.UpdateUser(ctx, &u, v)
	})
	e.user(tb.ID, "another tenant's user")
	same("after a deactivation and another tenant's create", store.Query{Offset: 17, Limit: 4})

	e.user(ta.ID, "zz-new")
	stale("after a create")
	cp = e.checkpoints(ta.ID, every)
	same("with the checkpoints read again after a create", store.Query{Offset: 16, Limit: 4})
	e.deleteUser(ta.ID, ids[1])
	stale("after a delete")
	cp = e.checkpoints(ta.ID, every)
	same("with the checkpoints read again after a delete", store.Query{Offset: 5, Limit: 4})

	for _, q := range []store.Query{
		{Filter: present("userName")},
		{SortBy: "userName"},
		{Descending: true},
		{Before: &store.Position{ID: cp.IDs[1]}},
	} {
		q.Limit, q.IfChurn = 3, &cp.Churn
		if _, err := list(q); !errors.Is(err, store.ErrUnsupported) {
			e.Errorf("checked page %+v: error %v, want ErrUnsupported", q, err)
		}
	}
	if _, err := e.s.ListGroups(e.ctx, ta.ID, store.Query{Limit: 3, IfChurn: &cp.Churn}); !errors.Is(err, store.ErrUnsupported) {
		e.Errorf("checked group page: error %v, want ErrUnsupported", err)
	}
}
