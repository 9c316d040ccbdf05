package sqlite

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/scimd/scimd/schemas"
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
	// state, set on active of live users only, is the state column that
	// answers eq and ne on it (store.ActiveState).
	state string
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
		"active":            {col: "u.active", kind: kBool, state: "u.state"},
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

// tombTable is userTable for tombstones (store.Query.Deleted): an erased
// one has the userName "" and the key store.ErasedKey of the name it had,
// neither of which a filter may see; every one is inactive in the state
// 'deleted', so active is a test of the column.
var tombTable = func() table {
	t := userTable
	t.attrs = maps.Clone(t.attrs)
	t.attrs["userName"] = column{col: "NULLIF(u.user_name, '')", key: "(CASE WHEN u.erased = 0 THEN u.user_name_key END)",
		nullable: true}
	t.attrs["active"] = column{col: "u.active", kind: kBool}
	return t
}()

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
//
// Attributes with a column (t.attrs, the emails and members tables) are
// compared on it (on its folded *_key column unless caseExact); the ones
// the server derives (roles, groups, members, meta) on the rows they are
// rendered from; every other attribute on the JSON document (the doc
// column) with json_extract, the values of a multi-valued one with
// json_each in an EXISTS. Document values are folded with scimd_fold,
// which is store.Fold.
func compileWhere(t table, f store.Filter) (string, []any, error) {
	if f == nil {
		return "1", nil, nil
	}
	c := compiler{t: t, rt: schemas.User, doc: "u.doc"}
	if t.alias == "g" {
		c.rt, c.doc = schemas.Group, "g.doc"
	}
	var b strings.Builder
	if err := c.node(&b, f, nil); err != nil {
		return "", nil, err
	}
	return b.String(), c.args, nil
}

type compiler struct {
	t    table
	rt   *schemas.ResourceType
	doc  string // the document column of the resource row
	args []any
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

// node writes f; in is the value filter's scope (nil at the top level).
func (c *compiler) node(b *strings.Builder, f store.Filter, in *scope) error {
	switch f := f.(type) {
	case store.And:
		return c.list(b, f, " AND ", "1", in)
	case store.Or:
		return c.list(b, f, " OR ", "0", in)
	case store.Not:
		if f.Term == nil {
			return unsupported("empty not")
		}
		b.WriteString("NOT (")
		if err := c.node(b, f.Term, in); err != nil {
			return err
		}
		b.WriteString(")")
		return nil
	case store.Cmp:
		return c.cmp(b, f, in)
	case store.ValuePath:
		var inside *schemas.Attr
		if in != nil {
			inside = in.attr
		}
		a, err := store.FilterValuePath(c.rt, f, inside)
		if err != nil {
			return err
		}
		src, err := c.source(a, f.Filter)
		if err != nil {
			return err
		}
		c.openExists(b, src)
		b.WriteString(" AND (")
		if err := c.node(b, f.Filter, &scope{attr: a, src: src}); err != nil {
			return err
		}
		b.WriteString("))")
		return nil
	default:
		return unsupported("filter node %T", f)
	}
}

func (c *compiler) list(b *strings.Builder, terms []store.Filter, sep, empty string, in *scope) error {
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
		if err := c.node(b, t, in); err != nil {
			return err
		}
	}
	b.WriteString(")")
	return nil
}

// vkind is how an operand's SQL value is typed.
type vkind int

const (
	vString  vkind = iota // text
	vBool                 // 0 or 1
	vMicros               // unix microseconds (the timestamp columns)
	vTimeKey              // store.TimeKey text (a date-time in a document)
	vNumber               // integer or real
	vComplex              // only pr, which present answers
)

// operand is one attribute's value as SQL. expr (and key) may hold "?"
// placeholders for args (keyArgs), which are bound again at every use.
type operand struct {
	expr     string
	args     []any
	key      string // the folded value; "" for scimd_fold(expr)
	keyArgs  []any
	kind     vkind
	nullable bool   // expr may be NULL (absent)
	column   bool   // a plain column: comparisons stay index-friendly
	present  string // the pr condition when it is not "expr IS NOT NULL"
	state    string // the state column answering eq and ne (column.state)
}

// put writes sql and binds args for its placeholders.
func (c *compiler) put(b *strings.Builder, sql string, args []any) {
	b.WriteString(sql)
	c.args = append(c.args, args...)
}

