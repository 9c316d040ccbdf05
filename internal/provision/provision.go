package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/store"
)

// Actor says who makes a change, for the policy and the audit trail.
type Actor struct {
	TenantID string
	// TokenID is the SCIM token in use, "" for the CLI.
	TokenID string
	// OwnerID is the admin user the token belongs to, or "".
	OwnerID string
	// Name is what the audit trail records: the token id, "cli", ….
	Name      string
	RequestID string
	Client    string
	// TenantPolicy, when not nil, is the tenant's policy document as the
	// request's authentication read it; changes are judged by it instead
	// of reading the tenant again.
	TenantPolicy []byte
}

// MemberKind is the kind of a membership change.
type MemberKind int

// The kinds of membership change, applied in order.
const (
	MembersAdd MemberKind = iota + 1
	MembersRemove
	MembersReplace
	MembersClear
)

// MemberChange is one change to a group's membership.
type MemberChange struct {
	Kind MemberKind
	IDs  []string
}

// MissingMembersError is returned when a membership change names ids that
// are not live users of the tenant; nothing was changed.
type MissingMembersError struct {
	IDs []string
}

// Error implements error.
func (e *MissingMembersError) Error() string {
	return fmt.Sprintf("provision: %d member value(s) are not users of this tenant: %q", len(e.IDs), e.IDs)
}

// Service runs changes. It is safe for concurrent use.
type Service struct {
	store store.Store
	now   func() time.Time
	log   *slog.Logger
}

// New returns a service over s that reads time from now (time.Now if nil)
// and logs failures it cannot return (audit of refusals) to log.
func New(s store.Store, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: s, now: now, log: log}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(store.TimePrecision) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// CreateGroup creates g with the given members in the actor's tenant and
// returns the stored group. A taken displayName is a *store.ConflictError;
// member ids that are not live users are a *MissingMembersError; a live
// Idempotency-Key carried by ctx (WithIdempotencyKey) is
// store.ErrKeyInUse.
func (s *Service) CreateGroup(ctx context.Context, a Actor, g store.Group, members []string) (store.Group, error) {
	now := s.clock()
	g.TenantID, g.ID, g.Version = a.TenantID, newID(), 1
	g.Created, g.Modified = now, now
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := putKey(ctx, tx, "Group", g.ID); err != nil {
			return err
		}
		if err := tx.CreateGroup(ctx, &g); err != nil {
			return err
		}
		if len(members) > 0 {
			if err := applyMembers(ctx, tx, a.TenantID, g.ID, []MemberChange{{Kind: MembersAdd, IDs: members}}); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, a, now, "group.create", "Group", g.ID, 201, nil, groupEvent("group.created", &g))
	})
	if err != nil {
		return store.Group{}, err
	}
	return g, nil
}

// UpdateGroup changes one group: it locks the row, checks ifMatch, applies
// mutate to a copy, writes the row and then the membership changes mutate
// returned, in order. Errors are store.ErrNotFound, store.ErrPrecondition,
// *store.ConflictError, *MissingMembersError, or what mutate returned.
func (s *Service) UpdateGroup(ctx context.Context, a Actor, id string, ifMatch *int64, op string, mutate func(g *store.Group) ([]MemberChange, error)) (store.Group, error) {
	var out store.Group
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		before, err := tx.LockGroup(ctx, a.TenantID, id)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != before.Version {
			return store.ErrPrecondition
		}
		after := before
		changes, err := mutate(&after)
		if err != nil {
			return err
		}
		now := s.clock()
		after.TenantID, after.ID, after.Created, after.Modified = before.TenantID, before.ID, before.Created, now
		if err := tx.UpdateGroup(ctx, &after, before.Version); err != nil {
			return err
		}
		if err := applyMembers(ctx, tx, a.TenantID, id, changes); err != nil {
			return err
		}
		out = after
		var changed []string
		if after.DisplayName != before.DisplayName {
			changed = append(changed, "displayName")
		}
		if after.ExternalID != before.ExternalID {
			changed = append(changed, "externalId")
		}
		if len(changes) > 0 {
			changed = append(changed, "members")
		}
		return s.record(ctx, tx, a, now, op, "Group", id, 200, changed, groupEvent("group.updated", &after))
	})
	if err != nil {
		return store.Group{}, err
	}
	return out, nil
}

