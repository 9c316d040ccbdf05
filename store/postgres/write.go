package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/scimd/scimd/store"
)

// txn implements store.Tx on one READ COMMITTED transaction.
type txn struct {
	reader
	// emails are the emails of the users LockUser read in this
	// transaction, by id: UpdateUser rewrites a user's emails only when
	// they changed (an activation flip leaves them alone).
	emails map[string][]store.Email
	// audit is an entry AppendAudit has not written yet: it goes out with
	// the next AppendEvent in one statement, else before the commit.
	audit []any
}

var _ store.Tx = (*txn)(nil)

// exec runs one statement and returns the number of rows it touched, with
// unique violations mapped to conflicts.
func (t *txn) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}

// --- tenants and tokens ---

func policyDoc(p json.RawMessage) string {
	if len(p) == 0 {
		return "{}"
	}
	return string(p)
}

// CreateTenant inserts t (t.ID must be a canonical UUID). A taken name is
// store.ErrConflict (as is a taken id); a malformed id is an error.
func (t *txn) CreateTenant(ctx context.Context, tn *store.Tenant) error {
	if err := needID("tenant id", tn.ID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO tenants (id, name, policy, created) VALUES ($1, $2, $3, $4)`,
		tn.ID, tn.Name, policyDoc(tn.Policy), tn.Created)
	return err
}

// UpdateTenantPolicy replaces the policy document of a tenant (nil means
// "{}"), or returns store.ErrNotFound; other errors are the driver's.
func (t *txn) UpdateTenantPolicy(ctx context.Context, tenantID string, policy json.RawMessage) error {
	if !parseID(tenantID) {
		return store.ErrNotFound
	}
	n, err := t.exec(ctx, `UPDATE tenants SET policy = $2 WHERE id = $1`, tenantID, policyDoc(policy))
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// CreateToken inserts a token (ID, TenantID, Hash and Created must be set;
// OwnerID is a user id or ""; Kind "" is stored as store.TokenSCIM). A duplicate hash or id is store.ErrConflict;
// a malformed id is an error.
func (t *txn) CreateToken(ctx context.Context, tk *store.Token) error {
	if err := needID("token id", tk.ID); err != nil {
		return err
	}
	if err := needID("tenant id", tk.TenantID); err != nil {
		return err
	}
	if tk.OwnerID != "" {
		if err := needID("owner id", tk.OwnerID); err != nil {
			return err
		}
	}
	kind := tk.Kind
	if kind == "" {
		kind = store.TokenSCIM
	}
	_, err := t.exec(ctx, `INSERT INTO tokens (id, tenant_id, kind, hash, owner_id, created, expires, revoked)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		tk.ID, tk.TenantID, kind, tk.Hash, nullStr(tk.OwnerID), tk.Created, nullTime(tk.Expires), nullTime(tk.Revoked))
	return err
}

// RevokeToken marks a token revoked at the given time, keeping an earlier
// revocation time, or returns store.ErrNotFound (malformed ids included);
// other errors are the driver's.
func (t *txn) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if !parseID(id) {
		return store.ErrNotFound
	}
	n, err := t.exec(ctx, `UPDATE tokens SET revoked = COALESCE(revoked, $2) WHERE id = $1`, id, at)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// --- users ---

// LockUser returns a live user and holds a row lock (SELECT … FOR UPDATE)
// on it until the transaction ends. Missing, deleted or malformed:
// store.ErrNotFound; other errors are the driver's.
func (t *txn) LockUser(ctx context.Context, tenantID, id string) (store.User, error) {
	u, err := t.getUser(ctx, tenantID, id, " FOR UPDATE OF u")
	if err == nil {
		if t.emails == nil {
			t.emails = map[string][]store.Email{}
		}
		t.emails[u.TenantID+"/"+u.ID] = slices.Clone(u.Emails)
	}
	return u, err
}

