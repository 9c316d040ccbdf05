package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scimd/scimd/store"
)

// The console contract (store/console.go) and the queries of the console's
// user list: Query.Deleted, Query.NoTotal and store.SortLastActive.

// consoleSecret creates a secret of the kind for the user, created at t0
// and expiring at expires; its hash is the SHA-256 of name.
func (e *env) consoleSecret(tenantID, userID, kind, name string, expires time.Time) store.ConsoleSecret {
	e.Helper()
	sum := sha256.Sum256([]byte(name))
	cs := store.ConsoleSecret{ID: newID(), TenantID: tenantID, UserID: userID, Kind: kind, Hash: sum[:],
		Created: t0, Expires: expires}
	if err := e.s.CreateConsoleSecret(e.ctx, &cs); err != nil {
		e.Fatalf("CreateConsoleSecret(%s): %v", name, err)
	}
	return cs
}

func hashOf(name string) []byte {
	sum := sha256.Sum256([]byte(name))
	return sum[:]
}

func (e *env) checkSecret(what string, got, want store.ConsoleSecret) {
	e.Helper()
	if d := cmp.Diff(want, got); d != "" {
		e.Errorf("%s: secret mismatch (-want +got):\n%s", what, d)
	}
	times := []time.Time{got.Created, got.Expires}
	if got.Used != nil {
		times = append(times, *got.Used)
	}
	checkUTC(e.T, what, times...)
}

// indexUsers returns users by id, and a function that names ids by their
// users' userNames (an erased tombstone by the end of its id), for
// messages.
func indexUsers(users []store.User) (map[string]store.User, func([]string) string) {
	byID := make(map[string]store.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	return byID, func(ids []string) string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = byID[id].UserName
			if byID[id].Erased {
				out[i] = "(erased " + id[len(id)-4:] + ")"
			}
		}
		return strings.Join(out, " ")
	}
}

