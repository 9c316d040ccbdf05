package store

import (
	"context"
	"time"
)

// Webhook is an HTTPS (or, for tests and local hosts, HTTP) endpoint that
// receives the events of one tenant.
type Webhook struct {
	ID       string
	TenantID string
	URL      string
	// Secret is the HMAC-SHA256 key deliveries are signed with. It is kept
	// as given: the dispatcher needs it to sign.
	Secret  []byte
	Created time.Time
}

// Delivery states.
const (
	// DeliveryPending: not delivered yet; the dispatcher tries it again at
	// NextAttempt.
	DeliveryPending = "pending"
	// DeliveryDelivered: the receiver answered 2xx.
	DeliveryDelivered = "delivered"
	// DeliveryDead: every attempt failed; only `scimd events retry` brings
	// it back.
	DeliveryDead = "dead"
)

// Delivery is one event on its way to one webhook. AppendEvent creates a
// pending delivery for every webhook the tenant has when the event is
// written, in the same transaction, so an event whose change committed is
// delivered even if the process stops right after the commit.
type Delivery struct {
	ID        string
	TenantID  string
	WebhookID string
	URL       string // the webhook's URL (filled by the reads)
	Secret    []byte // the webhook's secret (filled by ClaimDeliveries only)
	Event     Event
	State     string // DeliveryPending, DeliveryDelivered or DeliveryDead
	// Attempts counts the claims so far (a claim is an attempt).
	Attempts    int
	NextAttempt time.Time
	LastStatus  int    // HTTP status of the last attempt, 0 for none or a transport error
	LastError   string // what went wrong with the last attempt, "" for none
	DeliveredAt time.Time
	// Claim identifies the claim that returned this delivery; FinishDelivery
	// must present it, so a dispatcher whose lease ran out cannot overwrite
	// the outcome of the one that claimed the delivery after it.
	Claim string
}

// DeliveryOutcome is what became of one claimed attempt.
type DeliveryOutcome struct {
	// At is when the attempt ended.
	At time.Time
	// Delivered: the receiver answered 2xx.
	Delivered bool
	// Dead: the attempt failed and was the last one.
	Dead bool
	// NextAttempt is when a failed, not dead delivery is tried again.
	NextAttempt time.Time
	Status      int
	Error       string
}

// DeliveryStats describes the deliveries of all tenants, for metrics.
type DeliveryStats struct {
	Pending int
	Dead    int
	// OldestPending is the event time of the oldest pending delivery (zero
	// when none is pending).
	OldestPending time.Time
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	TenantID string
	// ResourceID, when set, keeps the entries about that resource.
	ResourceID string
	// Since, when not zero, keeps entries at or after it.
	Since time.Time
	// Before, when BeforeID is set, keeps entries that come after
	// (BeforeAt, BeforeID) in newest-first order: the cursor of the next
	// page is the last entry of the previous one.
	BeforeAt time.Time
	BeforeID string
	Limit    int
}

// EventReader is the read side of the event and audit contract.
type EventReader interface {
	// QueryAudit returns up to q.Limit audit entries of q.TenantID ordered
	// newest first (At descending, then ID descending). Errors are the
	// driver's.
	QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)

	// EventFeed returns up to limit events of a tenant in the order their
	// transactions committed, starting after the position after ("" for
	// the start), and the position to continue from (after itself when no
	// event is returned). An event is returned only once no transaction
	// that is still running can write an event before it, so a reader
	// following the positions never skips one. A malformed after is
	// ErrInvalidCursor; other errors are the driver's.
	EventFeed(ctx context.Context, tenantID, after string, limit int) (events []Event, next string, err error)

	// ListWebhooks returns the webhooks of a tenant ordered by creation
	// time (Secret left empty). Errors are the driver's.
	ListWebhooks(ctx context.Context, tenantID string) ([]Webhook, error)

	// ListDeliveries returns up to limit deliveries of a tenant in the
	// given state (all states for ""), newest event first, with their
	// events and webhook URLs (Secret left empty). Errors are the driver's.
	ListDeliveries(ctx context.Context, tenantID, state string, limit int) ([]Delivery, error)
}

// EventWriter is the part of a transaction that manages webhooks and
// deliveries; AppendEvent (in Tx) fans an event out to deliveries.
type EventWriter interface {
	// CreateWebhook inserts w (ID, TenantID, URL, Secret, Created set). The
	// same URL twice in one tenant is a *ConflictError for "url".
	CreateWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook removes a webhook of the tenant and its deliveries, or
	// returns ErrNotFound.
	DeleteWebhook(ctx context.Context, tenantID, id string) error
	// RetryDeliveries puts the dead deliveries of an event back to pending
	// with no attempts, due at now, and returns how many it revived. An
	// event of the tenant without dead deliveries is ErrNotFound.
	RetryDeliveries(ctx context.Context, tenantID, eventID string, now time.Time) (int, error)
}

// Dispatch is the dispatcher's side of the contract; its methods run
// outside any caller's transaction, each in a short one of its own, so no
// transaction is held open during an HTTP call.
type Dispatch interface {
	// ClaimDeliveries claims up to limit pending deliveries due at now whose
	// lease (if any) ran out, and leases them until now+lease: nobody else
	// claims them meanwhile, across processes (FOR UPDATE SKIP LOCKED on
	// PostgreSQL). Only the first pending delivery of each (webhook,
	// resource) in event order is claimable, so the events of one user or
	// group reach a webhook one at a time and in order. Each claim
	// increments Attempts and sets a fresh Claim. Deliveries come back
	// oldest event first with Secret and URL filled. Errors are the
	// driver's.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// FinishDelivery records the outcome of the attempt d.Claim names. A
	// claim that is no longer current (the lease ran out and another claim
	// followed, or the delivery is gone) is ErrNotFound and changes
	// nothing. Errors otherwise are the driver's.
	FinishDelivery(ctx context.Context, d Delivery, o DeliveryOutcome) error
	// DeliveryStats counts pending and dead deliveries of all tenants.
	// Errors are the driver's.
	DeliveryStats(ctx context.Context) (DeliveryStats, error)
}
