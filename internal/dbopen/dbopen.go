package dbopen

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

// Database is a store that can migrate itself.
type Database interface {
	store.Store
	Migrate(ctx context.Context) error
}

// DefaultSQLite is the SQLite file an empty URL names.
const DefaultSQLite = "scimd.db"

// Kinds of database a Target names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Target is what a database URL names.
type Target struct {
	Kind string // SQLite or Postgres
	Path string // the SQLite file
	URL  string // the PostgreSQL connection URL
}

// Parse reads a database URL. A URL of no known form, or a sqlite:// URL
// without a file, is an error whose text hides any password.
func Parse(u string) (Target, error) {
	switch {
	case u == "":
		return Target{Kind: SQLite, Path: DefaultSQLite}, nil
	case strings.HasPrefix(u, "sqlite://"):
		p := strings.TrimPrefix(u, "sqlite://")
		if p == "" || p == "/" {
			return Target{}, fmt.Errorf("database URL %q names no file", u)
		}
		return Target{Kind: SQLite, Path: p}, nil
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return Target{Kind: Postgres, URL: u}, nil
	}
	return Target{}, fmt.Errorf("database URL %q: use sqlite:///abs/path.db, sqlite://rel/path.db or postgres://…", Redact(u))
}

// Open opens the store t names without migrating it; a SQLite file's
// directory is created, like the file itself. It returns the backend's
// error when the database cannot be opened.
func Open(ctx context.Context, t Target) (Database, error) {
	switch t.Kind {
	case SQLite:
		if err := os.MkdirAll(filepath.Dir(t.Path), 0o750); err != nil {
			return nil, fmt.Errorf("database directory: %w", err)
		}
		return sqlite.Open(ctx, t.Path)
	case Postgres:
		return postgres.Open(ctx, t.URL)
	}
	return nil, fmt.Errorf("unknown database kind %q", t.Kind)
}

// Redact hides the password of a database URL, for messages and reports.
func Redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return u
	}
	if user, _, hasPw := strings.Cut(userinfo, ":"); hasPw {
		return scheme + "://" + user + ":***@" + host
	}
	return u
}
