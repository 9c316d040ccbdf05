package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// Filter constructors: cmpF compares case-insensitively (CaseExact false),
// cmpX exactly.
func cmpF(attr string, op store.Op, v any) store.Cmp {
	return store.Cmp{Attr: attr, Op: op, Value: v}
}

func cmpX(attr string, op store.Op, v any) store.Cmp {
	return store.Cmp{Attr: attr, Op: op, Value: v, CaseExact: true}
}

func present(attr string) store.Cmp { return store.Cmp{Attr: attr, Op: store.OpPr} }

func not(f store.Filter) store.Filter { return store.Not{Term: f} }

func emails(f store.Filter) store.Filter { return store.ValuePath{Attr: "emails", Filter: f} }

func members(f store.Filter) store.Filter { return store.ValuePath{Attr: "members", Filter: f} }

func roles(f store.Filter) store.Filter { return store.ValuePath{Attr: "roles", Filter: f} }

// Short names of the operators.
const (
	eq = store.OpEq
	ne = store.OpNe
	co = store.OpCo
	sw = store.OpSw
	ew = store.OpEw
	gt = store.OpGt
	ge = store.OpGe
	lt = store.OpLt
	le = store.OpLe
)

// filterCase is one filter and the names of the resources it selects.
type filterCase struct {
	f    store.Filter
	want []string
}

// flexCase is a query a backend may decline with ErrUnsupported (the
// contract allows either); when it answers, it must select want.
type flexCase = filterCase

// filterUsers creates the users the filter tests run on, keyed by userName.
// Their ids (and so their default order) follow the order below.
func (e *env) filterUsers(tenantID string) map[string]store.User {
	specs := []func(u *store.User){
		func(u *store.User) {
			u.UserName, u.DisplayName, u.GivenName, u.FamilyName = "Alice", "Alice Smith", "Alice", "Smith"
			u.ExternalID, u.Role = "ext-1", store.RoleOwner
			u.Emails = []store.Email{{Value: "alice@Example.com", Type: "work", Primary: true}, {Value: "a@home.org", Type: "home"}}
		},
		func(u *store.User) {
			u.UserName, u.DisplayName, u.ExternalID, u.Role = "bob", "Bob", "EXT-1", store.RoleAdmin
			u.Active, u.State = false, store.StateInactive
			u.Emails = []store.Email{{Value: "BOB@example.COM", Type: "Work"}}
		},
		func(u *store.User) {
			u.UserName, u.GivenName, u.FamilyName = "carol_100%", "Zoë", "Ørsted"
			u.Emails = []store.Email{{Type: "work"}, {Value: "c%q_r@x.io", Primary: true}}
		},
		func(u *store.User) { u.UserName, u.DisplayName, u.ExternalID = "ÉCOLE", "école", "ext-2" },
		func(u *store.User) {
			u.UserName, u.FamilyName, u.Role = "erin", "smith", ""
			u.Emails = []store.Email{{Value: "erin@example.com", Type: "home"}}
		},
	}
	out := map[string]store.User{}
	for i, spec := range specs {
		u := e.user(tenantID, "", func(u *store.User) {
			u.Created = at(time.Duration(i) * time.Second)
			u.Modified = at(time.Hour + time.Duration(len(specs)-i)*time.Microsecond)
			spec(u)
		})
		out[u.UserName] = u
	}
	// A tombstone that would match almost every filter.
	dead := e.user(tenantID, "deleted-alice", func(u *store.User) {
		u.DisplayName, u.GivenName, u.FamilyName, u.ExternalID = "Alice Smith", "Alice", "Smith", "ext-1"
		u.Emails = []store.Email{{Value: "alice@example.com", Type: "work", Primary: true}}
	})
	e.deleteUser(tenantID, dead.ID)
	return out
}

// checkUserFilters runs every case against ListUsers of the tenant and
// compares the result, in id order, with the named users.
func (e *env) checkUserFilters(tenantID string, byName map[string]store.User, cases []filterCase, flex []flexCase) {
	e.Helper()
	names := map[string]string{}
	for n, u := range byName {
		names[u.ID] = n
	}
	label := func(us []store.User) []string {
		out := make([]string, len(us))
		for i, u := range us {
			if n, ok := names[u.ID]; ok {
				out[i] = n
			} else {
				out[i] = "?" + u.UserName
			}
		}
		return out
	}
	want := func(c filterCase) []string {
		var ids []string
		for _, n := range c.want {
			u, ok := byName[n]
			if !ok {
				e.Fatalf("filter case names unknown user %q", n)
			}
			ids = append(ids, u.ID)
		}
		return sorted(ids)
	}
	run := func(c filterCase, flexible bool) {
		e.Helper()
		p, err := e.s.ListUsers(e.ctx, tenantID, store.Query{Filter: c.f, Limit: 1000})
		if flexible && errors.Is(err, store.ErrUnsupported) {
			return
		}
		if err != nil {
			e.Errorf("ListUsers(%#v): %v", c.f, err)
			return
		}
		w := want(c)
		if got := userIDs(p.Users); !slices.Equal(got, w) || p.Total != len(w) {
			e.Errorf("ListUsers(%#v) = %q (total %d), want %q in id order", c.f, label(p.Users), p.Total, sorted(c.want))
		}
	}
	for _, c := range cases {
		run(c, false)
	}
	for _, c := range flex {
		run(c, true)
	}
}

