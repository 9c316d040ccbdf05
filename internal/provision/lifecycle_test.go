package provision

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
)

// clock is an injectable clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newUser(name, email string, active bool, role string) store.User {
	u := store.User{UserName: name, Active: active, Role: role, Doc: []byte(`{"userName":"` + name + `"}`)}
	if email != "" {
		u.Emails = []store.Email{{Value: email, Type: "work", Primary: true}}
	}
	return u
}

func setup(t *testing.T, s store.Store, c *clock, tenant, preset string, sets ...string) (*Service, Actor) {
	t.Helper()
	svc := New(s, c.now, nil)
	ctx := context.Background()
	ten, err := svc.CreateTenant(ctx, Actor{Name: "test"}, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetTenantPolicy(ctx, Actor{Name: "test"}, tenant, preset, sets); err != nil {
		t.Fatal(err)
	}
	return svc, Actor{TenantID: ten.ID, Name: "cli"}
}

// snapshot is every stored fact a refused change must leave alone.
type snapshot struct {
	users  map[string]string // id -> state/version/role/active of live users and tombstones
	tokens string
	owner  string
	states [3]int
}

func snap(t *testing.T, s store.Store, tenantID string, ids []string) snapshot {
	t.Helper()
	ctx := context.Background()
	sn := snapshot{users: map[string]string{}}
	for _, id := range ids {
		u, err := s.GetUser(ctx, tenantID, id)
		if errors.Is(err, store.ErrNotFound) {
			u, err = s.GetTombstone(ctx, tenantID, id)
		}
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sn.users[id] = fmt.Sprintf("%s/%d/%s/%v/%s", u.State, u.Version, u.Role, u.Active, u.UserName)
	}
	toks, err := s.ListTokens(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	sn.tokens = fmt.Sprint(len(toks))
	for _, k := range toks {
		sn.tokens += fmt.Sprintf(" %s:%v", k.ID, k.Revoked != nil)
	}
	if o, err := s.GetOwner(ctx, tenantID); err == nil {
		sn.owner = o.ID
	}
	for i, st := range []store.UserState{store.StateActive, store.StateInactive, store.StateDeleted} {
		if sn.states[i], err = s.CountUsers(ctx, tenantID, st); err != nil {
			t.Fatal(err)
		}
	}
	return sn
}

func (a snapshot) equal(b snapshot) bool {
	if a.tokens != b.tokens || a.owner != b.owner || a.states != b.states || len(a.users) != len(b.users) {
		return false
	}
	for k, v := range a.users {
		if b.users[k] != v {
			return false
		}
	}
	return true
}

// allowed reports whether err is an outcome a random step may have: a
// refusal, a uniqueness conflict, a user that is gone, or an admin input
// error.
func allowed(err error) bool {
	var v *policy.Violation
	return err == nil || errors.As(err, &v) || errors.Is(err, store.ErrConflict) ||
		errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrInvalid)
}

// TestLifecycleProperties drives random sequences of create, deactivate,
// reactivate, delete, re-create, role change, ownership transfer and token
// mint/revoke, with clock jumps around the reactivation window, under
// every preset with a seat limit, and checks the invariants after every
// step: seats never exceed the limit, a refused step changes nothing, an
// owner exists once one was set, and under erase tombstones hold no
// personal data.
func TestLifecycleProperties(t *testing.T) {
	steps := 120
	if testing.Short() {
		steps = 80
	}
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		for i, preset := range policy.Presets() {
			t.Run(preset, func(t *testing.T) {
				c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
				// Each preset gets its own tenant: the store is shared.
				svc, cli := setup(t, s, c, preset, preset, "seats=4", "reactivation_window_days=7")
				runProperty(t, s, svc, cli, c, rand.New(rand.NewPCG(uint64(i+1), 7)), steps)
			})
		}
	})
}

