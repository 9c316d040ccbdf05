package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// sortCol is a sort key the server keeps in a column or derives from the
// rows it renders the attribute from.
type sortCol struct {
	byID      bool   // the attribute's order is the id's (meta.location, …)
	exact     string // the key
	folded    string // the key of a caseExact=false sort ("" for exact)
	foldExact bool   // the folded key is store.Fold of exact, in SQL
	kind      store.Kind
	notNull   bool // the key is never NULL
	// indexed: the folded key is a nullable column that an index of the
	// live users holds as (tenant_id, key, id); see sortSpec.split.
	indexed bool
}

// firstEmail is the key of a user's primary email, else its first (the
// emails table holds the emails with a value, in their order).
func firstEmail(col string) string {
	return `(SELECT ` + col + ` FROM user_emails e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id
		ORDER BY e.is_primary DESC, e.ord LIMIT 1)`
}

// firstGroup is the key of a user's first group as the user is rendered
// (by display name, then id).
func firstGroup(expr string) string {
	return `(SELECT ` + expr + ` FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
		WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id AND m.member_type = 'User'
		ORDER BY g.display_name, g.id LIMIT 1)`
}

// firstMember is the key of a group's first member as the group is
// rendered (by member id); mu and mg are the member's user or group row.
func firstMember(expr string) string {
	return `(SELECT ` + expr + ` FROM group_members m
		LEFT JOIN users mu ON m.member_type = 'User' AND mu.tenant_id = m.tenant_id AND mu.id = m.member_id
		LEFT JOIN groups mg ON m.member_type = 'Group' AND mg.tenant_id = m.tenant_id AND mg.id = m.member_id
		WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id ORDER BY m.member_id LIMIT 1)`
}

// Sort keys outside the document, by canonical attribute path. The roles
// of a user are its role column rendered as one primary value;
// meta.version sorts by the version number.
var (
	idOrder      = sortCol{byID: true}
	userSortCols = map[string]sortCol{
		"id":                idOrder,
		"meta.location":     idOrder, // base + "/Users/" + id
		"meta.resourceType": idOrder, // always "User"
		"roles.display":     idOrder, // never rendered: absent everywhere
		"roles.type":        idOrder,
		"userName":          {exact: "u.user_name", folded: "u.user_name_key", notNull: true},
		"externalId":        {exact: "u.external_id", foldExact: true},
		"displayName":       {exact: "u.display_name", folded: "u.display_name_key", indexed: true},
		"name.givenName":    {exact: "u.given_name", folded: "u.given_name_key"},
		"name.familyName":   {exact: "u.family_name", folded: "u.family_name_key"},
		"active":            {exact: "u.active", kind: store.KindBool, notNull: true},
		"meta.created":      {exact: "u.created", kind: store.KindTime, notNull: true},
		"meta.lastModified": {exact: "u.modified", kind: store.KindTime, notNull: true},
		"meta.version":      {exact: "u.version", kind: store.KindInteger, notNull: true},
		"roles.value":       {exact: "u.role"}, // roles are lower-case constants
		"roles.primary":     {exact: "CASE WHEN u.role IS NOT NULL THEN TRUE END", kind: store.KindBool},
		"emails.value":      {exact: firstEmail("e.value"), folded: firstEmail("e.value_key")},
		"emails.type":       {exact: firstEmail("e.type"), folded: firstEmail("e.type_key")},
		"emails.primary":    {exact: firstEmail("e.is_primary"), kind: store.KindBool},
		"groups.value":      {exact: firstGroup("g.id::text")},
		"groups.$ref":       {exact: firstGroup("g.id::text")}, // base + "/Groups/" + id
		"groups.display":    {exact: firstGroup("g.display_name"), folded: firstGroup("g.display_name_key")},
		"groups.type":       {exact: firstGroup("'direct'::text")},
	}
	// tombSortCols are userSortCols for tombstones (store.Query.Deleted):
	// an erased one has no userName (user_name is NULL, and user_name_key
	// is store.ErasedKey of the name it had).
	tombSortCols = func() map[string]sortCol {
		c := maps.Clone(userSortCols)
		c["userName"] = sortCol{exact: "u.user_name", folded: "(CASE WHEN NOT u.erased THEN u.user_name_key END)"}
		return c
	}()
	groupSortCols = map[string]sortCol{
		"id":                idOrder,
		"meta.location":     idOrder,
		"meta.resourceType": idOrder,
		"displayName":       {exact: "g.display_name", folded: "g.display_name_key", notNull: true},
		"externalId":        {exact: "g.external_id", foldExact: true},
		"meta.created":      {exact: "g.created", kind: store.KindTime, notNull: true},
		"meta.lastModified": {exact: "g.modified", kind: store.KindTime, notNull: true},
		"meta.version":      {exact: "g.version", kind: store.KindInteger, notNull: true},
		"members.value":     {exact: firstMember("m.member_id::text")},
		"members.type":      {exact: firstMember("m.member_type"), folded: firstMember("lower(m.member_type)")},
		"members.$ref": {
			exact:  firstMember(`CASE m.member_type WHEN 'User' THEN 'Users/' ELSE 'Groups/' END || m.member_id::text`),
			folded: firstMember(`CASE m.member_type WHEN 'User' THEN 'users/' ELSE 'groups/' END || m.member_id::text`),
		},
		"members.display": {
			exact:  firstMember(`COALESCE(mu.display_name, NULLIF(mu.user_name, ''), mg.display_name)`),
			folded: firstMember(`COALESCE(mu.display_name_key, NULLIF(mu.user_name_key, ''), mg.display_name_key)`),
		},
	}
)

