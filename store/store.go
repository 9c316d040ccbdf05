package store

import (
	"context"
	"encoding/json"
	"time"
)

// Reader is the read side of the storage contract. Every method is scoped to
// one tenant (except the token and tenant look-ups that establish it) and
// never returns rows of another tenant.
type Reader interface {
	// GetTenant returns the tenant with the given id, or ErrNotFound.
	GetTenant(ctx context.Context, id string) (Tenant, error)
	// GetTenantByName returns the tenant with the given name, or ErrNotFound.
	GetTenantByName(ctx context.Context, name string) (Tenant, error)
	// ListTenants returns every tenant ordered by name.
	ListTenants(ctx context.Context) ([]Tenant, error)

	// TokenByHash returns the token whose SHA-256 hash is hash, whatever its
	// state (revoked and expired tokens are returned too; the caller decides),
	// with its tenant's policy document in TenantPolicy, or ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// ListTokens returns the tokens of a tenant ordered by creation time.
	ListTokens(ctx context.Context, tenantID string) ([]Token, error)
	// UserOwnsLiveToken reports whether a SCIM token owned by the user is
	// neither revoked nor expired at now.
	UserOwnsLiveToken(ctx context.Context, tenantID, userID string, now time.Time) (bool, error)

	// GetUser returns a live (not deleted) user, or ErrNotFound. A malformed
	// id is ErrNotFound, not an error of its own.
	GetUser(ctx context.Context, tenantID, id string) (User, error)
	// GetUserByUserName returns the live user whose userName folds to the
	// same key as userName, or ErrNotFound.
	GetUserByUserName(ctx context.Context, tenantID, userName string) (User, error)
	// GetTombstone returns the deleted user (tombstone) with the given id,
	// or ErrNotFound when there is none (live users included).
	GetTombstone(ctx context.Context, tenantID, id string) (User, error)
	// CountUsers returns how many users of the tenant are in one of the
	// given states (none: 0).
	CountUsers(ctx context.Context, tenantID string, states ...UserState) (int, error)
	// EmailTaken reports whether a live user other than exceptUserID ("" for
	// none) has an email whose folded value equals Fold(email).
	EmailTaken(ctx context.Context, tenantID, email, exceptUserID string) (bool, error)
	// UserNameReserved reports whether a tombstone holds userName: a
	// retained tombstone whose folded userName equals Fold(userName), or an
	// erased one whose key is ErasedKey(userName).
	UserNameReserved(ctx context.Context, tenantID, userName string) (bool, error)
	// FindRetainedByEmail returns the most recently deleted tombstone with
	// retained data (not erased) that has an email whose folded value
	// equals Fold(email), or ErrNotFound.
	FindRetainedByEmail(ctx context.Context, tenantID, email string) (User, error)
	// GetOwner returns the live user whose role is owner, or ErrNotFound.
	GetOwner(ctx context.Context, tenantID string) (User, error)
	// ListUsers returns one page of live users (of tombstones with
	// Query.Deleted) matching q and the number of all matches (−1 with
	// Query.NoTotal). An attribute the backend cannot compile is ErrUnsupported;
	// a page conditional on a churn count (Query.IfChurn) that has moved is
	// ErrStale, and IfChurn on a query other than the unfiltered default
	// order is ErrUnsupported.
	ListUsers(ctx context.Context, tenantID string, q Query) (UserPage, error)
	// UserCheckpoints returns the tenant's churn count and, read in the
	// same snapshot, the id of every every-th live user of the default
	// order (by id ascending): the users at 0-based offsets every−1,
	// 2·every−1, … (see Checkpoints). It reads the index of live user ids
	// once. A tenant without users (or with an unknown or malformed id)
	// has churn 0 and no checkpoints. every below 1 is ErrUnsupported;
	// other errors are the database's.
	UserCheckpoints(ctx context.Context, tenantID string, every int) (Checkpoints, error)
	// UserGroups returns, for each given live user id, the groups the user
	// is a direct member of, ordered by group display name then id. Ids that
	// do not exist are absent from the map.
	UserGroups(ctx context.Context, tenantID string, userIDs []string) (map[string][]GroupRef, error)

	// GetGroup returns a group, or ErrNotFound (malformed ids included).
	GetGroup(ctx context.Context, tenantID, id string) (Group, error)
	// ListGroups returns one page of groups matching q and the number of all
	// matches. An attribute the backend cannot compile is ErrUnsupported, and
	// so is Query.IfChurn.
	ListGroups(ctx context.Context, tenantID string, q Query) (GroupPage, error)
	// ListEvents returns up to limit outbox events of a tenant whose id is
	// greater than after ("" for the start), ordered by id (ids are UUIDv7,
	// so this is the order they were written in).
	ListEvents(ctx context.Context, tenantID, after string, limit int) ([]Event, error)
	// ListAudit returns up to limit audit entries of a tenant whose id is
	// greater than after ("" for the start), ordered by id.
	ListAudit(ctx context.Context, tenantID, after string, limit int) ([]AuditEntry, error)
	// GroupMembers returns, for each given group id, its members ordered by
	// member id. Groups without members are absent from the map.
	GroupMembers(ctx context.Context, tenantID string, groupIDs []string) (map[string][]Member, error)

	EventReader
	BatchReader
	BrakeReader
}

