-- A person's view across their apps: the timeline page, its search, and the privacy controls.
-- site is activity.Site (the host the activity is about); search_text is activity.SearchText (the
-- words of its Adaptive Card and activationUrl). Both are worked out in Go; NULL search_text marks a
-- row written before this migration, which the store fills in when it opens.
ALTER TABLE activities ADD COLUMN site TEXT NOT NULL DEFAULT '';
ALTER TABLE activities ADD COLUMN search_text TEXT;
CREATE INDEX activities_unindexed ON activities (id) WHERE search_text IS NULL;

-- The person's timeline: their activities through every app, newest first.
CREATE INDEX activities_user ON activities (tenant_id, user_id, last_modified DESC, id DESC);

-- Full-text search (FTS5). search_key is the activity's row in it: its lastModifiedDateTime in
-- microseconds times 1024, plus a number that keeps it unique. Because FTS5 reads its matches in
-- rowid order at almost no cost, "the newest matches" and "the matches of a date range" come
-- straight from the index: ranking every match of a word most activities hold took 1.5 s over a
-- million, reading the newest thousand takes a millisecond. The table is contentless: the text lives
-- in activities only. unicode61 splits words as
-- activity.SearchWords does and keeps diacritics, as PostgreSQL's 'simple' configuration does.
ALTER TABLE activities ADD COLUMN search_key INTEGER;
CREATE UNIQUE INDEX activities_search_key ON activities (search_key);
CREATE VIRTUAL TABLE activities_search USING fts5 (
	display_text, description, app_display_name, search_text,
	content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER activities_search_insert AFTER INSERT ON activities WHEN new.search_key IS NOT NULL BEGIN
	INSERT INTO activities_search (rowid, display_text, description, app_display_name, search_text)
		VALUES (new.search_key, new.display_text, new.description, new.app_display_name, new.search_text);
END;
CREATE TRIGGER activities_search_delete AFTER DELETE ON activities WHEN old.search_key IS NOT NULL BEGIN
	DELETE FROM activities_search WHERE rowid = old.search_key;
END;
-- Every write of an activity's text or time gives it a new search_key.
CREATE TRIGGER activities_search_update AFTER UPDATE OF search_key ON activities BEGIN
	DELETE FROM activities_search WHERE rowid = old.search_key;
	INSERT INTO activities_search (rowid, display_text, description, app_display_name, search_text)
		SELECT new.search_key, new.display_text, new.description, new.app_display_name, new.search_text
		WHERE new.search_key IS NOT NULL;
END;

-- What each person chose not to record (activity.Privacy). The block-lists are JSON arrays.
CREATE TABLE privacy (
	tenant_id     TEXT    NOT NULL,
	user_id       TEXT    NOT NULL,
	blocked_apps  TEXT    NOT NULL,
	blocked_sites TEXT    NOT NULL,
	paused_until  INTEGER NOT NULL, -- microseconds; 0 when not paused
	PRIMARY KEY (tenant_id, user_id)
) WITHOUT ROWID;
