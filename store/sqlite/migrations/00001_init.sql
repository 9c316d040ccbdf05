-- +goose Up
-- Timestamps are INTEGER unix microseconds (UTC). Empty strings are stored as
-- NULL. Every *_key column is store.Fold of its source column, computed in Go.

CREATE TABLE tenants (
    id      TEXT    NOT NULL PRIMARY KEY,
    name    TEXT    NOT NULL UNIQUE,
    policy  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(policy)),
    created INTEGER NOT NULL
);

CREATE TABLE tokens (
    id        TEXT    NOT NULL PRIMARY KEY,
    tenant_id TEXT    NOT NULL,
    hash      BLOB    NOT NULL UNIQUE,
    owner_id  TEXT,
    created   INTEGER NOT NULL,
    expires   INTEGER,
    revoked   INTEGER
);
CREATE INDEX tokens_owner ON tokens (tenant_id, owner_id);

CREATE TABLE users (
    tenant_id        TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    user_name        TEXT    NOT NULL,
    user_name_key    TEXT    NOT NULL,
    external_id      TEXT,
    active           INTEGER NOT NULL,
    display_name     TEXT,
    display_name_key TEXT,
    given_name       TEXT,
    given_name_key   TEXT,
    family_name      TEXT,
    family_name_key  TEXT,
    role             TEXT,
    state            TEXT    NOT NULL CHECK (state IN ('active', 'inactive', 'deleted')),
    deactivated_at   INTEGER,
    password_hash    TEXT,
    doc              TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(doc)),
    version          INTEGER NOT NULL,
    created          INTEGER NOT NULL,
    modified         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX users_user_name_key ON users (tenant_id, user_name_key) WHERE state <> 'deleted';
CREATE INDEX users_external_id ON users (tenant_id, external_id);

CREATE TABLE user_emails (
    tenant_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    ord        INTEGER NOT NULL,
    value      TEXT,
    value_key  TEXT,
    type       TEXT,
    type_key   TEXT,
    is_primary INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, ord),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX user_emails_value_key ON user_emails (tenant_id, value_key);

CREATE TABLE groups (
    tenant_id        TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    display_name     TEXT    NOT NULL,
    display_name_key TEXT    NOT NULL,
    external_id      TEXT,
    doc              TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(doc)),
    version          INTEGER NOT NULL,
    created          INTEGER NOT NULL,
    modified         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, display_name_key)
) WITHOUT ROWID;
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);

CREATE TABLE group_members (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, member_id) REFERENCES users (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);

CREATE TABLE audit (
    tenant_id     TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    actor         TEXT,
    request_id    TEXT,
    client        TEXT,
    operation     TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    status        INTEGER NOT NULL,
    rule          TEXT,
    changed       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(changed)),
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX audit_at ON audit (tenant_id, at);

CREATE TABLE outbox (
    tenant_id     TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    type          TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    payload       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE outbox;
DROP TABLE audit;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE user_emails;
DROP TABLE users;
DROP TABLE tokens;
DROP TABLE tenants;