func testConsoleSecrets(e *env) {
	tn := e.tenant("a")
	admin := e.user(tn.ID, "admin", withRole(store.RoleAdmin))
	expires := at(time.Hour)
	now := at(time.Minute)

	// A login link is consumed once.
	link := e.consoleSecret(tn.ID, admin.ID, store.ConsoleLogin, "link", expires)
	got, err := e.s.ConsumeConsoleLogin(e.ctx, hashOf("link"), now)
	if err != nil {
		e.Fatalf("ConsumeConsoleLogin: %v", err)
	}
	want := link
	want.Used = &now
	e.checkSecret("consumed link", got, want)
	_, err = e.s.ConsumeConsoleLogin(e.ctx, hashOf("link"), now.Add(time.Second))
	wantErr(e.T, "ConsumeConsoleLogin twice", err, store.ErrNotFound)
	_, err = e.s.ConsumeConsoleLogin(e.ctx, hashOf("unknown"), now)
	wantErr(e.T, "ConsumeConsoleLogin(unknown)", err, store.ErrNotFound)

	// Expired at Expires: refused then, taken a microsecond before.
	e.consoleSecret(tn.ID, admin.ID, store.ConsoleLogin, "late", expires)
	_, err = e.s.ConsumeConsoleLogin(e.ctx, hashOf("late"), expires)
	wantErr(e.T, "ConsumeConsoleLogin at its expiry", err, store.ErrNotFound)
	_, err = e.s.ConsumeConsoleLogin(e.ctx, hashOf("late"), expires.Add(time.Hour))
	wantErr(e.T, "ConsumeConsoleLogin after its expiry", err, store.ErrNotFound)
	if got, err := e.s.ConsumeConsoleLogin(e.ctx, hashOf("late"), expires.Add(-time.Microsecond)); err != nil ||
		got.Used == nil || !got.Used.Equal(expires.Add(-time.Microsecond)) {
		e.Errorf("ConsumeConsoleLogin just before its expiry = %+v, %v", got, err)
	}

	// Concurrent consumers of one link: exactly one gets it.
	e.consoleSecret(tn.ID, admin.ID, store.ConsoleLogin, "raced", expires)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, misses := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.s.ConsumeConsoleLogin(e.ctx, hashOf("raced"), now.Add(time.Duration(i)*time.Millisecond))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrNotFound):
				misses++
			default:
				e.Errorf("concurrent ConsumeConsoleLogin: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || misses != 7 {
		e.Errorf("8 concurrent consumers: %d got the link, %d did not; want 1 and 7", wins, misses)
	}

	// Sessions: looked up until they expire, never consumed as a link; a
	// link is no session.
	sess := e.consoleSecret(tn.ID, admin.ID, store.ConsoleSession, "session", expires)
	if got, err := e.s.ConsoleSessionByHash(e.ctx, hashOf("session"), now); err != nil {
		e.Errorf("ConsoleSessionByHash: %v", err)
	} else {
		e.checkSecret("session", got, sess)
	}
	if _, err := e.s.ConsoleSessionByHash(e.ctx, hashOf("session"), expires.Add(-time.Microsecond)); err != nil {
		e.Errorf("ConsoleSessionByHash just before its expiry: %v", err)
	}
	_, err = e.s.ConsoleSessionByHash(e.ctx, hashOf("session"), expires)
	wantErr(e.T, "ConsoleSessionByHash at its expiry", err, store.ErrNotFound)
	_, err = e.s.ConsumeConsoleLogin(e.ctx, hashOf("session"), now)
	wantErr(e.T, "ConsumeConsoleLogin(a session)", err, store.ErrNotFound)
	if got, err := e.s.ConsoleSessionByHash(e.ctx, hashOf("session"), now); err != nil || got.Used != nil {
		e.Errorf("session after a consume attempt = %+v, %v", got, err)
	}
	e.consoleSecret(tn.ID, admin.ID, store.ConsoleLogin, "fresh", expires)
	_, err = e.s.ConsoleSessionByHash(e.ctx, hashOf("fresh"), now)
	wantErr(e.T, "ConsoleSessionByHash(a link)", err, store.ErrNotFound)
	_, err = e.s.ConsoleSessionByHash(e.ctx, hashOf("unknown"), now)
	wantErr(e.T, "ConsoleSessionByHash(unknown)", err, store.ErrNotFound)

	// Signing out.
	if err := e.s.DeleteConsoleSecret(e.ctx, hashOf("session")); err != nil {
		e.Errorf("DeleteConsoleSecret: %v", err)
	}
	_, err = e.s.ConsoleSessionByHash(e.ctx, hashOf("session"), now)
	wantErr(e.T, "ConsoleSessionByHash after delete", err, store.ErrNotFound)
	if err := e.s.DeleteConsoleSecret(e.ctx, hashOf("session")); err != nil {
		e.Errorf("DeleteConsoleSecret twice: %v", err)
	}

	// A hash is unique across kinds.
	dup := store.ConsoleSecret{ID: newID(), TenantID: tn.ID, UserID: admin.ID, Kind: store.ConsoleSession,
		Hash: hashOf("fresh"), Created: t0, Expires: expires}
	wantErr(e.T, "CreateConsoleSecret(duplicate hash)", e.s.CreateConsoleSecret(e.ctx, &dup), store.ErrConflict)
	if got, err := e.s.ConsumeConsoleLogin(e.ctx, hashOf("fresh"), now); err != nil || got.Kind != store.ConsoleLogin {
		e.Errorf("the link after a duplicate was refused = %+v, %v", got, err)
	}

	// Purge: the secrets that expired before now, used or not.
	other := e.tenant("b")
	e.consoleSecret(other.ID, newID(), store.ConsoleSession, "b-old", at(30*time.Minute))
	e.consoleSecret(tn.ID, admin.ID, store.ConsoleSession, "edge", at(2*time.Hour))
	e.consoleSecret(tn.ID, admin.ID, store.ConsoleSession, "long", at(3*time.Hour))
	n, err := e.s.PurgeConsoleSecrets(e.ctx, at(10*time.Minute))
	if err != nil || n != 0 {
		e.Errorf("PurgeConsoleSecrets before any expiry = %d, %v", n, err)
	}
	// Expired before 2h: b-old, and link, late, raced and fresh (1h).
	n, err = e.s.PurgeConsoleSecrets(e.ctx, at(2*time.Hour))
	if err != nil || n != 5 {
		e.Errorf("PurgeConsoleSecrets(2h) = %d, %v; want 5", n, err)
	}
	if n, err := e.s.PurgeConsoleSecrets(e.ctx, at(2*time.Hour)); err != nil || n != 0 {
		e.Errorf("PurgeConsoleSecrets(2h) again = %d, %v; want 0", n, err)
	}
	// "edge" expires at 2h: expired then, but not before, so kept.
	if _, err := e.s.ConsoleSessionByHash(e.ctx, hashOf("long"), at(2*time.Hour)); err != nil {
		e.Errorf("a session the purge had to keep: %v", err)
	}
	if n, err := e.s.PurgeConsoleSecrets(e.ctx, at(4*time.Hour)); err != nil || n != 2 {
		e.Errorf("PurgeConsoleSecrets(4h) = %d, %v; want edge and long", n, err)
	}
	// A purged hash can be used again.
	e.consoleSecret(tn.ID, admin.ID, store.ConsoleLogin, "link", at(5*time.Hour))
}