// Tx is one read-write transaction. Reads through a Tx see the
// transaction's own writes. A Tx must not be used after the function given
// to Store.Update returns.
type Tx interface {
	Reader

	// CreateTenant inserts t (t.ID must be set). A taken name is ErrConflict.
	CreateTenant(ctx context.Context, t *Tenant) error
	// UpdateTenantPolicy replaces the policy document of a tenant, or
	// returns ErrNotFound.
	UpdateTenantPolicy(ctx context.Context, tenantID string, policy json.RawMessage) error

	// CreateToken inserts a token (ID, TenantID, Hash and Created must be
	// set). A duplicate hash is ErrConflict.
	CreateToken(ctx context.Context, t *Token) error
	// RevokeToken marks a token revoked at the given time, or returns
	// ErrNotFound. Revoking a revoked token keeps the first revocation time.
	RevokeToken(ctx context.Context, id string, at time.Time) error

	// LockUser returns a live user and holds a write lock on its row until
	// the transaction ends (SELECT … FOR UPDATE on PostgreSQL; SQLite
	// transactions are already exclusive). Missing or deleted: ErrNotFound.
	LockUser(ctx context.Context, tenantID, id string) (User, error)
	// CreateUser inserts u with Version 1 (u.ID, Created and Modified must be
	// set). A live user with the same folded userName is a *ConflictError
	// for "userName" (errors.Is ErrConflict); a second live user with the
	// role owner is a *ConflictError for "roles".
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser writes u over the row whose version is expectVersion and
	// sets u.Version to expectVersion+1. No such live row at that version:
	// ErrPrecondition if the user exists, else ErrNotFound. A userName taken
	// by another live user is a *ConflictError for "userName", a second
	// owner one for "roles".
	UpdateUser(ctx context.Context, u *User, expectVersion int64) error
	// DeleteUser turns a live user into a tombstone (State deleted, Active
	// false, Modified at, version bumped) and removes it from every group.
	// With erase, the tombstone keeps only the id, tenant, state, role,
	// version and times: userName becomes "" with key ErasedKey(userName),
	// every other personal column, the document, the password hash and the
	// emails are removed (Erased reports true afterwards). Without erase
	// the row keeps its data (and its emails) for a later restore.
	// Missing or already deleted: ErrNotFound.
	DeleteUser(ctx context.Context, tenantID, id string, at time.Time, erase bool) error
	// RestoreUser turns a retained tombstone back into a live user: it
	// writes u (u.ID names the tombstone; State must not be deleted) over
	// it and sets u.Version to the tombstone's version + 1. No retained
	// tombstone with that id: ErrNotFound; a userName or owner role taken
	// by a live user: *ConflictError.
	RestoreUser(ctx context.Context, u *User) error
	// LockTenant returns the tenant and holds a write lock on its row until
	// the transaction ends, serialising changes that count the tenant's
	// users (seats, the owner) across processes. Missing: ErrNotFound.
	LockTenant(ctx context.Context, tenantID string) (Tenant, error)
	// LockKeys holds, until the transaction ends, an exclusive lock on each
	// (tenant, kind, key) named, so that transactions naming a common key
	// run one after the other (across processes) while the others do not
	// wait: e.g. kind "email" with folded email addresses, so that two
	// creates of one address cannot both find it free. Keys are taken in a
	// fixed order whatever the order given, so two transactions locking
	// overlapping sets do not deadlock; a transaction that also takes
	// LockTenant must take it first. Errors are the driver's.
	LockKeys(ctx context.Context, tenantID, kind string, keys []string) error

	// LockGroup is LockUser for groups.
	LockGroup(ctx context.Context, tenantID, id string) (Group, error)
	// CreateGroup inserts g with Version 1. A group with the same folded
	// displayName is a *ConflictError for "displayName".
	CreateGroup(ctx context.Context, g *Group) error
	// UpdateGroup is UpdateUser for groups.
	UpdateGroup(ctx context.Context, g *Group, expectVersion int64) error
	// DeleteGroup removes a group, its memberships and its membership in
	// other groups, or returns ErrNotFound.
	DeleteGroup(ctx context.Context, tenantID, id string) error
	// AddMembers adds the live users and the groups of the tenant with the
	// given ids to a group (a group cannot be a member of itself); ids
	// that are already members change nothing. It returns the ids that are
	// neither live users nor other groups of the tenant (malformed ids and
	// the group's own id included) and adds none of the ids when that list
	// is not empty. Membership is direct: a group member's own members are
	// not members of the outer group.
	AddMembers(ctx context.Context, tenantID, groupID string, userIDs []string) (missing []string, err error)
	// RemoveMembers removes the given ids from a group; ids that are not
	// members are ignored.
	RemoveMembers(ctx context.Context, tenantID, groupID string, userIDs []string) error
	// ClearMembers removes every member of a group.
	ClearMembers(ctx context.Context, tenantID, groupID string) error

	// AppendAudit appends one audit entry (e.ID must be set).
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// AppendEvent appends one event to the outbox (e.ID must be set) and
	// a pending delivery of it, due at e.At, for every webhook the tenant
	// has.
	AppendEvent(ctx context.Context, e *Event) error

	EventWriter
	BatchWriter
	BrakeWriter
	IdempotencyWriter
}

