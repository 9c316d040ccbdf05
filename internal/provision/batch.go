package provision

import (
	"context"
	"errors"
	"fmt"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/store"
)

// CreateResult is the outcome of one user of CreateUsers: the user created
// (with empty Groups) or what CreateUser would have returned as error.
type CreateResult struct {
	User store.User
	Err  error
}

// CreateUsers creates users with exactly the outcome consecutive CreateUser
// calls would have, in one transaction and a few statements: the facts the
// policy needs are read once for all of them (taken userNames and emails,
// reserved userNames, seats, the owner), the policy is asked for each user
// in order with the facts updated by the users before it, and the users,
// their audit entries and events are written together. Refused users get
// their *policy.Violation (and their own audit entry), a taken userName its
// *store.ConflictError, as one at a time. When the batch cannot be written
// as one (a user would restore a deleted one, or another writer took a
// userName meanwhile), every user is created one at a time instead. Errors
// in the results are the ones CreateUser documents; the returned error is
// the store's when nothing could be decided.
func (s *Service) CreateUsers(ctx context.Context, a Actor, us []store.User) ([]CreateResult, error) {
	if len(us) == 0 {
		return nil, nil
	}
	if len(us) > 1 {
		res, err := s.createBatch(ctx, a, us)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, errBatchFallback) && !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
	}
	out := make([]CreateResult, len(us))
	for i, u := range us {
		out[i].User, out[i].Err = s.CreateUser(ctx, a, u)
		if err := ctx.Err(); err != nil {
			return out[:i+1], err
		}
	}
	return out, nil
}

// errBatchFallback says a batch must be created one user at a time.
var errBatchFallback = errors.New("provision: batch falls back to single creates")

func (s *Service) createBatch(ctx context.Context, a Actor, in []store.User) ([]CreateResult, error) {
	now := s.clock()
	us := make([]store.User, len(in))
	for i, u := range in {
		u.TenantID, u.ID, u.Version = a.TenantID, newID(), 1
		u.Created, u.Modified = now, now
		setState(&u, nil, now)
		if u.Role == "" {
			u.Role = store.RoleMember
		}
		us[i] = u
	}
	out := make([]CreateResult, len(us))
	var refusals []int
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		settings, err := s.settingsOf(ctx, tx, a)
		if err != nil {
			return err
		}
		var names, emails []string
		needSeats, needOwner := false, false
		changes := make([]policy.Change, len(us))
		for i := range us {
			changes[i] = policy.Change{Action: policy.Create, After: subject(&us[i]), Facts: policy.Facts{Now: now}}
			need := policy.Needs(settings, changes[i])
			needSeats = needSeats || need.Seats
			needOwner = needOwner || need.OtherOwner
			names = append(names, us[i].UserName)
			emails = append(emails, changes[i].After.Emails...)
		}
		if settings.RestoreDeletedOnRecreate {
			retained, err := tx.RetainedEmails(ctx, a.TenantID, emails)
			if err != nil {
				return err
			}
			if len(retained) > 0 {
				return errBatchFallback // a create would restore: one at a time
			}
		}
		// The same locks as one create at a time takes, once for all.
		var unique []string
		if settings.UniqueEmails {
			unique = emails
		}
		if err := lockFor(ctx, tx, a.TenantID, needSeats || needOwner, unique); err != nil {
			return err
		}
		live, err := tx.LiveUserNames(ctx, a.TenantID, names)
		if err != nil {
			return err
		}
		takenEmails := map[string]bool{}
		if settings.UniqueEmails {
			if takenEmails, err = tx.LiveEmails(ctx, a.TenantID, emails); err != nil {
				return err
			}
		}
		reserved := map[string]bool{}
		if settings.ReserveDeletedUsernames {
			if reserved, err = tx.ReservedUserNames(ctx, a.TenantID, names); err != nil {
				return err
			}
		}
		seats := 0
		if needSeats {
			if seats, err = seatsUsed(ctx, tx, a.TenantID, settings); err != nil {
				return err
			}
		}
		owner := false
		if needOwner {
			_, err := tx.GetOwner(ctx, a.TenantID)
			switch {
			case err == nil:
				owner = true
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		var create []*store.User
		var entries []store.AuditEntry
		var events []store.Event
		for i := range us {
			ch := &changes[i]
			f := &ch.Facts
			f.SeatsUsed, f.OtherOwner = seats, owner
			f.UserNameReserved = reserved[store.Fold(us[i].UserName)]
			for _, e := range ch.After.Emails {
				if takenEmails[store.Fold(e)] {
					f.TakenEmail = e
					break
				}
			}
			if v := policy.Check(settings, *ch); v != nil {
				out[i].Err = v
				refusals = append(refusals, i)
				continue
			}
			key := store.Fold(us[i].UserName)
			if live[key] {
				out[i].Err = &store.ConflictError{Attr: "userName"}
				continue
			}
			live[key] = true
			for _, e := range ch.After.Emails {
				takenEmails[store.Fold(e)] = true
			}
			if us[i].Role == store.RoleOwner {
				owner = true
			}
			if us[i].Active || settings.InactiveUsersConsumeSeats {
				seats++
			}
			create = append(create, &us[i])
			entries = append(entries, store.AuditEntry{ID: newID(), TenantID: a.TenantID, At: now, Actor: a.Name,
				RequestID: a.RequestID, Client: a.Client, Operation: "user.create", ResourceType: "User", ResourceID: us[i].ID, Status: 201})
			ev := userEvent("user.created", &us[i], settings, false)
			ev.ID, ev.TenantID, ev.At = newID(), a.TenantID, now
			events = append(events, *ev)
		}
		if len(create) == 0 {
			return nil
		}
		if err := tx.CreateUsers(ctx, create); err != nil {
			return err
		}
		return tx.AppendAll(ctx, entries, events)
	})
	if err != nil {
		return nil, fmt.Errorf("provision: batch create: %w", err)
	}
	for i := range out {
		if out[i].Err == nil {
			out[i].User = us[i]
			out[i].User.Groups = []store.GroupRef{}
		}
	}
	for _, i := range refusals {
		out[i].Err = s.refused(ctx, a, out[i].Err, "user.create", "User", "")
	}
	return out, nil
}
