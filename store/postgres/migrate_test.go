package postgres_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/pressly/goose/v3"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
)

// TestMigrateGroupMembers migrates a database that was at version 2 and
// holds memberships: they become user members, group members can be added,
// the checks refuse a group in itself; down to 2 drops the group members
// and restores the foreign key to users.
func TestMigrateGroupMembers(t *testing.T) {
	url, db, p := migratedTo(t, 2)
	ctx := context.Background()
	tn, u1, u2, g, other := newID(), newID(), newID(), newID(), newID()
	s := upgraded(t, url, db,
		seed{`INSERT INTO tenants (id, name, created) VALUES ($1, 'a', now())`, []any{tn}},
		seed{`INSERT INTO users (tenant_id, id, user_name, user_name_key, active, state, version, created, modified)
			VALUES ($1, $2, 'one', 'one', true, 'active', 1, now(), now()), ($1, $3, 'two', 'two', true, 'active', 1, now(), now())`,
			[]any{tn, u1, u2}},
		seed{`INSERT INTO groups (tenant_id, id, display_name, display_name_key, version, created, modified)
			VALUES ($1, $2, 'g', 'g', 1, now(), now()), ($1, $3, 'other', 'other', 1, now(), now())`, []any{tn, g, other}},
		seed{`INSERT INTO group_members (tenant_id, group_id, member_id) VALUES ($1, $2, $3), ($1, $2, $4)`,
			[]any{tn, g, u1, u2}})
	members := func(what string, want ...store.Member) {
		t.Helper()
		gm, err := s.GroupMembers(ctx, tn, []string{g})
		if err != nil {
			t.Fatalf("%s: GroupMembers: %v", what, err)
		}
		if !slices.Equal(gm[g], want) {
			t.Errorf("%s: members %v, want %v", what, gm[g], want)
		}
	}
	users := []store.Member{{ID: u1, Type: store.MemberUser, UserName: "one"}, {ID: u2, Type: store.MemberUser, UserName: "two"}}
	members("after migrating", users...)
	mustUpdate(t, s, func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, tn, g, []string{other})
		if err == nil && len(missing) > 0 {
			t.Errorf("AddMembers(other) missing = %v", missing)
		}
		return err
	})
	members("after adding a group", append(slices.Clone(users), store.Member{ID: other, Type: store.MemberGroup, DisplayName: "other"})...)
	for _, q := range []string{
		`INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES ($1, $2, $2, 'Group')`,
		`INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES ($1, $2, $3, 'Role')`,
		`INSERT INTO group_members (tenant_id, group_id, member_id) VALUES ($1, $2, $3)`,
	} {
		if _, err := db.ExecContext(ctx, q, tn, other, newID()); err == nil {
			t.Errorf("%s: stored", q)
		}
	}

	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatalf("Down: %v", err)
	}
	var rows int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM group_members WHERE tenant_id = $1`, tn).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("after down: %d memberships, %v; want the 2 users", rows, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO group_members (tenant_id, group_id, member_id) VALUES ($1, $2, $3)`,
		tn, g, other); err == nil {
		t.Error("after down: a group was stored as a member (no foreign key to users)")
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	members("after down and up", users...)
}

// seed is one statement that puts rows in a database migrated part way.
type seed struct {
	query string
	args  []any
}

// upgraded runs the seed statements, in order and each on its own, on db
// (the database at url that migratedTo left part way), then opens a store
// on it, closed when the test ends, and migrates it the rest of the way.
func upgraded(t *testing.T, url string, db *sql.DB, seeds ...seed) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	for _, q := range seeds {
		if _, err := db.ExecContext(ctx, q.query, q.args...); err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
	}
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// migratedTo returns a fresh database migrated up to version only (its
// URL and a connection to it) and a goose provider over the migrations to
// go further (or back).
func migratedTo(t *testing.T, version int64) (string, *sql.DB, *goose.Provider) {
	t.Helper()
	url := pgtest.EmptyURL(t)
	db := openRaw(t, url)
	p, err := goose.NewProvider(goose.DialectPostgres, db, postgres.MigrationsFS(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	return url, db, p
}

// TestMigrateConsole migrates a database at version 6 that holds users: they
// have never been active, can be touched and listed by last activity, and
// console secrets can be stored; down to 6 drops the column, the table and
// the indexes, and up again starts the users afresh.
func TestMigrateConsole(t *testing.T) {
	url, db, p := migratedTo(t, 6)
	ctx := context.Background()
	tn, u1, u2 := newID(), newID(), newID()
	s := upgraded(t, url, db,
		seed{`INSERT INTO tenants (id, name, created) VALUES ($1, 'a', now())`, []any{tn}},
		seed{`INSERT INTO users (tenant_id, id, user_name, user_name_key, active, state, version, created, modified)
			VALUES ($1, $2, 'one', 'one', true, 'active', 1, $4, $4), ($1, $3, 'two', 'two', true, 'active', 1, $4, $4)`,
			[]any{tn, u1, u2, t0}})
	if u, err := s.GetUser(ctx, tn, u1); err != nil || u.LastActive != nil || u.Version != 1 {
		t.Fatalf("GetUser after migrating = %+v, %v; want never active", u, err)
	}
	when := t0.Add(time.Hour)
	if err := s.TouchUserActive(ctx, tn, u2, when); err != nil {
		t.Fatal(err)
	}
	// Most recent first: the user never active (the migration's default)
	// comes last.
	page, err := s.ListUsers(ctx, tn, store.Query{SortBy: store.SortLastActive, Descending: true, Limit: 10})
	if err != nil || len(page.Users) != 2 || page.Users[0].ID != u2 || page.Users[0].LastActive == nil ||
		!page.Users[0].LastActive.Equal(when) || page.Users[1].LastActive != nil || page.Users[0].Version != 1 {
		t.Errorf("users by last activity after migrating = %+v, %v", page.Users, err)
	}
	cs := store.ConsoleSecret{ID: newID(), TenantID: tn, UserID: u1, Kind: store.ConsoleSession, Hash: []byte("h"),
		Created: t0, Expires: when}
	if err := s.CreateConsoleSecret(ctx, &cs); err != nil {
		t.Errorf("CreateConsoleSecret: %v", err)
	}

	if _, err := p.DownTo(ctx, 6); err != nil {
		t.Fatalf("Down: %v", err)
	}
	var left []string
	if err := db.QueryRowContext(ctx, `SELECT ARRAY(
		SELECT column_name::text FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'last_active'
		UNION ALL SELECT relname::text FROM pg_class WHERE relname LIKE 'console%' OR relname LIKE 'users_live_%_idx')`).
		Scan(pq.Array(&left)); err != nil || len(left) != 0 {
		t.Errorf("left after down: %v, %v", left, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if u, err := s.GetUser(ctx, tn, u2); err != nil || u.LastActive != nil {
		t.Errorf("GetUser after down and up = %+v, %v; want never active", u, err)
	}
}
