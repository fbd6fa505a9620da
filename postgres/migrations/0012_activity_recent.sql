-- An activity's recent time (the lastModifiedDateTime of its newest history item) moves to a narrow
-- table of its own. Every history item write moves it; as a column of activities each move was an
-- UPDATE of the whole activity row that PostgreSQL cannot make a heap-only update (recent is
-- indexed), so it wrote a new entry into every index of activities, the full-text GIN index's one a
-- lexeme included. Here it rewrites a row of five columns with two indexes. A row exists while the
-- activity holds history items, and goes with the activity.
CREATE TABLE activity_recent (
	tenant_id   text   NOT NULL,
	user_id     text   NOT NULL,
	app_id      text   NOT NULL,
	activity_id bigint NOT NULL,
	recent      bigint NOT NULL,
	PRIMARY KEY (tenant_id, user_id, app_id, activity_id),
	FOREIGN KEY (tenant_id, user_id, app_id, activity_id) REFERENCES activities (tenant_id, user_id, app_id, id) ON DELETE CASCADE
);

INSERT INTO activity_recent (tenant_id, user_id, app_id, activity_id, recent)
	SELECT tenant_id, user_id, app_id, id, recent FROM activities WHERE recent IS NOT NULL;

CREATE INDEX activity_recent_recent ON activity_recent (tenant_id, user_id, app_id, recent DESC, activity_id DESC);

DROP INDEX activities_recent;
ALTER TABLE activities DROP COLUMN recent;
