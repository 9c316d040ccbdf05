// Package sqlite is the embedded storage backend of scimd: one SQLite file
// opened with modernc.org/sqlite (pure Go, no cgo), in WAL mode, with one
// writer connection whose transactions begin IMMEDIATE and a small pool of
// reader connections.
//
// The schema lives in embedded goose migrations (migrations/*.sql); Open
// does not apply them, Migrate does. Timestamps are stored as INTEGER unix
// microseconds in UTC, empty strings as NULL, and every caseExact=false
// attribute has a *_key column holding store.Fold of its value, so that
// case-insensitive comparisons and uniqueness use plain indexes.
//
// Filters are compiled to SQL with bound parameters only (see filter.go);
// the semantics are those of store.Filter and are checked by the
// conformance suite in store/storetest.
package sqlite
