package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// sortCol is a sort key the server keeps in a column or derives from the
// rows it renders the attribute from.
type sortCol struct {
	byID    bool   // the attribute's order is the id's (meta.location, …)
	exact   string // the key
	folded  string // the key of a caseExact=false comparison ("" for exact)
	kind    store.Kind
	notNull bool // the key is never NULL
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
		"externalId":        {exact: "u.external_id", folded: "scimd_fold(u.external_id)"},
		"displayName":       {exact: "u.display_name", folded: "u.display_name_key", indexed: true},
		"name.givenName":    {exact: "u.given_name", folded: "u.given_name_key"},
		"name.familyName":   {exact: "u.family_name", folded: "u.family_name_key"},
		"active":            {exact: "u.active", kind: store.KindBool, notNull: true},
		"meta.created":      {exact: "u.created", kind: store.KindTime, notNull: true},
		"meta.lastModified": {exact: "u.modified", kind: store.KindTime, notNull: true},
		"meta.version":      {exact: "u.version", kind: store.KindInteger, notNull: true},
		"roles.value":       {exact: "u.role"}, // roles are lower-case constants
		"roles.primary":     {exact: "CASE WHEN u.role IS NOT NULL THEN 1 END", kind: store.KindBool},
		"emails.value":      {exact: firstEmail("e.value"), folded: firstEmail("e.value_key")},
		"emails.type":       {exact: firstEmail("e.type"), folded: firstEmail("e.type_key")},
		"emails.primary":    {exact: firstEmail("e.is_primary"), kind: store.KindBool},
		"groups.value":      {exact: firstGroup("g.id")},
		"groups.$ref":       {exact: firstGroup("g.id")}, // base + "/Groups/" + id
		"groups.display":    {exact: firstGroup("g.display_name"), folded: firstGroup("g.display_name_key")},
		"groups.type":       {exact: firstGroup("'direct'")},
	}
	// tombSortCols are userSortCols for tombstones (store.Query.Deleted):
	// an erased one has no userName (user_name is "", and user_name_key is
	// store.ErasedKey of the name it had).
	tombSortCols = func() map[string]sortCol {
		c := maps.Clone(userSortCols)
		c["userName"] = sortCol{exact: "NULLIF(u.user_name, '')", folded: "(CASE WHEN u.erased = 0 THEN u.user_name_key END)"}
		return c
	}()
	groupSortCols = map[string]sortCol{
		"id":                idOrder,
		"meta.location":     idOrder,
		"meta.resourceType": idOrder,
		"displayName":       {exact: "g.display_name", folded: "g.display_name_key", notNull: true},
		"externalId":        {exact: "g.external_id", folded: "scimd_fold(g.external_id)"},
		"meta.created":      {exact: "g.created", kind: store.KindTime, notNull: true},
		"meta.lastModified": {exact: "g.modified", kind: store.KindTime, notNull: true},
		"meta.version":      {exact: "g.version", kind: store.KindInteger, notNull: true},
		"members.value":     {exact: firstMember("m.member_id")},
		"members.type":      {exact: firstMember("m.member_type"), folded: firstMember("lower(m.member_type)")},
		"members.$ref": {
			exact:  firstMember(`CASE m.member_type WHEN 'User' THEN 'Users/' ELSE 'Groups/' END || m.member_id`),
			folded: firstMember(`CASE m.member_type WHEN 'User' THEN 'users/' ELSE 'groups/' END || m.member_id`),
		},
		"members.display": {
			exact:  firstMember(`COALESCE(mu.display_name, NULLIF(mu.user_name, ''), mg.display_name)`),
			folded: firstMember(`COALESCE(mu.display_name_key, NULLIF(mu.user_name_key, ''), mg.display_name_key)`),
		},
	}
)

// sortSpec is a compiled order: by key (absent values last ascending,
// first descending), then by id in the same direction.
type sortSpec struct {
	key     string // SQL expression of the key; "" orders by id alone
	kind    store.Kind
	notNull bool
	id      string // the id column
	// split: the key is a nullable column that leads an index
	// (tenant_id, key, id) of the live rows. SQLite reads the order without
	// a position from that index (NULLs last ascending, first descending),
	// but the rows after a position with a key, ascending (or without one,
	// descending) are two ranges of it, which no one condition selects as
	// a range: a page after such a position reads each range in order and
	// takes the page of their union (segments).
	split bool
}

