package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store"
)

// The Idempotency-Key contract (store/idempotency.go): IdempotencyStore on
// Store, each write in a write transaction of its own on the single
// writer, and IdempotencyWriter on tx.

const idemCols = `tenant_id, key, fingerprint, state, status, resource_type, resource_id, response, created, expires`

type idemRow struct {
	TenantID     string `db:"tenant_id"`
	Key          string `db:"key"`
	Fingerprint  []byte `db:"fingerprint"`
	State        string `db:"state"`
	Status       int    `db:"status"`
	ResourceType string `db:"resource_type"`
	ResourceID   string `db:"resource_id"`
	Response     []byte `db:"response"`
	Created      int64  `db:"created"`
	Expires      int64  `db:"expires"`
}

// getIdem runs a query of one row of idemCols; no row is
// store.ErrNotFound.
func getIdem(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) (store.IdempotencyKey, error) {
	var r idemRow
	err := sqlx.GetContext(ctx, q, &r, query, args...)
	if isNoRows(err) {
		return store.IdempotencyKey{}, store.ErrNotFound
	}
	if err != nil {
		return store.IdempotencyKey{}, fmt.Errorf("sqlite: idempotency key: %w", err)
	}
	return store.IdempotencyKey{TenantID: r.TenantID, Key: r.Key, Fingerprint: r.Fingerprint, State: r.State,
		Status: r.Status, ResourceType: r.ResourceType, ResourceID: r.ResourceID, Response: r.Response,
		Created: fromMicro(r.Created), Expires: fromMicro(r.Expires)}, nil
}

// upsertIdem writes k over no row, or over the row of its tenant and key
// when that row matches the condition replaceable (in terms of the
// stored row, idempotency_keys, and the new one, excluded), and returns
// whether it wrote.
func (t *tx) upsertIdem(ctx context.Context, k *store.IdempotencyKey, state, replaceable string, args ...any) (bool, error) {
	n, err := t.exec(ctx, "write idempotency key", `INSERT INTO idempotency_keys (`+idemCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = excluded.state,
			status = excluded.status, resource_type = excluded.resource_type, resource_id = excluded.resource_id,
			response = excluded.response, created = excluded.created, expires = excluded.expires
		WHERE `+replaceable,
		append([]any{k.TenantID, k.Key, k.Fingerprint, state, k.Status, k.ResourceType, k.ResourceID, k.Response,
			micro(k.Created), micro(k.Expires)}, args...)...)
	return n > 0, err
}

// PutIdempotencyKey implements store.IdempotencyWriter: a live row of the
// key is store.ErrKeyInUse (the IMMEDIATE transaction holds the write
// lock, so no other writer is between the check and the write); other
// errors are the driver's.
func (t *tx) PutIdempotencyKey(ctx context.Context, k *store.IdempotencyKey) error {
	wrote, err := t.upsertIdem(ctx, k, store.IdempotencyDone, `idempotency_keys.expires <= excluded.created`)
	if err != nil {
		return err
	}
	if !wrote {
		return store.ErrKeyInUse
	}
	return nil
}

// GetIdempotencyKey implements store.IdempotencyStore on the reader pool:
// a key without a row live at now is store.ErrNotFound; other errors are
// the driver's.
func (s *Store) GetIdempotencyKey(ctx context.Context, tenantID, key string, now time.Time) (store.IdempotencyKey, error) {
	return getIdem(ctx, s.rconn().q, `SELECT `+idemCols+` FROM idempotency_keys
		WHERE tenant_id = ? AND key = ? AND expires > ?`, tenantID, key, micro(now))
}

// ClaimIdempotencyKey implements store.IdempotencyStore with one upsert
// on the single writer (so of concurrent claims the later ones find the
// first's row), and a read of the live row when it did not write. Errors
// are the driver's.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k *store.IdempotencyKey, staleBefore time.Time) (existing store.IdempotencyKey, claimed bool, err error) {
	err = s.write(ctx, func(t *tx) error {
		claimed, err = t.upsertIdem(ctx, k, store.IdempotencyPending, `idempotency_keys.expires <= excluded.created
			OR (idempotency_keys.state = 'pending' AND idempotency_keys.created < ?)`, micro(staleBefore))
		if err != nil || claimed {
			return err
		}
		existing, err = getIdem(ctx, t.q, `SELECT `+idemCols+` FROM idempotency_keys WHERE tenant_id = ? AND key = ?`,
			k.TenantID, k.Key)
		return err
	})
	if err != nil {
		return store.IdempotencyKey{}, false, err
	}
	return existing, claimed, nil
}

// FinishIdempotencyKey implements store.IdempotencyStore: a row that is
// not the pending one claimed at k.Created is store.ErrNotFound; other
// errors are the driver's.
func (s *Store) FinishIdempotencyKey(ctx context.Context, k *store.IdempotencyKey) error {
	return s.write(ctx, func(t *tx) error {
		n, err := t.exec(ctx, "finish idempotency key", `UPDATE idempotency_keys SET state = 'done', status = ?,
			response = ? WHERE tenant_id = ? AND key = ? AND state = 'pending' AND created = ?`,
			k.Status, k.Response, k.TenantID, k.Key, micro(k.Created))
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
}

// ReleaseIdempotencyKey implements store.IdempotencyStore; errors are the
// driver's.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, k *store.IdempotencyKey) error {
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec(ctx, "release idempotency key", `DELETE FROM idempotency_keys
			WHERE tenant_id = ? AND key = ? AND state = 'pending' AND created = ?`, k.TenantID, k.Key, micro(k.Created))
		return err
	})
}

// PurgeIdempotencyKeys implements store.IdempotencyStore: it removes the
// oldest expired rows first (idempotency_keys_expires). Errors are the
// driver's.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, now time.Time, limit int) (n int, err error) {
	if limit <= 0 {
		return 0, nil
	}
	err = s.write(ctx, func(t *tx) error {
		m, err := t.exec(ctx, "purge idempotency keys", `DELETE FROM idempotency_keys WHERE (tenant_id, key) IN (
			SELECT tenant_id, key FROM idempotency_keys WHERE expires <= ? ORDER BY expires LIMIT ?)`, micro(now), limit)
		n = int(m)
		return err
	})
	return n, err
}
