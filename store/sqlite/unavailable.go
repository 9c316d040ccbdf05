package sqlite

import (
	"errors"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsUnavailable reports whether err means the database stayed locked by
// another connection or process past the busy timeout (SQLITE_BUSY or
// SQLITE_LOCKED, extended codes included): the database is there but not
// available now, so the caller should retry later. store.Guard uses it to
// return store.ErrUnavailable.
func IsUnavailable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}
