-- The sign-in provider's state (activity.Record): accounts, apps, authorization requests and codes,
-- device authorizations, grants and refresh tokens. The provider owns each kind's JSON body; the
-- store keeps, finds and removes rows. expires is in microseconds since 1970, NULL for never; an
-- expired row is invisible and removed by later writes of its kind.
CREATE TABLE records (
	kind    TEXT NOT NULL,
	id      TEXT NOT NULL,
	owner   TEXT NOT NULL DEFAULT '',
	expires INTEGER,
	body    BLOB NOT NULL,
	PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX records_owner ON records (kind, owner);
CREATE INDEX records_expires ON records (kind, expires) WHERE expires IS NOT NULL;