func runProperty(t *testing.T, s store.Store, svc *Service, cli Actor, c *clock, r *rand.Rand, steps int) {
	ctx := context.Background()
	settings, err := svc.Settings(ctx, s, cli.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"alice_a", "bob_bb", "carol_c", "dave_dd", "erin_e", "frank_f", "grace_g"}
	domains := []string{"acme.test", "gmail.com"}
	roles := []string{store.RoleMember, store.RoleMember, store.RoleAdmin, store.RoleOwner, store.RoleViewer}
	var ids, tokens []string
	ownerSeen := false
	var ok, refused int
	pickID := func() string {
		if len(ids) == 0 {
			return "00000000-0000-7000-8000-000000000000"
		}
		return ids[r.IntN(len(ids))]
	}
	actor := func() Actor {
		a := cli
		if r.IntN(3) == 0 {
			a.OwnerID, a.Name = pickID(), "token:test"
		}
		return a
	}
	for step := 0; step < steps; step++ {
		before := snap(t, s, cli.TenantID, ids)
		var (
			what string
			err  error
		)
		switch op := r.IntN(10); op {
		case 0, 1:
			n := names[r.IntN(len(names))]
			u := newUser(n, n+"@"+domains[r.IntN(len(domains))], r.IntN(4) != 0, roles[r.IntN(len(roles))])
			what = fmt.Sprintf("create %s active=%v role=%s", n, u.Active, u.Role)
			var got store.User
			got, err = svc.CreateUser(ctx, actor(), u)
			if err == nil && !slices.Contains(ids, got.ID) {
				ids = append(ids, got.ID)
			}
		case 2, 3:
			id := pickID()
			active := r.IntN(2) == 0
			what = fmt.Sprintf("set active=%v on %s", active, id)
			_, err = svc.UpdateUser(ctx, actor(), id, nil, "user.patch", func(u *store.User) error { u.Active = active; return nil })
		case 4:
			id := pickID()
			what = "delete " + id
			err = svc.DeleteUser(ctx, actor(), id, nil)
		case 5:
			id, role := pickID(), roles[r.IntN(len(roles))]
			what = fmt.Sprintf("role %s on %s", role, id)
			_, err = svc.UpdateUser(ctx, actor(), id, nil, "user.patch", func(u *store.User) error { u.Role = role; return nil })
		case 6:
			n := names[r.IntN(len(names))]
			what = "transfer ownership to " + n
			_, err = svc.TransferOwnership(ctx, cli, n)
		case 7:
			n := names[r.IntN(len(names))]
			what = "mint a token for " + n
			var tok store.Token
			_, tok, err = svc.CreateToken(ctx, cli, TokenSpec{TenantID: cli.TenantID, OwnerUserName: n})
			if err == nil {
				tokens = append(tokens, tok.ID)
			}
		case 8:
			if len(tokens) == 0 {
				continue
			}
			id := tokens[r.IntN(len(tokens))]
			what = "revoke token " + id
			err = svc.RevokeToken(ctx, cli, id)
		case 9:
			d := time.Duration(r.IntN(5*24)) * time.Hour
			what = fmt.Sprintf("clock +%v", d)
			c.advance(d)
		}
		if !allowed(err) {
			t.Fatalf("step %d (%s): unexpected error %T %v", step, what, err, err)
		}
		if err == nil {
			ok++
		} else {
			refused++
		}
		after := snap(t, s, cli.TenantID, ids)
		if err != nil && !after.equal(before) {
			t.Fatalf("step %d (%s) was refused (%v) but changed something:\n%+v\n%+v", step, what, err, before, after)
		}
		used := after.states[0]
		if settings.InactiveUsersConsumeSeats {
			used += after.states[1]
		}
		if used > settings.Seats {
			t.Fatalf("step %d (%s): %d seats used of %d", step, what, used, settings.Seats)
		}
		if after.owner != "" {
			ownerSeen = true
		} else if ownerSeen {
			t.Fatalf("step %d (%s): the owner is gone", step, what)
		}
		if settings.DeletedUserData == policy.DataErase {
			for _, id := range ids {
				tomb, err := s.GetTombstone(ctx, cli.TenantID, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !tomb.Erased || tomb.UserName != "" || len(tomb.Emails) != 0 || tomb.PasswordHash != "" ||
					tomb.DisplayName != "" || tomb.GivenName != "" || tomb.FamilyName != "" || tomb.ExternalID != "" ||
					(string(tomb.Doc) != "{}" && len(tomb.Doc) != 0) {
					t.Fatalf("step %d (%s): tombstone %s keeps personal data: %+v", step, what, id, tomb)
				}
			}
		}
	}
	// The sequence must have exercised both outcomes, or it proved nothing.
	if ok < steps/10 || refused < steps/20 {
		t.Fatalf("%d steps succeeded and %d were refused: the random walk is too one-sided", ok, refused)
	}
}

// pgReplicas returns n services, each over its own connection pool to one
// fresh PostgreSQL database, as replicas of scimd are.
func pgReplicas(t *testing.T, n int, c *clock) []*Service {
	t.Helper()
	u := pgtest.URL(t)
	var out []*Service
	for range n {
		s, err := postgres.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		out = append(out, New(s, c.now, nil))
	}
	return out
}

// TestLastSeatAcrossReplicas races many creates for the last free seat
// through several services, each over its own connection pool to the same
// PostgreSQL database (as replicas are): exactly one may win.
func TestLastSeatAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	replicas := pgReplicas(t, 3, c)
	svc, cli := setup(t, replicas[0].store, c, "acme", "", "seats=3")
	for i := range 2 {
		if _, err := svc.CreateUser(ctx, cli, newUser(fmt.Sprintf("seated%d", i), "", true, "")); err != nil {
			t.Fatal(err)
		}
	}
	// One inactive user: reactivating it competes for the same seat.
	idle, err := svc.CreateUser(ctx, cli, newUser("idle", "", false, ""))
	if err != nil {
		t.Fatal(err)
	}
	var wins, refusals atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep := replicas[i%len(replicas)]
			var err error
			if i == 0 {
				_, err = rep.UpdateUser(ctx, cli, idle.ID, nil, "user.patch", func(u *store.User) error { u.Active = true; return nil })
			} else {
				_, err = rep.CreateUser(ctx, cli, newUser(fmt.Sprintf("racer%d", i), "", true, ""))
			}
			var v *policy.Violation
			switch {
			case err == nil:
				wins.Add(1)
			case errors.As(err, &v) && v.Rule == policy.RuleSeats:
				refusals.Add(1)
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || refusals.Load() != 11 {
		t.Fatalf("%d wins, %d refusals; want exactly one winner", wins.Load(), refusals.Load())
	}
	st, err := svc.Status(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if st.Seats.Used != 3 || st.Seats.Free == nil || *st.Seats.Free != 0 {
		t.Fatalf("seats after the race: %+v", st.Seats)
	}
}

// TestUniqueEmailAcrossReplicas races creates of one email address (in
// several spellings) through several services over their own pools to the
// same PostgreSQL database, next to creates of other addresses: exactly
// one of the shared address may win, and every other address is created.
func TestUniqueEmailAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	replicas := pgReplicas(t, 3, c)
	_, cli := setup(t, replicas[0].store, c, "acme", "", "unique_emails=true")
	spellings := []string{"same@example.com", "SAME@example.com", "Same@Example.COM"}
	var wins, refusals, others atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			rep := replicas[i%len(replicas)]
			shared := i%2 == 0
			email := fmt.Sprintf("own%d@example.com", i)
			if shared {
				email = spellings[i%len(spellings)]
			}
			_, err := rep.CreateUser(ctx, cli, newUser(fmt.Sprintf("racer%d", i), email, true, ""))
			var v *policy.Violation
			switch {
			case err == nil && shared:
				wins.Add(1)
			case err == nil:
				others.Add(1)
			case shared && errors.As(err, &v) && v.Rule == policy.RuleUniqueEmail:
				refusals.Add(1)
			default:
				t.Errorf("racer %d (%s): %v", i, email, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || refusals.Load() != 7 || others.Load() != 8 {
		t.Fatalf("shared address: %d wins, %d refusals; other addresses: %d created; want 1, 7 and 8",
			wins.Load(), refusals.Load(), others.Load())
	}
}
