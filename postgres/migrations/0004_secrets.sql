-- Secrets of the store, made on first use and shared by every process on the database: the keys that
-- sign skiptokens and make public activity ids opaque. Not per user: nothing here is user data, and a
-- distributed database keeps it as a reference table.
CREATE TABLE secrets (
	name  text  PRIMARY KEY,
	value bytea NOT NULL
);