func testTouchUserActive(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	u := e.user(ta.ID, "alice", withRole(store.RoleOwner), withEmails("alice@example.com"))
	bob := e.user(ta.ID, "bob")
	gone := e.user(ta.ID, "gone")
	e.deleteUser(ta.ID, gone.ID)
	churn := e.churn(ta.ID)
	events, err := e.s.ListEvents(e.ctx, ta.ID, "", 100)
	if err != nil {
		e.Fatal(err)
	}
	if got := e.mustGetUser(ta.ID, u.ID); got.LastActive != nil {
		e.Errorf("LastActive of a new user = %v, want nil", got.LastActive)
	}
	touch := func(tenantID, id string, when time.Time) {
		e.Helper()
		if err := e.s.TouchUserActive(e.ctx, tenantID, id, when); err != nil {
			e.Errorf("TouchUserActive(%s, %v): %v", id, when, err)
		}
	}
	lastActive := func(what string, want *time.Time) {
		e.Helper()
		got := e.mustGetUser(ta.ID, u.ID)
		if (got.LastActive == nil) != (want == nil) || (want != nil && !got.LastActive.Equal(*want)) {
			e.Errorf("%s: LastActive = %v, want %v", what, got.LastActive, want)
		}
		if got.LastActive != nil {
			checkUTC(e.T, what, *got.LastActive)
		}
		if got.Version != u.Version || !got.Modified.Equal(u.Modified) || !jsonEqual(got.Doc, u.Doc) {
			e.Errorf("%s: version %d, modified %v; want %d, %v unchanged", what, got.Version, got.Modified, u.Version, u.Modified)
		}
	}

	first := at(time.Hour)
	touch(ta.ID, u.ID, first)
	lastActive("first touch", &first)
	touch(ta.ID, u.ID, first.Add(30*time.Second))
	lastActive("within the granularity", &first)
	touch(ta.ID, u.ID, first.Add(store.ActiveGranularity))
	lastActive("at the granularity", &first)
	touch(ta.ID, u.ID, first.Add(-time.Hour))
	lastActive("an earlier time", &first)
	second := first.Add(store.ActiveGranularity + time.Microsecond)
	touch(ta.ID, u.ID, second)
	lastActive("past the granularity", &second)

	// Nothing else moves: not bob, not the tombstone, not the churn, no
	// event or audit entry.
	if got := e.mustGetUser(ta.ID, bob.ID); got.LastActive != nil {
		e.Errorf("bob's LastActive = %v after alice's touches", got.LastActive)
	}
	for _, tc := range []struct{ what, tenantID, id string }{
		{"a deleted user", ta.ID, gone.ID},
		{"an unknown id", ta.ID, newID()},
		{"a malformed id", ta.ID, "not-a-uuid"},
		{"a malformed tenant id", "not-a-uuid", u.ID},
		{"another tenant's user", tb.ID, bob.ID},
	} {
		if err := e.s.TouchUserActive(e.ctx, tc.tenantID, tc.id, at(10*time.Hour)); err != nil {
			e.Errorf("TouchUserActive(%s) = %v, want nil", tc.what, err)
		}
	}
	if got := e.mustGetTombstone(ta.ID, gone.ID); got.LastActive != nil || got.Version != 2 {
		e.Errorf("tombstone after a touch: LastActive %v, version %d", got.LastActive, got.Version)
	}
	if got := e.mustGetUser(ta.ID, bob.ID); got.LastActive != nil || got.Version != 1 {
		e.Errorf("bob after another tenant's touch: LastActive %v, version %d", got.LastActive, got.Version)
	}
	if c := e.churn(ta.ID); c != churn {
		e.Errorf("churn %d after touches, want %d", c, churn)
	}
	if n := e.countUsers(ta.ID, store.StateActive); n != 2 {
		e.Errorf("%d active users after touches, want 2", n)
	}
	if got, err := e.s.ListEvents(e.ctx, ta.ID, "", 100); err != nil || len(got) != len(events) {
		e.Errorf("events after touches: %d, %v; want %d", len(got), err, len(events))
	}
	if got, err := e.s.ListAudit(e.ctx, ta.ID, "", 100); err != nil || len(got) != 0 {
		e.Errorf("audit after touches: %v, %v", got, err)
	}

	// Every read of the user fills it.
	check := func(what string, got store.User) {
		e.Helper()
		if got.LastActive == nil || !got.LastActive.Equal(second) {
			e.Errorf("%s: LastActive = %v, want %v", what, got.LastActive, second)
		}
	}
	byName, err := e.s.GetUserByUserName(e.ctx, ta.ID, "ALICE")
	if err != nil {
		e.Fatal(err)
	}
	check("GetUserByUserName", byName)
	owner, err := e.s.GetOwner(e.ctx, ta.ID)
	if err != nil {
		e.Fatal(err)
	}
	check("GetOwner", owner)
	p, err := e.s.ListUsers(e.ctx, ta.ID, store.Query{Limit: 10, WithGroups: true})
	if err != nil || len(p.Users) != 2 {
		e.Fatalf("ListUsers = %+v, %v", p, err)
	}
	for _, x := range p.Users {
		if x.ID == u.ID {
			check("ListUsers", x)
		} else if x.LastActive != nil {
			e.Errorf("ListUsers: bob's LastActive = %v", x.LastActive)
		}
	}
	p, err = e.s.ListUsers(e.ctx, ta.ID, store.Query{Filter: cmpF("userName", store.OpEq, "alice"), Limit: 10, WithoutEmails: true})
	if err != nil || len(p.Users) != 1 {
		e.Fatalf("ListUsers(alice) = %+v, %v", p, err)
	}
	check("ListUsers filtered", p.Users[0])

	// Writes keep it: an update, in the transaction that locked the user,
	// then a delete and a restore.
	e.must(func(ctx context.Context, tx store.Tx) error {
		locked, err := tx.LockUser(ctx, ta.ID, u.ID)
		if err != nil {
			return err
		}
		check("LockUser", locked)
		locked.DisplayName, locked.LastActive = "Alice", nil
		locked.Modified = at(2 * time.Hour)
		return tx.UpdateUser(ctx, &locked, locked.Version)
	})
	check("GetUser after UpdateUser", e.mustGetUser(ta.ID, u.ID))
	e.deleteUser(ta.ID, u.ID)
	check("GetTombstone", e.mustGetTombstone(ta.ID, u.ID))
	if got, err := e.s.FindRetainedByEmail(e.ctx, ta.ID, "alice@example.com"); err != nil {
		e.Errorf("FindRetainedByEmail: %v", err)
	} else {
		check("FindRetainedByEmail", got)
	}
	p, err = e.s.ListUsers(e.ctx, ta.ID, store.Query{Deleted: true, Filter: cmpF("userName", store.OpEq, "alice"), Limit: 10})
	if err != nil || len(p.Users) != 1 {
		e.Fatalf("ListUsers(deleted alice) = %+v, %v", p, err)
	}
	check("ListUsers of tombstones", p.Users[0])
	touch(ta.ID, u.ID, at(20*time.Hour)) // a tombstone: nothing
	restored := e.mustGetTombstone(ta.ID, u.ID)
	restored.State, restored.Active, restored.Modified, restored.LastActive = store.StateActive, true, at(3*time.Hour), nil
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.RestoreUser(ctx, &restored) })
	check("GetUser after RestoreUser", e.mustGetUser(ta.ID, u.ID))
	// A batch create starts without.
	fresh := store.User{TenantID: ta.ID, ID: newID(), UserName: "carol", Active: true, Role: store.RoleMember,
		State: store.StateActive, Doc: json.RawMessage(`{"userName":"carol"}`), Created: t0, Modified: t0, LastActive: &second}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.CreateUsers(ctx, []*store.User{&fresh}) })
	if got := e.mustGetUser(ta.ID, fresh.ID); got.LastActive != nil {
		e.Errorf("LastActive of a user created by CreateUsers = %v, want nil", got.LastActive)
	}
}

