package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
)

// This file checks the filter compiler against a reference evaluator written
// in Go: every operator on every attribute, under Not, And and Or, with
// absent values, case folding, LIKE metacharacters and byte order.

var allOps = []store.Op{store.OpEq, store.OpNe, store.OpCo, store.OpSw, store.OpEw,
	store.OpGt, store.OpGe, store.OpLt, store.OpLe, store.OpPr}

// refString evaluates a string comparison; present is false for an absent
// (empty) attribute.
func refString(v string, op store.Op, s string, caseExact bool) bool {
	present := v != ""
	if !caseExact {
		v, s = store.Fold(v), store.Fold(s)
	}
	switch op {
	case store.OpPr:
		return present
	case store.OpNe:
		return !present || v != s
	}
	if !present {
		return false
	}
	switch op {
	case store.OpEq:
		return v == s
	case store.OpCo:
		return strings.Contains(v, s)
	case store.OpSw:
		return strings.HasPrefix(v, s)
	case store.OpEw:
		return strings.HasSuffix(v, s)
	case store.OpGt:
		return v > s
	case store.OpGe:
		return v >= s
	case store.OpLt:
		return v < s
	case store.OpLe:
		return v <= s
	}
	panic("op " + op)
}

func refTime(v time.Time, op store.Op, s time.Time) bool {
	c := v.Compare(s)
	switch op {
	case store.OpPr:
		return true
	case store.OpEq:
		return c == 0
	case store.OpNe:
		return c != 0
	case store.OpGt:
		return c > 0
	case store.OpGe:
		return c >= 0
	case store.OpLt:
		return c < 0
	case store.OpLe:
		return c <= 0
	}
	panic("op " + op)
}

func refBool(v bool, op store.Op, s bool) bool {
	switch op {
	case store.OpPr:
		return true
	case store.OpEq:
		return v == s
	case store.OpNe:
		return v != s
	}
	panic("op " + op)
}

// refUser evaluates f on u; email is the value row in scope inside a value
// path.
func refUser(f store.Filter, u store.User, email *store.Email) bool {
	switch f := f.(type) {
	case store.And:
		for _, x := range f {
			if !refUser(x, u, email) {
				return false
			}
		}
		return true
	case store.Or:
		for _, x := range f {
			if refUser(x, u, email) {
				return true
			}
		}
		return false
	case store.Not:
		return !refUser(f.Term, u, email)
	case store.ValuePath:
		if f.Attr == "roles" { // one value, the role
			return u.Role != "" && refUser(f.Filter, u, nil)
		}
		for _, e := range u.Emails {
			if refUser(f.Filter, u, &e) {
				return true
			}
		}
		return false
	case store.Cmp:
		str := func(v string) bool {
			s, _ := f.Value.(string)
			return refString(v, f.Op, s, f.CaseExact)
		}
		switch f.Attr {
		case "id":
			return str(u.ID)
		case "userName":
			return str(u.UserName)
		case "externalId":
			return str(u.ExternalID)
		case "displayName":
			return str(u.DisplayName)
		case "name.givenName":
			return str(u.GivenName)
		case "name.familyName":
			return str(u.FamilyName)
		case "roles.value":
			return str(u.Role)
		case "active":
			b, _ := f.Value.(bool)
			return refBool(u.Active, f.Op, b)
		case "meta.created", "meta.lastModified":
			tv, _ := f.Value.(time.Time)
			v := u.Created
			if f.Attr == "meta.lastModified" {
				v = u.Modified
			}
			return refTime(v, f.Op, tv)
		case "emails.value":
			return str(email.Value)
		case "emails.type":
			return str(email.Type)
		case "emails.primary":
			b, _ := f.Value.(bool)
			return refBool(email.Primary, f.Op, b)
		}
	}
	panic(fmt.Sprintf("node %#v", f))
}

func email(v, typ string, primary bool) store.Email {
	return store.Email{Value: v, Type: typ, Primary: primary}
}

