package postgres

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// kind is the type of a filterable attribute.
type kind int

const (
	kindString kind = iota // text; the key column holds its folded form
	kindID                 // a uuid column compared as canonical text
	kindBool
	kindTime
)

// column is where a filterable attribute lives. exact is the column (with
// its table alias); key is the folded column for caseExact=false matching,
// "" when there is none.
type column struct {
	exact, key string
	kind       kind
}

// multi is a multi-valued attribute whose values live in their own table;
// exists is an EXISTS subquery with one %s for the condition on the value
// row.
type multi struct {
	exists string
	attrs  map[string]column
}

// resource describes what the filter compiler and the sorter may use of one
// resource type; alias is the table alias of its main table.
type resource struct {
	name  string
	alias string
	attrs map[string]column
	multi map[string]multi
}

var userResource = resource{
	name:  "User",
	alias: "u",
	attrs: map[string]column{
		"id":                {exact: "u.id", kind: kindID},
		"userName":          {exact: "u.user_name", key: "u.user_name_key"},
		"externalId":        {exact: "u.external_id"},
		"displayName":       {exact: "u.display_name", key: "u.display_name_key"},
		"name.givenName":    {exact: "u.given_name", key: "u.given_name_key"},
		"name.familyName":   {exact: "u.family_name", key: "u.family_name_key"},
		"active":            {exact: "u.active", kind: kindBool},
		"roles.value":       {exact: "u.role", key: "u.role"}, // roles are lowercase constants
		"meta.created":      {exact: "u.created", kind: kindTime},
		"meta.lastModified": {exact: "u.modified", kind: kindTime},
	},
	multi: map[string]multi{
		"emails": {
			exists: "EXISTS (SELECT 1 FROM user_emails e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id AND (%s))",
			attrs: map[string]column{
				"emails.value":   {exact: "e.value", key: "e.value_key"},
				"emails.type":    {exact: "e.type", key: "e.type_key"},
				"emails.primary": {exact: "e.is_primary", kind: kindBool},
			},
		},
	},
}

var groupResource = resource{
	name:  "Group",
	alias: "g",
	attrs: map[string]column{
		"id":                {exact: "g.id", kind: kindID},
		"displayName":       {exact: "g.display_name", key: "g.display_name_key"},
		"externalId":        {exact: "g.external_id"},
		"meta.created":      {exact: "g.created", kind: kindTime},
		"meta.lastModified": {exact: "g.modified", kind: kindTime},
	},
	multi: map[string]multi{
		"members": {
			exists: "EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id AND (%s))",
			attrs: map[string]column{
				"members.value": {exact: "m.member_id", kind: kindID},
			},
		},
	},
}

// compileFilter turns f into a SQL condition on res whose values are bound
// parameters appended to args (numbered after the ones already there). A nil
// filter is TRUE. The condition is never NULL where it matters: a
// comparison on an absent (NULL) attribute may yield NULL, which WHERE, AND
// and OR treat as false, and Not wraps its term in COALESCE(…, FALSE).
// Anything the compiler cannot express is a *store.UnsupportedError.
func compileFilter(res *resource, f store.Filter, args []any) (string, []any, error) {
	if f == nil {
		return "TRUE", args, nil
	}
	c := compiler{res: res, args: args}
	sql, err := c.node(f, nil)
	if err != nil {
		return "", nil, err
	}
	return sql, c.args, nil
}

type compiler struct {
	res  *resource
	args []any
}

