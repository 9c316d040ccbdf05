package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/scimd/scimd/store"
)

// The event and audit contract (store.EventReader, store.EventWriter,
// store.Dispatch). Events are ordered by (txid, id): txid is the id of the
// transaction that wrote the event (outbox.txid), so events of one
// transaction are adjacent and ordered by their UUIDv7 ids. Deliveries copy
// the txid of their event (ev_txid) so that claims order and serialise them
// by reading the deliveries table alone.

// --- audit ---

const auditCols = `tenant_id, id, at, actor, request_id, client, operation,
		resource_type, resource_id, status, rule, changed`

// scanAudit reads one row of auditCols.
func scanAudit(sc interface{ Scan(...any) error }) (store.AuditEntry, error) {
	var (
		a                                          store.AuditEntry
		actor, rid, client, op, rtype, resID, rule sql.NullString
		changed                                    []byte
	)
	if err := sc.Scan(&a.TenantID, &a.ID, &a.At, &actor, &rid, &client, &op, &rtype, &resID, &a.Status, &rule, &changed); err != nil {
		return store.AuditEntry{}, err
	}
	a.At = a.At.UTC()
	a.Actor, a.RequestID, a.Client, a.Operation = actor.String, rid.String, client.String, op.String
	a.ResourceType, a.ResourceID, a.Rule = rtype.String, resID.String, rule.String
	if len(changed) > 0 {
		if err := json.Unmarshal(changed, &a.Changed); err != nil {
			return store.AuditEntry{}, err
		}
	}
	return a, nil
}

// queryAudit runs a query whose rows are auditCols.
func (r reader) queryAudit(ctx context.Context, query string, args ...any) ([]store.AuditEntry, error) {
	rows, err := r.q.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		a, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// QueryAudit returns up to q.Limit audit entries of q.TenantID, newest
// first (at descending, then id descending), about q.ResourceID when it is
// set, at or after q.Since when it is not zero, and after the cursor
// (q.BeforeAt, q.BeforeID) in that order when q.BeforeID is set. A
// malformed tenant id or cursor id, or a Limit below 1, returns no entries.
// Errors are the driver's.
func (r reader) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if !parseID(q.TenantID) || q.Limit < 1 || (q.BeforeID != "" && !parseID(q.BeforeID)) {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + auditCols + ` FROM audit WHERE tenant_id = $1`)
	args := []any{q.TenantID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.ResourceID != "" {
		b.WriteString(` AND resource_id = ` + arg(q.ResourceID))
	}
	if !q.Since.IsZero() {
		b.WriteString(` AND at >= ` + arg(q.Since))
	}
	if q.BeforeID != "" {
		b.WriteString(` AND (at, id) < (` + arg(q.BeforeAt) + `::timestamptz, ` + arg(q.BeforeID) + `::uuid)`)
	}
	b.WriteString(` ORDER BY at DESC, id DESC LIMIT ` + arg(q.Limit))
	return r.queryAudit(ctx, b.String(), args...)
}

// QueryAudit is reader.QueryAudit after writing the audit entry
// AppendAudit holds back, so the transaction reads its own entries. Its
// errors are those of that write and of reader.QueryAudit.
func (t *txn) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if err := t.flushAudit(ctx); err != nil {
		return nil, err
	}
	return t.reader.QueryAudit(ctx, q)
}

// ListAudit is reader.ListAudit after writing the audit entry AppendAudit
// holds back, so the transaction reads its own entries. Its errors are
// those of that write and of reader.ListAudit.
func (t *txn) ListAudit(ctx context.Context, tenantID, after string, limit int) ([]store.AuditEntry, error) {
	if err := t.flushAudit(ctx); err != nil {
		return nil, err
	}
	return t.reader.ListAudit(ctx, tenantID, after, limit)
}

// --- the event feed ---

const eventCols = `o.tenant_id, o.id, o.at, o.type, o.resource_type, o.resource_id, o.payload`

// eventRow holds one scanned event (eventCols).
type eventRow struct {
	e          store.Event
	rtype, rid sql.NullString
	payload    []byte
}

func (r *eventRow) dest() []any {
	return []any{&r.e.TenantID, &r.e.ID, &r.e.At, &r.e.Type, &r.rtype, &r.rid, &r.payload}
}

func (r *eventRow) event() store.Event {
	e := r.e
	e.At = e.At.UTC()
	e.ResourceType, e.ResourceID, e.Payload = r.rtype.String, r.rid.String, r.payload
	return e
}