// filterFixture creates users covering absent values, case, LIKE
// metacharacters, non-ASCII text and byte order.
func filterFixture(t *testing.T, s store.Store, tid string) []store.User {
	specs := []func(*store.User){
		func(u *store.User) {
			u.UserName, u.DisplayName, u.GivenName, u.FamilyName = "Alice", "Alice Smith", "Alice", "Smith"
			u.ExternalID, u.Role = "ext-1", store.RoleOwner
			u.Emails = []store.Email{email("alice@example.com", "work", true), email("a@home.org", "home", false)}
		},
		func(u *store.User) {
			u.UserName, u.DisplayName, u.ExternalID, u.Role = "bob", "bob", "EXT-1", store.RoleAdmin
			u.Active, u.State = false, store.StateInactive // as every inactive live user
			u.Emails = []store.Email{email("BOB@Example.COM", "Work", false)}
		},
		func(u *store.User) {
			u.UserName, u.GivenName, u.FamilyName = "100%_sure\\x", "Zoë", "Ørsted"
			u.Role = store.RoleViewer
			u.Emails = []store.Email{email("", "work", false), email("p%q_r@x.io", "", true)}
		},
		func(u *store.User) { u.UserName, u.DisplayName, u.Role = "zed", "Zed", "" },
		func(u *store.User) {
			u.UserName, u.DisplayName, u.GivenName = "ÉCOLE", "école", "a_b"
			u.ExternalID = "ext-2"
		},
		func(u *store.User) { u.UserName, u.FamilyName, u.Role = "_under", "smith", store.RoleGuest },
	}
	var users []store.User
	for i, spec := range specs {
		i := i
		users = append(users, newUser(t, s, tid, "", func(u *store.User) {
			u.Created = t0.Add(time.Duration(i) * time.Second)
			u.Modified = t0.Add(time.Duration(len(specs)-i) * time.Microsecond)
			spec(u)
		}))
	}
	// A deleted user matches nothing, whatever the filter.
	d := newUser(t, s, tid, "deleted-alice", func(u *store.User) { u.DisplayName = "Alice Smith" })
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, tid, d.ID, t0, false) })
	return users
}

func userCmps(users []store.User) []store.Cmp {
	strs := []string{"alice", "Alice", "ALICE", "a", "z", "Z", "smith", "Smith", "ext-1", "EXT",
		"%", "_", "\\", "100%", "%_s", "o", "ö", "É", "é", "ole", "", "admin", "owner", "example.com", "work",
		"WORK", "x.io", "p%q", users[0].ID, users[0].ID[:8], toUpper(users[0].ID), users[len(users)-1].ID}
	times := []time.Time{t0, t0.Add(time.Second), t0.Add(2500 * time.Millisecond), t0.Add(3 * time.Microsecond),
		t0.Add(3*time.Microsecond + 500*time.Nanosecond), t0.Add(-time.Hour), t0.In(time.FixedZone("x", 3600))}
	var cmps []store.Cmp
	for _, attr := range []string{"id", "userName", "externalId", "displayName", "name.givenName",
		"name.familyName", "roles.value"} {
		for _, op := range allOps {
			if op == store.OpPr {
				cmps = append(cmps, store.Cmp{Attr: attr, Op: op}, store.Cmp{Attr: attr, Op: op, CaseExact: true})
				continue
			}
			for _, v := range strs {
				cmps = append(cmps, store.Cmp{Attr: attr, Op: op, Value: v, CaseExact: true})
				cmps = append(cmps, store.Cmp{Attr: attr, Op: op, Value: v})
			}
		}
	}
	for _, op := range []store.Op{store.OpEq, store.OpNe, store.OpPr} {
		cmps = append(cmps, store.Cmp{Attr: "active", Op: op, Value: true}, store.Cmp{Attr: "active", Op: op, Value: false})
	}
	for _, attr := range []string{"meta.created", "meta.lastModified"} {
		for _, op := range []store.Op{store.OpEq, store.OpNe, store.OpGt, store.OpGe, store.OpLt, store.OpLe, store.OpPr} {
			for _, v := range times {
				cmps = append(cmps, store.Cmp{Attr: attr, Op: op, Value: v})
			}
		}
	}
	return cmps
}

func emailCmps() []store.Cmp {
	var cmps []store.Cmp
	for _, attr := range []string{"emails.value", "emails.type"} {
		for _, op := range allOps {
			for _, v := range []string{"alice@example.com", "BOB@example.com", "example", "work", "Work", "%", "_", "p%q", "", "x.io", "a"} {
				cmps = append(cmps, store.Cmp{Attr: attr, Op: op, Value: v}, store.Cmp{Attr: attr, Op: op, Value: v, CaseExact: true})
			}
		}
	}
	for _, op := range []store.Op{store.OpEq, store.OpNe, store.OpPr} {
		cmps = append(cmps, store.Cmp{Attr: "emails.primary", Op: op, Value: true}, store.Cmp{Attr: "emails.primary", Op: op, Value: false})
	}
	return cmps
}

