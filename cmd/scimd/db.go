package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/sqlite"
)

// database is a store that can migrate itself.
type database interface {
	store.Store
	Migrate(ctx context.Context) error
}

// defaultDatabase is the SQLite file used when SCIMD_DATABASE_URL is unset.
const defaultDatabase = "scimd.db"

// openDatabase opens the database a URL names: "" (the SQLite file
// scimd.db in the working directory), sqlite:///abs/path.db,
// sqlite://rel/path.db, or postgres://… (postgresql:// too).
func openDatabase(ctx context.Context, url string) (database, error) {
	switch {
	case url == "":
		return sqlite.Open(ctx, defaultDatabase)
	case strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		if path == "" || path == "/" {
			return nil, fmt.Errorf("database URL %q names no file", url)
		}
		// The file's directory is created, like the file itself.
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("database directory: %w", err)
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	}
	return nil, fmt.Errorf("database URL %q: use sqlite:///abs/path.db, sqlite://rel/path.db or postgres://…", redact(url))
}

// redact hides a password in a database URL for messages.
func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return url
	}
	if user, _, hasPw := strings.Cut(userinfo, ":"); hasPw {
		return scheme + "://" + user + ":***@" + host
	}
	return url
}