// feedStart is the position before every event: no transaction id is 0.
const feedStart = "0.00000000-0000-0000-0000-000000000000"

// parseFeedPos splits a feed position "<txid>.<event id>" into its
// transaction id (decimal, as the xid8 parameter takes it) and event id; ""
// is feedStart. It reports false for anything else.
func parseFeedPos(pos string) (txid, id string, ok bool) {
	if pos == "" {
		pos = feedStart
	}
	txid, id, ok = strings.Cut(pos, ".")
	if !ok || !parseID(id) {
		return "", "", false
	}
	n, err := strconv.ParseUint(txid, 10, 64)
	if err != nil {
		return "", "", false
	}
	return strconv.FormatUint(n, 10), id, true
}

// EventFeed returns up to limit events of a tenant after the position
// after ("" for the start) in (transaction id, event id) order, and the
// position of the last one ("<txid>.<event id>"; after itself when none is
// returned). It returns only events written by transactions older than
// every transaction still running that could write to this database, so no
// event can later appear before a returned position: the horizon is the
// smallest in-progress transaction id of the statement's snapshot, leaving
// out those pg_stat_activity positively shows running in another database
// of the server (another application's long transaction does not hold the
// feed back; one that cannot be placed does), or the snapshot's xmax when
// none is left (inside a transaction that has written, its own events and
// all later ones are not returned either).
// A malformed after is store.ErrInvalidCursor; a malformed tenant id or a
// limit below 1 returns no events. Other errors are the driver's.
func (r reader) EventFeed(ctx context.Context, tenantID, after string, limit int) ([]store.Event, string, error) {
	txid, id, ok := parseFeedPos(after)
	if !ok {
		return nil, "", store.ErrInvalidCursor
	}
	if !parseID(tenantID) || limit < 1 {
		return nil, after, nil
	}
	rows, err := r.q.QueryxContext(ctx, `SELECT `+eventCols+`, o.txid::text FROM outbox o
		WHERE o.tenant_id = $1 AND (o.txid, o.id) > ($2::xid8, $3::uuid)
			AND o.txid < (SELECT COALESCE(min(x), min(pg_snapshot_xmax(sn.s)))
				FROM (SELECT pg_current_snapshot() AS s) sn
				LEFT JOIN LATERAL pg_snapshot_xip(sn.s) AS x ON NOT EXISTS (
					SELECT 1 FROM pg_stat_activity a WHERE a.backend_xid = xid(x)
						AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())))
		ORDER BY o.txid, o.id LIMIT $4`, tenantID, txid, id, limit)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []store.Event
	next := after
	for rows.Next() {
		var row eventRow
		var tx string
		if err := rows.Scan(append(row.dest(), &tx)...); err != nil {
			return nil, "", err
		}
		out = append(out, row.event())
		next = tx + "." + row.e.ID
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// --- webhooks ---

// ListWebhooks returns the webhooks of a tenant ordered by creation time,
// then id, with Secret left empty (none for a malformed tenant id). Errors
// are the driver's.
func (r reader) ListWebhooks(ctx context.Context, tenantID string) ([]store.Webhook, error) {
	if !parseID(tenantID) {
		return nil, nil
	}
	rows, err := r.q.QueryxContext(ctx, `SELECT tenant_id, id, url, created FROM webhooks
		WHERE tenant_id = $1 ORDER BY created, id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Webhook
	for rows.Next() {
		var w store.Webhook
		if err := rows.Scan(&w.TenantID, &w.ID, &w.URL, &w.Created); err != nil {
			return nil, err
		}
		w.Created = w.Created.UTC()
		out = append(out, w)
	}
	return out, rows.Err()
}

// CreateWebhook inserts w (ID and TenantID must be canonical UUIDs; URL,
// Secret and Created set). A URL the tenant already has is a
// *store.ConflictError for "url"; a taken id is store.ErrConflict; a
// malformed id is an error; other errors (a missing tenant included) are
// the driver's.
func (t *txn) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	if err := needID("tenant id", w.TenantID); err != nil {
		return err
	}
	if err := needID("webhook id", w.ID); err != nil {
		return err
	}
	secret := w.Secret
	if secret == nil {
		secret = []byte{}
	}
	_, err := t.exec(ctx, `INSERT INTO webhooks (tenant_id, id, url, secret, created) VALUES ($1, $2, $3, $4, $5)`,
		w.TenantID, w.ID, w.URL, secret, w.Created)
	return err
}

// DeleteWebhook removes a webhook of the tenant and (by cascade) its
// deliveries, or returns store.ErrNotFound (malformed ids included); other
// errors are the driver's.
func (t *txn) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	if !parseID(tenantID) || !parseID(id) {
		return store.ErrNotFound
	}
	n, err := t.exec(ctx, `DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// --- deliveries ---

// deliveryCols are the columns of a delivery d with its webhook's URL (w)
// and its event (o); scanDelivery reads them.
const deliveryCols = `d.id, d.tenant_id, d.webhook_id, w.url, d.state, d.attempts, d.next_attempt,
		d.last_status, d.last_error, d.delivered_at, ` + eventCols

// deliveryRow holds one scanned delivery (deliveryCols).
type deliveryRow struct {
	d         store.Delivery
	lastError sql.NullString
	delivered sql.NullTime
	ev        eventRow
}

func (r *deliveryRow) dest() []any {
	return append([]any{&r.d.ID, &r.d.TenantID, &r.d.WebhookID, &r.d.URL, &r.d.State, &r.d.Attempts,
		&r.d.NextAttempt, &r.d.LastStatus, &r.lastError, &r.delivered}, r.ev.dest()...)
}

func (r *deliveryRow) delivery() store.Delivery {
	d := r.d
	d.NextAttempt = d.NextAttempt.UTC()
	d.LastError = r.lastError.String
	if r.delivered.Valid {
		d.DeliveredAt = r.delivered.Time.UTC()
	}
	d.Event = r.ev.event()
	return d
}

// deliveryStates are the states ListDeliveries reads for "".
var deliveryStates = []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryDead}

// ListDeliveries returns up to limit deliveries of a tenant in the given
// state (every state for ""; none for an unknown one), newest event first
// ((transaction id, event id) descending, then delivery id descending),
// with their events and webhook URLs; Secret and Claim are left empty. A
// malformed tenant id or a limit below 1 returns none. Errors are the
// driver's.
func (r reader) ListDeliveries(ctx context.Context, tenantID, state string, limit int) ([]store.Delivery, error) {
	if !parseID(tenantID) || limit < 1 {
		return nil, nil
	}
	states := deliveryStates
	if state != "" {
		states = []string{state}
	}
	// Per state, the newest deliveries come from the end of
	// deliveries_state_idx; the states' lists are then merged.
	rows, err := r.q.QueryxContext(ctx, `SELECT `+deliveryCols+`
		FROM unnest($2::text[]) AS s(state),
			LATERAL (SELECT k.id, k.ev_txid, k.event_id FROM deliveries k
				WHERE k.tenant_id = $1 AND k.state = s.state
				ORDER BY k.ev_txid DESC, k.event_id DESC, k.id DESC LIMIT $3) AS k
		JOIN deliveries d ON d.tenant_id = $1 AND d.id = k.id
		JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id
		JOIN outbox o ON o.tenant_id = d.tenant_id AND o.id = d.event_id
		ORDER BY k.ev_txid DESC, k.event_id DESC, k.id DESC LIMIT $3`,
		tenantID, pq.Array(states), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var row deliveryRow
		if err := rows.Scan(row.dest()...); err != nil {
			return nil, err
		}
		out = append(out, row.delivery())
	}
	return out, rows.Err()
}

// RetryDeliveries puts the dead deliveries of an event of the tenant back
// to pending with no attempts, no lease and no claim, due at now, and
// returns how many it revived. None (malformed ids included) is
// store.ErrNotFound; other errors are the driver's.
func (t *txn) RetryDeliveries(ctx context.Context, tenantID, eventID string, now time.Time) (int, error) {
	if !parseID(tenantID) || !parseID(eventID) {
		return 0, store.ErrNotFound
	}
	n, err := t.exec(ctx, `UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt = $3,
			lease_until = NULL, claim = NULL
		WHERE tenant_id = $1 AND event_id = $2 AND state = 'dead'`, tenantID, eventID, now)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, store.ErrNotFound
	}
	return int(n), nil
}

// ClaimDeliveries claims, in one statement (its own transaction), up to
// limit pending deliveries of every tenant that are due at now and not
// leased at now, taking only the first pending delivery of each (webhook,
// resource) in event order, and skipping rows another claim holds locked
// (FOR UPDATE SKIP LOCKED). Each one is leased until now+lease, its
// Attempts incremented and a fresh Claim set. They are returned oldest
// event first with their events, URLs and secrets. Only now is compared,
// never the database clock. A limit below 1 claims none. Errors are the
// driver's.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	if limit < 1 {
		return nil, nil
	}
	rows, err := s.q.QueryxContext(ctx, `WITH c AS (
			SELECT d.tenant_id, d.id FROM deliveries d
			WHERE d.state = 'pending' AND d.next_attempt <= $1
				AND (d.lease_until IS NULL OR d.lease_until <= $1)
				AND NOT EXISTS (SELECT 1 FROM deliveries p
					WHERE p.tenant_id = d.tenant_id AND p.webhook_id = d.webhook_id
						AND p.resource_type = d.resource_type AND p.resource_id = d.resource_id
						AND p.state = 'pending' AND (p.ev_txid, p.event_id) < (d.ev_txid, d.event_id))
			ORDER BY d.ev_txid, d.event_id, d.id
			LIMIT $3
			FOR UPDATE OF d SKIP LOCKED
		), u AS (
			UPDATE deliveries d SET lease_until = $2, attempts = d.attempts + 1, claim = gen_random_uuid()
			FROM c WHERE d.tenant_id = c.tenant_id AND d.id = c.id
			RETURNING d.*
		)
		SELECT `+deliveryCols+`, d.claim, w.secret
		FROM u AS d
		JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id
		JOIN outbox o ON o.tenant_id = d.tenant_id AND o.id = d.event_id
		ORDER BY d.ev_txid, d.event_id, d.id`, now, now.Add(lease), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var row deliveryRow
		var claim string
		var secret []byte
		if err := rows.Scan(append(row.dest(), &claim, &secret)...); err != nil {
			return nil, err
		}
		d := row.delivery()
		d.Claim, d.Secret = claim, secret
		out = append(out, d)
	}
	return out, rows.Err()
}