// compileSort compiles q's order for the resource type rt (schemas.User,
// schemas.Group) whose row has the alias of id ("u.id", "g.id").
// Attributes without a column are read from the JSON document: a
// singular one at its path, a sub-attribute of a multi-valued one from its
// primary value, else its first (values are objects; emails without a
// non-empty value are not values). Strings that are not caseExact sort by
// scimd_fold (store.Fold) of the key.
func compileSort(rt *schemas.ResourceType, q store.Query) (sortSpec, error) {
	alias, cols := "u", userSortCols
	switch {
	case rt == schemas.Group:
		alias, cols = "g", groupSortCols
	case q.Deleted:
		cols = tombSortCols
	}
	s := sortSpec{id: alias + ".id"}
	switch last, err := store.SortsByLastActive(rt, q.SortBy); {
	case err != nil:
		return s, err
	case last: // users_live_last_active; never active is store.NeverActive, the oldest
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
		if !q.CaseExact && c.folded != "" {
			s.key, s.split = c.folded, c.indexed
		}
		return s, nil
	}
	if sa.Attr.Path == "meta.resourceType" || strings.HasPrefix(sa.Attr.Path, "meta.") {
		return s, unsupported("sorting by %s", sa.Attr.Path)
	}
	doc := alias + ".doc"
	s.kind = sa.Kind
	if sa.Multi == nil {
		s.key, err = docValue(doc, sortPath(sa.Keys), sa.Kind)
	} else {
		s.key, err = docValue("j.value", sortPath(sa.Keys), sa.Kind)
		if err == nil {
			mp := sortPath(store.DocKeys(sa.Multi))
			cond := ""
			if sa.Multi.Path == "emails" {
				cond = ` AND json_type(j.value, '$."value"') = 'text' AND json_extract(j.value, '$."value"') <> ''`
			}
			s.key = `(SELECT ` + s.key + ` FROM json_each(` + doc + `, '` + mp + `') j
				WHERE json_type(` + doc + `, '` + mp + `') = 'array' AND j.type = 'object'` + cond + `
				ORDER BY json_type(j.value, '$."primary"') IS 'true' DESC, j.key LIMIT 1)`
		}
	}
	if err != nil {
		return s, err
	}
	if sa.Kind == store.KindString && !q.CaseExact {
		s.key = "scimd_fold(" + s.key + ")"
	}
	return s, nil
}

// sortPath is the SQLite JSON path of keys: $."a"."b".
func sortPath(keys []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range keys {
		b.WriteString(`."` + k + `"`)
	}
	return b.String()
}

// docValue is the key of the value at path in the JSON of doc: a non-empty
// string or a boolean (1 or 0) of the attribute's type, else NULL.
func docValue(doc, path string, k store.Kind) (string, error) {
	if strings.ContainsAny(path, `'\`) || strings.Count(path, `"`)%2 != 0 {
		return "", unsupported("sorting by the document path %s", path)
	}
	typ := `json_type(` + doc + `, '` + path + `')`
	switch k {
	case store.KindString:
		return `NULLIF(CASE WHEN ` + typ + ` = 'text' THEN json_extract(` + doc + `, '` + path + `') END, '')`, nil
	case store.KindBool:
		return `CASE ` + typ + ` WHEN 'true' THEN 1 WHEN 'false' THEN 0 END`, nil
	}
	return "", unsupported("sorting by a %v kept in the document (%s)", k, path)
}

// byID reports whether the order is by id alone.
func (s sortSpec) byID() bool { return s.key == "" }

// keyExpr is the select-list expression of the key.
func (s sortSpec) keyExpr() string {
	if s.byID() {
		return "NULL"
	}
	return s.key
}

// orderBy is the ORDER BY list, descending or not.
func (s sortSpec) orderBy(desc bool) string {
	if s.byID() {
		if desc {
			return s.id + " DESC"
		}
		return s.id + " ASC"
	}
	if desc {
		return s.key + " DESC NULLS FIRST, " + s.id + " DESC"
	}
	return s.key + " ASC NULLS LAST, " + s.id + " ASC"
}

// param converts a position's key to the stored form of the key, checking
// its type.
func (s sortSpec) param(v any) (any, error) {
	bad := func() (any, error) { return nil, unsupported("a position of type %T does not fit this sort", v) }
	switch s.kind {
	case store.KindString:
		if x, ok := v.(string); ok {
			return x, nil
		}
	case store.KindBool:
		if x, ok := v.(bool); ok {
			return b2i(x), nil
		}
	case store.KindTime:
		if x, ok := v.(time.Time); ok {
			return micro(x), nil
		}
	case store.KindInteger:
		if x, ok := v.(int64); ok {
			return x, nil
		}
	}
	return bad()
}

