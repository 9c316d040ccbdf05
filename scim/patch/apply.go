package patch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/scimd/scimd/schemas"
)

// MemberKind says what a membership operation does to a group.
type MemberKind int

// The membership operations a PATCH of a Group can produce.
const (
	// MemberAdd adds the listed users; existing members stay.
	MemberAdd MemberKind = iota + 1
	// MemberRemove removes the listed users; others stay.
	MemberRemove
	// MemberReplace makes the listed users the only members.
	MemberReplace
	// MemberClear removes every member.
	MemberClear
)

// String returns the kind's name, as audit entries and errors show it.
func (k MemberKind) String() string {
	switch k {
	case MemberAdd:
		return "add"
	case MemberRemove:
		return "remove"
	case MemberReplace:
		return "replace"
	case MemberClear:
		return "clear"
	}
	return fmt.Sprintf("MemberKind(%d)", int(k))
}

// MemberOp is one membership change the caller must carry out, in order.
// IDs are the member ids as the client sent them (deduplicated); they are
// not checked against the store here.
type MemberOp struct {
	Kind MemberKind
	IDs  []string
}

// Result is what Apply did.
type Result struct {
	// Changed lists the canonical paths of the top-level attributes whose
	// value changed ("displayName", "name", "urn:…:enterprise:2.0:User:manager"),
	// sorted, plus "members" when there are membership operations.
	Changed []string
	// Members are the membership operations of a Group PATCH, in request
	// order; members are never part of the document.
	Members []MemberOp
}

// applier applies the operations of one request to one document.
type applier struct {
	rt      *schemas.ResourceType
	id      string
	doc     map[string]any
	o       schemas.Options
	i       int    // index of the operation being applied
	op      Op     // the operation being applied
	where   string // the path or value key being applied, for errors
	members []MemberOp
	nMember int // member values seen over all operations
}

// Apply applies ops, in order, to doc: the canonical document (as
// schemas.Normalize returns it, without id, meta and members) of the
// resource of type rt whose id is id. doc is modified in place; on error
// it is left half-changed and the caller must discard it (the whole PATCH
// is atomic). After the last operation every required attribute must
// still have a value.
//
// The semantics are RFC 7644 §3.5.2's, with what real clients need:
//   - add on a multi-valued attribute appends the values that are not
//     already there and keeps at most one primary; add or replace of an
//     object on a singular complex attribute, or on the elements a value
//     filter selects, merges sub-attributes (those given as "" or null are
//     removed, the others stay); a manager given as a bare id replaces the
//     whole manager;
//   - add on a value filter that matches nothing creates the element the
//     filter's eq terms describe (Entra's create-on-absent); replace on
//     such a filter is 400 noTarget; remove on it changes nothing;
//   - an empty value ("", null, [], {}) in add or replace removes the
//     target (RFC 7643 §2.5);
//   - a readOnly attribute may be "set" to the value it has, anything else
//     is 400 mutability; readOnly attributes inside a path-less value are
//     ignored, as they are in a POST or PUT body;
//   - an attribute the schema does not know is ignored in lenient mode
//     (counted "unknown_attribute") and 400 invalidPath in strict mode;
//   - remove without a path is 400 noTarget;
//   - a multi-valued attribute left with more values than
//     schemas.MaxValuesOf allows is 400 tooMany.
//
// For a Group, add/replace/remove on "members" and remove on
// members[value eq "…"] (terms joined by "or") become Result.Members;
// remove on "members" with a value list removes only the listed members
// (Entra's default dialect, lenient only).
//
// Errors are *schemas.Error values (invalidPath, invalidFilter,
// invalidValue, invalidSyntax, noTarget, mutability, tooMany) whose detail
// names the operation index and path.
func Apply(rt *schemas.ResourceType, id string, doc map[string]any, ops []Op, o schemas.Options) (Result, error) {
	before, _ := clone(doc).(map[string]any)
	a := &applier{rt: rt, id: id, doc: doc, o: o}
	for i, op := range ops {
		a.i, a.op, a.where = i, op, op.Path
		if err := a.apply(); err != nil {
			return Result{}, err
		}
	}
	if missing := schemas.MissingRequired(rt, doc); len(missing) > 0 {
		return Result{}, schemas.Errorf(schemas.InvalidValue, "%s is required and cannot be removed", strings.Join(missing, ", "))
	}
	if err := schemas.CheckValueCounts(rt, doc); err != nil {
		return Result{}, err
	}
	res := Result{Changed: changedPaths(rt, before, doc), Members: a.members}
	if len(a.members) > 0 {
		res.Changed = append(res.Changed, "members")
		slices.Sort(res.Changed)
	}
	return res, nil
}

