package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// seed creates n active users in the actor's tenant and returns their ids.
func seed(t *testing.T, svc *Service, a Actor, prefix string, n int) []string {
	t.Helper()
	us := make([]store.User, n)
	for i := range us {
		us[i] = newUser(fmt.Sprintf("%s%03d", prefix, i), "", true, "")
	}
	res, err := svc.CreateUsers(context.Background(), a, us)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		ids[i] = r.User.ID
	}
	return ids
}

func deactivate(svc *Service, a Actor, id string) error {
	_, err := svc.UpdateUser(context.Background(), a, id, nil, "user.patch", func(u *store.User) error { u.Active = false; return nil })
	return err
}

func braked(err error) bool {
	var v *policy.Violation
	return errors.As(err, &v) && v.Rule == policy.RuleDeprovisioningPaused
}

// events returns the tenant's events of the given type.
func events(t *testing.T, s store.Reader, tenantID, typ string) []store.Event {
	t.Helper()
	all, err := s.ListEvents(context.Background(), tenantID, "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestBrakeTripsAndResumes deactivates and deletes users of a 100-user
// tenant until the brake trips, then checks that it holds for every
// destructive path after the window has slid, lets creates and
// reactivations through, and that a resume lets destructive changes
// through again, counted afresh.
func TestBrakeTripsAndResumes(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
		svc, cli := setup(t, s, c, "acme", "")
		ids := seed(t, svc, cli, "user", 100)
		// Ten within the window: five deactivations, five deletions.
		for i := range 10 {
			var err error
			if i%2 == 0 {
				err = deactivate(svc, cli, ids[i])
			} else {
				err = svc.DeleteUser(ctx, cli, ids[i], nil)
			}
			if err != nil {
				t.Fatalf("change %d: %v", i, err)
			}
			c.advance(30 * time.Second)
		}
		// A no-op deactivation and a reactivation do not count.
		if err := deactivate(svc, cli, ids[0]); err != nil {
			t.Fatalf("deactivating an inactive user: %v", err)
		}
		if _, err := svc.UpdateUser(ctx, cli, ids[2], nil, "user.patch", func(u *store.User) error { u.Active = true; return nil }); err != nil {
			t.Fatalf("reactivation: %v", err)
		}
		before := snap(t, s, cli.TenantID, ids)
		err := deactivate(svc, cli, ids[10])
		var v *policy.Violation
		if !errors.As(err, &v) || v.Rule != policy.RuleDeprovisioningPaused {
			t.Fatalf("the 11th destructive change in 10 minutes: %v", err)
		}
		for _, want := range []string{"11 of them within 10 minutes", "limit of 10 (10% of 91 active users)", "`scimd tenant resume acme`"} {
			if !strings.Contains(v.Detail, want) {
				t.Errorf("detail %q lacks %q", v.Detail, want)
			}
		}
		if after := snap(t, s, cli.TenantID, ids); !after.equal(before) {
			t.Fatalf("the refused deactivation changed users:\n%+v\n%+v", before, after)
		}
		paused := events(t, s, cli.TenantID, EventDeprovisioningPaused)
		if len(paused) != 1 {
			t.Fatalf("%d paused events, want 1", len(paused))
		}
		var p BrakeEventPayload
		if err := json.Unmarshal(paused[0].Payload, &p); err != nil {
			t.Fatal(err)
		}
		if paused[0].ResourceType != "Tenant" || paused[0].ResourceID != cli.TenantID || p.ID != cli.TenantID || p.Name != "acme" ||
			p.Count != 11 || p.Limit != 10 || p.WindowMinutes != 10 || p.Percent != 10 || p.ActiveUsers != 91 || !p.PausedAt.Equal(c.now()) {
			t.Fatalf("paused event %+v, payload %+v", paused[0], p)
		}
		// The window slides; the brake holds for deactivation and deletion.
		c.advance(time.Hour)
		if err := deactivate(svc, cli, ids[11]); !braked(err) || err.Error() != v.Error() {
			t.Fatalf("deactivation while paused: %v; want the same refusal %v", err, v)
		}
		if err := svc.DeleteUser(ctx, cli, ids[12], nil); !braked(err) {
			t.Fatalf("deletion while paused: %v", err)
		}
		if len(events(t, s, cli.TenantID, EventDeprovisioningPaused)) != 1 {
			t.Fatal("a refusal while paused emitted another paused event")
		}
		// Creates, reactivations and other updates go through.
		if _, err := svc.CreateUser(ctx, cli, newUser("newcomer", "", true, "")); err != nil {
			t.Fatalf("create while paused: %v", err)
		}
		if _, err := svc.UpdateUser(ctx, cli, ids[4], nil, "user.patch", func(u *store.User) error { u.Active = true; return nil }); err != nil {
			t.Fatalf("reactivation while paused: %v", err)
		}
		if _, err := svc.UpdateUser(ctx, cli, ids[13], nil, "user.patch", func(u *store.User) error { u.DisplayName = "x"; return nil }); err != nil {
			t.Fatalf("rename while paused: %v", err)
		}
		// Every refusal and the pause are audited.
		entries, err := s.ListAudit(ctx, cli.TenantID, "", 100000)
		if err != nil {
			t.Fatal(err)
		}
		var refusals, pauses int
		for _, e := range entries {
			switch {
			case e.Rule == policy.RuleDeprovisioningPaused && e.Status == 403:
				refusals++
			case e.Operation == "tenant.pause" && e.ResourceID == cli.TenantID:
				pauses++
			}
		}
		if refusals != 3 || pauses != 1 {
			t.Fatalf("audit: %d refusals and %d pauses, want 3 and 1", refusals, pauses)
		}
		st, err := svc.Status(ctx, "acme")
		if err != nil || st.Brake.Paused == nil || st.Brake.Paused.Count != 11 {
			t.Fatalf("status: %+v, %v", st.Brake, err)
		}

		res, err := svc.ResumeDeprovisioning(ctx, Actor{Name: "cli"}, "acme")
		if err != nil || res.Pause == nil || res.Pause.Count != 11 || res.Tenant.ID != cli.TenantID {
			t.Fatalf("resume: %+v, %v", res, err)
		}
		if ev := events(t, s, cli.TenantID, EventDeprovisioningResumed); len(ev) != 1 || ev[0].ResourceID != cli.TenantID {
			t.Fatalf("resumed events: %+v", ev)
		}
		// A fresh window: ten more go through (93 active users), the 11th
		// trips again.
		for i := 20; i < 30; i++ {
			if err := deactivate(svc, cli, ids[i]); err != nil {
				t.Fatalf("after the resume, change %d: %v", i, err)
			}
		}
		if err := svc.DeleteUser(ctx, cli, ids[30], nil); !braked(err) {
			t.Fatalf("the 11th after the resume: %v", err)
		}
		if n := len(events(t, s, cli.TenantID, EventDeprovisioningPaused)); n != 2 {
			t.Fatalf("%d paused events after the second trip, want 2", n)
		}
		// Resuming a tenant that is not paused starts a fresh window only.
		if _, err := svc.ResumeDeprovisioning(ctx, Actor{Name: "cli"}, "acme"); err != nil {
			t.Fatal(err)
		}
		res, err = svc.ResumeDeprovisioning(ctx, Actor{Name: "cli"}, "acme")
		if err != nil || res.Pause != nil {
			t.Fatalf("second resume: %+v, %v", res, err)
		}
		if n := len(events(t, s, cli.TenantID, EventDeprovisioningResumed)); n != 2 {
			t.Fatalf("%d resumed events, want 2 (one per pause)", n)
		}
		if _, err := svc.ResumeDeprovisioning(ctx, Actor{Name: "cli"}, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("resume of an unknown tenant: %v", err)
		}
	})
}

