-- +goose Up
-- Churn counts: per tenant and kind, how many times a row entered or left
-- the live set (users: created live, restored, deleted, erased, removed;
-- groups: created, deleted). Kept in the counter rows of 00004 by the same
-- triggers, in the transaction that moves the row, so it is exact in
-- every snapshot. It never decreases: two snapshots with the same count
-- have the same live rows. Updates that keep a user live (PATCH,
-- deactivation) do not fire these triggers' WHEN and leave it alone.
-- store.Reader.UserCheckpoints reads it with the checkpoints of the live
-- user ids, and a deep page after a checkpoint (store.Query.IfChurn)
-- checks it in its own read transaction.
ALTER TABLE tenant_counts ADD COLUMN churn INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER users_count_insert;
DROP TRIGGER users_count_update;
DROP TRIGGER users_count_delete;
DROP TRIGGER groups_count_insert;
DROP TRIGGER groups_count_delete;

-- +goose StatementBegin
CREATE TRIGGER users_count_insert AFTER INSERT ON users WHEN NEW.state <> 'deleted'
BEGIN
    INSERT INTO tenant_counts (tenant_id, kind, n, churn) VALUES (NEW.tenant_id, 'users', 1, 1)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1, churn = churn + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_count_update AFTER UPDATE OF state ON users
WHEN (OLD.state = 'deleted') <> (NEW.state = 'deleted')
BEGIN
    INSERT INTO tenant_counts (tenant_id, kind, n, churn)
    VALUES (NEW.tenant_id, 'users', CASE WHEN NEW.state = 'deleted' THEN -1 ELSE 1 END, 1)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + excluded.n, churn = churn + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_count_delete AFTER DELETE ON users WHEN OLD.state <> 'deleted'
BEGIN
    UPDATE tenant_counts SET n = n - 1, churn = churn + 1 WHERE tenant_id = OLD.tenant_id AND kind = 'users';
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
BEGIN
    INSERT INTO tenant_counts (tenant_id, kind, n, churn) VALUES (NEW.tenant_id, 'groups', 1, 1)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1, churn = churn + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
BEGIN
    UPDATE tenant_counts SET n = n - 1, churn = churn + 1 WHERE tenant_id = OLD.tenant_id AND kind = 'groups';
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER users_count_insert;
DROP TRIGGER users_count_update;
DROP TRIGGER users_count_delete;
DROP TRIGGER groups_count_insert;
DROP TRIGGER groups_count_delete;

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

ALTER TABLE tenant_counts DROP COLUMN churn;
