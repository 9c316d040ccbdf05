package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/scimd/scimd/store"
)

const brakeCols = `tenant_id, paused_at, paused_count, paused_limit, paused_active, paused_percent, paused_window, resumed_at`

func scanBrake(sc interface{ Scan(...any) error }) (store.Brake, error) {
	var (
		b                                   store.Brake
		paused, resumed                     sql.NullTime
		count, limit, active, percent, wind int
	)
	if err := sc.Scan(&b.TenantID, &paused, &count, &limit, &active, &percent, &wind, &resumed); err != nil {
		return store.Brake{}, err
	}
	b.Resumed = timePtr(resumed)
	if paused.Valid {
		b.Paused = &store.BrakePause{At: paused.Time.UTC(), Count: count, Limit: limit, ActiveUsers: active,
			Percent: percent, WindowMinutes: wind}
	}
	return b, nil
}

// GetBrake implements store.BrakeReader: a tenant without a brake row (an
// unknown or malformed id included) has the zero state; errors are the
// driver's.
func (r reader) GetBrake(ctx context.Context, tenantID string) (store.Brake, error) {
	if !parseID(tenantID) {
		return store.Brake{TenantID: tenantID}, nil
	}
	b, err := scanBrake(r.q.QueryRowxContext(ctx, `SELECT `+brakeCols+` FROM deprovision_brakes WHERE tenant_id = $1`, tenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Brake{TenantID: tenantID}, nil
	}
	return b, err
}

// LockBrake implements store.BrakeWriter: SELECT … FOR UPDATE of the
// tenant's brake row, which an INSERT creates first when the tenant has
// none (concurrent creators meet on the primary key, and the loser locks
// the winner's row). Unknown or malformed tenant: store.ErrNotFound.
func (t *txn) LockBrake(ctx context.Context, tenantID string) (store.Brake, error) {
	if !parseID(tenantID) {
		return store.Brake{}, store.ErrNotFound
	}
	lock := func() (store.Brake, error) {
		return scanBrake(t.q.QueryRowxContext(ctx, `SELECT `+brakeCols+` FROM deprovision_brakes WHERE tenant_id = $1 FOR UPDATE`, tenantID))
	}
	b, err := lock()
	if !errors.Is(err, sql.ErrNoRows) {
		return b, err
	}
	if _, err := t.exec(ctx, `INSERT INTO deprovision_brakes (tenant_id)
		SELECT id FROM tenants WHERE id = $1 ON CONFLICT (tenant_id) DO NOTHING`, tenantID); err != nil {
		return store.Brake{}, err
	}
	return oneRow(lock())
}

// CountDeprovisions implements store.BrakeWriter; errors are the driver's.
func (t *txn) CountDeprovisions(ctx context.Context, tenantID string, since time.Time) (int, error) {
	if !parseID(tenantID) {
		return 0, nil
	}
	var n int
	err := t.q.QueryRowxContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM deprovision_minutes
		WHERE tenant_id = $1 AND minute >= $2`, tenantID, store.BrakeMinute(since)).Scan(&n)
	return n, err
}

// RecordDeprovision implements store.BrakeWriter in one statement: the
// upsert of the change's minute and the pruning of the old ones. A
// malformed tenant id is an error.
func (t *txn) RecordDeprovision(ctx context.Context, tenantID string, at time.Time) error {
	if err := needID("tenant id", tenantID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `WITH pruned AS (
			DELETE FROM deprovision_minutes WHERE tenant_id = $1 AND minute < $3
		)
		INSERT INTO deprovision_minutes (tenant_id, minute, n) VALUES ($1, $2, 1)
		ON CONFLICT (tenant_id, minute) DO UPDATE SET n = deprovision_minutes.n + 1`,
		tenantID, store.BrakeMinute(at), store.BrakeMinute(at.Add(-store.DeprovisionKeep)))
	return err
}

// PauseBrake implements store.BrakeWriter.
func (t *txn) PauseBrake(ctx context.Context, tenantID string, p store.BrakePause) error {
	if !parseID(tenantID) {
		return store.ErrNotFound
	}
	n, err := t.exec(ctx, `UPDATE deprovision_brakes SET paused_at = $2, paused_count = $3, paused_limit = $4,
		paused_active = $5, paused_percent = $6, paused_window = $7 WHERE tenant_id = $1`,
		tenantID, p.At, p.Count, p.Limit, p.ActiveUsers, p.Percent, p.WindowMinutes)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// ResumeBrake implements store.BrakeWriter.
func (t *txn) ResumeBrake(ctx context.Context, tenantID string, at time.Time) error {
	if !parseID(tenantID) {
		return store.ErrNotFound
	}
	n, err := t.exec(ctx, `UPDATE deprovision_brakes SET paused_at = NULL, paused_count = 0, paused_limit = 0,
		paused_active = 0, paused_percent = 0, paused_window = 0, resumed_at = $2 WHERE tenant_id = $1`, tenantID, at)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	_, err = t.exec(ctx, `DELETE FROM deprovision_minutes WHERE tenant_id = $1`, tenantID)
	return err
}
