package store

import "time"

// Filter is a resolved, typed SCIM filter the SCIM layer hands to a backend,
// which compiles it to SQL with bound parameters. The node types are And, Or,
// Not, Cmp and ValuePath.
//
// Every attribute of the resource type's catalogue (schemas.User with the
// Enterprise extension, schemas.Group) can be filtered on, except the
// writeOnly password. The semantics every backend must follow exactly are
// those of a comparison on the resource as the server renders it (the
// stored document with id, active, roles, groups, members and meta filled
// in; see internal/filtereval, the reference evaluator the conformance suite
// checks both backends against):
//
//   - A node is always true or false, never unknown.
//   - A value is present when it is not null, not "", not [] and not {}, and
//     has its attribute's type (a value of another type counts as absent).
//     pr is true when the value is present; for a multi-valued attribute when
//     it has at least one value. A comparison with an absent value is false,
//     except ne, which is true.
//   - A value of a multi-valued attribute is a JSON object; the values of
//     emails without a non-empty "value" are not values for filtering (they
//     are not kept in the emails table), and the primary sub-attribute of a
//     value is false when absent (as the emails table stores it). A
//     comparison on a sub-attribute is true when some value satisfies it,
//     so ne is false for a resource without values.
//   - Strings compare by the byte order of their UTF-8 (after Fold, on both
//     sides, unless CaseExact); co, sw and ew are substring tests on the same
//     strings. Booleans take only eq and ne. Date-times compare as instants,
//     numbers numerically.
//   - Not is plain boolean negation, also of absent values.
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
// Attr is a canonical attribute path of the resource type's catalogue
// ("userName", "name.middleName", "meta.created",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
// a sub-attribute of a multi-valued attribute ("emails.value") is named
// only inside a ValuePath on that attribute. A complex attribute, singular
// ("name") or multi-valued ("addresses"), takes only pr.
//
// Value matches the attribute's type: a string (string, reference and
// binary attributes), bool, time.Time (dateTime), int64 (integer), float64
// or int64 (decimal); it is nil for OpPr. For strings with CaseExact false
// the backend compares Fold(value) with the folded attribute.
//
// Base is the SCIM base URL ("https://host/scim/v2") that the attributes
// holding a URL the server derives from it are relative to: meta.location,
// groups.$ref of a user and members.$ref of a group. A comparison on them
// without a Base is ErrUnsupported.
type Cmp struct {
	Attr      string
	Op        Op
	Value     any
	CaseExact bool
	Base      string
}

// ValuePath is true when one value of the multi-valued attribute Attr
// ("emails", "addresses", "members", …) satisfies Filter; every Cmp in
// Filter names a sub-attribute of Attr ("emails.type", …) and all of them
// are evaluated against the same value. A ValuePath is not nested in
// another. The SCIM layer turns a top-level "emails.value eq x" into
// ValuePath{"emails", Cmp{"emails.value", …}}.
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
// creation order). SortBy is the canonical path of a non-complex attribute
// of the resource type's catalogue other than the writeOnly password
// (ResolveSort lists the rules): "userName", "name.middleName",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
// or a sub-attribute of a multi-valued attribute ("emails.value"), whose key
// is taken from the attribute's primary value, else its first value (RFC
// 7644 §3.4.2.3). The order is by that key (Fold of it when the attribute is
// a string and CaseExact is false), absent values last in ascending order
// and first in descending order, ties broken by id in the same direction,
// so every order is total: descending is the exact reverse of ascending.
//
// A page is either Offset-based (skip Offset rows of the order) or
// keyset-based: After selects the rows strictly after a Position of the
// order, Before the rows strictly before it (the Limit rows closest to it,
// still returned in order). Positions come from the Keys of an earlier page
// of the same resource type, filter and sort; a resource that is created or
// deleted between two keyset pages changes neither page boundary, so a walk
// from page to page by Keys returns every resource that exists throughout
// it exactly once.
type Query struct {
	Filter     Filter // nil selects every live resource
	SortBy     string
	CaseExact  bool // whether SortBy compares exactly (else by folded key)
	Descending bool
	Offset     int // rows to skip, ≥ 0 (after After, when set)
	Limit      int // rows to return, ≥ 0; 0 returns only the total (and the edges, with Edges)
	// After and Before (at most one) make the page keyset-based.
	After, Before *Position
	// Edges asks for HasPrev and HasNext in every case; without it HasNext
	// is reported for pages with Limit > 0 that are not Before pages, and
	// HasPrev for Before pages.
	Edges bool
	// WithGroups asks ListUsers to fill the Groups of every user of the
	// page, read with the page (ignored by ListGroups).
	WithGroups bool
	// WithoutEmails asks ListUsers to leave the Emails of the page's users
	// nil, for callers that render users from Doc (which holds the same
	// emails) and need not read the emails table.
	WithoutEmails bool
	// IfChurn, when not nil, makes a ListUsers page conditional on the
	// tenant's churn count (Checkpoints.Churn) still being *IfChurn in the
	// page's own snapshot: then the live users are exactly those of the
	// snapshot that count was read in, and a page After a checkpoint id
	// with an Offset (Checkpoints.Seek) holds the rows a plain Offset from
	// the start would. When the count differs ListUsers returns ErrStale
	// and no page. Only an unfiltered ListUsers in the default order (no
	// Filter, by id ascending, not Before) takes it; any other query with
	// IfChurn, and ListGroups, is ErrUnsupported.
	IfChurn *int64
	// Deleted makes ListUsers return deleted users (tombstones, erased ones
	// included) instead of live ones, with the same filters, sorts and
	// paging; ListGroups ignores it, and IfChurn with it is ErrUnsupported.
	// A filter on an erased tombstone sees only what it keeps (id, role,
	// active false, meta).
	Deleted bool
	// NoTotal makes ListUsers and ListGroups skip counting the matches:
	// the page reports Total −1, so that a page of a filtered listing of
	// many resources costs only its rows. The rows, Keys, HasPrev and
	// HasNext are those of the same query without it.
	NoTotal bool
}

