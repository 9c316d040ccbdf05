-- +goose Up
-- Churn counts: per tenant and kind, how many times a row entered or left
-- the live set (users: created live, restored, deleted, erased, removed;
-- groups: created, deleted). Kept in the counter rows of 00004 by the same
-- triggers, so it is exact in every snapshot, every writer bumps it in the
-- transaction that moves the row, and every reader (replicas included)
-- sees the count that goes with the rows it sees. The count of a tenant is
-- the sum over its slots and never decreases: two snapshots with the same
-- count have the same live rows. Updates that keep a row live (PATCH,
-- deactivation) do not call tenant_counts_add and leave it alone.
-- store.Reader.UserCheckpoints reads it with the checkpoints of the live
-- user ids, and a deep page after a checkpoint (store.Query.IfChurn)
-- checks it in its own statement.
ALTER TABLE tenant_counts ADD COLUMN churn bigint NOT NULL DEFAULT 0;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenant_counts_add(tenant uuid, what text, d bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO tenant_counts (tenant_id, kind, slot, n, churn)
    VALUES (tenant, what, (pg_backend_pid() % 16)::smallint, d, 1)
    ON CONFLICT (tenant_id, kind, slot) DO UPDATE
    SET n = tenant_counts.n + EXCLUDED.n, churn = tenant_counts.churn + 1
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenant_counts_add(tenant uuid, what text, d bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO tenant_counts (tenant_id, kind, slot, n)
    VALUES (tenant, what, (pg_backend_pid() % 16)::smallint, d)
    ON CONFLICT (tenant_id, kind, slot) DO UPDATE SET n = tenant_counts.n + EXCLUDED.n
$$;
-- +goose StatementEnd
ALTER TABLE tenant_counts DROP COLUMN churn;
