-- +goose Up
-- Idempotency-Key (store.IdempotencyStore, store.IdempotencyWriter): one
-- row per key a tenant sent on POST /Users, /Groups or /Bulk, live for
-- 24 hours. fingerprint is the SHA-256 of the request (method, path,
-- body); state 'pending' while a /Bulk request runs, 'done' once its
-- outcome is recorded (a create writes its key 'done' in the create's
-- own transaction). resource_type and resource_id name what the request
-- created ('User', 'Group'; 'Bulk' with an empty id); response is the
-- recorded body of a /Bulk answer. Times are unix microseconds, as
-- everywhere.
CREATE TABLE idempotency_keys (
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id),
    key           TEXT    NOT NULL,
    fingerprint   BLOB    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'done')),
    status        INTEGER NOT NULL DEFAULT 0,
    resource_type TEXT    NOT NULL DEFAULT '',
    resource_id   TEXT    NOT NULL DEFAULT '',
    response      BLOB,
    created       INTEGER NOT NULL,
    expires       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;
-- PurgeIdempotencyKeys: the expired ones, oldest first.
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires);

-- +goose Down
DROP TABLE idempotency_keys;
