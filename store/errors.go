package store

import (
	"errors"
	"fmt"
)

// Sentinel errors every backend returns; callers test them with errors.Is.
var (
	// ErrNotFound means the row does not exist in the tenant (or is deleted).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness constraint refused the write.
	ErrConflict = errors.New("store: conflict")
	// ErrPrecondition means a conditional write found another version.
	ErrPrecondition = errors.New("store: version mismatch")
	// ErrUnsupported means a query names something the backend cannot
	// compile (an attribute, operator or value type).
	ErrUnsupported = errors.New("store: unsupported query")
	// ErrInvalidCursor means a position given to EventFeed was not one it
	// returned.
	ErrInvalidCursor = errors.New("store: invalid event feed position")
	// ErrStale means a conditional page (Query.IfChurn) was not read: the
	// tenant's live users changed since the churn count it names was
	// read (UserCheckpoints), so its position no longer addresses the
	// offset it was computed for.
	ErrStale = errors.New("store: live users changed since the checkpoints were read")
)

// ConflictError is the ErrConflict a uniqueness violation returns; Attr
// names the SCIM attribute whose value is taken.
type ConflictError struct {
	Attr string
}

// Error implements error.
func (e *ConflictError) Error() string { return fmt.Sprintf("store: %s is already taken", e.Attr) }

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// UnsupportedError is the ErrUnsupported a backend returns for a query it
// cannot compile; What says what, in words safe to show a client.
type UnsupportedError struct {
	What string
}

// Error implements error.
func (e *UnsupportedError) Error() string { return "store: unsupported query: " + e.What }

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// ErrUnavailable means the database could not be reached or did not answer
// in time: the server is down, restarting or refusing connections, a
// connection broke, a statement ran past its timeout, or (SQLite) the
// database stayed locked past the busy timeout. Nothing was changed by the
// call that failed (a transaction whose commit was cut off may, rarely,
// have committed); retrying later is the remedy. The error is an
// *UnavailableError, which keeps the driver's error for the log.
var ErrUnavailable = errors.New("store: database unavailable")

// RetryAfterUnavailable is the Retry-After, in seconds, of every 503 that
// answers an ErrUnavailable (the SCIM API, the host API, the console):
// long enough for a restarting database, short enough for a pool to
// reconnect on the next try.
const RetryAfterUnavailable = 5

// UnavailableError is the ErrUnavailable a store returns; Cause is the
// driver's error, for the log only (it may name hosts and addresses).
type UnavailableError struct {
	Cause error
}

// Error implements error.
func (e *UnavailableError) Error() string {
	return "store: database unavailable: " + e.Cause.Error()
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the cause, so errors.Is and errors.As still see it.
func (e *UnavailableError) Unwrap() error { return e.Cause }