// DeleteGroup removes a group and its memberships. Errors are
// store.ErrNotFound and store.ErrPrecondition.
func (s *Service) DeleteGroup(ctx context.Context, a Actor, id string, ifMatch *int64) error {
	return s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		before, err := tx.LockGroup(ctx, a.TenantID, id)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != before.Version {
			return store.ErrPrecondition
		}
		if err := tx.DeleteGroup(ctx, a.TenantID, id); err != nil {
			return err
		}
		return s.record(ctx, tx, a, s.clock(), "group.delete", "Group", id, 204, nil, groupEvent("group.deleted", &before))
	})
}

func applyMembers(ctx context.Context, tx store.Tx, tenantID, groupID string, changes []MemberChange) error {
	for _, c := range changes {
		switch c.Kind {
		case MembersAdd, MembersReplace:
			if c.Kind == MembersReplace {
				if err := tx.ClearMembers(ctx, tenantID, groupID); err != nil {
					return err
				}
			}
			if len(c.IDs) == 0 {
				continue
			}
			missing, err := tx.AddMembers(ctx, tenantID, groupID, c.IDs)
			if err != nil {
				return err
			}
			if len(missing) > 0 {
				return &MissingMembersError{IDs: missing}
			}
		case MembersRemove:
			if err := tx.RemoveMembers(ctx, tenantID, groupID, c.IDs); err != nil {
				return err
			}
		case MembersClear:
			if err := tx.ClearMembers(ctx, tenantID, groupID); err != nil {
				return err
			}
		default:
			return fmt.Errorf("provision: unknown member change kind %d", c.Kind)
		}
	}
	return nil
}

// refused leaves an audit entry for a change the policy refused (the
// change's own transaction rolled back) and returns err unchanged.
func (s *Service) refused(ctx context.Context, a Actor, err error, op, rtype, id string) error {
	var v *policy.Violation
	if !errors.As(err, &v) || isDryRun(ctx) {
		return err
	}
	status := 403
	if v.Conflict {
		status = 409
	}
	aerr := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, &store.AuditEntry{
			ID: newID(), TenantID: a.TenantID, At: s.clock(), Actor: a.Name, RequestID: a.RequestID,
			Client: a.Client, Operation: op, ResourceType: rtype, ResourceID: id, Status: status, Rule: v.Rule,
		})
	})
	if aerr != nil {
		s.log.ErrorContext(ctx, "audit of a refusal failed", "request_id", a.RequestID, "err", aerr)
	} else if m := markOf(ctx); m != nil {
		m.refused.Store(true)
	}
	return err
}

// record appends the audit entry and the outbox event of a change.
func (s *Service) record(ctx context.Context, tx store.Tx, a Actor, now time.Time, op, rtype, id string, status int, changed []string, ev *store.Event) error {
	if err := tx.AppendAudit(ctx, &store.AuditEntry{
		ID: newID(), TenantID: a.TenantID, At: now, Actor: a.Name, RequestID: a.RequestID, Client: a.Client,
		Operation: op, ResourceType: rtype, ResourceID: id, Status: status, Changed: changed,
	}); err != nil {
		return err
	}
	if m := markOf(ctx); m != nil {
		m.recorded.Store(true)
	}
	if ev == nil {
		return nil
	}
	ev.ID, ev.TenantID, ev.At = newID(), a.TenantID, now
	return tx.AppendEvent(ctx, ev)
}

func groupEvent(typ string, g *store.Group) *store.Event {
	b, _ := json.Marshal(map[string]string{"id": g.ID, "displayName": g.DisplayName})
	return &store.Event{Type: typ, ResourceType: "Group", ResourceID: g.ID, Payload: b}
}
