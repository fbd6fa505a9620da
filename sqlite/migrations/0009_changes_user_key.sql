-- The change log's index, lighter: it was keyed by two GUID texts (tenant_id, user_id, seq), about
-- 80 bytes an entry, and most of the log's cost on a write. user_key is a 64-bit hash of the tenant
-- and the user (sqlite.userKey); the rows keep their texts, and every read compares them too, so a
-- hash shared by two users can cost a row read, never a wrong answer. Rows logged before are keyed
-- by the store when it opens.
ALTER TABLE changes ADD COLUMN user_key INTEGER;
DROP INDEX changes_user;
CREATE INDEX changes_user_key ON changes (user_key, seq);
CREATE INDEX changes_unkeyed ON changes (seq) WHERE user_key IS NULL;
