-- Subscriptions to change notifications (webhooks), with the notifier's delivery state: where in the
-- change log delivery is up to (pos_tx, pos_seq), since when it fails, when to try again, and the
-- lease of the process delivering it. Times are microseconds. Keyed by user first.
CREATE TABLE subscriptions (
	tenant_id        text   NOT NULL,
	user_id          text   NOT NULL,
	app_id           text   NOT NULL,
	id               text   NOT NULL, -- a GUID
	resource         text   NOT NULL,
	change_types     text   NOT NULL, -- comma-separated
	notification_url text   NOT NULL,
	lifecycle_url    text   NOT NULL,
	client_state     text   NOT NULL,
	expires          bigint NOT NULL,
	created          bigint NOT NULL,
	pos_tx           bigint NOT NULL,
	pos_seq          bigint NOT NULL,
	failing_from     bigint NOT NULL DEFAULT 0,
	next_attempt     bigint NOT NULL DEFAULT 0,
	lease_until      bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, user_id, app_id, id)
);

CREATE INDEX subscriptions_due ON subscriptions (next_attempt);
