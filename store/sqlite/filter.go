package sqlite

import (
	"fmt"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// kind is the value type of a filterable attribute.
type kind int

const (
	kString kind = iota
	kBool
	kTime
)

// column describes how one SCIM attribute is stored.
type column struct {
	col string // the column holding the value
	// key is the column holding its folded form (the column itself when
	// every stored value is already folded, as lowercase ids are); "" when
	// there is none, and a case-insensitive comparison is unsupported.
	key      string
	kind     kind
	nullable bool
}

// multi is a multi-valued attribute kept in its own table.
type multi struct {
	from  string // "<table> <alias>"
	link  string // the condition joining a row to the resource
	attrs map[string]column
}

// table is what the compiler knows of one resource type.
type table struct {
	alias string
	attrs map[string]column
	multi map[string]multi
}

var userTable = table{
	alias: "u",
	attrs: map[string]column{
		"id":                {col: "u.id", key: "u.id"}, // ids are lowercase UUIDs
		"userName":          {col: "u.user_name", key: "u.user_name_key"},
		"externalId":        {col: "u.external_id", nullable: true},
		"displayName":       {col: "u.display_name", key: "u.display_name_key", nullable: true},
		"name.givenName":    {col: "u.given_name", key: "u.given_name_key", nullable: true},
		"name.familyName":   {col: "u.family_name", key: "u.family_name_key", nullable: true},
		"active":            {col: "u.active", kind: kBool},
		"roles.value":       {col: "u.role", key: "u.role", nullable: true}, // roles are lower-case constants
		"meta.created":      {col: "u.created", kind: kTime},
		"meta.lastModified": {col: "u.modified", kind: kTime},
	},
	multi: map[string]multi{
		"emails": {
			from: "user_emails e",
			link: "e.tenant_id = u.tenant_id AND e.user_id = u.id",
			attrs: map[string]column{
				"emails.value":   {col: "e.value", key: "e.value_key", nullable: true},
				"emails.type":    {col: "e.type", key: "e.type_key", nullable: true},
				"emails.primary": {col: "e.is_primary", kind: kBool},
			},
		},
	},
}

var groupTable = table{
	alias: "g",
	attrs: map[string]column{
		"id":                {col: "g.id", key: "g.id"}, // ids are lowercase UUIDs
		"displayName":       {col: "g.display_name", key: "g.display_name_key"},
		"externalId":        {col: "g.external_id", nullable: true},
		"meta.created":      {col: "g.created", kind: kTime},
		"meta.lastModified": {col: "g.modified", kind: kTime},
	},
	multi: map[string]multi{
		"members": {
			from: "group_members m",
			link: "m.tenant_id = g.tenant_id AND m.group_id = g.id",
			attrs: map[string]column{
				"members.value": {col: "m.member_id", key: "m.member_id"}, // user ids are lowercase
			},
		},
	},
}

// compileWhere compiles f to an SQL condition that is never NULL, with its
// bound parameters in order. A nil filter is true. Anything the table
// cannot answer is a *store.UnsupportedError.
func compileWhere(t table, f store.Filter) (string, []any, error) {
	if f == nil {
		return "1", nil, nil
	}
	c := compiler{t: t}
	var b strings.Builder
	if err := c.node(&b, f, t.attrs, ""); err != nil {
		return "", nil, err
	}
	return b.String(), c.args, nil
}

type compiler struct {
	t    table
	args []any
}

func unsupported(format string, a ...any) error {
	return &store.UnsupportedError{What: fmt.Sprintf(format, a...)}
}

// node writes f; attrs are the attributes in scope and inside names the
// multi-valued attribute whose value path is being compiled ("" at top).
func (c *compiler) node(b *strings.Builder, f store.Filter, attrs map[string]column, inside string) error {
	switch f := f.(type) {
	case store.And:
		return c.list(b, f, " AND ", "1", attrs, inside)
	case store.Or:
		return c.list(b, f, " OR ", "0", attrs, inside)
	case store.Not:
		if f.Term == nil {
			return unsupported("empty not")
		}
		b.WriteString("NOT (")
		if err := c.node(b, f.Term, attrs, inside); err != nil {
			return err
		}
		b.WriteString(")")
		return nil
	case store.Cmp:
		col, ok := attrs[f.Attr]
		if !ok {
			if inside != "" {
				return unsupported("attribute %q inside a filter on %q", f.Attr, inside)
			}
			return unsupported("filter on attribute %q", f.Attr)
		}
		return c.cmp(b, f, col)
	case store.ValuePath:
		if inside != "" {
			return unsupported("nested value filter on %q", f.Attr)
		}
		m, ok := c.t.multi[f.Attr]
		if !ok {
			return unsupported("value filter on attribute %q", f.Attr)
		}
		if f.Filter == nil {
			return unsupported("empty value filter on %q", f.Attr)
		}
		b.WriteString("EXISTS (SELECT 1 FROM " + m.from + " WHERE " + m.link + " AND (")
		if err := c.node(b, f.Filter, m.attrs, f.Attr); err != nil {
			return err
		}
		b.WriteString("))")
		return nil
	default:
		return unsupported("filter node %T", f)
	}
}

func (c *compiler) list(b *strings.Builder, terms []store.Filter, sep, empty string, attrs map[string]column, inside string) error {
	if len(terms) == 0 {
		b.WriteString(empty)
		return nil
	}
	b.WriteString("(")
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		if t == nil {
			return unsupported("empty filter term")
		}
		if err := c.node(b, t, attrs, inside); err != nil {
			return err
		}
	}
	b.WriteString(")")
	return nil
}

