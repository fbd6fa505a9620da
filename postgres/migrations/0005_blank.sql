-- Which optional strings were sent as "" rather than null (activity.Fields bits): Graph keeps the
-- difference. Rows written before hold 0: every empty string of theirs was null. (A constant default
-- adds the column without rewriting the table.)
ALTER TABLE activities ADD COLUMN blank integer NOT NULL DEFAULT 0;
ALTER TABLE history_items ADD COLUMN blank integer NOT NULL DEFAULT 0;
