-- Subscriptions to change notifications (webhooks), with the notifier's delivery state: where in the
-- change log delivery is up to (pos_tx, pos_seq), since when it fails, when to try again, and the
-- lease of the notifier delivering it. Times are microseconds.
CREATE TABLE subscriptions (
	id               TEXT    PRIMARY KEY, -- a GUID
	tenant_id        TEXT    NOT NULL,
	user_id          TEXT    NOT NULL,
	app_id           TEXT    NOT NULL,
	resource         TEXT    NOT NULL,
	change_types     TEXT    NOT NULL, -- comma-separated
	notification_url TEXT    NOT NULL,
	lifecycle_url    TEXT    NOT NULL,
	client_state     TEXT    NOT NULL,
	expires          INTEGER NOT NULL,
	created          INTEGER NOT NULL,
	pos_tx           INTEGER NOT NULL,
	pos_seq          INTEGER NOT NULL,
	failing_from     INTEGER NOT NULL DEFAULT 0,
	next_attempt     INTEGER NOT NULL DEFAULT 0,
	lease_until      INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX subscriptions_principal ON subscriptions (tenant_id, user_id, app_id);
CREATE INDEX subscriptions_due ON subscriptions (next_attempt);