// value converts a stored key (as the driver returns it) to a position's
// key.
func (s sortSpec) value(v any) any {
	if v == nil || s.byID() {
		return nil
	}
	switch s.kind {
	case store.KindString:
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		}
	case store.KindBool:
		if x, ok := v.(int64); ok {
			return x != 0
		}
	case store.KindTime:
		if x, ok := v.(int64); ok {
			return fromMicro(x)
		}
	case store.KindInteger:
		if x, ok := v.(int64); ok {
			return x
		}
	}
	return v
}

// after is the condition (never NULL) that a row comes strictly after p in
// the order, descending or not, with its arguments.
func (s sortSpec) after(p store.Position, desc bool) (string, []any, error) {
	return s.side(p, desc, false)
}

// notAfter is the negation of after: a row at or before p in the
// direction read. Where after is one row comparison it is the opposite
// comparison, which the sort's index serves as a range (NOT of the
// comparison it would not: an edge test of a deep page scanned the rows
// in front of it).
func (s sortSpec) notAfter(p store.Position, desc bool) (string, []any, error) {
	return s.side(p, desc, true)
}

func (s sortSpec) side(p store.Position, desc, not bool) (string, []any, error) {
	if not && !s.byID() && (!s.notNull || p.Key == nil) {
		cond, args, err := s.side(p, desc, false)
		return "NOT " + cond, args, err
	}
	cmp := rowCmp(desc, not)
	if s.byID() {
		return "(" + s.id + cmp + "?)", []any{p.ID}, nil
	}
	if p.Key == nil {
		if desc { // absent keys come first: after p, the other absent ones, then every present one
			return "(" + s.key + " IS NOT NULL OR " + s.id + " < ?)", []any{p.ID}, nil
		}
		return "(" + s.key + " IS NULL AND " + s.id + " > ?)", []any{p.ID}, nil
	}
	k, err := s.param(p.Key)
	if err != nil {
		return "", nil, err
	}
	if s.notNull {
		return "((" + s.key + ", " + s.id + ")" + cmp + "(?, ?))", []any{k, p.ID}, nil
	}
	cond := "(" + s.key + cmp + "? OR (" + s.key + " = ? AND " + s.id + cmp + "?)"
	if !desc { // absent keys come last
		cond += " OR " + s.key + " IS NULL"
	}
	return cond + ")", []any{k, k, p.ID}, nil
}

// segments returns, for a split sort, the conditions (with their
// arguments) of the parts of the order that come strictly after p in the
// direction read, in that order: each is one range of the index
// (tenant_id, key, id), read in the order of the key then the id (the key
// is the same NULL for every row without one). There are two — the rows
// with a key after p, then every row without one — when p has a key and
// the order is ascending, or p has none and the order is descending; else
// one.
func (s sortSpec) segments(p store.Position, desc bool) ([]string, [][]any, error) {
	cmp := " > "
	if desc {
		cmp = " < "
	}
	if p.Key == nil {
		absent, args := "("+s.key+" IS NULL AND "+s.id+cmp+"?)", []any{p.ID}
		if !desc { // absent keys come last
			return []string{absent}, [][]any{args}, nil
		}
		return []string{absent, "(" + s.key + " IS NOT NULL)"}, [][]any{args, nil}, nil
	}
	k, err := s.param(p.Key)
	if err != nil {
		return nil, nil, err
	}
	// A row without a key compares as NULL: false.
	present, args := "(("+s.key+", "+s.id+")"+cmp+"(?, ?))", []any{k, p.ID}
	if desc { // absent keys come first
		return []string{present}, [][]any{args}, nil
	}
	return []string{present, "(" + s.key + " IS NULL)"}, [][]any{args, nil}, nil
}

// pageSQL is what listPage needs of one resource type.
type pageSQL struct {
	alias string // the row's alias: "u"
	from  string // "users u"
	// ids, when set, is the FROM of an offset over the default order: an
	// index holding the live ids alone, so that skipping rows reads no row.
	ids     string
	live    string // the condition on live rows ("1" when every row is)
	cols    string // the select list of a row
	counter string // the tenant_counts kind of the unfiltered total
	counted bool   // tenant_counts holds the number of the rows live selects
	churn   bool   // pages may be conditional on the churn count (store.Query.IfChurn)
}

// pageInfo is a page's total, positions and edges.
type pageInfo struct {
	total            int
	keys             []store.Position
	hasPrev, hasNext bool
}