// tombstoneFixture creates live users and tombstones (retained and erased,
// admins and members) in tenant a, and a tombstone in tenant b; it returns
// tenant a's id, the live ids, and the tombstones by userName (the erased
// ones under their former names).
func (e *env) tombstoneFixture() (string, []string, map[string]store.User) {
	e.Helper()
	ta, tb := e.tenant("a"), e.tenant("b")
	var live []string
	for _, name := range []string{"live-admin", "live-member", "zed"} {
		role := store.RoleMember
		if strings.Contains(name, "admin") {
			role = store.RoleAdmin
		}
		live = append(live, e.user(ta.ID, name, withRole(role), withEmails(name+"@example.com")).ID)
	}
	tombs := map[string]store.User{}
	for i, name := range []string{"ann", "Ben", "cleo", "dora", "erased-admin", "erased-member", "fay", "gus"} {
		role := store.RoleMember
		if i%3 == 0 || name == "erased-admin" {
			role = store.RoleAdmin
		}
		u := e.user(ta.ID, name, withRole(role), withEmails(name+"@example.com"), func(u *store.User) {
			u.DisplayName = "Person " + name
		})
		// Deleted in an order that is not the ids', some at the same time.
		e.deleteUserAt(ta.ID, u.ID, at(time.Duration((i*5)%3)*time.Hour), strings.HasPrefix(name, "erased"))
		tombs[name] = e.mustGetTombstone(ta.ID, u.ID)
	}
	other := e.user(tb.ID, "ann", withRole(store.RoleAdmin))
	e.deleteUser(tb.ID, other.ID)
	return ta.ID, live, tombs
}