// errf returns a client error whose detail names the operation.
func (a *applier) errf(scimType, format string, args ...any) error {
	where := ""
	if a.where != "" {
		where = " " + quote(a.where)
	}
	return schemas.Errorf(scimType, "Operations[%d] (%s%s): %s", a.i, a.op.Op, where, fmt.Sprintf(format, args...))
}

func (a *applier) apply() error {
	if a.op.Path == "" {
		return a.applyNoPath()
	}
	t, known, err := a.parsePath(a.op.Path)
	if err != nil {
		return err
	}
	if !known {
		return a.unknown()
	}
	return a.applyTarget(t, a.op.Op, a.op.Value, false)
}

// unknown handles a path that names no attribute.
func (a *applier) unknown() error {
	if !a.o.Lenient {
		return a.errf(schemas.InvalidPath, "%s has no such attribute", a.rt.Name)
	}
	rewrote(a.o, "unknown_attribute")
	return nil
}

// applyNoPath applies an add or replace whose value is an object of
// attributes (RFC 7644 §3.5.2.1 and §3.5.2.3 without "path"). Keys may be
// dotted or URN-qualified paths (Entra's aadOptscim062020 dialect).
func (a *applier) applyNoPath() error {
	if a.op.Op == OpRemove {
		return a.errf(schemas.NoTarget, "remove needs a path naming what to remove")
	}
	m, ok := a.op.Value.(map[string]any)
	if !ok {
		return a.errf(schemas.InvalidValue, "without a path the value must be an object of attributes, not %s", kindOf(a.op.Value))
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		if strings.EqualFold(k, "schemas") {
			continue
		}
		a.where = k
		if urn, ok := a.rt.IsExtension(k); ok {
			if isBlank(v) {
				continue
			}
			if err := a.applyTarget(target{ext: urn}, a.op.Op, v, true); err != nil {
				return err
			}
			continue
		}
		t, known, err := a.parsePath(k)
		if err != nil {
			return err
		}
		if !known {
			if err := a.unknown(); err != nil {
				return err
			}
			continue
		}
		if t.sub != nil || t.filter != nil || strings.Contains(k, ":") {
			if !a.o.Lenient {
				return a.errf(schemas.InvalidValue, "the keys of a value without a path must be attribute names, not paths")
			}
			rewrote(a.o, "dotted_key")
		}
		if err := a.applyTarget(t, a.op.Op, v, true); err != nil {
			return err
		}
	}
	a.where = ""
	return nil
}

// applyTarget applies one operation to one parsed target. inValue is true
// when the target comes from a key of a path-less value.
func (a *applier) applyTarget(t target, op string, v any, inValue bool) error {
	if t.ext != "" {
		return a.applyExtension(t.ext, op, v)
	}
	at := t.attr
	if a.isMembers(at) {
		return a.applyMembers(t, op, v)
	}
	if at.Mutability == schemas.ReadOnly || (t.sub != nil && t.sub.Mutability == schemas.ReadOnly) {
		return a.readOnly(t, op, v, inValue)
	}
	if err := a.immutable(t, op, v); err != nil {
		return err
	}
	var err error
	switch {
	case t.filter != nil:
		err = a.applyFiltered(t, op, v)
	case t.sub != nil:
		err = a.applySub(t, op, v)
	default:
		err = a.applyWhole(at, op, v)
	}
	if err != nil {
		return err
	}
	return a.settle(at)
}