func ids(us []store.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	sort.Strings(out)
	return out
}

func TestFilterMatchesReference(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	users := filterFixture(t, s, tid)
	newUser(t, s, newTenant(t, s), "alice") // another tenant's rows never match

	check := func(f store.Filter) {
		t.Helper()
		var want []store.User
		for _, u := range users {
			if refUser(f, u, nil) {
				want = append(want, u)
			}
		}
		p, err := s.ListUsers(ctx, tid, store.Query{Filter: f, Limit: 100})
		if err != nil {
			t.Fatalf("%#v: %v", f, err)
		}
		if got, w := ids(p.Users), ids(want); !slices.Equal(got, w) || p.Total != len(want) {
			t.Errorf("filter %#v: got %d users (total %d), want %d", f, len(got), p.Total, len(w))
		}
	}
	n := 0
	cmps := userCmps(users)
	// roles.value is a sub-attribute of the multi-valued roles: it is
	// filtered on in a value path.
	wrap := func(c store.Cmp) store.Filter {
		if c.Attr == "roles.value" {
			return store.ValuePath{Attr: "roles", Filter: c}
		}
		return c
	}
	for i, cmp := range cmps {
		c := wrap(cmp)
		check(c)
		check(store.Not{Term: c})
		if cmp.Attr == "roles.value" {
			check(store.ValuePath{Attr: "roles", Filter: store.Not{Term: cmp}})
		}
		// Combinations with a neighbour, including absent-value terms under Not.
		d := wrap(cmps[(i*7+3)%len(cmps)])
		check(store.And{c, store.Not{Term: d}})
		check(store.Not{Term: store.Or{c, d}})
		n += 4
	}
	for i, c := range emailCmps() {
		check(store.ValuePath{Attr: "emails", Filter: c})
		check(store.Not{Term: store.ValuePath{Attr: "emails", Filter: c}})
		check(store.ValuePath{Attr: "emails", Filter: store.Not{Term: c}})
		// All inner terms are evaluated on the same email.
		other := store.Cmp{Attr: "emails.primary", Op: store.OpEq, Value: i%2 == 0}
		check(store.ValuePath{Attr: "emails", Filter: store.And{c, other}})
		check(store.ValuePath{Attr: "emails", Filter: store.Or{c, store.Not{Term: other}}})
		n += 5
	}
	check(store.And{})
	check(store.Or{})
	t.Logf("%d filters checked", n)
}

func TestGroupFilters(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	a := newUser(t, s, tid, "a")
	b := newUser(t, s, tid, "b")
	g1 := newGroup(t, s, tid, "Engineering")
	g2 := newGroup(t, s, tid, "eng_ops")
	g3 := newGroup(t, s, tid, "Sales")
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.AddMembers(ctx, tid, g1.ID, []string{a.ID, b.ID}); err != nil {
			return err
		}
		_, err := tx.AddMembers(ctx, tid, g2.ID, []string{b.ID})
		return err
	})
	member := func(op store.Op, v string) store.Filter {
		return store.ValuePath{Attr: "members", Filter: store.Cmp{Attr: "members.value", Op: op, Value: v, CaseExact: true}}
	}
	cases := []struct {
		f    store.Filter
		want []store.Group
	}{
		{member(store.OpEq, a.ID), []store.Group{g1}},
		{member(store.OpEq, b.ID), []store.Group{g1, g2}},
		{member(store.OpEq, "nope"), nil},
		{member(store.OpNe, a.ID), []store.Group{g1, g2}},
		{member(store.OpPr, ""), []store.Group{g1, g2}},
		{store.Not{Term: member(store.OpPr, "")}, []store.Group{g3}},
		{member(store.OpSw, b.ID[:10]), []store.Group{g1, g2}},
		{store.Cmp{Attr: "displayName", Op: store.OpSw, Value: "ENG"}, []store.Group{g1, g2}},
		{store.Cmp{Attr: "displayName", Op: store.OpSw, Value: "eng_"}, []store.Group{g2}},
		{store.Cmp{Attr: "displayName", Op: store.OpSw, Value: "eng_", CaseExact: true}, []store.Group{g2}},
		{store.Cmp{Attr: "displayName", Op: store.OpGt, Value: "Sales", CaseExact: true}, []store.Group{g2}},
		{store.Cmp{Attr: "externalId", Op: store.OpPr, CaseExact: true}, nil},
		{store.Cmp{Attr: "externalId", Op: store.OpNe, Value: "x", CaseExact: true}, []store.Group{g1, g2, g3}},
		{store.Cmp{Attr: "id", Op: store.OpEq, Value: g3.ID, CaseExact: true}, []store.Group{g3}},
		{store.Cmp{Attr: "meta.created", Op: store.OpGe, Value: t0}, []store.Group{g1, g2, g3}},
	}
	for _, c := range cases {
		p, err := s.ListGroups(ctx, tid, store.Query{Filter: c.f, Limit: 10})
		if err != nil {
			t.Fatalf("%#v: %v", c.f, err)
		}
		var got, want []string
		for _, g := range p.Groups {
			got = append(got, g.ID)
		}
		for _, g := range c.want {
			want = append(want, g.ID)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) || p.Total != len(want) {
			t.Errorf("%#v: got %v (total %d), want %v", c.f, got, p.Total, want)
		}
	}
}

