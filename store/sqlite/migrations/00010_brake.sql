-- +goose Up
-- The mass-deprovisioning brake (store.BrakeReader, store.BrakeWriter):
-- each tenant's brake state, and its deactivations and deletions counted
-- by the minute. Times are unix microseconds, as everywhere.

-- One row per tenant whose brake was ever consulted, created by LockBrake
-- (the write transaction is exclusive, so it needs no lock of its own).
-- paused_at is set while the brake holds, with the facts of the change
-- that tripped it in the other paused_ columns; resumed_at is the last
-- resume.
CREATE TABLE deprovision_brakes (
    tenant_id      TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id),
    paused_at      INTEGER,
    paused_count   INTEGER NOT NULL DEFAULT 0,
    paused_limit   INTEGER NOT NULL DEFAULT 0,
    paused_active  INTEGER NOT NULL DEFAULT 0,
    paused_percent INTEGER NOT NULL DEFAULT 0,
    paused_window  INTEGER NOT NULL DEFAULT 0,
    resumed_at     INTEGER
) WITHOUT ROWID;

-- The destructive changes of a tenant by minute (Unix seconds / 60): a
-- count is a sum over at most a window's minutes of one primary-key range.
-- Rows older than a day are pruned as new ones are counted; a resume
-- deletes the tenant's rows.
CREATE TABLE deprovision_minutes (
    tenant_id TEXT    NOT NULL REFERENCES tenants (id),
    minute    INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, minute)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE deprovision_minutes;
DROP TABLE deprovision_brakes;
