package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scimd/scimd/store"
)

// The batch contract (store/batch.go) is checked against the one-at-a-time
// methods it stands for: they are the oracle. BatchReader answers are
// compared with a loop of the single look-ups on the same directory;
// CreateUsers and AppendAll write into one tenant what CreateUser,
// AppendAudit and AppendEvent write into a twin tenant, and the two are
// read back and compared.

// batchRead is one BatchReader method and the single look-up it batches.
type batchRead struct {
	name   string
	batch  func(ctx context.Context, r store.Reader, tenantID string, values []string) (map[string]bool, error)
	single func(ctx context.Context, r store.Reader, tenantID, value string) (bool, error)
}

var batchReads = []batchRead{
	{
		"LiveUserNames",
		func(ctx context.Context, r store.Reader, tenantID string, vs []string) (map[string]bool, error) {
			return r.LiveUserNames(ctx, tenantID, vs)
		},
		func(ctx context.Context, r store.Reader, tenantID, v string) (bool, error) {
			_, err := r.GetUserByUserName(ctx, tenantID, v)
			if errors.Is(err, store.ErrNotFound) || (err == nil && v == "") {
				return false, nil // "" is never a conflict (PostgreSQL stores it as NULL)
			}
			return err == nil, err
		},
	},
	{
		"LiveEmails",
		func(ctx context.Context, r store.Reader, tenantID string, vs []string) (map[string]bool, error) {
			return r.LiveEmails(ctx, tenantID, vs)
		},
		func(ctx context.Context, r store.Reader, tenantID, v string) (bool, error) {
			return r.EmailTaken(ctx, tenantID, v, "")
		},
	},
	{
		"ReservedUserNames",
		func(ctx context.Context, r store.Reader, tenantID string, vs []string) (map[string]bool, error) {
			return r.ReservedUserNames(ctx, tenantID, vs)
		},
		func(ctx context.Context, r store.Reader, tenantID, v string) (bool, error) {
			return r.UserNameReserved(ctx, tenantID, v)
		},
	},
	{
		"RetainedEmails",
		func(ctx context.Context, r store.Reader, tenantID string, vs []string) (map[string]bool, error) {
			return r.RetainedEmails(ctx, tenantID, vs)
		},
		func(ctx context.Context, r store.Reader, tenantID, v string) (bool, error) {
			_, err := r.FindRetainedByEmail(ctx, tenantID, v)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		},
	},
}

// checkBatchReads compares every BatchReader method of r with its single
// look-up, value by value, for the tenant and values.
func (e *env) checkBatchReads(what string, r store.Reader, tenantID string, values []string) {
	e.Helper()
	for _, m := range batchReads {
		got, err := m.batch(e.ctx, r, tenantID, values)
		if err != nil {
			e.Errorf("%s: %s: %v", what, m.name, err)
			continue
		}
		if got == nil {
			e.Errorf("%s: %s returned a nil set", what, m.name)
		}
		want := map[string]bool{}
		for _, v := range values {
			ok, err := m.single(e.ctx, r, tenantID, v)
			if err != nil {
				e.Fatalf("%s: %s oracle(%q): %v", what, m.name, v, err)
			}
			if ok {
				want[store.Fold(v)] = true
			}
		}
		if w, g := sorted(keysOf(want)), sorted(keysOf(got)); !slices.Equal(w, g) || len(g) != len(got) {
			e.Errorf("%s: %s differs from the one-at-a-time answers:\nwant %q\ngot  %v", what, m.name, w, got)
		}
	}
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	return out
}

