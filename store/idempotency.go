package store

import (
	"context"
	"errors"
	"time"
)

// The states of a recorded Idempotency-Key.
const (
	// IdempotencyPending: a request with the key is running (a /Bulk
	// request claims its key before it runs and records its outcome
	// after).
	IdempotencyPending = "pending"
	// IdempotencyDone: the outcome of the request is recorded.
	IdempotencyDone = "done"
)

// ErrKeyInUse means a live row with the same tenant and Idempotency-Key
// already exists: another request with the key committed (or is running).
var ErrKeyInUse = errors.New("store: idempotency key in use")

// IdempotencyKey is the record of one Idempotency-Key of a tenant: which
// request used it (by fingerprint) and what it answered. A row is live
// until Expires; an expired row means nothing and may be replaced or
// purged.
type IdempotencyKey struct {
	TenantID string
	Key      string
	// Fingerprint identifies the request (the SHA-256 of its method, path
	// and body); a retry must present the same one.
	Fingerprint []byte
	State       string // IdempotencyPending or IdempotencyDone
	// Status is the HTTP status of the recorded outcome (0 while pending).
	Status int
	// ResourceType and ResourceID name what the request created ("User" or
	// "Group" and its id); "Bulk" with no id for a /Bulk request.
	ResourceType string
	ResourceID   string
	// Response is the recorded response body, for outcomes that cannot be
	// rendered again from a resource (/Bulk); nil otherwise.
	Response []byte
	// Created and Expires are at TimePrecision.
	Created time.Time
	Expires time.Time
}

// IdempotencyStore is the part of a Store that keeps Idempotency-Keys
// outside any change's transaction. Its methods run each in a transaction
// of their own.
type IdempotencyStore interface {
	// GetIdempotencyKey returns the row of the tenant's key if it is live
	// at now (Expires after now), else ErrNotFound. Other errors are the
	// driver's.
	GetIdempotencyKey(ctx context.Context, tenantID, key string, now time.Time) (IdempotencyKey, error)
	// ClaimIdempotencyKey inserts k (State IdempotencyPending, every other
	// field but Status and Response set) unless the tenant has a live row
	// with the key. A row expired at k.Created, or a pending row created
	// before staleBefore (its request died without recording an outcome),
	// is replaced. It returns claimed true when k was written, else the
	// live row; of concurrent claims of one key exactly one succeeds.
	// Errors are the driver's.
	ClaimIdempotencyKey(ctx context.Context, k *IdempotencyKey, staleBefore time.Time) (existing IdempotencyKey, claimed bool, err error)
	// FinishIdempotencyKey records the outcome of a claimed key: it sets
	// State IdempotencyDone, Status and Response on the pending row of
	// (k.TenantID, k.Key) claimed at k.Created. A row that is no longer
	// that pending one (taken over after it went stale, or gone) is
	// ErrNotFound; other errors are the driver's.
	FinishIdempotencyKey(ctx context.Context, k *IdempotencyKey) error
	// ReleaseIdempotencyKey removes the pending row of (k.TenantID, k.Key)
	// claimed at k.Created, so that a retry runs afresh; any other row
	// stays and nothing to remove is not an error. Errors are the
	// driver's.
	ReleaseIdempotencyKey(ctx context.Context, k *IdempotencyKey) error
	// PurgeIdempotencyKeys removes at most limit rows that expired at now
	// (Expires at or before now) and returns how many it removed. Errors
	// are the driver's.
	PurgeIdempotencyKeys(ctx context.Context, now time.Time, limit int) (int, error)
}

// IdempotencyWriter records an Idempotency-Key in a change's transaction,
// so that the key commits exactly when the change does.
type IdempotencyWriter interface {
	// PutIdempotencyKey inserts k (State IdempotencyDone, every field but
	// Response set), replacing a row of the same tenant and key that
	// expired at k.Created. A live row is ErrKeyInUse. A concurrent
	// transaction writing the same key makes this one wait for it (on
	// PostgreSQL) and then get ErrKeyInUse if it committed. Other errors
	// are the driver's.
	PutIdempotencyKey(ctx context.Context, k *IdempotencyKey) error
}
