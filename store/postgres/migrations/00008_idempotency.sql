-- +goose Up
-- Idempotency-Key (store.IdempotencyStore, store.IdempotencyWriter): one
-- row per key a tenant sent on POST /Users, /Groups or /Bulk, live for
-- 24 hours. fingerprint is the SHA-256 of the request (method, path,
-- body); state 'pending' while a /Bulk request runs, 'done' once its
-- outcome is recorded (a create writes its key 'done' in the create's
-- own transaction, so the primary key makes a concurrent create with the
-- same key wait for it). resource_type and resource_id name what the
-- request created ('User', 'Group'; 'Bulk' with an empty id); response
-- is the recorded body of a /Bulk answer.
CREATE TABLE idempotency_keys (
    tenant_id     uuid        NOT NULL,
    key           text        COLLATE "C" NOT NULL,
    fingerprint   bytea       NOT NULL,
    state         text        COLLATE "C" NOT NULL,
    status        integer     NOT NULL DEFAULT 0,
    resource_type text        COLLATE "C" NOT NULL DEFAULT '',
    resource_id   text        COLLATE "C" NOT NULL DEFAULT '',
    response      bytea,
    created       timestamptz NOT NULL,
    expires       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key),
    CONSTRAINT idempotency_keys_state_check CHECK (state IN ('pending', 'done')),
    CONSTRAINT idempotency_keys_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);
-- PurgeIdempotencyKeys: the expired ones, oldest first.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires);

-- +goose Down
DROP TABLE idempotency_keys;
