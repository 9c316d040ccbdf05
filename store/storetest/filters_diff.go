package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/scimd/scimd/internal/filtereval"
	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// The size of the differential filter test: resources, and filters run
// through ListUsers and ListGroups.
//
// Under the race detector SQLite (C translated to Go) and the decoding of
// every listed row run some ten times slower, so the race build runs half
// the users and a tenth of the filters; SCIMD_FILTER_COUNT sets the number
// of user filters (a quarter as many group filters are run) in any build.
var (
	diffUsers        = cond(raceBuild, 100, 200)
	diffGroups       = 30
	diffUserFilters  = cond(raceBuild, 160, 1600)
	diffGroupFilters = cond(raceBuild, 40, 400)
)

func cond[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// diffBase is the base URL the derived URLs (meta.location, $ref) of the
// differential test are relative to; mixed case, to exercise folding.
const diffBase = "https://SCIM.Example.test/scim/v2"

// testFilterDifferential generates a directory of users and groups with
// random data (multi-valued attributes present, absent and partly empty,
// mixed case, non-ASCII letters, the Enterprise extension, group members)
// and runs generated filters (random trees of and, or and not, value paths,
// every operator, attributes from the whole catalogue, values drawn from
// the data) through the backend and through the reference evaluator
// (internal/filtereval) over the resources as the server renders them; the
// id sets must be equal. SCIMD_FILTER_SEED picks another seed.
func testFilterDifferential(e *env) {
	seed := uint64(1)
	if s, err := strconv.ParseUint(os.Getenv("SCIMD_FILTER_SEED"), 10, 64); err == nil {
		seed = s
	}
	g := &diffGen{rnd: rand.New(rand.NewPCG(seed, 7)), values: map[string][]any{}}
	tn := e.tenant("diff")
	other := e.tenant("other")
	d := g.directory(e, tn.ID)
	// Another tenant's twin of the first user never matches.
	e.user(other.ID, d.users[0].UserName, func(u *store.User) { u.Doc = d.users[0].Doc })

	for _, u := range d.users {
		g.collect(schemas.User, d.userDocs[u.ID])
	}
	for _, id := range d.groups {
		g.collect(schemas.Group, d.groupDocs[id])
	}
	check := func(rt *schemas.ResourceType, n int, docs map[string]map[string]any,
		list func(store.Filter) ([]string, int, error)) {
		matched := 0
		for i := range n {
			f := g.filter(rt, 3)
			var want []string
			for id, doc := range docs {
				if filtereval.Match(rt, f, doc) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			if len(want) > 0 {
				matched++
			}
			got, total, err := list(f)
			if err != nil {
				e.Errorf("%s filter %d (seed %d): %s\n  error: %v", rt.Name, i, seed, format(f), err)
				continue
			}
			slices.Sort(got)
			if !slices.Equal(got, want) || total != len(want) {
				e.Errorf("%s filter %d (seed %d): %s\n  got %d (total %d), want %d\n  missing %v\n  extra %v",
					rt.Name, i, seed, format(f), len(got), total, len(want), minus(want, got), minus(got, want))
			}
		}
		// Generated values come from the data, so that many filters
		// select something.
		e.Logf("%s: %d of %d filters matched something", rt.Name, matched, n)
		if matched < n/4 {
			e.Errorf("%s: only %d of %d filters matched anything", rt.Name, matched, n)
		}
	}
	nUsers, nGroups := diffUserFilters, diffGroupFilters
	if n, err := strconv.Atoi(os.Getenv("SCIMD_FILTER_COUNT")); err == nil && n > 0 {
		nUsers, nGroups = n, max(n/4, 1)
	}
	check(schemas.User, nUsers, d.userDocs, func(f store.Filter) ([]string, int, error) {
		p, err := e.s.ListUsers(e.ctx, tn.ID, store.Query{Filter: f, Limit: 1000})
		return userIDs(p.Users), p.Total, err
	})
	check(schemas.Group, nGroups, d.groupDocs, func(f store.Filter) ([]string, int, error) {
		p, err := e.s.ListGroups(e.ctx, tn.ID, store.Query{Filter: f, Limit: 1000})
		return groupIDs(p.Groups), p.Total, err
	})
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// diffGen generates the data and the filters.
type diffGen struct {
	rnd *rand.Rand
	// values holds, per attribute path, the values the rendered resources
	// have: strings, bools and date-time strings.
	values map[string][]any
}

// directory is the generated data: the rows and, by id, the resources as
// the server renders them.
type directory struct {
	users     []store.User
	groups    []string // ids
	userDocs  map[string]map[string]any
	groupDocs map[string]map[string]any
}

// words are the building blocks of generated strings: case variants of
// the same word, letters whose folding is not ASCII (ß and ẞ, İ, the
// Kelvin and Ohm signs, titlecase digraphs, final sigma), GLOB and LIKE
// metacharacters, quotes and backslashes.
var words = []string{
	"alice", "Alice", "ALICE", "bob", "Bob", "Zoë", "ZOË", "zoë", "ÅSA", "åsa", "Åsa",
	"straße", "STRASSE", "Straẞe", "İstanbul", "istanbul", "ISTANBUL", "Kelvin", "\u212Aelvin",
	"\u2126hm", "ωhm", "ǅemal", "ǄEMAL", "ǆemal", "ΣΊΣΥΦΟΣ", "σίσυφος", "Οδυσσεύς", "Ørsted", "øRSTED",
	"École", "école", "ECOLE", "a_b", "100%", "x*y", "q?", "[br]", `say "hi"`, `back\slash`,
	"😀", "ﬁle", "ʼn", "Dž", "work", "home", "Work", "HOME", "other", "mobile", "Sales", "sales",
}

func (g *diffGen) pick(list []string) string { return list[g.rnd.IntN(len(list))] }

func (g *diffGen) chance(p float64) bool { return g.rnd.Float64() < p }

// text returns a generated string of one to three words.
func (g *diffGen) text() string {
	n := 1 + g.rnd.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.pick(words)
	}
	sep := g.pick([]string{" ", ".", "-", "", "@"})
	return strings.Join(parts, sep)
}

// maybe sets m[key] to v() with probability p; now and then to "" or
// null instead, which count as absent.
func (g *diffGen) maybe(m map[string]any, key string, p float64, v func() any) {
	switch {
	case g.chance(p):
		m[key] = v()
	case g.chance(0.05):
		m[key] = ""
	case g.chance(0.03):
		m[key] = nil
	}
}

func (g *diffGen) str() any { return g.text() }

// multi returns 0 to 3 values of a multi-valued attribute, nil (absent)
// or [] now and then; fill fills one value.
func (g *diffGen) multi(fill func(m map[string]any)) any {
	switch {
	case g.chance(0.3):
		return nil
	case g.chance(0.05):
		return []any{}
	}
	n := 1 + g.rnd.IntN(3)
	out := make([]any, 0, n)
	primary := false
	for range n {
		m := map[string]any{}
		fill(m)
		if !primary && g.chance(0.3) {
			m["primary"] = true
			primary = true
		} else if g.chance(0.2) {
			m["primary"] = false
		}
		if g.chance(0.05) {
			m = map[string]any{} // an empty value, which is not one
		}
		out = append(out, m)
	}
	return out
}

func (g *diffGen) typed(m map[string]any, types []string) {
	g.maybe(m, "type", 0.7, func() any { return g.pick(types) })
	g.maybe(m, "display", 0.3, g.str)
}

// userDoc generates the stored document of user i.
func (g *diffGen) userDoc(i int) map[string]any {
	doc := map[string]any{"userName": fmt.Sprintf("%s-%d", g.text(), i)}
	g.maybe(doc, "externalId", 0.6, g.str)
	g.maybe(doc, "displayName", 0.7, g.str)
	if g.chance(0.8) {
		name := map[string]any{}
		for _, k := range []string{"givenName", "familyName", "middleName", "formatted", "honorificPrefix", "honorificSuffix"} {
			g.maybe(name, k, 0.5, g.str)
		}
		doc["name"] = name
	}
	for _, k := range []string{"nickName", "title", "userType", "preferredLanguage", "locale", "timezone"} {
		g.maybe(doc, k, 0.4, g.str)
	}
	g.maybe(doc, "profileUrl", 0.3, func() any { return "https://example.test/" + g.text() })
	doc["emails"] = g.multi(func(m map[string]any) {
		g.maybe(m, "value", 0.85, func() any { return g.text() + "@" + g.pick([]string{"example.com", "EXAMPLE.com", "bücher.de"}) })
		g.typed(m, []string{"work", "home", "other", "Work"})
	})
	doc["phoneNumbers"] = g.multi(func(m map[string]any) {
		g.maybe(m, "value", 0.9, func() any { return fmt.Sprintf("+1-555-%04d", g.rnd.IntN(30)) })
		g.typed(m, []string{"work", "home", "mobile", "fax"})
	})
	doc["ims"] = g.multi(func(m map[string]any) {
		g.maybe(m, "value", 0.9, g.str)
		g.typed(m, []string{"xmpp", "skype", "Skype"})
	})
	doc["photos"] = g.multi(func(m map[string]any) {
		g.maybe(m, "value", 0.9, func() any { return "https://img.test/" + g.text() })
		g.typed(m, []string{"photo", "thumbnail"})
	})
	doc["addresses"] = g.multi(func(m map[string]any) {
		for _, k := range []string{"formatted", "streetAddress", "locality", "region", "postalCode", "country"} {
			g.maybe(m, k, 0.5, g.str)
		}
		g.maybe(m, "type", 0.6, func() any { return g.pick([]string{"work", "home", "other"}) })
	})
	doc["entitlements"] = g.multi(func(m map[string]any) {
		g.maybe(m, "value", 0.9, g.str)
		g.typed(m, []string{"license", "seat"})
	})
	doc["x509Certificates"] = g.multi(func(m map[string]any) {
		g.maybe(m, "value", 0.9, func() any { return g.pick([]string{"TUlJQw==", "bWlpYw==", "QUJD", "YWJj"}) })
		g.typed(m, []string{"signing"})
	})
	if g.chance(0.6) {
		ent := map[string]any{}
		for _, k := range []string{"employeeNumber", "costCenter", "organization", "division", "department"} {
			g.maybe(ent, k, 0.5, g.str)
		}
		if g.chance(0.5) {
			mgr := map[string]any{}
			g.maybe(mgr, "value", 0.8, g.str)
			g.maybe(mgr, "$ref", 0.3, func() any { return "../Users/" + g.text() })
			ent["manager"] = mgr
		}
		doc[schemas.EnterpriseURN] = ent
	}
	return prune(doc).(map[string]any)
}

// prune drops the nulls a generated document has, as the server does
// before storing (it keeps "" and empty objects and arrays, which must
// read as absent all the same).
func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			if x != nil {
				out[k] = prune(x)
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(t))
		for _, x := range t {
			out = append(out, prune(x))
		}
		return out
	}
	return v
}

