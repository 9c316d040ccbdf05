package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/store"
)

// Settings returns the effective lifecycle settings of a tenant. Errors
// are store.ErrNotFound and a corrupt stored policy.
func (s *Service) Settings(ctx context.Context, r store.Reader, tenantID string) (policy.Settings, error) {
	t, err := r.GetTenant(ctx, tenantID)
	if err != nil {
		return policy.Settings{}, err
	}
	return policy.ParseShared(t.Policy)
}

// settingsOf returns the settings a change by a is judged by: the policy
// the actor's request authenticated with (read with its token, so at most
// the token cache's TTL old — the same freshness the protocol layer has
// for revocations and strict mode), else the tenant's row in tx. Errors
// are Settings'.
func (s *Service) settingsOf(ctx context.Context, tx store.Reader, a Actor) (policy.Settings, error) {
	if a.TenantPolicy != nil {
		return policy.ParseShared(a.TenantPolicy)
	}
	return s.Settings(ctx, tx, a.TenantID)
}

// CreateUser creates u in the actor's tenant: it assigns id, version and
// timestamps, derives the lifecycle state from u.Active, makes a user
// without a role a member, and returns the stored user. When the tenant
// restores deleted users on re-create and one of u's emails belongs to a
// retained tombstone, that user comes back instead (same id and creation
// time, its old role unless u sets one, no group memberships). The user
// returned has empty Groups. Errors: a
// taken userName is a *store.ConflictError; a refusal is a
// *policy.Violation; a live Idempotency-Key carried by ctx
// (WithIdempotencyKey) is store.ErrKeyInUse.
func (s *Service) CreateUser(ctx context.Context, a Actor, u store.User) (store.User, error) {
	now := s.clock()
	u.TenantID, u.ID, u.Version = a.TenantID, newID(), 1
	u.Created, u.Modified = now, now
	setState(&u, nil, now)
	op := "user.create"
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		settings, err := s.settingsOf(ctx, tx, a)
		if err != nil {
			return err
		}
		tomb, restoring, err := findRestorable(ctx, tx, settings, &u)
		if err != nil {
			return err
		}
		ch := policy.Change{Action: policy.Create, After: subject(&u), Facts: policy.Facts{Now: now}}
		if restoring {
			op = "user.restore"
			u.ID, u.Created = tomb.ID, tomb.Created
			if u.Role == "" {
				u.Role = tomb.Role
			}
			ch = policy.Change{Action: policy.Restore, Before: subject(&tomb), After: subject(&u), Facts: policy.Facts{Now: now}}
		}
		if u.Role == "" {
			u.Role = store.RoleMember
			ch.After.Role = u.Role
		}
		// The request's Idempotency-Key, first of the writes: a retry
		// with it waits here for this create and then finds it.
		if err := putKey(ctx, tx, "User", u.ID); err != nil {
			return err
		}
		if err := s.check(ctx, tx, a, settings, ch, u.ID); err != nil {
			return err
		}
		if restoring {
			if err := tx.RestoreUser(ctx, &u); err != nil {
				return err
			}
			return s.record(ctx, tx, a, now, op, "User", u.ID, 201, nil, userEvent("user.restored", &u, settings, false))
		}
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		return s.record(ctx, tx, a, now, op, "User", u.ID, 201, nil, userEvent("user.created", &u, settings, false))
	})
	if err != nil {
		return store.User{}, s.refused(ctx, a, err, op, "User", "")
	}
	u.Groups = []store.GroupRef{} // a new user, and a restored one, is in no group
	return u, nil
}

// findRestorable looks for the retained tombstone a create restores.
func findRestorable(ctx context.Context, tx store.Tx, settings policy.Settings, u *store.User) (store.User, bool, error) {
	if !settings.RestoreDeletedOnRecreate {
		return store.User{}, false, nil
	}
	for _, e := range subject(u).Emails {
		tomb, err := tx.FindRetainedByEmail(ctx, u.TenantID, e)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		return tomb, err == nil, err
	}
	return store.User{}, false, nil
}

