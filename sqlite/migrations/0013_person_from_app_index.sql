-- A person's timeline (their activities through every app, newest first) is read from the
-- app-scoped activities_last_modified, app by app (sqlite.Store.listPerson): activities_user, which
-- held every activity a second time in the person's time order, cost every create a leaf page more
-- to write and to checkpoint (BENCHMARKS.md §18).
DROP INDEX activities_user;