// TestBrakeOffAndDryRun: a tenant with the brake off deletes all its users
// at once; a dry run that would trip the brake pauses nothing.
func TestBrakeOffAndDryRun(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
		svc, off := setup(t, s, c, "off", "", "deprovision_brake=false")
		for _, id := range seed(t, svc, off, "off", 25) {
			if err := svc.DeleteUser(ctx, off, id, nil); err != nil {
				t.Fatalf("brake off: %v", err)
			}
		}
		_, on := setup(t, s, c, "on", "", "deprovision_brake_min=2")
		ids := seed(t, svc, on, "on", 5)
		for _, id := range ids[:2] {
			if err := deactivate(svc, on, id); err != nil {
				t.Fatal(err)
			}
		}
		// A dry run of the third is refused as the real one would be, and
		// pauses nothing.
		_, err := svc.UpdateUser(WithDryRun(ctx), on, ids[2], nil, "user.patch", func(u *store.User) error { u.Active = false; return nil })
		if !braked(err) {
			t.Fatalf("dry run of the third deactivation: %v", err)
		}
		if b, err := s.GetBrake(ctx, on.TenantID); err != nil || b.Paused != nil {
			t.Fatalf("after the dry run: %+v, %v", b, err)
		}
		if n := len(events(t, s, on.TenantID, EventDeprovisioningPaused)); n != 0 {
			t.Fatalf("the dry run emitted %d paused events", n)
		}
		if err := deactivate(svc, on, ids[2]); !braked(err) {
			t.Fatalf("third deactivation: %v", err)
		}
		if b, err := s.GetBrake(ctx, on.TenantID); err != nil || b.Paused == nil || b.Paused.Limit != 2 {
			t.Fatalf("after the real one: %+v, %v", b, err)
		}
	})
}