// directory creates the users and groups of the tenant.
func (g *diffGen) directory(e *env, tenantID string) directory {
	d := directory{userDocs: map[string]map[string]any{}, groupDocs: map[string]map[string]any{}}
	docs := map[string]map[string]any{}
	var live []store.User
	e.must(func(ctx context.Context, tx store.Tx) error {
		owner := false
		for i := range diffUsers + 10 {
			doc := g.userDoc(i)
			u := userFromDoc(tenantID, doc)
			u.Active = g.chance(0.8)
			u.State = store.StateActive
			if !u.Active {
				u.State = store.StateInactive
			}
			u.Role = g.pick([]string{store.RoleAdmin, store.RoleMember, store.RoleMember, store.RoleViewer, store.RoleGuest, ""})
			if !owner && g.chance(0.1) {
				u.Role, owner = store.RoleOwner, true
			}
			u.Created = at(time.Duration(g.rnd.IntN(5000)) * time.Millisecond).Add(time.Duration(g.rnd.IntN(3)) * time.Microsecond)
			u.Modified = u.Created.Add(time.Duration(g.rnd.IntN(1000)) * time.Second)
			if err := tx.CreateUser(ctx, &u); err != nil {
				return fmt.Errorf("CreateUser %q: %w", u.UserName, err)
			}
			if g.chance(0.2) { // a second version
				if err := tx.UpdateUser(ctx, &u, u.Version); err != nil {
					return err
				}
			}
			if i >= diffUsers { // tombstones, which never match
				if err := tx.DeleteUser(ctx, tenantID, u.ID, u.Modified, g.chance(0.5)); err != nil {
					return err
				}
				continue
			}
			live = append(live, u)
			docs[u.ID] = doc
		}
		return nil
	})
	d.users = live

	type groupSpec struct {
		g       store.Group
		members []string
	}
	var groups []*groupSpec
	e.must(func(ctx context.Context, tx store.Tx) error {
		for i := range diffGroups {
			doc := map[string]any{"displayName": fmt.Sprintf("%s %d", g.text(), i)}
			g.maybe(doc, "externalId", 0.5, g.str)
			doc = prune(doc).(map[string]any)
			raw, _ := json.Marshal(doc)
			gr := store.Group{TenantID: tenantID, ID: newID(), DisplayName: doc["displayName"].(string),
				ExternalID: str(doc["externalId"]), Doc: raw,
				Created:  at(time.Duration(g.rnd.IntN(5000)) * time.Millisecond),
				Modified: at(time.Hour + time.Duration(g.rnd.IntN(1000))*time.Microsecond)}
			if err := tx.CreateGroup(ctx, &gr); err != nil {
				return err
			}
			groups = append(groups, &groupSpec{g: gr})
		}
		for i, gs := range groups {
			if g.chance(0.2) {
				continue // no members
			}
			var ids []string
			for range g.rnd.IntN(12) {
				ids = append(ids, live[g.rnd.IntN(len(live))].ID)
			}
			if g.chance(0.3) {
				if j := g.rnd.IntN(len(groups)); j != i {
					ids = append(ids, groups[j].g.ID)
				}
			}
			if _, err := tx.AddMembers(ctx, tenantID, gs.g.ID, ids); err != nil {
				return err
			}
			for _, id := range ids {
				if !slices.Contains(gs.members, id) {
					gs.members = append(gs.members, id)
				}
			}
		}
		return nil
	})

	// The resources as the server renders them.
	byID := map[string]store.User{}
	for _, u := range live {
		byID[u.ID] = u
	}
	groupByID := map[string]*groupSpec{}
	for _, gs := range groups {
		groupByID[gs.g.ID] = gs
	}
	for _, u := range live {
		doc := renderDiffUser(u, docs[u.ID])
		var refs []any
		for _, gs := range groups {
			if slices.Contains(gs.members, u.ID) {
				refs = append(refs, map[string]any{"value": gs.g.ID, "display": gs.g.DisplayName,
					"$ref": diffBase + "/Groups/" + gs.g.ID, "type": "direct"})
			}
		}
		if len(refs) > 0 {
			doc["groups"] = refs
		}
		d.userDocs[u.ID] = doc
	}
	for _, gs := range groups {
		var doc map[string]any
		_ = json.Unmarshal(gs.g.Doc, &doc)
		doc["id"] = gs.g.ID
		doc["meta"] = diffMeta("Group", gs.g.ID, gs.g.Created, gs.g.Modified, gs.g.Version)
		var ms []any
		for _, id := range gs.members {
			if u, ok := byID[id]; ok {
				display := u.DisplayName
				if display == "" {
					display = u.UserName
				}
				ms = append(ms, map[string]any{"value": id, "display": display, "$ref": diffBase + "/Users/" + id, "type": "User"})
			} else {
				ms = append(ms, map[string]any{"value": id, "display": groupByID[id].g.DisplayName,
					"$ref": diffBase + "/Groups/" + id, "type": "Group"})
			}
		}
		if len(ms) > 0 {
			doc["members"] = ms
		}
		d.groupDocs[gs.g.ID] = doc
		d.groups = append(d.groups, gs.g.ID)
	}
	return d
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// userFromDoc derives a user's columns from its document as the SCIM
// layer does (scim.userColumns): emails with a value go to the emails
// table, with their type and primary flag.
func userFromDoc(tenantID string, doc map[string]any) store.User {
	u := store.User{TenantID: tenantID, ID: newID(), UserName: str(doc["userName"]),
		ExternalID: str(doc["externalId"]), DisplayName: str(doc["displayName"])}
	name, _ := doc["name"].(map[string]any)
	u.GivenName, u.FamilyName = str(name["givenName"]), str(name["familyName"])
	emails, _ := doc["emails"].([]any)
	for _, x := range emails {
		m, _ := x.(map[string]any)
		if v := str(m["value"]); v != "" {
			p, _ := m["primary"].(bool)
			u.Emails = append(u.Emails, store.Email{Value: v, Type: str(m["type"]), Primary: p})
		}
	}
	u.Doc, _ = json.Marshal(doc)
	return u
}

// renderDiffUser renders a user as the server does (scim.renderUser): the
// document with id, active, roles and meta.
func renderDiffUser(u store.User, stored map[string]any) map[string]any {
	var doc map[string]any
	raw, _ := json.Marshal(stored)
	_ = json.Unmarshal(raw, &doc)
	doc["id"] = u.ID
	doc["active"] = u.Active
	if u.Role != "" {
		doc["roles"] = []any{map[string]any{"value": u.Role, "primary": true}}
	}
	doc["meta"] = diffMeta("User", u.ID, u.Created, u.Modified, u.Version)
	return doc
}

func diffMeta(rtype, id string, created, modified time.Time, version int64) map[string]any {
	return map[string]any{
		"resourceType": rtype,
		"created":      created.UTC().Format(time.RFC3339Nano),
		"lastModified": modified.UTC().Format(time.RFC3339Nano),
		"location":     diffBase + "/" + rtype + "s/" + id,
		"version":      `W/"` + strconv.FormatInt(version, 10) + `"`,
	}
}

// collect records the values of every attribute of a rendered resource.
func (g *diffGen) collect(rt *schemas.ResourceType, doc map[string]any) {
	var walk func(a *schemas.Attr, v any)
	walk = func(a *schemas.Attr, v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, s := range a.Sub {
				walk(s, x[s.Name])
			}
		case []any:
			for _, el := range x {
				walk(a, el)
			}
		case string, bool:
			g.values[rt.Name+" "+a.Path] = append(g.values[rt.Name+" "+a.Path], x)
		}
	}
	for _, a := range rt.Attrs() {
		v := doc[a.Name]
		if a.Extension {
			ext, _ := doc[a.Schema].(map[string]any)
			v = ext[a.Name]
		}
		walk(a, v)
	}
}