// testBatchReads: each BatchReader method answers what its single look-up
// answers for every value, in the store and inside a transaction (with its
// own writes), per tenant.
func testBatchReads(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	e.user(ta.ID, "Alice", withEmails("Alice@Example.com", "shared@x.example"))
	bob := e.user(ta.ID, "bob.Inactive", withEmails("Bob@X.example"), func(u *store.User) {
		u.Active, u.State = false, store.StateInactive // inactive users are live
	})
	e.user(ta.ID, "Ünïcode.Üser", withEmails("Ünïcode@Example.com"))
	retained := e.user(ta.ID, "Retained.Ghost", withEmails("Ghost@X.example", "shared@x.example"))
	e.deleteUserAt(ta.ID, retained.ID, at(time.Hour), false)
	erased := e.user(ta.ID, "Érased.Name", withEmails("erased@x.example"))
	e.deleteUserAt(ta.ID, erased.ID, at(time.Hour), true)
	// A name and an email held both by a tombstone and by a live user.
	phoenix := e.user(ta.ID, "Phoenix", withEmails("phoenix@x.example"))
	e.deleteUserAt(ta.ID, phoenix.ID, at(time.Hour), false)
	e.user(ta.ID, "PHOENIX", withEmails("Phoenix@X.example"))
	// Two retained tombstones with one email.
	for _, name := range []string{"old1", "old2"} {
		u := e.user(ta.ID, name, withEmails("dup@x.example"))
		e.deleteUserAt(ta.ID, u.ID, at(2*time.Hour), false)
	}
	// Another tenant's values: identical to some of a's, and its own.
	e.user(tb.ID, "Carol", withEmails("carol@b.example", "ALICE@example.com"))
	tbGhost := e.user(tb.ID, "tbGhost", withEmails("tbghost@b.example", "bob@x.example"))
	e.deleteUserAt(tb.ID, tbGhost.ID, at(time.Hour), false)
	tbErased := e.user(tb.ID, "tbErased", withEmails("tberased@b.example"))
	e.deleteUserAt(tb.ID, tbErased.ID, at(time.Hour), true)
	tbAlice := e.user(tb.ID, "alice.b")
	e.deleteUserAt(tb.ID, tbAlice.ID, at(time.Hour), true)

	values := []string{
		"Alice", "alice", "ALICE", "alice", "bob.inactive", "BOB.INACTIVE", "Ünïcode.Üser", "ünïcode.üser",
		"ÜNÏCODE.ÜSER", "unicode.user", "retained.ghost", "RETAINED.GHOST", "Érased.Name", "érased.name",
		"ÉRASED.NAME", "erased.name", store.ErasedKey("Érased.Name"), "phoenix", "Phoenix", "old1", "old2",
		"carol", "tbghost", "tberased", "alice.b", "nobody", "",
		"alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com", "shared@x.example", "bob@x.example",
		"Ünïcode@Example.com", "ünïcode@example.com", "ÜNÏCODE@EXAMPLE.COM", "unicode@example.com",
		"ghost@x.example", "GHOST@x.example", "erased@x.example", "phoenix@x.example", "dup@x.example",
		"carol@b.example", "tbghost@b.example", "tberased@b.example", "nobody@x.example", "shared@x.example",
	}
	// Every answer is true for some value somewhere: the fixture is not
	// trivially empty.
	for _, m := range batchReads {
		got, err := m.batch(e.ctx, e.s, ta.ID, values)
		if err != nil || len(got) == 0 {
			e.Errorf("%s(a) = %v, %v; want some keys", m.name, got, err)
		}
	}
	e.checkBatchReads("store, tenant a", e.s, ta.ID, values)
	e.checkBatchReads("store, tenant b", e.s, tb.ID, values)
	e.checkBatchReads("store, unknown tenant", e.s, newID(), values)
	// Each value alone, and a long list (beyond any small fixed limit).
	for _, v := range values {
		e.checkBatchReads(fmt.Sprintf("store, only %q", v), e.s, ta.ID, []string{v})
	}
	long := slices.Clone(values)
	for i := range 500 {
		long = append(long, fmt.Sprintf("Absent%03d@X.example", i))
	}
	e.checkBatchReads("store, 500 more absent values", e.s, ta.ID, long)
	for _, m := range batchReads {
		for _, c := range []struct {
			what, tenant string
			values       []string
		}{
			{"nil input", ta.ID, nil},
			{"empty input", ta.ID, []string{}},
			{"only empty strings", ta.ID, []string{"", ""}},
			{"malformed tenant id", "not-a-uuid", values},
			{"empty tenant id", "", values},
		} {
			got, err := m.batch(e.ctx, e.s, c.tenant, c.values)
			if err != nil || got == nil || len(got) != 0 {
				e.Errorf("%s(%s) = %v, %v; want an empty set", m.name, c.what, got, err)
			}
		}
	}

	// Inside a transaction: the batch reads see its writes as the single
	// ones do.
	sentinel := errors.New("rollback")
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		e.checkBatchReads("tx before writes", tx, ta.ID, values)
		fresh := store.User{TenantID: ta.ID, ID: newID(), UserName: "Fresh.Üser", Active: true, State: store.StateActive,
			Emails: []store.Email{{Value: "Fresh@X.example", Primary: true}}, Doc: json.RawMessage(`{}`), Created: t0, Modified: t0}
		if err := tx.CreateUser(ctx, &fresh); err != nil {
			return err
		}
		alice, err := tx.GetUserByUserName(ctx, ta.ID, "alice")
		if err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, ta.ID, alice.ID, at(3*time.Hour), false); err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, ta.ID, bob.ID, at(3*time.Hour), true); err != nil {
			return err
		}
		e.checkBatchReads("tx after writes", tx, ta.ID, append(slices.Clone(values), "fresh.üser", "FRESH@x.example"))
		return sentinel
	})
	if err != sentinel {
		e.Fatalf("Update = %v, want the sentinel", err)
	}
	e.checkBatchReads("store after the rollback", e.s, ta.ID, values)

	// The userName answers are exactly CreateUser's conflicts.
	live, err := e.s.LiveUserNames(e.ctx, ta.ID, values)
	if err != nil {
		e.Fatal(err)
	}
	for _, v := range values {
		u := store.User{TenantID: ta.ID, ID: newID(), UserName: v, Active: true, State: store.StateActive,
			Role: store.RoleMember, Doc: json.RawMessage(`{}`), Created: t0, Modified: t0}
		err := e.update(func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			return sentinel
		})
		var ce *store.ConflictError
		conflict := errors.As(err, &ce) && ce.Attr == "userName"
		if !conflict && err != sentinel {
			e.Fatalf("CreateUser(%q): %v", v, err)
		}
		if conflict != live[store.Fold(v)] {
			e.Errorf("CreateUser(%q) conflicts: %v; LiveUserNames says %v", v, conflict, live[store.Fold(v)])
		}
	}
}