// TestBrakeConcurrentDeactivations deactivates 40 users of a 100-user
// tenant from 16 goroutines at once: exactly the limit (10) commit, the
// rest are refused, and exactly one paused event is written — on each
// backend, and through three replicas over one PostgreSQL database.
func TestBrakeConcurrentDeactivations(t *testing.T) {
	run := func(t *testing.T, services []*Service, s store.Store) {
		c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
		for _, svc := range services {
			svc.now = c.now
		}
		_, cli := setup(t, s, c, "acme", "")
		ids := seed(t, services[0], cli, "user", 100)
		var ok, refused atomic.Int32
		work := make(chan string)
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				svc := services[g%len(services)]
				for id := range work {
					switch err := deactivate(svc, cli, id); {
					case err == nil:
						ok.Add(1)
					case braked(err):
						refused.Add(1)
					default:
						t.Errorf("deactivate: %v", err)
					}
				}
			})
		}
		for _, id := range ids[:40] {
			work <- id
		}
		close(work)
		wg.Wait()
		if ok.Load() != 10 || refused.Load() != 30 {
			t.Fatalf("%d committed, %d refused; want 10 and 30", ok.Load(), refused.Load())
		}
		if n, err := s.CountUsers(context.Background(), cli.TenantID, store.StateInactive); err != nil || n != 10 {
			t.Fatalf("%d inactive users, %v; want 10", n, err)
		}
		if n := len(events(t, s, cli.TenantID, EventDeprovisioningPaused)); n != 1 {
			t.Fatalf("%d paused events, want exactly 1", n)
		}
		if n := len(events(t, s, cli.TenantID, "user.deactivated")); n != 10 {
			t.Fatalf("%d user.deactivated events, want 10", n)
		}
	}
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		run(t, []*Service{New(s, nil, nil)}, s)
	})
	t.Run("postgres-replicas", func(t *testing.T) {
		c := &clock{}
		reps := pgReplicas(t, 3, c)
		run(t, reps, reps[0].store)
	})
}