// Store is a storage backend. Its Reader methods run outside any explicit
// transaction, each one atomically.
type Store interface {
	Reader
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil; any error from fn rolls back and is returned unchanged.
	// Writes are serialised per row by LockUser/LockGroup; on SQLite the
	// whole transaction is exclusive.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Secret returns the random secret with the given name, creating it
	// (32 random bytes) on first use. Every process on the database gets
	// the same bytes, so it can key what replicas must agree on (the HMAC
	// of RFC 9865 cursors).
	Secret(ctx context.Context, name string) ([]byte, error)
	Dispatch
	ConsoleStore
	IdempotencyStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database handles.
	Close() error
}

// Tenant is one customer of scimd; every other row belongs to exactly one.
type Tenant struct {
	ID      string
	Name    string
	Policy  json.RawMessage // policy settings document; "{}" means defaults
	Created time.Time
}

// Token kinds: SCIM tokens authenticate identity providers on /scim/v2,
// host tokens the host product on /api/v1; neither is accepted on the
// other's API.
const (
	TokenSCIM = "scim"
	TokenHost = "host"
)

// Token is a bearer token; only the SHA-256 hash of its secret is stored.
type Token struct {
	ID       string
	TenantID string
	Kind     string // TokenSCIM or TokenHost; "" is stored as TokenSCIM
	Hash     []byte
	OwnerID  string // the admin user the token belongs to; "" for none
	Created  time.Time
	Expires  *time.Time
	Revoked  *time.Time
	// TenantPolicy is the policy document of the token's tenant; only
	// TokenByHash fills it, so that authenticating a request is one query.
	TenantPolicy json.RawMessage
}

