package store

import "time"

// Filter is a resolved, typed SCIM filter the SCIM layer hands to a backend,
// which compiles it to SQL with bound parameters. The node types are And, Or,
// Not, Cmp and ValuePath.
//
// Semantics every backend must follow exactly (the conformance suite checks
// them): a node is always true or false, never unknown; a comparison on an
// absent attribute is false, except "ne", which is true; "pr" is true when
// the attribute has a non-empty value; Not is plain boolean negation.
type Filter interface {
	filterNode()
}

// And is true when every term is true.
type And []Filter

// Or is true when any term is true.
type Or []Filter

// Not negates its term.
type Not struct{ Term Filter }

// Op is a SCIM comparison operator.
type Op string

// The SCIM comparison operators (RFC 7644 §3.4.2.2).
const (
	OpEq Op = "eq"
	OpNe Op = "ne"
	OpCo Op = "co"
	OpSw Op = "sw"
	OpEw Op = "ew"
	OpGt Op = "gt"
	OpGe Op = "ge"
	OpLt Op = "lt"
	OpLe Op = "le"
	OpPr Op = "pr"
)

// Cmp compares one attribute with a value.
//
// Attr is a canonical attribute name from the lists below. Value is a
// string, bool, int64, float64 or time.Time matching the attribute's type,
// and nil for OpPr. For strings with CaseExact false the backend compares
// Fold(value) with the folded column.
//
// User attributes: id, userName, externalId, displayName, name.givenName,
// name.familyName, active (bool), roles.value (the role), meta.created,
// meta.lastModified (time), and inside a ValuePath on "emails":
// emails.value, emails.type, emails.primary (bool).
// Group attributes: id, displayName, externalId, meta.created,
// meta.lastModified, and inside a ValuePath on "members": members.value.
type Cmp struct {
	Attr      string
	Op        Op
	Value     any
	CaseExact bool
}

// ValuePath is true when one value of the multi-valued attribute Attr
// ("emails" for users, "members" for groups) satisfies Filter; every Cmp in
// Filter names a sub-attribute of Attr ("emails.type", …) and all of them
// are evaluated against the same value. The SCIM layer turns a top-level
// "emails.value eq x" into ValuePath{"emails", Cmp{"emails.value", …}}.
type ValuePath struct {
	Attr   string
	Filter Filter
}

func (And) filterNode()       {}
func (Or) filterNode()        {}
func (Not) filterNode()       {}
func (Cmp) filterNode()       {}
func (ValuePath) filterNode() {}

// Query selects one page of resources.
//
// Without SortBy the order is by id ascending (ids are UUIDv7, so that is
// creation order). With SortBy (a singular attribute name from the Cmp
// lists, not a sub-attribute of emails or members) the order is by that
// attribute (folded when it is not caseExact), absent values last in
// ascending order and first in descending order, ties broken by id in the
// same direction, so every order is total and pages are stable.
type Query struct {
	Filter     Filter // nil selects every live resource
	SortBy     string
	CaseExact  bool // whether SortBy compares exactly (else by folded key)
	Descending bool
	Offset     int // rows to skip, ≥ 0
	Limit      int // rows to return, ≥ 0; 0 returns only the total
}

// UserPage is one page of users and the number of all matches.
type UserPage struct {
	Users []User
	Total int
}

// GroupPage is one page of groups and the number of all matches.
type GroupPage struct {
	Groups []Group
	Total  int
}

// TimePrecision is the precision timestamps survive a round trip with;
// callers truncate times to it before writing.
const TimePrecision = time.Microsecond