// batchUsers returns n users of the tenant with varied data: every column
// set or empty, none, one or two emails, inactive ones, one owner, times
// in another zone (and one with nanoseconds). The data depends on i only,
// so two calls give twins (ids aside).
func batchUsers(tenantID string, n int) []store.User {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	out := make([]store.User, n)
	for i := range out {
		name := fmt.Sprintf("Batch.Üser%02d@Example.com", i)
		u := store.User{
			TenantID: tenantID, ID: newID(), UserName: name, Active: true, State: store.StateActive,
			Role:    store.RoleMember,
			Doc:     json.RawMessage(fmt.Sprintf(`{"userName": %s, "i": %d, "nested": {"x": [1, "ü", null]}}`, quote(name), i)),
			Created: at(time.Duration(i) * time.Microsecond).In(zone), Modified: at(time.Hour + time.Duration(i)*time.Second).In(zone),
		}
		switch {
		case i == 0:
			u.Role = store.RoleOwner
		case i%4 == 1:
			u.Role = store.RoleAdmin
		case i%7 == 3:
			u.Role = ""
		}
		if i%5 == 2 {
			u.Active, u.State = false, store.StateInactive
			u.DeactivatedAt = ptr(at(time.Duration(i) * time.Minute).In(zone))
		}
		if i%2 == 0 {
			u.ExternalID = fmt.Sprintf("ext-%02d", i)
		}
		if i%3 != 2 {
			u.DisplayName = fmt.Sprintf("Batch Üser %02d", i)
			u.GivenName, u.FamilyName = "Ünï", fmt.Sprintf("Family%02d", i)
		}
		if i%6 == 0 {
			u.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA" + fmt.Sprint(i)
		}
		switch i % 3 {
		case 0:
			u.Emails = []store.Email{
				{Value: fmt.Sprintf("U%02d@Work.example", i), Type: "work", Primary: true},
				{Value: fmt.Sprintf("u%02d@Home.example", i), Type: "Home"},
			}
		case 1:
			u.Emails = []store.Email{{Value: fmt.Sprintf("Only%02d@X.example", i)}}
		}
		if i == 5 {
			u.Emails = []store.Email{{Type: "other"}} // a value-less email
		}
		if i == 7 {
			u.Modified = u.Modified.Add(987 * time.Nanosecond) // below the stored precision
		}
		out[i] = u
	}
	return out
}

func userPtrs(us []store.User) []*store.User {
	out := make([]*store.User, len(us))
	for i := range us {
		out[i] = &us[i]
	}
	return out
}

// twinUser returns u as read from the twin tenant, renamed to tenantID and
// id, to compare with the other twin.
func twinUser(u store.User, tenantID, id string) store.User {
	u.TenantID, u.ID = tenantID, id
	return u
}

