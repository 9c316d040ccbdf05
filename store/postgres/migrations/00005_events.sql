-- +goose Up
-- Events and their delivery: the position of each event in commit order,
-- the tenants' webhooks, one delivery row per (event, webhook), and the
-- audit indexes of the newest-first queries.

-- The transaction that wrote an event. Events are ordered by (txid, id);
-- the feed returns only events whose transaction is older than every
-- transaction still running (txid < pg_snapshot_xmin), so a reader that
-- follows its positions never skips one. The default is stable, so the
-- existing rows get the id of this migration's transaction (before any
-- later one) without rewriting the table.
ALTER TABLE outbox ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX outbox_feed_idx ON outbox (tenant_id, txid, id);

-- The endpoints that receive a tenant's events; secret signs deliveries.
CREATE TABLE webhooks (
    tenant_id uuid        NOT NULL,
    id        uuid        NOT NULL,
    url       text        COLLATE "C" NOT NULL,
    secret    bytea       NOT NULL,
    created   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT webhooks_url_uniq UNIQUE (tenant_id, url),
    CONSTRAINT webhooks_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

-- One event on its way to one webhook, written by AppendEvent in the
-- event's transaction. resource_type, resource_id and ev_txid copy the
-- event's, so the head-of-line check (only the first pending delivery of
-- a (webhook, resource) in event order is claimable) reads this table
-- alone; the resource columns hold '' for none so that they compare with =.
CREATE TABLE deliveries (
    tenant_id     uuid        NOT NULL,
    id            uuid        NOT NULL,
    webhook_id    uuid        NOT NULL,
    event_id      uuid        NOT NULL,
    resource_type text        COLLATE "C" NOT NULL,
    resource_id   text        COLLATE "C" NOT NULL,
    ev_txid       xid8        NOT NULL,
    state         text        COLLATE "C" NOT NULL,
    attempts      integer     NOT NULL,
    next_attempt  timestamptz NOT NULL,
    lease_until   timestamptz,
    claim         uuid,
    last_status   integer     NOT NULL DEFAULT 0,
    last_error    text,
    delivered_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT deliveries_state_check CHECK (state IN ('pending', 'delivered', 'dead')),
    CONSTRAINT deliveries_webhook_fk FOREIGN KEY (tenant_id, webhook_id)
        REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
);
-- ClaimDeliveries: the pending deliveries due (across tenants).
CREATE INDEX deliveries_claim_idx ON deliveries (next_attempt) WHERE state = 'pending';
-- ClaimDeliveries: is there an earlier pending delivery of the same
-- (webhook, resource)?
CREATE INDEX deliveries_head_idx ON deliveries (tenant_id, webhook_id, resource_type, resource_id, ev_txid, event_id)
    WHERE state = 'pending';
-- ListDeliveries: newest event first, per state.
CREATE INDEX deliveries_state_idx ON deliveries (tenant_id, state, ev_txid, event_id, id);
-- RetryDeliveries and DeliveryStats: the (few) dead deliveries.
CREATE INDEX deliveries_dead_idx ON deliveries (tenant_id, event_id) WHERE state = 'dead';
-- DeleteWebhook: the cascade to the webhook's deliveries.
CREATE INDEX deliveries_webhook_idx ON deliveries (tenant_id, webhook_id);

-- QueryAudit: newest first, of the tenant or of one resource; the cursor
-- is (at, id).
DROP INDEX audit_at_idx;
CREATE INDEX audit_at_idx ON audit (tenant_id, at, id);
CREATE INDEX audit_resource_idx ON audit (tenant_id, resource_id, at, id);

-- +goose Down
DROP INDEX audit_resource_idx;
DROP INDEX audit_at_idx;
CREATE INDEX audit_at_idx ON audit (tenant_id, at);
DROP TABLE deliveries;
DROP TABLE webhooks;
DROP INDEX outbox_feed_idx;
ALTER TABLE outbox DROP COLUMN txid;
