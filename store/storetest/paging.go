package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// Conformance cases of sorting by any attribute, keyset (cursor) paging
// and the unfiltered totals.

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// docKey is the reference sort key of attribute sa in a stored document:
// the value at sa.Keys, of a multi-valued attribute from its primary value
// (an object with "primary": true), else its first (emails: only values
// with a non-empty "value" count); absent unless it is a non-empty string
// or a boolean, as sa.Kind says.
func docKey(doc json.RawMessage, sa store.SortAttr, exact bool) sortKey {
	var m map[string]any
	if json.Unmarshal(doc, &m) != nil {
		return sortKey{}
	}
	var v any = m
	if sa.Multi != nil {
		list, _ := walkJSON(m, store.DocKeys(sa.Multi)).([]any)
		var first, primary map[string]any
		for _, x := range list {
			o, ok := x.(map[string]any)
			if !ok {
				continue
			}
			if sa.Multi.Path == "emails" {
				if s, _ := o["value"].(string); s == "" {
					continue
				}
			}
			if first == nil {
				first = o
			}
			if p, _ := o["primary"].(bool); p && primary == nil {
				primary = o
			}
		}
		if primary == nil {
			primary = first
		}
		if primary == nil {
			return sortKey{}
		}
		v = primary
	}
	v = walkJSON(v, sa.Keys)
	switch x := v.(type) {
	case string:
		if sa.Kind == store.KindString {
			return strKey(x, exact)
		}
	case bool:
		if sa.Kind == store.KindBool {
			return boolKey(x)
		}
	}
	return sortKey{}
}