// applyExtension applies an operation whose target is a whole extension
// object: remove drops it, add and replace merge its attributes.
func (a *applier) applyExtension(urn, op string, v any) error {
	if op == OpRemove {
		delete(a.doc, urn)
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		if isBlank(v) {
			delete(a.doc, urn)
			return nil
		}
		return a.errf(schemas.InvalidValue, "%s takes an object of the extension's attributes, not %s", urn, kindOf(v))
	}
	for _, k := range sortedKeys(m) {
		at, ok := a.rt.Lookup(urn + ":" + k)
		if !ok {
			if err := a.unknown(); err != nil {
				return err
			}
			continue
		}
		t := target{attr: at}
		if at.Parent != nil {
			t = target{attr: at.Parent, sub: at}
		}
		if err := a.applyTarget(t, op, m[k], true); err != nil {
			return err
		}
	}
	return nil
}

// readOnly handles an operation on a readOnly attribute: ignored inside a
// path-less value, accepted when it changes nothing, else mutability.
func (a *applier) readOnly(t target, op string, v any, inValue bool) error {
	if inValue {
		return nil
	}
	name := t.attr.Path
	if t.sub != nil {
		name = t.sub.Path
	}
	if op != OpRemove && t.filter == nil && t.sub == nil {
		if t.attr.Name == "id" && t.attr.Schema == "" {
			if s, ok := v.(string); ok && s == a.id {
				return nil
			}
		} else if same(a.container(t.attr)[t.attr.Name], v) {
			return nil
		}
	}
	return a.errf(schemas.Mutability, "%s is readOnly and cannot be changed", name)
}

// immutable refuses changing an immutable attribute (RFC 7643 §7): it may
// be set while it has no value, and "set" again to the value it has.
func (a *applier) immutable(t target, op string, v any) error {
	at := t.attr
	if t.sub != nil {
		at = t.sub
	}
	if at.Mutability != schemas.Immutable {
		return nil
	}
	cur, ok := a.container(t.attr)[t.attr.Name]
	if t.sub != nil && ok {
		m, _ := cur.(map[string]any)
		cur, ok = m[t.sub.Name]
	}
	if !ok || isBlank(cur) {
		return nil // nothing set yet: the first value may be written
	}
	if op != OpRemove && t.filter == nil {
		if n, err := schemas.NormalizeValue(at, v, true, a.o); err == nil && equalValue(at, cur, n) {
			return nil
		}
	}
	return a.errf(schemas.Mutability, "%s is immutable: it can be set once and not changed", at.Path)
}

// container returns the map an attribute lives in: the document, or the
// extension object (created empty when absent; settle removes it again).
func (a *applier) container(at *schemas.Attr) map[string]any {
	if !at.Extension {
		return a.doc
	}
	m, ok := a.doc[at.Schema].(map[string]any)
	if !ok {
		m = map[string]any{}
		a.doc[at.Schema] = m
	}
	return m
}

// settle re-normalizes the value of a top-level attribute after an
// operation (dropping empty values, checking primaries) and removes an
// empty extension object.
func (a *applier) settle(at *schemas.Attr) error {
	c := a.container(at)
	if v, ok := c[at.Name]; ok {
		n, err := schemas.NormalizeValue(at, v, true, schemas.Options{})
		if err != nil {
			if e, ok := err.(*schemas.Error); ok {
				return a.errf(e.ScimType, "%s", e.Detail)
			}
			return err
		}
		if n == nil {
			delete(c, at.Name)
		} else {
			c[at.Name] = n
		}
	}
	if at.Extension && len(c) == 0 {
		delete(a.doc, at.Schema)
	}
	return nil
}

// normalize checks a client value for at; multi is NormalizeValue's.
func (a *applier) normalize(at *schemas.Attr, v any, multi bool) (any, error) {
	n, err := schemas.NormalizeValue(at, v, multi, a.o)
	if err != nil {
		if e, ok := err.(*schemas.Error); ok {
			return nil, a.errf(e.ScimType, "%s", e.Detail)
		}
		return nil, err
	}
	return n, nil
}