// UpdateUser changes one live user: it locks the row, checks ifMatch (nil
// means unconditional) against its version, applies mutate to a copy, asks
// the policy, and writes. A change that changes nothing (deactivating an
// inactive user, say) writes nothing and returns the user as it is. op
// names the operation for the audit trail ("user.replace", "user.patch").
// A deactivation also passes the mass-deprovisioning brake (brake.go).
// It returns the stored user with its groups; errors are store.ErrNotFound,
// store.ErrPrecondition, a *store.ConflictError, a *policy.Violation, or
// what mutate returned.
func (s *Service) UpdateUser(ctx context.Context, a Actor, id string, ifMatch *int64, op string, mutate func(u *store.User) error) (store.User, error) {
	var out store.User
	var braked *policy.Violation
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		braked = nil
		before, err := tx.LockUser(ctx, a.TenantID, id)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != before.Version {
			return store.ErrPrecondition
		}
		now := s.clock()
		after, err := mutated(before, mutate, now)
		if err != nil {
			return err
		}
		if sameUser(&before, &after) {
			out = before
			return withGroups(ctx, tx, &out)
		}
		settings, err := s.settingsOf(ctx, tx, a)
		if err != nil {
			return err
		}
		ch := policy.Change{Action: policy.Update, Before: subject(&before), After: subject(&after), Facts: policy.Facts{Now: now}}
		if err := s.check(ctx, tx, a, settings, ch, id); err != nil {
			return err
		}
		if ch.Deactivates() {
			// A refusal commits what tripping the brake wrote, not the change.
			if braked, err = s.brake(ctx, tx, a, settings, now); err != nil || braked != nil {
				return err
			}
		}
		after.Modified = now
		if err := tx.UpdateUser(ctx, &after, before.Version); err != nil {
			return err
		}
		out = after
		if err := withGroups(ctx, tx, &out); err != nil {
			return err
		}
		return s.record(ctx, tx, a, now, op, "User", id, 200, changedUserFields(&before, &after),
			userEvent(userEventType(&before, &after), &after, settings, false))
	})
	if err == nil && braked != nil {
		err = braked
	}
	if err != nil {
		return store.User{}, s.refused(ctx, a, err, op, "User", id)
	}
	return out, nil
}

// withGroups fills u.Groups in the transaction that wrote u: the response
// to a write shows them, and reading them here, on the connection that
// wrote, is cheaper than a separate read afterwards.
func withGroups(ctx context.Context, tx store.Tx, u *store.User) error {
	gm, err := tx.UserGroups(ctx, u.TenantID, []string{u.ID})
	if err != nil {
		return err
	}
	u.Groups = gm[u.ID]
	if u.Groups == nil {
		u.Groups = []store.GroupRef{}
	}
	return nil
}

// DeleteUser removes a live user: the row becomes a tombstone (its
// personal data erased unless the tenant retains it), leaves every group
// and frees its seat. It passes the mass-deprovisioning brake (brake.go).
// Errors are store.ErrNotFound, store.ErrPrecondition and
// *policy.Violation.
func (s *Service) DeleteUser(ctx context.Context, a Actor, id string, ifMatch *int64) error {
	var braked *policy.Violation
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		braked = nil
		before, err := tx.LockUser(ctx, a.TenantID, id)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != before.Version {
			return store.ErrPrecondition
		}
		settings, err := s.settingsOf(ctx, tx, a)
		if err != nil {
			return err
		}
		now := s.clock()
		ch := policy.Change{Action: policy.Delete, Before: subject(&before), Facts: policy.Facts{Now: now}}
		if err := s.check(ctx, tx, a, settings, ch, id); err != nil {
			return err
		}
		// A refusal commits what tripping the brake wrote, not the change.
		if braked, err = s.brake(ctx, tx, a, settings, now); err != nil || braked != nil {
			return err
		}
		erase := settings.DeletedUserData == policy.DataErase
		if err := tx.DeleteUser(ctx, a.TenantID, id, now, erase); err != nil {
			return err
		}
		return s.record(ctx, tx, a, now, "user.delete", "User", id, 204, nil, userEvent("user.deleted", &before, settings, erase))
	})
	if err == nil && braked != nil {
		err = braked
	}
	return s.refused(ctx, a, err, "user.delete", "User", id)
}