// FinishDelivery records the outcome of the attempt d.Claim names, in one
// statement (its own transaction): delivered (o.Delivered, delivered at
// o.At), dead (o.Dead) or pending again, due at o.NextAttempt; in every
// case the lease and the claim end and the status and error are recorded.
// A delivery that is not pending under that claim (a later claim took it,
// it was finished or deleted, or an id is malformed) is store.ErrNotFound
// and changes nothing. Other errors are the driver's.
func (s *Store) FinishDelivery(ctx context.Context, d store.Delivery, o store.DeliveryOutcome) error {
	if !parseID(d.TenantID) || !parseID(d.ID) || !parseID(d.Claim) {
		return store.ErrNotFound
	}
	state := store.DeliveryPending
	var next, delivered sql.NullTime
	switch {
	case o.Delivered:
		state = store.DeliveryDelivered
		delivered = sql.NullTime{Time: o.At, Valid: true}
	case o.Dead:
		state = store.DeliveryDead
	default:
		next = sql.NullTime{Time: o.NextAttempt, Valid: true}
	}
	res, err := s.q.ExecContext(ctx, `UPDATE deliveries SET state = $4, next_attempt = COALESCE($5, next_attempt),
			delivered_at = $6, last_status = $7, last_error = $8, lease_until = NULL, claim = NULL
		WHERE tenant_id = $1 AND id = $2 AND claim = $3 AND state = 'pending'`,
		d.TenantID, d.ID, d.Claim, state, next, delivered, o.Status, nullStr(o.Error))
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// DeliveryStats counts the pending and the dead deliveries of every tenant
// and finds the event time of the oldest pending one, in one statement.
// Errors are the driver's.
func (s *Store) DeliveryStats(ctx context.Context) (store.DeliveryStats, error) {
	var st store.DeliveryStats
	var oldest sql.NullTime
	err := s.q.QueryRowxContext(ctx, `SELECT
		(SELECT count(*) FROM deliveries WHERE state = 'pending'),
		(SELECT count(*) FROM deliveries WHERE state = 'dead'),
		(SELECT min((SELECT o.at FROM outbox o WHERE o.tenant_id = d.tenant_id AND o.id = d.event_id))
			FROM deliveries d WHERE d.state = 'pending')`).Scan(&st.Pending, &st.Dead, &oldest)
	if err != nil {
		return store.DeliveryStats{}, err
	}
	if oldest.Valid {
		st.OldestPending = oldest.Time.UTC()
	}
	return st, nil
}
