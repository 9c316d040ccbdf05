-- +goose Up
-- The admin console: its sign-in links and sessions, the time the host
-- product's access check last allowed each user, and the indexes of the
-- console's user list (store.ConsoleStore, store.SortLastActive).

-- A one-time sign-in link (kind 'login') or the session it turns into
-- ('session'), of an admin or the owner of a tenant. Only the SHA-256 of
-- the secret is kept. used is when a link was consumed (sessions leave it
-- NULL). Times are unix microseconds, as everywhere.
CREATE TABLE console_secrets (
    id        TEXT    NOT NULL PRIMARY KEY,
    tenant_id TEXT    NOT NULL REFERENCES tenants (id),
    user_id   TEXT    NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('login', 'session')),
    hash      BLOB    NOT NULL UNIQUE,
    created   INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    used      INTEGER
) WITHOUT ROWID;
-- PurgeConsoleSecrets: the expired ones.
CREATE INDEX console_secrets_expires ON console_secrets (expires);

-- When the host product's access check last allowed the user (at a
-- granularity of store.ActiveGranularity); 0, the Unix epoch
-- (store.NeverActive), for never, which the reads map back to "never", so
-- that never active sorts as the oldest and the sort's key is never NULL.
-- Written by TouchUserActive alone, which changes no other column: the
-- counting triggers fire on UPDATE OF state only, so it moves no count
-- and no churn; inserts take the default.
ALTER TABLE users ADD COLUMN last_active INTEGER NOT NULL DEFAULT 0;

-- The console's user list pages through the live users of a tenant by
-- keyset, ordered by displayName (its folded key), meta.lastModified or
-- store.SortLastActive, ties by id. Each index holds one order (an index
-- of a WITHOUT ROWID table ends with the primary key, so with the id); a
-- page by displayName reads the rows with a key and the rows without as
-- two ranges of it, since SQLite keeps NULLs first and the order puts
-- them last.
CREATE INDEX users_live_display_name ON users (tenant_id, display_name_key, id) WHERE state <> 'deleted';
CREATE INDEX users_live_modified ON users (tenant_id, modified, id) WHERE state <> 'deleted';
CREATE INDEX users_live_last_active ON users (tenant_id, last_active, id) WHERE state <> 'deleted';
-- Its status filter (active eq true or false, which the filter compiler
-- turns into a test of state for live users) by displayName: a page of
-- the few inactive users is a range of this index, not a walk of the
-- display-name order testing every user.
CREATE INDEX users_live_state_display_name ON users (tenant_id, state, display_name_key, id) WHERE state <> 'deleted';
-- The console's search (userName, displayName, name.givenName,
-- name.familyName or emails.value sw the text typed): prefix ranges of
-- the folded keys.
CREATE INDEX users_live_given_name ON users (tenant_id, given_name_key) WHERE state <> 'deleted';
CREATE INDEX users_live_family_name ON users (tenant_id, family_name_key) WHERE state <> 'deleted';

-- Planner statistics in the manner of 00005_stats.sql for the directory it
-- describes (1,000,000 live users in one tenant): a display name or a
-- modified time nearly names one user, a last-active time a few (a quarter
-- of them were never active), a given or family name a hundred, a state
-- half of them (as users_state says); a few thousand console secrets, each
-- hash and expiry its own.
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('users',           'users_live_display_name',             '1000000 1000000 2 1'),
    ('users',           'users_live_modified',                 '1000000 1000000 1 1'),
    ('users',           'users_live_last_active',              '1000000 1000000 4 1'),
    ('users',           'users_live_state_display_name',       '1000000 1000000 500000 2 1'),
    ('users',           'users_live_given_name',               '1000000 1000000 100'),
    ('users',           'users_live_family_name',              '1000000 1000000 100'),
    ('console_secrets', 'console_secrets',                     '5000 1'),
    ('console_secrets', 'sqlite_autoindex_console_secrets_2',  '5000 1'),
    ('console_secrets', 'console_secrets_expires',             '5000 1');
ANALYZE sqlite_schema;

-- +goose Down
DELETE FROM sqlite_stat1 WHERE tbl = 'console_secrets' OR idx IN ('users_live_display_name', 'users_live_modified',
    'users_live_last_active', 'users_live_state_display_name', 'users_live_given_name', 'users_live_family_name');
DROP INDEX users_live_family_name;
DROP INDEX users_live_given_name;
DROP INDEX users_live_state_display_name;
DROP INDEX users_live_last_active;
DROP INDEX users_live_modified;
DROP INDEX users_live_display_name;
ALTER TABLE users DROP COLUMN last_active;
DROP TABLE console_secrets;
ANALYZE sqlite_schema;