func walkJSON(v any, keys []string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// pagingUser is one fixture user of the keyset tests.
type pagingUser struct {
	name    string
	display string
	active  bool
	emails  []store.Email
	doc     string // the document without userName
}

func pagingUsers() []pagingUser {
	e := func(v, t string, p bool) store.Email { return store.Email{Value: v, Type: t, Primary: p} }
	return []pagingUser{
		{"amy", "Amy", true, []store.Email{e("b@x.test", "work", false), e("Z@x.test", "home", true)},
			`"nickName":"Zed","name":{"middleName":"Q"},"title":"CTO",
			"emails":[{"value":"b@x.test","type":"work","display":"B"},{"value":"Z@x.test","type":"home","primary":true,"display":"zz"}],
			"phoneNumbers":[{"value":"+1 555","type":"work"},{"value":"+1 444","type":"mobile","primary":true}],
			"addresses":[{"locality":"Oslo","primary":true}],
			"x509Certificates":[{"value":"QUJD"}],
			"` + enterprise + `":{"department":"R&D","manager":{"value":"m-2"}}`},
		{"bob", "", false, []store.Email{e("a@x.test", "", false)},
			`"nickName":"alpha","name":{"middleName":"é"},"title":"",
			"emails":[{"value":"a@x.test"}],
			"phoneNumbers":[{"value":"+1 999","type":"Work"},{"value":"+1 000","type":"home"}],
			"x509Certificates":[{"value":"abc"}],
			"` + enterprise + `":{"department":"sales","manager":{"value":"M-1","displayName":"Boss"}}`},
		{"Carl", "carl", true, nil,
			`"nickName":"ÉCLAIR","name":{"givenName":"C"},"title":"cto",
			"emails":[{"type":"work","primary":true,"display":"no value"}],
			"phoneNumbers":[{"type":"home","primary":false}],
			"addresses":[{"locality":"bergen"},{"locality":"Aalborg","primary":true}],
			"` + enterprise + `":{"department":"Sales"}`},
		{"dora", "Dora", true, []store.Email{e("c@x.test", "Work", true)},
			`"nickName":"","title":5,
			"emails":[{"value":"c@x.test","type":"Work","primary":true}],
			"phoneNumbers":"+1 123",
			"` + enterprise + `":{"manager":{"value":"m-1"}}`},
		{"Eve", "eve", false, []store.Email{e("d@x.test", "home", false), e("e@x.test", "work", false)},
			`"nickName":"zed","name":{"middleName":"q"},
			"emails":[{"value":"d@x.test","type":"home"},{"value":"e@x.test","type":"work","primary":false,"display":"E"}],
			"phoneNumbers":[{"value":"+1 444","type":"mobile","primary":true}],
			"addresses":[{"locality":"Oslo"}],
			"x509Certificates":[{"value":"ABC"}]`},
		{"fay", "Fay", true, nil, `"nickName":"Alpha","title":"CTO","x509Certificates":[{"value":"abd","primary":true}]`},
		{"gus", "", true, nil, ``},
	}
}

// keysetCase is one sort of the keyset tests and its reference key.
type keysetCase struct {
	attr  string
	exact bool
	desc  bool
}

func testKeysetPaging(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	specs := pagingUsers()
	users := make([]store.User, len(specs))
	for i, sp := range specs {
		doc := `{"userName":` + quote(sp.name)
		if sp.doc != "" {
			doc += "," + sp.doc
		}
		doc += "}"
		if !json.Valid([]byte(doc)) {
			e.Fatalf("fixture %s: invalid JSON %s", sp.name, doc)
		}
		users[i] = e.user(ta.ID, sp.name, func(u *store.User) {
			u.DisplayName, u.Emails, u.Doc = sp.display, sp.emails, json.RawMessage(doc)
			u.Active = sp.active
			if !sp.active {
				u.State = store.StateInactive
			}
			u.Modified = at(time.Duration(len(specs)-i) * time.Second)
		})
	}
	// A tombstone and another tenant's user, which must never show.
	dead := e.user(ta.ID, "0dead", func(u *store.User) { u.Doc = json.RawMessage(`{"nickName":"0"}`) })
	e.deleteUser(ta.ID, dead.ID)
	e.user(tb.ID, "0other", func(u *store.User) { u.Doc = json.RawMessage(`{"nickName":"0"}`) })
	// Groups for groups.display: amy is in "beta" and "Alpha", eve in "gamma".
	gAlpha, gBeta, gGamma := e.group(ta.ID, "Alpha"), e.group(ta.ID, "beta"), e.group(ta.ID, "gamma")
	e.addMembers(ta.ID, gBeta.ID, users[0].ID)
	e.addMembers(ta.ID, gAlpha.ID, users[0].ID)
	e.addMembers(ta.ID, gGamma.ID, users[4].ID)
	firstGroup := map[string]store.Group{users[0].ID: gAlpha, users[4].ID: gGamma}

	ids := userIDs(users)
	names := func(ids []string) string {
		byID := map[string]string{}
		for _, u := range users {
			byID[u.ID] = u.UserName
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = byID[id]
		}
		return strings.Join(out, " ")
	}
	key := func(u store.User, attr string, exact bool) sortKey {
		switch attr {
		case "", "id", "meta.location":
			return sortKey{true, u.ID}
		case "userName":
			return strKey(u.UserName, exact)
		case "displayName":
			return strKey(u.DisplayName, exact)
		case "active":
			return boolKey(u.Active)
		case "meta.lastModified":
			return timeKey(u.Modified)
		case "meta.version":
			return sortKey{true, fmt.Sprint(u.Version)}
		case "roles.primary":
			return boolKey(true)
		case "emails.value", "emails.type", "emails.primary":
			if len(u.Emails) == 0 {
				return sortKey{}
			}
			em := u.Emails[0]
			for _, x := range u.Emails {
				if x.Primary {
					em = x
					break
				}
			}
			switch attr {
			case "emails.value":
				return strKey(em.Value, exact)
			case "emails.type":
				return strKey(em.Type, exact)
			}
			return boolKey(em.Primary)
		case "groups.display":
			g, ok := firstGroup[u.ID]
			if !ok {
				return sortKey{}
			}
			return strKey(g.DisplayName, exact)
		case "groups.value":
			g, ok := firstGroup[u.ID]
			if !ok {
				return sortKey{}
			}
			return sortKey{true, g.ID}
		}
		sa, err := store.ResolveSort(schemas.User, attr)
		if err != nil {
			e.Fatalf("ResolveSort(%s): %v", attr, err)
		}
		return docKey(u.Doc, sa, exact)
	}
	var cases []keysetCase
	for _, attr := range []string{"", "id", "meta.location", "userName", "displayName", "active", "meta.lastModified",
		"meta.version", "roles.primary", "emails.value", "emails.type", "emails.primary", "emails.display",
		"groups.display", "groups.value", "nickName", "name.middleName", "name.givenName" /* a column */, "title",
		"phoneNumbers.value", "phoneNumbers.type", "phoneNumbers.primary", "addresses.locality",
		"x509Certificates.value", enterprise + ":department", enterprise + ":manager.value",
		enterprise + ":manager.displayName"} {
		for _, exact := range []bool{false, true} {
			for _, desc := range []bool{false, true} {
				cases = append(cases, keysetCase{attr, exact, desc})
			}
		}
	}
	list := func(q store.Query) (store.UserPage, error) { return e.s.ListUsers(e.ctx, ta.ID, q) }
	for _, c := range cases {
		what := fmt.Sprintf("users by %q (caseExact %v, descending %v)", c.attr, c.exact, c.desc)
		want := refOrder(ids, func(i int) sortKey {
			if c.attr == "name.givenName" {
				return sortKey{} // no fixture has the column
			}
			return key(users[i], c.attr, c.exact)
		}, c.desc)
		q := store.Query{SortBy: c.attr, CaseExact: c.exact, Descending: c.desc}
		e.checkKeysetWalks(what, q, want, names, list)
	}

	// With a filter: the active users by nickName, descending.
	q := store.Query{Filter: cmpF("active", eq, true), SortBy: "nickName", Descending: true}
	var active []string
	for _, id := range refOrder(ids, func(i int) sortKey { return key(users[i], "nickName", false) }, true) {
		for _, u := range users {
			if u.ID == id && u.Active {
				active = append(active, id)
			}
		}
	}
	e.checkKeysetWalks("active users by nickName descending", q, active, names, list)

	// Groups by their first member and by display name.
	e.addMembers(ta.ID, gBeta.ID, gGamma.ID)
	gids := groupIDs([]store.Group{gAlpha, gBeta, gGamma})
	firstMember := map[string]string{gAlpha.ID: users[0].ID, gBeta.ID: min(users[0].ID, gGamma.ID), gGamma.ID: users[4].ID}
	display := map[string]string{users[0].ID: "Amy", users[4].ID: "eve", gGamma.ID: "gamma"}
	memberType := map[string]string{users[0].ID: "User", users[4].ID: "User", gGamma.ID: "Group"}
	glist := func(q store.Query) (store.GroupPage, error) { return e.s.ListGroups(e.ctx, ta.ID, q) }
	gnames := func(ids []string) string {
		m := map[string]string{gAlpha.ID: "Alpha", gBeta.ID: "beta", gGamma.ID: "gamma"}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = m[id]
		}
		return strings.Join(out, " ")
	}
	gkey := func(id, attr string, exact bool) sortKey {
		m := firstMember[id]
		switch attr {
		case "displayName":
			return strKey(gnames([]string{id}), exact)
		case "members.value":
			return sortKey{true, m}
		case "members.display":
			return strKey(display[m], exact)
		case "members.type":
			return strKey(memberType[m], exact)
		}
		return sortKey{true, id}
	}
	for _, attr := range []string{"", "displayName", "members.value", "members.display", "members.type"} {
		for _, exact := range []bool{false, true} {
			for _, desc := range []bool{false, true} {
				what := fmt.Sprintf("groups by %q (caseExact %v, descending %v)", attr, exact, desc)
				want := refOrder(gids, func(i int) sortKey { return gkey(gids[i], attr, exact) }, desc)
				q := store.Query{SortBy: attr, CaseExact: exact, Descending: desc}
				checkKeysetWalksOf(e, what, q, want, gnames, func(q store.Query) ([]string, []store.Position, int, bool, bool, error) {
					p, err := glist(q)
					return groupIDs(p.Groups), p.Keys, p.Total, p.HasPrev, p.HasNext, err
				})
			}
		}
	}
}

