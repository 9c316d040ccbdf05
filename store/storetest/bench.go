package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// Sizes of BenchAddMembers.
const (
	benchBigGroup  = 100_000 // members of the large group
	benchBatch     = 100     // users added per iteration
	benchSeedBatch = 5_000   // users created per seeding transaction
	benchSeeders   = 4       // seeding transactions at once
	benchAddChunk  = 20_000  // ids per seeding AddMembers call
)

// BenchAddMembers benchmarks adding 100 fresh users to a group with one
// AddMembers call in one store.Update, in two sub-benchmarks: "empty"
// (a group that starts without members) and "100k" (a group with 100,000
// members). Both run in one tenant of s, seeded once with the 100,000
// users (created in transactions of 5,000 through the Tx methods, four at
// a time) and their memberships (a few large AddMembers calls), so that
// they differ only in the size of the group. The users of each iteration
// are created with the timer stopped. A backend whose AddMembers scales with the group rather
// than with the ids added shows "100k" well above "empty".
func BenchAddMembers(b *testing.B, s store.Store) {
	ctx := b.Context()
	update := func(fn func(ctx context.Context, tx store.Tx) error) {
		b.Helper()
		if err := s.Update(ctx, fn); err != nil {
			b.Fatalf("Update: %v", err)
		}
	}
	tn := store.Tenant{ID: newID(), Name: "bench-" + newID(), Policy: []byte(`{}`), Created: t0}
	update(func(ctx context.Context, tx store.Tx) error { return tx.CreateTenant(ctx, &tn) })
	var serial atomic.Int64
	// createUsers creates n live users in one transaction and returns
	// their ids; users is createUsers on the benchmark's goroutine.
	createUsers := func(n int) ([]string, error) {
		ids := make([]string, n)
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := range ids {
				u := store.User{TenantID: tn.ID, ID: newID(), UserName: fmt.Sprintf("bench%07d", serial.Add(1)), Active: true,
					Role: store.RoleMember, State: store.StateActive, Created: t0, Modified: t0}
				if err := tx.CreateUser(ctx, &u); err != nil {
					return err
				}
				ids[i] = u.ID
			}
			return nil
		})
		return ids, err
	}
	users := func(n int) []string {
		b.Helper()
		ids, err := createUsers(n)
		if err != nil {
			b.Fatalf("create users: %v", err)
		}
		return ids
	}
	group := func(name string) string {
		b.Helper()
		g := store.Group{TenantID: tn.ID, ID: newID(), DisplayName: name, Created: t0, Modified: t0}
		update(func(ctx context.Context, tx store.Tx) error { return tx.CreateGroup(ctx, &g) })
		return g.ID
	}
	add := func(ctx context.Context, tx store.Tx, groupID string, ids []string) error {
		missing, err := tx.AddMembers(ctx, tn.ID, groupID, ids)
		if err == nil && len(missing) > 0 {
			err = fmt.Errorf("AddMembers: %d ids missing", len(missing))
		}
		return err
	}

	// Seeding: a few writers create the users in batches (PostgreSQL runs
	// them in parallel, SQLite's single writer queues them), then a few
	// large AddMembers calls add them all to the big group.
	start := time.Now()
	big := group("big")
	batches := make(chan int)
	var mu sync.Mutex
	var seeded []string
	var seedErr error
	var wg sync.WaitGroup
	for range benchSeeders {
		wg.Go(func() {
			for n := range batches {
				ids, err := createUsers(n)
				mu.Lock()
				seeded = append(seeded, ids...)
				seedErr = cmp.Or(seedErr, err)
				mu.Unlock()
			}
		})
	}
	for left := benchBigGroup; left > 0; left -= benchSeedBatch {
		batches <- min(left, benchSeedBatch)
	}
	close(batches)
	wg.Wait()
	if seedErr != nil {
		b.Fatalf("seed users: %v", seedErr)
	}
	for chunk := range slices.Chunk(seeded, benchAddChunk) {
		update(func(ctx context.Context, tx store.Tx) error { return add(ctx, tx, big, chunk) })
	}
	b.Logf("seeded %d users and memberships in %v", len(seeded), time.Since(start).Round(time.Millisecond))

	run := func(b *testing.B, groupID string) {
		for b.Loop() {
			b.StopTimer()
			ids := users(benchBatch)
			b.StartTimer()
			update(func(ctx context.Context, tx store.Tx) error { return add(ctx, tx, groupID, ids) })
		}
	}
	b.Run("empty", func(b *testing.B) { run(b, group("empty-"+newID())) })
	b.Run("100k", func(b *testing.B) { run(b, big) })
}
