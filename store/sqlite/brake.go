package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store"
)

// brakeRow is one row of deprovision_brakes.
type brakeRow struct {
	TenantID string        `db:"tenant_id"`
	PausedAt sql.NullInt64 `db:"paused_at"`
	Count    int           `db:"paused_count"`
	Limit    int           `db:"paused_limit"`
	Active   int           `db:"paused_active"`
	Percent  int           `db:"paused_percent"`
	Window   int           `db:"paused_window"`
	Resumed  sql.NullInt64 `db:"resumed_at"`
}

const brakeCols = `tenant_id, paused_at, paused_count, paused_limit, paused_active, paused_percent, paused_window, resumed_at`

func (r brakeRow) brake() store.Brake {
	b := store.Brake{TenantID: r.TenantID, Resumed: fromMicroPtr(r.Resumed)}
	if r.PausedAt.Valid {
		b.Paused = &store.BrakePause{At: fromMicro(r.PausedAt.Int64), Count: r.Count, Limit: r.Limit,
			ActiveUsers: r.Active, Percent: r.Percent, WindowMinutes: r.Window}
	}
	return b
}

// getBrake reads the tenant's brake row; found is false when it has none.
func (c conn) getBrake(ctx context.Context, tenantID string) (b store.Brake, found bool, err error) {
	var row brakeRow
	err = sqlx.GetContext(ctx, c.q, &row, `SELECT `+brakeCols+` FROM deprovision_brakes WHERE tenant_id = ?`, tenantID)
	switch {
	case isNoRows(err):
		return store.Brake{TenantID: tenantID}, false, nil
	case err != nil:
		return store.Brake{}, false, fmt.Errorf("sqlite: get brake: %w", err)
	}
	return row.brake(), true, nil
}

// GetBrake implements store.BrakeReader.
func (c conn) GetBrake(ctx context.Context, tenantID string) (store.Brake, error) {
	b, _, err := c.getBrake(ctx, tenantID)
	return b, err
}

// GetBrake implements store.BrakeReader on the reader pool.
func (s *Store) GetBrake(ctx context.Context, tenantID string) (store.Brake, error) {
	return s.rconn().GetBrake(ctx, tenantID)
}

// LockBrake implements store.BrakeWriter. The transaction began IMMEDIATE
// and holds the database's write lock, so it only creates the row.
func (t *tx) LockBrake(ctx context.Context, tenantID string) (store.Brake, error) {
	b, found, err := t.getBrake(ctx, tenantID)
	if err != nil || found {
		return b, err
	}
	n, err := t.exec(ctx, "create brake", `INSERT INTO deprovision_brakes (tenant_id)
		SELECT id FROM tenants WHERE id = ? ON CONFLICT (tenant_id) DO NOTHING`, tenantID)
	if err != nil {
		return store.Brake{}, err
	}
	if n == 0 {
		return store.Brake{}, store.ErrNotFound
	}
	return store.Brake{TenantID: tenantID}, nil
}

// CountDeprovisions implements store.BrakeWriter.
func (t *tx) CountDeprovisions(ctx context.Context, tenantID string, since time.Time) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, t.q, &n, `SELECT COALESCE(SUM(n), 0) FROM deprovision_minutes
		WHERE tenant_id = ? AND minute >= ?`, tenantID, store.BrakeMinute(since))
	if err != nil {
		return 0, fmt.Errorf("sqlite: count deprovisions: %w", err)
	}
	return n, nil
}

// RecordDeprovision implements store.BrakeWriter.
func (t *tx) RecordDeprovision(ctx context.Context, tenantID string, at time.Time) error {
	if _, err := t.exec(ctx, "record deprovision", `INSERT INTO deprovision_minutes (tenant_id, minute, n) VALUES (?, ?, 1)
		ON CONFLICT (tenant_id, minute) DO UPDATE SET n = n + 1`, tenantID, store.BrakeMinute(at)); err != nil {
		return err
	}
	_, err := t.exec(ctx, "prune deprovisions", `DELETE FROM deprovision_minutes WHERE tenant_id = ? AND minute < ?`,
		tenantID, store.BrakeMinute(at.Add(-store.DeprovisionKeep)))
	return err
}

// PauseBrake implements store.BrakeWriter.
func (t *tx) PauseBrake(ctx context.Context, tenantID string, p store.BrakePause) error {
	n, err := t.exec(ctx, "pause brake", `UPDATE deprovision_brakes SET paused_at = ?, paused_count = ?,
		paused_limit = ?, paused_active = ?, paused_percent = ?, paused_window = ? WHERE tenant_id = ?`,
		micro(p.At), p.Count, p.Limit, p.ActiveUsers, p.Percent, p.WindowMinutes, tenantID)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// ResumeBrake implements store.BrakeWriter.
func (t *tx) ResumeBrake(ctx context.Context, tenantID string, at time.Time) error {
	n, err := t.exec(ctx, "resume brake", `UPDATE deprovision_brakes SET paused_at = NULL, paused_count = 0,
		paused_limit = 0, paused_active = 0, paused_percent = 0, paused_window = 0, resumed_at = ? WHERE tenant_id = ?`,
		micro(at), tenantID)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	_, err = t.exec(ctx, "forget deprovisions", `DELETE FROM deprovision_minutes WHERE tenant_id = ?`, tenantID)
	return err
}