// checkKeysetWalks checks the pages of a user query against want (the ids
// in order).
func (e *env) checkKeysetWalks(what string, q store.Query, want []string, names func([]string) string,
	list func(store.Query) (store.UserPage, error)) {
	e.Helper()
	checkKeysetWalksOf(e, what, q, want, names, func(q store.Query) ([]string, []store.Position, int, bool, bool, error) {
		p, err := list(q)
		return userIDs(p.Users), p.Keys, p.Total, p.HasPrev, p.HasNext, err
	})
}

// checkKeysetWalksOf checks, for one sort: the whole list; a forward walk
// by After in pages of 2 and 3 (each page's edges, the concatenation);
// a backward walk by Before from the last position; and that Keys name
// the rows.
func checkKeysetWalksOf(e *env, what string, q store.Query, want []string, names func([]string) string,
	list func(store.Query) ([]string, []store.Position, int, bool, bool, error)) {
	e.Helper()
	q.Limit = 100
	got, keys, total, _, more, err := list(q)
	if err != nil {
		e.Errorf("%s: %v", what, err)
		return
	}
	if !slices.Equal(got, want) || total != len(want) || more {
		e.Errorf("%s:\n got %s (total %d, more %v)\nwant %s", what, names(got), total, more, names(want))
		return
	}
	for i, k := range keys {
		if k.ID != got[i] {
			e.Errorf("%s: Keys[%d] names %s, not the row %s", what, i, k.ID, got[i])
		}
	}
	all := keys
	for _, size := range []int{2, 3} {
		// Forward.
		var walked []string
		qq := q
		qq.Limit, qq.Edges = size, true
		for step := 0; step <= len(want); step++ {
			ids, keys, total, prev, next, err := list(qq)
			if err != nil {
				e.Errorf("%s, forward by %d: %v", what, size, err)
				return
			}
			if total != len(want) {
				e.Errorf("%s, forward by %d: total %d, want %d", what, size, total, len(want))
			}
			if prev != (len(walked) > 0) {
				e.Errorf("%s, forward by %d, after %d rows: HasPrev %v", what, size, len(walked), prev)
			}
			walked = append(walked, ids...)
			if next != (len(walked) < len(want)) {
				e.Errorf("%s, forward by %d, after %d rows: HasNext %v", what, size, len(walked), next)
			}
			if !next || len(keys) == 0 {
				break
			}
			qq.After = &keys[len(keys)-1]
		}
		if !slices.Equal(walked, want) {
			e.Errorf("%s, forward by %d:\n got %s\nwant %s", what, size, names(walked), names(want))
		}
		// Backward, from after the last row.
		if len(all) == 0 {
			continue
		}
		var back []string
		qq = q
		qq.Limit, qq.Edges, qq.Before = size, true, nil
		last := all[len(all)-1]
		ids, _, _, _, next, err := list(store.Query{Filter: q.Filter, SortBy: q.SortBy, CaseExact: q.CaseExact,
			Descending: q.Descending, Limit: 1, After: &last, Edges: true})
		if err != nil || len(ids) != 0 || next {
			e.Errorf("%s: after the last row: %v, %v, %v", what, ids, next, err)
		}
		// The last row itself comes from Before with the row after it
		// missing, so start with a page that ends at the last row: Before
		// the last row, then append it.
		qq.Before = &last
		back = []string{last.ID}
		for step := 0; step <= len(want); step++ {
			ids, keys, _, prev, next, err := list(qq)
			if err != nil {
				e.Errorf("%s, backward by %d: %v", what, size, err)
				return
			}
			if !next {
				e.Errorf("%s, backward by %d: HasNext false before a row", what, size)
			}
			back = append(slices.Clone(ids), back...)
			if prev != (len(back) < len(want)) {
				e.Errorf("%s, backward by %d, %d rows: HasPrev %v", what, size, len(back), prev)
			}
			if !prev || len(keys) == 0 {
				break
			}
			qq.Before = &keys[0]
		}
		if !slices.Equal(back, want) {
			e.Errorf("%s, backward by %d:\n got %s\nwant %s", what, size, names(back), names(want))
		}
	}
	// Limit 0 with Edges reports the edges of the position alone.
	if len(all) > 1 {
		_, _, total, prev, next, err := list(store.Query{Filter: q.Filter, SortBy: q.SortBy, CaseExact: q.CaseExact,
			Descending: q.Descending, After: &all[0], Edges: true})
		if err != nil || total != len(want) || !prev || !next {
			e.Errorf("%s: limit 0 after the first row: total %d, prev %v, next %v, %v", what, total, prev, next, err)
		}
	}
}

