-- Migration 0011 left adding rows to the full-text index to the writer; an activityd from before
-- it, serving this database again (a downgrade, a backup restored under an older binary), would
-- then write activities that search never finds. index_at_commit is the search_key that the writer
-- will add to the index at commit; the triggers add, as before 0011, a row whose search_key is any
-- other (NULL included, which is what an older activityd, knowing nothing of the column, writes).
ALTER TABLE activities ADD COLUMN index_at_commit INTEGER;
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
