package dbopen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

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

// Options bound the time a store waits for its database; zero fields take
// the backend's defaults. Only PostgreSQL reads them.
type Options struct {
	// StatementTimeout is PostgreSQL's statement_timeout for every
	// session (postgres.DefaultStatementTimeout when zero and the URL
	// sets none).
	StatementTimeout time.Duration
	// ConnectTimeout bounds establishing a PostgreSQL connection
	// (postgres.DefaultConnectTimeout when zero and the URL sets none).
	ConnectTimeout time.Duration
}

// Open is OpenWith with default Options.
func Open(ctx context.Context, t Target) (Database, error) {
	return OpenWith(ctx, t, Options{})
}

// OpenWith opens the store t names without migrating it; a SQLite file's
// directory is created, like the file itself. The store is guarded
// (store.Guard): a call that finds the database down, silent past the
// statement timeout or (SQLite) locked past the busy timeout returns
// store.ErrUnavailable, and no call but Update waits longer than the
// statement timeout plus a margin. It returns the backend's error when
// the database cannot be opened.
func OpenWith(ctx context.Context, t Target, o Options) (Database, error) {
	switch t.Kind {
	case SQLite:
		if err := os.MkdirAll(filepath.Dir(t.Path), 0o750); err != nil {
			return nil, fmt.Errorf("database directory: %w", err)
		}
		db, err := sqlite.Open(ctx, t.Path)
		if err != nil {
			return nil, err
		}
		return guarded{Guarded: store.Guard(db, sqlite.IsUnavailable, 0), db: db}, nil
	case Postgres:
		db, err := postgres.OpenWith(ctx, t.URL, postgres.Options{StatementTimeout: o.StatementTimeout, ConnectTimeout: o.ConnectTimeout})
		if err != nil {
			return nil, err
		}
		return guarded{Guarded: store.Guard(db, postgres.IsUnavailable, db.CallTimeout()), db: db}, nil
	}
	return nil, fmt.Errorf("unknown database kind %q", t.Kind)
}

// guarded is a guarded store with its backend's Migrate and Analyze.
type guarded struct {
	*store.Guarded
	db interface {
		Migrate(ctx context.Context) error
	}
}

// Migrate migrates the backend.
func (g guarded) Migrate(ctx context.Context) error { return g.db.Migrate(ctx) }

// Analyze refreshes the planner statistics of a backend that keeps them
// (PostgreSQL), and does nothing for the others; it returns the backend's
// error.
func (g guarded) Analyze(ctx context.Context) error {
	if a, ok := g.db.(interface{ Analyze(context.Context) error }); ok {
		return a.Analyze(ctx)
	}
	return nil
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