// binder numbers bound parameters after the ones already in args; the
// first filter of them are the filter's ($1, the tenant id, included).
type binder struct {
	args   []any
	filter int
}

func (b *binder) param(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// sortSpec is a compiled order: by key (absent values last ascending,
// first descending), then by id in the same direction.
type sortSpec struct {
	key     string // SQL expression of the key over the resource row; "" orders by id alone
	kind    store.Kind
	notNull bool
	alias   string // the resource row's alias
	// split: the key is a nullable column that leads an index
	// (tenant_id, key, id) of the live rows. The order without a position
	// is that index's (NULLs last ascending, first descending), but the
	// rows after a position with a key, ascending (or without one,
	// descending) are two ranges of it, which no one condition selects as
	// a range: a page after such a position reads each range in order and
	// takes the page of their union (segments).
	split bool
}

// compileSort compiles q's order for the resource type rt (schemas.User or
// schemas.Group, rows aliased u and g), binding what it needs in b.
// Attributes without a column are read from the jsonb document: a singular
// one at its path, a sub-attribute of a multi-valued one from its primary
// value, else its first (values are objects; emails without a non-empty
// value are not values). Strings compare in byte order (COLLATE "C"); the
// ones that are not caseExact by store.Fold of the key (computed as the
// filter compiler computes it: lower() under "C" and translate()).
func compileSort(rt *schemas.ResourceType, q store.Query, b *binder) (sortSpec, error) {
	alias, cols := "u", userSortCols
	switch {
	case rt == schemas.Group:
		alias, cols = "g", groupSortCols
	case q.Deleted:
		cols = tombSortCols
	}
	s := sortSpec{alias: alias}
	switch last, err := store.SortsByLastActive(rt, q.SortBy); {
	case err != nil:
		return s, err
	case last: // users_live_last_active_idx; never active is store.NeverActive, the oldest
		s.key, s.kind, s.notNull = "u.last_active", store.KindTime, true
		return s, nil
	}
	sa, err := store.ResolveSort(rt, q.SortBy)
	if err != nil || sa.Attr == nil {
		return s, err
	}
	if c, ok := cols[sa.Attr.Path]; ok {
		if c.byID {
			return s, nil
		}
		s.key, s.kind, s.notNull = c.exact, c.kind, c.notNull
		switch {
		case q.CaseExact || s.kind != store.KindString:
		case c.foldExact:
			s.key = fold(b, s.key)
		case c.folded != "":
			s.key, s.split = c.folded, c.indexed
		}
		if s.kind == store.KindString {
			s.key = "(" + s.key + `) COLLATE "C"`
		}
		return s, nil
	}
	if strings.HasPrefix(sa.Attr.Path, "meta.") {
		return s, unsupported("sorting by %s", sa.Attr.Path)
	}
	doc := alias + ".doc"
	s.kind = sa.Kind
	if sa.Multi == nil {
		s.key, err = docValue(doc, sa.Keys, sa.Kind)
	} else {
		s.key, err = docValue("e.v", sa.Keys, sa.Kind)
		if err == nil {
			mp := doc + " #> " + textArray(store.DocKeys(sa.Multi))
			cond := ""
			if sa.Multi.Path == "emails" {
				cond = ` AND jsonb_typeof(e.v -> 'value') = 'string' AND e.v ->> 'value' <> ''`
			}
			s.key = `(SELECT ` + s.key + ` FROM jsonb_array_elements(CASE WHEN jsonb_typeof(` + mp + `) = 'array' THEN ` +
				mp + ` END) WITH ORDINALITY AS e(v, n) WHERE jsonb_typeof(e.v) = 'object'` + cond + `
				ORDER BY COALESCE(e.v -> 'primary' = 'true'::jsonb, FALSE) DESC, e.n LIMIT 1)`
		}
	}
	if err != nil {
		return s, err
	}
	if s.kind == store.KindString {
		if !q.CaseExact {
			s.key = fold(b, s.key)
		}
		s.key = "(" + s.key + `) COLLATE "C"`
	}
	return s, nil
}

// fold is store.Fold of expr in SQL, as the filter compiler writes it.
func fold(b *binder, expr string) string {
	return "translate(lower((" + expr + `) COLLATE "C"), ` + b.param(foldFrom) + "::text, " + b.param(foldTo) + "::text)"
}

// textArray is an SQL text[] of keys.
func textArray(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "'" + strings.ReplaceAll(k, "'", "''") + "'"
	}
	return "ARRAY[" + strings.Join(q, ", ") + "]::text[]"
}