func testUserFilters(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	us := e.filterUsers(ta.ID)
	e.filterUsers(tb.ID) // another tenant's twins never match
	alice, bob, carol, erin := us["Alice"], us["bob"], us["carol_100%"], us["erin"]
	const A, B, C, E, R = "Alice", "bob", "carol_100%", "ÉCOLE", "erin"
	all := []string{A, B, C, E, R}
	up := strings.ToUpper
	half := at(time.Second + 500*time.Nanosecond)
	zone := time.FixedZone("UTC-9:30", -(9*3600 + 1800))

	cases := []filterCase{
		// userName (never absent).
		{cmpF("userName", eq, "alice"), []string{A}},
		{cmpX("userName", eq, "alice"), nil},
		{cmpX("userName", eq, "Alice"), []string{A}},
		{cmpF("userName", eq, "école"), []string{E}},
		{cmpF("userName", eq, "ÉCOLE"), []string{E}},
		{cmpF("userName", eq, "ecole"), nil},
		{cmpF("userName", ne, "ALICE"), []string{B, C, E, R}},
		{cmpX("userName", ne, "alice"), all},
		{cmpF("userName", co, "LI"), []string{A}},
		{cmpX("userName", co, "LI"), nil},
		{cmpX("userName", co, "li"), []string{A}},
		{cmpF("userName", co, "r"), []string{C, R}},
		{cmpF("userName", co, ""), all},
		// LIKE and GLOB metacharacters match themselves.
		{cmpF("userName", co, "_"), []string{C}},
		{cmpF("userName", co, "%"), []string{C}},
		{cmpF("userName", co, "l_1"), []string{C}},
		{cmpF("userName", co, "l%"), nil},
		{cmpF("userName", co, "*"), nil},
		{cmpF("userName", co, "?"), nil},
		{cmpF("userName", co, "[a-z]"), nil},
		{cmpF("userName", co, `\`), nil},
		{cmpF("userName", sw, "CAROL_"), []string{C}},
		{cmpF("userName", ew, "100%"), []string{C}},
		{cmpF("userName", sw, "A"), []string{A}},
		{cmpX("userName", sw, "a"), nil},
		{cmpF("userName", sw, "É"), []string{E}},
		{cmpF("userName", ew, "E"), []string{A, E}},
		{cmpX("userName", ew, "E"), []string{E}},
		// Ordering comparisons are by byte order (of the folded value
		// unless caseExact).
		{cmpF("userName", gt, "bob"), []string{C, E, R}},
		{cmpF("userName", ge, "bob"), []string{B, C, E, R}},
		{cmpF("userName", lt, "bob"), []string{A}},
		{cmpX("userName", lt, "bob"), []string{A}},
		{cmpF("userName", le, "BOB"), []string{A, B}},
		{cmpX("userName", gt, "Z"), []string{B, C, E, R}},
		{cmpF("userName", gt, "Z"), []string{E}},
		{cmpX("userName", lt, "a"), []string{A}},
		{present("userName"), all},

		// displayName (absent for carol and erin).
		{cmpF("displayName", eq, "alice smith"), []string{A}},
		{cmpX("displayName", eq, "alice smith"), nil},
		{cmpX("displayName", eq, "Alice Smith"), []string{A}},
		{cmpF("displayName", ne, "bob"), []string{A, C, E, R}},
		{cmpX("displayName", ne, "bob"), all},
		{present("displayName"), []string{A, B, E}},
		{not(present("displayName")), []string{C, R}},
		{cmpF("displayName", co, "O"), []string{B, E}},
		{cmpX("displayName", sw, "B"), []string{B}},
		{cmpF("displayName", lt, "c"), []string{A, B}},
		{cmpF("displayName", ge, "c"), []string{E}},
		{cmpF("displayName", ew, "SMITH"), []string{A}},
		{cmpX("displayName", ew, "SMITH"), nil},
		{cmpF("displayName", eq, ""), nil},
		{cmpF("displayName", ne, ""), all},

		// name.givenName and name.familyName.
		{cmpF("name.givenName", eq, "ZOË"), []string{C}},
		{cmpX("name.givenName", eq, "zoë"), nil},
		{cmpF("name.givenName", co, "Ë"), []string{C}},
		{present("name.givenName"), []string{A, C}},
		{cmpF("name.givenName", ne, "alice"), []string{B, C, E, R}},
		{cmpF("name.givenName", lt, "b"), []string{A}},
		{cmpF("name.familyName", eq, "SMITH"), []string{A, R}},
		{cmpX("name.familyName", eq, "Smith"), []string{A}},
		{cmpF("name.familyName", ne, "smith"), []string{B, C, E}},
		{cmpF("name.familyName", gt, "s"), []string{A, C, R}},
		{cmpX("name.familyName", lt, "a"), []string{A}},
		{present("name.familyName"), []string{A, C, R}},

		// externalId is caseExact.
		{cmpX("externalId", eq, "ext-1"), []string{A}},
		{cmpX("externalId", ne, "ext-1"), []string{B, C, E, R}},
		{cmpX("externalId", sw, "ext-"), []string{A, E}},
		{cmpX("externalId", co, "XT"), []string{B}},
		{cmpX("externalId", ew, "-2"), []string{E}},
		{present("externalId"), []string{A, B, E}},
		{not(present("externalId")), []string{C, R}},
		{cmpX("externalId", gt, "ext-1"), []string{E}},
		{cmpX("externalId", lt, "ext"), []string{B}},
		{cmpX("externalId", le, "ext-1"), []string{A, B}},
		{cmpX("externalId", ge, "f"), nil},

		// id: ids are lowercase UUIDv7, in creation order.
		{cmpX("id", eq, carol.ID), []string{C}},
		{cmpF("id", eq, up(carol.ID)), []string{C}},
		{cmpX("id", eq, up(carol.ID)), nil},
		{cmpX("id", eq, "not-a-uuid"), nil},
		{cmpX("id", ne, "not-a-uuid"), all},
		{cmpX("id", ne, carol.ID), []string{A, B, E, R}},
		{cmpX("id", gt, carol.ID), []string{E, R}},
		{cmpX("id", le, bob.ID), []string{A, B}},
		{cmpX("id", lt, alice.ID), nil},
		{cmpX("id", ge, alice.ID), all},
		{cmpX("id", sw, carol.ID[:35]), []string{C}},
		{cmpX("id", ew, erin.ID[30:]), []string{R}},
		{cmpF("id", co, up(erin.ID[24:])), []string{R}},
		{present("id"), all},

		// active.
		{cmpF("active", eq, true), []string{A, C, E, R}},
		{cmpF("active", eq, false), []string{B}},
		{cmpF("active", ne, true), []string{B}},
		{cmpF("active", ne, false), []string{A, C, E, R}},
		{present("active"), all},
		{not(cmpF("active", eq, false)), []string{A, C, E, R}},

		// roles.value (absent for erin): the one role is one value of
		// roles, so ne needs a role that differs.
		{roles(cmpF("roles.value", eq, "ADMIN")), []string{B}},
		{roles(cmpF("roles.value", ne, "member")), []string{A, B}},
		{not(roles(cmpF("roles.value", eq, "member"))), []string{A, B, R}},
		{roles(cmpF("roles.value", sw, "o")), []string{A}},
		{roles(present("roles.value")), []string{A, B, C, E}},
		{present("roles"), []string{A, B, C, E}},
		{roles(store.And{cmpF("roles.primary", eq, true), cmpX("roles.value", eq, "owner")}), []string{A}},
		{roles(present("roles.display")), nil},

		// meta.created (Alice +0s … erin +4s), compared as instants.
		{cmpF("meta.created", eq, t0), []string{A}},
		{cmpF("meta.created", eq, t0.In(zone)), []string{A}},
		{cmpF("meta.created", ne, at(time.Second)), []string{A, C, E, R}},
		{cmpF("meta.created", gt, at(2*time.Second)), []string{E, R}},
		{cmpF("meta.created", ge, at(2*time.Second).In(zone)), []string{C, E, R}},
		{cmpF("meta.created", lt, at(time.Second)), []string{A}},
		{cmpF("meta.created", le, at(time.Second)), []string{A, B}},
		// A value finer than the stored precision is still compared exactly.
		{cmpF("meta.created", eq, half), nil},
		{cmpF("meta.created", ne, half), all},
		{cmpF("meta.created", gt, half), []string{C, E, R}},
		{cmpF("meta.created", ge, half), []string{C, E, R}},
		{cmpF("meta.created", lt, half), []string{A, B}},
		{cmpF("meta.created", le, half), []string{A, B}},
		{present("meta.created"), all},
		// meta.lastModified (Alice +5µs … erin +1µs past t0+1h).
		{cmpF("meta.lastModified", eq, at(time.Hour+time.Microsecond)), []string{R}},
		{cmpF("meta.lastModified", gt, at(time.Hour+3*time.Microsecond)), []string{A, B}},
		{cmpF("meta.lastModified", le, at(time.Hour+3*time.Microsecond)), []string{C, E, R}},
		{cmpF("meta.lastModified", lt, at(time.Hour+2*time.Microsecond+time.Nanosecond)), []string{E, R}},
		{cmpF("meta.lastModified", ge, at(time.Hour+2*time.Microsecond+time.Nanosecond)), []string{A, B, C}},

		// emails: every term of a value path is evaluated on one email.
		{emails(cmpF("emails.value", eq, "ALICE@example.com")), []string{A}},
		{emails(cmpX("emails.value", eq, "alice@example.com")), nil},
		{emails(cmpX("emails.value", eq, "BOB@example.COM")), []string{B}},
		{emails(cmpF("emails.value", co, "example.com")), []string{A, B, R}},
		{emails(cmpX("emails.value", co, "example.com")), []string{R}},
		{emails(cmpF("emails.value", ew, ".IO")), []string{C}},
		{emails(cmpF("emails.value", co, "%q_")), []string{C}},
		{emails(cmpF("emails.value", co, "q%")), nil},
		{emails(cmpF("emails.value", sw, "a")), []string{A}},
		{emails(present("emails.value")), []string{A, B, C, R}},
		{not(emails(present("emails.value"))), []string{E}},
		{emails(present("emails.type")), []string{A, B, C, R}},
		{emails(store.And{cmpF("emails.type", eq, "work"), present("emails.value")}), []string{A, B}},
		{emails(store.And{cmpX("emails.type", eq, "work"), present("emails.value")}), []string{A}},
		{emails(store.And{cmpF("emails.type", eq, "work"), cmpF("emails.value", co, "example")}), []string{A, B}},
		{emails(store.And{cmpF("emails.type", eq, "home"), cmpF("emails.value", co, "example")}), []string{R}},
		{store.And{emails(cmpF("emails.type", eq, "home")), emails(cmpF("emails.value", co, "example"))}, []string{A, R}},
		{emails(cmpF("emails.primary", eq, true)), []string{A, C}},
		{emails(store.And{cmpF("emails.primary", eq, true), cmpF("emails.type", eq, "work")}), []string{A}},
		{emails(cmpF("emails.primary", ne, true)), []string{A, B, C, R}},
		{not(emails(cmpF("emails.primary", eq, true))), []string{B, E, R}},
		{emails(cmpF("emails.value", ne, "alice@example.com")), []string{A, B, C, R}},
		{emails(not(present("emails.type"))), []string{C}},
		{emails(store.Or{cmpF("emails.type", eq, "home"), cmpF("emails.value", ew, ".io")}), []string{A, C, R}},
		{emails(cmpF("emails.type", gt, "w")), []string{A, B, C}},
		{emails(cmpX("emails.type", gt, "w")), []string{A, C}},

		// And, Or and Not; Not is plain negation, also of absent values.
		{store.And{cmpF("userName", sw, "a"), cmpF("active", eq, true)}, []string{A}},
		{store.And{cmpF("userName", sw, "b"), cmpF("active", eq, true)}, nil},
		{store.Or{cmpX("userName", eq, "bob"), cmpF("displayName", eq, "ÉCOLE")}, []string{B, E}},
		{not(store.Or{present("displayName"), present("externalId")}), []string{C, R}},
		{not(cmpF("displayName", eq, "Bob")), []string{A, C, E, R}},
		{not(cmpF("displayName", ne, "Bob")), []string{B}},
		{not(cmpF("displayName", gt, "a")), []string{C, R}},
		{store.And{}, all},
		{store.Or{}, nil},
		{not(store.And{}), nil},
		{not(store.Or{}), all},
		{store.And{store.Or{cmpF("userName", eq, "alice"), cmpF("userName", eq, "bob")}, not(cmpF("active", eq, false))}, []string{A}},
		{not(not(present("name.givenName"))), []string{A, C}},
		{store.Or{store.And{cmpF("name.familyName", eq, "smith"), present("name.givenName")}, emails(cmpF("emails.value", ew, ".io"))}, []string{A, C}},
		{not(store.And{present("name.familyName"), cmpF("name.familyName", ne, "smith")}), []string{A, B, E, R}},
		{store.And{not(cmpF("name.givenName", eq, "x")), not(cmpX("externalId", eq, "x"))}, all},
		{not(store.Or{cmpF("name.givenName", eq, "alice"), cmpX("externalId", eq, "ext-2")}), []string{B, C, R}},
		{not(store.And{cmpF("displayName", co, "o"), not(cmpF("active", eq, true))}), []string{A, C, E, R}},
	}
	// externalId is caseExact in SCIM; a case-insensitive comparison may be
	// declined, but if answered it must fold.
	flex := []flexCase{
		{cmpF("externalId", eq, "EXT-1"), []string{A, B}},
		{cmpF("externalId", ne, "ext-1"), []string{C, E, R}},
		{cmpF("externalId", co, "xT"), []string{A, B, E}},
	}
	e.checkUserFilters(ta.ID, us, cases, flex)

	// Lists return whole users, emails included.
	got := e.allUsers(ta.ID, cmpF("userName", eq, "alice"))
	if len(got) == 1 {
		e.checkUser("ListUsers(userName eq alice)", got[0], wantUser(alice))
	}

	// Filters in a transaction see its writes.
	e.must(func(ctx context.Context, tx store.Tx) error {
		u := store.User{TenantID: ta.ID, ID: newID(), UserName: "Frank", Active: true, State: store.StateActive,
			Emails: []store.Email{{Value: "frank@example.com", Type: "work"}}, Created: t0, Modified: t0}
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		p, err := tx.ListUsers(ctx, ta.ID, store.Query{Filter: store.Or{cmpF("userName", eq, "FRANK"), emails(cmpF("emails.value", eq, "erin@example.com"))}, Limit: 10})
		if err != nil {
			return err
		}
		if p.Total != 2 || len(p.Users) != 2 || p.Users[0].ID != erin.ID || p.Users[1].ID != u.ID {
			e.Errorf("tx.ListUsers = %v (total %d), want [erin Frank]", userIDs(p.Users), p.Total)
		}
		return nil
	})
}

func testGroupFilters(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	a, b, c, d := e.user(ta.ID, "a"), e.user(ta.ID, "b"), e.user(ta.ID, "c"), e.user(ta.ID, "d")
	specs := []struct {
		name, ext string
		mod       time.Duration
	}{
		{"Engineering", "e-1", 3}, {"eng_ops", "", 2}, {"Sales", "S-1", 1}, {"ÉQUIPE", "", 1},
	}
	gs := map[string]store.Group{}
	for i, sp := range specs {
		g := e.group(ta.ID, sp.name, func(g *store.Group) {
			g.ExternalID = sp.ext
			g.Created = at(time.Duration(i) * time.Second)
			g.Modified = at(time.Hour + sp.mod*time.Microsecond)
		})
		gs[sp.name] = g
	}
	const G1, G2, G3, G4 = "Engineering", "eng_ops", "Sales", "ÉQUIPE"
	all := []string{G1, G2, G3, G4}
	e.addMembers(ta.ID, gs[G1].ID, a.ID, b.ID)
	e.addMembers(ta.ID, gs[G2].ID, b.ID)
	e.addMembers(ta.ID, gs[G4].ID, c.ID, d.ID)
	e.deleteUser(ta.ID, d.ID)
	// A deleted group and another tenant's twins never match.
	dead := e.group(ta.ID, "Engineering 2", func(g *store.Group) { g.ExternalID = "e-1" })
	e.addMembers(ta.ID, dead.ID, a.ID)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, ta.ID, dead.ID) })
	ub := e.user(tb.ID, "a")
	for _, sp := range specs {
		g := e.group(tb.ID, sp.name, func(g *store.Group) { g.ExternalID = sp.ext })
		e.addMembers(tb.ID, g.ID, ub.ID)
	}
	up := strings.ToUpper
	mv := "members.value"

	cases := []filterCase{
		{cmpF("displayName", eq, "engineering"), []string{G1}},
		{cmpX("displayName", eq, "engineering"), nil},
		{cmpX("displayName", eq, "Engineering"), []string{G1}},
		{cmpF("displayName", eq, "équipe"), []string{G4}},
		{cmpF("displayName", sw, "ENG"), []string{G1, G2}},
		{cmpF("displayName", sw, "eng_"), []string{G2}},
		{cmpX("displayName", sw, "eng_"), []string{G2}},
		{cmpF("displayName", co, "_"), []string{G2}},
		{cmpF("displayName", co, "%"), nil},
		{cmpF("displayName", co, "*"), nil},
		{cmpX("displayName", gt, "Sales"), []string{G2, G4}},
		{cmpF("displayName", gt, "sales"), []string{G4}},
		{cmpF("displayName", lt, "f"), []string{G1, G2}},
		{cmpF("displayName", le, "eng_ops"), []string{G2}},
		{cmpF("displayName", ge, "eng_ops"), all},
		{cmpF("displayName", ne, "SALES"), []string{G1, G2, G4}},
		{cmpF("displayName", ew, "E"), []string{G4}},
		{cmpX("displayName", ew, "e"), nil},
		{present("displayName"), all},

		{cmpX("externalId", eq, "e-1"), []string{G1}},
		{present("externalId"), []string{G1, G3}},
		{cmpX("externalId", ne, "e-1"), []string{G2, G3, G4}},
		{cmpX("externalId", sw, "S"), []string{G3}},
		{cmpX("externalId", lt, "a"), []string{G3}},

		{cmpX("id", eq, gs[G3].ID), []string{G3}},
		{cmpF("id", eq, up(gs[G3].ID)), []string{G3}},
		{cmpX("id", eq, up(gs[G3].ID)), nil},
		{cmpX("id", ne, gs[G3].ID), []string{G1, G2, G4}},
		{cmpX("id", gt, gs[G2].ID), []string{G3, G4}},
		{cmpX("id", sw, gs[G4].ID[:35]), []string{G4}},
		{cmpX("id", eq, dead.ID), nil},
		{present("id"), all},

		{members(cmpX(mv, eq, a.ID)), []string{G1}},
		{members(cmpX(mv, eq, b.ID)), []string{G1, G2}},
		{members(cmpF(mv, eq, up(b.ID))), []string{G1, G2}},
		{members(cmpX(mv, eq, up(b.ID))), nil},
		{members(cmpX(mv, eq, "nope")), nil},
		{members(cmpX(mv, eq, d.ID)), nil},
		{members(cmpX(mv, eq, ub.ID)), nil},
		{members(cmpX(mv, ne, a.ID)), []string{G1, G2, G4}},
		{members(present(mv)), []string{G1, G2, G4}},
		{not(members(present(mv))), []string{G3}},
		{members(cmpX(mv, sw, b.ID[:35])), []string{G1, G2}},
		{members(store.Or{cmpX(mv, eq, a.ID), cmpX(mv, eq, c.ID)}), []string{G1, G4}},
		{members(store.And{cmpX(mv, eq, a.ID), cmpX(mv, eq, b.ID)}), nil},
		{store.And{members(cmpX(mv, eq, a.ID)), members(cmpX(mv, eq, b.ID))}, []string{G1}},
		{members(not(cmpX(mv, eq, b.ID))), []string{G1, G4}},

		{cmpF("meta.created", ge, at(2*time.Second)), []string{G3, G4}},
		{cmpF("meta.created", lt, at(time.Second)), []string{G1}},
		{cmpF("meta.created", eq, at(time.Second)), []string{G2}},
		{cmpF("meta.created", ge, at(time.Second+time.Nanosecond)), []string{G3, G4}},
		{cmpF("meta.lastModified", eq, at(time.Hour+time.Microsecond)), []string{G3, G4}},
		{cmpF("meta.lastModified", gt, at(time.Hour+time.Microsecond)), []string{G1, G2}},

		{store.And{cmpF("displayName", sw, "eng"), members(cmpX(mv, eq, a.ID))}, []string{G1}},
		{store.Or{present("externalId"), members(cmpX(mv, eq, c.ID))}, []string{G1, G3, G4}},
		{not(store.Or{present("externalId"), members(cmpX(mv, eq, c.ID))}), []string{G2}},
		{not(cmpX("externalId", eq, "e-1")), []string{G2, G3, G4}},
		{store.And{}, all},
		{store.Or{}, nil},
	}
	flex := []flexCase{
		{cmpF("externalId", eq, "E-1"), []string{G1}},
	}
	names := map[string]string{}
	for n, g := range gs {
		names[g.ID] = n
	}
	label := func(list []store.Group) []string {
		out := make([]string, len(list))
		for i, g := range list {
			out[i] = g.DisplayName
		}
		return out
	}
	run := func(c filterCase, flexible bool) {
		p, err := e.s.ListGroups(e.ctx, ta.ID, store.Query{Filter: c.f, Limit: 100})
		if flexible && errors.Is(err, store.ErrUnsupported) {
			return
		}
		if err != nil {
			e.Errorf("ListGroups(%#v): %v", c.f, err)
			return
		}
		var want []string
		for _, n := range c.want {
			want = append(want, gs[n].ID)
		}
		want = sorted(want)
		if got := groupIDs(p.Groups); !slices.Equal(got, want) || p.Total != len(want) {
			e.Errorf("ListGroups(%#v) = %q (total %d), want %q in id order", c.f, label(p.Groups), p.Total, c.want)
		}
	}
	for _, c := range cases {
		run(c, false)
	}
	for _, c := range flex {
		run(c, true)
	}
	// Whole groups come back.
	if got := e.allGroups(ta.ID, cmpF("displayName", eq, "SALES")); len(got) == 1 {
		e.checkGroup("ListGroups(displayName eq SALES)", got[0], wantGroup(gs[G3]))
	}
}

func testUnsupported(e *env) {
	tn := e.tenant("a")
	e.user(tn.ID, "u")
	e.group(tn.ID, "g")
	userBad := []store.Filter{
		cmpF("nope", eq, "x"),
		cmpF("name.nope", eq, "x"),
		cmpF("password", eq, "x"),
		present("password"),
		cmpF("name", eq, "x"),
		cmpF("emails", eq, "x"),
		cmpF("meta.location", eq, "x"), // no Base
		roles(cmpF("roles.value", eq, int64(1))),
		store.ValuePath{Attr: "name", Filter: present("name.givenName")},
		store.ValuePath{Attr: "userName", Filter: present("userName")},
		store.ValuePath{Attr: "groups", Filter: cmpF("groups.$ref", eq, "x")}, // no Base
		cmpF("nickName", gt, true),
		cmpF("emails.display", eq, "x"),
		store.ValuePath{Attr: "phoneNumbers", Filter: cmpF("phoneNumbers.primary", gt, true)},
		cmpF("userName", "xx", "x"),
		cmpF("userName", "", "x"),
		cmpF("userName", eq, int64(3)),
		cmpF("userName", eq, nil),
		cmpF("userName", eq, true),
		cmpF("active", eq, "true"),
		cmpF("active", gt, true),
		cmpF("active", co, true),
		cmpF("meta.created", eq, "2025-01-01T00:00:00Z"),
		cmpF("meta.created", sw, t0),
		cmpF("emails.value", eq, "x"), // only inside a value path
		cmpF("members.value", eq, "x"),
		emails(cmpF("userName", eq, "x")),
		emails(cmpF("emails.nope", eq, "x")),
		emails(emails(cmpF("emails.value", eq, "x"))),
		emails(cmpF("emails.primary", eq, "yes")),
		store.ValuePath{Attr: "emails"},
		store.ValuePath{Attr: "members", Filter: cmpX("members.value", eq, "x")},
		store.Not{},
		store.And{present("userName"), nil},
		store.Or{nil},
		store.Or{present("userName"), store.And{cmpF("nope", eq, "x")}},
	}
	groupBad := []store.Filter{
		cmpF("userName", eq, "x"),
		cmpF("active", eq, true),
		cmpF("displayName", eq, int64(1)),
		cmpF("members.value", eq, "x"),
		members(cmpF("displayName", eq, "x")),
		emails(cmpF("emails.value", eq, "x")),
		store.ValuePath{Attr: "members"},
		store.Not{Term: nil},
		members(cmpF("members.$ref", eq, "x")), // no Base
		cmpF("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", eq, "x"),
	}
	wantUnsupported := func(what string, err error) {
		e.Helper()
		var ue *store.UnsupportedError
		if !errors.Is(err, store.ErrUnsupported) || !errors.As(err, &ue) || ue.What == "" {
			e.Errorf("%s: error %v, want a *store.UnsupportedError", what, err)
		}
	}
	for _, f := range userBad {
		for _, limit := range []int{0, 10} {
			_, err := e.s.ListUsers(e.ctx, tn.ID, store.Query{Filter: f, Limit: limit})
			wantUnsupported(fmt.Sprintf("ListUsers(%#v, limit %d)", f, limit), err)
		}
	}
	for _, f := range groupBad {
		for _, limit := range []int{0, 10} {
			_, err := e.s.ListGroups(e.ctx, tn.ID, store.Query{Filter: f, Limit: limit})
			wantUnsupported(fmt.Sprintf("ListGroups(%#v, limit %d)", f, limit), err)
		}
	}
	for _, by := range []string{"emails", "members.value", "name", "password", "schemas", "nope", "phoneNumbers"} {
		_, err := e.s.ListUsers(e.ctx, tn.ID, store.Query{SortBy: by, Limit: 10})
		wantUnsupported("ListUsers sorted by "+by, err)
	}
	for _, by := range []string{"members", "userName", "active", "meta"} {
		_, err := e.s.ListGroups(e.ctx, tn.ID, store.Query{SortBy: by, Limit: 10})
		wantUnsupported("ListGroups sorted by "+by, err)
	}
	// Inside a transaction too; the error rolls it back and the store stays
	// usable.
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		_, err := tx.ListUsers(ctx, tn.ID, store.Query{Filter: cmpF("nope", eq, "x"), Limit: 1})
		return err
	})
	wantUnsupported("tx.ListUsers", err)
	if n := len(e.allUsers(tn.ID, nil)); n != 1 {
		e.Errorf("ListUsers after the errors: %d users, want 1", n)
	}
}

// sortKey is the reference sort key of one resource: whether the attribute
// is present, and a string whose byte order is the attribute's order.
type sortKey struct {
	present bool
	v       string
}

func strKey(v string, exact bool) sortKey {
	if !exact {
		v = store.Fold(v)
	}
	return sortKey{v != "", v}
}

func timeKey(t time.Time) sortKey {
	return sortKey{true, t.UTC().Format("2006-01-02T15:04:05.000000000")}
}

func boolKey(b bool) sortKey {
	if b {
		return sortKey{true, "1"}
	}
	return sortKey{true, "0"}
}

// refOrder returns ids ordered as Query documents: by key ascending,
// absent keys last, ties by id; descending is the exact reverse.
func refOrder(ids []string, key func(i int) sortKey, desc bool) []string {
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(x, y int) bool {
		a, b := key(idx[x]), key(idx[y])
		if a.present != b.present {
			return a.present
		}
		if a.v != b.v {
			return a.v < b.v
		}
		return ids[idx[x]] < ids[idx[y]]
	})
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = ids[j]
	}
	if desc {
		slices.Reverse(out)
	}
	return out
}

// pageAll reads every page of size n of a query and checks each page's
// Total.
func pageAll[T any](e *env, what string, total, n int, list func(q store.Query) ([]T, int, error), q store.Query) []T {
	e.Helper()
	var out []T
	for q.Offset = 0; q.Offset < total+n; q.Offset += n {
		q.Limit = n
		page, tot, err := list(q)
		if err != nil {
			e.Errorf("%s (offset %d): %v", what, q.Offset, err)
			return nil
		}
		if tot != total {
			e.Errorf("%s (offset %d): Total %d, want %d", what, q.Offset, tot, total)
		}
		if want := max(0, min(n, total-q.Offset)); len(page) != want {
			e.Errorf("%s (offset %d): %d rows, want %d", what, q.Offset, len(page), want)
		}
		out = append(out, page...)
	}
	return out
}

func testSortUsers(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	type spec struct {
		userName, display, given, family, ext, role string
		active                                      bool
		created, modified                           time.Duration
	}
	h := time.Hour
	specs := []spec{
		{"delta", "Zed", "", "smith", "x-2", store.RoleMember, true, 2 * time.Second, h},
		{"Alpha", "", "bo", "Smith", "X-1", store.RoleAdmin, false, time.Second, h},
		{"charlie", "alpha", "Al", "", "", store.RoleMember, true, 2 * time.Second, h + time.Microsecond},
		{"Bravo", "Émile", "", "jones", "x-1", store.RoleOwner, false, 0, 2 * h},
		{"echo", "ALPHA", "al", "SMITH", "", "", true, time.Second, h},
		{"ÉCHO", "zed", "Éve", "Jones", "x-3", store.RoleViewer, true, 2 * time.Second, 3 * h},
		{"foxtrot", "", "", "", "a", store.RoleMember, true, 3 * time.Second, h + time.Microsecond},
		{"Zulu", "bob", "zed", "ørsted", "Z", store.RoleGuest, false, 2 * time.Second, h},
	}
	users := make([]store.User, len(specs))
	for i, s := range specs {
		users[i] = e.user(ta.ID, s.userName, func(u *store.User) {
			u.DisplayName, u.GivenName, u.FamilyName, u.ExternalID, u.Role = s.display, s.given, s.family, s.ext, s.role
			u.Active, u.Created, u.Modified = s.active, at(s.created), at(s.modified)
			if !s.active {
				u.State = store.StateInactive
			}
		})
	}
	// A tombstone and another tenant's user would sort first everywhere.
	dead := e.user(ta.ID, "0dead", func(u *store.User) {
		u.DisplayName, u.FamilyName, u.ExternalID = "0", "0", "0"
		u.Created = at(-time.Hour)
	})
	e.deleteUser(ta.ID, dead.ID)
	e.user(tb.ID, "0other", func(u *store.User) { u.DisplayName, u.FamilyName = "0", "0" })

	ids := userIDs(users)
	name := map[string]string{}
	for _, u := range users {
		name[u.ID] = u.UserName
	}
	names := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = name[id]
		}
		return out
	}
	keys := map[string]func(u store.User, exact bool) sortKey{
		"":                  func(u store.User, _ bool) sortKey { return sortKey{true, u.ID} },
		"id":                func(u store.User, _ bool) sortKey { return sortKey{true, u.ID} },
		"userName":          func(u store.User, x bool) sortKey { return strKey(u.UserName, x) },
		"displayName":       func(u store.User, x bool) sortKey { return strKey(u.DisplayName, x) },
		"name.givenName":    func(u store.User, x bool) sortKey { return strKey(u.GivenName, x) },
		"name.familyName":   func(u store.User, x bool) sortKey { return strKey(u.FamilyName, x) },
		"externalId":        func(u store.User, x bool) sortKey { return strKey(u.ExternalID, x) },
		"roles.value":       func(u store.User, x bool) sortKey { return strKey(u.Role, x) },
		"active":            func(u store.User, _ bool) sortKey { return boolKey(u.Active) },
		"meta.created":      func(u store.User, _ bool) sortKey { return timeKey(u.Created) },
		"meta.lastModified": func(u store.User, _ bool) sortKey { return timeKey(u.Modified) },
	}
	list := func(q store.Query) ([]store.User, int, error) {
		p, err := e.s.ListUsers(e.ctx, ta.ID, q)
		return p.Users, p.Total, err
	}
	for _, attr := range slices.Sorted(maps.Keys(keys)) {
		kf := keys[attr]
		for _, exact := range []bool{false, true} {
			for _, desc := range []bool{false, true} {
				what := fmt.Sprintf("ListUsers sorted by %q (caseExact %v, descending %v)", attr, exact, desc)
				q := store.Query{SortBy: attr, CaseExact: exact, Descending: desc, Limit: 100}
				want := refOrder(ids, func(i int) sortKey { return kf(users[i], exact) }, desc)
				got, total, err := list(q)
				if attr == "externalId" && !exact && errors.Is(err, store.ErrUnsupported) {
					continue // externalId is caseExact; folding it may be declined
				}
				if err != nil {
					e.Errorf("%s: %v", what, err)
					continue
				}
				if g := userIDs(got); !slices.Equal(g, want) || total != len(users) {
					e.Errorf("%s:\n got %q (total %d)\nwant %q", what, names(g), total, names(want))
					continue
				}
				// Pages of 3 concatenate to the same order.
				paged := pageAll(e, what, len(users), 3, list, q)
				if g := userIDs(paged); !slices.Equal(g, want) {
					e.Errorf("%s, pages of 3:\n got %q\nwant %q", what, names(g), names(want))
				}
			}
		}
	}
	// Sorting and filtering together.
	p, err := e.s.ListUsers(e.ctx, ta.ID, store.Query{Filter: cmpF("name.familyName", eq, "smith"), SortBy: "userName", Descending: true, Limit: 10})
	if err != nil {
		e.Fatalf("ListUsers(filtered, sorted): %v", err)
	}
	if got := names(userIDs(p.Users)); !slices.Equal(got, []string{"echo", "delta", "Alpha"}) || p.Total != 3 {
		e.Errorf("ListUsers(familyName eq smith, by userName descending) = %q (total %d), want [echo delta Alpha]", got, p.Total)
	}
}

func testSortGroups(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	type spec struct {
		name, ext         string
		created, modified time.Duration
	}
	specs := []spec{
		{"beta", "b", time.Second, time.Hour},
		{"Alpha", "", 0, time.Hour},
		{"gamma", "B", time.Second, 2 * time.Hour},
		{"ÉPSILON", "", 2 * time.Second, time.Hour},
		{"Delta", "a", time.Second, time.Hour + time.Microsecond},
		{"delta2", "é", 0, time.Hour},
	}
	groups := make([]store.Group, len(specs))
	for i, s := range specs {
		groups[i] = e.group(ta.ID, s.name, func(g *store.Group) {
			g.ExternalID, g.Created, g.Modified = s.ext, at(s.created), at(s.modified)
		})
	}
	dead := e.group(ta.ID, "0dead", func(g *store.Group) { g.ExternalID = "0" })
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, ta.ID, dead.ID) })
	e.group(tb.ID, "0other")

	ids := groupIDs(groups)
	name := map[string]string{}
	for _, g := range groups {
		name[g.ID] = g.DisplayName
	}
	names := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = name[id]
		}
		return out
	}
	keys := []struct {
		attr string
		key  func(g store.Group, exact bool) sortKey
	}{
		{"", func(g store.Group, _ bool) sortKey { return sortKey{true, g.ID} }},
		{"id", func(g store.Group, _ bool) sortKey { return sortKey{true, g.ID} }},
		{"displayName", func(g store.Group, x bool) sortKey { return strKey(g.DisplayName, x) }},
		{"externalId", func(g store.Group, x bool) sortKey { return strKey(g.ExternalID, x) }},
		{"meta.created", func(g store.Group, _ bool) sortKey { return timeKey(g.Created) }},
		{"meta.lastModified", func(g store.Group, _ bool) sortKey { return timeKey(g.Modified) }},
	}
	list := func(q store.Query) ([]store.Group, int, error) {
		p, err := e.s.ListGroups(e.ctx, ta.ID, q)
		return p.Groups, p.Total, err
	}
	for _, k := range keys {
		for _, exact := range []bool{false, true} {
			for _, desc := range []bool{false, true} {
				what := fmt.Sprintf("ListGroups sorted by %q (caseExact %v, descending %v)", k.attr, exact, desc)
				q := store.Query{SortBy: k.attr, CaseExact: exact, Descending: desc, Limit: 100}
				want := refOrder(ids, func(i int) sortKey { return k.key(groups[i], exact) }, desc)
				got, total, err := list(q)
				if k.attr == "externalId" && !exact && errors.Is(err, store.ErrUnsupported) {
					continue // externalId is caseExact; folding it may be declined
				}
				if err != nil {
					e.Errorf("%s: %v", what, err)
					continue
				}
				if g := groupIDs(got); !slices.Equal(g, want) || total != len(groups) {
					e.Errorf("%s:\n got %q (total %d)\nwant %q", what, names(g), total, names(want))
					continue
				}
				paged := pageAll(e, what, len(groups), 4, list, q)
				if g := groupIDs(paged); !slices.Equal(g, want) {
					e.Errorf("%s, pages of 4:\n got %q\nwant %q", what, names(g), names(want))
				}
			}
		}
	}
}

func testPaging(e *env) {
	tn := e.tenant("a")
	const n = 7
	users := make([]store.User, n)
	for i := range users {
		users[i] = e.user(tn.ID, fmt.Sprintf("user%d", i), func(u *store.User) {
			if i%2 == 1 {
				u.Active, u.State = false, store.StateInactive
			}
		})
	}
	dead := e.user(tn.ID, "user-dead")
	e.deleteUser(tn.ID, dead.ID)
	ids := userIDs(users)

	page := func(q store.Query) store.UserPage {
		e.Helper()
		p, err := e.s.ListUsers(e.ctx, tn.ID, q)
		if err != nil {
			e.Fatalf("ListUsers(%+v): %v", q, err)
		}
		return p
	}
	for _, c := range []struct {
		q     store.Query
		want  []string
		total int
	}{
		{store.Query{Limit: 3}, ids[0:3], n},
		{store.Query{Offset: 3, Limit: 3}, ids[3:6], n},
		{store.Query{Offset: 6, Limit: 3}, ids[6:], n},
		{store.Query{Offset: 2, Limit: 2}, ids[2:4], n},
		{store.Query{Offset: 0, Limit: n}, ids, n},
		{store.Query{Offset: 1, Limit: 1000}, ids[1:], n},
		{store.Query{Offset: n, Limit: 3}, nil, n},
		{store.Query{Offset: 100, Limit: 3}, nil, n},
		{store.Query{Limit: 0}, nil, n},
		{store.Query{Offset: 2, Limit: 0}, nil, n},
		{store.Query{Descending: true, Limit: 2}, []string{ids[6], ids[5]}, n},
		{store.Query{Descending: true, Offset: 5, Limit: 5}, []string{ids[1], ids[0]}, n},
		{store.Query{SortBy: "userName", Descending: true, Offset: 1, Limit: 2}, []string{ids[5], ids[4]}, n},
		// Total counts the matches of the filter, not the page.
		{store.Query{Filter: cmpF("active", eq, true), Limit: 2}, []string{ids[0], ids[2]}, 4},
		{store.Query{Filter: cmpF("active", eq, true), Offset: 2, Limit: 2}, []string{ids[4], ids[6]}, 4},
		{store.Query{Filter: cmpF("active", eq, true), Offset: 3, Limit: 2}, []string{ids[6]}, 4},
		{store.Query{Filter: cmpF("active", eq, true), Offset: 4, Limit: 2}, nil, 4},
		{store.Query{Filter: cmpF("active", eq, false), Limit: 0}, nil, 3},
		{store.Query{Filter: cmpF("userName", eq, "nobody"), Limit: 5}, nil, 0},
		{store.Query{Filter: cmpF("userName", eq, "user-dead"), Limit: 5}, nil, 0},
	} {
		p := page(c.q)
		if got := userIDs(p.Users); !slices.Equal(got, c.want) || p.Total != c.total {
			e.Errorf("ListUsers(%+v) = %v (total %d), want %v (total %d)", c.q, got, p.Total, c.want, c.total)
		}
	}

	// Groups page the same way.
	groups := make([]store.Group, 5)
	for i := range groups {
		groups[i] = e.group(tn.ID, fmt.Sprintf("group%d", i))
	}
	gids := groupIDs(groups)
	for _, c := range []struct {
		q     store.Query
		want  []string
		total int
	}{
		{store.Query{Limit: 2}, gids[0:2], 5},
		{store.Query{Offset: 2, Limit: 2}, gids[2:4], 5},
		{store.Query{Offset: 4, Limit: 2}, gids[4:], 5},
		{store.Query{Offset: 5, Limit: 2}, nil, 5},
		{store.Query{Limit: 0}, nil, 5},
		{store.Query{SortBy: "displayName", Descending: true, Offset: 1, Limit: 2}, []string{gids[3], gids[2]}, 5},
		{store.Query{Filter: cmpF("displayName", sw, "GROUP"), Offset: 3, Limit: 10}, gids[3:], 5},
		{store.Query{Filter: cmpF("displayName", gt, "group2"), Limit: 1}, gids[3:4], 2},
	} {
		p, err := e.s.ListGroups(e.ctx, tn.ID, c.q)
		if err != nil {
			e.Fatalf("ListGroups(%+v): %v", c.q, err)
		}
		if got := groupIDs(p.Groups); !slices.Equal(got, c.want) || p.Total != c.total {
			e.Errorf("ListGroups(%+v) = %v (total %d), want %v (total %d)", c.q, got, p.Total, c.want, c.total)
		}
	}
}
