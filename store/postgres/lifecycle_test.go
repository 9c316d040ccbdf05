package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
)

// rawRows returns every row of table that belongs to the tenant, each
// rendered as text by PostgreSQL (the row cast to text shows every column).
func rawRows(t *testing.T, db *sql.DB, table, tenantID string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(),
		`SELECT r::text FROM `+table+` r WHERE r.tenant_id = $1`, tenantID)
	if err != nil {
		t.Fatalf("%s: %v", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func openRaw(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestEraseLeavesNoPersonalData erases a user and reads the raw rows of its
// tenant: none of the user's personal strings may remain in any column.
func TestEraseLeavesNoPersonalData(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	db := openRaw(t, url)

	personal := []string{
		"Xanthippe.Vorlauf@Secret.example", "ext-VORLAUF-991", "Xanthippe V.", "Xanthippe", "Vorlauf",
		"xanthippe.private@mail.example", "XV@work.example", "PWHASH-quokka-7731", "+1 555 0199",
		"42 Wallaby Way", "Quokka Industries",
	}
	tid := newTenant(t, s)
	deact := t0.Add(time.Minute)
	u := newUser(t, s, tid, personal[0], func(u *store.User) {
		u.ExternalID, u.DisplayName, u.GivenName, u.FamilyName = personal[1], personal[2], personal[3], personal[4]
		u.Role, u.State, u.Active, u.DeactivatedAt = store.RoleAdmin, store.StateInactive, false, &deact
		u.PasswordHash = "$argon2id$v=19$" + personal[7]
		u.Emails = []store.Email{{Value: personal[5], Type: "home", Primary: true}, {Value: personal[6], Type: "work"}}
		u.Doc = json.RawMessage(`{"userName":"` + personal[0] + `","phoneNumbers":[{"value":"` + personal[8] + `"}],` +
			`"addresses":[{"streetAddress":"` + personal[9] + `"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"organization":"` + personal[10] + `"}}`)
	})
	g := newGroup(t, s, tid, "g")
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AddMembers(ctx, tid, g.ID, []string{u.ID})
		return err
	})
	dump := func() map[string][]string {
		return map[string][]string{
			"users":         rawRows(t, db, "users", tid),
			"user_emails":   rawRows(t, db, "user_emails", tid),
			"group_members": rawRows(t, db, "group_members", tid),
		}
	}
	// The dump sees the data before the erase (or the check below proves
	// nothing).
	before := dump()
	if len(before["users"]) != 1 || len(before["user_emails"]) != 2 || len(before["group_members"]) != 1 {
		t.Fatalf("rows before erase: %v", before)
	}
	all := strings.ToLower(strings.Join(before["users"], "\n") + "\n" + strings.Join(before["user_emails"], "\n"))
	for _, p := range personal {
		if !strings.Contains(all, strings.ToLower(p)) {
			t.Fatalf("the rows do not hold %q before the erase: %v", p, before)
		}
	}

	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteUser(ctx, tid, u.ID, t0.Add(time.Hour), true)
	})
	after := dump()
	if len(after["users"]) != 1 {
		t.Fatalf("users rows after erase: %v, want the tombstone", after["users"])
	}
	for table, rows := range after {
		for _, row := range rows {
			for _, p := range personal {
				if strings.Contains(strings.ToLower(row), strings.ToLower(p)) {
					t.Errorf("%s row still holds %q after erase: %s", table, p, row)
				}
			}
		}
	}
	if !strings.Contains(after["users"][0], store.ErasedKey(personal[0])) {
		t.Errorf("tombstone does not keep the erased key: %s", after["users"][0])
	}
}

