-- Secrets of the store, made on first use and shared by every process that opens it: the keys that
-- sign skiptokens and make public activity ids opaque. Not per user: nothing here is user data.
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
