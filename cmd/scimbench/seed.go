package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/dbopen"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// openStore opens and migrates the store a target names.
func openStore(ctx context.Context, t dbopen.Target) (dbopen.Database, error) {
	db, err := dbopen.Open(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the database: %w", err)
	}
	return db, nil
}

var benchActor = provision.Actor{Name: "cli", Client: "scimbench"}

// SeedReport says what seeding did.
type SeedReport struct {
	Tenant        string  `json:"tenant"`
	UsersBefore   int     `json:"users_before"`
	UsersSeeded   int     `json:"users_seeded"`
	GroupsSeeded  int     `json:"groups_seeded"`
	MembersSeeded int     `json:"members_seeded"`
	Seconds       float64 `json:"seconds"`
	UsersPerSec   float64 `json:"users_per_sec,omitempty"`
	// Vacuumed is true when PostgreSQL ran VACUUM ANALYZE after seeding.
	Vacuumed bool `json:"vacuumed,omitempty"`
}

// seeder writes the bench tenant's users and groups straight through the
// store, in batched transactions, bypassing HTTP and the provision
// service (no audit entries, no outbox events).
type seeder struct {
	db       dbopen.Database
	tenantID string
	users    int // the seeded users are numbers 0 … users-1
	groups   int
	members  int
	batch    int
	workers  int
	log      io.Writer
	ids      []string // ids by user number, for the users seeded in this run
	// analyze, when set, refreshes the planner statistics; it runs at every
	// tenth of the users and after the first batch.
	analyze func(ctx context.Context) error
}

// ensureTenant returns the id of the named tenant, creating it.
//
// The tenant's mass-deprovisioning brake is turned off on every run: the
// patch and mixed phases deactivate users over and over, which the brake
// (rightly) would pause once a tenth of the directory had been deactivated.
func ensureTenant(ctx context.Context, db dbopen.Database, name string) (string, error) {
	svc := provision.New(db, nil, nil)
	t, err := db.GetTenantByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		if t, err = svc.CreateTenant(ctx, benchActor, name); err != nil {
			return "", fmt.Errorf("creating tenant %s: %w", name, err)
		}
	} else if err != nil {
		return "", err
	}
	if _, err := svc.SetTenantPolicy(ctx, benchActor, name, "", []string{"deprovision_brake=false"}); err != nil {
		return "", fmt.Errorf("turning off the deprovisioning brake of %s: %w", name, err)
	}
	return t.ID, nil
}