// TestBrakeProperty drives random sequences of deactivations, deletions,
// reactivations, creates, clock steps and resumes through the service and
// checks after every committed destructive change that the destructive
// changes committed within the window before it (since the last resume)
// never exceed the limit of the active users before it; that a tripped
// brake refuses every destructive change until a resume; and that each
// trip wrote one paused event.
func TestBrakeProperty(t *testing.T) {
	steps := 300
	if testing.Short() {
		steps = 150
	}
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(11, 5))
		c := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
		svc, cli := setup(t, s, c, "acme", "", "deprovision_brake_min=4", "deprovision_brake_percent=20",
			"deprovision_brake_window_minutes=3")
		settings, err := svc.Settings(ctx, s, cli.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		window := policy.BrakeWindow(settings)
		ids := seed(t, svc, cli, "seed", 30)
		var committed []time.Time // destructive changes since the last resume
		paused, trips, commits := false, 0, 0
		for step := 0; step < steps; step++ {
			active, err := s.CountUsers(ctx, cli.TenantID, store.StateActive)
			if err != nil {
				t.Fatal(err)
			}
			var (
				what        string
				destructive bool
			)
			switch op := r.IntN(20); {
			case op < 7:
				id := ids[r.IntN(len(ids))]
				u, gerr := s.GetUser(ctx, cli.TenantID, id)
				what, destructive = "deactivate "+id, gerr == nil && u.Active
				err = deactivate(svc, cli, id)
			case op < 10:
				id := ids[r.IntN(len(ids))]
				_, gerr := s.GetUser(ctx, cli.TenantID, id)
				what, destructive = "delete "+id, gerr == nil
				err = svc.DeleteUser(ctx, cli, id, nil)
			case op < 13:
				id := ids[r.IntN(len(ids))]
				what = "reactivate " + id
				_, err = svc.UpdateUser(ctx, cli, id, nil, "user.patch", func(u *store.User) error { u.Active = true; return nil })
			case op < 15:
				what = "create"
				var u store.User
				if u, err = svc.CreateUser(ctx, cli, newUser(fmt.Sprintf("new%d", step), "", true, "")); err == nil {
					ids = append(ids, u.ID)
				}
			case op < 19:
				d := time.Duration(r.IntN(80)) * time.Second
				what = fmt.Sprint("clock +", d)
				c.advance(d)
			default:
				what = "resume"
				if r.IntN(2) == 0 {
					_, err = svc.ResumeDeprovisioning(ctx, Actor{Name: "cli"}, "acme")
					paused, committed = false, nil
				}
			}
			switch {
			case err == nil && destructive:
				if paused {
					t.Fatalf("step %d (%s): a destructive change got through a paused brake", step, what)
				}
				now := c.now()
				committed = append(committed, now)
				n := 0
				for _, at := range committed {
					if at.After(now.Add(-window)) {
						n++
					}
				}
				if limit := policy.BrakeLimit(settings, active); n > limit {
					t.Fatalf("step %d (%s): %d destructive changes within %v, limit %d", step, what, n, window, limit)
				}
				commits++
			case braked(err):
				if !destructive {
					t.Fatalf("step %d (%s): the brake refused a change that is not destructive", step, what)
				}
				if !paused {
					trips++
				}
				paused = true
			case err != nil && !errors.Is(err, store.ErrNotFound):
				t.Fatalf("step %d (%s): %v", step, what, err)
			}
		}
		if n := len(events(t, s, cli.TenantID, EventDeprovisioningPaused)); n != trips {
			t.Fatalf("%d paused events for %d trips", n, trips)
		}
		if trips < 2 || commits < 20 {
			t.Fatalf("%d trips and %d destructive commits: the walk is too one-sided", trips, commits)
		}
	})
}

// TestBrakeKeepsTheLongestWindow: the stores keep counts as long as the
// longest window the settings allow.
func TestBrakeKeepsTheLongestWindow(t *testing.T) {
	if store.DeprovisionKeep < time.Duration(policy.MaxBrakeWindowMinutes)*time.Minute+time.Minute {
		t.Fatalf("store.DeprovisionKeep %v is shorter than the longest window (%d minutes) plus a minute",
			store.DeprovisionKeep, policy.MaxBrakeWindowMinutes)
	}
}

// BenchmarkDeactivation measures a deactivation (and the reactivation
// that undoes it, which the brake does not touch) with the brake on — its
// limit out of reach, so that every deactivation is counted — and off, on
// each backend, from parallel goroutines on distinct users: the brake
// serialises a tenant's deactivations on its lock.
func BenchmarkDeactivation(b *testing.B) {
	for _, backend := range testenv.Backends {
		for _, brake := range []string{"on", "off"} {
			b.Run(backend+"/brake="+brake, func(b *testing.B) {
				s := testenv.Open(b, backend)
				ctx := context.Background()
				svc := New(s, nil, nil)
				if _, err := svc.CreateTenant(ctx, Actor{Name: "bench"}, "acme"); err != nil {
					b.Fatal(err)
				}
				sets := []string{"deprovision_brake=false"}
				if brake == "on" {
					sets = []string{"deprovision_brake=true", "deprovision_brake_min=1000000", "deprovision_brake_window_minutes=1440"}
				}
				if _, err := svc.SetTenantPolicy(ctx, Actor{Name: "bench"}, "acme", "", sets); err != nil {
					b.Fatal(err)
				}
				ten, err := s.GetTenantByName(ctx, "acme")
				if err != nil {
					b.Fatal(err)
				}
				a := Actor{TenantID: ten.ID, Name: "bench"}
				us := make([]store.User, 256)
				for i := range us {
					us[i] = newUser(fmt.Sprintf("u%03d", i), "", true, "")
				}
				res, err := svc.CreateUsers(ctx, a, us)
				if err != nil {
					b.Fatal(err)
				}
				var next atomic.Int64
				b.SetParallelism(2)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					id := res[int(next.Add(1)-1)%len(res)].User.ID
					for pb.Next() {
						if err := deactivate(svc, a, id); err != nil {
							b.Error(err)
							return
						}
						if _, err := svc.UpdateUser(ctx, a, id, nil, "user.patch", func(u *store.User) error { u.Active = true; return nil }); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
