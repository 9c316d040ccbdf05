package provision

import (
	"context"
	"encoding/json"
	"time"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/store"
)

// The tenant events of the mass-deprovisioning brake.
const (
	EventDeprovisioningPaused  = "tenant.deprovisioning_paused"
	EventDeprovisioningResumed = "tenant.deprovisioning_resumed"
)

// BrakeEventPayload is the payload of tenant.deprovisioning_paused and
// tenant.deprovisioning_resumed (docs/events.md).
type BrakeEventPayload struct {
	// ID and Name are the tenant's.
	ID   string `json:"id"`
	Name string `json:"name"`
	// PausedAt is when the brake tripped.
	PausedAt time.Time `json:"pausedAt"`
	// ResumedAt is when an operator resumed (resumed events only).
	ResumedAt *time.Time `json:"resumedAt,omitempty"`
	// WindowMinutes, Count, Limit, ActiveUsers and Percent are the facts
	// of the refused change that tripped the brake: Count deactivations
	// and deletions within WindowMinutes, itself included, exceeded Limit,
	// the larger of deprovision_brake_min and Percent of ActiveUsers.
	WindowMinutes int `json:"windowMinutes"`
	Count         int `json:"count"`
	Limit         int `json:"limit"`
	ActiveUsers   int `json:"activeUsers"`
	Percent       int `json:"percent"`
}

func brakeEvent(typ string, t store.Tenant, p store.BrakePause, resumed *time.Time) *store.Event {
	b, _ := json.Marshal(BrakeEventPayload{ID: t.ID, Name: t.Name, PausedAt: p.At.UTC(), ResumedAt: resumed,
		WindowMinutes: p.WindowMinutes, Count: p.Count, Limit: p.Limit, ActiveUsers: p.ActiveUsers, Percent: p.Percent})
	return &store.Event{Type: typ, ResourceType: "Tenant", ResourceID: t.ID, Payload: b}
}

// brake applies the mass-deprovisioning brake to one destructive change
// (the deactivation of an active user or the deletion of a live user) in
// its transaction, after the other rules allowed it. It locks the
// tenant's brake, so that the tenant's destructive changes are counted
// and committed one at a time across processes, and returns nil when the
// change may go ahead (it is then counted), or the refusal. A change that
// trips the brake pauses the tenant and writes the pause's audit entry
// and its tenant.deprovisioning_paused event in tx: the caller commits tx
// without its change and returns the refusal. Errors are the store's.
func (s *Service) brake(ctx context.Context, tx store.Tx, a Actor, settings policy.Settings, now time.Time) (*policy.Violation, error) {
	if !settings.DeprovisionBrake {
		return nil, nil
	}
	b, err := tx.LockBrake(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	f := policy.BrakeFacts{Now: now}
	if b.Paused != nil {
		p := policy.Pause(*b.Paused)
		f.Paused = &p
	} else {
		if f.Recent, err = tx.CountDeprovisions(ctx, a.TenantID, now.Add(-policy.BrakeWindow(settings))); err != nil {
			return nil, err
		}
		// The limit is at least the floor: below it, the active users
		// (a count over the tenant's users) need not be counted.
		if f.Recent+1 > settings.DeprovisionBrakeMin {
			if f.ActiveUsers, err = tx.CountUsers(ctx, a.TenantID, store.StateActive); err != nil {
				return nil, err
			}
		}
	}
	v, trip := policy.CheckBrake(settings, f)
	if v == nil {
		return nil, tx.RecordDeprovision(ctx, a.TenantID, now)
	}
	t, err := tx.GetTenant(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	if trip == nil { // the brake already holds
		v.Detail = f.Paused.Detail(t.Name)
		return v, nil
	}
	v.Detail = trip.Detail(t.Name)
	p := store.BrakePause(*trip)
	if err := tx.PauseBrake(ctx, a.TenantID, p); err != nil {
		return nil, err
	}
	if err := tx.AppendAudit(ctx, &store.AuditEntry{
		ID: newID(), TenantID: a.TenantID, At: now, Actor: a.Name, RequestID: a.RequestID, Client: a.Client,
		Operation: "tenant.pause", ResourceType: "Tenant", ResourceID: a.TenantID, Status: 200,
		Rule: policy.RuleDeprovisioningPaused, Changed: []string{"deprovisioning"},
	}); err != nil {
		return nil, err
	}
	ev := brakeEvent(EventDeprovisioningPaused, t, p, nil)
	ev.ID, ev.TenantID, ev.At = newID(), a.TenantID, now
	if err := tx.AppendEvent(ctx, ev); err != nil {
		return nil, err
	}
	s.log.WarnContext(ctx, "deprovisioning paused", "request_id", a.RequestID, "tenant", t.Name,
		"count", p.Count, "limit", p.Limit, "window_minutes", p.WindowMinutes)
	return v, nil
}

// Resumed is what ResumeDeprovisioning did.
type Resumed struct {
	Tenant store.Tenant
	// Pause is the pause it released, nil when the brake did not hold.
	Pause *store.BrakePause
	// Forgotten is the number of deactivations and deletions within the
	// tenant's window that no longer count.
	Forgotten int
	At        time.Time
}

// ResumeDeprovisioning lets a paused tenant's deactivations and deletions
// through again: it releases the brake and starts a fresh window (only
// changes after the resume count towards the limit), audits it as
// tenant.resume and, when the brake held, emits
// tenant.deprovisioning_resumed. Resuming a tenant whose brake does not
// hold only starts the fresh window. Errors: store.ErrNotFound for an
// unknown tenant name, or the store's.
func (s *Service) ResumeDeprovisioning(ctx context.Context, a Actor, tenantName string) (Resumed, error) {
	var out Resumed
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		t, err := tx.GetTenantByName(ctx, tenantName)
		if err != nil {
			return err
		}
		settings, err := policy.Parse(t.Policy)
		if err != nil {
			return err
		}
		b, err := tx.LockBrake(ctx, t.ID)
		if err != nil {
			return err
		}
		now := s.clock()
		out = Resumed{Tenant: t, Pause: b.Paused, At: now}
		if out.Forgotten, err = tx.CountDeprovisions(ctx, t.ID, now.Add(-policy.BrakeWindow(settings))); err != nil {
			return err
		}
		if err := tx.ResumeBrake(ctx, t.ID, now); err != nil {
			return err
		}
		a.TenantID = t.ID
		var ev *store.Event
		if b.Paused != nil {
			ev = brakeEvent(EventDeprovisioningResumed, t, *b.Paused, &now)
		}
		return s.record(ctx, tx, a, now, "tenant.resume", "Tenant", t.ID, 200, []string{"deprovisioning"}, ev)
	})
	if err != nil {
		if t, terr := s.store.GetTenantByName(ctx, tenantName); terr == nil {
			a.TenantID = t.ID
			return Resumed{}, s.failed(ctx, a, err, "tenant.resume", "Tenant", t.ID)
		}
		return Resumed{}, err
	}
	return out, nil
}
