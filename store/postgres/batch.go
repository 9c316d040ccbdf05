package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/scimd/scimd/store"
)

// The batch contract (store/batch.go): BatchReader on reader (so on Store
// and inside transactions), BatchWriter on txn.
//
// Each read is one statement over the distinct folded keys of its input,
// bound as one array. Every key is probed by a LATERAL subquery with a
// LIMIT, which PostgreSQL never flattens into a join: it stays the index
// probe of the one-at-a-time method (same WHERE clause) per key, whatever
// the statistics say. A plain "key = ANY($2)" lets the planner of a freshly
// loaded table, without statistics yet, scan the tenant through another
// index (see AddMembers).

// keySet runs a query whose rows are one text column and returns them as a
// set.
func (r reader) keySet(ctx context.Context, query string, args ...any) (map[string]bool, error) {
	rows, err := r.q.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out[k] = true
	}
	return out, rows.Err()
}

// The statements of the batch reads: $1 is the tenant id, $2 the folded
// keys (and $3, for ReservedUserNames, their store.ErasedKey, index for
// index).
const (
	liveUserNamesSQL = `SELECT k.key FROM unnest($2::text[]) AS k(key),
		LATERAL (SELECT 1 FROM users u
			WHERE u.tenant_id = $1 AND u.user_name_key = k.key AND u.state <> 'deleted' LIMIT 1) AS x`
	liveEmailsSQL = `SELECT k.key FROM unnest($2::text[]) AS k(key),
		LATERAL (SELECT 1 FROM user_emails e JOIN users u ON u.tenant_id = e.tenant_id AND u.id = e.user_id
			WHERE e.tenant_id = $1 AND e.value_key = k.key AND u.state <> 'deleted' LIMIT 1) AS x`
	reservedUserNamesSQL = `SELECT k.key FROM unnest($2::text[], $3::text[]) AS k(key, erased_key),
		LATERAL (SELECT 1 FROM users
			WHERE tenant_id = $1 AND state = 'deleted' AND user_name_key IN (k.key, k.erased_key)
			  AND ((NOT erased AND user_name_key = k.key) OR (erased AND user_name_key = k.erased_key))
			LIMIT 1) AS x`
	retainedEmailsSQL = `SELECT k.key FROM unnest($2::text[]) AS k(key),
		LATERAL (SELECT 1 FROM users u
			WHERE u.tenant_id = $1 AND u.state = 'deleted' AND NOT u.erased AND u.id IN (
				SELECT e.user_id FROM user_emails e WHERE e.tenant_id = $1 AND e.value_key = k.key)
			LIMIT 1) AS x`
)

// LiveUserNames returns the folded userNames among userNames that a live
// user of the tenant holds (those CreateUser would refuse as a conflict),
// in one statement. "" is never among them; a malformed tenant id or an
// input without keys returns an empty set without a query. Errors are the
// driver's.
func (r reader) LiveUserNames(ctx context.Context, tenantID string, userNames []string) (map[string]bool, error) {
	keys := store.FoldKeys(userNames)
	if !parseID(tenantID) || len(keys) == 0 {
		return map[string]bool{}, nil
	}
	return r.keySet(ctx, liveUserNamesSQL, tenantID, pq.Array(keys))
}

// LiveEmails returns the folded emails among emails that a live user of
// the tenant has (EmailTaken with no exception), in one statement. "" is
// never among them; a malformed tenant id or an input without keys returns
// an empty set without a query. Errors are the driver's.
func (r reader) LiveEmails(ctx context.Context, tenantID string, emails []string) (map[string]bool, error) {
	keys := store.FoldKeys(emails)
	if !parseID(tenantID) || len(keys) == 0 {
		return map[string]bool{}, nil
	}
	return r.keySet(ctx, liveEmailsSQL, tenantID, pq.Array(keys))
}

// ReservedUserNames returns the folded userNames among userNames that a
// tombstone of the tenant holds (UserNameReserved: a retained one by the
// folded userName, an erased one by its store.ErasedKey), in one
// statement. "" is never among them; a malformed tenant id or an input
// without keys returns an empty set without a query. Errors are the
// driver's.
func (r reader) ReservedUserNames(ctx context.Context, tenantID string, userNames []string) (map[string]bool, error) {
	keys := store.FoldKeys(userNames)
	if !parseID(tenantID) || len(keys) == 0 {
		return map[string]bool{}, nil
	}
	erased := make([]string, len(keys))
	for i, k := range keys {
		erased[i] = store.ErasedKey(k) // ErasedKey folds: the key of the folded name is the name's
	}
	return r.keySet(ctx, reservedUserNamesSQL, tenantID, pq.Array(keys), pq.Array(erased))
}

