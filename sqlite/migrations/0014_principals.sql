-- Activities are indexed by an integer principal (a row of principals: tenant, user and app) instead
-- of the three text ids themselves (GUIDs under Entra ID: over 100 bytes an entry). The narrower
-- entries fill a leaf with about five times as many, so a create splits leaves of the unique key and
-- of the time index far less often: pages written a create 8.5 -> 7.3 (BenchmarkCreate_Pages;
-- BENCHMARKS.md §19), and reads of a principal's activities read fewer index pages. The text ids
-- stay in each row, and statements check them too. A principal's row goes with the last of its
-- activities when its person forgets the app or everything; sqlite.principalIDs caches the ids.
CREATE TABLE principals (
	id        INTEGER PRIMARY KEY,
	tenant_id TEXT    NOT NULL,
	user_id   TEXT    NOT NULL,
	app_id    TEXT    NOT NULL,
	UNIQUE (tenant_id, user_id, app_id)
);
INSERT INTO principals (tenant_id, user_id, app_id)
	SELECT DISTINCT tenant_id, user_id, app_id FROM activities ORDER BY tenant_id, user_id, app_id;

ALTER TABLE activities ADD COLUMN principal INTEGER NOT NULL DEFAULT 0;
UPDATE activities SET principal = (SELECT p.id FROM principals p
	WHERE p.tenant_id = activities.tenant_id AND p.user_id = activities.user_id AND p.app_id = activities.app_id);

DROP INDEX activities_app_activity_id;
DROP INDEX activities_last_modified;
DROP INDEX activities_recent;
CREATE UNIQUE INDEX activities_key ON activities (principal, app_activity_id);
CREATE INDEX activities_last_modified ON activities (principal, last_modified DESC, id DESC);
CREATE INDEX activities_recent ON activities (principal, recent DESC, id DESC) WHERE recent IS NOT NULL;
-- A row without its principal would be found by no list and would share the key of every other
-- such row: refused (the column's DEFAULT 0 is there only because ALTER TABLE needs one).
CREATE TRIGGER activities_principal_required BEFORE INSERT ON activities WHEN new.principal = 0 BEGIN
	SELECT RAISE(ABORT, 'activities.principal is required (migration 0014)');
END;