// Live reports whether the token is neither revoked nor expired at now.
func (t Token) Live(now time.Time) bool {
	return t.Revoked == nil && (t.Expires == nil || now.Before(*t.Expires))
}

// UserState is where a user is in its lifecycle.
type UserState string

// The lifecycle states of a user.
const (
	StateActive   UserState = "active"
	StateInactive UserState = "inactive"
	StateDeleted  UserState = "deleted"
)

// Roles a user may have; every user has exactly one.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
	RoleViewer = "viewer"
	RoleGuest  = "guest"
)

// User is one user row: the columns that are filtered, sorted or
// constrained, derived from the SCIM document, plus the document itself.
// A live user's Active is true exactly when its State is StateActive, and
// false exactly when it is StateInactive: ListUsers of live users answers
// a filter on active by the state, which its indexes hold.
type User struct {
	TenantID      string
	ID            string
	UserName      string
	ExternalID    string
	Active        bool
	DisplayName   string
	GivenName     string
	FamilyName    string
	Role          string
	State         UserState
	DeactivatedAt *time.Time
	// Erased is true for a tombstone whose personal data was erased.
	Erased       bool
	PasswordHash string
	Emails       []Email
	// Doc is the SCIM document without id, meta, groups and password.
	Doc      json.RawMessage
	Version  int64
	Created  time.Time
	Modified time.Time
	// LastActive is the last time the host product's access check allowed
	// the user (at a granularity of ActiveGranularity), nil for never.
	// Every read of a user fills it; writes leave it as it is (only
	// TouchUserActive sets it). Never active sorts as the oldest (see
	// SortLastActive).
	LastActive *time.Time
	// Groups are the groups the user is a direct member of, ordered as
	// UserGroups orders them. Only ListUsers with Query.WithGroups fills
	// them (an empty, non-nil slice for none); elsewhere they are nil.
	Groups []GroupRef
}

// Email is one value of a user's emails, kept in its own table for indexed
// look-ups.
type Email struct {
	Value   string
	Type    string
	Primary bool
}

// Group is one group row; its members live in their own table.
type Group struct {
	TenantID    string
	ID          string
	DisplayName string
	ExternalID  string
	// Doc is the SCIM document without id, meta and members.
	Doc      json.RawMessage
	Version  int64
	Created  time.Time
	Modified time.Time
}

// GroupRef names a group a user belongs to.
type GroupRef struct {
	ID          string
	DisplayName string
}

// Member types, as Member.Type holds them (SCIM's members.type values).
const (
	MemberUser  = "User"
	MemberGroup = "Group"
)

// Member is one member of a group, with what its rendering needs: a user
// (UserName and DisplayName of the user) or a group (DisplayName of the
// group, UserName empty).
type Member struct {
	ID          string
	Type        string // MemberUser or MemberGroup
	UserName    string
	DisplayName string
}

// AuditEntry is one append-only record of a change or attempted change.
type AuditEntry struct {
	ID           string
	TenantID     string
	At           time.Time
	Actor        string // token id, "cli" or "console:<user id>"
	RequestID    string
	Client       string // User-Agent
	Operation    string // e.g. "user.create", "user.patch"
	ResourceType string // "User", "Group", "Token", "Tenant"
	ResourceID   string
	Status       int    // HTTP-like outcome status
	Rule         string // policy rule code for refusals
	Changed      []string
}

// Event is one outbox row: a change the host product must learn of.
type Event struct {
	ID           string
	TenantID     string
	At           time.Time
	Type         string // e.g. "user.deactivated"
	ResourceType string
	ResourceID   string
	Payload      json.RawMessage
}