// RetainedEmails returns the folded emails among emails that a retained
// (not erased) tombstone of the tenant has (those FindRetainedByEmail
// finds a tombstone for), in one statement. "" is never among them; a
// malformed tenant id or an input without keys returns an empty set
// without a query. Errors are the driver's.
func (r reader) RetainedEmails(ctx context.Context, tenantID string, emails []string) (map[string]bool, error) {
	keys := store.FoldKeys(emails)
	if !parseID(tenantID) || len(keys) == 0 {
		return map[string]bool{}, nil
	}
	return r.keySet(ctx, retainedEmailsSQL, tenantID, pq.Array(keys))
}

// --- writes ---

// nullTS is a timestamp array element: t in the text form lib/pq sends a
// time.Time parameter in (so PostgreSQL rounds it the same way), NULL for
// nil.
func nullTS(t *time.Time) sql.NullString {
	if t == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: string(pq.FormatTimestamp(*t)), Valid: true}
}

// ts is nullTS of a time that is always set.
func ts(t time.Time) sql.NullString { return nullTS(&t) }

// columns turns rows of values, each the parameters one row's statement
// would bind (times as text: nullTS), into one array parameter per
// column, for unnest. lib/pq encodes each element as it encodes a
// parameter: nil and invalid sql.Null* values become NULL.
func columns(rows [][]any) []any {
	if len(rows) == 0 {
		return nil
	}
	cols := make([]any, len(rows[0]))
	for c := range cols {
		col := make([]any, len(rows))
		for r, row := range rows {
			col[r] = row[c]
		}
		cols[c] = pq.GenericArray{A: col}
	}
	return cols
}

// createUsersSQL inserts the users whose columns are the arrays $1 to $19,
// index for index, as CreateUser inserts one.
const createUsersSQL = `INSERT INTO users (tenant_id, id, user_name, user_name_key, external_id, active,
		display_name, display_name_key, given_name, given_name_key, family_name, family_name_key,
		role, state, deactivated_at, password_hash, doc, version, created, modified)
	SELECT r.tenant_id, r.id, r.user_name, r.user_name_key, r.external_id, r.active,
		r.display_name, r.display_name_key, r.given_name, r.given_name_key, r.family_name, r.family_name_key,
		r.role, r.state, r.deactivated_at, r.password_hash, r.doc, 1, r.created, r.modified
	FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::boolean[],
		$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
		$13::text[], $14::text[], $15::timestamptz[], $16::text[], $17::jsonb[], $18::timestamptz[], $19::timestamptz[])
		AS r(tenant_id, id, user_name, user_name_key, external_id, active,
			display_name, display_name_key, given_name, given_name_key, family_name, family_name_key,
			role, state, deactivated_at, password_hash, doc, created, modified)`

// createEmailsSQL inserts the emails whose columns are the arrays $1 to $8,
// as insertEmails does for one user (ord from 1, "" stored as NULL).
const createEmailsSQL = `INSERT INTO user_emails
		(tenant_id, user_id, ord, value, value_key, type, type_key, is_primary)
	SELECT e.tenant_id, e.user_id, e.ord, NULLIF(e.v, ''), NULLIF(e.vk, ''), NULLIF(e.t, ''), NULLIF(e.tk, ''), e.p
	FROM unnest($1::uuid[], $2::uuid[], $3::integer[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[])
		AS e(tenant_id, user_id, ord, v, vk, t, tk, p)`

// CreateUsers inserts every user of us and their emails as CreateUser
// would, in two statements whatever their number (one multi-row INSERT of
// the users, whose triggers keep the tenant counts row by row, and one of
// all their emails), and sets each Version to 1 once both succeeded. A
// userName a live user holds, or that two users of us share once folded,
// is a *store.ConflictError for "userName"; a second live owner one for
// "roles"; a taken id is store.ErrConflict; a malformed id is an error and
// writes nothing; other errors are the driver's. After an error the
// transaction must be rolled back.
func (t *txn) CreateUsers(ctx context.Context, us []*store.User) error {
	if len(us) == 0 {
		return nil
	}
	for _, u := range us {
		if err := needID("tenant id", u.TenantID); err != nil {
			return err
		}
		if err := needID("user id", u.ID); err != nil {
			return err
		}
	}
	users := make([][]any, len(us))
	var emails [][]any
	for i, u := range us {
		// CreateUser's parameters, and insertEmails' of each email.
		users[i] = []any{u.TenantID, u.ID, nullStr(u.UserName), nullKey(u.UserName), nullStr(u.ExternalID), u.Active,
			nullStr(u.DisplayName), nullKey(u.DisplayName), nullStr(u.GivenName), nullKey(u.GivenName),
			nullStr(u.FamilyName), nullKey(u.FamilyName), nullStr(u.Role), string(u.State),
			nullTS(u.DeactivatedAt), nullStr(u.PasswordHash), jsonDoc(u.Doc), ts(u.Created), ts(u.Modified)}
		for j, e := range u.Emails {
			emails = append(emails, []any{u.TenantID, u.ID, j + 1,
				e.Value, store.Fold(e.Value), e.Type, store.Fold(e.Type), e.Primary})
		}
	}
	if _, err := t.exec(ctx, createUsersSQL, columns(users)...); err != nil {
		return err
	}
	if len(emails) > 0 {
		if _, err := t.exec(ctx, createEmailsSQL, columns(emails)...); err != nil {
			return err
		}
	}
	for _, u := range us {
		u.Version = 1
	}
	return nil
}

