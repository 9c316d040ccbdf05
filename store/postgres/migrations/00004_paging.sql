-- +goose Up
-- Paging: per-tenant counts of live users and of groups (the total of an
-- unfiltered list without counting rows), the index that lets an offset
-- skip live user ids without reading the rows, and the database-wide
-- secrets (the key that signs RFC 9865 cursors, shared by every replica).

-- The number of live users (kind 'users') or groups ('groups') of a tenant
-- is the sum of n over its slots. The triggers below change it in the
-- transactions that change the rows, so it is exact in every snapshot; a
-- transaction always updates the slot of its backend (pg_backend_pid() %
-- 16), so concurrent writers of one tenant rarely wait on each other and a
-- transaction never holds two slots (no deadlock between counters).
CREATE TABLE tenant_counts (
    tenant_id uuid     NOT NULL,
    kind      text     COLLATE "C" NOT NULL CHECK (kind IN ('users', 'groups')),
    slot      smallint NOT NULL,
    n         bigint   NOT NULL,
    PRIMARY KEY (tenant_id, kind, slot)
);

INSERT INTO tenant_counts (tenant_id, kind, slot, n)
SELECT tenant_id, 'users', 0, count(*) FROM users WHERE state <> 'deleted' GROUP BY tenant_id;
INSERT INTO tenant_counts (tenant_id, kind, slot, n)
SELECT tenant_id, 'groups', 0, count(*) FROM groups GROUP BY tenant_id;

-- The counters are changed BEFORE the row: a transaction takes its slot
-- before it takes the row's unique keys, so two transactions inserting
-- several users never wait on each other's counter and keys crosswise.
-- +goose StatementBegin
CREATE FUNCTION tenant_counts_add(tenant uuid, what text, d bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO tenant_counts (tenant_id, kind, slot, n)
    VALUES (tenant, what, (pg_backend_pid() % 16)::smallint, d)
    ON CONFLICT (tenant_id, kind, slot) DO UPDATE SET n = tenant_counts.n + EXCLUDED.n
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION users_count_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state <> 'deleted' THEN
            PERFORM tenant_counts_add(NEW.tenant_id, 'users', 1);
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'deleted' THEN
            PERFORM tenant_counts_add(OLD.tenant_id, 'users', -1);
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state <> 'deleted' AND NEW.state = 'deleted' THEN
        PERFORM tenant_counts_add(NEW.tenant_id, 'users', -1);
    ELSIF OLD.state = 'deleted' AND NEW.state <> 'deleted' THEN
        PERFORM tenant_counts_add(NEW.tenant_id, 'users', 1);
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION groups_count_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM tenant_counts_add(NEW.tenant_id, 'groups', 1);
        RETURN NEW;
    END IF;
    PERFORM tenant_counts_add(OLD.tenant_id, 'groups', -1);
    RETURN OLD;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER users_count BEFORE INSERT OR DELETE OR UPDATE OF state ON users
    FOR EACH ROW EXECUTE FUNCTION users_count_track();
CREATE TRIGGER groups_count BEFORE INSERT OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION groups_count_track();

-- An offset over the default order (by id) skips entries of this index
-- alone (an index-only scan once the table is vacuumed).
CREATE INDEX users_live_idx ON users (tenant_id, id) WHERE state <> 'deleted';

-- Random secrets created on first use (store.Store.Secret).
CREATE TABLE secrets (
    name    text        COLLATE "C" PRIMARY KEY,
    value   bytea       NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE secrets;
DROP INDEX users_live_idx;
DROP TRIGGER groups_count ON groups;
DROP TRIGGER users_count ON users;
DROP FUNCTION groups_count_track();
DROP FUNCTION users_count_track();
DROP FUNCTION tenant_counts_add(uuid, text, bigint);
DROP TABLE tenant_counts;
