-- A person's view across their apps: the timeline page, its search, and the privacy controls.
-- site is activity.Site (the host the activity is about); search_text is activity.SearchText (the
-- words of its Adaptive Card and activationUrl). Both are worked out in Go; NULL search_text marks a
-- row written before this migration, which the store fills in when it opens.
ALTER TABLE activities ADD COLUMN site TEXT NOT NULL DEFAULT '';
ALTER TABLE activities ADD COLUMN search_text TEXT;
CREATE INDEX activities_unindexed ON activities (id) WHERE search_text IS NULL;

-- The person's timeline: their activities through every app, newest first.
CREATE INDEX activities_user ON activities (tenant_id, user_id, last_modified DESC, id DESC);

-- Full-text search (FTS5) over the activities' own columns (external content: the text is not
-- stored twice), kept by triggers. unicode61 splits words as activity.SearchWords does and keeps
-- diacritics, as PostgreSQL's 'simple' configuration does.
CREATE VIRTUAL TABLE activities_fts USING fts5 (
	display_text, description, app_display_name, search_text,
	content = 'activities', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER activities_fts_insert AFTER INSERT ON activities BEGIN
	INSERT INTO activities_fts (rowid, display_text, description, app_display_name, search_text)
		VALUES (new.id, new.display_text, new.description, new.app_display_name, new.search_text);
END;
CREATE TRIGGER activities_fts_delete AFTER DELETE ON activities BEGIN
	INSERT INTO activities_fts (activities_fts, rowid, display_text, description, app_display_name, search_text)
		VALUES ('delete', old.id, old.display_text, old.description, old.app_display_name, old.search_text);
END;
CREATE TRIGGER activities_fts_update AFTER UPDATE OF display_text, description, app_display_name, search_text ON activities BEGIN
	INSERT INTO activities_fts (activities_fts, rowid, display_text, description, app_display_name, search_text)
		VALUES ('delete', old.id, old.display_text, old.description, old.app_display_name, old.search_text);
	INSERT INTO activities_fts (rowid, display_text, description, app_display_name, search_text)
		VALUES (new.id, new.display_text, new.description, new.app_display_name, new.search_text);
END;
INSERT INTO activities_fts (activities_fts) VALUES ('rebuild');

-- What each person chose not to record (activity.Privacy). The block-lists are JSON arrays.
CREATE TABLE privacy (
	tenant_id     TEXT    NOT NULL,
	user_id       TEXT    NOT NULL,
	blocked_apps  TEXT    NOT NULL,
	blocked_sites TEXT    NOT NULL,
	paused_until  INTEGER NOT NULL, -- microseconds; 0 when not paused
	PRIMARY KEY (tenant_id, user_id)
) WITHOUT ROWID;
