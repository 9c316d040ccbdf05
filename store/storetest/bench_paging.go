package storetest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// Sizes of BenchPageDepth.
const (
	benchDirectory = 100_000 // users in the tenant
	benchPage      = 100     // users per page (Okta's count)
)

// BenchPageDepth benchmarks reading one page of 100 users (with the total
// of an unfiltered list, as every list response carries it) at the start
// and at the end of a directory of 100,000 users, seeded once through the
// store (transactions of 5,000 users, four at a time) with a document and
// an email each:
//
//   - "first": the page at startIndex=1 (Offset 0);
//   - "keyset-99901": the page at startIndex=99,901 as a walk reaches it
//     (after the position of user 99,900: what scimd does for an index
//     walk's next page and for a cursor);
//   - "offset-99901": the same page by Offset 99,900, a client's cold jump
//     to it (an offset over the live user ids alone);
//   - "checkpoint-99901": the same page as scimd serves that cold jump,
//     after the checkpoint (UserCheckpoints, every 1,000) of user 99,000
//     and an Offset of 900, on condition of the churn count
//     (Query.IfChurn);
//   - "checkpoints": reading the tenant's checkpoints (every 1,000);
//   - "first-sorted", "keyset-99901-sorted": the same two for the order
//     by userName, descending (a column with an index, though not on the
//     id tie-break);
//   - "count": only the total (count=0).
//
// A backend whose deep pages scale with their depth shows "keyset-99901"
// well above "first". settle, when not nil, runs after the seeding (the
// PostgreSQL benchmark vacuums and analyzes there, the state autovacuum
// reaches soon after a bulk load).
func BenchPageDepth(b *testing.B, s store.Store, settle func(b *testing.B)) {
	ctx := b.Context()
	tn := store.Tenant{ID: newID(), Name: "bench-" + newID(), Policy: []byte(`{}`), Created: t0}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateTenant(ctx, &tn) }); err != nil {
		b.Fatalf("CreateTenant: %v", err)
	}
	start := time.Now()
	batches := make(chan int)
	var mu sync.Mutex
	var seedErr error
	var wg sync.WaitGroup
	for range benchSeeders {
		wg.Go(func() {
			for first := range batches {
				err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
					for i := first; i < min(first+benchSeedBatch, benchDirectory); i++ {
						name := fmt.Sprintf("user%06d@example.com", i)
						doc, _ := json.Marshal(map[string]any{
							"userName": name, "displayName": fmt.Sprintf("User %d", i),
							"name":   map[string]any{"givenName": "User", "familyName": fmt.Sprint(i)},
							"emails": []any{map[string]any{"value": name, "type": "work", "primary": true}},
						})
						u := store.User{TenantID: tn.ID, ID: newID(), UserName: name, DisplayName: fmt.Sprintf("User %d", i),
							GivenName: "User", FamilyName: fmt.Sprint(i), Active: true, Role: store.RoleMember,
							State: store.StateActive, Emails: []store.Email{{Value: name, Type: "work", Primary: true}},
							Doc: doc, Created: t0, Modified: t0}
						if err := tx.CreateUser(ctx, &u); err != nil {
							return err
						}
					}
					return nil
				})
				mu.Lock()
				seedErr = cmp.Or(seedErr, err)
				mu.Unlock()
			}
		})
	}
	for first := 0; first < benchDirectory; first += benchSeedBatch {
		batches <- first
	}
	close(batches)
	wg.Wait()
	if seedErr != nil {
		b.Fatalf("seed users: %v", seedErr)
	}
	b.Logf("seeded %d users in %v", benchDirectory, time.Since(start).Round(time.Millisecond))
	if settle != nil {
		settle(b)
	}

	list := func(b *testing.B, q store.Query) store.UserPage {
		p, err := s.ListUsers(ctx, tn.ID, q)
		if err != nil {
			b.Fatalf("ListUsers: %v", err)
		}
		if p.Total != benchDirectory {
			b.Fatalf("ListUsers: total %d, want %d", p.Total, benchDirectory)
		}
		return p
	}
	// The positions a walk holds before the last page: the last user of
	// page 999, found once by reading the ids the way a walk would.
	deep := benchDirectory - benchPage
	positionAt := func(q store.Query) store.Position {
		q.Limit = 1000
		for read := 0; ; {
			p := list(b, q)
			if read+len(p.Users) >= deep {
				return p.Keys[deep-read-1]
			}
			read += len(p.Users)
			q.After = &p.Keys[len(p.Keys)-1]
		}
	}
	byName := store.Query{SortBy: "userName", Descending: true, Limit: benchPage}
	afterID, afterName := positionAt(store.Query{}), positionAt(byName)
	// The keyset and the offset page at 99,901 are the same users.
	byKeyset := list(b, store.Query{Limit: benchPage, After: &afterID})
	byOffset := list(b, store.Query{Limit: benchPage, Offset: deep})
	if len(byKeyset.Users) != benchPage || len(byOffset.Users) != benchPage ||
		byKeyset.Users[0].ID != byOffset.Users[0].ID || byKeyset.HasNext || byOffset.HasNext {
		b.Fatalf("the last page by keyset (%d users) and by offset (%d) differ", len(byKeyset.Users), len(byOffset.Users))
	}
	run := func(name string, q store.Query, first string) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				p := list(b, q)
				if len(p.Users) != q.Limit || (first != "" && p.Users[0].UserName != first) {
					b.Fatalf("%d users, want %d starting with %q", len(p.Users), q.Limit, first)
				}
			}
		})
	}
	run("first", store.Query{Limit: benchPage}, "")
	run("keyset-99901", store.Query{Limit: benchPage, After: &afterID}, "")
	run("offset-99901", store.Query{Limit: benchPage, Offset: deep}, "")
	cp, err := s.UserCheckpoints(ctx, tn.ID, 1000)
	if err != nil || len(cp.IDs) != benchDirectory/1000 {
		b.Fatalf("UserCheckpoints: %d ids, %v", len(cp.IDs), err)
	}
	after, rest, _ := cp.Seek(deep)
	run("checkpoint-99901", store.Query{Limit: benchPage, After: &store.Position{ID: after}, Offset: rest, IfChurn: &cp.Churn},
		byOffset.Users[0].UserName)
	b.Run("checkpoints", func(b *testing.B) {
		for b.Loop() {
			if cp, err := s.UserCheckpoints(ctx, tn.ID, 1000); err != nil || len(cp.IDs) != benchDirectory/1000 {
				b.Fatalf("UserCheckpoints: %d ids, %v", len(cp.IDs), err)
			}
		}
	})
	run("first-sorted", byName, fmt.Sprintf("user%06d@example.com", benchDirectory-1))
	q := byName
	q.After = &afterName
	run("keyset-99901-sorted", q, "user000099@example.com")
	run("count", store.Query{}, "")
}