// testBatchCreateUsers: CreateUsers stores what CreateUser one by one
// stores, keeps the counts, and is all or nothing on conflicts.
func testBatchCreateUsers(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b") // a: batch; b: one by one
	for _, tn := range []store.Tenant{ta, tb} {
		e.user(tn.ID, "Taken.Name")
		tomb := e.user(tn.ID, "Tomb.Name")
		e.deleteUserAt(tn.ID, tomb.ID, at(time.Hour), false)
		gone := e.user(tn.ID, "Gone.Name")
		e.deleteUserAt(tn.ID, gone.ID, at(time.Hour), true)
	}
	const n = 50
	batch, single := batchUsers(ta.ID, n), batchUsers(tb.ID, n)
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateUsers(ctx, userPtrs(batch)); err != nil {
			return err
		}
		// The transaction reads its own batch.
		got, err := tx.GetUser(ctx, ta.ID, batch[3].ID)
		if err != nil {
			return fmt.Errorf("tx.GetUser: %w", err)
		}
		e.checkUser("tx.GetUser after CreateUsers", got, wantUser(batch[3]))
		names := make([]string, n)
		for i, u := range batch {
			names[i] = u.UserName
		}
		live, err := tx.LiveUserNames(ctx, ta.ID, names)
		if err != nil || len(live) != n {
			e.Errorf("tx.LiveUserNames after CreateUsers: %d of %d, %v", len(live), n, err)
		}
		return nil
	})
	e.must(func(ctx context.Context, tx store.Tx) error {
		for i := range single {
			if err := tx.CreateUser(ctx, &single[i]); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range batch {
		if batch[i].Version != 1 || single[i].Version != 1 {
			e.Errorf("user %d: Version %d after CreateUsers, %d after CreateUser; want 1", i, batch[i].Version, single[i].Version)
		}
		got := e.mustGetUser(ta.ID, batch[i].ID)
		e.checkUser(fmt.Sprintf("user %d against CreateUser's", i), got,
			twinUser(e.mustGetUser(tb.ID, single[i].ID), ta.ID, batch[i].ID))
		if i != 7 {
			e.checkUser(fmt.Sprintf("user %d as given", i), got, wantUser(batch[i]))
		}
		for _, name := range []string{strings.ToUpper(batch[i].UserName), strings.ToLower(batch[i].UserName)} {
			byName, err := e.s.GetUserByUserName(e.ctx, ta.ID, name)
			if err != nil || byName.ID != batch[i].ID {
				e.Errorf("GetUserByUserName(%q) = %s, %v; want %s", name, byName.ID, err, batch[i].ID)
			}
		}
	}
	// Counts, the counters' totals, the churn and the key columns (through
	// filters) agree with the twin's.
	for _, states := range [][]store.UserState{{store.StateActive}, {store.StateInactive}, {store.StateDeleted}} {
		if a, b := e.countUsers(ta.ID, states...), e.countUsers(tb.ID, states...); a != b {
			e.Errorf("CountUsers(%v): %d after CreateUsers, %d after CreateUser", states, a, b)
		}
	}
	if a, b := len(e.allUsers(ta.ID, nil)), len(e.allUsers(tb.ID, nil)); a != b || a != n+1 {
		e.Errorf("ListUsers: %d users after CreateUsers, %d after CreateUser; want %d", a, b, n+1)
	}
	cpA, errA := e.s.UserCheckpoints(e.ctx, ta.ID, 7)
	cpB, errB := e.s.UserCheckpoints(e.ctx, tb.ID, 7)
	if errA != nil || errB != nil || cpA.Churn != cpB.Churn || len(cpA.IDs) != len(cpB.IDs) {
		e.Errorf("UserCheckpoints: churn %d (%d ids), %v after CreateUsers; %d (%d ids), %v after CreateUser",
			cpA.Churn, len(cpA.IDs), errA, cpB.Churn, len(cpB.IDs), errB)
	}
	index := func(us []store.User) map[string]int {
		m := map[string]int{}
		for i, u := range us {
			m[u.ID] = i
		}
		return m
	}
	idxA, idxB := index(batch), index(single)
	for _, f := range []store.Filter{
		cmpF("userName", eq, "BATCH.ÜSER05@EXAMPLE.COM"),
		cmpF("userName", sw, "batch.üser1"),
		cmpF("displayName", eq, "batch üser 04"),
		cmpF("name.givenName", eq, "ÜNÏ"),
		cmpF("name.familyName", ew, "FAMILY10"),
		cmpF("externalId", eq, "ext-10"),
		cmpF("active", eq, false),
		emails(cmpF("emails.value", eq, "u03@work.EXAMPLE")),
		emails(cmpF("emails.value", co, "HOME.example")),
		emails(cmpF("emails.type", eq, "HOME")),
		emails(cmpF("emails.type", eq, "other")),
		emails(cmpF("emails.primary", eq, true)),
		emails(present("emails.value")),
		not(emails(present("emails.value"))),
		not(present("externalId")),
		not(present("name.givenName")),
		not(present("roles")),
	} {
		var got, want []int
		for _, u := range e.allUsers(ta.ID, f) {
			if i, ok := idxA[u.ID]; ok {
				got = append(got, i)
			}
		}
		for _, u := range e.allUsers(tb.ID, f) {
			if i, ok := idxB[u.ID]; ok {
				want = append(want, i)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || len(want) == 0 {
			e.Errorf("filter %s: users %v after CreateUsers, %v after CreateUser", format(f), got, want)
		}
	}
	var batchValues []string
	for _, u := range batch {
		batchValues = append(batchValues, u.UserName)
		for _, m := range u.Emails {
			batchValues = append(batchValues, m.Value)
		}
	}
	e.checkBatchReads("after CreateUsers", e.s, ta.ID, batchValues)

	// All or nothing: a conflict anywhere in the batch leaves none of it.
	count := e.countUsers(ta.ID, store.StateActive, store.StateInactive, store.StateDeleted)
	churn := cpA.Churn
	fresh := func(names ...string) []store.User {
		us := make([]store.User, len(names))
		for i, name := range names {
			us[i] = store.User{TenantID: ta.ID, ID: newID(), UserName: name, Active: true, State: store.StateActive,
				Role: store.RoleMember, Emails: []store.Email{{Value: name + "@x.example", Primary: true}},
				Doc: json.RawMessage(`{}`), Created: t0, Modified: t0}
		}
		return us
	}
	wantNone := func(what string, us []store.User) {
		e.Helper()
		for _, u := range us {
			if _, err := e.getUser(ta.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
				e.Errorf("%s: user %s exists after the failed batch (%v)", what, u.UserName, err)
			}
		}
		if c := e.countUsers(ta.ID, store.StateActive, store.StateInactive, store.StateDeleted); c != count {
			e.Errorf("%s: %d users after the failed batch, want %d", what, c, count)
		}
		if cp, err := e.s.UserCheckpoints(e.ctx, ta.ID, 7); err != nil || cp.Churn != churn {
			e.Errorf("%s: churn %d, %v after the failed batch, want %d", what, cp.Churn, err, churn)
		}
	}
	createUsers := func(us []store.User) error {
		return e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateUsers(ctx, userPtrs(us)) })
	}
	for _, c := range []struct {
		what string
		us   []store.User
		attr string
	}{
		{"a live userName", fresh("new.one", "new.two", "TAKEN.NAME", "new.three"), "userName"},
		{"a userName of the batch", fresh("new.one", "Dup.Name", "new.two", "DUP.NAME"), "userName"},
		{"a Unicode userName of the batch", fresh("Ünï.Dup", "ünï.dup"), "userName"},
		{"a second owner", func() []store.User {
			us := fresh("new.owner", "new.one")
			us[0].Role = store.RoleOwner
			return us
		}(), "roles"},
	} {
		err := createUsers(c.us)
		wantConflict(e.T, "CreateUsers("+c.what+")", err, c.attr)
		wantNone(c.what, c.us)
	}
	// Two owners in a batch of a tenant without one.
	tc := e.tenant("c")
	owners := fresh("owner.one", "member", "owner.two")
	for i := range owners {
		owners[i].TenantID = tc.ID
	}
	owners[0].Role, owners[2].Role = store.RoleOwner, store.RoleOwner
	wantConflict(e.T, "CreateUsers(two owners)", createUsers(owners), "roles")
	if c := e.countUsers(tc.ID, store.StateActive); c != 0 {
		e.Errorf("two owners: %d users exist after the failed batch", c)
	}
	// A taken id.
	dupID := fresh("new.one", "new.two")
	dupID[1].ID = batch[5].ID
	wantErr(e.T, "CreateUsers(taken id)", createUsers(dupID), store.ErrConflict)
	wantNone("a taken id", dupID[:1])
	// A batch the transaction rolls back.
	rolled := fresh("rolled.one", "rolled.two", "rolled.three")
	sentinel := errors.New("rollback")
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateUsers(ctx, userPtrs(rolled)); err != nil {
			return err
		}
		if n, err := tx.CountUsers(ctx, ta.ID, store.StateActive, store.StateInactive, store.StateDeleted); err != nil || n != count+3 {
			e.Errorf("tx.CountUsers after CreateUsers = %d, %v; want %d", n, err, count+3)
		}
		return sentinel
	})
	if err != sentinel {
		e.Fatalf("Update = %v, want the sentinel", err)
	}
	wantNone("rolled back", rolled)

	// Names only tombstones hold are free, as for CreateUser; an empty
	// batch writes nothing.
	free := fresh("tomb.name", "GONE.NAME")
	if err := createUsers(free); err != nil {
		e.Errorf("CreateUsers(names of tombstones): %v", err)
	}
	for _, u := range free {
		if got, err := e.getUser(ta.ID, u.ID); err != nil || got.Version != 1 {
			e.Errorf("CreateUsers(names of tombstones): %s: %+v, %v", u.UserName, got, err)
		}
	}
	if err := createUsers(nil); err != nil {
		e.Errorf("CreateUsers(nil): %v", err)
	}
}

