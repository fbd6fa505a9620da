package sqlite

import (
	"errors"
	"syscall"

	"github.com/activityd/activityd"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ClassifyError tells which errors of SQLite mean that the store cannot serve for now or is full
// (activity.ErrorClassifier; result codes: https://sqlite.org/rescode.html): SQLITE_BUSY and
// SQLITE_LOCKED (another process holds the database past busy_timeout), SQLITE_CANTOPEN and
// SQLITE_IOERR (the file or its disk went away) are activity.Unavailable; SQLITE_FULL ("database or
// disk is full") and ENOSPC are activity.StorageFull.
func (s *Store) ClassifyError(err error) string {
	if errors.Is(err, syscall.ENOSPC) {
		return activity.StorageFull
	}
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return ""
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return activity.StorageFull
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR:
		return activity.Unavailable
	}
	return ""
}
