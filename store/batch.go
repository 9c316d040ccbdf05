package store

import "context"

// BatchReader answers, for many users at once, the questions the policy
// asks before a create: what CreateUser, EmailTaken, UserNameReserved and
// FindRetainedByEmail answer one at a time. Every method takes values as
// given (it folds them with Fold itself), returns a set of folded keys, and
// scopes to the tenant; an empty input returns an empty set. Errors are the
// driver's.
type BatchReader interface {
	// LiveUserNames returns the folded userNames among userNames that a
	// live user of the tenant holds (CreateUser would be a conflict).
	LiveUserNames(ctx context.Context, tenantID string, userNames []string) (map[string]bool, error)
	// LiveEmails returns the folded emails among emails that a live user of
	// the tenant has (EmailTaken with no exception would say true).
	LiveEmails(ctx context.Context, tenantID string, emails []string) (map[string]bool, error)
	// ReservedUserNames returns the folded userNames among userNames for
	// which UserNameReserved would say true.
	ReservedUserNames(ctx context.Context, tenantID string, userNames []string) (map[string]bool, error)
	// RetainedEmails returns the folded emails among emails for which
	// FindRetainedByEmail would find a tombstone.
	RetainedEmails(ctx context.Context, tenantID string, emails []string) (map[string]bool, error)
}

// BatchWriter writes many creates of one tenant in a few statements.
type BatchWriter interface {
	// CreateUsers inserts every user as CreateUser would (ID, TenantID,
	// Created and Modified set; Version becomes 1), emails included, in a
	// few statements rather than one round trip per user. It is all or
	// nothing within the transaction: a userName taken by a live user (or
	// twice in us) is a *ConflictError for "userName", a second owner one
	// for "roles", and the caller rolls the transaction back.
	CreateUsers(ctx context.Context, us []*User) error
	// AppendAll appends the audit entries and the events (with a pending
	// delivery of each event for every webhook of its tenant) exactly as
	// AppendAudit and AppendEvent one by one would, in a few statements;
	// events keep their order in the feed.
	AppendAll(ctx context.Context, entries []AuditEntry, events []Event) error
}
