-- A narrower change-log index (the realtime issue's cost target: every write appends a log row and an
-- index entry). The primary key repeated three text keys, about 110 bytes of GUIDs an entry; the log
-- is now indexed by a 64-bit hash of the user, then its position: 24 bytes. Readers compare the tenant
-- and user texts too, so two users sharing a hash cost a row read, never a wrong answer; the app's
-- view filters the person's entries by app. seq alone is unique (an identity), so no key is lost.
ALTER TABLE changes ADD COLUMN user_key bigint GENERATED ALWAYS AS (hashtextextended(tenant_id || E'\x1f' || user_id, 0)) STORED;
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
CREATE INDEX changes_user ON changes (user_key, tx, seq);