func (s *seeder) present(ctx context.Context, idx int) (bool, error) {
	_, err := s.db.GetUserByUserName(ctx, s.tenantID, seedUserName(idx))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// seed makes sure users 0 … users-1 and the groups exist. A tenant that
// already has at least that many live users, the last seeded one among
// them, is left alone; otherwise the seeded users present form a prefix
// (batches commit in order, so even an interrupted run leaves one), found
// by binary search, and the rest is written.
func (s *seeder) seed(ctx context.Context) (SeedReport, error) {
	rep := SeedReport{}
	start := time.Now()
	s.ids = make([]string, s.users)
	have, err := s.db.CountUsers(ctx, s.tenantID, store.StateActive, store.StateInactive)
	if err != nil {
		return rep, err
	}
	rep.UsersBefore = have
	complete := false
	if have >= s.users {
		if complete, err = s.present(ctx, s.users-1); err != nil {
			return rep, err
		}
	}
	if !complete {
		first := 0
		if have > 0 {
			var serr error
			first = sort.Search(s.users, func(i int) bool {
				ok, err := s.present(ctx, i)
				if err != nil {
					serr = err
				}
				return !ok
			})
			if serr != nil {
				return rep, serr
			}
		}
		if err := s.seedUsers(ctx, first, s.users); err != nil {
			return rep, err
		}
		rep.UsersSeeded = s.users - first
	}
	for _, idx := range []int{0, s.users - 1} {
		ok, err := s.present(ctx, idx)
		if err != nil {
			return rep, err
		}
		if !ok {
			return rep, fmt.Errorf("the tenant has %d users but not the seeded user %s: use a fresh database or another -tenant", have, seedUserName(idx))
		}
	}
	rep.GroupsSeeded, rep.MembersSeeded, err = s.seedGroups(ctx)
	if err != nil {
		return rep, err
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.UsersSeeded > 0 && rep.Seconds > 0 {
		rep.UsersPerSec = float64(rep.UsersSeeded) / rep.Seconds
	}
	return rep, nil
}

// seedUsers creates users first … last-1 in transactions of s.batch users,
// s.workers transactions at a time.
func (s *seeder) seedUsers(ctx context.Context, first, last int) error {
	batches := make(chan int)
	var done atomic.Int64
	var once sync.Once
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	total := last - first
	step := max(total/10, s.batch)
	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() {
			for lo := range batches {
				hi := min(lo+s.batch, last)
				err := s.db.Update(ctx, func(ctx context.Context, tx store.Tx) error {
					now := time.Now().UTC().Truncate(store.TimePrecision)
					for i := lo; i < hi; i++ {
						u := seedProfile(i).storeUser(s.tenantID, now)
						if err := tx.CreateUser(ctx, &u); err != nil {
							return fmt.Errorf("seeding user %s: %w", u.UserName, err)
						}
						s.ids[i] = u.ID
					}
					return nil
				})
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				n := done.Add(int64(hi - lo))
				prev := n - int64(hi-lo)
				if prev/int64(step) != n/int64(step) {
					el := time.Since(start).Seconds()
					fmt.Fprintf(s.log, "seed: %d/%d users (%.0f users/s)\n", n, total, float64(n)/el)
				}
				if s.analyze != nil && (prev == 0 || prev/int64(step) != n/int64(step)) {
					if err := s.analyze(ctx); err != nil {
						once.Do(func() { firstErr = err; cancel() })
					}
				}
			}
		})
	}
	for lo := first; lo < last && ctx.Err() == nil; lo += s.batch {
		batches <- lo
	}
	close(batches)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// idOf returns the id of seeded user idx.
func (s *seeder) idOf(ctx context.Context, idx int) (string, error) {
	if id := s.ids[idx]; id != "" {
		return id, nil
	}
	u, err := s.db.GetUserByUserName(ctx, s.tenantID, seedUserName(idx))
	if err != nil {
		return "", fmt.Errorf("seeded user %s: %w", seedUserName(idx), err)
	}
	return u.ID, nil
}

// seedGroups creates the groups that are missing, each with s.members
// seeded users: group j holds users j·K … j·K+K-1 (mod the user count),
// so memberships spread over the users.
func (s *seeder) seedGroups(ctx context.Context) (groups, members int, err error) {
	if s.groups == 0 {
		return 0, 0, nil
	}
	page, err := s.db.ListGroups(ctx, s.tenantID, store.Query{})
	if err != nil {
		return 0, 0, err
	}
	if page.Total >= s.groups {
		return 0, 0, nil
	}
	k := min(s.members, s.users)
	for j := range s.groups {
		name := groupName(j)
		if page.Total > 0 {
			p, err := s.db.ListGroups(ctx, s.tenantID, store.Query{
				Filter: store.Cmp{Attr: "displayName", Op: store.OpEq, Value: name}, Limit: 1})
			if err != nil {
				return groups, members, err
			}
			if p.Total > 0 {
				continue
			}
		}
		ids := make([]string, k)
		for t := range k {
			if ids[t], err = s.idOf(ctx, (j*k+t)%s.users); err != nil {
				return groups, members, err
			}
		}
		now := time.Now().UTC().Truncate(store.TimePrecision)
		g := store.Group{TenantID: s.tenantID, ID: uuid.Must(uuid.NewV7()).String(), DisplayName: name,
			Doc: []byte(`{"displayName":` + quote(name) + `}`), Version: 1, Created: now, Modified: now}
		err = s.db.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateGroup(ctx, &g); err != nil {
				return fmt.Errorf("seeding group %s: %w", name, err)
			}
			if len(ids) == 0 {
				return nil
			}
			missing, err := tx.AddMembers(ctx, s.tenantID, g.ID, ids)
			if err != nil {
				return fmt.Errorf("seeding the members of %s: %w", name, err)
			}
			if len(missing) > 0 {
				return fmt.Errorf("seeding the members of %s: %d ids are not users", name, len(missing))
			}
			return nil
		})
		if err != nil {
			return groups, members, err
		}
		groups++
		members += len(ids)
	}
	return groups, members, nil
}

// poolUser is an existing user the get and patch phases address by id.
type poolUser struct {
	id, userName, externalID, email string
	active                          bool
}

// storePool reads size random seeded users (their ids and state) from
// the store.
func (s *seeder) storePool(ctx context.Context, size int, rng *rand.Rand) ([]poolUser, error) {
	size = min(size, s.users)
	picked := make(map[int]bool, size)
	pool := make([]poolUser, 0, size)
	for len(pool) < size {
		idx := rng.IntN(s.users)
		if picked[idx] {
			continue
		}
		picked[idx] = true
		u, err := s.db.GetUserByUserName(ctx, s.tenantID, seedUserName(idx))
		if err != nil {
			return nil, fmt.Errorf("seeded user %s: %w", seedUserName(idx), err)
		}
		p := seedProfile(idx)
		pool = append(pool, poolUser{id: u.ID, userName: u.UserName, externalID: p.externalID, email: p.email, active: u.Active})
	}
	return pool, nil
}