func testListDeleted(e *env) {
	tid, live, tombs := e.tombstoneFixture()
	var all []string
	for _, u := range tombs {
		all = append(all, u.ID)
	}
	all = sorted(all)
	list := func(q store.Query) (store.UserPage, error) {
		q.Deleted = true
		return e.s.ListUsers(e.ctx, tid, q)
	}
	byID, names := indexUsers(slices.Collect(maps.Values(tombs)))
	p, err := list(store.Query{Limit: 100})
	if err != nil {
		e.Fatalf("ListUsers(Deleted): %v", err)
	}
	if got := userIDs(p.Users); !slices.Equal(got, all) || p.Total != len(all) || p.HasNext {
		e.Errorf("ListUsers(Deleted) = %s (total %d), want %s", names(got), p.Total, names(all))
	}
	for _, u := range p.Users {
		e.checkUser("listed tombstone "+u.ID, u, byID[u.ID])
		if u.State != store.StateDeleted || u.Active {
			e.Errorf("listed tombstone %s: state %s, active %v", u.ID, u.State, u.Active)
		}
	}
	for _, name := range []string{"erased-admin", "erased-member"} {
		if u := tombs[name]; !u.Erased || u.UserName != "" {
			e.Fatalf("fixture %s: erased %v, userName %q", name, u.Erased, u.UserName)
		}
	}
	// Live users stay out of it, tombstones out of the live list.
	if got := userIDs(e.allUsers(tid, nil)); !slices.Equal(got, sorted(live)) {
		e.Errorf("live users = %v, want %v", got, live)
	}

	ids := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, tombs[n].ID)
		}
		return sorted(out)
	}
	eq, sw := store.OpEq, store.OpSw
	erasedKey := store.ErasedKey("erased-admin")
	for _, tc := range []struct {
		f    store.Filter
		want []string
	}{
		{roles(cmpF("roles.value", eq, "admin")), ids("ann", "dora", "erased-admin", "fay")},
		{roles(cmpF("roles.value", eq, "member")), ids("Ben", "cleo", "erased-member", "gus")},
		{cmpF("userName", eq, "ben"), ids("Ben")},
		{cmpF("userName", eq, "live-admin"), nil},
		{store.Or{cmpF("userName", sw, "c"), emails(cmpF("emails.value", sw, "fay@"))}, ids("cleo", "fay")},
		{emails(cmpF("emails.value", sw, "erased")), nil},
		{cmpF("displayName", sw, "person"), ids("ann", "Ben", "cleo", "dora", "fay", "gus")},
		// An erased tombstone keeps no userName: not its ErasedKey either.
		{present("userName"), ids("ann", "Ben", "cleo", "dora", "fay", "gus")},
		{not(present("userName")), ids("erased-admin", "erased-member")},
		{cmpF("userName", eq, erasedKey), nil},
		{cmpX("userName", eq, erasedKey), nil},
		{cmpF("userName", sw, "sha256:"), nil},
		{cmpF("userName", store.OpNe, "ann"), ids("Ben", "cleo", "dora", "erased-admin", "erased-member", "fay", "gus")},
		// Tombstones are all inactive, in the state deleted.
		{cmpF("active", eq, false), all},
		{cmpF("active", eq, true), nil},
		{cmpF("active", store.OpNe, true), all},
		{not(cmpF("active", eq, false)), nil},
		{store.And{cmpF("userName", sw, "c"), cmpF("active", store.OpNe, true)}, ids("cleo")},
		{cmpF("id", eq, tombs["erased-member"].ID), ids("erased-member")},
		{cmpF("meta.lastModified", store.OpGe, at(2*time.Hour)), ids("Ben", "erased-admin", "gus")},
		{present("name"), nil},
	} {
		what := "Deleted, filter " + format(tc.f)
		p, err := list(store.Query{Filter: tc.f, Limit: 100})
		if err != nil {
			e.Errorf("%s: %v", what, err)
			continue
		}
		if got := userIDs(p.Users); !slices.Equal(got, tc.want) || p.Total != len(tc.want) {
			e.Errorf("%s = %s (total %d), want %s", what, names(got), p.Total, names(tc.want))
		}
	}

	// Keyset walks over the tombstones by several orders, each visiting
	// every tombstone once.
	modified := func(i int) sortKey { return timeKey(byID[all[i]].Modified) }
	userName := func(exact bool) func(i int) sortKey {
		return func(i int) sortKey { return strKey(byID[all[i]].UserName, exact) }
	}
	for _, c := range []struct {
		sortBy string
		exact  bool
		key    func(i int) sortKey
	}{
		{"", false, func(i int) sortKey { return sortKey{true, all[i]} }},
		{"meta.lastModified", false, modified},
		{"userName", false, userName(false)},
		{"userName", true, userName(true)},
		{"displayName", false, func(i int) sortKey { return strKey(byID[all[i]].DisplayName, false) }},
	} {
		for _, desc := range []bool{false, true} {
			what := fmt.Sprintf("tombstones by %q (caseExact %v, descending %v)", c.sortBy, c.exact, desc)
			want := refOrder(all, c.key, desc)
			e.checkKeysetWalks(what, store.Query{SortBy: c.sortBy, CaseExact: c.exact, Descending: desc}, want, names, list)
		}
	}
	// Offset pages too.
	got := pageAll(e, "tombstones by offset", len(all), 3, func(q store.Query) ([]store.User, int, error) {
		p, err := list(q)
		return p.Users, p.Total, err
	}, store.Query{SortBy: "meta.lastModified", Descending: true})
	if want := refOrder(all, modified, true); !slices.Equal(userIDs(got), want) {
		e.Errorf("tombstones by offset: %s, want %s", names(userIDs(got)), names(want))
	}

	// IfChurn is for live users only.
	churn := e.churn(tid)
	_, err = list(store.Query{Limit: 10, IfChurn: &churn})
	wantErr(e.T, "Deleted with IfChurn", err, store.ErrUnsupported)
	var ue *store.UnsupportedError
	if !errors.As(err, &ue) {
		e.Errorf("Deleted with IfChurn: %T, want a *store.UnsupportedError", err)
	}
	// ListGroups ignores it.
	g := e.group(tid, "g")
	if gp, err := e.s.ListGroups(e.ctx, tid, store.Query{Deleted: true, Limit: 10}); err != nil ||
		!slices.Equal(groupIDs(gp.Groups), []string{g.ID}) || gp.Total != 1 {
		e.Errorf("ListGroups(Deleted) = %+v, %v", gp, err)
	}
}