// docValue is the key of the value at keys in the jsonb doc: a non-empty
// string or a boolean of the attribute's type, else NULL.
func docValue(doc string, keys []string, k store.Kind) (string, error) {
	v := doc + " #> " + textArray(keys)
	switch k {
	case store.KindString:
		return `NULLIF(CASE WHEN jsonb_typeof(` + v + `) = 'string' THEN ` + v + ` #>> '{}' END, '')`, nil
	case store.KindBool:
		return `CASE WHEN jsonb_typeof(` + v + `) = 'boolean' THEN (` + v + `)::boolean END`, nil
	}
	return "", unsupported("sorting by a %v kept in the document (%s)", k, strings.Join(keys, "."))
}

// byID reports whether the order is by id alone.
func (s sortSpec) byID() bool { return s.key == "" }

// keyExpr is the select-list expression of the key.
func (s sortSpec) keyExpr() string {
	if s.byID() {
		return "NULL::text"
	}
	return s.key
}

// orderBy is the ORDER BY list over the relation named alias, descending
// or not; key is the expression of the key there.
func (s sortSpec) orderBy(alias, key string, desc bool) string {
	dir, nulls := " ASC", " NULLS LAST"
	if desc {
		dir, nulls = " DESC", " NULLS FIRST"
	}
	if s.byID() {
		return alias + ".id" + dir
	}
	return key + dir + nulls + ", " + alias + ".id" + dir
}

// param checks that a position's key fits the sort.
func (s sortSpec) param(v any) (any, error) {
	ok := false
	switch s.kind {
	case store.KindString:
		_, ok = v.(string)
	case store.KindBool:
		_, ok = v.(bool)
	case store.KindTime:
		_, ok = v.(time.Time)
	case store.KindInteger:
		_, ok = v.(int64)
	}
	if !ok {
		return nil, unsupported("a position of type %T does not fit this sort", v)
	}
	return v, nil
}

// keyDest returns a scan destination for the key and the function that
// reads the scanned key as a position's key.
func (s sortSpec) keyDest() (any, func() any) {
	switch {
	case s.byID():
		var v sql.NullString
		return &v, func() any { return nil }
	case s.kind == store.KindBool:
		var v sql.NullBool
		return &v, func() any {
			if !v.Valid {
				return nil
			}
			return v.Bool
		}
	case s.kind == store.KindTime:
		var v sql.NullTime
		return &v, func() any {
			if !v.Valid {
				return nil
			}
			return v.Time.UTC()
		}
	case s.kind == store.KindInteger:
		var v sql.NullInt64
		return &v, func() any {
			if !v.Valid {
				return nil
			}
			return v.Int64
		}
	}
	var v sql.NullString
	return &v, func() any {
		if !v.Valid {
			return nil
		}
		return v.String
	}
}

// after is the condition (never NULL) that a row of the relation aliased
// s.alias comes strictly after p in the order, descending or not; it binds
// its parameters in b.
func (s sortSpec) after(p store.Position, desc bool, b *binder) (string, error) {
	return s.side(p, desc, false, b)
}

