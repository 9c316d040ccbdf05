package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store"
)

// The console contract (store/console.go): ConsoleStore on Store. Writes
// run in a write transaction of their own on the single writer, reads on
// the reader pool.

const consoleCols = `id, tenant_id, user_id, kind, hash, created, expires, used`

type consoleRow struct {
	ID       string        `db:"id"`
	TenantID string        `db:"tenant_id"`
	UserID   string        `db:"user_id"`
	Kind     string        `db:"kind"`
	Hash     []byte        `db:"hash"`
	Created  int64         `db:"created"`
	Expires  int64         `db:"expires"`
	Used     sql.NullInt64 `db:"used"`
}

// getConsoleSecret runs a query of one row of consoleCols; no row is
// store.ErrNotFound.
func getConsoleSecret(ctx context.Context, q sqlx.QueryerContext, what, query string, args ...any) (store.ConsoleSecret, error) {
	var r consoleRow
	err := sqlx.GetContext(ctx, q, &r, query, args...)
	if isNoRows(err) {
		return store.ConsoleSecret{}, store.ErrNotFound
	}
	if err != nil {
		return store.ConsoleSecret{}, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return store.ConsoleSecret{ID: r.ID, TenantID: r.TenantID, UserID: r.UserID, Kind: r.Kind, Hash: r.Hash,
		Created: fromMicro(r.Created), Expires: fromMicro(r.Expires), Used: fromMicroPtr(r.Used)}, nil
}

// CreateConsoleSecret inserts cs (every field but Used set; Kind
// store.ConsoleLogin or store.ConsoleSession). A duplicate hash is a
// *store.ConflictError for "hash", a duplicate id one for "id"; other
// errors (an unknown tenant or kind included) are the driver's.
func (s *Store) CreateConsoleSecret(ctx context.Context, cs *store.ConsoleSecret) error {
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(ctx, "create console secret", `INSERT INTO console_secrets (`+consoleCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			cs.ID, cs.TenantID, cs.UserID, cs.Kind, cs.Hash, micro(cs.Created), micro(cs.Expires), microPtr(cs.Used))
		return err
	})
}

// ConsumeConsoleLogin marks the unused login link whose hash is hash used
// at now, unless it has expired at now, and returns it, with one UPDATE on
// the single writer: of concurrent consumers of one link, the ones after
// the first find it used. A link that is unknown, used or expired is
// store.ErrNotFound; other errors are the driver's.
func (s *Store) ConsumeConsoleLogin(ctx context.Context, hash []byte, now time.Time) (cs store.ConsoleSecret, err error) {
	err = s.write(ctx, func(t *tx) error {
		cs, err = getConsoleSecret(ctx, t.q, "consume console login", `UPDATE console_secrets SET used = ?2
			WHERE hash = ?1 AND kind = 'login' AND used IS NULL AND expires > ?2
			RETURNING `+consoleCols, hash, micro(now))
		return err
	})
	return cs, err
}

// ConsoleSessionByHash returns the session whose hash is hash, or
// store.ErrNotFound when there is none or it has expired at now; other
// errors are the driver's.
func (s *Store) ConsoleSessionByHash(ctx context.Context, hash []byte, now time.Time) (store.ConsoleSecret, error) {
	return getConsoleSecret(ctx, s.rconn().q, "console session", `SELECT `+consoleCols+` FROM console_secrets
		WHERE hash = ? AND kind = 'session' AND expires > ?`, hash, micro(now))
}

// DeleteConsoleSecret removes the secret whose hash is hash; an unknown
// hash is not an error. Errors are the driver's.
func (s *Store) DeleteConsoleSecret(ctx context.Context, hash []byte) error {
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(ctx, "delete console secret", `DELETE FROM console_secrets WHERE hash = ?`, hash)
		return err
	})
}

// PurgeConsoleSecrets removes the secrets that expired before now
// (console_secrets_expires) and returns how many. Errors are the driver's.
func (s *Store) PurgeConsoleSecrets(ctx context.Context, now time.Time) (n int, err error) {
	err = s.write(ctx, func(t *tx) error {
		purged, err := t.exec(ctx, "purge console secrets", `DELETE FROM console_secrets WHERE expires < ?`, micro(now))
		n = int(purged)
		return err
	})
	return n, err
}

// lastActive maps a stored last-active time to User.LastActive: nil for
// store.NeverActive.
func lastActive(v int64) *time.Time {
	if v == micro(store.NeverActive) {
		return nil
	}
	t := fromMicro(v)
	return &t
}

// touchUser is the condition on the live user of TouchUserActive (?1 the
// tenant, ?2 the id) whose last-active time is before ?3 (never active is
// store.NeverActive, before any).
const touchUser = `tenant_id = ?1 AND id = ?2 AND state <> 'deleted' AND last_active < ?3`

// TouchUserActive sets the last-active time of a live user of the tenant
// to at when it is unset (store.NeverActive, which is older than any at)
// or older than at − store.ActiveGranularity, with one UPDATE of that
// column alone. Its caller (provision.CheckAccess) calls it only when the
// user it has just read is due, so it does not ask the reader pool first.
// The counting triggers fire on UPDATE OF state only, so neither the
// version, the modified time, the counts nor the churn move. An unknown,
// deleted or malformed id changes nothing and is not an error; other
// errors are the driver's.
func (s *Store) TouchUserActive(ctx context.Context, tenantID, userID string, at time.Time) error {
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(ctx, "touch user", `UPDATE users SET last_active = ?4 WHERE `+touchUser,
			tenantID, userID, micro(at.Add(-store.ActiveGranularity)), micro(at))
		return err
	})
}

// CountDeliveries returns how many deliveries of the tenant are in each
// state (states without any are absent). Errors are the driver's.
func (s *Store) CountDeliveries(ctx context.Context, tenantID string) (map[string]int, error) {
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, s.rconn().q, &rows, `SELECT state, COUNT(*) AS n FROM deliveries
		WHERE tenant_id = ? GROUP BY state`, tenantID); err != nil {
		return nil, fmt.Errorf("sqlite: count deliveries: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}