// applyWhole applies an operation to a whole top-level attribute.
func (a *applier) applyWhole(at *schemas.Attr, op string, v any) error {
	c := a.container(at)
	if op == OpRemove {
		if v != nil && at.MultiValued {
			return a.removeValues(at, c, v)
		}
		delete(c, at.Name)
		return nil
	}
	n, err := a.normalize(at, v, true)
	if err != nil {
		return err
	}
	if at.Type == schemas.TypeComplex && !at.MultiValued {
		a.mergeSingular(at, c, v, n)
		return nil
	}
	switch {
	case n == nil:
		delete(c, at.Name)
	case at.MultiValued && op == OpAdd:
		list, _ := c[at.Name].([]any)
		for _, el := range n.([]any) {
			if slices.ContainsFunc(list, func(have any) bool { return equalValue(at, have, el) }) {
				continue
			}
			if isPrimary(el) {
				clearPrimary(list)
			}
			list = append(list, el)
		}
		c[at.Name] = list
	default:
		c[at.Name] = n
	}
	return nil
}

// mergeSingular applies add or replace of the client value v (normalized:
// n) to a singular complex attribute. An object merges: the sub-attributes
// it names get their new values, those it gives as empty ("", null, [], {})
// are removed, the others stay (RFC 7644 §3.5.2.1 and §3.5.2.3; RFC 7643
// §2.5). An empty value removes the whole attribute, and a shorthand
// (manager: "<id>", lenient) replaces it whole, so that no sub-attribute of
// the old value (such as manager.$ref) survives.
func (a *applier) mergeSingular(at *schemas.Attr, c map[string]any, v, n any) {
	obj, blank := a.objectValue(at, v)
	if !obj || (n == nil && len(blank) == 0) {
		if n == nil {
			delete(c, at.Name)
		} else {
			c[at.Name] = n
		}
		return
	}
	pm, _ := c[at.Name].(map[string]any)
	if pm == nil {
		pm = map[string]any{}
	}
	for _, k := range blank {
		delete(pm, k)
	}
	if m, ok := n.(map[string]any); ok {
		for k, sv := range m {
			pm[k] = sv
		}
	}
	c[at.Name] = pm // settle drops it when nothing is left
}

// objectValue reports whether the client value v for the complex attribute
// at is an object (in lenient mode also a one-element array holding one),
// and returns the canonical names of the sub-attributes it gives an empty
// value, which a merge removes.
func (a *applier) objectValue(at *schemas.Attr, v any) (bool, []string) {
	if list, ok := v.([]any); ok && len(list) == 1 && a.o.Lenient {
		v = list[0]
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false, nil
	}
	var blank []string
	for _, k := range sortedKeys(m) {
		if sa, ok := at.SubAttr(k); ok && sa.Mutability != schemas.ReadOnly && isBlank(m[k]) {
			blank = append(blank, sa.Name)
		}
	}
	return true, blank
}

// removeValues is remove with a value list on a multi-valued attribute:
// only the listed values go (lenient only; the RFC has no such form).
func (a *applier) removeValues(at *schemas.Attr, c map[string]any, v any) error {
	if !a.o.Lenient {
		return a.errf(schemas.InvalidSyntax, "remove takes no value; select the values to remove with a filter, as in %s[value eq \"…\"]", at.Name)
	}
	rewrote(a.o, "remove_value")
	n, err := a.normalize(at, v, true)
	if err != nil || n == nil {
		return err
	}
	list, _ := c[at.Name].([]any)
	out := list[:0]
	for _, el := range list {
		if !slices.ContainsFunc(n.([]any), func(part any) bool { return contains(at, el, part) }) {
			out = append(out, el)
		}
	}
	c[at.Name] = out
	return nil
}

// applySub applies an operation to a sub-attribute without a filter:
// name.givenName, or emails.value (every element).
func (a *applier) applySub(t target, op string, v any) error {
	at, sub := t.attr, t.sub
	c := a.container(at)
	var n any
	if op != OpRemove {
		var err error
		if n, err = a.normalize(sub, v, true); err != nil {
			return err
		}
	}
	if !at.MultiValued {
		pm, _ := c[at.Name].(map[string]any)
		if n == nil {
			delete(pm, sub.Name)
			return nil
		}
		if pm == nil {
			pm = map[string]any{}
			c[at.Name] = pm
		}
		pm[sub.Name] = n
		return nil
	}
	list, _ := c[at.Name].([]any)
	if len(list) == 0 {
		if n != nil {
			c[at.Name] = []any{map[string]any{sub.Name: n}}
		}
		return nil
	}
	for _, el := range list {
		if m, ok := el.(map[string]any); ok {
			setOrDelete(m, sub.Name, n)
		}
	}
	if sub.Name == "primary" && n == true && len(list) > 1 {
		return a.errf(schemas.InvalidValue, "only one value of %s can be primary; select it with a filter", at.Path)
	}
	return nil
}

