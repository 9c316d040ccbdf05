-- +goose Up
-- The user lifecycle: erased tombstones, token kinds, one live owner per
-- tenant, and the indexes of the seat, email and userName look-ups.

-- A tombstone whose personal data was erased (user_name is '' and
-- user_name_key is store.ErasedKey of the former userName).
ALTER TABLE users ADD COLUMN erased boolean NOT NULL DEFAULT false;

-- SCIM tokens authenticate identity providers, host tokens the host product.
ALTER TABLE tokens ADD COLUMN kind text COLLATE "C" NOT NULL DEFAULT 'scim',
    ADD CONSTRAINT tokens_kind_check CHECK (kind IN ('scim', 'host'));

-- Nothing kept a tenant from having several live owners before: keep the
-- earliest created one (then the smallest id) and make the others admins,
-- in their document too, so that the unique index below can be built.
UPDATE users u SET role = 'admin',
    doc = CASE WHEN u.doc ? 'roles'
        THEN jsonb_set(u.doc, '{roles}', '[{"value": "admin", "primary": true}]')
        ELSE u.doc END,
    version = u.version + 1,
    modified = now()
WHERE u.role = 'owner' AND u.state <> 'deleted' AND EXISTS (
    SELECT 1 FROM users o
    WHERE o.tenant_id = u.tenant_id AND o.role = 'owner' AND o.state <> 'deleted'
      AND (o.created, o.id) < (u.created, u.id));

-- At most one live owner per tenant (mapped to a conflict on "roles").
CREATE UNIQUE INDEX users_one_owner_uniq ON users (tenant_id) WHERE role = 'owner' AND state <> 'deleted';
-- CountUsers by state.
CREATE INDEX users_state_idx ON users (tenant_id, state);
-- UserNameReserved: the userName keys of tombstones (retained or erased);
-- with erased the index covers the look-up.
CREATE INDEX users_deleted_user_name_key_idx ON users (tenant_id, user_name_key, erased) WHERE state = 'deleted';

-- +goose Down
DROP INDEX users_deleted_user_name_key_idx;
DROP INDEX users_state_idx;
DROP INDEX users_one_owner_uniq;
ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check, DROP COLUMN kind;
ALTER TABLE users DROP COLUMN erased;
