package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/scimd/scimd/store"
)

// The console contract (store/console.go): ConsoleStore on Store, each
// method one statement outside any explicit transaction.

const consoleCols = `id, tenant_id, user_id, kind, hash, created, expires, used`

// scanConsoleSecret reads one row of consoleCols; no row is
// store.ErrNotFound.
func scanConsoleSecret(row interface{ Scan(...any) error }) (store.ConsoleSecret, error) {
	var cs store.ConsoleSecret
	var used sql.NullTime
	if err := row.Scan(&cs.ID, &cs.TenantID, &cs.UserID, &cs.Kind, &cs.Hash, &cs.Created, &cs.Expires, &used); err != nil {
		return oneRow(store.ConsoleSecret{}, err)
	}
	cs.Created, cs.Expires, cs.Used = cs.Created.UTC(), cs.Expires.UTC(), timePtr(used)
	return cs, nil
}

// CreateConsoleSecret inserts cs (every field but Used set; ID, TenantID
// and UserID canonical UUIDs, Kind store.ConsoleLogin or
// store.ConsoleSession). A duplicate hash or id is store.ErrConflict; a
// malformed id is an error; other errors (an unknown tenant or kind
// included) are the driver's.
func (s *Store) CreateConsoleSecret(ctx context.Context, cs *store.ConsoleSecret) error {
	for _, id := range []struct{ what, id string }{{"secret id", cs.ID}, {"tenant id", cs.TenantID}, {"user id", cs.UserID}} {
		if err := needID(id.what, id.id); err != nil {
			return err
		}
	}
	_, err := s.q.ExecContext(ctx, `INSERT INTO console_secrets (`+consoleCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		cs.ID, cs.TenantID, cs.UserID, cs.Kind, cs.Hash, cs.Created, cs.Expires, nullTime(cs.Used))
	return mapErr(err)
}

// ConsumeConsoleLogin marks the unused login link whose hash is hash used
// at now, unless it has expired at now, and returns it, with one UPDATE:
// of concurrent consumers of one link, the others wait for the first and
// then find it used. A link that is unknown, used or expired is
// store.ErrNotFound; other errors are the driver's.
func (s *Store) ConsumeConsoleLogin(ctx context.Context, hash []byte, now time.Time) (store.ConsoleSecret, error) {
	return scanConsoleSecret(s.q.QueryRowxContext(ctx, `UPDATE console_secrets SET used = $2
		WHERE hash = $1 AND kind = 'login' AND used IS NULL AND expires > $2
		RETURNING `+consoleCols, hash, now))
}

// ConsoleSessionByHash returns the session whose hash is hash, or
// store.ErrNotFound when there is none or it has expired at now; other
// errors are the driver's.
func (s *Store) ConsoleSessionByHash(ctx context.Context, hash []byte, now time.Time) (store.ConsoleSecret, error) {
	return scanConsoleSecret(s.q.QueryRowxContext(ctx, `SELECT `+consoleCols+` FROM console_secrets
		WHERE hash = $1 AND kind = 'session' AND expires > $2`, hash, now))
}

// DeleteConsoleSecret removes the secret whose hash is hash; an unknown
// hash is not an error. Errors are the driver's.
func (s *Store) DeleteConsoleSecret(ctx context.Context, hash []byte) error {
	_, err := s.q.ExecContext(ctx, `DELETE FROM console_secrets WHERE hash = $1`, hash)
	return err
}

// PurgeConsoleSecrets removes the secrets that expired before now
// (console_secrets_expires_idx) and returns how many. Errors are the
// driver's.
func (s *Store) PurgeConsoleSecrets(ctx context.Context, now time.Time) (int, error) {
	res, err := s.q.ExecContext(ctx, `DELETE FROM console_secrets WHERE expires < $1`, now)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// lastActive maps a stored last-active time to User.LastActive: nil for
// store.NeverActive (and for NULL, the empty side of an outer join).
func lastActive(t sql.NullTime) *time.Time {
	if t.Valid && t.Time.Equal(store.NeverActive) {
		return nil
	}
	return timePtr(t)
}

// TouchUserActive sets the last-active time of a live user of the tenant
// to at when it is unset (store.NeverActive, which is older than any at)
// or older than at − store.ActiveGranularity, with one UPDATE of that
// column alone: the counting triggers fire on UPDATE OF state only, so
// neither the version, the modified time, the counts nor the churn move.
// A user it need not write is not locked. An unknown, deleted or
// malformed id changes nothing and is not an error; other errors are the
// driver's.
func (s *Store) TouchUserActive(ctx context.Context, tenantID, userID string, at time.Time) error {
	if !parseID(tenantID) || !parseID(userID) {
		return nil
	}
	_, err := s.q.ExecContext(ctx, `UPDATE users SET last_active = $3
		WHERE tenant_id = $1 AND id = $2 AND state <> 'deleted' AND last_active < $4`,
		tenantID, userID, at, at.Add(-store.ActiveGranularity))
	return err
}

// CountDeliveries returns how many deliveries of the tenant are in each
// state (states without any are absent; none for a malformed tenant id),
// counted on deliveries_state_idx. Errors are the driver's.
func (s *Store) CountDeliveries(ctx context.Context, tenantID string) (map[string]int, error) {
	out := map[string]int{}
	if !parseID(tenantID) {
		return out, nil
	}
	rows, err := s.q.QueryxContext(ctx, `SELECT state, count(*) FROM deliveries WHERE tenant_id = $1 GROUP BY state`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		out[state] = n
	}
	return out, rows.Err()
}