// filter generates a filter on rt of at most the given depth.
func (g *diffGen) filter(rt *schemas.ResourceType, depth int) store.Filter {
	if depth > 0 && g.chance(0.45) {
		switch g.rnd.IntN(5) {
		case 0, 1:
			return store.And(g.terms(rt, depth))
		case 2, 3:
			return store.Or(g.terms(rt, depth))
		default:
			return store.Not{Term: g.filter(rt, depth-1)}
		}
	}
	return g.leaf(rt)
}

func (g *diffGen) terms(rt *schemas.ResourceType, depth int) []store.Filter {
	terms := make([]store.Filter, 2+g.rnd.IntN(2))
	for i := range terms {
		terms[i] = g.filter(rt, depth-1)
	}
	return terms
}

// filterable returns the attributes of rt a filter may name at the top
// level (singular ones, sub-attributes of singular complex ones, and
// multi-valued ones for pr) and the multi-valued ones.
func filterable(rt *schemas.ResourceType) (top, multi []*schemas.Attr) {
	for _, a := range rt.Attrs() {
		switch {
		case a.Returned == schemas.ReturnedNever:
		case a.MultiValued:
			multi = append(multi, a)
			top = append(top, a)
		case a.Type == schemas.TypeComplex:
			top = append(top, a)
			top = append(top, a.Sub...)
		default:
			top = append(top, a)
		}
	}
	return top, multi
}

