-- +goose Up
-- Events and their delivery: the commit order of the outbox, webhooks, one
-- delivery per event and webhook, and the audit indexes of QueryAudit.

-- seq is the commit order of the events across the whole database. There
-- is one writer, so AppendEvent gives each event MAX(seq) + 1 inside the
-- transaction that holds the write lock: a reader, which sees committed
-- data only, never finds a gap that fills later. The table is rebuilt so
-- that seq is NOT NULL; the events so far get 1, 2, … in id order (their
-- ids are UUIDv7, so that is the order they were written in).
CREATE TABLE outbox_new (
    tenant_id     TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    type          TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    payload       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    seq           INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

INSERT INTO outbox_new (tenant_id, id, at, type, resource_type, resource_id, payload, seq)
SELECT tenant_id, id, at, type, resource_type, resource_id, payload, row_number() OVER (ORDER BY id, tenant_id)
FROM outbox;

DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;

-- EventFeed: a tenant's events in commit order.
CREATE INDEX outbox_tenant_seq ON outbox (tenant_id, seq);
-- AppendEvent's MAX(seq) reads the last entry; unique, so two events never
-- share a position.
CREATE UNIQUE INDEX outbox_seq ON outbox (seq);

-- The endpoints a tenant's events are posted to; secret is the HMAC key.
CREATE TABLE webhooks (
    tenant_id TEXT    NOT NULL,
    id        TEXT    NOT NULL,
    url       TEXT    NOT NULL,
    secret    BLOB    NOT NULL,
    created   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, url)
) WITHOUT ROWID;

-- One event on its way to one webhook (store.Delivery). resource_type,
-- resource_id and ev_seq are copies of the event's, for the line check of
-- ClaimDeliveries: only the pending delivery with the smallest ev_seq of a
-- (webhook, resource) is claimable. lease_until and claim are set while a
-- dispatcher holds the delivery.
CREATE TABLE deliveries (
    tenant_id     TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    webhook_id    TEXT    NOT NULL,
    event_id      TEXT    NOT NULL,
    resource_type TEXT,
    resource_id   TEXT,
    ev_seq        INTEGER NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  INTEGER NOT NULL,
    lease_until   INTEGER,
    claim         TEXT,
    last_status   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    delivered_at  INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

-- ClaimDeliveries: the due pending deliveries of every tenant.
CREATE INDEX deliveries_due ON deliveries (next_attempt) WHERE state = 'pending';
-- ClaimDeliveries: is there an earlier pending delivery in the line?
CREATE INDEX deliveries_line ON deliveries (tenant_id, webhook_id, resource_type, resource_id, ev_seq)
    WHERE state = 'pending';
-- ListDeliveries: a tenant's deliveries, newest event first (the primary
-- key's id follows ev_seq in the index); deleting a webhook finds its
-- deliveries among the tenant's.
CREATE INDEX deliveries_seq ON deliveries (tenant_id, ev_seq);
-- RetryDeliveries (by the event's seq), ListDeliveries of dead ones and
-- DeliveryStats' count.
CREATE INDEX deliveries_dead ON deliveries (tenant_id, ev_seq) WHERE state = 'dead';

-- QueryAudit of one resource, newest first. The unfiltered order (at, id)
-- is audit_at's: an index of a WITHOUT ROWID table ends with the primary
-- key columns it does not name, so audit_at is (tenant_id, at, id).
CREATE INDEX audit_resource ON audit (tenant_id, resource_id, at, id);

-- Planner statistics in the manner of 00005_stats.sql, for the directory
-- it describes: 1,000,000 events and as many deliveries in one tenant of
-- ten webhooks, about a hundred pending and a hundred dead deliveries, and
-- about ten audit entries per resource. Without them SQLite sorts a
-- tenant's whole audit for an unfiltered QueryAudit (through
-- audit_resource) and scans a tenant's deliveries for RetryDeliveries.
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('outbox',     'outbox',                       '1000000 1000000 1'),
    ('outbox',     'outbox_tenant_seq',            '1000000 1000000 1'),
    ('outbox',     'outbox_seq',                   '1000000 1'),
    ('webhooks',   'webhooks',                     '10 10 1'),
    ('webhooks',   'sqlite_autoindex_webhooks_2',  '10 10 1'),
    ('deliveries', 'deliveries',                   '1000000 1000000 1'),
    ('deliveries', 'deliveries_due',               '100 1'),
    ('deliveries', 'deliveries_line',              '100 100 100 100 1 1'),
    ('deliveries', 'deliveries_seq',               '1000000 1000000 1'),
    ('deliveries', 'deliveries_dead',              '100 100 1'),
    ('audit',      'audit_resource',               '1000000 1000000 10 1 1');
ANALYZE sqlite_schema;

-- +goose Down
DELETE FROM sqlite_stat1 WHERE tbl IN ('outbox', 'webhooks', 'deliveries') OR idx = 'audit_resource';
DROP INDEX audit_resource;
DROP TABLE deliveries;
DROP TABLE webhooks;
DROP INDEX outbox_seq;
DROP INDEX outbox_tenant_seq;
ALTER TABLE outbox DROP COLUMN seq;
ANALYZE sqlite_schema;