// Checkpoints are positions spread evenly over the default order (by id
// ascending) of a tenant's live users, read by UserCheckpoints in one
// snapshot together with the tenant's churn count in that snapshot. With
// them an offset deep into the order becomes a seek after the nearest
// checkpoint and a short offset (Seek), valid as long as the churn count
// has not moved (Query.IfChurn).
type Checkpoints struct {
	// Churn is the tenant's churn count: it grows by one whenever a user
	// becomes live (is created live or restored) or stops being live (is
	// deleted, erased or removed), and by nothing else; updates of a live
	// user, (de)activation included, leave it. It never decreases, so two
	// snapshots with the same count have the same live users and every
	// live user at the same offset of the default order.
	Churn int64
	// Every is the distance between two checkpoints, ≥ 1.
	Every int
	// IDs[i] is the id of the live user at 0-based offset (i+1)·Every−1 of
	// the default order: there are ⌊live users / Every⌋ of them.
	IDs []string
}

// Seek returns how to read the rows from 0-based offset of the default
// order through the checkpoints: the rows after the checkpoint id after,
// skipping rest of them. It picks the last checkpoint before offset
// (checkpoint i is at offset (i+1)·Every−1, so the rows after it start at
// (i+1)·Every ≤ offset), so rest is below Every unless offset is past the
// end of the live users. ok is false when no checkpoint lies before
// offset (offset < Every, or no IDs); the page is then a plain Offset.
func (c Checkpoints) Seek(offset int) (after string, rest int, ok bool) {
	if c.Every < 1 || offset < c.Every || len(c.IDs) == 0 {
		return "", offset, false
	}
	i := min(offset/c.Every, len(c.IDs)) - 1
	return c.IDs[i], offset - (i+1)*c.Every, true
}

// CountsFromPage reports whether the total of q can be learnt from its
// page: q is the first page of a filtered list (no offset, no position)
// and asks for rows, so a page that comes back not full holds every match
// and its length is the total. Backends count only when it is full.
func (q Query) CountsFromPage() bool {
	return q.Filter != nil && q.After == nil && q.Before == nil && q.Offset == 0 && q.Limit > 0
}

// Position is a place in the order of a Query: the sort key of a resource
// and its id. Key is nil when the resource has no value for SortBy (and
// always without SortBy); else a string (Fold of it when the sort is not
// caseExact), bool, int64 or time.Time, by the attribute's type.
type Position struct {
	Key any
	ID  string
}

// TypedPosition is a Position with its key's type kept, for the texts
// that carry positions between requests (SCIM cursors, the console's page
// links) as JSON. Times are kept to the microsecond (TimePrecision).
type TypedPosition struct {
	ID   string  `json:"i"`
	Str  *string `json:"s,omitempty"`
	Bool *bool   `json:"b,omitempty"`
	Int  *int64  `json:"n,omitempty"`
	Time *int64  `json:"u,omitempty"` // unix microseconds
}

// Typed returns p with its key's type kept.
func Typed(p Position) *TypedPosition {
	c := &TypedPosition{ID: p.ID}
	switch k := p.Key.(type) {
	case string:
		c.Str = &k
	case bool:
		c.Bool = &k
	case int64:
		c.Int = &k
	case time.Time:
		us := k.UnixMicro()
		c.Time = &us
	}
	return c
}

// Position returns the position c keeps.
func (c *TypedPosition) Position() Position {
	p := Position{ID: c.ID}
	switch {
	case c.Str != nil:
		p.Key = *c.Str
	case c.Bool != nil:
		p.Key = *c.Bool
	case c.Int != nil:
		p.Key = *c.Int
	case c.Time != nil:
		p.Key = time.UnixMicro(*c.Time).UTC()
	}
	return p
}

// UserPage is one page of users and the number of all matches.
type UserPage struct {
	Users []User
	Total int // all matches of the filter, wherever the page is; −1 with Query.NoTotal
	// Keys holds the Position of each user of the page, in order.
	Keys []Position
	// HasPrev and HasNext report whether matching users come before the
	// first (after the last) user of the page; for an empty page, before
	// (after) the page's place in the order. See Query.Edges for when they
	// are filled.
	HasPrev, HasNext bool
}

// GroupPage is one page of groups and the number of all matches; the
// fields mean what UserPage's do.
type GroupPage struct {
	Groups           []Group
	Total            int
	Keys             []Position
	HasPrev, HasNext bool
}

// TimePrecision is the precision timestamps survive a round trip with;
// callers truncate times to it before writing.
const TimePrecision = time.Microsecond