func (g *diffGen) leaf(rt *schemas.ResourceType) store.Filter {
	top, multi := filterable(rt)
	if g.chance(0.35) {
		m := multi[g.rnd.IntN(len(multi))]
		if rt == schemas.User && g.chance(0.3) {
			// The derived and table-backed ones more often.
			m, _ = rt.Lookup(g.pick([]string{"emails", "roles", "groups"}))
		}
		return store.ValuePath{Attr: m.Path, Filter: g.inner(rt, m, 2)}
	}
	return g.cmp(rt, top[g.rnd.IntN(len(top))])
}

// inner generates the filter of a value path on m.
func (g *diffGen) inner(rt *schemas.ResourceType, m *schemas.Attr, depth int) store.Filter {
	if depth > 0 && g.chance(0.4) {
		terms := make([]store.Filter, 2+g.rnd.IntN(2))
		for i := range terms {
			terms[i] = g.inner(rt, m, depth-1)
		}
		switch g.rnd.IntN(3) {
		case 0:
			return store.And(terms)
		case 1:
			return store.Or(terms)
		default:
			return store.Not{Term: terms[0]}
		}
	}
	return g.cmp(rt, m.Sub[g.rnd.IntN(len(m.Sub))])
}

var stringOps = []store.Op{store.OpEq, store.OpNe, store.OpCo, store.OpSw, store.OpEw, store.OpGt, store.OpGe, store.OpLt, store.OpLe, store.OpPr}