// notAfter is the negation of after: a row at or before p in the
// direction read. Where after is one row comparison it is the opposite
// comparison, which the sort's index serves as a range (NOT of the
// comparison it would not: an edge test of a deep page scanned the rows
// in front of it).
func (s sortSpec) notAfter(p store.Position, desc bool, b *binder) (string, error) {
	return s.side(p, desc, true, b)
}

func (s sortSpec) side(p store.Position, desc, not bool, b *binder) (string, error) {
	if !parseID(p.ID) {
		return "", unsupported("a position with the malformed id %q", p.ID)
	}
	if not && !s.byID() && (!s.notNull || p.Key == nil) {
		cond, err := s.side(p, desc, false, b)
		return "NOT " + cond, err
	}
	id := s.alias + ".id"
	cmp := rowCmp(desc, not)
	if s.byID() {
		return "(" + id + cmp + b.param(p.ID) + ")", nil
	}
	if p.Key == nil {
		if desc { // absent keys come first: after p, the other absent ones, then every present one
			return "(" + s.key + " IS NOT NULL OR " + id + " < " + b.param(p.ID) + ")", nil
		}
		return "(" + s.key + " IS NULL AND " + id + " > " + b.param(p.ID) + ")", nil
	}
	k, err := s.param(p.Key)
	if err != nil {
		return "", err
	}
	kp, ip := b.param(k), b.param(p.ID)
	if s.notNull {
		return "((" + s.key + ", " + id + ")" + cmp + "(" + kp + ", " + ip + "))", nil
	}
	cond := "(" + s.key + cmp + kp + " OR (" + s.key + " = " + kp + " AND " + id + cmp + ip + ")"
	if !desc { // absent keys come last
		cond += " OR " + s.key + " IS NULL"
	}
	return cond + ")", nil
}

// segments returns, for a split sort, the conditions of the parts of the
// order that come strictly after p in the direction read, in that order:
// each is one range of the index (tenant_id, key, id), read in the order
// of the key then the id (the key is the same NULL for every row without
// one). There are two — the rows with a key after p, then every row
// without one — when p has a key and the order is ascending, or p has
// none and the order is descending; else one. It binds its parameters in
// b.
func (s sortSpec) segments(p store.Position, desc bool, b *binder) ([]string, error) {
	if !parseID(p.ID) {
		return nil, unsupported("a position with the malformed id %q", p.ID)
	}
	id := s.alias + ".id"
	cmp := " > "
	if desc {
		cmp = " < "
	}
	if p.Key == nil {
		absent := "(" + s.key + " IS NULL AND " + id + cmp + b.param(p.ID) + ")"
		if !desc { // absent keys come last
			return []string{absent}, nil
		}
		return []string{absent, "(" + s.key + " IS NOT NULL)"}, nil
	}
	k, err := s.param(p.Key)
	if err != nil {
		return nil, err
	}
	// A row without a key compares as NULL: false.
	present := "((" + s.key + ", " + id + ")" + cmp + "(" + b.param(k) + ", " + b.param(p.ID) + "))"
	if desc { // absent keys come first
		return []string{present}, nil
	}
	return []string{present, "(" + s.key + " IS NULL)"}, nil
}

// pageSQL is what listPage needs of one resource type.
type pageSQL struct {
	alias   string              // the row's alias: "u"
	table   string              // "users"
	live    string              // the condition on live rows ("TRUE" when every row is)
	counter string              // the tenant_counts kind of the unfiltered total
	counted bool                // tenant_counts holds the number of the rows live selects
	churn   bool                // pages may be conditional on the churn count (store.Query.IfChurn)
	cols    func(string) string // the columns of a row of the relation with that alias
	outer   string              // the select list of a page row (the subquery p)
}

// pageInfo is a page's total, positions and edges.
type pageInfo struct {
	total            int
	keys             []store.Position
	hasPrev, hasNext bool
}

