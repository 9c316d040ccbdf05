-- +goose Up
-- The user lifecycle: erased tombstones, token kinds, one live owner per
-- tenant, and the indexes of the seat, email and userName look-ups.

-- A tombstone whose personal data was erased (user_name is '' and
-- user_name_key is store.ErasedKey of the former userName).
ALTER TABLE users ADD COLUMN erased INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1));

-- SCIM tokens authenticate identity providers, host tokens the host product.
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'scim' CHECK (kind IN ('scim', 'host'));

-- Nothing kept a tenant from having several live owners before: keep the
-- earliest created one (then the smallest id) and make the others admins,
-- in their document too, so that the unique index below can be built.
UPDATE users SET role = 'admin',
    doc = json_replace(doc, '$.roles', json('[{"value":"admin","primary":true}]')),
    version = version + 1,
    modified = CAST(strftime('%s', 'now') AS INTEGER) * 1000000
WHERE role = 'owner' AND state <> 'deleted' AND EXISTS (
    SELECT 1 FROM users o
    WHERE o.tenant_id = users.tenant_id AND o.role = 'owner' AND o.state <> 'deleted'
      AND (o.created < users.created OR (o.created = users.created AND o.id < users.id)));

-- At most one live owner per tenant. SQLite names the columns, not the
-- index, in a violation: "users.tenant_id" alone is this index (see mapErr).
CREATE UNIQUE INDEX users_one_owner ON users (tenant_id) WHERE role = 'owner' AND state <> 'deleted';
-- CountUsers by state.
CREATE INDEX users_state ON users (tenant_id, state);
-- UserNameReserved: the userName keys of tombstones (retained or erased);
-- with erased the index covers the look-up.
CREATE INDEX users_deleted_user_name_key ON users (tenant_id, user_name_key, erased) WHERE state = 'deleted';

-- +goose Down
DROP INDEX users_deleted_user_name_key;
DROP INDEX users_state;
DROP INDEX users_one_owner;
ALTER TABLE tokens DROP COLUMN kind;
ALTER TABLE users DROP COLUMN erased;
