package store

import (
	"context"
	"time"
)

// Console secret kinds: a one-time sign-in link and the session it turns
// into.
const (
	ConsoleLogin   = "login"
	ConsoleSession = "session"
)

// ConsoleSecret is a sign-in link or a session of the admin console; only
// the SHA-256 hash of its secret is stored.
type ConsoleSecret struct {
	ID       string
	TenantID string
	UserID   string // the admin or owner signed in
	Kind     string // ConsoleLogin or ConsoleSession
	Hash     []byte
	Created  time.Time
	Expires  time.Time
	// Used is when a login link was consumed (nil before); sessions leave
	// it nil.
	Used *time.Time
}

// SortLastActive is the Query.SortBy value that orders users by the last
// time the host product's access check allowed them (User.LastActive),
// ties by id. Never active sorts as the oldest last activity: users never
// seen active come first in ascending order and last in descending order
// (so that "most recent first" lists the active users first). Their
// positions carry NeverActive as their Key. It is not a SCIM attribute:
// only the console asks for it.
const SortLastActive = "scimd:lastActive"

// NeverActive is the last-active time the backends store for a user never
// seen active: the Unix epoch, older than any access check. It is the Key
// of such a user's Position under SortLastActive; User.LastActive is nil
// for that user, never NeverActive.
var NeverActive = time.Unix(0, 0).UTC()

// ConsoleStore is the part of a Store the admin console and the host
// access check need. Its methods run outside any explicit transaction.
type ConsoleStore interface {
	// CreateConsoleSecret inserts s (every field but Used set). A duplicate
	// hash is ErrConflict; other errors are the driver's.
	CreateConsoleSecret(ctx context.Context, s *ConsoleSecret) error
	// ConsumeConsoleLogin marks the login link whose hash is hash used at
	// now and returns it, in one atomic step, so that a link is consumed
	// once however many requests present it. A link that is unknown,
	// already used or expired at now (Expires ≤ now) is ErrNotFound.
	ConsumeConsoleLogin(ctx context.Context, hash []byte, now time.Time) (ConsoleSecret, error)
	// ConsoleSessionByHash returns the session whose hash is hash, or
	// ErrNotFound when there is none or it has expired at now.
	ConsoleSessionByHash(ctx context.Context, hash []byte, now time.Time) (ConsoleSecret, error)
	// DeleteConsoleSecret removes the secret whose hash is hash (signing
	// out); an unknown hash is not an error. Errors are the driver's.
	DeleteConsoleSecret(ctx context.Context, hash []byte) error
	// PurgeConsoleSecrets removes the secrets that expired before now and
	// returns how many. Errors are the driver's.
	PurgeConsoleSecrets(ctx context.Context, now time.Time) (int, error)
	// TouchUserActive records that the host product's access check allowed
	// a live user at at: it sets the user's LastActive to at when it is
	// unset or older than at − ActiveGranularity, so that a user checked on
	// every request costs at most one write per ActiveGranularity. It does
	// not change the user's version, modified time or churn, and leaves no
	// audit entry or event. An unknown, deleted or malformed id changes
	// nothing and is not an error; other errors are the driver's.
	TouchUserActive(ctx context.Context, tenantID, userID string, at time.Time) error
	// CountDeliveries returns how many deliveries of the tenant are in
	// each state (states without any are absent). Errors are the
	// driver's.
	CountDeliveries(ctx context.Context, tenantID string) (map[string]int, error)
}

// ActiveGranularity is how stale User.LastActive may be: TouchUserActive
// writes at most once per this interval per user.
const ActiveGranularity = time.Minute
