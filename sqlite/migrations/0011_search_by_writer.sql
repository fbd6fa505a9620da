-- The writer adds activities to the full-text index itself, once a batch, just before it commits
-- (Tx.indexed, insertSearch), instead of a trigger doing it for each row. FTS5 writes the terms it
-- holds in memory to a new segment of the index at every savepoint and every statement that opens a
-- statement journal, and a write has several: a row added by a trigger cost a segment of its own,
-- and the merges of those segments, for each activity written (BENCHMARKS.md §12).
--
-- index_at_commit is the search_key that the writer will add to the index at commit; the triggers
-- add a row whose search_key is any other (NULL included) as before. So an activityd from before
-- this migration, which knows nothing of the column, still indexes what it writes here. Rows still
-- leave the index by trigger, since they are deleted in bulk (the purge, forgetting).
ALTER TABLE activities ADD COLUMN index_at_commit INTEGER;
DROP TRIGGER activities_search_insert;
CREATE TRIGGER activities_search_insert AFTER INSERT ON activities
	WHEN new.search_key IS NOT NULL AND new.index_at_commit IS NOT new.search_key BEGIN
	INSERT INTO activities_search (rowid, display_text, description, app_display_name, search_text)
		VALUES (new.search_key, new.display_text, new.description, new.app_display_name, new.search_text);
END;
DROP TRIGGER activities_search_update;
CREATE TRIGGER activities_search_update AFTER UPDATE OF search_key ON activities BEGIN
	DELETE FROM activities_search WHERE rowid = old.search_key;
	INSERT INTO activities_search (rowid, display_text, description, app_display_name, search_text)
		SELECT new.search_key, new.display_text, new.description, new.app_display_name, new.search_text
		WHERE new.search_key IS NOT NULL AND new.index_at_commit IS NOT new.search_key;
END;
