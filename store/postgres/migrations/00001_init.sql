-- +goose Up
-- The first schema of scimd on PostgreSQL. tenant_id leads every primary
-- key, unique index and foreign key so the tables can be distributed by
-- tenant later. Text that is compared or sorted uses COLLATE "C" (byte
-- order, the order of Go and SQLite); *_key columns hold store.Fold of
-- their value, computed in Go. Empty strings are stored as NULL.

CREATE TABLE tenants (
    id      uuid        PRIMARY KEY,
    name    text        COLLATE "C" NOT NULL,
    policy  jsonb       NOT NULL DEFAULT '{}',
    created timestamptz NOT NULL,
    CONSTRAINT tenants_name_uniq UNIQUE (name)
);

CREATE TABLE tokens (
    id        uuid        PRIMARY KEY,
    tenant_id uuid        NOT NULL,
    hash      bytea       NOT NULL,
    owner_id  uuid,
    created   timestamptz NOT NULL,
    expires   timestamptz,
    revoked   timestamptz,
    CONSTRAINT tokens_hash_uniq UNIQUE (hash)
);
CREATE INDEX tokens_owner_idx ON tokens (tenant_id, owner_id);

CREATE TABLE users (
    tenant_id        uuid        NOT NULL,
    id               uuid        NOT NULL,
    user_name        text        COLLATE "C",
    user_name_key    text        COLLATE "C",
    external_id      text        COLLATE "C",
    active           boolean     NOT NULL,
    display_name     text        COLLATE "C",
    display_name_key text        COLLATE "C",
    given_name       text        COLLATE "C",
    given_name_key   text        COLLATE "C",
    family_name      text        COLLATE "C",
    family_name_key  text        COLLATE "C",
    role             text        COLLATE "C",
    state            text        COLLATE "C" NOT NULL,
    deactivated_at   timestamptz,
    password_hash    text,
    doc              jsonb,
    version          bigint      NOT NULL,
    created          timestamptz NOT NULL,
    modified         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_user_name_key_uniq ON users (tenant_id, user_name_key) WHERE state <> 'deleted';
CREATE INDEX users_external_id_idx ON users (tenant_id, external_id);

CREATE TABLE user_emails (
    tenant_id  uuid    NOT NULL,
    user_id    uuid    NOT NULL,
    ord        integer NOT NULL,
    value      text    COLLATE "C",
    value_key  text    COLLATE "C",
    type       text    COLLATE "C",
    type_key   text    COLLATE "C",
    is_primary boolean NOT NULL,
    PRIMARY KEY (tenant_id, user_id, ord),
    CONSTRAINT user_emails_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_emails_value_key_idx ON user_emails (tenant_id, value_key);

CREATE TABLE groups (
    tenant_id        uuid        NOT NULL,
    id               uuid        NOT NULL,
    display_name     text        COLLATE "C",
    display_name_key text        COLLATE "C",
    external_id      text        COLLATE "C",
    doc              jsonb,
    version          bigint      NOT NULL,
    created          timestamptz NOT NULL,
    modified         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT groups_display_name_key_uniq UNIQUE (tenant_id, display_name_key)
);
CREATE INDEX groups_external_id_idx ON groups (tenant_id, external_id);

CREATE TABLE group_members (
    tenant_id uuid NOT NULL,
    group_id  uuid NOT NULL,
    member_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, group_id, member_id),
    CONSTRAINT group_members_group_fk FOREIGN KEY (tenant_id, group_id)
        REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT group_members_member_fk FOREIGN KEY (tenant_id, member_id)
        REFERENCES users (tenant_id, id)
);
CREATE INDEX group_members_member_idx ON group_members (tenant_id, member_id);

CREATE TABLE audit (
    tenant_id     uuid        NOT NULL,
    id            uuid        NOT NULL,
    at            timestamptz NOT NULL,
    actor         text,
    request_id    text,
    client        text,
    operation     text,
    resource_type text,
    resource_id   text,
    status        integer     NOT NULL,
    rule          text,
    changed       jsonb,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_at_idx ON audit (tenant_id, at);

CREATE TABLE outbox (
    tenant_id     uuid        NOT NULL,
    id            uuid        NOT NULL,
    at            timestamptz NOT NULL,
    type          text        NOT NULL,
    resource_type text,
    resource_id   text,
    payload       jsonb,
    PRIMARY KEY (tenant_id, id)
);

-- +goose Down
DROP TABLE outbox;
DROP TABLE audit;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE user_emails;
DROP TABLE users;
DROP TABLE tokens;
DROP TABLE tenants;