// listPage runs q over the live rows of one resource type in one tenant
// that match where (with its arguments): the total (from tenant_counts
// when there is no filter), one page of rows scanned into R (a row type
// with a sort_key column) and what idKey reads of each, and the edges q
// asks for. The caller runs it in one transaction (one snapshot). With
// q.IfChurn the statement that reads the total also reads the tenant's
// churn count, and when that differs from the caller's nothing more is
// read: store.ErrStale.
func listPage[R any](ctx context.Context, c conn, p pageSQL, tenantID string, q store.Query, where string, wargs []any,
	s sortSpec, idKey func(*R) (string, any)) ([]R, pageInfo, error) {
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
	base := ` FROM ` + p.from + ` WHERE ` + p.alias + `.tenant_id = ? AND ` + p.live + ` AND (` + where + `)`
	args := append([]any{tenantID}, wargs...)
	var err error
	// Every look-up by userName, externalId or email: counted only when
	// the page turns out full.
	countLater := q.CountsFromPage() && !q.NoTotal
	count := func() error {
		if err := sqlx.GetContext(ctx, c.q, &info.total, `SELECT COUNT(*)`+base, args...); err != nil {
			return fmt.Errorf("sqlite: count %s: %w", p.counter, err)
		}
		return nil
	}
	switch {
	case checked:
		var churn int64
		if err = c.q.QueryRowxContext(ctx, `SELECT COALESCE(sum(n), 0), COALESCE(sum(churn), 0) FROM tenant_counts
			WHERE tenant_id = ? AND kind = ?`, tenantID, p.counter).Scan(&info.total, &churn); err != nil {
			return nil, info, fmt.Errorf("sqlite: count %s: %w", p.counter, err)
		}
		if churn != *q.IfChurn {
			return nil, pageInfo{}, store.ErrStale
		}
	case q.NoTotal:
	case q.Filter == nil && p.counted:
		if err = sqlx.GetContext(ctx, c.q, &info.total, `SELECT COALESCE((SELECT n FROM tenant_counts
			WHERE tenant_id = ? AND kind = ?), 0)`, tenantID, p.counter); err != nil {
			return nil, info, fmt.Errorf("sqlite: count %s: %w", p.counter, err)
		}
	case !countLater:
		if err := count(); err != nil {
			return nil, info, err
		}
	}
	reverse := q.Before != nil
	desc := q.Descending != reverse
	pos := q.After
	if reverse {
		pos = q.Before
	}
	// seek selects the rows after the position for the page, cond (for
	// the edges) the rows not after it; a split order reads them as segs when they are two
	// ranges of its index, by seek when they are one.
	var seek, cond string
	var seekArgs, condArgs []any
	var segs []string
	var segArgs [][]any
	if pos != nil {
		if seek, seekArgs, err = s.after(*pos, desc); err != nil {
			return nil, info, err
		}
		if cond, condArgs, err = s.notAfter(*pos, desc); err != nil {
			return nil, info, err
		}
		if s.split {
			if segs, segArgs, err = s.segments(*pos, desc); err != nil {
				return nil, info, err
			}
			if len(segs) == 1 {
				seek, seekArgs = segs[0], segArgs[0]
			}
		}
	}
	var rows []R
	switch {
	case q.Limit == 0 && !q.Edges:
	case !q.NoTotal && !countLater && pos == nil && q.Offset >= info.total:
		// Past the end (or nothing matches): nothing to read.
		info.hasPrev = q.Offset > 0 && info.total > 0
	default:
		var query string
		var qargs []any
		// The LIMIT is written into the text, not bound: SQLite plans with
		// a bound LIMIT's value and so compiles the statement again
		// whenever it is bound anew, which undoes the prepared-statement
		// cache. Page sizes are few (count=100 nearly always); offsets vary
		// and stay bound.
		limit := ` LIMIT ` + strconv.Itoa(q.Limit+1) + ` OFFSET ?`
		if q.Offset > 0 && s.byID() && p.ids != "" {
			// Skip the offset (after the position, if any) on the index of
			// live ids alone, then read the page's rows by primary key
			// (CROSS JOIN keeps that order of the loops).
			cond := ""
			if seek != "" {
				cond = " AND " + seek
			}
			query = `SELECT ` + p.cols + `, NULL AS sort_key FROM (SELECT ` + s.id + ` AS pid FROM ` + p.ids +
				base[len(` FROM `+p.from):] + cond + ` ORDER BY ` + s.orderBy(desc) + limit + `) AS k CROSS JOIN ` +
				p.from + ` ON ` + p.alias + `.tenant_id = ? AND ` + s.id + ` = k.pid ORDER BY ` + s.orderBy(desc)
			qargs = append(append(append(slices.Clone(args), seekArgs...), q.Offset), tenantID)
		} else if len(segs) > 1 {
			// Each part of the order after the position, read from its
			// index range in the key's order up to the rows the page may
			// need, then the page of their union.
			dir, need := " ASC", strconv.Itoa(q.Limit+1)
			if desc {
				dir = " DESC"
			}
			if q.Offset > 0 {
				need += " + ?"
			}
			arms := make([]string, len(segs))
			for i, seg := range segs {
				arms[i] = `SELECT * FROM (SELECT ` + p.cols + `, ` + s.key + ` AS sort_key` + base + ` AND ` + seg +
					` ORDER BY ` + s.key + dir + `, ` + s.id + dir + ` LIMIT ` + need + `)`
				qargs = append(append(qargs, args...), segArgs[i]...)
				if q.Offset > 0 {
					qargs = append(qargs, q.Offset)
				}
			}
			ks := sortSpec{key: "k.sort_key", id: "k.id"}
			query = `SELECT * FROM (` + strings.Join(arms, ` UNION ALL `) + `) AS k ORDER BY ` + ks.orderBy(desc) + limit
			qargs = append(qargs, q.Offset)
		} else {
			cond := ""
			if seek != "" {
				cond = " AND " + seek
			}
			query = `SELECT ` + p.cols + `, ` + s.keyExpr() + ` AS sort_key` + base + cond +
				` ORDER BY ` + s.orderBy(desc) + limit
			qargs = append(append(slices.Clone(args), seekArgs...), q.Offset)
		}
		if err := sqlx.SelectContext(ctx, c.q, &rows, query, qargs...); err != nil {
			return nil, info, fmt.Errorf("sqlite: list %s: %w", p.counter, err)
		}
		extra := len(rows) > q.Limit
		if extra {
			rows = rows[:q.Limit]
		}
		if countLater {
			if extra {
				if err := count(); err != nil {
					return nil, info, err
				}
			} else {
				info.total = len(rows)
			}
		}
		if reverse {
			info.hasPrev = extra
			slices.Reverse(rows)
		} else {
			info.hasNext = extra
			switch {
			case pos != nil || q.Offset == 0:
			case !q.NoTotal:
				info.hasPrev = info.total > 0
			case len(rows) > 0:
				info.hasPrev = true
			default: // without the total: whether any row matches
				if err := sqlx.GetContext(ctx, c.q, &info.hasPrev, `SELECT EXISTS (SELECT 1`+base+`)`, args...); err != nil {
					return nil, info, fmt.Errorf("sqlite: list %s: %w", p.counter, err)
				}
			}
		}
	}
	if pos != nil && q.Edges {
		// The other side of the position: rows not after it in the
		// direction read (the position's own row included).
		var other bool
		if err := sqlx.GetContext(ctx, c.q, &other, `SELECT EXISTS (SELECT 1`+base+` AND `+cond+`)`,
			append(slices.Clone(args), condArgs...)...); err != nil {
			return nil, info, fmt.Errorf("sqlite: list %s: %w", p.counter, err)
		}
		if reverse {
			info.hasNext = other
		} else {
			info.hasPrev = other
		}
	}
	info.keys = make([]store.Position, len(rows))
	for i := range rows {
		id, k := idKey(&rows[i])
		info.keys[i] = store.Position{Key: s.value(k), ID: id}
	}
	if q.NoTotal {
		info.total = -1
	}
	return rows, info, nil
}

// Secret implements store.Store: it inserts a random secret unless one
// of that name exists and returns the stored one.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := sqlx.GetContext(ctx, s.r, &v, `SELECT value FROM secrets WHERE name = ?`, name)
	if err == nil {
		return v, nil
	}
	if !isNoRows(err) {
		return nil, fmt.Errorf("sqlite: secret: %w", err)
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("sqlite: secret: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO secrets (name, value, created) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, fresh, micro(time.Now())); err != nil {
		return nil, fmt.Errorf("sqlite: secret: %w", err)
	}
	if err := sqlx.GetContext(ctx, s.w, &v, `SELECT value FROM secrets WHERE name = ?`, name); err != nil {
		return nil, fmt.Errorf("sqlite: secret: %w", err)
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
