package postgres

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/schemas"
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
// "" when there is none. state, set on active of live users only, is the
// state column that answers eq and ne on it (store.ActiveState).
type column struct {
	exact, key string
	kind       kind
	state      string
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
		"active":            {exact: "u.active", kind: kindBool, state: "u.state"},
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

// tombResource is userResource for tombstones (store.Query.Deleted): the
// userName key of an erased one is store.ErasedKey of the name it had,
// which no filter may see (its user_name is NULL); every one is inactive
// in the state 'deleted', so active is a test of the column.
var tombResource = func() resource {
	r := userResource
	r.attrs = maps.Clone(r.attrs)
	r.attrs["userName"] = column{exact: "u.user_name", key: "(CASE WHEN NOT u.erased THEN u.user_name_key END)"}
	r.attrs["active"] = column{exact: "u.active", kind: kindBool}
	return r
}()

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
// comparison on an absent (NULL) column may yield NULL, which WHERE, AND
// and OR treat as false, and Not wraps its term in COALESCE(…, FALSE);
// comparisons on document values are never NULL.
//
// Attributes with a column (res.attrs, the emails and members tables) are
// compared on it (on its folded *_key column unless caseExact); the ones
// the server derives (roles, groups, members, meta) on the rows they are
// rendered from; every other attribute on the jsonb document with -> and
// jsonb_typeof, the values of a multi-valued one with jsonb_array_elements
// in an EXISTS. Document values are folded by fold, which is store.Fold.
// Anything the compiler cannot express is a *store.UnsupportedError.
//
// $1 (args[0]) must be the tenant id, and live the condition the query
// puts on the rows besides the filter (over res.alias): an Or with a term
// on the emails table repeats them (see compiler.orByID).
func compileFilter(res *resource, f store.Filter, args []any, live string) (string, []any, error) {
	if f == nil {
		return "TRUE", args, nil
	}
	c := compiler{res: res, args: args, rt: schemas.User, live: live}
	if res.alias == "g" {
		c.rt = schemas.Group
	}
	sql, err := c.node(f, nil)
	if err != nil {
		return "", nil, err
	}
	return sql, c.args, nil
}

type compiler struct {
	res  *resource
	rt   *schemas.ResourceType
	args []any
	live string // the query's condition on the rows besides the filter
	// from and to are the parameters holding foldFrom and foldTo, once
	// bound.
	from, to string
}

// param binds v and returns its placeholder.
func (c *compiler) param(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

func unsupported(format string, a ...any) error {
	return &store.UnsupportedError{What: fmt.Sprintf(format, a...)}
}

// scope is the multi-valued attribute a value filter is compiled for and
// where its values come from.
type scope struct {
	attr *schemas.Attr
	src  source
}

// node compiles f; in is the value filter's scope (nil at the top level).
func (c *compiler) node(f store.Filter, in *scope) (string, error) {
	switch f := f.(type) {
	case store.And:
		return c.list(f, " AND ", "TRUE", in)
	case store.Or:
		if in == nil {
			if sql, ok, err := c.orByID(f); ok || err != nil {
				return sql, err
			}
		}
		return c.list(f, " OR ", "FALSE", in)
	case store.Not:
		if f.Term == nil {
			return "", unsupported("empty filter term")
		}
		term, err := c.node(f.Term, in)
		if err != nil {
			return "", err
		}
		return "(NOT COALESCE(" + term + ", FALSE))", nil
	case *store.Not:
		if f == nil {
			return "", unsupported("empty filter term")
		}
		return c.node(*f, in)
	case store.Cmp:
		return c.cmp(f, in)
	case *store.Cmp:
		if f == nil {
			return "", unsupported("empty filter term")
		}
		return c.cmp(*f, in)
	case store.ValuePath:
		return c.valuePath(f, in)
	case *store.ValuePath:
		if f == nil {
			return "", unsupported("empty filter term")
		}
		return c.valuePath(*f, in)
	case nil:
		return "", unsupported("empty filter term")
	default:
		return "", unsupported("filter node %T", f)
	}
}

func (c *compiler) list(terms []store.Filter, sep, empty string, in *scope) (string, error) {
	if len(terms) == 0 {
		return empty, nil
	}
	parts := make([]string, len(terms))
	for i, t := range terms {
		s, err := c.node(t, in)
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

// orByID compiles an Or of users that has terms on the emails table
// (value filters on emails naming only its columns) as the id's membership
// in the union of the users the other terms select and the owners of the
// emails the emails terms select; ok is false, and nothing is compiled,
// for an Or without such terms. The meaning is the Or's (neither side is
// ever NULL), but each part of the union is planned on its own: the other
// terms as a BitmapOr of index ranges (the console's search: userName,
// displayName, name.givenName and name.familyName sw a prefix), the emails
// terms as a range of user_emails_value_key_idx. An EXISTS among the terms
// of an Or is evaluated row by row, so the Or could only be a filter over
// every user of the tenant.
func (c *compiler) orByID(terms []store.Filter) (sql string, ok bool, err error) {
	if c.rt != schemas.User || c.live == "" {
		return "", false, nil
	}
	m := c.res.multi["emails"]
	var rest []store.Filter
	var conds []string
	var from string
	for _, t := range terms {
		v, isVP := t.(store.ValuePath)
		if p, isPtr := t.(*store.ValuePath); isPtr && p != nil {
			v, isVP = *p, true
		}
		var a *schemas.Attr
		if isVP {
			if a, err = store.FilterValuePath(c.rt, v, nil); err != nil {
				return "", false, err
			}
		}
		if a == nil || a.Path != "emails" || !subsIn(v.Filter, m.attrs) {
			rest = append(rest, t)
			continue
		}
		src := c.source(a, v.Filter)
		cond, err := c.node(v.Filter, &scope{attr: a, src: src})
		if err != nil {
			return "", false, err
		}
		conds, from = append(conds, cond), src.from
	}
	if len(conds) == 0 {
		return "", false, nil
	}
	al := c.res.alias
	var parts []string
	if len(rest) > 0 {
		cond, err := c.list(rest, " OR ", "FALSE", nil)
		if err != nil {
			return "", false, err
		}
		// The subquery's row shadows the outer one of the same alias.
		parts = append(parts, "SELECT "+al+".id FROM users "+al+" WHERE "+al+".tenant_id = $1 AND "+c.live+" AND ("+cond+")")
	}
	parts = append(parts, "SELECT e.user_id FROM "+from+" WHERE e.tenant_id = $1 AND ("+strings.Join(conds, " OR ")+")")
	return "(" + al + ".id IN (" + strings.Join(parts, " UNION ALL ") + "))", true, nil
}

func (c *compiler) valuePath(v store.ValuePath, in *scope) (string, error) {
	var inside *schemas.Attr
	if in != nil {
		inside = in.attr
	}
	a, err := store.FilterValuePath(c.rt, v, inside)
	if err != nil {
		return "", err
	}
	src := c.source(a, v.Filter)
	cond, err := c.node(v.Filter, &scope{attr: a, src: src})
	if err != nil {
		return "", err
	}
	return src.exists(cond), nil
}

// source is where the values of a multi-valued attribute come from: the
// rows of "SELECT 1 FROM from WHERE where" (from may be empty), on which
// sub gives the operand of a sub-attribute.
type source struct {
	from, where string
	sub         func(a *schemas.Attr, base string) (operand, error)
}

func (s source) exists(cond string) string {
	from := ""
	if s.from != "" {
		from = " FROM " + s.from
	}
	return "EXISTS (SELECT 1" + from + " WHERE " + s.where + " AND (" + cond + "))"
}

// source returns where the values of the multi-valued attribute a come
// from; f is the value filter on it (nil for pr), which decides between
// the emails table and the document.
func (c *compiler) source(a *schemas.Attr, f store.Filter) source {
	const tableOnly = "EXISTS (SELECT 1 FROM "
	switch {
	case c.rt == schemas.User && a.Path == "emails":
		m := c.res.multi["emails"]
		if subsIn(f, m.attrs) {
			// m.exists is "EXISTS (SELECT 1 FROM <from> WHERE <where> AND (%s))".
			from, where, _ := strings.Cut(strings.TrimPrefix(m.exists, tableOnly), " WHERE ")
			where = strings.TrimSuffix(where, " AND (%s))")
			return source{from: from, where: where, sub: func(s *schemas.Attr, _ string) (operand, error) {
				return columnOperand(m.attrs[s.Path]), nil
			}}
		}
		// A sub-attribute the table does not keep: the document's values,
		// those with a value, as the table holds them.
		src := c.docSource(a)
		src.where += ` AND jsonb_typeof(j.v -> 'value') = 'string' AND j.v ->> 'value' <> ''`
		return src
	case c.rt == schemas.User && a.Path == "roles":
		// One value {"value": role, "primary": true} when there is a role.
		return source{where: "u.role IS NOT NULL", sub: func(s *schemas.Attr, _ string) (operand, error) {
			switch s.Name {
			case "value":
				return operand{expr: "u.role", key: "u.role", column: true}, nil // roles are lowercase constants
			case "primary":
				return operand{expr: "TRUE", kind: kindBool}, nil
			}
			return absent(s), nil
		}}
	case c.rt == schemas.User && a.Path == "groups":
		return source{
			from:  "group_members gm JOIN groups gg ON gg.tenant_id = gm.tenant_id AND gg.id = gm.group_id",
			where: "gm.tenant_id = u.tenant_id AND gm.member_id = u.id AND gm.member_type = 'User'",
			sub: func(s *schemas.Attr, base string) (operand, error) {
				switch s.Name {
				case "value":
					return operand{expr: "gm.group_id", kind: kindID, column: true}, nil
				case "display":
					return operand{expr: "gg.display_name", key: "gg.display_name_key", column: true}, nil
				case "type":
					return operand{expr: "'direct'", key: "'direct'"}, nil
				case "$ref":
					return c.ref(s, base, func(p func(string) string) string { return "(" + p("/Groups/") + " || gm.group_id::text)" })
				}
				return absent(s), nil
			}}
	case c.rt == schemas.Group && a.Path == "members":
		from := "group_members m"
		if mentions(f, "members.display") {
			from += " LEFT JOIN users mu ON m.member_type = 'User' AND mu.tenant_id = m.tenant_id AND mu.id = m.member_id" +
				" LEFT JOIN groups mg ON m.member_type = 'Group' AND mg.tenant_id = m.tenant_id AND mg.id = m.member_id"
		}
		return source{from: from, where: "m.tenant_id = g.tenant_id AND m.group_id = g.id", sub: func(s *schemas.Attr, base string) (operand, error) {
			switch s.Name {
			case "value":
				return operand{expr: "m.member_id", kind: kindID, column: true}, nil
			case "type":
				return operand{expr: "m.member_type", column: true}, nil
			case "display":
				// As rendered: a user's displayName, else its userName; a
				// group's displayName.
				return operand{expr: "COALESCE(mu.display_name, mu.user_name, mg.display_name)",
					key: "COALESCE(mu.display_name_key, mu.user_name_key, mg.display_name_key)", nullable: true}, nil
			case "$ref":
				return c.ref(s, base, func(p func(string) string) string {
					return "((CASE m.member_type WHEN 'Group' THEN " + p("/Groups/") + " ELSE " + p("/Users/") + " END) || m.member_id::text)"
				})
			}
			return absent(s), nil
		}}
	}
	return c.docSource(a)
}

// docSource is the values of a multi-valued attribute kept in the
// document: the non-empty objects of its array.
func (c *compiler) docSource(a *schemas.Attr) source {
	arr := jsonPath(c.res.alias+".doc", store.DocKeys(a))
	return source{
		from:  "jsonb_array_elements(CASE WHEN jsonb_typeof(" + arr + ") = 'array' THEN " + arr + " END) AS j(v)",
		where: "jsonb_typeof(j.v) = 'object' AND j.v <> '{}'::jsonb",
		sub: func(s *schemas.Attr, _ string) (operand, error) {
			return docOperand("j.v", s), nil
		},
	}
}

// subsIn reports whether every attribute f compares is in attrs.
func subsIn(f store.Filter, attrs map[string]column) bool {
	switch f := f.(type) {
	case store.And:
		return !slices.ContainsFunc(f, func(t store.Filter) bool { return !subsIn(t, attrs) })
	case store.Or:
		return !slices.ContainsFunc(f, func(t store.Filter) bool { return !subsIn(t, attrs) })
	case store.Not:
		return subsIn(f.Term, attrs)
	case store.Cmp:
		for name := range attrs {
			if strings.EqualFold(name, f.Attr) {
				return true
			}
		}
		return false
	}
	return true
}

// mentions reports whether f compares the attribute path.
func mentions(f store.Filter, path string) bool {
	switch f := f.(type) {
	case store.And:
		return slices.ContainsFunc(f, func(t store.Filter) bool { return mentions(t, path) })
	case store.Or:
		return slices.ContainsFunc(f, func(t store.Filter) bool { return mentions(t, path) })
	case store.Not:
		return mentions(f.Term, path)
	case store.Cmp:
		return strings.EqualFold(f.Attr, path)
	}
	return false
}

// Operand kinds beyond the column kinds.
const (
	kindTimeKey kind = iota + 100 // store.TimeKey text of a date-time in a document
	kindNumber                    // numeric
	kindComplex                   // only pr, which present answers
)

// operand is one attribute's value as SQL.
type operand struct {
	expr     string
	key      string // the folded value; "" for fold(expr)
	kind     kind
	nullable bool   // expr may be NULL (absent)
	column   bool   // a plain column: comparisons stay index-friendly
	present  string // the pr condition when it is not "expr IS NOT NULL"
	state    string // the state column answering eq and ne (column.state)
	// build, when set, returns expr (fold false) or key (fold true),
	// binding their parameters.
	build func(fold bool) string
}

func columnOperand(col column) operand {
	return operand{expr: col.exact, key: col.key, kind: col.kind, column: true,
		nullable: col.kind == kindString, state: col.state}
}

// absent is a sub-attribute a derived value never has.
func absent(a *schemas.Attr) operand {
	o := operand{expr: "NULL::text", nullable: true}
	switch store.KindOf(a) {
	case store.KindBool:
		o.kind, o.expr = kindBool, "NULL::boolean"
		if isPrimary(a) {
			o.expr, o.nullable = "FALSE", false
		}
	case store.KindTime:
		o.kind = kindTimeKey
	case store.KindInteger, store.KindDecimal:
		o.kind, o.expr = kindNumber, "NULL::numeric"
	case store.KindComplex:
		o.kind, o.present = kindComplex, "FALSE"
	}
	return o
}

// isPrimary reports whether a is the primary sub-attribute of a
// multi-valued attribute, which is false when absent (as the emails table
// stores it).
func isPrimary(a *schemas.Attr) bool {
	return a.Name == "primary" && a.Parent != nil && a.Parent.MultiValued
}

// ref is a URL the server derives from the base URL; sql builds it from
// the parameter holding base+path (folded for the key).
func (c *compiler) ref(a *schemas.Attr, base string, sql func(p func(string) string) string) (operand, error) {
	if base == "" {
		return operand{}, unsupported("filtering on %s needs the base URL", a.Path)
	}
	// Bound only when used: PostgreSQL refuses a parameter it cannot type.
	return operand{build: func(fold bool) string {
		if fold {
			return sql(func(path string) string { return c.param(store.Fold(base+path)) + "::text" })
		}
		return sql(func(path string) string { return c.param(base+path) + "::text" })
	}}, nil
}

// jsonPath is doc -> 'k1' -> 'k2' …; the keys are catalogue names
// (letters, digits, "$", and a schema URN's ":" and ".").
func jsonPath(doc string, keys []string) string {
	var b strings.Builder
	b.WriteString(doc)
	for _, k := range keys {
		if strings.ContainsAny(k, `'\`) {
			panic("postgres: attribute name " + k + " cannot be quoted")
		}
		b.WriteString(" -> '" + k + "'")
	}
	return "(" + b.String() + ")"
}

// docTimeRE is the shape of a date-time in a document (store.DocTimeKey).
const docTimeRE = `'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$'`

// docOperand is attribute a in the jsonb document doc (the resource's
// document, or j.v, one value of a multi-valued attribute). A value of
// another type than a's is absent, as is "".
func docOperand(doc string, a *schemas.Attr) operand {
	x := jsonPath(doc, store.DocKeys(a))
	typ := "jsonb_typeof(" + x + ")"
	text := "(" + x + " #>> '{}')"
	o := operand{nullable: true}
	switch store.KindOf(a) {
	case store.KindString:
		o.expr = "(CASE WHEN " + typ + " = 'string' THEN NULLIF(" + text + ", '') END)"
	case store.KindBool:
		o.kind, o.expr = kindBool, "(CASE WHEN "+typ+" = 'boolean' THEN "+x+" = 'true'::jsonb END)"
		if isPrimary(a) {
			o.expr, o.nullable = "("+x+" IS NOT DISTINCT FROM 'true'::jsonb)", false
		}
	case store.KindTime:
		o.kind, o.expr = kindTimeKey, "(CASE WHEN "+typ+" = 'string' AND "+text+" ~ "+docTimeRE+
			" THEN substr("+text+", 1, 19) || '.' || rpad(COALESCE(substring("+text+` from '\.([0-9]+)Z$'), ''), 9, '0') END)`
	case store.KindInteger, store.KindDecimal:
		o.kind, o.expr = kindNumber, "(CASE WHEN "+typ+" = 'number' THEN "+text+"::numeric END)"
	case store.KindComplex:
		o.kind, o.present = kindComplex, "COALESCE("+typ+" = 'object' AND "+x+" <> '{}'::jsonb, FALSE)"
	}
	return o
}

// operand returns the SQL of attribute a of the resource (in == nil) or of
// one value of in's attribute.
func (c *compiler) operand(a *schemas.Attr, f store.Cmp, in *scope) (operand, error) {
	if in != nil {
		return in.src.sub(a, f.Base)
	}
	if col, ok := c.res.attrs[a.Path]; ok {
		return columnOperand(col), nil
	}
	al := c.res.alias
	switch a.Path {
	case "meta":
		return operand{kind: kindComplex, present: "TRUE"}, nil
	case "meta.resourceType":
		return operand{expr: "'" + c.rt.Name + "'::text"}, nil
	case "meta.version":
		return operand{expr: `('W/"' || ` + al + `.version::text || '"')`}, nil
	case "meta.location":
		return c.ref(a, f.Base, func(p func(string) string) string {
			return "(" + p(c.rt.Endpoint+"/") + " || " + al + ".id::text)"
		})
	}
	return docOperand(al+".doc", a), nil
}

var sqlOps = map[store.Op]string{
	store.OpEq: "=", store.OpNe: "<>",
	store.OpGt: ">", store.OpGe: ">=", store.OpLt: "<", store.OpLe: "<=",
}

// fold is the SQL of store.Fold(expr) as far as comparing it by op with
// the folded value v needs it, exactly and whatever the database's locale
// (see fold.go): lower() under the "C" collation folds the ASCII letters,
// and translate() the other runes. translate() costs the length of its
// argument times the length of its map, so eq, ne, co, sw and ew map only
// the runes that fold to a rune of v (foldMap); the orderings need every
// rune folded and map all of them, for text that is not ASCII only.
func (c *compiler) fold(expr string, op store.Op, v string) string {
	lower := "lower((" + expr + `) COLLATE "C")`
	switch op {
	case store.OpGt, store.OpGe, store.OpLt, store.OpLe:
		if c.from == "" {
			c.from, c.to = c.param(foldFrom), c.param(foldTo)
		}
		return "(CASE WHEN octet_length(" + expr + ") = char_length(" + expr + ") THEN " + lower +
			" ELSE translate(" + lower + ", " + c.from + "::text, " + c.to + "::text) END)"
	}
	from, to := foldMap(v)
	if from == "" {
		return lower
	}
	return "translate(" + lower + ", " + c.param(from) + "::text, " + c.param(to) + "::text)"
}

func (c *compiler) cmp(f store.Cmp, in *scope) (string, error) {
	var inside *schemas.Attr
	if in != nil {
		inside = in.attr
	}
	a, err := store.FilterAttr(c.rt, f, inside)
	if err != nil {
		return "", err
	}
	if in == nil && a.MultiValued {
		// "emails pr": the attribute has a value.
		return c.source(a, nil).exists("TRUE"), nil
	}
	o, err := c.operand(a, f, in)
	if err != nil {
		return "", err
	}
	if f.Op == store.OpPr {
		switch {
		case o.present != "":
			return o.present, nil
		case o.nullable:
			return "(" + o.expr + " IS NOT NULL)", nil
		}
		return "TRUE", nil
	}
	switch o.kind {
	case kindString:
		s := f.Value.(string)
		if o.build != nil {
			if f.CaseExact {
				o.expr = o.build(false)
			} else {
				o.key = o.build(true)
			}
		}
		target := o.expr
		if !f.CaseExact {
			s = store.Fold(s)
			if o.key != "" {
				target = o.key
			} else {
				target = c.fold(o.expr, f.Op, s)
			}
		}
		if !o.column {
			target = "(" + target + `) COLLATE "C"`
		}
		return c.text(target, f.Op, s, o), nil
	case kindID:
		s := f.Value.(string)
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
			return "(" + o.expr + " " + sqlOps[f.Op] + " " + c.param(s) + "::uuid)", nil
		}
		return c.text("("+o.expr+`::text COLLATE "C")`, f.Op, s, operand{column: true}), nil
	case kindBool:
		if o.state != "" {
			// A literal, so that the plan (a generic one too) knows which
			// range of the state's indexes it reads.
			return "(" + o.state + " = '" + string(store.ActiveState(f.Op, f.Value.(bool))) + "')", nil
		}
		return c.nullSafe("("+o.expr+" "+sqlOps[f.Op]+" "+c.param(f.Value.(bool))+")", f.Op, o), nil
	case kindTime:
		return c.time(o.expr, f.Op, f.Value.(time.Time), f.Attr)
	case kindTimeKey:
		return c.nullSafe("("+o.expr+` COLLATE "C" `+sqlOps[f.Op]+" "+c.param(store.TimeKey(f.Value.(time.Time)))+"::text)", f.Op, o), nil
	case kindNumber:
		return c.nullSafe("("+o.expr+" "+sqlOps[f.Op]+" "+c.param(f.Value)+"::numeric)", f.Op, o), nil
	}
	return "", unsupported("comparing %s", a.Path)
}

// nullSafe makes a comparison on a value that may be absent true or false:
// true for ne, false for every other operator.
func (c *compiler) nullSafe(sql string, op store.Op, o operand) string {
	if !o.nullable {
		return sql
	}
	if op == store.OpNe {
		return "COALESCE(" + sql + ", TRUE)"
	}
	return "COALESCE(" + sql + ", FALSE)"
}

// text compiles a comparison of a text expression with s.
func (c *compiler) text(expr string, op store.Op, s string, o operand) string {
	var sql string
	switch op {
	case store.OpCo:
		sql = "(" + expr + " LIKE " + c.param("%"+escapeLike(s)+"%") + ` ESCAPE '\')`
	case store.OpSw:
		sql = "(" + expr + " LIKE " + c.param(escapeLike(s)+"%") + ` ESCAPE '\')`
	case store.OpEw:
		sql = "(" + expr + " LIKE " + c.param("%"+escapeLike(s)) + ` ESCAPE '\')`
	case store.OpNe:
		if o.nullable && o.column {
			return "(" + expr + " IS NULL OR " + expr + " <> " + c.param(s) + ")"
		}
		sql = "(" + expr + " <> " + c.param(s) + ")"
	default:
		sql = "(" + expr + " " + sqlOps[op] + " " + c.param(s) + ")"
	}
	if o.column {
		return sql // NULL is false here and under Not's COALESCE
	}
	return c.nullSafe(sql, op, o)
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