func TestUnsupportedFilters(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	userBad := []store.Filter{
		store.Cmp{Attr: "nope", Op: store.OpEq, Value: "x"},
		store.Cmp{Attr: "password", Op: store.OpPr},
		store.Cmp{Attr: "userName", Op: "xx", Value: "x"},
		store.Cmp{Attr: "userName", Op: store.OpEq, Value: 3},
		store.Cmp{Attr: "userName", Op: store.OpEq, Value: nil},
		store.Cmp{Attr: "active", Op: store.OpEq, Value: "true"},
		store.Cmp{Attr: "active", Op: store.OpGt, Value: true},
		store.Cmp{Attr: "active", Op: store.OpCo, Value: true},
		store.Cmp{Attr: "meta.created", Op: store.OpEq, Value: "2025-01-01"},
		store.Cmp{Attr: "meta.created", Op: store.OpSw, Value: t0},
		store.Cmp{Attr: "roles.value", Op: store.OpEq, Value: "x"}, // only in a value path
		store.Cmp{Attr: "emails.value", Op: store.OpEq, Value: "x"},
		store.ValuePath{Attr: "members", Filter: store.Cmp{Attr: "members.value", Op: store.OpEq, Value: "x"}},
		store.ValuePath{Attr: "emails", Filter: store.Cmp{Attr: "userName", Op: store.OpEq, Value: "x"}},
		store.ValuePath{Attr: "emails", Filter: store.ValuePath{Attr: "emails", Filter: store.Cmp{Attr: "emails.value", Op: store.OpEq, Value: "x"}}},
		store.Not{},
		store.And{store.Cmp{Attr: "userName", Op: store.OpPr}, nil},
	}
	for _, f := range userBad {
		_, err := s.ListUsers(ctx, tid, store.Query{Filter: f, Limit: 1})
		var ue *store.UnsupportedError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrUnsupported) || ue.What == "" {
			t.Errorf("ListUsers(%#v): %v, want *store.UnsupportedError", f, err)
		}
	}
	for _, q := range []store.Query{{SortBy: "emails"}, {SortBy: "name"}, {SortBy: "password"}, {SortBy: "nope"}} {
		if _, err := s.ListUsers(ctx, tid, q); !errors.Is(err, store.ErrUnsupported) {
			t.Errorf("ListUsers sorted by %q: %v", q.SortBy, err)
		}
	}
	groupBad := []store.Filter{
		store.Cmp{Attr: "userName", Op: store.OpEq, Value: "x"},
		store.ValuePath{Attr: "emails", Filter: store.Cmp{Attr: "emails.value", Op: store.OpEq, Value: "x"}},
	}
	for _, f := range groupBad {
		if _, err := s.ListGroups(ctx, tid, store.Query{Filter: f, Limit: 1}); !errors.Is(err, store.ErrUnsupported) {
			t.Errorf("ListGroups(%#v): %v, want ErrUnsupported", f, err)
		}
	}
}