// auditRows returns the INSERT of the audit entries whose columns are the
// twelve arrays from $first on, index for index.
func auditRows(first int) string {
	types := []string{"uuid", "uuid", "timestamptz", "text", "text", "text", "text", "text", "text", "integer", "text", "jsonb"}
	return `INSERT INTO audit (tenant_id, id, at, actor, request_id, client, operation,
			resource_type, resource_id, status, rule, changed)
		SELECT * FROM unnest(` + arrayParams(first, types) + `)`
}

// eventRows returns the statement, less its leading WITH, that inserts the
// events whose outbox columns (tenant_id to payload) are the seven arrays
// from $first on, index for index, and a pending delivery of each, due at
// its time, for every webhook of its tenant: insertEvent for many events.
// They all get this transaction's id.
func eventRows(first int) string {
	types := []string{"uuid", "uuid", "timestamptz", "text", "text", "text", "jsonb"}
	return `o AS (INSERT INTO outbox (tenant_id, id, at, type, resource_type, resource_id, payload)
			SELECT * FROM unnest(` + arrayParams(first, types) + `)
			RETURNING tenant_id, id, at, resource_type, resource_id, txid)
		` + insertDeliveries
}

// arrayParams returns "$first::types[0][], $first+1::types[1][], …".
func arrayParams(first int, types []string) string {
	params := make([]string, len(types))
	for i, typ := range types {
		params[i] = "$" + strconv.Itoa(first+i) + "::" + typ + "[]"
	}
	return strings.Join(params, ", ")
}

// The statements of AppendAll: the entries alone, the events alone, and
// both in one round trip (entries $1 to $12, events from $13 on).
var (
	appendAllAudit  = auditRows(1)
	appendAllEvents = `WITH ` + eventRows(1)
	appendAllBoth   = `WITH a AS (` + auditRows(1) + `), ` + eventRows(13)
)

// AppendAll appends the audit entries and the events, each with a pending
// delivery, due at its time, for every webhook of its tenant, as
// AppendAudit and AppendEvent one by one would: first the entry AppendAudit
// holds back, if any, then all the entries and events in one statement
// (multi-row INSERTs of audit and outbox, and the deliveries of the
// outbox rows). Every event gets this transaction's id, so the feed orders
// them by id (UUIDv7s in the order given keep it). The webhooks are
// key-share-locked as AppendEvent locks them. A taken id is
// store.ErrConflict; a malformed id is an error and writes nothing; other
// errors are the driver's.
func (t *txn) AppendAll(ctx context.Context, entries []store.AuditEntry, events []store.Event) error {
	for i := range entries {
		if err := needID("tenant id", entries[i].TenantID); err != nil {
			return err
		}
		if err := needID("audit id", entries[i].ID); err != nil {
			return err
		}
	}
	for i := range events {
		if err := needID("tenant id", events[i].TenantID); err != nil {
			return err
		}
		if err := needID("event id", events[i].ID); err != nil {
			return err
		}
	}
	// AppendAudit's parameters of each entry, AppendEvent's of each event.
	audit := make([][]any, len(entries))
	for i, e := range entries {
		var changed any
		if e.Changed != nil {
			b, err := json.Marshal(e.Changed)
			if err != nil {
				return fmt.Errorf("postgres: encode changed: %w", err)
			}
			changed = string(b)
		}
		audit[i] = []any{e.TenantID, e.ID, ts(e.At), nullStr(e.Actor), nullStr(e.RequestID), nullStr(e.Client),
			nullStr(e.Operation), nullStr(e.ResourceType), nullStr(e.ResourceID), e.Status, nullStr(e.Rule), changed}
	}
	outbox := make([][]any, len(events))
	for i, e := range events {
		outbox[i] = []any{e.TenantID, e.ID, ts(e.At), e.Type, nullStr(e.ResourceType), nullStr(e.ResourceID), jsonDoc(e.Payload)}
	}
	args := append(columns(audit), columns(outbox)...)
	if err := t.flushAudit(ctx); err != nil {
		return err
	}
	var query string
	switch {
	case len(entries) > 0 && len(events) > 0:
		query = appendAllBoth
	case len(entries) > 0:
		query = appendAllAudit
	case len(events) > 0:
		query = appendAllEvents
	default:
		return nil
	}
	_, err := t.exec(ctx, query, args...)
	return err
}