// CreateUser inserts u and its emails with Version 1 (u.ID, Created and
// Modified must be set) and sets u.Version. A live user with the same folded
// userName is a *store.ConflictError for "userName"; a taken id is
// store.ErrConflict; a malformed id is an error.
func (t *txn) CreateUser(ctx context.Context, u *store.User) error {
	if err := needID("tenant id", u.TenantID); err != nil {
		return err
	}
	if err := needID("user id", u.ID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO users (tenant_id, id, user_name, user_name_key, external_id, active,
			display_name, display_name_key, given_name, given_name_key, family_name, family_name_key,
			role, state, deactivated_at, password_hash, doc, version, created, modified)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1, $18, $19)`,
		u.TenantID, u.ID, nullStr(u.UserName), nullKey(u.UserName), nullStr(u.ExternalID), u.Active,
		nullStr(u.DisplayName), nullKey(u.DisplayName), nullStr(u.GivenName), nullKey(u.GivenName),
		nullStr(u.FamilyName), nullKey(u.FamilyName), nullStr(u.Role), string(u.State),
		nullTime(u.DeactivatedAt), nullStr(u.PasswordHash), jsonDoc(u.Doc), u.Created, u.Modified)
	if err != nil {
		return err
	}
	if err := t.insertEmails(ctx, u); err != nil {
		return err
	}
	u.Version = 1
	return nil
}

// insertEmails writes u.Emails in order with one statement.
func (t *txn) insertEmails(ctx context.Context, u *store.User) error {
	if len(u.Emails) == 0 {
		return nil
	}
	n := len(u.Emails)
	values, valueKeys := make([]string, n), make([]string, n)
	types, typeKeys := make([]string, n), make([]string, n)
	primary := make([]bool, n)
	for i, e := range u.Emails {
		values[i], valueKeys[i] = e.Value, store.Fold(e.Value)
		types[i], typeKeys[i] = e.Type, store.Fold(e.Type)
		primary[i] = e.Primary
	}
	_, err := t.exec(ctx, `INSERT INTO user_emails
			(tenant_id, user_id, ord, value, value_key, type, type_key, is_primary)
		SELECT $1, $2, e.ord, NULLIF(e.v, ''), NULLIF(e.vk, ''), NULLIF(e.t, ''), NULLIF(e.tk, ''), e.p
		FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[])
			WITH ORDINALITY AS e(v, vk, t, tk, p, ord)`,
		u.TenantID, u.ID, pq.Array(values), pq.Array(valueKeys), pq.Array(types), pq.Array(typeKeys), pq.Array(primary))
	return err
}

// UpdateUser writes u (and its emails) over the live row whose version is
// expectVersion and sets u.Version to expectVersion+1. No such live row at
// that version: store.ErrPrecondition if the live user exists, else
// store.ErrNotFound. A userName taken by another live user is a
// *store.ConflictError.
func (t *txn) UpdateUser(ctx context.Context, u *store.User, expectVersion int64) error {
	if !parseID(u.TenantID) || !parseID(u.ID) {
		return store.ErrNotFound
	}
	n, err := t.exec(ctx, `UPDATE users SET user_name = $4, user_name_key = $5, external_id = $6, active = $7,
			display_name = $8, display_name_key = $9, given_name = $10, given_name_key = $11,
			family_name = $12, family_name_key = $13, role = $14, state = $15, deactivated_at = $16,
			password_hash = $17, doc = $18, modified = $19, version = version + 1
		WHERE tenant_id = $1 AND id = $2 AND version = $3 AND state <> 'deleted'`,
		u.TenantID, u.ID, expectVersion, nullStr(u.UserName), nullKey(u.UserName), nullStr(u.ExternalID), u.Active,
		nullStr(u.DisplayName), nullKey(u.DisplayName), nullStr(u.GivenName), nullKey(u.GivenName),
		nullStr(u.FamilyName), nullKey(u.FamilyName), nullStr(u.Role), string(u.State),
		nullTime(u.DeactivatedAt), nullStr(u.PasswordHash), jsonDoc(u.Doc), u.Modified)
	if err != nil {
		return err
	}
	if n == 0 {
		return t.missOrStale(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND state <> 'deleted')`, u.TenantID, u.ID)
	}
	u.Version = expectVersion + 1
	key := u.TenantID + "/" + u.ID
	if prev, locked := t.emails[key]; locked && slices.Equal(prev, u.Emails) {
		return nil
	}
	if _, err := t.exec(ctx, `DELETE FROM user_emails WHERE tenant_id = $1 AND user_id = $2`, u.TenantID, u.ID); err != nil {
		return err
	}
	if err := t.insertEmails(ctx, u); err != nil {
		return err
	}
	if _, locked := t.emails[key]; locked {
		t.emails[key] = slices.Clone(u.Emails)
	}
	return nil
}

// missOrStale explains a conditional write that touched no row:
// store.ErrPrecondition when the existence query finds the row, else
// store.ErrNotFound.
func (t *txn) missOrStale(ctx context.Context, exists string, tenantID, id string) error {
	var found bool
	if err := t.q.QueryRowxContext(ctx, exists, tenantID, id).Scan(&found); err != nil {
		return err
	}
	if found {
		return store.ErrPrecondition
	}
	return store.ErrNotFound
}

