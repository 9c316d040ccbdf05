-- +goose Up
-- Paging: per-tenant counts of live users and of groups (the total of an
-- unfiltered list without counting rows), the index that lets an offset
-- skip live user ids without reading the rows, and the database-wide
-- secrets (the key that signs RFC 9865 cursors, shared by every process
-- on the database).

-- n is the number of live users (kind 'users') or groups ('groups') of a
-- tenant. The triggers below keep it in the transactions that change the
-- rows, so it is exact in every snapshot.
CREATE TABLE tenant_counts (
    tenant_id TEXT    NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('users', 'groups')),
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind)
) WITHOUT ROWID;

INSERT INTO tenant_counts (tenant_id, kind, n)
SELECT tenant_id, 'users', count(*) FROM users WHERE state <> 'deleted' GROUP BY tenant_id;
INSERT INTO tenant_counts (tenant_id, kind, n)
SELECT tenant_id, 'groups', count(*) FROM groups GROUP BY tenant_id;

-- +goose StatementBegin
CREATE TRIGGER users_count_insert AFTER INSERT ON users WHEN NEW.state <> 'deleted'
BEGIN
    INSERT INTO tenant_counts (tenant_id, kind, n) VALUES (NEW.tenant_id, 'users', 1)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_count_update AFTER UPDATE OF state ON users
WHEN (OLD.state = 'deleted') <> (NEW.state = 'deleted')
BEGIN
    INSERT INTO tenant_counts (tenant_id, kind, n)
    VALUES (NEW.tenant_id, 'users', CASE WHEN NEW.state = 'deleted' THEN -1 ELSE 1 END)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_count_delete AFTER DELETE ON users WHEN OLD.state <> 'deleted'
BEGIN
    UPDATE tenant_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND kind = 'users';
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
BEGIN
    INSERT INTO tenant_counts (tenant_id, kind, n) VALUES (NEW.tenant_id, 'groups', 1)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
BEGIN
    UPDATE tenant_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND kind = 'groups';
END;
-- +goose StatementEnd

-- An offset over the default order (by id) skips entries of this index
-- alone: it holds tenant_id and id (the primary key) of the live users,
-- and state, which the query repeats to use it.
CREATE INDEX users_live ON users (tenant_id, id, state) WHERE state <> 'deleted';

-- Random secrets created on first use (store.Store.Secret).
CREATE TABLE secrets (
    name    TEXT    NOT NULL PRIMARY KEY,
    value   BLOB    NOT NULL,
    created INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE secrets;
DROP INDEX users_live;
DROP TRIGGER groups_count_delete;
DROP TRIGGER groups_count_insert;
DROP TRIGGER users_count_delete;
DROP TRIGGER users_count_update;
DROP TRIGGER users_count_insert;
DROP TABLE tenant_counts;
