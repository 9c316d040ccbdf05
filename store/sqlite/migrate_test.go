package sqlite

import (
	"context"
	"io/fs"
	"slices"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/scimd/scimd/store"
)

// TestMigrateGroupMembers migrates a database that was at version 2 and
// holds memberships: the rebuilt group_members keeps them as user members,
// its index and the group foreign key, and takes group members; down to 2
// drops the group members and keeps the users.
func TestMigrateGroupMembers(t *testing.T) {
	s, p := migratedTo(t, 2)
	ctx := t.Context()
	tn, u1, u2, g, other := newTestID(), newTestID(), newTestID(), newTestID(), newTestID()
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO tenants (id, name, created) VALUES (?, 'a', 0)`, []any{tn}},
		{`INSERT INTO users (tenant_id, id, user_name, user_name_key, active, state, version, created, modified)
			VALUES (?1, ?2, 'one', 'one', 1, 'active', 1, 0, 0), (?1, ?3, 'two', 'two', 1, 'active', 1, 0, 0)`,
			[]any{tn, u1, u2}},
		{`INSERT INTO groups (tenant_id, id, display_name, display_name_key, version, created, modified)
			VALUES (?1, ?2, 'g', 'g', 1, 0, 0), (?1, ?3, 'other', 'other', 1, 0, 0)`, []any{tn, g, other}},
		{`INSERT INTO group_members (tenant_id, group_id, member_id) VALUES (?1, ?2, ?3), (?1, ?2, ?4)`,
			[]any{tn, g, u1, u2}},
	} {
		if _, err := s.w.ExecContext(ctx, q.query, q.args...); err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
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
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, tn, g, []string{other, g})
		if err == nil && !slices.Equal(missing, []string{g}) {
			t.Errorf("AddMembers(other, itself) missing = %v, want the group itself", missing)
		}
		if err == nil {
			missing, err = tx.AddMembers(ctx, tn, g, []string{other})
		}
		if err == nil && len(missing) > 0 {
			t.Errorf("AddMembers(other) missing = %v", missing)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	members("after adding a group", append(slices.Clone(users), store.Member{ID: other, Type: store.MemberGroup, DisplayName: "other"})...)
	var idx, violations int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master
		WHERE type = 'index' AND name = 'group_members_member' AND tbl_name = 'group_members'`).Scan(&idx); err != nil || idx != 1 {
		t.Errorf("index group_members_member: %d, %v", idx, err)
	}
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&violations); err != nil || violations != 0 {
		t.Errorf("foreign_key_check: %d violations, %v", violations, err)
	}
	// The group foreign key still cascades; the check refuses self-membership.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
		VALUES (?1, ?2, ?2, 'Group')`, tn, g); err == nil {
		t.Error("a group was stored as a member of itself")
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
		VALUES (?1, ?2, ?3, 'Group')`, tn, newTestID(), other); err == nil {
		t.Error("a membership of a missing group was stored")
	}

	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatalf("Down: %v", err)
	}
	var rows int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM group_members WHERE tenant_id = ?`, tn).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("after down: %d memberships, %v; want the 2 users", rows, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	members("after down and up", users...)
}

// migratedTo returns a test store migrated up to version only, and a goose
// provider over its migrations to go further (or back).
func migratedTo(t *testing.T, version int64) (*Store, *goose.Provider) {
	t.Helper()
	s := openTestStore(t)
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w.DB, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
	return s, p
}

// TestMigrateConsole migrates a database at version 7 that holds users: they
// have never been active, can be touched and listed by last activity, and
// console secrets can be stored; the new indexes have planner statistics.
// Down to 7 drops the column, the table, the indexes and their statistics,
// and up again starts the users afresh.
func TestMigrateConsole(t *testing.T) {
	s, p := migratedTo(t, 7)
	ctx := t.Context()
	tn, u1, u2 := newTestID(), newTestID(), newTestID()
	if _, err := s.w.ExecContext(ctx, `INSERT INTO tenants (id, name, created) VALUES (?, 'a', 0)`, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO users (tenant_id, id, user_name, user_name_key, active, state, version, created, modified)
		VALUES (?1, ?2, 'one', 'one', 1, 'active', 1, 0, 0), (?1, ?3, 'two', 'two', 1, 'active', 1, 0, 0)`, tn, u1, u2); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if u, err := s.GetUser(ctx, tn, u1); err != nil || u.LastActive != nil || u.Version != 1 {
		t.Fatalf("GetUser after migrating = %+v, %v; want never active", u, err)
	}
	if err := s.TouchUserActive(ctx, tn, u2, tt0); err != nil {
		t.Fatal(err)
	}
	// Most recent first: the user never active (the migration's default)
	// comes last.
	page, err := s.ListUsers(ctx, tn, store.Query{SortBy: store.SortLastActive, Descending: true, Limit: 10})
	if err != nil || len(page.Users) != 2 || page.Users[0].ID != u2 || page.Users[0].LastActive == nil ||
		!page.Users[0].LastActive.Equal(tt0) || page.Users[1].LastActive != nil || page.Users[0].Version != 1 {
		t.Errorf("users by last activity after migrating = %+v, %v", page.Users, err)
	}
	cs := store.ConsoleSecret{ID: newTestID(), TenantID: tn, UserID: u1, Kind: store.ConsoleSession, Hash: []byte("h"),
		Created: tt0, Expires: tt0}
	if err := s.CreateConsoleSecret(ctx, &cs); err != nil {
		t.Errorf("CreateConsoleSecret: %v", err)
	}
	// Every index of the migration has statistics, under its own name.
	const indexes = `SELECT name FROM sqlite_master WHERE type = 'index'
		AND (tbl_name = 'console_secrets' OR name LIKE 'users_live_%')`
	if got := rawRows(t, s.w.DB, indexes+` AND name NOT IN (SELECT idx FROM sqlite_stat1)`); len(got) != 0 {
		t.Errorf("indexes without statistics: %v", got)
	}

	if _, err := p.DownTo(ctx, 7); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if got := rawRows(t, s.w.DB, indexes+`
		UNION ALL SELECT name FROM sqlite_master WHERE name = 'console_secrets'
		UNION ALL SELECT name FROM pragma_table_info('users') WHERE name = 'last_active'
		UNION ALL SELECT idx FROM sqlite_stat1 WHERE tbl = 'console_secrets' OR idx LIKE 'users_live_%'`); len(got) != 0 {
		t.Errorf("left after down: %v", got)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if u, err := s.GetUser(ctx, tn, u2); err != nil || u.LastActive != nil {
		t.Errorf("GetUser after down and up = %+v, %v; want never active", u, err)
	}
}
