package scim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// Limits of a filter besides its length (MaxFilterLength): the number of
// comparisons (attribute expressions, those inside value filters and
// "attr[…]" itself included) and the nesting depth of and, or, not and
// value filters once chains of one operator are flattened (and, checked
// before parsing, the nesting of parentheses). They keep the parsing and
// the SQL a filter compiles to small; more is a 400 invalidFilter.
const (
	MaxFilterComparisons = 64
	MaxFilterDepth       = 16
)

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// valuePath is a bracketed value filter cut out of the filter text before
// parsing (filter-parser handles neither more than two terms inside
// brackets nor a sub-attribute after them).
type valuePath struct {
	attr  string // the attribute path before '['
	inner string // the filter text inside the brackets
}

// parseFilter turns filter text into a store.Filter for resource type rt.
// Any problem is a *schemas.Error of type invalidFilter whose detail a
// person can act on.
//
// With o.Lenient it also accepts comparison values written without quotes,
// as Microsoft's samples and collections send them ("externalId eq jyoung",
// "emails.Value co example.com", "meta.Created gt
// 2015-10-10T14:38:21.8617979-07:00") and True/False in any case for a
// boolean attribute, each counted "filter_unquoted" through o.Rewrote (a
// bare number stays a number unless the attribute it is compared with is a
// string or date-time); and a quoted boolean ("active eq \"true\""),
// counted "bool_string". "eq null" and "ne null" are read in both modes.
//
// Every attribute of rt's catalogue can be filtered on except the writeOnly
// password. A filter with more than MaxFilterComparisons comparisons,
// nested deeper than MaxFilterDepth or with parentheses nested deeper than
// MaxFilterDepth, a value of the wrong type, an
// operator the attribute's type does not take (gt on a boolean, co on a
// date-time) and text that is not UTF-8 or holds a NUL are invalidFilter.
func parseFilter(rt *schemas.ResourceType, text string, o schemas.Options) (store.Filter, error) {
	if len(text) > MaxFilterLength {
		return nil, schemas.Errorf(schemas.InvalidFilter, "the filter is %d characters long; the limit is %d", len(text), MaxFilterLength)
	}
	if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return nil, schemas.Errorf(schemas.InvalidFilter, "the filter must be UTF-8 text without NUL characters")
	}
	// The parser's cost grows faster than linearly with the nesting of
	// parentheses: refuse deep nesting before parsing.
	sc := scanFilter(text)
	switch {
	case sc.depth > MaxFilterDepth:
		return nil, schemas.Errorf(schemas.InvalidFilter, "the filter nests parentheses %d deep; the limit is %d", sc.depth, MaxFilterDepth)
	case sc.parens > maxFilterParens:
		return nil, schemas.Errorf(schemas.InvalidFilter, "the filter has %d parentheses; the limit is %d", sc.parens, maxFilterParens)
	case sc.joins >= MaxFilterComparisons:
		return nil, schemas.Errorf(schemas.InvalidFilter, "the filter has more than %d comparisons; split it into several requests", MaxFilterComparisons)
	case sc.longest > maxFilterWord:
		return nil, schemas.Errorf(schemas.InvalidFilter, "the filter has a word of %d characters outside quotes; quote long values", sc.longest)
	}
	cut, vps, err := cutValuePaths(text)
	if err != nil {
		return nil, err
	}
	c := &filterCompiler{rt: rt, vps: vps, o: o}
	if o.Lenient {
		cut = c.quoteBare(cut, func(name string) *schemas.Attr {
			base, sub, _ := strings.Cut(name, ".")
			if vp, ok := vps[base]; ok {
				if sub == "" {
					return nil
				}
				name = vp.attr + "." + sub
			}
			a, _ := rt.Lookup(name)
			return a
		})
	}
	var expr filter.Expression
	if q, ok := quickCompare(cut); ok {
		expr = q
	} else if expr, err = filter.ParseFilter([]byte(cut)); err != nil {
		return nil, schemas.Errorf(schemas.InvalidFilter, "the filter is not valid SCIM filter syntax (RFC 7644 §3.4.2.2): %s", text)
	}
	f, err := c.compile(expr, nil)
	if err != nil {
		return nil, err
	}
	if d := depth(f); d > MaxFilterDepth {
		return nil, schemas.Errorf(schemas.InvalidFilter, "the filter nests and, or, not and value filters %d deep; the limit is %d", d, MaxFilterDepth)
	}
	return f, nil
}

