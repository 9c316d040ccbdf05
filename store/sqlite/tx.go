package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store"
)

// tx is the store.Tx of one Update call: the Reader methods of conn plus
// the writes, all on the writer connection's IMMEDIATE transaction.
type tx struct {
	conn
}

var _ store.Tx = (*tx)(nil)

func (t *tx) exec(ctx context.Context, what, query string, args ...any) (int64, error) {
	res, err := t.q.ExecContext(ctx, query, args...)
	if err != nil {
		if m := mapErr(err); m != err {
			return 0, m
		}
		return 0, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return n, nil
}

func (t *tx) CreateTenant(ctx context.Context, tn *store.Tenant) error {
	_, err := t.exec(ctx, "create tenant", `INSERT INTO tenants (id, name, policy, created) VALUES (?, ?, ?, ?)`,
		tn.ID, tn.Name, jsonDoc(tn.Policy), micro(tn.Created))
	return err
}

func (t *tx) UpdateTenantPolicy(ctx context.Context, tenantID string, policy json.RawMessage) error {
	n, err := t.exec(ctx, "update tenant policy", `UPDATE tenants SET policy = ? WHERE id = ?`, jsonDoc(policy), tenantID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

func (t *tx) CreateToken(ctx context.Context, tk *store.Token) error {
	_, err := t.exec(ctx, "create token", `INSERT INTO tokens (id, tenant_id, kind, hash, owner_id, created,
		expires, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		tk.ID, tk.TenantID, tokenKind(tk.Kind), tk.Hash, str(tk.OwnerID), micro(tk.Created), microPtr(tk.Expires), microPtr(tk.Revoked))
	return err
}

// tokenKind is the stored kind of a token: "" is store.TokenSCIM.
func tokenKind(k string) string {
	if k == "" {
		return store.TokenSCIM
	}
	return k
}

func (t *tx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	n, err := t.exec(ctx, "revoke token", `UPDATE tokens SET revoked = COALESCE(revoked, ?) WHERE id = ?`, micro(at), id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

func (t *tx) LockUser(ctx context.Context, tenantID, id string) (store.User, error) {
	// The transaction began IMMEDIATE and holds the database's write lock.
	return t.GetUser(ctx, tenantID, id)
}

func (t *tx) CreateUser(ctx context.Context, u *store.User) error {
	_, err := t.exec(ctx, "create user", `INSERT INTO users (tenant_id, id, user_name, user_name_key,
		external_id, active, display_name, display_name_key, given_name, given_name_key, family_name,
		family_name_key, role, state, deactivated_at, password_hash, doc, version, created, modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
		u.TenantID, u.ID, u.UserName, store.Fold(u.UserName), str(u.ExternalID), b2i(u.Active),
		str(u.DisplayName), key(u.DisplayName), str(u.GivenName), key(u.GivenName), str(u.FamilyName),
		key(u.FamilyName), str(u.Role), string(u.State), microPtr(u.DeactivatedAt), str(u.PasswordHash),
		jsonDoc(u.Doc), micro(u.Created), micro(u.Modified))
	if err != nil {
		return err
	}
	if err := t.insertEmails(ctx, u); err != nil {
		return err
	}
	u.Version = 1
	return nil
}

func (t *tx) insertEmails(ctx context.Context, u *store.User) error {
	for i, e := range u.Emails {
		_, err := t.exec(ctx, "insert email", `INSERT INTO user_emails (tenant_id, user_id, ord, value,
			value_key, type, type_key, is_primary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.TenantID, u.ID, i, str(e.Value), key(e.Value), str(e.Type), key(e.Type), b2i(e.Primary))
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) UpdateUser(ctx context.Context, u *store.User, expectVersion int64) error {
	n, err := t.exec(ctx, "update user", `UPDATE users SET user_name = ?, user_name_key = ?, external_id = ?,
		active = ?, display_name = ?, display_name_key = ?, given_name = ?, given_name_key = ?,
		family_name = ?, family_name_key = ?, role = ?, state = ?, deactivated_at = ?, password_hash = ?,
		doc = ?, version = version + 1, modified = ?
		WHERE tenant_id = ? AND id = ? AND version = ? AND state <> 'deleted'`,
		u.UserName, store.Fold(u.UserName), str(u.ExternalID), b2i(u.Active), str(u.DisplayName),
		key(u.DisplayName), str(u.GivenName), key(u.GivenName), str(u.FamilyName), key(u.FamilyName),
		str(u.Role), string(u.State), microPtr(u.DeactivatedAt), str(u.PasswordHash), jsonDoc(u.Doc),
		micro(u.Modified), u.TenantID, u.ID, expectVersion)
	if err != nil {
		return err
	}
	if n == 0 {
		return t.missOrStale(ctx, "users", `AND state <> 'deleted'`, u.TenantID, u.ID)
	}
	if _, err := t.exec(ctx, "delete emails", `DELETE FROM user_emails WHERE tenant_id = ? AND user_id = ?`,
		u.TenantID, u.ID); err != nil {
		return err
	}
	if err := t.insertEmails(ctx, u); err != nil {
		return err
	}
	u.Version = expectVersion + 1
	return nil
}

// missOrStale tells a conditional write that touched no row apart:
// ErrPrecondition when the live row exists, else ErrNotFound.
func (t *tx) missOrStale(ctx context.Context, table, live, tenantID, id string) error {
	var exists bool
	err := sqlx.GetContext(ctx, t.q, &exists,
		`SELECT EXISTS (SELECT 1 FROM `+table+` WHERE tenant_id = ? AND id = ? `+live+`)`, tenantID, id)
	if err != nil {
		return fmt.Errorf("sqlite: check %s: %w", table, err)
	}
	if exists {
		return store.ErrPrecondition
	}
	return store.ErrNotFound
}

func (t *tx) DeleteUser(ctx context.Context, tenantID, id string, at time.Time, erase bool) error {
	var n int64
	var err error
	if !erase {
		n, err = t.exec(ctx, "delete user", `UPDATE users SET state = 'deleted', active = 0, modified = ?,
			version = version + 1 WHERE tenant_id = ? AND id = ? AND state <> 'deleted'`, micro(at), tenantID, id)
	} else {
		// The erased key is a hash computed in Go, so read the name first
		// (the IMMEDIATE transaction holds the write lock).
		var userName string
		err = sqlx.GetContext(ctx, t.q, &userName, `SELECT user_name FROM users
			WHERE tenant_id = ? AND id = ? AND state <> 'deleted'`, tenantID, id)
		if isNoRows(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("sqlite: erase user: %w", err)
		}
		n, err = t.exec(ctx, "erase user", `UPDATE users SET state = 'deleted', active = 0, modified = ?,
			version = version + 1, erased = 1, user_name = '', user_name_key = ?, external_id = NULL,
			display_name = NULL, display_name_key = NULL, given_name = NULL, given_name_key = NULL,
			family_name = NULL, family_name_key = NULL, deactivated_at = NULL, password_hash = NULL, doc = '{}'
			WHERE tenant_id = ? AND id = ? AND state <> 'deleted'`,
			micro(at), store.ErasedKey(userName), tenantID, id)
		if err == nil && n > 0 {
			_, err = t.exec(ctx, "erase user emails", `DELETE FROM user_emails WHERE tenant_id = ? AND user_id = ?`,
				tenantID, id)
		}
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	_, err = t.exec(ctx, "delete user memberships", `DELETE FROM group_members
		WHERE tenant_id = ? AND member_id = ? AND member_type = 'User'`, tenantID, id)
	return err
}

func (t *tx) RestoreUser(ctx context.Context, u *store.User) error {
	if u.State == store.StateDeleted {
		return errors.New("sqlite: restore user: the restored state must not be deleted")
	}
	var version int64
	err := sqlx.GetContext(ctx, t.q, &version, `UPDATE users SET user_name = ?, user_name_key = ?,
		external_id = ?, active = ?, display_name = ?, display_name_key = ?, given_name = ?, given_name_key = ?,
		family_name = ?, family_name_key = ?, role = ?, state = ?, deactivated_at = ?, password_hash = ?,
		doc = ?, erased = 0, version = version + 1, modified = ?
		WHERE tenant_id = ? AND id = ? AND state = 'deleted' AND erased = 0
		RETURNING version`,
		u.UserName, store.Fold(u.UserName), str(u.ExternalID), b2i(u.Active), str(u.DisplayName),
		key(u.DisplayName), str(u.GivenName), key(u.GivenName), str(u.FamilyName), key(u.FamilyName),
		str(u.Role), string(u.State), microPtr(u.DeactivatedAt), str(u.PasswordHash), jsonDoc(u.Doc),
		micro(u.Modified), u.TenantID, u.ID)
	if isNoRows(err) {
		return store.ErrNotFound
	}
	if err != nil {
		if m := mapErr(err); m != err {
			return m
		}
		return fmt.Errorf("sqlite: restore user: %w", err)
	}
	if _, err := t.exec(ctx, "delete emails", `DELETE FROM user_emails WHERE tenant_id = ? AND user_id = ?`,
		u.TenantID, u.ID); err != nil {
		return err
	}
	if err := t.insertEmails(ctx, u); err != nil {
		return err
	}
	u.Version = version
	u.Erased = false
	return nil
}

func (t *tx) LockTenant(ctx context.Context, tenantID string) (store.Tenant, error) {
	// The transaction began IMMEDIATE and holds the database's write lock.
	return t.GetTenant(ctx, tenantID)
}

// LockKeys takes no lock of its own: the transaction began IMMEDIATE and
// holds the database's write lock, which serialises every writer.
func (t *tx) LockKeys(context.Context, string, string, []string) error {
	return nil
}

func (t *tx) LockGroup(ctx context.Context, tenantID, id string) (store.Group, error) {
	return t.GetGroup(ctx, tenantID, id)
}

func (t *tx) CreateGroup(ctx context.Context, g *store.Group) error {
	_, err := t.exec(ctx, "create group", `INSERT INTO groups (tenant_id, id, display_name, display_name_key,
		external_id, doc, version, created, modified) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`,
		g.TenantID, g.ID, g.DisplayName, store.Fold(g.DisplayName), str(g.ExternalID), jsonDoc(g.Doc),
		micro(g.Created), micro(g.Modified))
	if err != nil {
		return err
	}
	g.Version = 1
	return nil
}

func (t *tx) UpdateGroup(ctx context.Context, g *store.Group, expectVersion int64) error {
	n, err := t.exec(ctx, "update group", `UPDATE groups SET display_name = ?, display_name_key = ?,
		external_id = ?, doc = ?, version = version + 1, modified = ?
		WHERE tenant_id = ? AND id = ? AND version = ?`,
		g.DisplayName, store.Fold(g.DisplayName), str(g.ExternalID), jsonDoc(g.Doc), micro(g.Modified),
		g.TenantID, g.ID, expectVersion)
	if err != nil {
		return err
	}
	if n == 0 {
		return t.missOrStale(ctx, "groups", "", g.TenantID, g.ID)
	}
	g.Version = expectVersion + 1
	return nil
}

// DeleteGroup removes the group, its own memberships (by cascade) and its
// membership in other groups.
func (t *tx) DeleteGroup(ctx context.Context, tenantID, id string) error {
	n, err := t.exec(ctx, "delete group", `DELETE FROM groups WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	_, err = t.exec(ctx, "delete group memberships", `DELETE FROM group_members
		WHERE tenant_id = ? AND member_id = ? AND member_type = 'Group'`, tenantID, id)
	return err
}

// groupExists returns ErrNotFound when the group is not in the tenant.
func (t *tx) groupExists(ctx context.Context, tenantID, groupID string) error {
	var ok bool
	err := sqlx.GetContext(ctx, t.q, &ok, `SELECT EXISTS (SELECT 1 FROM groups WHERE tenant_id = ? AND id = ?)`,
		tenantID, groupID)
	if err != nil {
		return fmt.Errorf("sqlite: check group: %w", err)
	}
	if !ok {
		return store.ErrNotFound
	}
	return nil
}

// AddMembers adds the live users and the other groups of the tenant named
// by ids with three statements whatever their number: the group check, the
// look-up of the ids that are neither (json_each probing the primary keys of
// users and groups) and one INSERT … SELECT that types each id.
func (t *tx) AddMembers(ctx context.Context, tenantID, groupID string, ids []string) ([]string, error) {
	if err := t.groupExists(ctx, tenantID, groupID); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	js := idsJSON(ids)
	var missing []string
	err := sqlx.SelectContext(ctx, t.q, &missing, `SELECT j.value FROM json_each(?1) j
		WHERE j.value = ?3 OR (
			NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = ?2 AND u.id = j.value AND u.state <> 'deleted')
			AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.tenant_id = ?2 AND g.id = j.value))
		GROUP BY j.value ORDER BY MIN(j.key)`, js, tenantID, groupID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: add members: %w", err)
	}
	if len(missing) > 0 {
		return missing, nil
	}
	// Every id is a live user or another group; an id that is both (ids are
	// UUIDs, so never) would be the user.
	_, err = t.exec(ctx, "add members", `INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
		SELECT ?1, ?2, j.value, CASE WHEN EXISTS (SELECT 1 FROM users u
			WHERE u.tenant_id = ?1 AND u.id = j.value AND u.state <> 'deleted') THEN 'User' ELSE 'Group' END
		FROM json_each(?3) j WHERE true ON CONFLICT DO NOTHING`, tenantID, groupID, js)
	return nil, err
}

func (t *tx) RemoveMembers(ctx context.Context, tenantID, groupID string, userIDs []string) error {
	n, err := t.exec(ctx, "remove members", `DELETE FROM group_members WHERE tenant_id = ? AND group_id = ?
		AND member_id IN (SELECT value FROM json_each(?))`, tenantID, groupID, idsJSON(userIDs))
	if err == nil && n == 0 {
		err = t.groupExists(ctx, tenantID, groupID)
	}
	return err
}

func (t *tx) ClearMembers(ctx context.Context, tenantID, groupID string) error {
	n, err := t.exec(ctx, "clear members", `DELETE FROM group_members WHERE tenant_id = ? AND group_id = ?`,
		tenantID, groupID)
	if err == nil && n == 0 {
		err = t.groupExists(ctx, tenantID, groupID)
	}
	return err
}

func (t *tx) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	changed := e.Changed
	if changed == nil {
		changed = []string{}
	}
	cj, err := json.Marshal(changed)
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	_, err = t.exec(ctx, "append audit", `INSERT INTO audit (tenant_id, id, at, actor, request_id, client,
		operation, resource_type, resource_id, status, rule, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.ID, micro(e.At), str(e.Actor), str(e.RequestID), str(e.Client), str(e.Operation),
		str(e.ResourceType), str(e.ResourceID), e.Status, str(e.Rule), string(cj))
	return err
}

// AppendEvent writes the event at the next position of the commit order
// (there is one writer, and this transaction holds its lock until it
// commits, so MAX(seq) + 1 is the order events become visible in) and one
// pending delivery of it, due at e.At, for every webhook of the tenant.
func (t *tx) AppendEvent(ctx context.Context, e *store.Event) error {
	var seq int64
	err := sqlx.GetContext(ctx, t.q, &seq, `INSERT INTO outbox (tenant_id, id, at, type, resource_type,
		resource_id, payload, seq) VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox))
		RETURNING seq`,
		e.TenantID, e.ID, micro(e.At), str(e.Type), str(e.ResourceType), str(e.ResourceID), jsonDoc(e.Payload))
	if err != nil {
		if m := mapErr(err); m != err {
			return m
		}
		return fmt.Errorf("sqlite: append event: %w", err)
	}
	_, err = t.exec(ctx, "append event deliveries", `INSERT INTO deliveries (tenant_id, id, webhook_id, event_id,
		resource_type, resource_id, ev_seq, state, attempts, next_attempt)
		SELECT tenant_id, scimd_uuid7(), id, ?, ?, ?, ?, 'pending', 0, ? FROM webhooks WHERE tenant_id = ?`,
		e.ID, str(e.ResourceType), str(e.ResourceID), seq, micro(e.At), e.TenantID)
	return err
}
