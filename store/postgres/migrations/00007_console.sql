-- +goose Up
-- The admin console: its sign-in links and sessions, the time the host
-- product's access check last allowed each user, and the indexes of the
-- console's user list (store.ConsoleStore, store.SortLastActive).

-- A one-time sign-in link (kind 'login') or the session it turns into
-- ('session'), of an admin or the owner of a tenant. Only the SHA-256 of
-- the secret is kept. used is when a link was consumed (sessions leave it
-- NULL).
CREATE TABLE console_secrets (
    id        uuid        PRIMARY KEY,
    tenant_id uuid        NOT NULL,
    user_id   uuid        NOT NULL,
    kind      text        COLLATE "C" NOT NULL,
    hash      bytea       NOT NULL,
    created   timestamptz NOT NULL,
    expires   timestamptz NOT NULL,
    used      timestamptz,
    CONSTRAINT console_secrets_hash_uniq UNIQUE (hash),
    CONSTRAINT console_secrets_kind_check CHECK (kind IN ('login', 'session')),
    CONSTRAINT console_secrets_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);
-- PurgeConsoleSecrets: the expired ones.
CREATE INDEX console_secrets_expires_idx ON console_secrets (expires);

-- When the host product's access check last allowed the user (at a
-- granularity of store.ActiveGranularity); the Unix epoch
-- (store.NeverActive) for never, which the reads map back to "never", so
-- that never active sorts as the oldest and the sort's key is never NULL.
-- (Not '-infinity': lib/pq does not decode it by default.) Written by
-- TouchUserActive alone, which changes no other column: the triggers of
-- 00004 fire on UPDATE OF state only, so it moves no count and no churn;
-- inserts take the default. Adding a column with a constant default
-- rewrites no row.
ALTER TABLE users ADD COLUMN last_active timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00+00';

-- The console's user list pages through the live users of a tenant by
-- keyset, ordered by displayName (its folded key, which the sort compares
-- in byte order), meta.lastModified or store.SortLastActive, ties by id.
-- Each index holds one order as the page query writes it (NULLs last
-- ascending, as btree keeps them; a descending page scans it backwards),
-- so that a page is the first rows of an index scan from its position
-- rather than a sort of every live user.
CREATE INDEX users_live_display_name_idx ON users (tenant_id, display_name_key, id) WHERE state <> 'deleted';
CREATE INDEX users_live_modified_idx ON users (tenant_id, modified, id) WHERE state <> 'deleted';
CREATE INDEX users_live_last_active_idx ON users (tenant_id, last_active, id) WHERE state <> 'deleted';
-- Its status filter (active eq true or false, which the filter compiler
-- turns into a test of state for live users) by displayName: a page of
-- the few inactive users is a range of this index, not a walk of the
-- display-name order testing every user.
CREATE INDEX users_live_state_display_name_idx ON users (tenant_id, state, display_name_key, id) WHERE state <> 'deleted';
-- The console's search (userName, displayName, name.givenName,
-- name.familyName or emails.value sw the text typed) is an OR of prefix
-- ranges over the folded keys: userName has users_user_name_key_uniq,
-- displayName the index above, emails user_emails_value_key_idx, and the
-- two names these.
CREATE INDEX users_live_given_name_idx ON users (tenant_id, given_name_key) WHERE state <> 'deleted';
CREATE INDEX users_live_family_name_idx ON users (tenant_id, family_name_key) WHERE state <> 'deleted';

-- +goose Down
DROP INDEX users_live_family_name_idx;
DROP INDEX users_live_given_name_idx;
DROP INDEX users_live_state_display_name_idx;
DROP INDEX users_live_last_active_idx;
DROP INDEX users_live_modified_idx;
DROP INDEX users_live_display_name_idx;
ALTER TABLE users DROP COLUMN last_active;
DROP TABLE console_secrets;