// lastActiveFixture creates users of tenant a with last-active times,
// several sharing one, a quarter never active, and returns them.
func (e *env) lastActiveFixture(n int) (store.Tenant, []store.User) {
	e.Helper()
	tn := e.tenant("a")
	users := make([]store.User, n)
	for i := range users {
		users[i] = e.user(tn.ID, fmt.Sprintf("user%02d", i))
		if i%4 == 1 {
			continue // never active
		}
		when := at(time.Duration((i*7)%5) * time.Hour) // five times, in no id order
		if err := e.s.TouchUserActive(e.ctx, tn.ID, users[i].ID, when); err != nil {
			e.Fatalf("TouchUserActive: %v", err)
		}
		users[i].LastActive = &when
	}
	// A tombstone that was active, and another tenant's active user: never
	// listed.
	dead := e.user(tn.ID, "dead")
	if err := e.s.TouchUserActive(e.ctx, tn.ID, dead.ID, t0); err != nil {
		e.Fatal(err)
	}
	e.deleteUser(tn.ID, dead.ID)
	tb := e.tenant("b")
	other := e.user(tb.ID, "other")
	if err := e.s.TouchUserActive(e.ctx, tb.ID, other.ID, t0); err != nil {
		e.Fatal(err)
	}
	return tn, users
}

// lastActiveKey is u's key under store.SortLastActive: its LastActive,
// store.NeverActive (the oldest) for never.
func lastActiveKey(u store.User) time.Time {
	if u.LastActive == nil {
		return store.NeverActive
	}
	return *u.LastActive
}

func testSortLastActive(e *env) {
	tn, users := e.lastActiveFixture(20)
	ids := userIDs(users)
	byID, names := indexUsers(users)
	key := func(i int) sortKey { return timeKey(lastActiveKey(users[i])) }
	list := func(q store.Query) (store.UserPage, error) { return e.s.ListUsers(e.ctx, tn.ID, q) }

	// The order spelt out: by time, ties by id, never active as the oldest
	// (first ascending, last descending).
	asc := refOrder(ids, key, false)
	for i := 1; i < len(asc); i++ {
		a, b := byID[asc[i-1]], byID[asc[i]]
		switch {
		case a.LastActive != nil && b.LastActive == nil:
			e.Fatalf("reference order: an active user before a never-active one")
		case a.LastActive == nil && b.LastActive == nil && a.ID > b.ID,
			a.LastActive != nil && b.LastActive != nil && (a.LastActive.After(*b.LastActive) ||
				a.LastActive.Equal(*b.LastActive) && a.ID > b.ID):
			e.Fatalf("reference order: %s before %s", a.UserName, b.UserName)
		}
	}
	// A first page as long as the active users: ascending, it starts with
	// every never-active user; descending (most recent first, as the
	// console lists them), it holds the active users alone.
	never := 0
	for _, u := range users {
		if u.LastActive == nil {
			never++
		}
	}
	if never == 0 || never == len(users) {
		e.Fatalf("fixture: %d of %d users never active", never, len(users))
	}
	for _, desc := range []bool{false, true} {
		p, err := list(store.Query{SortBy: store.SortLastActive, Descending: desc, Limit: len(users) - never})
		if err != nil {
			e.Fatalf("first page by last activity (descending %v): %v", desc, err)
		}
		for i, u := range p.Users {
			if first := !desc && i < never; (u.LastActive == nil) != first {
				e.Errorf("first page by last activity (descending %v): %s (LastActive %v) at %d",
					desc, u.UserName, u.LastActive, i)
			}
		}
	}
	for _, desc := range []bool{false, true} {
		want := refOrder(ids, key, desc)
		q := store.Query{SortBy: store.SortLastActive, Descending: desc}
		what := fmt.Sprintf("users by last activity (descending %v)", desc)
		e.checkKeysetWalks(what, q, want, names, list)
		for _, exact := range []bool{false, true} { // CaseExact means nothing for a time
			q.CaseExact, q.Limit = exact, 100
			p, err := list(q)
			if err != nil || !slices.Equal(userIDs(p.Users), want) {
				e.Errorf("%s, caseExact %v: %s, %v", what, exact, names(userIDs(p.Users)), err)
				continue
			}
			for i, k := range p.Keys {
				// A never-active user's key is store.NeverActive.
				u := byID[p.Users[i].ID]
				if t, ok := k.Key.(time.Time); !ok || !t.Equal(lastActiveKey(u)) || t.Location() != time.UTC {
					e.Errorf("%s: Keys[%d] = %#v, want %v", what, i, k.Key, lastActiveKey(u))
				}
				if got := p.Users[i].LastActive; (got == nil) != (u.LastActive == nil) {
					e.Errorf("%s: %s has LastActive %v, want %v", what, u.UserName, got, u.LastActive)
				}
			}
		}
		// Offset pages of 3, and a page of 3 after each user's position
		// holds the 3 users after it.
		got := pageAll(e, what+" by offset", len(ids), 3, func(q store.Query) ([]store.User, int, error) {
			p, err := list(q)
			return p.Users, p.Total, err
		}, store.Query{SortBy: store.SortLastActive, Descending: desc})
		if !slices.Equal(userIDs(got), want) {
			e.Errorf("%s by offset: %s, want %s", what, names(userIDs(got)), names(want))
		}
		for i, id := range want {
			u := byID[id]
			pos := store.Position{Key: lastActiveKey(u), ID: id}
			p, err := list(store.Query{SortBy: store.SortLastActive, Descending: desc, After: &pos, Limit: 3})
			if end := min(i+4, len(want)); err != nil || !slices.Equal(userIDs(p.Users), want[i+1:end]) {
				e.Errorf("%s after %s: %s, %v; want %s", what, u.UserName, names(userIDs(p.Users)), err, names(want[i+1:end]))
			}
		}
	}
	// A filter, and tombstones, sort the same way.
	active := store.Query{SortBy: store.SortLastActive, Filter: cmpF("userName", store.OpSw, "user1"), Limit: 100}
	p, err := list(active)
	var want []string
	for _, id := range asc {
		if strings.HasPrefix(byID[id].UserName, "user1") {
			want = append(want, id)
		}
	}
	if err != nil || !slices.Equal(userIDs(p.Users), want) {
		e.Errorf("filtered users by last activity: %s, %v; want %s", names(userIDs(p.Users)), err, names(want))
	}
	if p, err := list(store.Query{SortBy: store.SortLastActive, Deleted: true, Limit: 10}); err != nil || len(p.Users) != 1 ||
		p.Users[0].LastActive == nil || !p.Users[0].LastActive.Equal(t0) {
		e.Errorf("tombstones by last activity = %+v, %v", p, err)
	}
	// Only users have it; a position of another type does not fit.
	_, err = e.s.ListGroups(e.ctx, tn.ID, store.Query{SortBy: store.SortLastActive, Limit: 10})
	wantErr(e.T, "groups by last activity", err, store.ErrUnsupported)
	_, err = list(store.Query{SortBy: store.SortLastActive, After: &store.Position{Key: "x", ID: ids[0]}, Limit: 10})
	wantErr(e.T, "a position with a string key", err, store.ErrUnsupported)
	_, err = list(store.Query{SortBy: "scimd:lastactive", Limit: 10})
	wantErr(e.T, "another spelling", err, store.ErrUnsupported)
}