// batchAudit returns the audit entries and events of the AppendAll test,
// for tenantID, about the user userID and the group groupID, by actor; the
// ids are made in the order of the slices, and twin calls give the same
// data (ids aside).
func batchAudit(tenantID, userID, groupID, actor string) ([]store.AuditEntry, []store.Event) {
	resourceID := userID
	entries := []store.AuditEntry{
		{ID: newID(), TenantID: tenantID, At: at(time.Second), Actor: actor, RequestID: "req-1", Client: "Okta SCIM/1.0",
			Operation: "user.create", ResourceType: "User", ResourceID: resourceID, Status: 201,
			Changed: []string{"userName", "emails", "name.givenName"}},
		{ID: newID(), TenantID: tenantID, At: at(time.Second), Actor: "cli", Operation: "user.create",
			ResourceType: "User", Status: 403, Rule: "consumer-domain"},
		{ID: newID(), TenantID: tenantID, At: at(2 * time.Second).In(time.FixedZone("X", -3600)), Actor: "console:" + resourceID,
			Operation: "user.patch", ResourceType: "User", ResourceID: resourceID, Status: 200, Changed: []string{}},
		{ID: newID(), TenantID: tenantID, At: at(-time.Minute), Status: 500},
	}
	events := []store.Event{
		{ID: newID(), TenantID: tenantID, At: at(3 * time.Second), Type: "user.created", ResourceType: "User",
			ResourceID: resourceID, Payload: json.RawMessage(`{"id": "` + resourceID + `", "userName": "Ünï", "n": [1, 2.5]}`)},
		{ID: newID(), TenantID: tenantID, At: at(time.Second), Type: "user.updated", ResourceType: "User",
			ResourceID: resourceID, Payload: json.RawMessage(`{}`)},
		{ID: newID(), TenantID: tenantID, At: at(-time.Hour), Type: "tenant.changed"},
		{ID: newID(), TenantID: tenantID, At: at(4 * time.Second), Type: "group.deleted", ResourceType: "Group",
			ResourceID: groupID, Payload: json.RawMessage(`{"id": "` + groupID + `"}`)},
	}
	return entries, events
}

