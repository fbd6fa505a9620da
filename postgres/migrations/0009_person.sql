-- A person's view across their apps: the timeline page, its search, and the privacy controls.
-- site is activity.Site (the host the activity is about); search_text is activity.SearchText (the
-- words of its Adaptive Card and activationUrl). Both are worked out in Go; NULL search_text marks a
-- row written before this migration, which the store fills in when it opens.
ALTER TABLE activities ADD COLUMN site text NOT NULL DEFAULT '';
ALTER TABLE activities ADD COLUMN search_text text;
CREATE INDEX activities_unindexed ON activities (tenant_id, user_id, app_id, id) WHERE search_text IS NULL;

-- Full-text search: the 'simple' configuration (no stemming, no stop words: activities are in any
-- language), display text weighing most (A), then the app's name (B), description (C), the rest (D).
-- The parser's punctuation (hosts, paths, e-mail addresses, hyphenated words) is turned into spaces
-- first, so that words split as activity.SearchWords splits them, and as SQLite's FTS5 does.
ALTER TABLE activities ADD COLUMN search tsvector GENERATED ALWAYS AS (
	setweight(to_tsvector('simple', translate(display_text, './@:-_+~#?&=%''"\,;!()[]{}<>|*^$', '                               ')), 'A') ||
	setweight(to_tsvector('simple', translate(app_display_name, './@:-_+~#?&=%''"\,;!()[]{}<>|*^$', '                               ')), 'B') ||
	setweight(to_tsvector('simple', translate(description, './@:-_+~#?&=%''"\,;!()[]{}<>|*^$', '                               ')), 'C') ||
	setweight(to_tsvector('simple', coalesce(search_text, '')), 'D')
) STORED;
CREATE INDEX activities_search ON activities USING gin (search);

-- The person's timeline: their activities through every app, newest first.
CREATE INDEX activities_user ON activities (tenant_id, user_id, last_modified DESC, id DESC);

-- What each person chose not to record (activity.Privacy).
CREATE TABLE privacy (
	tenant_id     text     NOT NULL,
	user_id       text     NOT NULL,
	blocked_apps  text[]   NOT NULL,
	blocked_sites text[]   NOT NULL,
	paused_until  bigint   NOT NULL, -- microseconds; 0 when not paused
	PRIMARY KEY (tenant_id, user_id)
);