// cmp generates a comparison on a with a value drawn from the data.
func (g *diffGen) cmp(rt *schemas.ResourceType, a *schemas.Attr) store.Cmp {
	c := store.Cmp{Attr: a.Path, CaseExact: a.CaseExact, Base: diffBase}
	if g.chance(0.15) {
		c.CaseExact = !c.CaseExact
	}
	kind := store.KindOf(a)
	if a.MultiValued || kind == store.KindComplex || g.chance(0.08) {
		c.Op = store.OpPr
		return c
	}
	seen := g.values[rt.Name+" "+a.Path]
	switch kind {
	case store.KindBool:
		c.Op = g.pick2([]store.Op{store.OpEq, store.OpNe})
		c.Value = g.chance(0.5)
	case store.KindTime:
		c.Op = stringOps[g.rnd.IntN(len(stringOps))]
		for c.Op == store.OpCo || c.Op == store.OpSw || c.Op == store.OpEw || c.Op == store.OpPr {
			c.Op = stringOps[g.rnd.IntN(len(stringOps))]
		}
		t := at(time.Duration(g.rnd.IntN(5000)) * time.Millisecond)
		if len(seen) > 0 && g.chance(0.8) {
			t, _ = time.Parse(time.RFC3339Nano, seen[g.rnd.IntN(len(seen))].(string))
		}
		t = t.Add(g.pickDur()).In(time.FixedZone("z", g.rnd.IntN(5)*3600-7200))
		c.Value = t
	default:
		c.Op = stringOps[g.rnd.IntN(len(stringOps)-1)]
		v := g.text()
		if len(seen) > 0 && g.chance(0.85) {
			v, _ = seen[g.rnd.IntN(len(seen))].(string)
		}
		c.Value = g.mangle(v, c.Op)
	}
	return c
}