// normDelivery makes a delivery of the twin tenant comparable: its ids
// mapped to the other twin's, its own id dropped.
func normDelivery(d store.Delivery, tenantID string, ids map[string]string) store.Delivery {
	d.ID, d.TenantID, d.Event.TenantID = "", tenantID, tenantID
	if id, ok := ids[d.WebhookID]; ok {
		d.WebhookID = id
	}
	if id, ok := ids[d.Event.ID]; ok {
		d.Event.ID = id
	}
	return d
}

// testBatchAppendAll: AppendAll writes what AppendAudit and AppendEvent
// one by one write (audit entries, events in the given order, a delivery
// per webhook of the event's tenant), after an entry AppendAudit held.
func testBatchAppendAll(e *env) {
	ta, tb, tc := e.tenant("a"), e.tenant("b"), e.tenant("c") // a: AppendAll; b: one by one
	twin := map[string]string{}                               // b's ids to a's
	for _, url := range []string{"http://127.0.0.1:1/one", "http://127.0.0.1:1/two"} {
		wa, wb := e.webhook(ta.ID, url), e.webhook(tb.ID, url)
		twin[wb.ID] = wa.ID
	}
	wc := e.webhook(tc.ID, "http://127.0.0.1:1/c")
	prior := e.event(ta.ID, "user.created", "prior", t0)
	twin[e.event(tb.ID, "user.created", "prior", t0).ID] = prior.ID

	rid := newID()
	held := store.AuditEntry{ID: newID(), TenantID: ta.ID, At: at(time.Millisecond), Actor: "cli", Operation: "tenant.update",
		ResourceType: "Tenant", ResourceID: ta.ID, Status: 200, Changed: []string{"policy"}}
	heldB := held
	heldB.ID, heldB.TenantID, heldB.ResourceID = newID(), tb.ID, tb.ID
	twin[heldB.ID] = held.ID
	gid, actor := newID(), newID()
	entries, events := batchAudit(ta.ID, rid, gid, actor)
	entriesB, eventsB := batchAudit(tb.ID, rid, gid, actor)
	for i := range entries {
		twin[entriesB[i].ID] = entries[i].ID
	}
	for i := range events {
		twin[eventsB[i].ID] = events[i].ID
	}
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.AppendAudit(ctx, &held); err != nil {
			return err
		}
		if err := tx.AppendAll(ctx, entries, events); err != nil {
			return err
		}
		// The transaction reads them all, the held entry included.
		got, err := tx.QueryAudit(ctx, store.AuditQuery{TenantID: ta.ID, Limit: 100})
		if err != nil {
			return err
		}
		if len(got) != len(entries)+1 {
			e.Errorf("tx.QueryAudit after AppendAll: %d entries, want %d", len(got), len(entries)+1)
		}
		return nil
	})
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.AppendAudit(ctx, &heldB); err != nil {
			return err
		}
		for i := range entriesB {
			if err := tx.AppendAudit(ctx, &entriesB[i]); err != nil {
				return err
			}
		}
		for i := range eventsB {
			if err := tx.AppendEvent(ctx, &eventsB[i]); err != nil {
				return err
			}
		}
		return nil
	})

	// The audit entries, newest first, as AppendAudit wrote the twin's.
	gotA, err := e.s.QueryAudit(e.ctx, store.AuditQuery{TenantID: ta.ID, Limit: 100})
	if err != nil {
		e.Fatal(err)
	}
	gotB, err := e.s.QueryAudit(e.ctx, store.AuditQuery{TenantID: tb.ID, Limit: 100})
	if err != nil {
		e.Fatal(err)
	}
	for i := range gotB {
		gotB[i].ID, gotB[i].TenantID = twin[gotB[i].ID], ta.ID
		if gotB[i].ResourceID == tb.ID {
			gotB[i].ResourceID = ta.ID
		}
	}
	if d := cmp.Diff(gotB, gotA); d != "" {
		e.Errorf("audit after AppendAll differs from AppendAudit's (-one by one +AppendAll):\n%s", d)
	}
	if len(gotA) != len(entries)+1 {
		e.Errorf("audit after AppendAll: %d entries, want %d", len(gotA), len(entries)+1)
	}
	for _, g := range gotA {
		checkUTC(e.T, "audit entry", g.At)
	}

	// The events, in the feed after the earlier one in the order given.
	feedA, _, err := e.feedWait(ta.ID, "", 100, 1+len(events))
	if err != nil {
		e.Fatal(err)
	}
	feedB, _, err := e.feedWait(tb.ID, "", 100, 1+len(events))
	if err != nil {
		e.Fatal(err)
	}
	wantIDs := append([]string{prior.ID}, ids(events)...)
	if fmt.Sprint(ids(feedA)) != fmt.Sprint(wantIDs) {
		e.Errorf("feed after AppendAll = %v, want %v", ids(feedA), wantIDs)
	}
	for i := range feedB {
		feedB[i].ID, feedB[i].TenantID = twin[feedB[i].ID], ta.ID
	}
	if d := cmp.Diff(feedB, feedA, cmpOpts...); d != "" {
		e.Errorf("feed after AppendAll differs from AppendEvent's (-one by one +AppendAll):\n%s", d)
	}

	// A pending delivery of every event for every webhook, as AppendEvent
	// made the twin's.
	delivA, err := e.s.ListDeliveries(e.ctx, ta.ID, "", 100)
	if err != nil {
		e.Fatal(err)
	}
	delivB, err := e.s.ListDeliveries(e.ctx, tb.ID, "", 100)
	if err != nil {
		e.Fatal(err)
	}
	if len(delivA) != 2*(len(events)+1) {
		e.Errorf("deliveries after AppendAll: %d, want %d", len(delivA), 2*(len(events)+1))
	}
	for _, d := range delivA {
		if d.ID == "" || d.State != store.DeliveryPending || !d.NextAttempt.Equal(d.Event.At) {
			e.Errorf("delivery after AppendAll = %+v", d)
		}
	}
	byEvent := func(ds []store.Delivery) {
		slices.SortStableFunc(ds, func(x, y store.Delivery) int {
			return strings.Compare(x.Event.ID+" "+x.URL, y.Event.ID+" "+y.URL)
		})
	}
	for i := range delivA {
		delivA[i] = normDelivery(delivA[i], ta.ID, nil)
	}
	for i := range delivB {
		delivB[i] = normDelivery(delivB[i], ta.ID, twin)
	}
	byEvent(delivA)
	byEvent(delivB)
	if d := cmp.Diff(delivB, delivA, cmpOpts...); d != "" {
		e.Errorf("deliveries after AppendAll differ from AppendEvent's (-one by one +AppendAll):\n%s", d)
	}
	// Newest event first, in the order given.
	newest, err := e.s.ListDeliveries(e.ctx, ta.ID, store.DeliveryPending, 1)
	if err != nil || len(newest) != 1 || newest[0].Event.ID != events[len(events)-1].ID {
		e.Errorf("newest delivery after AppendAll = %v, %v; want one of %s", eventIDs(newest), err, events[len(events)-1].ID)
	}

	// Events of several tenants in one call, and entries alone: each event
	// goes to its own tenant's webhooks.
	mixed := []store.Event{
		{ID: newID(), TenantID: ta.ID, At: at(time.Hour), Type: "user.deleted", ResourceType: "User", ResourceID: rid},
		{ID: newID(), TenantID: tc.ID, At: at(time.Hour), Type: "user.created", ResourceType: "User", ResourceID: newID()},
		{ID: newID(), TenantID: ta.ID, At: at(time.Hour), Type: "user.created", ResourceType: "User", ResourceID: newID()},
	}
	alone := []store.AuditEntry{{ID: newID(), TenantID: tc.ID, At: at(time.Hour), Operation: "user.create", Status: 201}}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.AppendAll(ctx, nil, mixed) })
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.AppendAll(ctx, alone, nil) })
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.AppendAll(ctx, nil, nil) })
	feedA, _, err = e.feedWait(ta.ID, "", 100, len(wantIDs)+2)
	if want := append(slices.Clone(wantIDs), mixed[0].ID, mixed[2].ID); err != nil || fmt.Sprint(ids(feedA)) != fmt.Sprint(want) {
		e.Errorf("feed of a after the mixed AppendAll = %v, %v; want %v", ids(feedA), err, want)
	}
	if feedC, _, err := e.feedWait(tc.ID, "", 100, 1); err != nil || len(feedC) != 1 || feedC[0].ID != mixed[1].ID {
		e.Errorf("feed of c = %v, %v; want %s", ids(feedC), err, mixed[1].ID)
	}
	if dc, err := e.s.ListDeliveries(e.ctx, tc.ID, "", 100); err != nil || len(dc) != 1 || dc[0].WebhookID != wc.ID || dc[0].Event.ID != mixed[1].ID {
		e.Errorf("deliveries of c = %+v, %v; want one of %s to its webhook", dc, err, mixed[1].ID)
	}
	if da, err := e.s.ListDeliveries(e.ctx, ta.ID, "", 100); err != nil || len(da) != 2*(len(events)+3) {
		e.Errorf("deliveries of a after the mixed AppendAll: %d, %v; want %d", len(da), err, 2*(len(events)+3))
	}
	if got, err := e.s.QueryAudit(e.ctx, store.AuditQuery{TenantID: tc.ID, Limit: 10}); err != nil || len(got) != 1 || got[0].ID != alone[0].ID {
		e.Errorf("audit of c = %v, %v", auditIDs(got), err)
	}

	// A taken id fails the whole call; so does a rollback.
	count := func() (int, int, int) {
		e.Helper()
		au, err1 := e.s.QueryAudit(e.ctx, store.AuditQuery{TenantID: ta.ID, Limit: 1000})
		ev, _, err2 := e.s.EventFeed(e.ctx, ta.ID, "", 1000)
		de, err3 := e.s.ListDeliveries(e.ctx, ta.ID, "", 1000)
		if err := errors.Join(err1, err2, err3); err != nil {
			e.Fatal(err)
		}
		return len(au), len(ev), len(de)
	}
	a0, e0, d0 := count()
	sentinel := errors.New("rollback")
	for _, c := range []struct {
		what string
		fn   func(ctx context.Context, tx store.Tx) error
		want error
	}{
		{"a taken audit id", func(ctx context.Context, tx store.Tx) error {
			fe, fv := batchAudit(ta.ID, rid, gid, actor)
			fe[2].ID = entries[0].ID
			return tx.AppendAll(ctx, fe, fv)
		}, store.ErrConflict},
		{"a taken event id", func(ctx context.Context, tx store.Tx) error {
			fe, fv := batchAudit(ta.ID, rid, gid, actor)
			fv[1].ID = events[3].ID
			return tx.AppendAll(ctx, fe, fv)
		}, store.ErrConflict},
		{"an audit id twice", func(ctx context.Context, tx store.Tx) error {
			fe, fv := batchAudit(ta.ID, rid, gid, actor)
			fe[1].ID = fe[0].ID
			return tx.AppendAll(ctx, fe, fv)
		}, store.ErrConflict},
		{"a rollback", func(ctx context.Context, tx store.Tx) error {
			fe, fv := batchAudit(ta.ID, rid, gid, actor)
			if err := tx.AppendAll(ctx, fe, fv); err != nil {
				return err
			}
			return sentinel
		}, sentinel},
	} {
		err := e.update(c.fn)
		wantErr(e.T, "AppendAll("+c.what+")", err, c.want)
		if a, ev, d := count(); a != a0 || ev != e0 || d != d0 {
			e.Errorf("after AppendAll(%s): %d entries, %d events, %d deliveries; want %d, %d, %d", c.what, a, ev, d, a0, e0, d0)
		}
	}
}