// TransferOwnership makes the live user userName the tenant's owner; the
// previous owner, if any, becomes an admin. Both changes are judged by the
// policy (a transfer is the one change that may demote the owner) and
// written in one transaction. Errors: store.ErrNotFound for an unknown
// userName, a *policy.Violation.
func (s *Service) TransferOwnership(ctx context.Context, a Actor, userName string) (store.User, error) {
	var out store.User
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		target, err := tx.GetUserByUserName(ctx, a.TenantID, userName)
		if err != nil {
			return err
		}
		old, err := tx.GetOwner(ctx, a.TenantID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			old = store.User{}
		case err != nil:
			return err
		}
		if old.ID == target.ID {
			out = target
			return nil
		}
		// Lock order everywhere: users (by id), then the tenant.
		ids := []string{target.ID}
		if old.ID != "" {
			ids = append(ids, old.ID)
		}
		slices.Sort(ids)
		locked := map[string]store.User{}
		for _, id := range ids {
			u, err := tx.LockUser(ctx, a.TenantID, id)
			if err != nil {
				return err
			}
			locked[id] = u
		}
		if _, err := tx.LockTenant(ctx, a.TenantID); err != nil {
			return err
		}
		settings, err := s.settingsOf(ctx, tx, a)
		if err != nil {
			return err
		}
		now := s.clock()
		change := func(u store.User, role string) error {
			after := u
			after.Role, after.Modified = role, now
			ch := policy.Change{Action: policy.Update, Before: subject(&u), After: subject(&after),
				Facts: policy.Facts{Now: now, Transfer: true}}
			if err := s.check(ctx, tx, a, settings, ch, u.ID); err != nil {
				return err
			}
			if err := tx.UpdateUser(ctx, &after, u.Version); err != nil {
				return err
			}
			if after.ID == target.ID {
				out = after
			}
			return s.record(ctx, tx, a, now, "user.role", "User", u.ID, 200, []string{"roles"}, userEvent("user.updated", &after, settings, false))
		}
		if old.ID != "" {
			if err := change(locked[old.ID], store.RoleAdmin); err != nil {
				return err
			}
		}
		return change(locked[target.ID], store.RoleOwner)
	})
	if err != nil {
		return store.User{}, s.failed(ctx, a, s.refused(ctx, a, err, "user.role", "User", ""), "user.role", "User", "")
	}
	return out, nil
}

