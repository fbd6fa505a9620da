-- The writer adds activities to the full-text index itself, once a batch, just before it commits
-- (Tx.indexed, insertSearch), instead of a trigger doing it for each row. FTS5 writes the terms it
-- holds in memory to a new segment of the index at every savepoint and every statement that opens a
-- statement journal, and a write has several: a row added by a trigger cost a segment of its own,
-- and the merges of those segments, for each activity written (a third of an import's time, a fifth
-- of a PUT's, measured in BENCHMARKS.md §12). Rows still leave the index by trigger, since they are
-- deleted in bulk (the purge, forgetting), and whatever changes an activity's search_key takes its
-- old row out.
DROP TRIGGER activities_search_insert;
DROP TRIGGER activities_search_update;
CREATE TRIGGER activities_search_update AFTER UPDATE OF search_key ON activities WHEN old.search_key IS NOT NULL BEGIN
	DELETE FROM activities_search WHERE rowid = old.search_key;
END;
