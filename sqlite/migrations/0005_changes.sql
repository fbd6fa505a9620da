-- The change log: one row per change to an activity or its history items, written in the same
-- transaction as the change. Ids and kinds only, never content. seq is the log's order: the single
-- writer commits in seq order, and AUTOINCREMENT never hands a seq out twice.
CREATE TABLE changes (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id   TEXT    NOT NULL,
	user_id     TEXT    NOT NULL,
	app_id      TEXT    NOT NULL,
	activity_id INTEGER NOT NULL,
	kind        TEXT    NOT NULL,
	at          INTEGER NOT NULL -- microseconds
);

CREATE INDEX changes_app ON changes (tenant_id, user_id, app_id, seq);
CREATE INDEX changes_user ON changes (tenant_id, user_id, seq);
CREATE INDEX changes_at ON changes (at);

-- The seq up to which the log was trimmed: a position before it can no longer be continued from.
CREATE TABLE change_horizon (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
);
INSERT INTO change_horizon (id, seq) VALUES (1, 0);
