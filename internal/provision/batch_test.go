package provision

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// outcome describes a create's result independently of generated ids.
func outcome(r CreateResult) string {
	var v *policy.Violation
	var ce *store.ConflictError
	switch {
	case r.Err == nil:
		return fmt.Sprintf("created %s %s active=%v role=%s v%d", r.User.UserName, r.User.State, r.User.Active, r.User.Role, r.User.Version)
	case errors.As(r.Err, &v):
		return "refused " + v.Rule
	case errors.As(r.Err, &ce):
		return "conflict " + ce.Attr
	}
	return "error " + r.Err.Error()
}

// TestCreateUsersEqualsOneAtATime: for random batches full of collisions —
// userNames taken, twice in the batch, or reserved by deleted users;
// emails taken; the last seats; a second owner — CreateUsers gives every
// user the outcome consecutive CreateUser calls give on an identical
// directory, and leaves the same directory (states, seats, audit, events).
func TestCreateUsersEqualsOneAtATime(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
		for round := 0; round < 6; round++ {
			r := rand.New(rand.NewPCG(uint64(round), 7))
			sets := []string{"seats=12", "unique_emails=true", "reserve_deleted_usernames=true"}
			if round%2 == 1 {
				sets = append(sets, "inactive_users_consume_seats=true")
			}
			svcA, a := setup(t, s, c, fmt.Sprintf("batch-%d", round), "", sets...)
			svcB, b := setup(t, s, c, fmt.Sprintf("single-%d", round), "", sets...)
			// The same directory in both tenants: live users, an owner, a
			// deleted user whose userName is reserved.
			for _, svc := range []struct {
				s *Service
				a Actor
			}{{svcA, a}, {svcB, b}} {
				for i := 0; i < 4; i++ {
					role := store.RoleMember
					if i == 0 {
						role = store.RoleOwner
					}
					if _, err := svc.s.CreateUser(ctx, svc.a, newUser(fmt.Sprintf("pre%d@example.com", i), fmt.Sprintf("pre%d@example.com", i), true, role)); err != nil {
						t.Fatal(err)
					}
				}
				gone, err := svc.s.CreateUser(ctx, svc.a, newUser("gone@example.com", "gone@example.com", false, ""))
				if err != nil {
					t.Fatal(err)
				}
				if err := svc.s.DeleteUser(ctx, svc.a, gone.ID, nil); err != nil {
					t.Fatal(err)
				}
			}
			var batch []store.User
			for i := 0; i < 14; i++ {
				name := fmt.Sprintf("new%d@example.com", r.IntN(10))
				switch r.IntN(8) {
				case 0:
					name = fmt.Sprintf("PRE%d@example.com", r.IntN(4)) // taken (other case)
				case 1:
					name = "gone@example.com" // reserved
				}
				email := fmt.Sprintf("mail%d@example.com", r.IntN(12))
				if r.IntN(6) == 0 {
					email = fmt.Sprintf("pre%d@example.com", r.IntN(4)) // taken
				}
				role := ""
				if r.IntN(10) == 0 {
					role = store.RoleOwner
				}
				batch = append(batch, newUser(name, email, r.IntN(4) != 0, role))
			}
			got, err := svcA.CreateUsers(ctx, a, batch)
			if err != nil {
				t.Fatal(err)
			}
			var want []CreateResult
			for _, u := range batch {
				res, err := svcB.CreateUser(ctx, b, u)
				want = append(want, CreateResult{User: res, Err: err})
			}
			if len(got) != len(want) {
				t.Fatalf("round %d: %d results for %d users", round, len(got), len(want))
			}
			kinds := map[string]bool{}
			for i := range want {
				if outcome(got[i]) != outcome(want[i]) {
					t.Errorf("round %d user %d (%s): batch %q, one at a time %q", round, i, batch[i].UserName, outcome(got[i]), outcome(want[i]))
				}
				kinds[outcome(want[i])[:7]] = true
			}
			if round == 0 && len(kinds) < 3 {
				t.Errorf("the batch exercised only %v", kinds)
			}
			for _, st := range [][]store.UserState{{store.StateActive}, {store.StateInactive}, {store.StateDeleted}} {
				na, _ := s.CountUsers(ctx, a.TenantID, st...)
				nb, _ := s.CountUsers(ctx, b.TenantID, st...)
				if na != nb {
					t.Errorf("round %d: %v users %d vs %d", round, st, na, nb)
				}
			}
			ea, _ := s.QueryAudit(ctx, store.AuditQuery{TenantID: a.TenantID, Limit: 1000})
			eb, _ := s.QueryAudit(ctx, store.AuditQuery{TenantID: b.TenantID, Limit: 1000})
			if auditKinds(ea) != auditKinds(eb) {
				t.Errorf("round %d: audit %s vs %s", round, auditKinds(ea), auditKinds(eb))
			}
			va, vb := feedOf(t, s, a.TenantID, ea), feedOf(t, s, b.TenantID, eb)
			if len(va) != len(vb) {
				t.Errorf("round %d: %d events vs %d", round, len(va), len(vb))
			}
		}
	})
}

func auditKinds(es []store.AuditEntry) string {
	var ks []string
	for _, e := range es {
		ks = append(ks, fmt.Sprintf("%s/%d/%s", e.Operation, e.Status, e.Rule))
	}
	slices.Sort(ks)
	return fmt.Sprint(ks)
}

// feedOf reads a tenant's whole feed, waiting (up to five seconds) until
// it holds one event per successful user change of the audit trail:
// PostgreSQL may hold events back briefly while transactions of other test
// databases end.
func feedOf(t *testing.T, s store.Store, tenantID string, audit []store.AuditEntry) []store.Event {
	t.Helper()
	want := 0
	for _, e := range audit {
		if strings.HasPrefix(e.Operation, "user.") && e.Status < 300 {
			want++
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs, _, err := s.EventFeed(context.Background(), tenantID, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) >= want || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}
