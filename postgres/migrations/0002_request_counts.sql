-- Request counters for throttling, shared by every process on the database. Keyed by user first,
-- like every table here.
CREATE TABLE request_counts (
	tenant_id text   NOT NULL,
	user_id   text   NOT NULL,
	app_id    text   NOT NULL,
	counter   text   NOT NULL, -- kind, rate and window, e.g. w100/5m@1795752000
	count     bigint NOT NULL,
	expires   bigint NOT NULL, -- microseconds; the end of the window
	PRIMARY KEY (tenant_id, user_id, app_id, counter)
);

CREATE INDEX request_counts_expires ON request_counts (expires);
