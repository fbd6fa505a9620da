-- The sign-in provider's state (activity.Record): accounts, apps, authorization requests and codes,
-- device authorizations, grants and refresh tokens. The provider owns each kind's JSON body; the
-- store keeps, finds and removes rows. An expired row (expires at or before now; NULL is never) is
-- invisible and removed by later writes of its kind.
CREATE TABLE records (
	kind    text        NOT NULL,
	id      text        NOT NULL,
	owner   text        NOT NULL DEFAULT '',
	expires timestamptz,
	body    bytea       NOT NULL,
	PRIMARY KEY (kind, id)
);
CREATE INDEX records_owner ON records (kind, owner);
CREATE INDEX records_expires ON records (kind, expires) WHERE expires IS NOT NULL;
