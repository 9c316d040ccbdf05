package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store"
)

// The event and audit contract (store/events.go): EventReader on conn,
// EventWriter on tx, Dispatch on Store.
//
// Events are ordered by outbox.seq, which AppendEvent sets to MAX(seq) + 1
// on the single writer: the order the events commit in, across the whole
// database. A position of EventFeed is that seq in decimal.
//
// Deliveries copy their event's resource and seq (ev_seq), so the line
// check of ClaimDeliveries (no earlier pending delivery of the same
// webhook and resource) is one probe of the partial index deliveries_line.

// QueryAudit returns up to q.Limit audit entries of q.TenantID, newest
// first (at, then id, descending), filtered by q.ResourceID and q.Since
// when set and starting after the cursor (q.BeforeAt, q.BeforeID) when
// q.BeforeID is set. A Limit of zero or less returns none. Errors are the
// driver's.
func (c conn) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if q.Limit <= 0 {
		return []store.AuditEntry{}, nil
	}
	var b strings.Builder
	b.WriteString(`SELECT tenant_id, id, at, actor, request_id, client, operation, resource_type, resource_id,
		status, rule, changed FROM audit WHERE tenant_id = ?`)
	args := []any{q.TenantID}
	if q.ResourceID != "" {
		b.WriteString(` AND resource_id = ?`)
		args = append(args, q.ResourceID)
	}
	if !q.Since.IsZero() {
		b.WriteString(` AND at >= ?`)
		args = append(args, micro(q.Since))
	}
	if q.BeforeID != "" {
		b.WriteString(` AND (at, id) < (?, ?)`)
		args = append(args, micro(q.BeforeAt), q.BeforeID)
	}
	b.WriteString(` ORDER BY at DESC, id DESC LIMIT ?`)
	args = append(args, q.Limit)
	var rows []auditRow
	if err := sqlx.SelectContext(ctx, c.q, &rows, b.String(), args...); err != nil {
		return nil, fmt.Errorf("sqlite: query audit: %w", err)
	}
	return auditEntries(rows)
}

// parseFeedPosition returns the seq an EventFeed position names: 0 for "",
// else the canonical decimal of a non-negative int64 (no sign, no leading
// zero). Anything else is store.ErrInvalidCursor.
func parseFeedPosition(after string) (int64, error) {
	if after == "" {
		return 0, nil
	}
	if (len(after) > 1 && after[0] == '0') || after[0] < '0' || after[0] > '9' {
		return 0, store.ErrInvalidCursor
	}
	seq, err := strconv.ParseInt(after, 10, 64)
	if err != nil {
		return 0, store.ErrInvalidCursor
	}
	return seq, nil
}

// EventFeed returns up to limit events of the tenant whose seq follows the
// position after, in seq order, and the position of the last one (after
// itself when there is none). A reader sees committed events only and seq
// is the commit order (one writer), so no event can later appear before
// the position returned. A malformed after is store.ErrInvalidCursor; a
// limit of zero or less returns no event; other errors are the driver's.
func (c conn) EventFeed(ctx context.Context, tenantID, after string, limit int) ([]store.Event, string, error) {
	seq, err := parseFeedPosition(after)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		return []store.Event{}, after, nil
	}
	var rows []eventRow
	err = sqlx.SelectContext(ctx, c.q, &rows, `SELECT tenant_id, id, at, type, resource_type, resource_id, payload, seq
		FROM outbox WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`, tenantID, seq, limit)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: event feed: %w", err)
	}
	if len(rows) == 0 {
		return []store.Event{}, after, nil
	}
	return events(rows), strconv.FormatInt(rows[len(rows)-1].Seq, 10), nil
}

type webhookRow struct {
	TenantID string `db:"tenant_id"`
	ID       string `db:"id"`
	URL      string `db:"url"`
	Created  int64  `db:"created"`
}

