-- Fixed planner statistics (https://www.sqlite.org/optoverview.html §
-- "Manual Control Of Query Plans Using SQLITE_STAT Tables").
--
-- SQLite plans by the statistics in sqlite_stat1, which only ANALYZE
-- writes. Without them it assumes every index equality selects a few rows,
-- so for a filter such as externalId eq "…" it walks the tenant's prefix
-- of the primary key (which also gives the id order) and tests every user,
-- instead of probing users_external_id and sorting the one match. Real
-- statistics would depend on when ANALYZE last ran (a directory loaded
-- after it plans as if empty), so scimd installs the statistics of the
-- directory it is built for, one tenant holding 1,000,000 users, 10,000
-- groups and their memberships, and never runs ANALYZE itself: the plans
-- are the same on every database, from the first user to the millionth.
--
-- Each stat is "rows avg-rows-per-prefix…": e.g. users_external_id
-- (tenant_id, external_id) says one tenant value selects 1,000,000 rows
-- and one external id one row.

-- +goose Up
ANALYZE sqlite_schema;
DELETE FROM sqlite_stat1;
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('users',         'users',                       '1000000 1000000 1'),
    ('users',         'users_live',                  '1000000 1000000 1 1'),
    ('users',         'users_user_name_key',         '1000000 1000000 1'),
    ('users',         'users_external_id',           '1000000 1000000 1'),
    ('users',         'users_state',                 '1000000 1000000 500000'),
    ('users',         'users_one_owner',             '1 1'),
    ('users',         'users_deleted_user_name_key', '10000 10000 1 1'),
    ('user_emails',   'user_emails',                 '1000000 1000000 1 1'),
    ('user_emails',   'user_emails_value_key',       '1000000 1000000 1'),
    ('groups',        'groups',                      '10000 10000 1'),
    ('groups',        'sqlite_autoindex_groups_2',   '10000 10000 1'),
    ('groups',        'groups_external_id',          '10000 10000 1'),
    ('group_members', 'group_members',               '1000000 1000000 100 1'),
    ('group_members', 'group_members_member',        '1000000 1000000 2'),
    ('tokens',        'sqlite_autoindex_tokens_1',   '100 1'),
    ('tokens',        'sqlite_autoindex_tokens_2',   '100 1'),
    ('tokens',        'tokens_owner',                '100 100 1'),
    ('tenants',       'sqlite_autoindex_tenants_1',  '10 1'),
    ('tenants',       'sqlite_autoindex_tenants_2',  '10 1'),
    ('audit',         'audit',                       '1000000 1000000 1'),
    ('audit',         'audit_at',                    '1000000 1000000 1');
ANALYZE sqlite_schema;

-- +goose Down
DELETE FROM sqlite_stat1;