// listPage runs q over the live rows of one resource type in one tenant
// ($1 of b) that match where, in one statement (one snapshot): the total
// (from tenant_counts when there is no filter), one page of rows, and the
// edges q asks for. With q.IfChurn the statement also compares the
// tenant's churn count with it and reads no row when they differ; that is
// store.ErrStale. scan reads one result row through sc (given the
// destinations of p.outer) and returns it with its id, or false for the
// empty side of the outer join.
func listPage[R any](ctx context.Context, r reader, p pageSQL, q store.Query, where string, b *binder, s sortSpec,
	scan func(sc func(dest ...any) error) (R, string, bool, error)) ([]R, pageInfo, error) {
	var info pageInfo
	if q.Offset < 0 || q.Limit < 0 {
		return nil, info, unsupported("negative offset or limit")
	}
	if q.After != nil && q.Before != nil {
		return nil, info, unsupported("a page after one position and before another")
	}
	checked := q.IfChurn != nil
	if checked && (!p.churn || q.Filter != nil || !s.byID() || q.Descending || q.Before != nil) {
		return nil, info, unsupported("a page conditional on the churn count other than of unfiltered users by id ascending")
	}
	a := p.alias
	match := `FROM ` + p.table + ` ` + a + ` WHERE ` + a + `.tenant_id = $1 AND ` + p.live + ` AND (` + where + `)`
	total := `(SELECT count(*) ` + match + `)`
	if q.Filter == nil && p.counted {
		total = `(SELECT COALESCE(sum(n), 0) FROM tenant_counts WHERE tenant_id = $1 AND kind = '` + p.counter + `')`
	}
	countAll := total
	// Every look-up by userName, externalId or email: the count runs, as
	// a statement of its own, only when the page turns out full.
	countLater := q.CountsFromPage() && !q.NoTotal
	reverse := q.Before != nil
	desc := q.Descending != reverse
	pos := q.After
	if reverse {
		pos = q.Before
	}
	switch {
	case q.NoTotal && q.Offset > 0 && pos == nil:
		// Not the total but whether there is a match (1 or 0, read up to
		// the first one), which is what HasPrev of an offset page needs.
		total = `(SELECT count(*) FROM (SELECT 1 ` + match + ` LIMIT 1) AS x)`
	case q.NoTotal || countLater:
		total = `-1::bigint`
	}
	seek, edge := "", "FALSE"
	var segs []string // the parts of a split order after the position
	if pos != nil && s.split {
		var err error
		if segs, err = s.segments(*pos, desc, b); err != nil {
			return nil, info, err
		}
		if len(segs) == 1 {
			seek = " AND " + segs[0]
		}
	}
	if pos != nil && !s.split {
		cond, err := s.after(*pos, desc, b)
		if err != nil {
			return nil, info, err
		}
		seek = " AND " + cond
	}
	if pos != nil && q.Edges {
		// The other side of the position: rows not after it in the
		// direction read (the position's own row included).
		cond, err := s.notAfter(*pos, desc, b)
		if err != nil {
			return nil, info, err
		}
		edge = `EXISTS (SELECT 1 ` + match + ` AND ` + cond + `)`
	}
	if q.Limit == 0 && !q.Edges {
		if q.NoTotal && !checked {
			return nil, pageInfo{total: -1}, nil
		}
		if !checked {
			err := r.q.QueryRowxContext(ctx, `SELECT `+total, b.args[:b.filter]...).Scan(&info.total)
			return nil, info, err
		}
		var fresh bool
		if err := r.q.QueryRowxContext(ctx, `SELECT COALESCE(sum(n), 0), COALESCE(sum(churn), 0) = $2
			FROM tenant_counts WHERE tenant_id = $1 AND kind = '`+p.counter+`'`, b.args[0], *q.IfChurn).Scan(&info.total, &fresh); err != nil {
			return nil, pageInfo{}, err
		}
		if !fresh {
			return nil, pageInfo{}, store.ErrStale
		}
		if q.NoTotal {
			info.total = -1
		}
		return nil, info, nil
	}
	// c is the one row of the total, the edge and (for a checked page)
	// whether the churn count is still the caller's; the page's scan is
	// gated on c.fresh, a one-time filter, so a stale page reads no row.
	head := `(SELECT ` + total + `, ` + edge + `, TRUE) AS c(total, edge, fresh)`
	gate := ""
	if checked {
		head = `(SELECT t.n, ` + edge + `, t.churn = ` + b.param(*q.IfChurn) + `
			FROM (SELECT COALESCE(sum(n), 0), COALESCE(sum(churn), 0) FROM tenant_counts
			WHERE tenant_id = $1 AND kind = '` + p.counter + `') AS t(n, churn)) AS c(total, edge, fresh)`
		gate = ` AND c.fresh`
	}
	// The LIMIT is written into the text, not bound: with a bound LIMIT a
	// prepared statement's generic plan cannot know the page is small,
	// looks dear and keeps PostgreSQL planning every execution afresh.
	// Page sizes are few (count=100 nearly always).
	limit, offset := strconv.Itoa(q.Limit+1), b.param(q.Offset)
	var inner string
	switch {
	case q.Offset > 0 && s.byID():
		// Skip the offset (after the position, if any) on the id index
		// alone (users_live_idx covers it for users), then read the page's
		// rows.
		inner = `SELECT ` + p.cols(a) + `, NULL::text AS sort_key FROM (SELECT ` + a + `.id ` + match + seek + gate +
			` ORDER BY ` + s.orderBy(a, "", desc) + ` LIMIT ` + limit + ` OFFSET ` + offset + `) AS k JOIN ` +
			p.table + ` ` + a + ` ON ` + a + `.tenant_id = $1 AND ` + a + `.id = k.id`
	case len(segs) > 1:
		// Each part of the order after the position, read from its index
		// range in the key's order up to the rows the page may need, then
		// the page of their union.
		dir, need := " ASC", limit
		if desc {
			dir = " DESC"
		}
		if q.Offset > 0 {
			need += " + " + offset + "::bigint"
		}
		arms := make([]string, len(segs))
		for i, seg := range segs {
			arms[i] = `(SELECT ` + p.cols(a) + `, ` + s.key + ` AS sort_key ` + match + ` AND ` + seg + gate +
				` ORDER BY ` + s.key + dir + `, ` + a + `.id` + dir + ` LIMIT ` + need + `)`
		}
		inner = `SELECT * FROM (` + strings.Join(arms, ` UNION ALL `) + `) AS k ORDER BY ` +
			s.orderBy("k", "k.sort_key", desc) + ` LIMIT ` + limit + ` OFFSET ` + offset + `::bigint`
	default:
		inner = `SELECT ` + p.cols(a) + `, ` + s.keyExpr() + ` AS sort_key ` + match + seek + gate +
			` ORDER BY ` + s.orderBy(a, s.key, desc) + ` LIMIT ` + limit + ` OFFSET ` + offset
	}
	query := `SELECT c.total, c.edge, c.fresh, ` + p.outer + `, p.sort_key FROM ` + head +
		` LEFT JOIN LATERAL (` + inner + `) AS p ON TRUE ORDER BY ` + s.orderBy("p", "p.sort_key", desc)
	rows, err := r.q.QueryxContext(ctx, query, b.args...)
	if err != nil {
		return nil, info, err
	}
	defer rows.Close()
	var other, fresh bool
	keyDest, keyOf := s.keyDest()
	sc := func(dest ...any) error {
		return rows.Scan(append(append([]any{&info.total, &other, &fresh}, dest...), keyDest)...)
	}
	var out []R
	for rows.Next() {
		row, id, ok, err := scan(sc)
		if err != nil {
			return nil, info, err
		}
		if ok {
			out = append(out, row)
			info.keys = append(info.keys, store.Position{Key: keyOf(), ID: id})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, info, err
	}
	if checked && !fresh {
		return nil, pageInfo{}, store.ErrStale
	}
	extra := len(out) > q.Limit
	if extra {
		out, info.keys = out[:q.Limit], info.keys[:q.Limit]
	}
	if countLater {
		info.total = len(out)
		if extra {
			if err := r.q.QueryRowxContext(ctx, `SELECT `+countAll, b.args[:b.filter]...).Scan(&info.total); err != nil {
				return nil, info, err
			}
		}
	}
	if reverse {
		info.hasPrev, info.hasNext = extra, other
		slices.Reverse(out)
		slices.Reverse(info.keys)
	} else {
		info.hasNext, info.hasPrev = extra, other
		if pos == nil {
			info.hasPrev = q.Offset > 0 && info.total > 0
		}
	}
	if q.NoTotal {
		info.total = -1
	}
	return out, info, nil
}

// Secret implements store.Store: it inserts a random secret unless one of
// that name exists and returns the stored one.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowxContext(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("postgres: secret: %w", err)
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("postgres: secret: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, fmt.Errorf("postgres: secret: %w", err)
	}
	if err := s.db.QueryRowxContext(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("postgres: secret: %w", err)
	}
	return v, nil
}

// rowCmp is the operator that compares a row with a position: strictly
// after it in the direction read, or (not) at or before it.
func rowCmp(desc, not bool) string {
	switch {
	case desc && not:
		return " >= "
	case desc:
		return " < "
	case not:
		return " <= "
	}
	return " > "
}