// source is where the values of a multi-valued attribute come from: the
// rows of "SELECT 1 FROM from WHERE where" (from may be empty), on which
// sub gives the operand of a sub-attribute.
type source struct {
	from, where string
	sub         func(a *schemas.Attr, base string) (operand, error)
	// in, when set, opens the test as "key IN (SELECT … WHERE …" instead
	// of a correlated EXISTS: SQLite runs the subquery once, on its index,
	// and probes the resource rows by key, where an EXISTS is evaluated
	// for every resource row of the tenant.
	in string
}

func (c *compiler) openExists(b *strings.Builder, s source) {
	if s.in != "" {
		b.WriteString(s.in)
		return
	}
	b.WriteString("EXISTS (SELECT 1")
	if s.from != "" {
		b.WriteString(" FROM " + s.from)
	}
	b.WriteString(" WHERE " + s.where)
}

// source returns where the values of the multi-valued attribute a come
// from; f is the value filter on it (nil for pr), which decides between
// the emails table and the document.
func (c *compiler) source(a *schemas.Attr, f store.Filter) (source, error) {
	switch {
	case c.rt == schemas.User && a.Path == "emails":
		m := c.t.multi["emails"]
		if subsIn(f, m.attrs) {
			// ?1 is the tenant id: every statement of the store binds it
			// first (u.tenant_id = ?), and SQLite numbers the following
			// plain ? parameters after the largest number used so far.
			return source{from: m.from, where: m.link, sub: func(s *schemas.Attr, _ string) (operand, error) {
				return columnOperand(m.attrs[s.Path]), nil
			}, in: "u.id IN (SELECT e.user_id FROM " + m.from + " WHERE e.tenant_id = ?1"}, nil
		}
		// A sub-attribute the table does not keep: the document's values,
		// those with a value, as the table holds them.
		src := c.docSource(a)
		src.where += ` AND json_type(j.value, '$."value"') = 'text' AND json_extract(j.value, '$."value"') <> ''`
		return src, nil
	case c.rt == schemas.User && a.Path == "roles":
		// One value {"value": role, "primary": true} when there is a role.
		return source{where: "u.role IS NOT NULL", sub: func(s *schemas.Attr, _ string) (operand, error) {
			switch s.Name {
			case "value":
				return operand{expr: "u.role", key: "u.role", column: true}, nil // roles are lowercase constants
			case "primary":
				return operand{expr: "1", kind: vBool}, nil
			}
			return absent(s), nil
		}}, nil
	case c.rt == schemas.User && a.Path == "groups":
		return source{
			from:  "group_members gm JOIN groups gg ON gg.tenant_id = gm.tenant_id AND gg.id = gm.group_id",
			where: "gm.tenant_id = u.tenant_id AND gm.member_id = u.id AND gm.member_type = 'User'",
			sub: func(s *schemas.Attr, base string) (operand, error) {
				switch s.Name {
				case "value":
					return operand{expr: "gm.group_id", key: "gm.group_id", column: true}, nil // ids are lowercase
				case "display":
					return operand{expr: "gg.display_name", key: "gg.display_name_key", column: true}, nil
				case "type":
					return operand{expr: "'direct'", key: "'direct'"}, nil
				case "$ref":
					return refOperand(s, base, "? || gm.group_id", "/Groups/")
				}
				return absent(s), nil
			}}, nil
	case c.rt == schemas.Group && a.Path == "members":
		m := c.t.multi["members"]
		from := m.from
		if mentions(f, "members.display") {
			from += " LEFT JOIN users mu ON m.member_type = 'User' AND mu.tenant_id = m.tenant_id AND mu.id = m.member_id" +
				" LEFT JOIN groups mg ON m.member_type = 'Group' AND mg.tenant_id = m.tenant_id AND mg.id = m.member_id"
		}
		return source{from: from, where: m.link, sub: func(s *schemas.Attr, base string) (operand, error) {
			switch s.Name {
			case "value":
				return columnOperand(m.attrs["members.value"]), nil
			case "type":
				return operand{expr: "m.member_type", column: true}, nil
			case "display":
				// As rendered: a user's displayName, else its userName; a
				// group's displayName.
				return operand{expr: "COALESCE(mu.display_name, mu.user_name, mg.display_name)",
					key: "COALESCE(mu.display_name_key, mu.user_name_key, mg.display_name_key)", nullable: true}, nil
			case "$ref":
				o, err := refOperand(s, base, "", "")
				if err != nil {
					return o, err
				}
				o.expr, o.args = "(CASE m.member_type WHEN 'Group' THEN ? ELSE ? END || m.member_id)", []any{base + "/Groups/", base + "/Users/"}
				o.key, o.keyArgs = o.expr, []any{store.Fold(base + "/Groups/"), store.Fold(base + "/Users/")}
				return o, nil
			}
			return absent(s), nil
		}}, nil
	}
	return c.docSource(a), nil
}