// applyFiltered applies an operation to the values a value filter selects.
func (a *applier) applyFiltered(t target, op string, v any) error {
	at, sub := t.attr, t.sub
	c := a.container(at)
	var list []any
	switch cur := c[at.Name].(type) {
	case []any:
		list = cur
	case map[string]any: // a singular complex attribute (lenient; see parsePath)
		list = []any{cur}
	}
	var matched []int
	for i, el := range list {
		if t.filter.match(el) {
			matched = append(matched, i)
		}
	}
	if op == OpRemove {
		keep := list[:0]
		for i, el := range list {
			if !slices.Contains(matched, i) {
				keep = append(keep, el)
				continue
			}
			if sub != nil {
				if m, ok := el.(map[string]any); ok {
					delete(m, sub.Name)
					keep = append(keep, m)
				}
			}
		}
		return a.store(at, c, keep)
	}
	// add or replace: the new element or sub-attribute value.
	var n any
	var err error
	if sub != nil {
		n, err = a.normalize(sub, v, true)
	} else {
		n, err = a.normalize(at, v, false)
	}
	if err != nil {
		return err
	}
	if len(matched) == 0 {
		if op == OpReplace {
			return a.errf(schemas.NoTarget, "no value of %s matches the filter", at.Path)
		}
		if n == nil {
			return nil
		}
		el := map[string]any{}
		if len(at.Sub) == 0 || !t.filter.seed(el) {
			return a.errf(schemas.NoTarget, "no value of %s matches the filter, and the filter does not describe a value to create", at.Path)
		}
		if sub != nil {
			el[sub.Name] = n
		} else if err := merge(el, n); err != nil {
			return a.errf(schemas.InvalidValue, "%s", err)
		}
		if isPrimary(el) {
			clearPrimary(list)
		}
		return a.store(at, c, append(list, el))
	}
	for _, i := range matched {
		el, ok := list[i].(map[string]any)
		switch {
		case !ok:
			list[i] = n // a simple multi-valued attribute
		case sub != nil:
			setOrDelete(el, sub.Name, n)
		default:
			// Like a singular complex value: an object merges (its empty
			// sub-attributes are removed), an empty value removes the
			// element.
			obj, blank := a.objectValue(at, v)
			if n == nil && (!obj || len(blank) == 0) {
				clear(el)
				continue
			}
			for _, k := range blank {
				delete(el, k)
			}
			if n != nil {
				if err := merge(el, n); err != nil {
					return a.errf(schemas.InvalidValue, "%s", err)
				}
			}
		}
	}
	primaries := 0
	for _, i := range matched {
		if isPrimary(list[i]) {
			primaries++
		}
	}
	if primaries > 1 {
		return a.errf(schemas.InvalidValue, "the filter selects %d values of %s and only one can be primary", primaries, at.Path)
	}
	if primaries == 1 {
		for i, el := range list {
			if !slices.Contains(matched, i) {
				if m, ok := el.(map[string]any); ok {
					delete(m, "primary")
				}
			}
		}
	}
	return a.store(at, c, list)
}

// store writes a multi-valued attribute's list back (a singular complex
// attribute selected by a filter gets its one element back).
func (a *applier) store(at *schemas.Attr, c map[string]any, list []any) error {
	if !at.MultiValued {
		if len(list) == 0 || isBlank(list[0]) {
			delete(c, at.Name)
		} else {
			c[at.Name] = list[0]
		}
		return nil
	}
	c[at.Name] = list
	return nil
}

// isMembers reports whether at is a Group's members attribute.
func (a *applier) isMembers(at *schemas.Attr) bool {
	return at.Schema == schemas.GroupURN && at.Name == "members"
}