// testKeysetChurn walks users page by page with After while other
// goroutines create and delete other users: every user that exists
// throughout the walk is returned exactly once, in order; none twice.
func testKeysetChurn(e *env) {
	tn := e.tenant("a")
	const keep = 120
	kept := map[string]bool{}
	for i := range keep {
		u := e.user(tn.ID, fmt.Sprintf("keep%03d", i), func(u *store.User) {
			u.Doc = json.RawMessage(fmt.Sprintf(`{"nickName":"n%03d"}`, (i*37)%keep))
		})
		kept[u.ID] = true
	}
	// Victims exist when the walks start and are deleted during them.
	var victims []string
	for i := range 30 {
		victims = append(victims, e.user(tn.ID, fmt.Sprintf("victim%02d", i)).ID)
	}
	for round, q := range []store.Query{
		{},
		{Descending: true},
		{SortBy: "userName", Descending: true},
		{SortBy: "nickName"},
	} {
		what := fmt.Sprintf("walk sorted by %q (descending %v) under churn", q.SortBy, q.Descending)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var churnErr atomic.Value
		var serial, deleted, ops atomic.Int64
		victimsLeft := slices.Clone(victims)
		const budget = 150 // churn operations per walk, so that the walk ends
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(1, 2))
			var mine []string
			// The users this churn created leave with it, whether the walk
			// stopped it or it used up its budget first: the next round
			// creates the same userNames.
			defer func() {
				for _, id := range mine {
					if err := e.update(func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, tn.ID, id, t0, false) }); err != nil {
						if churnErr.Load() == nil { // only this goroutine stores
							churnErr.Store(err)
						}
					}
				}
			}()
			for ops.Load() < budget {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch {
				case len(victimsLeft) > 0 && rng.IntN(3) == 0:
					id := victimsLeft[0]
					victimsLeft = victimsLeft[1:]
					err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, tn.ID, id, t0, false) })
					deleted.Add(1)
				case len(mine) > 0 && rng.IntN(2) == 0:
					id := mine[0]
					mine = mine[1:]
					err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, tn.ID, id, t0, true) })
				default:
					n := serial.Add(1)
					u := store.User{TenantID: tn.ID, ID: newID(), UserName: fmt.Sprintf("churn%05d-%s", n, q.SortBy),
						Active: true, Role: store.RoleMember, State: store.StateActive, Created: t0, Modified: t0,
						Doc: json.RawMessage(fmt.Sprintf(`{"nickName":"n%03d"}`, n%keep))}
					err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &u) })
					if err == nil {
						mine = append(mine, u.ID)
					}
				}
				if err != nil {
					churnErr.Store(err)
					return
				}
				ops.Add(1)
			}
		})
		seen := map[string]int{}
		var prev *store.Position
		qq := q
		qq.Limit = 7
		for pages := 0; pages < 1000; pages++ {
			p, err := e.s.ListUsers(e.ctx, tn.ID, qq)
			if err != nil {
				e.Fatalf("%s: %v", what, err)
			}
			for i, u := range p.Users {
				seen[u.ID]++
				if prev != nil && !before(*prev, p.Keys[i], q.Descending) {
					e.Errorf("%s: %s (%v) does not come after %s (%v)", what, u.UserName, p.Keys[i].Key, prev.ID, prev.Key)
				}
				prev = &p.Keys[i]
			}
			if !p.HasNext {
				break
			}
			qq.After = &p.Keys[len(p.Keys)-1]
			// Let the churn change something between every two pages.
			for n, deadline := ops.Load(), time.Now().Add(5*time.Second); ops.Load() < min(n+2, budget) && time.Now().Before(deadline) && churnErr.Load() == nil; {
				time.Sleep(100 * time.Microsecond)
			}
		}
		close(stop)
		wg.Wait()
		if err, _ := churnErr.Load().(error); err != nil {
			e.Fatalf("%s: churn: %v", what, err)
		}
		if deleted.Load() == 0 || serial.Load() == 0 {
			e.Errorf("%s: the churn deleted %d users and created %d during the walk; want some of both", what, deleted.Load(), serial.Load())
		}
		for id := range kept {
			if seen[id] != 1 {
				e.Errorf("%s: kept user %s seen %d times", what, id, seen[id])
			}
		}
		for id, n := range seen {
			if n > 1 {
				e.Errorf("%s: user %s seen %d times", what, id, n)
			}
		}
		// Put the victims back for the next walk.
		victims = victims[:0]
		for i := range 30 {
			victims = append(victims, e.user(tn.ID, fmt.Sprintf("victim%02d-%d", i, round)).ID)
		}
	}
}