// check gathers the facts the change needs under the tenant's settings and
// asks the policy. Facts that cost a query are gathered only when a rule
// can use them; changes that count users (seats, the owner, emails) first
// lock the tenant row so that concurrent requests, on any replica, see
// each other's writes.
func (s *Service) check(ctx context.Context, tx store.Tx, a Actor, settings policy.Settings, ch policy.Change, subjectID string) error {
	f := &ch.Facts
	f.Self = a.OwnerID != "" && a.OwnerID == subjectID
	need := policy.Needs(settings, ch)
	// Seats and the owner are counts over the tenant: one change at a time
	// per tenant. Unique emails need only the addresses the change brings:
	// creates of different addresses run side by side.
	var emails []string
	if need.Emails {
		emails = ch.After.Emails
	}
	if err := lockFor(ctx, tx, a.TenantID, need.Seats || need.OtherOwner, emails); err != nil {
		return err
	}
	var err error
	if need.OwnsLiveToken {
		if f.OwnsLiveToken, err = tx.UserOwnsLiveToken(ctx, a.TenantID, subjectID, f.Now); err != nil {
			return err
		}
	}
	if need.Seats {
		if f.SeatsUsed, err = seatsUsed(ctx, tx, a.TenantID, settings); err != nil {
			return err
		}
	}
	if need.OtherOwner {
		o, err := tx.GetOwner(ctx, a.TenantID)
		switch {
		case err == nil:
			f.OtherOwner = o.ID != subjectID
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	if need.Emails {
		for _, e := range ch.After.Emails {
			taken, err := tx.EmailTaken(ctx, a.TenantID, e, subjectID)
			if err != nil {
				return err
			}
			if taken {
				f.TakenEmail = e
				break
			}
		}
	}
	if need.UserNameReserved {
		if f.UserNameReserved, err = tx.UserNameReserved(ctx, a.TenantID, ch.After.UserName); err != nil {
			return err
		}
	}
	if v := policy.Check(settings, ch); v != nil {
		return v
	}
	return nil
}

// lockFor takes the locks a policy check needs before it reads its facts:
// the tenant row when it counts the tenant's users (seats, the owner), and
// the folded addresses of emails that must be unique.
func lockFor(ctx context.Context, tx store.Tx, tenantID string, tenant bool, emails []string) error {
	if tenant {
		if _, err := tx.LockTenant(ctx, tenantID); err != nil {
			return err
		}
	}
	if len(emails) == 0 {
		return nil
	}
	keys := make([]string, len(emails))
	for i, e := range emails {
		keys[i] = store.Fold(e)
	}
	return tx.LockKeys(ctx, tenantID, "email", keys)
}

// seatsUsed counts the users that hold a seat under the settings.
func seatsUsed(ctx context.Context, r store.Reader, tenantID string, settings policy.Settings) (int, error) {
	states := []store.UserState{store.StateActive}
	if settings.InactiveUsersConsumeSeats {
		states = append(states, store.StateInactive)
	}
	return r.CountUsers(ctx, tenantID, states...)
}

// setState derives the lifecycle state from Active: deactivation records
// deactivatedAt, reactivation clears it, and anything else keeps it.
func setState(u *store.User, before *store.User, now time.Time) {
	switch {
	case u.Active:
		u.State, u.DeactivatedAt = store.StateActive, nil
	case before != nil && !before.Active:
		u.State, u.DeactivatedAt = store.StateInactive, before.DeactivatedAt
	default:
		t := now
		u.State, u.DeactivatedAt = store.StateInactive, &t
	}
}

// sameUser reports whether an update changes nothing that is stored.
func sameUser(a, b *store.User) bool {
	return a.UserName == b.UserName && a.ExternalID == b.ExternalID && a.Active == b.Active &&
		a.DisplayName == b.DisplayName && a.GivenName == b.GivenName && a.FamilyName == b.FamilyName &&
		a.Role == b.Role && a.PasswordHash == b.PasswordHash && slices.Equal(a.Emails, b.Emails) &&
		jsonEqual(a.Doc, b.Doc)
}

func jsonEqual(a, b json.RawMessage) bool {
	if string(a) == string(b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func subject(u *store.User) *policy.Subject {
	s := &policy.Subject{UserName: u.UserName, Active: u.Active, Role: u.Role, DeactivatedAt: u.DeactivatedAt}
	for _, e := range u.Emails {
		if e.Primary {
			s.Emails = append([]string{e.Value}, s.Emails...)
		} else {
			s.Emails = append(s.Emails, e.Value)
		}
	}
	return s
}

func userEventType(before, after *store.User) string {
	switch {
	case before.Active && !after.Active:
		return "user.deactivated"
	case !before.Active && after.Active:
		return "user.reactivated"
	}
	return "user.updated"
}

func changedUserFields(before, after *store.User) []string {
	var c []string
	add := func(name string, changed bool) {
		if changed {
			c = append(c, name)
		}
	}
	add("userName", before.UserName != after.UserName)
	add("externalId", before.ExternalID != after.ExternalID)
	add("active", before.Active != after.Active)
	add("displayName", before.DisplayName != after.DisplayName)
	add("name", before.GivenName != after.GivenName || before.FamilyName != after.FamilyName)
	add("roles", before.Role != after.Role)
	add("password", before.PasswordHash != after.PasswordHash)
	add("emails", !slices.Equal(before.Emails, after.Emails))
	if len(c) == 0 && !jsonEqual(before.Doc, after.Doc) {
		c = append(c, "attributes")
	}
	return c
}

// EventPayload is the payload of every user.* event: the user's id and
// state, and what the host product must do. It carries no personal data,
// so that erasing a user needs no rewrite of the outbox; the host looks
// the user up by id.
type EventPayload struct {
	ID     string `json:"id"`
	Active bool   `json:"active"`
	State  string `json:"state"`
	Role   string `json:"role,omitempty"`
	// RevokeSessions: end the user's sessions and revoke its client
	// certificates (deactivation, deletion).
	RevokeSessions bool `json:"revokeSessions"`
	// DisableAutomations: disable automations and integrations the user
	// owns (deactivation, deletion).
	DisableAutomations bool `json:"disableAutomations"`
	// ReissueCertificates: certificates revoked at deactivation do not come
	// back by themselves (reactivation, restore).
	ReissueCertificates bool `json:"reissueCertificates"`
	// RemoveSharing: revoke the user's sharing on every item (deletion,
	// per remove_sharing_on_delete).
	RemoveSharing bool `json:"removeSharing"`
	// DataErased: the user's personal data is gone (deletion under
	// deleted_user_data=erase); the host should erase its copy too.
	DataErased bool `json:"dataErased"`
	// SeatFreed: the user no longer holds a seat.
	SeatFreed bool `json:"seatFreed"`
}

func userEvent(typ string, u *store.User, settings policy.Settings, erased bool) *store.Event {
	p := EventPayload{ID: u.ID, Active: u.Active, State: string(u.State), Role: u.Role}
	switch typ {
	case "user.deactivated":
		p.RevokeSessions, p.DisableAutomations = true, true
		p.SeatFreed = !settings.InactiveUsersConsumeSeats
	case "user.reactivated", "user.restored":
		p.ReissueCertificates = true
	case "user.deleted":
		p.Active, p.State = false, string(store.StateDeleted)
		p.RevokeSessions, p.DisableAutomations, p.SeatFreed = true, true, true
		p.RemoveSharing, p.DataErased = settings.RemoveSharingOnDelete, erased
	}
	b, _ := json.Marshal(p)
	return &store.Event{Type: typ, ResourceType: "User", ResourceID: u.ID, Payload: b}
}

// Access is the answer of the host API's access check.
type Access struct {
	Allowed bool
	// Reason is "" when allowed, else "inactive", "deleted" or "unknown".
	Reason string
}

// CheckAccess says whether the user may sign in to the host product: only
// live, active users may. It reads the committed state, so a deactivation
// is seen the moment its request returns. An allowed check records the
// user's last activity (User.LastActive, at most one write per
// store.ActiveGranularity). Errors are the store's.
func (s *Service) CheckAccess(ctx context.Context, tenantID, userID string) (Access, error) {
	u, err := s.store.GetUser(ctx, tenantID, userID)
	switch {
	case err == nil && u.Active:
		now := s.clock()
		if u.LastActive == nil || now.Sub(*u.LastActive) >= store.ActiveGranularity {
			if err := s.store.TouchUserActive(ctx, tenantID, userID, now); err != nil {
				return Access{}, err
			}
		}
		return Access{Allowed: true}, nil
	case err == nil:
		return Access{Reason: "inactive"}, nil
	case !errors.Is(err, store.ErrNotFound):
		return Access{}, err
	}
	if _, err := s.store.GetTombstone(ctx, tenantID, userID); err == nil {
		return Access{Reason: "deleted"}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return Access{}, err
	}
	return Access{Reason: "unknown"}, nil
}

// mutated returns before with mutate applied as UpdateUser applies it:
// identity and creation kept, the role kept unless set, the state derived
// from active. Errors are mutate's.
func mutated(before store.User, mutate func(u *store.User) error, now time.Time) (store.User, error) {
	after := before
	after.Emails = slices.Clone(before.Emails)
	if err := mutate(&after); err != nil {
		return store.User{}, err
	}
	after.TenantID, after.ID, after.Created = before.TenantID, before.ID, before.Created
	if after.Role == "" {
		after.Role = before.Role
	}
	setState(&after, &before, now)
	return after, nil
}

// Unchanged reports whether UpdateUser with mutate would find nothing to
// change on u (it would then write nothing and return u as it is); callers
// that read u outside a transaction use it to skip one. Errors are
// mutate's.
func Unchanged(u store.User, mutate func(u *store.User) error) (bool, error) {
	after, err := mutated(u, mutate, time.Time{})
	if err != nil {
		return false, err
	}
	return sameUser(&u, &after), nil
}