// cmp writes one comparison. Absent (NULL) values make every operator false
// except ne, which is true; the result is never NULL.
func (c *compiler) cmp(b *strings.Builder, f store.Cmp, col column) error {
	op := f.Op
	if f.Op == store.OpPr {
		if col.nullable {
			b.WriteString("(" + col.col + " IS NOT NULL)")
		} else {
			b.WriteString("1")
		}
		return nil
	}
	var expr string
	var arg any
	switch col.kind {
	case kString:
		v, ok := f.Value.(string)
		if !ok {
			return unsupported("%s %s needs a string value", f.Attr, f.Op)
		}
		expr = col.col
		if !f.CaseExact {
			if col.key == "" {
				return unsupported("case-insensitive comparison on %s", f.Attr)
			}
			expr, v = col.key, store.Fold(v)
		}
		switch f.Op {
		case store.OpCo:
			arg = "*" + globEscape(v) + "*"
		case store.OpSw:
			arg = globEscape(v) + "*"
		case store.OpEw:
			arg = "*" + globEscape(v)
		default:
			arg = v
		}
	case kBool:
		v, ok := f.Value.(bool)
		if !ok {
			return unsupported("%s %s needs a boolean value", f.Attr, f.Op)
		}
		if f.Op != store.OpEq && f.Op != store.OpNe {
			return unsupported("operator %s on boolean attribute %s", f.Op, f.Attr)
		}
		expr, arg = col.col, b2i(v)
	case kTime:
		v, ok := f.Value.(time.Time)
		if !ok {
			return unsupported("%s %s needs a date-time value", f.Attr, f.Op)
		}
		if f.Op == store.OpCo || f.Op == store.OpSw || f.Op == store.OpEw {
			return unsupported("operator %s on date-time attribute %s", f.Op, f.Attr)
		}
		us, fraction := floorMicro(v)
		if fraction {
			// Stored times are whole microseconds, so none equals v and
			// each lies strictly before or after it: col ≥ v ⇔ col > ⌊v⌋
			// and col < v ⇔ col ≤ ⌊v⌋.
			switch op {
			case store.OpEq:
				b.WriteString("0")
				return nil
			case store.OpNe:
				b.WriteString("1")
				return nil
			case store.OpGe:
				op = store.OpGt
			case store.OpLt:
				op = store.OpLe
			}
		}
		expr, arg = col.col, us
	}
	var sqlOp string
	switch op {
	case store.OpEq:
		sqlOp = " = ?"
	case store.OpNe:
		sqlOp = " <> ?"
	case store.OpGt:
		sqlOp = " > ?"
	case store.OpGe:
		sqlOp = " >= ?"
	case store.OpLt:
		sqlOp = " < ?"
	case store.OpLe:
		sqlOp = " <= ?"
	case store.OpCo, store.OpSw, store.OpEw:
		sqlOp = " GLOB ?"
	default:
		return unsupported("operator %q", f.Op)
	}
	c.args = append(c.args, arg)
	switch {
	case !col.nullable:
		b.WriteString("(" + expr + sqlOp + ")")
	case op == store.OpNe:
		b.WriteString("(" + expr + " IS NULL OR " + expr + sqlOp + ")")
	default:
		b.WriteString("(" + expr + " IS NOT NULL AND " + expr + sqlOp + ")")
	}
	return nil
}

// floorMicro returns t in unix microseconds rounded down, and whether t had
// a finer part that the rounding dropped.
func floorMicro(t time.Time) (int64, bool) {
	us := t.UnixMicro() // truncates towards zero
	if time.UnixMicro(us).After(t) {
		us--
	}
	return us, !time.UnixMicro(us).Equal(t)
}

// globEscape quotes the GLOB metacharacters of s so that it matches itself.
// GLOB (unlike LIKE) is case-sensitive, which both the exact and the folded
// columns need.
func globEscape(s string) string {
	if !strings.ContainsAny(s, "*?[") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// compileOrder returns the ORDER BY list of q: by id without SortBy, else
// by the attribute (its folded key unless q.CaseExact), absent values last
// ascending and first descending, ties by id in the same direction.
func compileOrder(t table, q store.Query) (string, error) {
	id := t.alias + ".id"
	dir := " ASC"
	if q.Descending {
		dir = " DESC"
	}
	if q.SortBy == "" {
		return id + dir, nil
	}
	col, ok := t.attrs[q.SortBy]
	if !ok {
		return "", unsupported("sort by attribute %q", q.SortBy)
	}
	if q.SortBy == "id" {
		return id + dir, nil
	}
	expr := col.col
	if !q.CaseExact && col.kind == kString {
		if col.key == "" {
			return "", unsupported("case-insensitive sort by %q", q.SortBy)
		}
		expr = col.key
	}
	nulls := " NULLS LAST"
	if q.Descending {
		nulls = " NULLS FIRST"
	}
	return expr + dir + nulls + ", " + id + dir, nil
}