// DeleteUser turns a live user into a tombstone (state deleted, active
// false, modified at, version bumped) and removes it from every group. With
// erase it also clears every personal column (userName becomes "" with key
// store.ErasedKey of it), the document and the emails, and marks the row
// erased. Missing, deleted or malformed: store.ErrNotFound; other errors
// are the driver's.
func (t *txn) DeleteUser(ctx context.Context, tenantID, id string, at time.Time, erase bool) error {
	if !parseID(tenantID) || !parseID(id) {
		return store.ErrNotFound
	}
	var n int64
	var err error
	if !erase {
		n, err = t.exec(ctx, `UPDATE users SET state = 'deleted', active = FALSE, modified = $3, version = version + 1
			WHERE tenant_id = $1 AND id = $2 AND state <> 'deleted'`, tenantID, id, at)
	} else {
		// The erased key is a hash computed in Go: read the name under the
		// row lock the update takes anyway.
		var userName sql.NullString
		err = t.q.QueryRowxContext(ctx, `SELECT user_name FROM users
			WHERE tenant_id = $1 AND id = $2 AND state <> 'deleted' FOR UPDATE`, tenantID, id).Scan(&userName)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		n, err = t.exec(ctx, `UPDATE users SET state = 'deleted', active = FALSE, modified = $3,
				version = version + 1, erased = TRUE, user_name = NULL, user_name_key = $4, external_id = NULL,
				display_name = NULL, display_name_key = NULL, given_name = NULL, given_name_key = NULL,
				family_name = NULL, family_name_key = NULL, deactivated_at = NULL, password_hash = NULL,
				doc = '{}'
			WHERE tenant_id = $1 AND id = $2 AND state <> 'deleted'`,
			tenantID, id, at, store.ErasedKey(userName.String))
		if err == nil && n > 0 {
			_, err = t.exec(ctx, `DELETE FROM user_emails WHERE tenant_id = $1 AND user_id = $2`, tenantID, id)
		}
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	_, err = t.exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND member_id = $2 AND member_type = 'User'`,
		tenantID, id)
	return err
}

// RestoreUser writes u (and its emails) over the retained (not erased)
// tombstone u.ID, making it live in u.State, and sets u.Version to the
// tombstone's version + 1; the creation time stays the tombstone's. No such
// tombstone (malformed ids included): store.ErrNotFound. A userName or owner
// role held by a live user is a *store.ConflictError; a deleted u.State is
// an error.
func (t *txn) RestoreUser(ctx context.Context, u *store.User) error {
	if u.State == store.StateDeleted {
		return errors.New("postgres: restore user: the restored state must not be deleted")
	}
	if !parseID(u.TenantID) || !parseID(u.ID) {
		return store.ErrNotFound
	}
	var version int64
	err := t.q.QueryRowxContext(ctx, `UPDATE users SET user_name = $3, user_name_key = $4, external_id = $5,
			active = $6, display_name = $7, display_name_key = $8, given_name = $9, given_name_key = $10,
			family_name = $11, family_name_key = $12, role = $13, state = $14, deactivated_at = $15,
			password_hash = $16, doc = $17, modified = $18, erased = FALSE, version = version + 1
		WHERE tenant_id = $1 AND id = $2 AND state = 'deleted' AND NOT erased
		RETURNING version`,
		u.TenantID, u.ID, nullStr(u.UserName), nullKey(u.UserName), nullStr(u.ExternalID), u.Active,
		nullStr(u.DisplayName), nullKey(u.DisplayName), nullStr(u.GivenName), nullKey(u.GivenName),
		nullStr(u.FamilyName), nullKey(u.FamilyName), nullStr(u.Role), string(u.State),
		nullTime(u.DeactivatedAt), nullStr(u.PasswordHash), jsonDoc(u.Doc), u.Modified).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return mapErr(err)
	}
	if _, err := t.exec(ctx, `DELETE FROM user_emails WHERE tenant_id = $1 AND user_id = $2`, u.TenantID, u.ID); err != nil {
		return err
	}
	if err := t.insertEmails(ctx, u); err != nil {
		return err
	}
	u.Version = version
	u.Erased = false
	return nil
}

// LockTenant returns the tenant and holds a row lock (SELECT … FOR UPDATE)
// on it until the transaction ends. Missing or malformed:
// store.ErrNotFound; other errors are the driver's.
func (t *txn) LockTenant(ctx context.Context, tenantID string) (store.Tenant, error) {
	if !parseID(tenantID) {
		return store.Tenant{}, store.ErrNotFound
	}
	row := t.q.QueryRowxContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1 FOR UPDATE`, tenantID)
	return oneRow(scanTenant(row))
}