// TestSortAndPage compares every sort key in both directions with the order
// Go computes, page by page.
func TestSortAndPage(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	users := filterFixture(t, s, tid)
	// Ties: same family name key, same created.
	users = append(users, newUser(t, s, tid, "tie", func(u *store.User) { u.FamilyName = "SMITH"; u.Created = t0 }))

	type key = key2
	keyOf := map[string]func(store.User, bool) key{
		"":                func(u store.User, _ bool) key { return key{true, u.ID} },
		"id":              func(u store.User, _ bool) key { return key{true, u.ID} },
		"userName":        strKey(func(u store.User) string { return u.UserName }),
		"externalId":      strKey(func(u store.User) string { return u.ExternalID }),
		"displayName":     strKey(func(u store.User) string { return u.DisplayName }),
		"name.givenName":  strKey(func(u store.User) string { return u.GivenName }),
		"name.familyName": strKey(func(u store.User) string { return u.FamilyName }),
		"roles.value":     strKey(func(u store.User) string { return u.Role }),
		"active": func(u store.User, _ bool) key {
			return key{true, map[bool]string{false: "0", true: "1"}[u.Active]}
		},
		"meta.created":      func(u store.User, _ bool) key { return key{true, u.Created.UTC().Format(fixedNano)} },
		"meta.lastModified": func(u store.User, _ bool) key { return key{true, u.Modified.UTC().Format(fixedNano)} },
	}
	for attr, kf := range keyOf {
		for _, exact := range []bool{false, true} {
			if attr == "externalId" && !exact {
				continue
			}
			for _, desc := range []bool{false, true} {
				want := slices.Clone(users)
				sort.SliceStable(want, func(i, j int) bool {
					a, b := kf(want[i], exact), kf(want[j], exact)
					less := func(a, b key, ida, idb string) bool {
						if a.present != b.present {
							return a.present // absent last
						}
						if a.v != b.v {
							return a.v < b.v
						}
						return ida < idb
					}
					if desc {
						return less(b, a, want[j].ID, want[i].ID)
					}
					return less(a, b, want[i].ID, want[j].ID)
				})
				var got []store.User
				for off := 0; ; off += 3 {
					p, err := s.ListUsers(ctx, tid, store.Query{SortBy: attr, CaseExact: exact, Descending: desc, Offset: off, Limit: 3})
					if err != nil {
						t.Fatalf("sort %q: %v", attr, err)
					}
					if p.Total != len(users) {
						t.Fatalf("sort %q: total %d, want %d", attr, p.Total, len(users))
					}
					if len(p.Users) == 0 {
						break
					}
					got = append(got, p.Users...)
				}
				var g, w []string
				for _, u := range got {
					g = append(g, u.UserName)
				}
				for _, u := range want {
					w = append(w, u.UserName)
				}
				if !slices.Equal(g, w) {
					t.Errorf("sort %q exact=%v desc=%v:\n got %q\nwant %q", attr, exact, desc, g, w)
				}
			}
		}
	}
	// Limit 0 answers the total only: "Alice" is the one userName that
	// folds to a prefix "a" ("ÉCOLE" folds to "école").
	p, err := s.ListUsers(ctx, tid, store.Query{Limit: 0, Filter: store.Cmp{Attr: "userName", Op: store.OpSw, Value: "a"}})
	if err != nil || len(p.Users) != 0 || p.Total != 1 {
		t.Errorf("Limit 0: %d users, total %d, %v", len(p.Users), p.Total, err)
	}
	// An offset past the end still answers the total.
	p, err = s.ListUsers(ctx, tid, store.Query{Offset: 100, Limit: 10})
	if err != nil || len(p.Users) != 0 || p.Total != len(users) {
		t.Errorf("offset past end: %d users, total %d, %v", len(p.Users), p.Total, err)
	}
}

// fixedNano formats times with a fixed number of fractional digits, so that
// byte order is time order (time.RFC3339Nano drops trailing zeros, which
// puts ".12346Z" after ".123461Z").
const fixedNano = "2006-01-02T15:04:05.000000000Z07:00"

func strKey(get func(store.User) string) func(store.User, bool) key2 {
	return func(u store.User, exact bool) key2 {
		v := get(u)
		if !exact {
			v = store.Fold(v)
		}
		return key2{v != "", v}
	}
}

type key2 = struct {
	present bool
	v       string
}