// before reports whether position a comes strictly before b in the order
// of a walk by keys of one kind (strings, here), absent keys last
// ascending.
func before(a, b store.Position, desc bool) bool {
	if desc {
		a, b = b, a
	}
	ak, aok := a.Key.(string)
	bk, bok := b.Key.(string)
	switch {
	case a.Key == nil && b.Key == nil, aok && bok && ak == bk:
		return a.ID < b.ID
	case a.Key == nil:
		return false
	case b.Key == nil:
		return true
	case aok && bok:
		return ak < bk
	}
	return false
}

// testCountsExact runs creates, deletes (retained and erased), restores
// and group creates and deletes in several goroutines on two tenants and
// then checks the unfiltered totals (which backends may keep in counters)
// against counting the rows.
func testCountsExact(e *env) {
	tenants := []store.Tenant{e.tenant("a"), e.tenant("b")}
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var users, tombs []store.User
			var gs []store.Group
			for i := range 40 {
				tn := tenants[rng.IntN(len(tenants))]
				var err error
				switch op := rng.IntN(6); {
				case op <= 1 || len(users) == 0:
					u := store.User{TenantID: tn.ID, ID: newID(), UserName: fmt.Sprintf("w%d-%d", w, i), Active: true,
						Role: store.RoleMember, State: store.StateActive, Created: t0, Modified: t0, Doc: json.RawMessage(`{}`)}
					if rng.IntN(2) == 0 {
						u.Active, u.State = false, store.StateInactive
					}
					err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &u) })
					if err == nil {
						users = append(users, u)
					}
				case op == 2:
					u := users[0]
					users = users[1:]
					erase := rng.IntN(2) == 0
					err = e.update(func(ctx context.Context, tx store.Tx) error {
						return tx.DeleteUser(ctx, u.TenantID, u.ID, t0, erase)
					})
					if err == nil && !erase {
						tombs = append(tombs, u)
					}
				case op == 3 && len(tombs) > 0:
					u := tombs[0]
					tombs = tombs[1:]
					err = e.update(func(ctx context.Context, tx store.Tx) error {
						t, err := tx.GetTombstone(ctx, u.TenantID, u.ID)
						if err != nil {
							return err
						}
						t.State, t.Active = store.StateActive, true
						return tx.RestoreUser(ctx, &t)
					})
					if err == nil {
						users = append(users, u)
					}
				case op == 4:
					g := store.Group{TenantID: tn.ID, ID: newID(), DisplayName: fmt.Sprintf("g%d-%d", w, i), Created: t0, Modified: t0}
					err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.CreateGroup(ctx, &g) })
					if err == nil {
						gs = append(gs, g)
					}
				case op == 5 && len(gs) > 0:
					g := gs[0]
					gs = gs[1:]
					err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroup(ctx, g.TenantID, g.ID) })
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		e.Fatalf("churn: %v", err)
	}
	for _, tn := range tenants {
		fast, err := e.s.ListUsers(e.ctx, tn.ID, store.Query{})
		if err != nil {
			e.Fatalf("ListUsers: %v", err)
		}
		counted, err := e.s.ListUsers(e.ctx, tn.ID, store.Query{Filter: present("userName")})
		if err != nil {
			e.Fatalf("ListUsers(userName pr): %v", err)
		}
		n := e.countUsers(tn.ID, store.StateActive, store.StateInactive)
		if fast.Total != n || counted.Total != n {
			e.Errorf("tenant %s: unfiltered total %d, counted %d, CountUsers %d", tn.Name, fast.Total, counted.Total, n)
		}
		gfast, err := e.s.ListGroups(e.ctx, tn.ID, store.Query{})
		if err != nil {
			e.Fatalf("ListGroups: %v", err)
		}
		gcounted, err := e.s.ListGroups(e.ctx, tn.ID, store.Query{Filter: present("displayName"), Limit: 10000})
		if err != nil {
			e.Fatalf("ListGroups(displayName pr): %v", err)
		}
		if gfast.Total != gcounted.Total || gcounted.Total != len(gcounted.Groups) {
			e.Errorf("tenant %s: unfiltered group total %d, counted %d (%d rows)", tn.Name, gfast.Total, gcounted.Total, len(gcounted.Groups))
		}
	}
	// A transaction sees its own writes in the total.
	e.must(func(ctx context.Context, tx store.Tx) error {
		before, err := tx.ListUsers(ctx, tenants[0].ID, store.Query{})
		if err != nil {
			return err
		}
		u := store.User{TenantID: tenants[0].ID, ID: newID(), UserName: "in-tx", Active: true, Role: store.RoleMember,
			State: store.StateActive, Created: t0, Modified: t0}
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		after, err := tx.ListUsers(ctx, tenants[0].ID, store.Query{})
		if err != nil {
			return err
		}
		if after.Total != before.Total+1 {
			e.Errorf("total in a transaction: %d after a create, %d before", after.Total, before.Total)
		}
		return nil
	})
}