// LockKeys takes a transaction-scoped advisory lock per (tenant, kind,
// key), each named by the first 8 bytes of the SHA-256 of the three (two
// keys that collide only wait for each other), in ascending order, in one
// statement. Errors are the driver's.
func (t *txn) LockKeys(ctx context.Context, tenantID, kind string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(keys))
	for _, k := range keys {
		h := sha256.Sum256([]byte(tenantID + "\x00" + kind + "\x00" + k))
		ids = append(ids, int64(binary.BigEndian.Uint64(h[:8])))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	_, err := t.q.ExecContext(ctx, `SELECT count(pg_advisory_xact_lock(k))
		FROM (SELECT k FROM unnest($1::bigint[]) AS u(k) ORDER BY k) AS s`, pq.Array(ids))
	return err
}

// --- groups ---

// LockGroup returns a group and holds a row lock on it until the
// transaction ends. Missing or malformed: store.ErrNotFound; other errors
// are the driver's.
//
// The lock is FOR NO KEY UPDATE: it serialises the writers of the group
// (it conflicts with itself and with DeleteGroup) but not AddMembers of
// another group that adds this one as a member, which key-share-locks it
// as a foreign key check would. With FOR UPDATE, two transactions each
// holding its own group and adding it to the other's would deadlock.
func (t *txn) LockGroup(ctx context.Context, tenantID, id string) (store.Group, error) {
	return t.getGroup(ctx, tenantID, id, " FOR NO KEY UPDATE")
}

