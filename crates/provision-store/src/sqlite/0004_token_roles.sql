-- Schema version 4: a token carries a role (reader, member or admin) instead of an admin flag.
--
-- Tokens issued before roles keep what they could do: an admin's stays admin, any other
-- becomes member (it could ask for workspaces, which a member may).

ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('reader', 'member', 'admin'));
UPDATE tokens SET role = 'admin' WHERE admin = 1;
ALTER TABLE tokens DROP COLUMN admin;