// testStatusByDisplayName lists live users by status (active eq true or
// false, as the console filters them, alone and inside Not, And and Or)
// sorted by displayName both ways, by keyset walks: the backends answer
// these by the users' state.
func testStatusByDisplayName(e *env) {
	tn := e.tenant("a")
	var users []store.User
	for i, display := range []string{"Zoë", "", "alice", "Bob", "", "carol", "Dave", "erin", "alice", ""} {
		users = append(users, e.user(tn.ID, fmt.Sprintf("user%02d", i), func(u *store.User) {
			u.DisplayName = display
			if i%3 == 1 {
				u.Active, u.State = false, store.StateInactive
			}
		}))
	}
	// A tombstone (inactive, in the state deleted) and another tenant's
	// inactive user: never listed.
	dead := e.user(tn.ID, "dead", func(u *store.User) { u.DisplayName = "a" })
	e.deleteUser(tn.ID, dead.ID)
	e.user(e.tenant("b").ID, "other", func(u *store.User) { u.Active, u.State = false, store.StateInactive })

	byID, names := indexUsers(users)
	list := func(q store.Query) (store.UserPage, error) { return e.s.ListUsers(e.ctx, tn.ID, q) }
	active := func(v bool) store.Filter { return cmpF("active", store.OpEq, v) }
	for _, c := range []struct {
		what   string
		f      store.Filter
		active bool
	}{
		{"active", active(true), true},
		{"inactive", active(false), false},
		{"active ne false", cmpF("active", store.OpNe, false), true},
		{"not active", not(active(true)), false},
		{"inactive, with a name", store.And{active(false), present("displayName")}, false},
		{"active or nothing", store.Or{active(true), cmpF("userName", store.OpEq, "nobody")}, true},
	} {
		var ids []string
		for _, u := range users {
			if u.Active == c.active && (c.what != "inactive, with a name" || u.DisplayName != "") {
				ids = append(ids, u.ID)
			}
		}
		for _, desc := range []bool{false, true} {
			want := refOrder(ids, func(i int) sortKey { return strKey(byID[ids[i]].DisplayName, false) }, desc)
			q := store.Query{Filter: c.f, SortBy: "displayName", Descending: desc}
			e.checkKeysetWalks(fmt.Sprintf("%s users by displayName (descending %v)", c.what, desc), q, want, names, list)
		}
	}
}