// TestLockTenantSerialisesSeats runs two transactions that each lock the
// tenant, count its active users and add one only when there is none: the
// lock must make the second wait for the first, so exactly one adds a user
// and the other counts it.
func TestLockTenantSerialisesSeats(t *testing.T) {
	s := pgtest.Store(t)
	ctx := context.Background()
	tid := newTenant(t, s)
	const workers = 2
	counts := make([]int, workers)
	inserted := make([]bool, workers)
	errs := make([]error, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			<-start
			errs[i] = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				if _, err := tx.LockTenant(ctx, tid); err != nil {
					return err
				}
				n, err := tx.CountUsers(ctx, tid, store.StateActive)
				if err != nil {
					return err
				}
				counts[i] = n
				if n >= 1 {
					return nil
				}
				// Without the lock the other transaction counts now, too.
				time.Sleep(100 * time.Millisecond)
				u := store.User{TenantID: tid, ID: newID(), UserName: fmt.Sprintf("seat-%d", i), Active: true,
					Role: store.RoleMember, State: store.StateActive, Created: t0, Modified: t0}
				if err := tx.CreateUser(ctx, &u); err != nil {
					return err
				}
				inserted[i] = true
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	n := 0
	for _, ok := range inserted {
		if ok {
			n++
		}
	}
	slices.Sort(counts)
	if n != 1 || !slices.Equal(counts, []int{0, 1}) {
		t.Errorf("%d transactions inserted, counts %v; want 1 insert and counts [0 1]", n, counts)
	}
	if got, err := s.CountUsers(ctx, tid, store.StateActive); err != nil || got != 1 {
		t.Errorf("CountUsers(active) = %d, %v; want 1", got, err)
	}
}

// TestMigrateLifecycle migrates a database that was at version 1 and holds
// data: existing rows get the new columns' defaults, and a tenant with
// several live owners keeps only its earliest one as owner.
func TestMigrateLifecycle(t *testing.T) {
	url, db, _ := migratedTo(t, 1)
	ctx := context.Background()
	ta, tb := newID(), newID()
	first, second, gone, solo := newID(), newID(), newID(), newID()
	owner := `{"userName": "x", "roles": [{"value": "owner", "primary": true}]}`
	s := upgraded(t, url, db,
		seed{`INSERT INTO tenants (id, name, created) VALUES ($1, 'a', now()), ($2, 'b', now())`, []any{ta, tb}},
		seed{`INSERT INTO users (tenant_id, id, user_name, user_name_key, active, role, state, doc, version, created, modified)
			VALUES ($1, $2, 'second', 'second', true, 'owner', 'active', $3, 4, '2025-01-02Z', '2025-01-02Z'),
			       ($1, $4, 'first', 'first', false, 'owner', 'inactive', $3, 1, '2025-01-01Z', '2025-01-01Z'),
			       ($1, $5, 'gone', 'gone', false, 'owner', 'deleted', $3, 2, '2024-01-01Z', '2024-01-01Z'),
			       ($6, $7, 'solo', 'solo', true, 'owner', 'active', $3, 1, '2025-01-03Z', '2025-01-03Z')`,
			[]any{ta, second, owner, first, gone, tb, solo}},
		seed{`INSERT INTO tokens (id, tenant_id, hash, created) VALUES ($1, $2, '\x01', now())`, []any{newID(), ta}})
	if o, err := s.GetOwner(ctx, ta); err != nil || o.ID != first {
		t.Errorf("GetOwner(a) = %s, %v; want the earliest created owner", o.UserName, err)
	}
	demoted, err := s.GetUser(ctx, ta, second)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Roles []struct{ Value string } }
	_ = json.Unmarshal(demoted.Doc, &doc)
	if demoted.Role != store.RoleAdmin || len(doc.Roles) != 1 || doc.Roles[0].Value != store.RoleAdmin ||
		demoted.Version != 5 || demoted.Erased {
		t.Errorf("second owner after migration: role %q, doc %s, version %d, erased %v", demoted.Role, demoted.Doc, demoted.Version, demoted.Erased)
	}
	if tomb, err := s.GetTombstone(ctx, ta, gone); err != nil || tomb.Role != store.RoleOwner || tomb.Version != 2 {
		t.Errorf("deleted owner after migration: role %q version %d, %v", tomb.Role, tomb.Version, err)
	}
	if o, err := s.GetOwner(ctx, tb); err != nil || o.ID != solo || o.Version != 1 {
		t.Errorf("GetOwner(b) = %s version %d, %v; want solo untouched", o.UserName, o.Version, err)
	}
	if tok, err := s.TokenByHash(ctx, []byte{1}); err != nil || tok.Kind != store.TokenSCIM {
		t.Errorf("existing token after migration: kind %q, %v", tok.Kind, err)
	}
}
