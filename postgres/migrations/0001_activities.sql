-- Activities and their history items. Times are microseconds since the Unix epoch, UTC.
-- The user key (tenant_id, user_id) leads every primary key and unique index, and the only foreign key
-- stays within one user, so the tables can be distributed by user (Citus: distribute both tables on
-- user_id, co-located) without a redesign.
CREATE TABLE activities (
	tenant_id            text    NOT NULL,
	user_id              text    NOT NULL,
	app_id               text    NOT NULL,
	id                   bigint  NOT NULL, -- random positive 63-bit, the Graph id
	app_activity_id      text    NOT NULL,
	activity_source_host text    NOT NULL,
	activation_url       text    NOT NULL,
	app_display_name     text    NOT NULL,
	fallback_url         text    NOT NULL,
	content_url          text    NOT NULL,
	content_info         bytea,
	user_timezone        text    NOT NULL,
	display_text         text    NOT NULL,
	description          text    NOT NULL,
	background_color     text    NOT NULL,
	content              bytea,
	attribution          boolean NOT NULL, -- visualElements.attribution is an object
	icon_url             text    NOT NULL,
	alternate_text       text    NOT NULL,
	alternative_text     text    NOT NULL,
	add_image_query      boolean,
	created              bigint  NOT NULL,
	last_modified        bigint  NOT NULL,
	expires              bigint  NOT NULL,
	status               text    NOT NULL,
	PRIMARY KEY (tenant_id, user_id, app_id, id)
);

CREATE UNIQUE INDEX activities_app_activity_id ON activities (tenant_id, user_id, app_id, app_activity_id);
CREATE INDEX activities_last_modified ON activities (tenant_id, user_id, app_id, last_modified DESC, id DESC);
CREATE INDEX activities_expires ON activities (expires);

CREATE TABLE history_items (
	tenant_id       text   NOT NULL,
	user_id         text   NOT NULL,
	app_id          text   NOT NULL,
	activity_id     bigint NOT NULL,
	id              text   COLLATE "C" NOT NULL, -- lower-case GUID, ordered bytewise for the keyset
	started         bigint NOT NULL,
	last_active     bigint,
	active_duration integer,
	user_timezone   text   NOT NULL,
	created         bigint NOT NULL,
	last_modified   bigint NOT NULL,
	expires         bigint NOT NULL,
	status          text   NOT NULL,
	PRIMARY KEY (tenant_id, user_id, app_id, activity_id, id),
	FOREIGN KEY (tenant_id, user_id, app_id, activity_id)
		REFERENCES activities (tenant_id, user_id, app_id, id) ON DELETE CASCADE
);

CREATE INDEX history_items_activity_last_modified ON history_items (tenant_id, user_id, app_id, activity_id, last_modified DESC, id DESC);
CREATE INDEX history_items_last_modified ON history_items (tenant_id, user_id, app_id, last_modified DESC);
CREATE INDEX history_items_expires ON history_items (expires);