// CreateGroup inserts g with Version 1 and sets g.Version. A group with the
// same folded displayName is a *store.ConflictError for "displayName"; a
// taken id is store.ErrConflict; a malformed id is an error.
func (t *txn) CreateGroup(ctx context.Context, g *store.Group) error {
	if err := needID("tenant id", g.TenantID); err != nil {
		return err
	}
	if err := needID("group id", g.ID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO groups (tenant_id, id, display_name, display_name_key, external_id,
			doc, version, created, modified)
		VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)`,
		g.TenantID, g.ID, nullStr(g.DisplayName), nullKey(g.DisplayName), nullStr(g.ExternalID),
		jsonDoc(g.Doc), g.Created, g.Modified)
	if err != nil {
		return err
	}
	g.Version = 1
	return nil
}

// UpdateGroup writes g over the row whose version is expectVersion and sets
// g.Version to expectVersion+1. No such row at that version:
// store.ErrPrecondition if the group exists, else store.ErrNotFound. A
// displayName taken by another group is a *store.ConflictError.
func (t *txn) UpdateGroup(ctx context.Context, g *store.Group, expectVersion int64) error {
	if !parseID(g.TenantID) || !parseID(g.ID) {
		return store.ErrNotFound
	}
	n, err := t.exec(ctx, `UPDATE groups SET display_name = $4, display_name_key = $5, external_id = $6,
			doc = $7, modified = $8, version = version + 1
		WHERE tenant_id = $1 AND id = $2 AND version = $3`,
		g.TenantID, g.ID, expectVersion, nullStr(g.DisplayName), nullKey(g.DisplayName), nullStr(g.ExternalID),
		jsonDoc(g.Doc), g.Modified)
	if err != nil {
		return err
	}
	if n == 0 {
		return t.missOrStale(ctx, `SELECT EXISTS (SELECT 1 FROM groups WHERE tenant_id = $1 AND id = $2)`, g.TenantID, g.ID)
	}
	g.Version = expectVersion + 1
	return nil
}

// DeleteGroup removes a group, (by cascade) its memberships and its
// membership in other groups, or returns store.ErrNotFound (malformed ids
// included); other errors are the driver's. The memberships are deleted by
// a second statement, after the DELETE of the group row has waited for
// the transactions that key-share-locked it in AddMembers: under READ
// COMMITTED that statement sees their rows.
func (t *txn) DeleteGroup(ctx context.Context, tenantID, id string) error {
	if !parseID(tenantID) || !parseID(id) {
		return store.ErrNotFound
	}
	n, err := t.exec(ctx, `DELETE FROM groups WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	_, err = t.exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND member_id = $2 AND member_type = 'Group'`,
		tenantID, id)
	return err
}

// AddMembers adds the live users and the other groups of the tenant named
// by ids to a group; ids that are already members change nothing. It
// returns the ids (in their first order, without duplicates) that are
// neither, malformed ids and the group's own id included, and then adds
// none. It runs two statements whatever the number of ids: one look-up of
// the group and the ids in users and groups (primary-key probes) and one
// INSERT of all of them. The live users found are share-locked and the groups
// key-share-locked until the transaction ends, so a concurrent DeleteUser
// or DeleteGroup cannot leave a deleted member behind. A missing group is
// store.ErrNotFound; other errors are the driver's.
func (t *txn) AddMembers(ctx context.Context, tenantID, groupID string, memberIDs []string) ([]string, error) {
	if !parseID(tenantID) || !parseID(groupID) {
		return nil, store.ErrNotFound
	}
	if len(memberIDs) == 0 {
		return nil, nil
	}
	ids := slices.Sorted(slices.Values(validIDs(memberIDs))) // rows are locked in id order
	// The group itself comes back typed "" when it exists; the ids that
	// exist come back with their type. Each id is looked up by a LATERAL
	// subquery: with its locking clause it is never flattened into a join,
	// so it stays one primary-key probe per id (a nested loop over the
	// array) whatever the table statistics say. A plain "id = ANY($3)" let
	// the planner, with no statistics yet on a freshly loaded table, scan
	// every user of the tenant through users_state_idx.
	rows, err := t.q.QueryxContext(ctx, `SELECT id, '' FROM groups WHERE tenant_id = $1 AND id = $2
		UNION ALL
		SELECT u.id, 'User' FROM unnest($3::uuid[]) AS x(id), LATERAL (SELECT id FROM users
			WHERE tenant_id = $1 AND id = x.id AND id <> $2 AND state <> 'deleted' FOR SHARE) AS u
		UNION ALL
		SELECT g.id, 'Group' FROM unnest($3::uuid[]) AS x(id), LATERAL (SELECT id FROM groups
			WHERE tenant_id = $1 AND id = x.id AND id <> $2 FOR KEY SHARE) AS g`,
		tenantID, groupID, pq.Array(ids))
	if err != nil {
		return nil, err
	}
	found := false
	types := make(map[string]string, len(ids))
	for rows.Next() {
		var id, typ string
		if err := rows.Scan(&id, &typ); err != nil {
			rows.Close()
			return nil, err
		}
		if typ == "" {
			found = true
		} else if _, dup := types[id]; !dup { // a user and a group never share a UUID; the user wins
			types[id] = typ
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	var missing []string
	seen := make(map[string]bool, len(memberIDs))
	for _, id := range memberIDs {
		if types[id] == "" && !seen[id] {
			missing = append(missing, id)
		}
		seen[id] = true
	}
	if len(missing) > 0 {
		return missing, nil
	}
	kinds := make([]string, len(ids))
	for i, id := range ids {
		kinds[i] = types[id]
	}
	_, err = t.exec(ctx, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
		SELECT $1, $2, m.id, m.member_type FROM unnest($3::uuid[], $4::text[]) AS m(id, member_type)
		ON CONFLICT DO NOTHING`, tenantID, groupID, pq.Array(ids), pq.Array(kinds))
	if pqErr := pq.As(err, pqerror.ForeignKeyViolation); pqErr != nil && pqErr.Constraint == constraintGroupFK {
		return nil, store.ErrNotFound
	}
	return nil, err
}

// RemoveMembers removes the given ids from a group with one statement; ids
// that are not members (malformed ones included) are ignored. Errors are the
// driver's.
func (t *txn) RemoveMembers(ctx context.Context, tenantID, groupID string, userIDs []string) error {
	ids := validIDs(userIDs)
	if !parseID(tenantID) || !parseID(groupID) || len(ids) == 0 {
		return nil
	}
	_, err := t.exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id = ANY($3::uuid[])`,
		tenantID, groupID, pq.Array(ids))
	return err
}

// ClearMembers removes every member of a group. Errors are the driver's.
func (t *txn) ClearMembers(ctx context.Context, tenantID, groupID string) error {
	if !parseID(tenantID) || !parseID(groupID) {
		return nil
	}
	_, err := t.exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2`, tenantID, groupID)
	return err
}

