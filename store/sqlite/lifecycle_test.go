package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/scimd/scimd/store"
)

var tt0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func newTestID() string { return uuid.Must(uuid.NewV7()).String() }

// openTestStore opens a store on a new file in the test's temporary
// directory, without migrating it, and closes it when the test ends.
func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "scimd.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rawRows returns every row query selects, each rendered as text: the
// columns' values converted to strings and joined.
func rawRows(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fields := make([]string, len(cols))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			fields[i] = fmt.Sprintf("%s=%v", cols[i], v)
		}
		out = append(out, strings.Join(fields, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEraseLeavesNoPersonalData erases a user and reads the raw rows of its
// tenant: none of the user's personal strings may remain in any column.
func TestEraseLeavesNoPersonalData(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	personal := []string{
		"Xanthippe.Vorlauf@Secret.example", "ext-VORLAUF-991", "Xanthippe V.", "Xanthippe", "Vorlauf",
		"xanthippe.private@mail.example", "XV@work.example", "PWHASH-quokka-7731", "+1 555 0199",
		"42 Wallaby Way", "Quokka Industries",
	}
	tn := store.Tenant{ID: newTestID(), Name: "t", Created: tt0}
	deact := tt0.Add(time.Minute)
	u := store.User{
		TenantID: tn.ID, ID: newTestID(), UserName: personal[0], ExternalID: personal[1], DisplayName: personal[2],
		GivenName: personal[3], FamilyName: personal[4], Role: store.RoleAdmin, State: store.StateInactive,
		DeactivatedAt: &deact, PasswordHash: "$argon2id$v=19$" + personal[7],
		Emails: []store.Email{{Value: personal[5], Type: "home", Primary: true}, {Value: personal[6], Type: "work"}},
		Doc: json.RawMessage(`{"userName":"` + personal[0] + `","phoneNumbers":[{"value":"` + personal[8] + `"}],` +
			`"addresses":[{"streetAddress":"` + personal[9] + `"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"organization":"` + personal[10] + `"}}`),
		Created: tt0, Modified: tt0,
	}
	g := store.Group{TenantID: tn.ID, ID: newTestID(), DisplayName: "g", Created: tt0, Modified: tt0}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateTenant(ctx, &tn) },
			func() error { return tx.CreateUser(ctx, &u) },
			func() error { return tx.CreateGroup(ctx, &g) },
			func() error { _, err := tx.AddMembers(ctx, tn.ID, g.ID, []string{u.ID}); return err },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db := s.r.DB
	dump := func() map[string][]string {
		return map[string][]string{
			"users":         rawRows(t, db, `SELECT * FROM users WHERE tenant_id = ?`, tn.ID),
			"user_emails":   rawRows(t, db, `SELECT * FROM user_emails WHERE tenant_id = ?`, tn.ID),
			"group_members": rawRows(t, db, `SELECT * FROM group_members WHERE tenant_id = ?`, tn.ID),
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

	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.DeleteUser(ctx, tn.ID, u.ID, tt0.Add(time.Hour), true)
	})
	if err != nil {
		t.Fatal(err)
	}
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
	if !strings.Contains(after["users"][0], "user_name_key="+store.ErasedKey(personal[0])) {
		t.Errorf("tombstone does not keep the erased key: %s", after["users"][0])
	}
}

// TestMigrateLifecycle migrates a database that was at version 1 and holds
// data: existing rows get the new columns' defaults, and a tenant with
// several live owners keeps only its earliest one as owner.
func TestMigrateLifecycle(t *testing.T) {
	s, _ := migratedTo(t, 1)
	ctx := t.Context()
	ta, tb := newTestID(), newTestID()
	first, second, gone, solo := newTestID(), newTestID(), newTestID(), newTestID()
	owner := `{"userName":"x","roles":[{"value":"owner","primary":true}]}`
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO tenants (id, name, created) VALUES (?, 'a', 0), (?, 'b', 0)`, []any{ta, tb}},
		{`INSERT INTO users (tenant_id, id, user_name, user_name_key, active, role, state, doc, version, created, modified)
			VALUES (?, ?, 'second', 'second', 1, 'owner', 'active', ?, 4, 20, 20),
			       (?, ?, 'first', 'first', 0, 'owner', 'inactive', ?, 1, 10, 10),
			       (?, ?, 'gone', 'gone', 0, 'owner', 'deleted', ?, 2, 5, 5),
			       (?, ?, 'solo', 'solo', 1, 'owner', 'active', ?, 1, 30, 30)`,
			[]any{ta, second, owner, ta, first, owner, ta, gone, owner, tb, solo, owner}},
		{`INSERT INTO tokens (id, tenant_id, hash, created) VALUES (?, ?, x'01', 0)`, []any{newTestID(), ta}},
	} {
		if _, err := s.w.ExecContext(ctx, q.query, q.args...); err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
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
