-- +goose Up
-- Groups may be members of groups. group_members gets the member's type
-- ('User' or 'Group', store.MemberUser and store.MemberGroup); every
-- existing row is a user. member_id now names a user or a group, so its
-- foreign key to users goes. The store keeps the references sound instead:
-- AddMembers adds only live users (share-locked) and other groups of the
-- tenant (key-share-locked, as a foreign key would), DeleteUser and
-- DeleteGroup remove the memberships of what they delete, and the readers
-- join to the member's row.

-- The default fills the existing rows without rewriting the table and is
-- dropped at once: every insert names the type.
ALTER TABLE group_members
    ADD COLUMN member_type text COLLATE "C" NOT NULL DEFAULT 'User',
    ADD CONSTRAINT group_members_member_type_check CHECK (member_type IN ('User', 'Group')),
    -- A group is never a member of itself.
    ADD CONSTRAINT group_members_not_self_check CHECK (member_id <> group_id),
    DROP CONSTRAINT group_members_member_fk;
ALTER TABLE group_members ALTER COLUMN member_type DROP DEFAULT;

-- +goose Down
-- Group members are dropped: version 2 knows only users.
DELETE FROM group_members WHERE member_type <> 'User';
ALTER TABLE group_members
    DROP CONSTRAINT group_members_not_self_check,
    DROP CONSTRAINT group_members_member_type_check,
    DROP COLUMN member_type,
    ADD CONSTRAINT group_members_member_fk FOREIGN KEY (tenant_id, member_id)
        REFERENCES users (tenant_id, id);