// --- audit and outbox ---

// AppendAudit appends one audit entry (e.ID and e.TenantID must be canonical
// UUIDs). A malformed id is an error. The row is written with the next
// AppendEvent (one statement for both) or before the transaction commits,
// so a taken id is store.ErrConflict from that AppendEvent, the next
// AppendAudit or Update.
func (t *txn) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	if err := needID("tenant id", e.TenantID); err != nil {
		return err
	}
	if err := needID("audit id", e.ID); err != nil {
		return err
	}
	var changed any
	if e.Changed != nil {
		b, err := json.Marshal(e.Changed)
		if err != nil {
			return fmt.Errorf("postgres: encode changed: %w", err)
		}
		changed = string(b)
	}
	if err := t.flushAudit(ctx); err != nil {
		return err
	}
	t.audit = []any{e.TenantID, e.ID, e.At, nullStr(e.Actor), nullStr(e.RequestID), nullStr(e.Client), nullStr(e.Operation),
		nullStr(e.ResourceType), nullStr(e.ResourceID), e.Status, nullStr(e.Rule), changed}
	return nil
}

const insertAudit = `INSERT INTO audit (tenant_id, id, at, actor, request_id, client, operation,
			resource_type, resource_id, status, rule, changed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

// flushAudit writes the entry AppendAudit holds back, if any.
func (t *txn) flushAudit(ctx context.Context) error {
	if t.audit == nil {
		return nil
	}
	args := t.audit
	t.audit = nil
	_, err := t.exec(ctx, insertAudit, args...)
	return err
}

// AppendEvent appends one event to the outbox (e.ID and e.TenantID must be
// canonical UUIDs), stamped with the id of this transaction (the event's
// place in the feed), and a pending delivery of it, due at e.At, for every
// webhook the tenant has: one statement, with the audit entry AppendAudit
// holds back, if any. The webhooks are key-share-locked, so one deleted
// meanwhile is skipped rather than failing the insert. A taken id is
// store.ErrConflict; a malformed id is an error; other errors are the
// driver's.
func (t *txn) AppendEvent(ctx context.Context, e *store.Event) error {
	if err := needID("tenant id", e.TenantID); err != nil {
		return err
	}
	if err := needID("event id", e.ID); err != nil {
		return err
	}
	ev := []any{e.TenantID, e.ID, e.At, e.Type, nullStr(e.ResourceType), nullStr(e.ResourceID), jsonDoc(e.Payload)}
	if t.audit == nil {
		_, err := t.exec(ctx, appendEvent, ev...)
		return err
	}
	// The change's audit entry, its event and its deliveries, in one round
	// trip.
	args := append(t.audit, ev...)
	t.audit = nil
	_, err := t.exec(ctx, appendAuditEvent, args...)
	return err
}

// The statements of AppendEvent, without and with the held-back audit
// entry ($1 to $12, the event from $13 on).
var (
	appendEvent      = `WITH ` + insertEvent(1)
	appendAuditEvent = `WITH a AS (` + insertAudit + `), ` + insertEvent(13)
)

// insertEvent returns the statement, less its leading WITH, that inserts
// an event whose seven values (outbox columns tenant_id to payload) are the
// parameters from $first on, and its deliveries.
func insertEvent(first int) string {
	params := make([]string, 7)
	for i := range params {
		params[i] = "$" + strconv.Itoa(first+i)
	}
	return `o AS (INSERT INTO outbox (tenant_id, id, at, type, resource_type, resource_id, payload)
			VALUES (` + strings.Join(params, ", ") + `)
			RETURNING tenant_id, id, at, resource_type, resource_id, txid)
		` + insertDeliveries
}

// insertDeliveries ends the statements that write events: from the
// events o just inserted (RETURNING tenant_id, id, at, resource_type,
// resource_id, txid), a pending delivery of each, due at its time, for
// every webhook of its tenant. FOR KEY SHARE makes a webhook deleted
// meanwhile drop out instead of failing the insert.
const insertDeliveries = `INSERT INTO deliveries (tenant_id, id, webhook_id, event_id, resource_type, resource_id, ev_txid,
			state, attempts, next_attempt)
		SELECT w.tenant_id, gen_random_uuid(), w.id, o.id, COALESCE(o.resource_type, ''), COALESCE(o.resource_id, ''),
			o.txid, 'pending', 0, o.at
		FROM o JOIN webhooks w ON w.tenant_id = o.tenant_id
		FOR KEY SHARE OF w`
