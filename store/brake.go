package store

import (
	"context"
	"time"
)

// DeprovisionKeep is how long RecordDeprovision keeps the counts of
// destructive changes: the longest window the brake counts over (one day)
// plus the minute the counts are rounded to.
const DeprovisionKeep = 24*time.Hour + time.Minute

// BrakePause is why a tenant's mass-deprovisioning brake holds: the facts
// of the change that tripped it (policy.Pause, stored).
type BrakePause struct {
	At            time.Time
	Count         int
	Limit         int
	ActiveUsers   int
	Percent       int
	WindowMinutes int
}

// Brake is a tenant's mass-deprovisioning brake state.
type Brake struct {
	TenantID string
	// Paused is the pause in force, nil when the brake does not hold.
	Paused *BrakePause
	// Resumed is when an operator last resumed the tenant, nil for never.
	Resumed *time.Time
}

// BrakeReader reads the brake state.
type BrakeReader interface {
	// GetBrake returns the tenant's brake state: a tenant whose brake
	// never held (or an unknown tenant) has a zero state with TenantID
	// set. Errors are the driver's.
	GetBrake(ctx context.Context, tenantID string) (Brake, error)
}

// BrakeWriter keeps the brake's state and its counts of destructive
// changes (deactivations of active users and deletions of live users).
// The counts are by the minute: a change recorded at t counts for every
// CountDeprovisions since a time no later than t's minute.
type BrakeWriter interface {
	// LockBrake returns the tenant's brake state and holds an exclusive
	// lock on it until the transaction ends, creating the state when the
	// tenant has none: transactions that lock one tenant's brake run one
	// after the other, across processes, so that each one's count sees
	// the changes the others committed. Take it after the other locks of
	// the transaction (users, the tenant, keys). An unknown tenant is
	// ErrNotFound; other errors are the driver's.
	LockBrake(ctx context.Context, tenantID string) (Brake, error)
	// CountDeprovisions returns the number of destructive changes
	// recorded for the tenant since the minute that holds since (so it
	// may count changes up to a minute older than since, never fewer
	// than those at or after it), and since the last ResumeBrake. Errors
	// are the driver's.
	CountDeprovisions(ctx context.Context, tenantID string, since time.Time) (int, error)
	// RecordDeprovision counts one destructive change of the tenant at
	// at, and forgets the counts older than DeprovisionKeep before at.
	// Errors are the driver's.
	RecordDeprovision(ctx context.Context, tenantID string, at time.Time) error
	// PauseBrake makes the tenant's brake hold with the given pause
	// (replacing one in force). The state must exist (LockBrake creates
	// it); else ErrNotFound. Other errors are the driver's.
	PauseBrake(ctx context.Context, tenantID string, p BrakePause) error
	// ResumeBrake releases the tenant's brake: the pause is cleared, at
	// becomes the time of the last resume, and every count recorded so
	// far is forgotten, so that only changes after the resume count. The
	// state must exist (LockBrake creates it); else ErrNotFound. Other
	// errors are the driver's.
	ResumeBrake(ctx context.Context, tenantID string, at time.Time) error
}

// BrakeMinute is the minute a destructive change at t is counted in, and
// the first minute CountDeprovisions since t counts: Unix seconds / 60,
// rounded down.
func BrakeMinute(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}