// Limits checked on filter text before parsing, whose cost grows faster
// than linearly with the nesting and number of parentheses and with the
// length of a word: the number of opening parentheses and the length of a
// word outside quotes (an attribute path, an operator, a bare value).
const (
	maxFilterParens = 2 * MaxFilterComparisons
	maxFilterWord   = 512
)

// filterScan is what scanFilter learns of filter text.
type filterScan struct {
	depth   int // the deepest nesting of parentheses
	parens  int // opening parentheses
	joins   int // "and" and "or" words
	longest int // the longest word
}

// scanFilter reads filter text once, outside quoted strings. A valid
// filter with n "and" and "or" words has at least n+1 comparisons.
func scanFilter(text string) filterScan {
	var sc filterScan
	d, inStr, start := 0, false, -1 // start: where the current word began
	isWord := func(c byte) bool { return !strings.ContainsRune(" \t\n\r()[]\"", rune(c)) }
	for i := 0; i <= len(text); i++ {
		if !inStr && (i == len(text) || !isWord(text[i])) && start >= 0 {
			w := text[start:i]
			sc.longest = max(sc.longest, len(w))
			if strings.EqualFold(w, "and") || strings.EqualFold(w, "or") {
				sc.joins++
			}
			start = -1
		}
		if i == len(text) {
			break
		}
		switch c := text[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(':
			d++
			sc.parens++
			sc.depth = max(sc.depth, d)
		case c == ')':
			d--
		case start < 0 && isWord(c):
			start = i
		}
	}
	return sc
}

// depth is the nesting depth of f: 1 for a comparison.
func depth(f store.Filter) int {
	d := 0
	switch f := f.(type) {
	case store.And:
		for _, t := range f {
			d = max(d, depth(t))
		}
	case store.Or:
		for _, t := range f {
			d = max(d, depth(t))
		}
	case store.Not:
		d = depth(f.Term)
	case store.ValuePath:
		d = depth(f.Filter)
	default:
		return 1
	}
	return d + 1
}

// compareOps are the comparison operators that take a value.
var compareOps = set("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")

// quoteBare quotes the comparison values in filter text that are written
// without quotes and are not true, false, null or a number (or are a number
// compared with a string or date-time attribute, as lookup resolves the
// attribute named before the operator). Quoted strings are copied as they
// are. Each rewrite is counted "filter_unquoted".
func (c *filterCompiler) quoteBare(text string, lookup func(name string) *schemas.Attr) string {
	if text == "" {
		return text
	}
	var b strings.Builder
	var prev1, prev2 string // the last two words: attribute and operator
	for i := 0; i < len(text); {
		ch := text[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			b.WriteByte(ch)
			i++
			continue
		case ch == '(' || ch == ')':
			b.WriteByte(ch)
			prev1, prev2 = "", ""
			i++
			continue
		case ch == '"':
			j := i + 1
			for j < len(text) && text[j] != '"' {
				if text[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(text))
			b.WriteString(text[i:j])
			prev1, prev2 = `"`, prev1
			i = j
			continue
		}
		j := i
		for j < len(text) && !strings.ContainsRune(" \t\n\r()\"", rune(text[j])) {
			j++
		}
		word := text[i:j]
		i = j
		attr := prev2
		isValue := compareOps[strings.ToLower(prev1)] && attr != "" && attr != `"` &&
			!compareOps[strings.ToLower(attr)] && !logicalWord(attr)
		prev1, prev2 = word, prev1
		if !isValue {
			b.WriteString(word)
			continue
		}
		b.WriteString(c.bareValue(word, lookup(attr)))
	}
	return b.String()
}

// bareValue returns the filter text for a comparison value written without
// quotes, compared with attribute a (nil when unknown).
func (c *filterCompiler) bareValue(word string, a *schemas.Attr) string {
	switch word {
	case "true", "false", "null":
		return word
	}
	typ := ""
	if a != nil {
		typ = a.Type
	}
	if typ == schemas.TypeBoolean && (strings.EqualFold(word, "true") || strings.EqualFold(word, "false")) {
		c.rewrote("filter_unquoted")
		return strings.ToLower(word)
	}
	if isJSONNumber(word) {
		switch typ {
		case schemas.TypeString, schemas.TypeReference, schemas.TypeDateTime, schemas.TypeBinary:
		default:
			return word
		}
	}
	c.rewrote("filter_unquoted")
	q, _ := json.Marshal(word)
	return string(q)
}

func (c *filterCompiler) rewrote(kind string) {
	if c.o.Rewrote != nil {
		c.o.Rewrote(kind)
	}
}

func logicalWord(w string) bool {
	switch strings.ToLower(w) {
	case "and", "or", "not":
		return true
	}
	return false
}

func isJSONNumber(s string) bool {
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// cutValuePaths replaces every "attr[inner]" in text with a placeholder
// attribute name ("attr[inner]" → "vpN pr", "attr[inner].sub" → "vpN.sub").
func cutValuePaths(text string) (string, map[string]valuePath, error) {
	if !strings.Contains(text, "[") {
		return text, nil, nil
	}
	vps := map[string]valuePath{}
	var b strings.Builder
	inStr := false
	last := 0 // text[last:] has not been copied yet
	for i := 0; i < len(text); i++ {
		c := text[i]
		if inStr {
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
			continue
		}
		if c == ']' {
			return "", nil, schemas.Errorf(schemas.InvalidFilter, "the filter has a ']' without '['")
		}
		if c != '[' {
			continue
		}
		start := i
		for start > last && isPathChar(text[start-1]) {
			start--
		}
		if start == i {
			return "", nil, schemas.Errorf(schemas.InvalidFilter, "the filter has a '[' without an attribute before it")
		}
		end := closingBracket(text, i+1)
		if end < 0 {
			return "", nil, schemas.Errorf(schemas.InvalidFilter, "the filter has a '[' without a matching ']'")
		}
		name := placeholder(text, len(vps))
		vps[name] = valuePath{attr: text[start:i], inner: text[i+1 : end]}
		b.WriteString(text[last:start])
		b.WriteString(name)
		if end+1 >= len(text) || text[end+1] != '.' {
			// A bare "attr[…]" is a filter of its own; "attr[…].sub op
			// value" keeps its sub-attribute and comparison as they are.
			b.WriteString(" pr")
		}
		last = end + 1
		i = end
	}
	if inStr {
		return "", nil, schemas.Errorf(schemas.InvalidFilter, "the filter has an unterminated string")
	}
	b.WriteString(text[last:])
	return b.String(), vps, nil
}

func isPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == ':' || c == '_' || c == '-' || c == '$'
}

// closingBracket returns the index of the ']' closing a bracket whose
// content starts at i, skipping strings; nested '[' is an error (-1).
func closingBracket(text string, i int) int {
	inStr := false
	for ; i < len(text); i++ {
		switch c := text[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && c == '[':
			return -1
		case !inStr && c == ']':
			return i
		}
	}
	return -1
}

// placeholder returns an attribute name that does not occur in text.
func placeholder(text string, n int) string {
	for k := n; ; k++ {
		name := fmt.Sprintf("vpx%d", k)
		if !strings.Contains(text, name) {
			return name
		}
	}
}

type filterCompiler struct {
	rt  *schemas.ResourceType
	vps map[string]valuePath
	o   schemas.Options
	n   int // comparisons so far
}

// count counts one comparison against MaxFilterComparisons.
func (c *filterCompiler) count() error {
	if c.n++; c.n > MaxFilterComparisons {
		return schemas.Errorf(schemas.InvalidFilter, "the filter has more than %d comparisons; split it into several requests", MaxFilterComparisons)
	}
	return nil
}

// compile turns a parsed expression into a store.Filter. parent is the
// multi-valued attribute whose value filter is being compiled, or nil.
func (c *filterCompiler) compile(e filter.Expression, parent *schemas.Attr) (store.Filter, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := c.compile(e.Left, parent)
		if err != nil {
			return nil, err
		}
		r, err := c.compile(e.Right, parent)
		if err != nil {
			return nil, err
		}
		if e.Operator == filter.OR {
			return flatten(true, l, r), nil
		}
		return flatten(false, l, r), nil
	case *filter.NotExpression:
		t, err := c.compile(e.Expression, parent)
		if err != nil {
			return nil, err
		}
		return store.Not{Term: t}, nil
	case *filter.AttributeExpression:
		return c.compare(e, parent)
	}
	return nil, schemas.Errorf(schemas.InvalidFilter, "the filter has an expression scimd does not support")
}

// flatten joins l and r with "or" (or "and"), merging nested terms of the
// same kind so that long chains stay one flat node.
func flatten(or bool, l, r store.Filter) store.Filter {
	var terms []store.Filter
	for _, f := range []store.Filter{l, r} {
		switch t := f.(type) {
		case store.Or:
			if or {
				terms = append(terms, t...)
				continue
			}
		case store.And:
			if !or {
				terms = append(terms, t...)
				continue
			}
		}
		terms = append(terms, f)
	}
	if or {
		return store.Or(terms)
	}
	return store.And(terms)
}

func (c *filterCompiler) compare(e *filter.AttributeExpression, parent *schemas.Attr) (store.Filter, error) {
	if err := c.count(); err != nil {
		return nil, err
	}
	p := e.AttributePath
	if vp, ok := c.vps[p.AttributeName]; ok && p.URIPrefix == nil && parent == nil {
		return c.valuePath(vp, p.SubAttribute, e)
	}
	var attr *schemas.Attr
	var ok bool
	name := p.String()
	if parent != nil {
		if p.URIPrefix == nil && p.SubAttribute == nil {
			attr, ok = parent.SubAttr(p.AttributeName)
		}
		name = parent.Name + "." + name
	} else {
		attr, ok = c.rt.Lookup(name)
	}
	if !ok {
		return nil, schemas.Errorf(schemas.InvalidFilter, "%s has no attribute %q", c.rt.Name, name)
	}
	if attr.Returned == schemas.ReturnedNever {
		return nil, schemas.Errorf(schemas.InvalidFilter, "%s cannot be filtered on", attr.Path)
	}
	if parent == nil && attr.MultiValued && attr.Type == schemas.TypeComplex && e.Operator != filter.PR && e.CompareValue != nil {
		// "emails eq x" compares the value sub-attribute; "emails pr"
		// (and "emails eq null") is about the attribute's values.
		sub, ok := attr.SubAttr("value")
		if !ok {
			return nil, schemas.Errorf(schemas.InvalidFilter, "%s has no value sub-attribute; compare one of its sub-attributes (%s.%s …)", attr.Path, attr.Path, attr.Sub[0].Name)
		}
		attr = sub
	}
	if e.CompareValue == nil && e.Operator != filter.PR {
		return c.null(attr, e.Operator, parent == nil)
	}
	cmp, err := c.cmp(attr, e.Operator, e.CompareValue)
	if err != nil {
		return nil, err
	}
	if parent == nil && attr.Parent != nil && attr.Parent.MultiValued {
		return store.ValuePath{Attr: attr.Parent.Path, Filter: cmp}, nil
	}
	return cmp, nil
}

// null compiles a comparison with null (RFC 7644 §3.4.2.2 allows it as a
// compare value; null and absent are the same, RFC 7643 §2.5): "eq null"
// is "not pr" and "ne null" is "pr". For a sub-attribute of a multi-valued
// attribute at the top level, "eq null" means no value has it. Other
// operators cannot take null.
func (c *filterCompiler) null(a *schemas.Attr, op filter.CompareOperator, top bool) (store.Filter, error) {
	o := store.Op(strings.ToLower(string(op)))
	if o != store.OpEq && o != store.OpNe {
		return nil, schemas.Errorf(schemas.InvalidFilter, "%s %s cannot take null; only eq and ne can", a.Path, o)
	}
	pr, err := c.cmp(a, filter.PR, nil)
	if err != nil {
		return nil, err
	}
	if top && !a.MultiValued && a.Parent != nil && a.Parent.MultiValued {
		pr = store.ValuePath{Attr: a.Parent.Path, Filter: pr}
	}
	if o == store.OpEq {
		return store.Not{Term: pr}, nil
	}
	return pr, nil
}

// valuePath compiles "attr[inner]" (sub == nil, op pr) or
// "attr[inner].sub op value".
func (c *filterCompiler) valuePath(vp valuePath, sub *string, e *filter.AttributeExpression) (store.Filter, error) {
	attr, ok := c.rt.Lookup(vp.attr)
	if !ok || !attr.MultiValued || attr.Type != schemas.TypeComplex {
		return nil, schemas.Errorf(schemas.InvalidFilter, "%s is not a multi-valued complex attribute of %s, so it takes no [filter]", vp.attr, c.rt.Name)
	}
	text := vp.inner
	if c.o.Lenient {
		text = c.quoteBare(text, func(name string) *schemas.Attr {
			_, sub, ok := strings.Cut(name, ".")
			if !ok {
				sub = name
			}
			a, _ := attr.SubAttr(sub)
			return a
		})
	}
	inner, err := filter.ParseFilter([]byte(text))
	if err != nil {
		return nil, schemas.Errorf(schemas.InvalidFilter, "the value filter %s[%s] is not valid SCIM filter syntax", vp.attr, vp.inner)
	}
	f, err := c.compile(inner, attr)
	if err != nil {
		return nil, err
	}
	if sub != nil {
		sa, ok := attr.SubAttr(*sub)
		if !ok {
			return nil, schemas.Errorf(schemas.InvalidFilter, "%s has no sub-attribute %q", attr.Path, *sub)
		}
		if err := c.count(); err != nil {
			return nil, err
		}
		cmp, err := c.cmp(sa, e.Operator, e.CompareValue)
		if err != nil {
			return nil, err
		}
		f = flatten(false, f, cmp)
	} else if e.Operator != filter.PR {
		return nil, schemas.Errorf(schemas.InvalidFilter, "a value filter %s[…] cannot be compared without a sub-attribute", attr.Path)
	}
	return store.ValuePath{Attr: attr.Path, Filter: f}, nil
}

// cmp types the comparison value by the attribute's type.
func (c *filterCompiler) cmp(a *schemas.Attr, op filter.CompareOperator, v any) (store.Filter, error) {
	o := store.Op(strings.ToLower(string(op)))
	out := store.Cmp{Attr: a.Path, Op: o, CaseExact: a.CaseExact}
	if o == store.OpPr {
		return out, nil
	}
	if a.Type == schemas.TypeComplex {
		return nil, schemas.Errorf(schemas.InvalidFilter, "%s is complex; compare one of its sub-attributes (%s.%s …) or test it with pr", a.Path, a.Path, a.Sub[0].Name)
	}
	bad := func() error {
		return schemas.Errorf(schemas.InvalidFilter, "%s %s needs a %s value, not %v", a.Path, o, a.Type, v)
	}
	switch a.Type {
	case schemas.TypeString, schemas.TypeReference, schemas.TypeBinary:
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		if s = unescape(s); strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
			return nil, schemas.Errorf(schemas.InvalidFilter, "the value compared with %s must be UTF-8 text without NUL characters", a.Path)
		}
		out.Value = s
	case schemas.TypeBoolean:
		b, ok := v.(bool)
		if s, isString := v.(string); isString && c.o.Lenient {
			// "active eq \"true\"": a quoted boolean.
			switch {
			case strings.EqualFold(s, "true"):
				b, ok = true, true
			case strings.EqualFold(s, "false"):
				b, ok = false, true
			}
			if ok {
				c.rewrote("bool_string")
			}
		}
		if !ok {
			return nil, bad()
		}
		if o != store.OpEq && o != store.OpNe {
			return nil, schemas.Errorf(schemas.InvalidFilter, "%s is a boolean; only eq, ne and pr apply", a.Path)
		}
		out.Value = b
	case schemas.TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		t, err := time.Parse(time.RFC3339Nano, unescape(s))
		if err != nil {
			return nil, schemas.Errorf(schemas.InvalidFilter, "%s needs an RFC 3339 date-time such as 2026-01-02T15:04:05Z, not %q", a.Path, s)
		}
		if o == store.OpCo || o == store.OpSw || o == store.OpEw {
			return nil, schemas.Errorf(schemas.InvalidFilter, "%s is a date-time; co, sw and ew do not apply", a.Path)
		}
		out.Value = t.UTC()
	case schemas.TypeInteger, schemas.TypeDecimal:
		var n any
		switch x := v.(type) {
		case int:
			n = int64(x)
		case float64:
			if a.Type == schemas.TypeInteger {
				return nil, schemas.Errorf(schemas.InvalidFilter, "%s is an integer; compare it with an integer, not %v", a.Path, x)
			}
			n = x
		default:
			return nil, bad()
		}
		if o == store.OpCo || o == store.OpSw || o == store.OpEw {
			return nil, schemas.Errorf(schemas.InvalidFilter, "%s is a number; co, sw and ew do not apply", a.Path)
		}
		out.Value = n
	default:
		return nil, schemas.Errorf(schemas.InvalidFilter, "filtering on %s is not supported", a.Path)
	}
	return out, nil
}

// unescape decodes JSON string escapes that filter-parser leaves in place
// ("a\"b" stays a\"b). A string that is not valid JSON text stays as it is.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return s
	}
	return out
}

// withBase returns q with base, the request's SCIM base URL, set on every
// comparison of its filter, for the attributes whose values the server
// derives from it (meta.location, groups.$ref, members.$ref).
func withBase(q store.Query, base string) store.Query {
	q.Filter = filterWithBase(q.Filter, base)
	return q
}

func filterWithBase(f store.Filter, base string) store.Filter {
	switch f := f.(type) {
	case store.And:
		out := make(store.And, len(f))
		for i, t := range f {
			out[i] = filterWithBase(t, base)
		}
		return out
	case store.Or:
		out := make(store.Or, len(f))
		for i, t := range f {
			out[i] = filterWithBase(t, base)
		}
		return out
	case store.Not:
		return store.Not{Term: filterWithBase(f.Term, base)}
	case store.ValuePath:
		return store.ValuePath{Attr: f.Attr, Filter: filterWithBase(f.Filter, base)}
	case store.Cmp:
		f.Base = base
		return f
	}
	return f
}
