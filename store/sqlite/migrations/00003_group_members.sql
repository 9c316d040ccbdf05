-- +goose Up
-- Groups may be members of groups. group_members gets the member's type
-- ('User' or 'Group', store.MemberUser and store.MemberGroup); every
-- existing row is a user. member_id now names a user or a group, so its
-- foreign key to users goes: SQLite cannot drop a constraint, so the table
-- is rebuilt (nothing references group_members, so dropping the old table
-- with foreign keys on checks nothing). The store keeps the references
-- sound instead: AddMembers adds only live users and other groups of the
-- tenant, DeleteUser and DeleteGroup remove the memberships of what they
-- delete, and the readers join to the member's row.

CREATE TABLE group_members_new (
    tenant_id   TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    -- A group is never a member of itself.
    CHECK (member_id <> group_id)
) WITHOUT ROWID;

INSERT INTO group_members_new (tenant_id, group_id, member_id, member_type)
SELECT tenant_id, group_id, member_id, 'User' FROM group_members;

DROP TABLE group_members;
ALTER TABLE group_members_new RENAME TO group_members;

-- DeleteUser, DeleteGroup (its membership in other groups), UserGroups and
-- the members.value filter look rows up by member.
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);

-- +goose Down
-- Group members are dropped: version 2 knows only users.
CREATE TABLE group_members_old (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, member_id) REFERENCES users (tenant_id, id)
) WITHOUT ROWID;

INSERT INTO group_members_old (tenant_id, group_id, member_id)
SELECT tenant_id, group_id, member_id FROM group_members WHERE member_type = 'User';

DROP TABLE group_members;
ALTER TABLE group_members_old RENAME TO group_members;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);