// param binds v and returns its placeholder.
func (c *compiler) param(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

func unsupported(format string, a ...any) error {
	return &store.UnsupportedError{What: fmt.Sprintf(format, a...)}
}

// node compiles f; inside is the multi-valued attribute whose value row is
// in scope (nil at the top level).
func (c *compiler) node(f store.Filter, inside *multi) (string, error) {
	switch f := f.(type) {
	case store.And:
		return c.list(f, " AND ", "TRUE", inside)
	case store.Or:
		return c.list(f, " OR ", "FALSE", inside)
	case store.Not:
		if f.Term == nil {
			return "", unsupported("empty filter term")
		}
		term, err := c.node(f.Term, inside)
		if err != nil {
			return "", err
		}
		return "(NOT COALESCE(" + term + ", FALSE))", nil
	case *store.Not:
		if f == nil {
			return "", unsupported("empty filter term")
		}
		return c.node(*f, inside)
	case store.Cmp:
		return c.cmp(f, inside)
	case *store.Cmp:
		if f == nil {
			return "", unsupported("empty filter term")
		}
		return c.cmp(*f, inside)
	case store.ValuePath:
		return c.valuePath(f, inside)
	case *store.ValuePath:
		if f == nil {
			return "", unsupported("empty filter term")
		}
		return c.valuePath(*f, inside)
	case nil:
		return "", unsupported("empty filter term")
	default:
		return "", unsupported("filter node %T", f)
	}
}

func (c *compiler) list(terms []store.Filter, sep, empty string, inside *multi) (string, error) {
	if len(terms) == 0 {
		return empty, nil
	}
	parts := make([]string, len(terms))
	for i, t := range terms {
		s, err := c.node(t, inside)
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return "(" + strings.Join(parts, sep) + ")", nil
}

func (c *compiler) valuePath(v store.ValuePath, inside *multi) (string, error) {
	if inside != nil {
		return "", unsupported("nested value filter on %q", v.Attr)
	}
	m, ok := c.res.multi[v.Attr]
	if !ok {
		return "", unsupported("value filter on %s attribute %q", c.res.name, v.Attr)
	}
	if v.Filter == nil {
		return "", unsupported("empty value filter on %q", v.Attr)
	}
	cond, err := c.node(v.Filter, &m)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(m.exists, cond), nil
}

// lookup resolves an attribute name in the current scope.
func (c *compiler) lookup(attr string, inside *multi) (column, bool) {
	if inside != nil {
		col, ok := inside.attrs[attr]
		return col, ok
	}
	col, ok := c.res.attrs[attr]
	return col, ok
}

var sqlOps = map[store.Op]string{
	store.OpEq: "=", store.OpNe: "<>",
	store.OpGt: ">", store.OpGe: ">=", store.OpLt: "<", store.OpLe: "<=",
}

func (c *compiler) cmp(f store.Cmp, inside *multi) (string, error) {
	col, ok := c.lookup(f.Attr, inside)
	if !ok {
		if inside != nil {
			return "", unsupported("attribute %q inside a value filter", f.Attr)
		}
		return "", unsupported("filtering %s on %q", c.res.name, f.Attr)
	}
	switch f.Op {
	case store.OpEq, store.OpNe, store.OpCo, store.OpSw, store.OpEw,
		store.OpGt, store.OpGe, store.OpLt, store.OpLe:
	case store.OpPr:
		if col.kind == kindString {
			return "(" + col.exact + " IS NOT NULL)", nil // "" is stored as NULL
		}
		return "TRUE", nil // NOT NULL columns
	default:
		return "", unsupported("operator %q", f.Op)
	}
	switch col.kind {
	case kindString:
		s, ok := f.Value.(string)
		if !ok {
			return "", unsupported("%T value for %q", f.Value, f.Attr)
		}
		target := col.exact
		if !f.CaseExact {
			if col.key == "" {
				return "", unsupported("case-insensitive comparison on %q", f.Attr)
			}
			target, s = col.key, store.Fold(s)
		}
		return c.text(target, f.Op, s, true), nil
	case kindID:
		s, ok := f.Value.(string)
		if !ok {
			return "", unsupported("%T value for %q", f.Value, f.Attr)
		}
		if !f.CaseExact {
			s = store.Fold(s) // stored ids are lowercase
		}
		switch f.Op {
		case store.OpEq, store.OpNe:
			if !parseID(s) { // no stored id equals it
				if f.Op == store.OpEq {
					return "FALSE", nil
				}
				return "TRUE", nil
			}
			return "(" + col.exact + " " + sqlOps[f.Op] + " " + c.param(s) + "::uuid)", nil
		}
		return c.text("("+col.exact+`::text COLLATE "C")`, f.Op, s, false), nil
	case kindBool:
		b, ok := f.Value.(bool)
		if !ok {
			return "", unsupported("%T value for %q", f.Value, f.Attr)
		}
		if f.Op != store.OpEq && f.Op != store.OpNe {
			return "", unsupported("operator %q on boolean %q", f.Op, f.Attr)
		}
		return "(" + col.exact + " " + sqlOps[f.Op] + " " + c.param(b) + ")", nil
	case kindTime:
		t, ok := f.Value.(time.Time)
		if !ok {
			return "", unsupported("%T value for %q", f.Value, f.Attr)
		}
		return c.time(col.exact, f.Op, t, f.Attr)
	}
	return "", unsupported("attribute %q", f.Attr)
}

// text compiles a comparison of a text expression with s. nullable says
// whether expr may be NULL (absent), which makes "ne" true.
func (c *compiler) text(expr string, op store.Op, s string, nullable bool) string {
	switch op {
	case store.OpCo:
		return "(" + expr + " LIKE " + c.param("%"+escapeLike(s)+"%") + ` ESCAPE '\')`
	case store.OpSw:
		return "(" + expr + " LIKE " + c.param(escapeLike(s)+"%") + ` ESCAPE '\')`
	case store.OpEw:
		return "(" + expr + " LIKE " + c.param("%"+escapeLike(s)) + ` ESCAPE '\')`
	case store.OpNe:
		if nullable {
			return "(" + expr + " IS NULL OR " + expr + " <> " + c.param(s) + ")"
		}
	}
	return "(" + expr + " " + sqlOps[op] + " " + c.param(s) + ")"
}

// time compiles a comparison of a timestamp column (microsecond precision)
// with t exactly: a t with a sub-microsecond part equals no stored time and
// sits strictly between two of them.
func (c *compiler) time(expr string, op store.Op, t time.Time, attr string) (string, error) {
	t = t.UTC()
	tr := t.Truncate(time.Microsecond)
	fraction := !tr.Equal(t)
	switch op {
	case store.OpEq, store.OpNe, store.OpGt, store.OpGe, store.OpLt, store.OpLe:
	default:
		return "", unsupported("operator %q on timestamp %q", op, attr)
	}
	if fraction {
		switch op {
		case store.OpEq:
			return "FALSE", nil
		case store.OpNe:
			return "TRUE", nil
		case store.OpGt, store.OpGe: // col ≥ t ⇔ col > trunc(t)
			op = store.OpGt
		case store.OpLt, store.OpLe: // col < t ⇔ col ≤ trunc(t)
			op = store.OpLe
		}
	}
	return "(" + expr + " " + sqlOps[op] + " " + c.param(tr) + ")", nil
}

// escapeLike escapes the LIKE metacharacters %, _ and the escape character
// \ so that s matches literally.
func escapeLike(s string) string {
	if !strings.ContainsAny(s, `%_\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// order is a compiled sort: col is the sort column without its table alias
// ("" for the default order by id).
type order struct {
	col  string
	desc bool
}

// sortOrder resolves q's sort for res; an attribute that cannot be sorted
// on is a *store.UnsupportedError.
func sortOrder(res *resource, q store.Query) (order, error) {
	if q.SortBy == "" {
		return order{desc: q.Descending}, nil
	}
	col, ok := res.attrs[q.SortBy]
	if !ok {
		return order{}, unsupported("sorting %s by %q", res.name, q.SortBy)
	}
	if col.kind == kindID {
		return order{desc: q.Descending}, nil
	}
	name := col.exact
	if col.kind == kindString && !q.CaseExact {
		if col.key == "" {
			return order{}, unsupported("case-insensitive sorting by %q", q.SortBy)
		}
		name = col.key
	}
	return order{col: name[strings.IndexByte(name, '.')+1:], desc: q.Descending}, nil
}

// keyCol is the extra select-list item that carries the sort key out of a
// subquery over the table named alias ("" when sorting by id).
func (o order) keyCol(alias string) string {
	if o.col == "" {
		return ""
	}
	return ", " + alias + "." + o.col + " AS sort_key"
}

// by is the ORDER BY list over the relation named alias: the subquery's
// table, or "p", the subquery itself (which carries sort_key). Absent values
// sort last ascending and first descending; ties break by id in the same
// direction.
func (o order) by(alias string) string {
	dir := " ASC"
	nulls := " NULLS LAST"
	if o.desc {
		dir, nulls = " DESC", " NULLS FIRST"
	}
	if o.col == "" {
		return alias + ".id" + dir
	}
	key := alias + "." + o.col
	if alias == "p" {
		key = "p.sort_key"
	}
	return key + dir + nulls + ", " + alias + ".id" + dir
}
