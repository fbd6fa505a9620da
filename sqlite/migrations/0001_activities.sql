-- Activities and their history items. Times are microseconds since the Unix epoch, UTC.
-- Every query names the principal (tenant_id, user_id, app_id) first.
CREATE TABLE activities (
	id                   INTEGER PRIMARY KEY, -- random positive 63-bit, the Graph id
	tenant_id            TEXT    NOT NULL,
	user_id              TEXT    NOT NULL,
	app_id               TEXT    NOT NULL,
	app_activity_id      TEXT    NOT NULL,
	activity_source_host TEXT    NOT NULL,
	activation_url       TEXT    NOT NULL,
	app_display_name     TEXT    NOT NULL,
	fallback_url         TEXT    NOT NULL,
	content_url          TEXT    NOT NULL,
	content_info         BLOB,
	user_timezone        TEXT    NOT NULL,
	display_text         TEXT    NOT NULL,
	description          TEXT    NOT NULL,
	background_color     TEXT    NOT NULL,
	content              BLOB,
	attribution          INTEGER NOT NULL, -- 1 when visualElements.attribution is an object
	icon_url             TEXT    NOT NULL,
	alternate_text       TEXT    NOT NULL,
	alternative_text     TEXT    NOT NULL,
	add_image_query      INTEGER,
	created              INTEGER NOT NULL,
	last_modified        INTEGER NOT NULL,
	expires              INTEGER NOT NULL,
	status               TEXT    NOT NULL
);

CREATE UNIQUE INDEX activities_app_activity_id ON activities (tenant_id, user_id, app_id, app_activity_id);
CREATE INDEX activities_last_modified ON activities (tenant_id, user_id, app_id, last_modified DESC, id DESC);
CREATE INDEX activities_expires ON activities (expires);

CREATE TABLE history_items (
	activity_id     INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
	id              TEXT    NOT NULL, -- lower-case GUID
	tenant_id       TEXT    NOT NULL,
	user_id         TEXT    NOT NULL,
	app_id          TEXT    NOT NULL,
	started         INTEGER NOT NULL,
	last_active     INTEGER,
	active_duration INTEGER,
	user_timezone   TEXT    NOT NULL,
	created         INTEGER NOT NULL,
	last_modified   INTEGER NOT NULL,
	expires         INTEGER NOT NULL,
	status          TEXT    NOT NULL,
	PRIMARY KEY (activity_id, id)
) WITHOUT ROWID;

CREATE INDEX history_items_last_modified ON history_items (tenant_id, user_id, app_id, last_modified DESC);
CREATE INDEX history_items_activity_last_modified ON history_items (activity_id, last_modified DESC, id DESC);
CREATE INDEX history_items_expires ON history_items (expires);
