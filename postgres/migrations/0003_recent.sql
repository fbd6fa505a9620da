-- recent is the lastModifiedDateTime of an activity's newest history item (NULL without items), kept
-- by every history item write, so that "recent" reads an index in order instead of grouping and
-- sorting the user's history items on each request.
ALTER TABLE activities ADD COLUMN recent bigint;

UPDATE activities a SET recent = (SELECT MAX(h.last_modified) FROM history_items h
	WHERE h.tenant_id = a.tenant_id AND h.user_id = a.user_id AND h.app_id = a.app_id AND h.activity_id = a.id);

CREATE INDEX activities_recent ON activities (tenant_id, user_id, app_id, recent DESC, id DESC) WHERE recent IS NOT NULL;

DROP INDEX history_items_last_modified;
