-- The change log: one row per change to an activity or its history items, written in the same
-- transaction as the change. Ids and kinds only, never content. Rows are ordered by (tx, seq): tx is
-- the writing transaction's id, and a reader takes only rows of transactions older than every one
-- still running (pg_snapshot_xmin), so that a row committed late never lands behind a position
-- already handed out. Keyed by user first, like every table here.
CREATE TABLE changes (
	tenant_id   text   NOT NULL,
	user_id     text   NOT NULL,
	app_id      text   NOT NULL,
	tx          bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
	seq         bigint GENERATED ALWAYS AS IDENTITY,
	activity_id bigint NOT NULL,
	kind        text   NOT NULL,
	at          bigint NOT NULL, -- microseconds
	PRIMARY KEY (tenant_id, user_id, app_id, tx, seq)
);

CREATE INDEX changes_user ON changes (tenant_id, user_id, tx, seq);
CREATE INDEX changes_at ON changes (at);

-- The position up to which the log was trimmed: a position before it can no longer be continued from.
CREATE TABLE change_horizon (
	id  integer PRIMARY KEY CHECK (id = 1),
	tx  bigint  NOT NULL,
	seq bigint  NOT NULL
);
INSERT INTO change_horizon (id, tx, seq) VALUES (1, 0, 0);