func testNoTotal(e *env) {
	tn, users := e.lastActiveFixture(12)
	g1 := e.group(tn.ID, "one")
	e.group(tn.ID, "two")
	e.group(tn.ID, "three")
	f := store.Or{cmpF("userName", store.OpSw, "user0"), emails(cmpF("emails.value", store.OpEq, "nobody@example.com"))}
	after := &store.Position{Key: lastActiveKey(users[3]), ID: users[3].ID}
	queries := []store.Query{
		{Limit: 5},
		{Limit: 5, Offset: 3},
		{Limit: 5, Offset: 40}, // past the end
		{Filter: f, Limit: 4},
		{Filter: f, Limit: 20},
		{Filter: f, Limit: 4, Offset: 4},
		{Filter: f, Limit: 4, Offset: 40},
		{Filter: cmpF("userName", store.OpEq, "nobody"), Limit: 4, Offset: 4},
		{Filter: f, Limit: 0},
		{Filter: f, Limit: 0, Edges: true, After: after, SortBy: store.SortLastActive},
		{Filter: f, Limit: 3, After: after, SortBy: store.SortLastActive, Edges: true},
		{Filter: f, Limit: 3, Before: after, SortBy: store.SortLastActive, Descending: true, Edges: true},
		{Limit: 3, After: after, SortBy: store.SortLastActive, Offset: 2},
		{Deleted: true, Limit: 3},
		{Deleted: true, Limit: 3, Offset: 1, Edges: true},
	}
	listUsers := func(q store.Query) (store.UserPage, error) { return e.s.ListUsers(e.ctx, tn.ID, q) }
	for _, q := range queries {
		checkNoTotal(e, fmt.Sprintf("users %+v", q), q, listUsers, func(p *store.UserPage) *int { return &p.Total })
	}
	listGroups := func(q store.Query) (store.GroupPage, error) { return e.s.ListGroups(e.ctx, tn.ID, q) }
	for _, q := range []store.Query{
		{Limit: 2},
		{Limit: 2, Offset: 1, Edges: true},
		{Filter: cmpF("displayName", store.OpSw, "t"), Limit: 1},
		{Filter: cmpF("displayName", store.OpSw, "t"), Limit: 1, Offset: 5},
		{Filter: cmpF("displayName", store.OpSw, "t"), Limit: 1, After: &store.Position{ID: g1.ID}},
		{Limit: 0},
	} {
		checkNoTotal(e, fmt.Sprintf("groups %+v", q), q, listGroups, func(p *store.GroupPage) *int { return &p.Total })
	}
}

// checkNoTotal checks that q with Query.NoTotal lists the page q lists
// without it, but for its Total (reached through total), which is −1.
func checkNoTotal[P any](e *env, what string, q store.Query, list func(store.Query) (P, error), total func(*P) *int) {
	e.Helper()
	want, err := list(q)
	if err != nil {
		e.Errorf("%s: %v", what, err)
		return
	}
	q.NoTotal = true
	got, err := list(q)
	if err != nil {
		e.Errorf("%s, NoTotal: %v", what, err)
		return
	}
	if n := *total(&got); n != -1 {
		e.Errorf("%s, NoTotal: Total %d, want -1", what, n)
	}
	*total(&want) = -1
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		e.Errorf("%s, NoTotal: page differs (-without +with):\n%s", what, d)
	}
}

func testCountDeliveries(e *env) {
	ta, tb, tc := e.tenant("a"), e.tenant("b"), e.tenant("c")
	counts := func(what, tenantID string, want map[string]int) {
		e.Helper()
		got, err := e.s.CountDeliveries(e.ctx, tenantID)
		if err != nil {
			e.Errorf("%s: CountDeliveries: %v", what, err)
			return
		}
		if len(want) == 0 && len(got) == 0 {
			return
		}
		if d := cmp.Diff(want, got); d != "" {
			e.Errorf("%s: CountDeliveries (-want +got):\n%s", what, d)
		}
	}
	counts("no webhooks", ta.ID, nil)
	e.webhook(ta.ID, "http://127.0.0.1:1/one")
	e.webhook(ta.ID, "http://127.0.0.1:1/two")
	for i := range 3 {
		e.event(ta.ID, "user.created", newID(), at(time.Duration(i)*time.Second))
	}
	counts("three events, two webhooks", ta.ID, map[string]int{store.DeliveryPending: 6})
	claimed, err := e.s.ClaimDeliveries(e.ctx, at(time.Minute), time.Minute, 10)
	if err != nil || len(claimed) != 6 {
		e.Fatalf("ClaimDeliveries = %d, %v", len(claimed), err)
	}
	outcomes := []store.DeliveryOutcome{
		{At: at(time.Minute), Delivered: true, Status: 200},
		{At: at(time.Minute), Delivered: true, Status: 204},
		{At: at(time.Minute), Dead: true, Status: 500},
		{At: at(time.Minute), Status: 503, NextAttempt: at(time.Hour)},
	}
	for i, o := range outcomes {
		if err := e.s.FinishDelivery(e.ctx, claimed[i], o); err != nil {
			e.Fatalf("FinishDelivery: %v", err)
		}
	}
	// Two still claimed (pending), one retried later (pending).
	counts("after the outcomes", ta.ID, map[string]int{store.DeliveryPending: 3, store.DeliveryDelivered: 2, store.DeliveryDead: 1})
	e.webhook(tb.ID, "http://127.0.0.1:1/b")
	e.event(tb.ID, "user.deleted", newID(), t0)
	counts("tenant b", tb.ID, map[string]int{store.DeliveryPending: 1})
	counts("tenant a after b's event", ta.ID, map[string]int{store.DeliveryPending: 3, store.DeliveryDelivered: 2, store.DeliveryDead: 1})
	counts("tenant c", tc.ID, nil)
	counts("a malformed tenant id", "not-a-uuid", nil)
}
