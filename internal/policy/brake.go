package policy

import (
	"fmt"
	"time"
)

// RuleDeprovisioningPaused is the code of the mass-deprovisioning brake's
// refusals.
const RuleDeprovisioningPaused = "policy.deprovisioning_paused"

// Bounds of the brake's settings.
const (
	// MaxBrakeWindowMinutes is the longest window the brake counts over
	// (one day); the stores keep counts that long.
	MaxBrakeWindowMinutes = 1440
	// MaxBrakeMin is the largest deprovision_brake_min.
	MaxBrakeMin = 1000000
)

// BrakeLimit returns how many deactivations and deletions the brake lets
// through within one window when the tenant has activeUsers active users:
// the larger of deprovision_brake_min and deprovision_brake_percent of the
// active users, rounded up.
func BrakeLimit(s Settings, activeUsers int) int {
	return max(s.DeprovisionBrakeMin, percentOf(s.DeprovisionBrakePercent, activeUsers))
}

// percentOf is ceil(percent × n / 100) for non-negative n.
func percentOf(percent, n int) int {
	if n <= 0 {
		return 0
	}
	return (percent*n + 99) / 100
}

// BrakeWindow returns the length of the brake's sliding window.
func BrakeWindow(s Settings) time.Duration {
	return time.Duration(s.DeprovisionBrakeWindowMinutes) * time.Minute
}

// Pause is why a tenant's brake holds: the facts of the change that
// tripped it. It stays until an operator resumes the tenant, whatever the
// window does afterwards.
type Pause struct {
	// At is when the brake tripped.
	At time.Time
	// Count is the number of deactivations and deletions within the
	// window that the refused change would have made, itself included.
	Count int
	// Limit is the limit Count exceeded.
	Limit int
	// ActiveUsers is the number of active users the limit was taken from.
	ActiveUsers int
	// Percent and WindowMinutes are the settings in force when it tripped.
	Percent       int
	WindowMinutes int
}

// Detail is the sentence every refusal of a paused tenant carries: what
// happened and how an operator lets further changes through. tenant names
// the tenant in the command ("" writes TENANT).
func (p Pause) Detail(tenant string) string {
	if tenant == "" {
		tenant = "TENANT"
	}
	limit := fmt.Sprintf("%d%% of %d active users", p.Percent, p.ActiveUsers)
	if percentOf(p.Percent, p.ActiveUsers) < p.Limit {
		limit = fmt.Sprintf("the floor deprovision_brake_min; %s is fewer", limit)
	}
	return fmt.Sprintf("deactivations and deletions are paused in this tenant since %s: %d of them within %d minutes "+
		"would exceed the limit of %d (%s), which looks like a mass deprovisioning by mistake; nothing was changed. "+
		"If the changes are intended, an operator approves further ones with `scimd tenant resume %s`",
		p.At.UTC().Format(time.RFC3339), p.Count, p.WindowMinutes, p.Limit, limit, tenant)
}

// BrakeFacts are what the provision service looked up for one
// destructive change (a deactivation of an active user or a deletion of a
// live user), under the lock that serialises the tenant's destructive
// changes.
type BrakeFacts struct {
	Now time.Time
	// Tenant is the tenant's name, for the command in the refusal.
	Tenant string
	// Recent is the number of deactivations and deletions committed
	// within the window before this one (since the last resume, if that
	// is later than the window's start).
	Recent int
	// ActiveUsers is the number of active users before the change. It
	// may be left 0 when Recent+1 is within deprovision_brake_min: the
	// limit is at least that floor, so it cannot matter then.
	ActiveUsers int
	// Paused is the tenant's pause, nil when the brake does not hold.
	Paused *Pause
}

// CheckBrake judges one more destructive change under the tenant's
// settings. It returns nil, nil when the change may happen: the brake is
// off, or it does not hold and the change stays within BrakeLimit. A
// tenant whose brake holds is refused with the pause's detail and a nil
// pause. A change that would exceed the limit is refused and trips the
// brake: the pause returned is the one to record.
func CheckBrake(s Settings, f BrakeFacts) (v *Violation, trip *Pause) {
	if !s.DeprovisionBrake {
		return nil, nil
	}
	if f.Paused != nil {
		return &Violation{Rule: RuleDeprovisioningPaused, Detail: f.Paused.Detail(f.Tenant)}, nil
	}
	limit := BrakeLimit(s, f.ActiveUsers)
	if f.Recent+1 <= limit {
		return nil, nil
	}
	p := &Pause{At: f.Now, Count: f.Recent + 1, Limit: limit, ActiveUsers: f.ActiveUsers,
		Percent: s.DeprovisionBrakePercent, WindowMinutes: s.DeprovisionBrakeWindowMinutes}
	return &Violation{Rule: RuleDeprovisioningPaused, Detail: p.Detail(f.Tenant)}, p
}