// applyMembers turns an operation on members into a membership operation.
func (a *applier) applyMembers(t target, op string, v any) error {
	if t.sub != nil {
		return a.errf(schemas.InvalidPath, "members are added, replaced or removed whole; a path cannot name one of their sub-attributes")
	}
	if t.filter != nil {
		if op != OpRemove {
			return a.errf(schemas.InvalidPath, "a members filter can only select members to remove; add them with the path \"members\"")
		}
		ids, ok := t.filter.memberIDs(nil)
		if !ok {
			return a.errf(schemas.InvalidFilter, "members can only be selected by value eq \"<id>\" terms joined by or")
		}
		return a.addMemberOp(MemberRemove, ids)
	}
	switch op {
	case OpRemove:
		if v == nil {
			return a.addMemberOp(MemberClear, nil)
		}
		if !a.o.Lenient {
			return a.errf(schemas.InvalidSyntax, "remove takes no value; select members with members[value eq \"<id>\"]")
		}
		rewrote(a.o, "remove_value")
		ids, err := a.memberValues(t.attr, v)
		if err != nil || len(ids) == 0 {
			return err
		}
		return a.addMemberOp(MemberRemove, ids)
	case OpAdd:
		ids, err := a.memberValues(t.attr, v)
		if err != nil || len(ids) == 0 {
			return err
		}
		return a.addMemberOp(MemberAdd, ids)
	default:
		ids, err := a.memberValues(t.attr, v)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return a.addMemberOp(MemberClear, nil)
		}
		return a.addMemberOp(MemberReplace, ids)
	}
}

// memberValues returns the distinct member ids of a members value.
func (a *applier) memberValues(at *schemas.Attr, v any) ([]string, error) {
	if list, ok := v.([]any); ok && len(list) > MaxMemberValues {
		return nil, a.errf(schemas.TooMany, "the request names more than %d members", MaxMemberValues)
	}
	n, err := a.normalize(at, v, true)
	if err != nil || n == nil {
		return nil, err
	}
	list := n.([]any)
	ids := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, el := range list {
		m, _ := el.(map[string]any)
		id, _ := m["value"].(string)
		if id == "" {
			return nil, a.errf(schemas.InvalidValue, "every member needs a non-empty \"value\" (the member's id)")
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (a *applier) addMemberOp(kind MemberKind, ids []string) error {
	a.nMember += len(ids)
	if a.nMember > MaxMemberValues {
		return a.errf(schemas.TooMany, "the request names more than %d members", MaxMemberValues)
	}
	a.members = append(a.members, MemberOp{Kind: kind, IDs: ids})
	return nil
}

// merge copies the sub-attributes of the complex value n into el.
func merge(el map[string]any, n any) error {
	m, ok := n.(map[string]any)
	if !ok {
		return fmt.Errorf("the value must be an object, not %s", kindOf(n))
	}
	for k, v := range m {
		el[k] = v
	}
	return nil
}

func setOrDelete(m map[string]any, k string, v any) {
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
}

func isPrimary(el any) bool {
	m, ok := el.(map[string]any)
	return ok && m["primary"] == true
}

func clearPrimary(list []any) {
	for _, el := range list {
		if m, ok := el.(map[string]any); ok {
			delete(m, "primary")
		}
	}
}

// changedPaths lists the top-level attributes whose value differs between
// before and after.
func changedPaths(rt *schemas.ResourceType, before, after map[string]any) []string {
	var out []string
	for _, k := range unionKeys(before, after) {
		if urn, ok := rt.IsExtension(k); ok {
			bm, _ := before[k].(map[string]any)
			am, _ := after[k].(map[string]any)
			for _, sk := range unionKeys(bm, am) {
				if !same(bm[sk], am[sk]) {
					out = append(out, urn+":"+sk)
				}
			}
			continue
		}
		if !same(before[k], after[k]) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func unionKeys(x, y map[string]any) []string {
	keys := make([]string, 0, len(x)+len(y))
	for k := range x {
		keys = append(keys, k)
	}
	for k := range y {
		if _, ok := x[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// kindOf names the JSON type of a value for error details.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return "a number"
}