// ListWebhooks returns the webhooks of the tenant ordered by creation time,
// then id, with Secret left empty. Errors are the driver's.
func (c conn) ListWebhooks(ctx context.Context, tenantID string) ([]store.Webhook, error) {
	var rows []webhookRow
	err := sqlx.SelectContext(ctx, c.q, &rows, `SELECT tenant_id, id, url, created FROM webhooks
		WHERE tenant_id = ? ORDER BY created, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	out := make([]store.Webhook, len(rows))
	for i, r := range rows {
		out[i] = store.Webhook{ID: r.ID, TenantID: r.TenantID, URL: r.URL, Created: fromMicro(r.Created)}
	}
	return out, nil
}

// deliveryRow is a delivery joined with its webhook and its event. Secret
// and Claim are read by ClaimDeliveries only.
type deliveryRow struct {
	TenantID     string         `db:"tenant_id"`
	ID           string         `db:"id"`
	WebhookID    string         `db:"webhook_id"`
	State        string         `db:"state"`
	Attempts     int            `db:"attempts"`
	NextAttempt  int64          `db:"next_attempt"`
	LastStatus   int            `db:"last_status"`
	LastError    sql.NullString `db:"last_error"`
	DeliveredAt  sql.NullInt64  `db:"delivered_at"`
	Claim        sql.NullString `db:"claim"`
	URL          string         `db:"url"`
	Secret       []byte         `db:"secret"`
	EventID      string         `db:"event_id"`
	EventAt      int64          `db:"event_at"`
	EventType    sql.NullString `db:"event_type"`
	ResourceType sql.NullString `db:"resource_type"`
	ResourceID   sql.NullString `db:"resource_id"`
	Payload      string         `db:"payload"`
}

func (r deliveryRow) delivery() store.Delivery {
	d := store.Delivery{
		ID: r.ID, TenantID: r.TenantID, WebhookID: r.WebhookID, URL: r.URL, Secret: r.Secret,
		Event: store.Event{ID: r.EventID, TenantID: r.TenantID, At: fromMicro(r.EventAt), Type: r.EventType.String,
			ResourceType: r.ResourceType.String, ResourceID: r.ResourceID.String, Payload: json.RawMessage(r.Payload)},
		State: r.State, Attempts: r.Attempts, NextAttempt: fromMicro(r.NextAttempt), LastStatus: r.LastStatus,
		LastError: r.LastError.String, Claim: r.Claim.String,
	}
	if r.DeliveredAt.Valid {
		d.DeliveredAt = fromMicro(r.DeliveredAt.Int64)
	}
	return d
}

// deliveryCols are the columns of deliveryRow but Secret and Claim, over
// deliveries d, webhooks w and outbox o.
const deliveryCols = `d.tenant_id, d.id, d.webhook_id, d.state, d.attempts, d.next_attempt, d.last_status,
	d.last_error, d.delivered_at, w.url, o.id AS event_id, o.at AS event_at, o.type AS event_type,
	o.resource_type, o.resource_id, o.payload`

// deliveryJoin joins a delivery d to its webhook w and its event o.
const deliveryJoin = `JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id
	JOIN outbox o ON o.tenant_id = d.tenant_id AND o.id = d.event_id`

// ListDeliveries returns up to limit deliveries of the tenant in the given
// state (every state for ""), newest event first (ev_seq, then id,
// descending), with their events and webhook URLs; Secret and Claim are
// left empty. A limit of zero or less returns none. Errors are the
// driver's.
func (c conn) ListDeliveries(ctx context.Context, tenantID, state string, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return []store.Delivery{}, nil
	}
	where, args := `d.tenant_id = ?`, []any{tenantID}
	if state != "" {
		where += ` AND d.state = ?`
		args = append(args, state)
	}
	var rows []deliveryRow
	err := sqlx.SelectContext(ctx, c.q, &rows, `SELECT `+deliveryCols+` FROM deliveries d `+deliveryJoin+`
		WHERE `+where+` ORDER BY d.ev_seq DESC, d.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	out := make([]store.Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, nil
}

// CreateWebhook inserts w. A URL the tenant already has is a
// *store.ConflictError for "url", an id it already has one for "id";
// other errors are the driver's.
func (t *tx) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	secret := w.Secret
	if secret == nil {
		secret = []byte{}
	}
	_, err := t.exec(ctx, "create webhook", `INSERT INTO webhooks (tenant_id, id, url, secret, created)
		VALUES (?, ?, ?, ?, ?)`, w.TenantID, w.ID, w.URL, secret, micro(w.Created))
	return err
}

// DeleteWebhook removes a webhook of the tenant and, by the foreign key's
// cascade, its deliveries. A webhook the tenant does not have is
// store.ErrNotFound; other errors are the driver's.
func (t *tx) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	n, err := t.exec(ctx, "delete webhook", `DELETE FROM webhooks WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// RetryDeliveries puts the dead deliveries of the tenant's event back to
// pending with no attempts and no lease, due at now, and returns how many
// it revived; their last status and error stay until the next attempt.
// An event without dead deliveries (or not of the tenant) is
// store.ErrNotFound; other errors are the driver's.
func (t *tx) RetryDeliveries(ctx context.Context, tenantID, eventID string, now time.Time) (int, error) {
	// The event's seq leads to its dead deliveries through deliveries_dead.
	n, err := t.exec(ctx, "retry deliveries", `UPDATE deliveries SET state = 'pending', attempts = 0,
		next_attempt = ?1, lease_until = NULL, claim = NULL
		WHERE tenant_id = ?2 AND state = 'dead' AND event_id = ?3
		AND ev_seq = (SELECT seq FROM outbox WHERE tenant_id = ?2 AND id = ?3)`, micro(now), tenantID, eventID)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, store.ErrNotFound
	}
	return int(n), nil
}

// claimSQL leases the claimable deliveries: pending, due, not leased (or
// the lease ran out) and first of their line, that is with no earlier
// pending delivery of the same webhook and resource (a leased one
// included, so the events of a resource go out one at a time). The oldest
// events go first; every delivery gets a claim of its own.
const claimSQL = `UPDATE deliveries SET lease_until = ?1, attempts = attempts + 1, claim = scimd_uuid7()
	WHERE (tenant_id, id) IN (
		SELECT d.tenant_id, d.id FROM deliveries d
		WHERE d.state = 'pending' AND d.next_attempt <= ?2 AND (d.lease_until IS NULL OR d.lease_until <= ?2)
		AND NOT EXISTS (SELECT 1 FROM deliveries p
			WHERE p.tenant_id = d.tenant_id AND p.webhook_id = d.webhook_id
			AND p.resource_type IS d.resource_type AND p.resource_id IS d.resource_id
			AND p.state = 'pending' AND p.ev_seq < d.ev_seq)
		ORDER BY d.ev_seq LIMIT ?3)
	RETURNING json_array(tenant_id, id)`

// claimedSQL reads the deliveries claimSQL leased (a JSON array of
// [tenant_id, id] pairs) with their webhooks and events, oldest event
// first.
const claimedSQL = `SELECT ` + deliveryCols + `, d.claim, w.secret
	FROM json_each(?) j
	JOIN deliveries d ON d.tenant_id = j.value ->> 0 AND d.id = j.value ->> 1 ` + deliveryJoin + `
	ORDER BY d.ev_seq, d.id`

// ClaimDeliveries leases up to limit claimable deliveries until now+lease
// in one write transaction: pending ones due at now whose lease (if any)
// ran out and that come first, in event order, among the pending
// deliveries of their webhook and resource. Each gets one more attempt and
// a fresh claim. They come back oldest event first with URL, Secret and
// Claim filled. The single writer serialises concurrent claims, so no
// delivery is handed out twice while its lease holds. A limit of zero or
// less claims none. Errors are the driver's.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return []store.Delivery{}, nil
	}
	var rows []deliveryRow
	err := s.write(ctx, func(t *tx) error {
		var keys []string // JSON arrays [tenant_id, id]
		if err := sqlx.SelectContext(ctx, t.q, &keys, claimSQL, micro(now.Add(lease)), micro(now), limit); err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		if len(keys) == 0 {
			return nil
		}
		if err := sqlx.SelectContext(ctx, t.q, &rows, claimedSQL, "["+strings.Join(keys, ",")+"]"); err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, nil
}

// FinishDelivery records the outcome of the attempt d.Claim names, in a
// write transaction of its own: delivered (delivered_at is o.At), dead, or
// pending again at o.NextAttempt (o.At when zero). The lease and the claim
// end either way. A claim that is not the delivery's current one, or a
// delivery that is gone or no longer pending, is store.ErrNotFound and
// changes nothing; other errors are the driver's.
func (s *Store) FinishDelivery(ctx context.Context, d store.Delivery, o store.DeliveryOutcome) error {
	state, next, deliveredAt := store.DeliveryPending, sql.NullInt64{}, sql.NullInt64{}
	switch {
	case o.Delivered:
		state, deliveredAt = store.DeliveryDelivered, sql.NullInt64{Int64: micro(o.At), Valid: true}
	case o.Dead:
		state = store.DeliveryDead
	default:
		na := o.NextAttempt
		if na.IsZero() {
			na = o.At
		}
		next = sql.NullInt64{Int64: micro(na), Valid: true}
	}
	lastError := o.Error
	if o.Delivered {
		lastError = ""
	}
	return s.write(ctx, func(t *tx) error {
		n, err := t.exec(ctx, "finish delivery", `UPDATE deliveries SET state = ?, next_attempt = COALESCE(?, next_attempt),
			delivered_at = ?, last_status = ?, last_error = ?, lease_until = NULL, claim = NULL
			WHERE tenant_id = ? AND id = ? AND claim = ? AND state = 'pending'`,
			state, next, deliveredAt, o.Status, str(lastError), d.TenantID, d.ID, d.Claim)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
}

// DeliveryStats counts the pending and the dead deliveries of all tenants
// and finds the event time of the oldest pending one, in one snapshot of
// the reader pool (it writes nothing, so it does not wait for the writer).
// Errors are the driver's.
func (s *Store) DeliveryStats(ctx context.Context) (store.DeliveryStats, error) {
	var r struct {
		Pending int           `db:"pending"`
		Dead    int           `db:"dead"`
		Oldest  sql.NullInt64 `db:"oldest"`
	}
	err := sqlx.GetContext(ctx, s.rconn().q, &r, `SELECT
		(SELECT COUNT(*) FROM deliveries WHERE state = 'pending') AS pending,
		(SELECT COUNT(*) FROM deliveries WHERE state = 'dead') AS dead,
		(SELECT MIN(o.at) FROM deliveries d JOIN outbox o ON o.tenant_id = d.tenant_id AND o.id = d.event_id
			WHERE d.state = 'pending') AS oldest`)
	if err != nil {
		return store.DeliveryStats{}, fmt.Errorf("sqlite: delivery stats: %w", err)
	}
	st := store.DeliveryStats{Pending: r.Pending, Dead: r.Dead}
	if r.Oldest.Valid {
		st.OldestPending = fromMicro(r.Oldest.Int64)
	}
	return st, nil
}

// QueryAudit implements store.EventReader; errors are the driver's.
func (s *Store) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	return s.rconn().QueryAudit(ctx, q)
}

// EventFeed implements store.EventReader; a malformed position is
// store.ErrInvalidCursor, other errors are the driver's.
func (s *Store) EventFeed(ctx context.Context, tenantID, after string, limit int) ([]store.Event, string, error) {
	return s.rconn().EventFeed(ctx, tenantID, after, limit)
}

// ListWebhooks implements store.EventReader; errors are the driver's.
func (s *Store) ListWebhooks(ctx context.Context, tenantID string) ([]store.Webhook, error) {
	return s.rconn().ListWebhooks(ctx, tenantID)
}

// ListDeliveries implements store.EventReader; errors are the driver's.
func (s *Store) ListDeliveries(ctx context.Context, tenantID, state string, limit int) ([]store.Delivery, error) {
	return s.rconn().ListDeliveries(ctx, tenantID, state, limit)
}
