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
