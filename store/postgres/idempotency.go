package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store"
)

// The Idempotency-Key contract (store/idempotency.go): IdempotencyStore on
// Store, each method one statement outside any explicit transaction
// (ClaimIdempotencyKey two), and IdempotencyWriter on txn.

const idemCols = `tenant_id, key, fingerprint, state, status, resource_type, resource_id, response, created, expires`

// scanIdem reads one row of idemCols; no row is store.ErrNotFound.
func scanIdem(row interface{ Scan(...any) error }) (store.IdempotencyKey, error) {
	var k store.IdempotencyKey
	if err := row.Scan(&k.TenantID, &k.Key, &k.Fingerprint, &k.State, &k.Status, &k.ResourceType, &k.ResourceID,
		&k.Response, &k.Created, &k.Expires); err != nil {
		return oneRow(store.IdempotencyKey{}, err)
	}
	k.Created, k.Expires = k.Created.UTC(), k.Expires.UTC()
	return k, nil
}

// upsertIdem writes k over no row, or over the row of its tenant and key
// when that row matches the condition replaceable (in terms of the
// stored row, idempotency_keys, and the new one, excluded; further
// arguments are $11…), and returns whether it wrote. A concurrent
// writer of the same key makes it wait for that writer's transaction;
// the condition is then tested on the row it committed.
func upsertIdem(ctx context.Context, q sqlx.ExecerContext, k *store.IdempotencyKey, state, replaceable string, args ...any) (bool, error) {
	if err := needID("tenant id", k.TenantID); err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, `INSERT INTO idempotency_keys (`+idemCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (tenant_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = excluded.state,
			status = excluded.status, resource_type = excluded.resource_type, resource_id = excluded.resource_id,
			response = excluded.response, created = excluded.created, expires = excluded.expires
		WHERE `+replaceable,
		append([]any{k.TenantID, k.Key, k.Fingerprint, state, k.Status, k.ResourceType, k.ResourceID, k.Response,
			k.Created, k.Expires}, args...)...)
	if err != nil {
		return false, mapErr(err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// PutIdempotencyKey implements store.IdempotencyWriter in the
// transaction: a live row of the key (committed by a concurrent
// transaction this one waited for included) is store.ErrKeyInUse; a
// malformed tenant id is an error; other errors are the driver's.
func (t *txn) PutIdempotencyKey(ctx context.Context, k *store.IdempotencyKey) error {
	wrote, err := upsertIdem(ctx, t.q, k, store.IdempotencyDone, `idempotency_keys.expires <= excluded.created`)
	if err != nil {
		return err
	}
	if !wrote {
		return store.ErrKeyInUse
	}
	return nil
}

// GetIdempotencyKey implements store.IdempotencyStore: a key without a
// row live at now (or a malformed tenant id) is store.ErrNotFound; other
// errors are the driver's.
func (s *Store) GetIdempotencyKey(ctx context.Context, tenantID, key string, now time.Time) (store.IdempotencyKey, error) {
	if !parseID(tenantID) {
		return store.IdempotencyKey{}, store.ErrNotFound
	}
	return scanIdem(s.q.QueryRowxContext(ctx, `SELECT `+idemCols+` FROM idempotency_keys
		WHERE tenant_id = $1 AND key = $2 AND expires > $3`, tenantID, key, now))
}

// claimAttempts bounds ClaimIdempotencyKey's retries when the row it
// lost to vanishes (released or purged) before it is read.
const claimAttempts = 5

// ClaimIdempotencyKey implements store.IdempotencyStore with one upsert
// (of concurrent claims, the later ones wait for the first and then find
// its row) and, when it did not write, a read of the row it lost to. A
// malformed tenant id is an error; other errors are the driver's.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k *store.IdempotencyKey, staleBefore time.Time) (store.IdempotencyKey, bool, error) {
	for range claimAttempts {
		claimed, err := upsertIdem(ctx, s.q, k, store.IdempotencyPending, `idempotency_keys.expires <= excluded.created
			OR (idempotency_keys.state = 'pending' AND idempotency_keys.created < $11)`, staleBefore)
		if err != nil || claimed {
			return store.IdempotencyKey{}, claimed, err
		}
		existing, err := scanIdem(s.q.QueryRowxContext(ctx, `SELECT `+idemCols+` FROM idempotency_keys
			WHERE tenant_id = $1 AND key = $2`, k.TenantID, k.Key))
		if errors.Is(err, store.ErrNotFound) {
			continue // released or purged since: claim again
		}
		return existing, false, err
	}
	return store.IdempotencyKey{}, false, errors.New("postgres: claim idempotency key: the row kept changing")
}

// FinishIdempotencyKey implements store.IdempotencyStore: a row that is
// not the pending one claimed at k.Created is store.ErrNotFound; other
// errors are the driver's.
func (s *Store) FinishIdempotencyKey(ctx context.Context, k *store.IdempotencyKey) error {
	if !parseID(k.TenantID) {
		return store.ErrNotFound
	}
	res, err := s.q.ExecContext(ctx, `UPDATE idempotency_keys SET state = 'done', status = $3, response = $4
		WHERE tenant_id = $1 AND key = $2 AND state = 'pending' AND created = $5`,
		k.TenantID, k.Key, k.Status, k.Response, k.Created)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ReleaseIdempotencyKey implements store.IdempotencyStore; errors are the
// driver's.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, k *store.IdempotencyKey) error {
	if !parseID(k.TenantID) {
		return nil
	}
	_, err := s.q.ExecContext(ctx, `DELETE FROM idempotency_keys
		WHERE tenant_id = $1 AND key = $2 AND state = 'pending' AND created = $3`, k.TenantID, k.Key, k.Created)
	return err
}

// PurgeIdempotencyKeys implements store.IdempotencyStore: it removes the
// oldest expired rows first (idempotency_keys_expires_idx); rows another
// purge has locked are left to it. Errors are the driver's.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := s.q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (tenant_id, key) IN (
		SELECT tenant_id, key FROM idempotency_keys WHERE expires <= $1 ORDER BY expires LIMIT $2
		FOR UPDATE SKIP LOCKED)`, now, limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