// docSource is the values of a multi-valued attribute kept in the
// document: the non-empty objects of its array.
func (c *compiler) docSource(a *schemas.Attr) source {
	p := jsonPath(store.DocKeys(a))
	return source{
		from:  "json_each(" + c.doc + ", '" + p + "') AS j",
		where: "json_type(" + c.doc + ", '" + p + "') = 'array' AND j.type = 'object' AND j.value <> '{}'",
		sub: func(s *schemas.Attr, _ string) (operand, error) {
			return docOperand(c.doc, s, "j.fullkey || "), nil
		},
	}
}

// subsIn reports whether every attribute f compares is in attrs.
func subsIn(f store.Filter, attrs map[string]column) bool {
	switch f := f.(type) {
	case store.And:
		for _, t := range f {
			if !subsIn(t, attrs) {
				return false
			}
		}
	case store.Or:
		for _, t := range f {
			if !subsIn(t, attrs) {
				return false
			}
		}
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

func columnOperand(col column) operand {
	o := operand{expr: col.col, key: col.key, nullable: col.nullable, column: true, state: col.state}
	switch col.kind {
	case kBool:
		o.kind = vBool
	case kTime:
		o.kind = vMicros
	}
	return o
}

// absent is a sub-attribute a derived value never has.
func absent(a *schemas.Attr) operand {
	o := operand{expr: "NULL", nullable: true}
	switch store.KindOf(a) {
	case store.KindBool:
		o.kind = vBool
		if isPrimary(a) {
			o.expr, o.nullable = "0", false
		}
	case store.KindTime:
		o.kind = vTimeKey
	case store.KindInteger, store.KindDecimal:
		o.kind = vNumber
	case store.KindComplex:
		o.kind, o.present = vComplex, "0"
	}
	return o
}

// isPrimary reports whether a is the primary sub-attribute of a
// multi-valued attribute, which is false when absent (as the emails table
// stores it).
func isPrimary(a *schemas.Attr) bool {
	return a.Name == "primary" && a.Parent != nil && a.Parent.MultiValued
}

// refOperand is a URL the server derives from the base URL: expr with one
// placeholder for base+path.
func refOperand(a *schemas.Attr, base, expr, path string) (operand, error) {
	if base == "" {
		return operand{}, unsupported("filtering on %s needs the base URL", a.Path)
	}
	return operand{expr: expr, args: []any{base + path}, key: expr, keyArgs: []any{store.Fold(base + path)}}, nil
}

// jsonPath is the SQLite JSON path of keys, each quoted. The keys are
// catalogue names (letters, digits, "$", and a schema URN's ":" and ".").
func jsonPath(keys []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range keys {
		if strings.ContainsAny(k, `"'\`) {
			panic("sqlite: attribute name " + k + " cannot be quoted")
		}
		b.WriteString(`."` + k + `"`)
	}
	return b.String()
}

// docOperand is attribute a in the JSON document doc; with a prefix (SQL
// of a JSON path, j.fullkey of one value of a multi-valued attribute) the
// path of a is taken from there, so that SQLite parses the document once
// per row (its JSON cache) instead of every value. A value of another type
// than a's is absent, as is "".
func docOperand(doc string, a *schemas.Attr, prefix string) operand {
	p := "'" + jsonPath(store.DocKeys(a)) + "'"
	if prefix != "" {
		p = prefix + "'" + strings.TrimPrefix(jsonPath(store.DocKeys(a)), "$") + "'"
	}
	typ := "json_type(" + doc + ", " + p + ")"
	val := "json_extract(" + doc + ", " + p + ")"
	o := operand{nullable: true}
	switch store.KindOf(a) {
	case store.KindString:
		o.expr = "(CASE WHEN " + typ + " = 'text' THEN NULLIF(" + val + ", '') END)"
	case store.KindBool:
		o.kind, o.expr = vBool, "(CASE "+typ+" WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
		if isPrimary(a) {
			o.expr, o.nullable = "("+typ+" IS 'true')", false
		}
	case store.KindTime:
		o.kind, o.expr = vTimeKey, "(CASE WHEN "+typ+" = 'text' THEN scimd_timekey("+val+") END)"
	case store.KindInteger, store.KindDecimal:
		o.kind, o.expr = vNumber, "(CASE WHEN "+typ+" IN ('integer', 'real') THEN "+val+" END)"
	case store.KindComplex:
		o.kind, o.present = vComplex, "COALESCE("+typ+" = 'object' AND "+val+" <> '{}', 0)"
	}
	return o
}

// operand returns the SQL of attribute a of the resource (in == nil) or of
// one value of in's attribute.
func (c *compiler) operand(a *schemas.Attr, f store.Cmp, in *scope) (operand, error) {
	if in != nil {
		return in.src.sub(a, f.Base)
	}
	if col, ok := c.t.attrs[a.Path]; ok {
		return columnOperand(col), nil
	}
	id := c.t.alias + ".id"
	switch a.Path {
	case "meta":
		return operand{kind: vComplex, present: "1"}, nil
	case "meta.resourceType":
		return operand{expr: "'" + c.rt.Name + "'"}, nil
	case "meta.version":
		return operand{expr: `('W/"' || ` + c.t.alias + `.version || '"')`}, nil
	case "meta.location":
		return refOperand(a, f.Base, "? || "+id, c.rt.Endpoint+"/")
	}
	return docOperand(c.doc, a, ""), nil
}

// cmp writes one comparison. Absent (NULL) values make every operator false
// except ne, which is true; the result is never NULL.
func (c *compiler) cmp(b *strings.Builder, f store.Cmp, in *scope) error {
	var inside *schemas.Attr
	if in != nil {
		inside = in.attr
	}
	a, err := store.FilterAttr(c.rt, f, inside)
	if err != nil {
		return err
	}
	if in == nil && a.MultiValued {
		// "emails pr": the attribute has a value.
		src, err := c.source(a, nil)
		if err != nil {
			return err
		}
		c.openExists(b, src)
		b.WriteString(")")
		return nil
	}
	o, err := c.operand(a, f, in)
	if err != nil {
		return err
	}
	if f.Op == store.OpPr {
		switch {
		case o.present != "":
			b.WriteString(o.present)
		case o.nullable:
			b.WriteString("(")
			c.put(b, o.expr, o.args)
			b.WriteString(" IS NOT NULL)")
		default:
			b.WriteString("1")
		}
		return nil
	}
	target, targs := o.expr, o.args
	var arg any
	op := f.Op
	switch o.kind {
	case vString:
		v := f.Value.(string)
		if !f.CaseExact {
			v = store.Fold(v)
			if o.key != "" {
				target, targs = o.key, o.keyArgs
			} else {
				target = "scimd_fold(" + o.expr + ")"
			}
		}
		switch op {
		case store.OpCo:
			arg = "*" + globEscape(v) + "*"
		case store.OpSw:
			arg = globEscape(v) + "*"
		case store.OpEw:
			arg = "*" + globEscape(v)
		default:
			arg = v
		}
	case vBool:
		if o.state != "" {
			// A literal, so that the plan knows which range of the
			// state's indexes it reads.
			b.WriteString("(" + o.state + " = '" + string(store.ActiveState(op, f.Value.(bool))) + "')")
			return nil
		}
		arg = b2i(f.Value.(bool))
	case vMicros:
		v := f.Value.(time.Time)
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
		arg = us
	case vTimeKey:
		arg = store.TimeKey(f.Value.(time.Time))
	case vNumber:
		arg = f.Value
	default:
		return unsupported("comparing %s", a.Path)
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
	ne := op == store.OpNe
	switch {
	case !o.nullable:
		b.WriteString("(")
		c.put(b, target+sqlOp, append(slices.Clip(targs), arg))
		b.WriteString(")")
	case o.column && ne:
		b.WriteString("(")
		c.put(b, target+" IS NULL OR ", targs)
		c.put(b, target+sqlOp, append(slices.Clip(targs), arg))
		b.WriteString(")")
	case o.column:
		b.WriteString("(")
		c.put(b, target+" IS NOT NULL AND ", targs)
		c.put(b, target+sqlOp, append(slices.Clip(targs), arg))
		b.WriteString(")")
	default:
		b.WriteString("COALESCE(")
		c.put(b, target+sqlOp, append(slices.Clip(targs), arg))
		if ne {
			b.WriteString(", 1)")
		} else {
			b.WriteString(", 0)")
		}
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