func (g *diffGen) pick2(ops []store.Op) store.Op { return ops[g.rnd.IntN(len(ops))] }

func (g *diffGen) pickDur() time.Duration {
	return []time.Duration{0, 0, 0, time.Microsecond, -time.Microsecond, 500 * time.Nanosecond, -time.Nanosecond, time.Second}[g.rnd.IntN(8)]
}

// mangle turns a value from the data into a comparison value: as it is,
// in another case, or a part of it for co, sw, ew and the orderings.
func (g *diffGen) mangle(v string, op store.Op) string {
	switch g.rnd.IntN(6) {
	case 0:
		v = strings.ToUpper(v)
	case 1:
		v = strings.ToLower(v)
	case 2:
		rs := []rune(v)
		for i, r := range rs {
			if g.chance(0.5) {
				rs[i] = unicode.SimpleFold(r)
			}
		}
		v = string(rs)
	}
	rs := []rune(v)
	if len(rs) > 1 && (op == store.OpCo || op == store.OpSw || op == store.OpEw || op == store.OpGt || op == store.OpLt) && g.chance(0.7) {
		i := g.rnd.IntN(len(rs))
		j := i + 1 + g.rnd.IntN(len(rs)-i)
		switch op {
		case store.OpSw:
			i = 0
		case store.OpEw:
			j = len(rs)
		}
		v = string(rs[i:j])
	}
	if g.chance(0.02) {
		v = ""
	}
	return v
}

// format writes f in SCIM filter syntax, for failure messages.
func format(f store.Filter) string {
	switch f := f.(type) {
	case store.And:
		return join(f, " and ")
	case store.Or:
		return join(f, " or ")
	case store.Not:
		return "not (" + format(f.Term) + ")"
	case store.ValuePath:
		return f.Attr + "[" + format(f.Filter) + "]"
	case store.Cmp:
		s := f.Attr + " " + string(f.Op)
		if f.Op == store.OpPr {
			return s
		}
		switch v := f.Value.(type) {
		case string:
			s += " " + strconv.Quote(v)
		case time.Time:
			s += ` "` + v.Format(time.RFC3339Nano) + `"`
		default:
			s += fmt.Sprint(" ", v)
		}
		if f.CaseExact {
			s += " (exact)"
		}
		return s
	}
	return fmt.Sprintf("%#v", f)
}

func join(terms []store.Filter, sep string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = "(" + format(t) + ")"
	}
	if len(parts) == 0 {
		return "()"
	}
	return strings.Join(parts, sep)
}
