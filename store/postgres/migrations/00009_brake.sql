-- +goose Up
-- The mass-deprovisioning brake (store.BrakeReader, store.BrakeWriter):
-- each tenant's brake state, and its deactivations and deletions counted
-- by the minute.

-- One row per tenant whose brake was ever consulted, created by LockBrake;
-- its row lock serialises the tenant's destructive changes. paused_at is
-- set while the brake holds, with the facts of the change that tripped it
-- in the other paused_ columns; resumed_at is the last resume.
CREATE TABLE deprovision_brakes (
    tenant_id      uuid        PRIMARY KEY,
    paused_at      timestamptz,
    paused_count   integer     NOT NULL DEFAULT 0,
    paused_limit   integer     NOT NULL DEFAULT 0,
    paused_active  integer     NOT NULL DEFAULT 0,
    paused_percent integer     NOT NULL DEFAULT 0,
    paused_window  integer     NOT NULL DEFAULT 0,
    resumed_at     timestamptz,
    CONSTRAINT deprovision_brakes_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- The destructive changes of a tenant by minute (Unix seconds / 60): a
-- count is a sum over at most a window's minutes of one primary-key range,
-- however many changes the window holds. Rows older than a day are pruned
-- as new ones are counted; a resume deletes the tenant's rows.
CREATE TABLE deprovision_minutes (
    tenant_id uuid    NOT NULL,
    minute    bigint  NOT NULL,
    n         integer NOT NULL,
    PRIMARY KEY (tenant_id, minute),
    CONSTRAINT deprovision_minutes_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- +goose Down
DROP TABLE deprovision_minutes;
DROP TABLE deprovision_brakes;
