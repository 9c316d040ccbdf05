package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/scimd/scimd/store/postgres"
)

// Environment variables that configure the package.
const (
	// EnvURL names the variable holding the server URL.
	EnvURL = "TEST_DATABASE_URL"
	// EnvRequire names the variable that, set to 1, turns a missing or
	// unreachable server from a skip into a failure.
	EnvRequire = "SCIMD_REQUIRE_PG"
)

// server is the process-wide connection to the maintenance database and the
// state of the template built from it.
type server struct {
	base  *url.URL
	admin *sql.DB
	err   error // why the server cannot be used (skip or fail)

	tmplOnce sync.Once
	tmpl     string
	tmplErr  error
}

var (
	srvOnce sync.Once
	srv     *server
)

// connect opens (once per process) the maintenance connection named by
// TEST_DATABASE_URL.
func connect() *server {
	srvOnce.Do(func() {
		srv = &server{}
		raw := os.Getenv(EnvURL)
		if raw == "" {
			srv.err = fmt.Errorf("%s is not set; set it to a postgres:// URL (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run PostgreSQL tests", EnvURL)
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			srv.err = fmt.Errorf("%s must be a postgres:// URL", EnvURL)
			return
		}
		db, err := sql.Open("postgres", raw)
		if err != nil {
			srv.err = fmt.Errorf("%s: %v", EnvURL, err)
			return
		}
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(4)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			srv.err = fmt.Errorf("PostgreSQL at %s does not answer: %v", redact(u), err)
			return
		}
		srv.base, srv.admin = u, db
	})
	return srv
}

// unavailable skips the test, or fails it when SCIMD_REQUIRE_PG=1.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("pgtest: %v (%s=1 requires PostgreSQL)", err, EnvRequire)
	}
	t.Skipf("pgtest: skipping: %v", err)
}

// URL returns a connection URL to a fresh database for this test, cloned
// from the migrated template and dropped when the test ends. It skips the
// test when TEST_DATABASE_URL is unset or the server does not answer (fails
// it when SCIMD_REQUIRE_PG=1), and fails the test when the template cannot
// be built or cloned.
func URL(t testing.TB) string {
	t.Helper()
	s := connect()
	if s.err != nil {
		unavailable(t, s.err)
	}
	tmpl, err := s.template()
	if err != nil {
		t.Fatalf("pgtest: template: %v", err)
	}
	return s.create(t, "TEMPLATE "+pq.QuoteIdentifier(tmpl))
}

// EmptyURL returns a connection URL to a fresh, unmigrated database for this
// test, dropped when the test ends; it skips or fails like URL.
func EmptyURL(t testing.TB) string {
	t.Helper()
	s := connect()
	if s.err != nil {
		unavailable(t, s.err)
	}
	return s.create(t, "")
}

// Store opens a *postgres.Store on a fresh migrated database (URL) and
// closes it when the test ends; it skips or fails like URL and fails the
// test when the store cannot be opened.
func Store(t testing.TB) *postgres.Store {
	t.Helper()
	u := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// create makes a database with the given CREATE DATABASE options, registers
// its drop and returns its URL.
func (s *server) create(t testing.TB, options string) string {
	t.Helper()
	name := "scimd_test_" + randomHex()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" "+options); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.urlFor(name)
}

// urlFor is the base URL with its database replaced by name.
func (s *server) urlFor(name string) string {
	u := *s.base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// template returns the name of the migrated template database, building it
// once per process when no process has built it yet.
func (s *server) template() (string, error) {
	s.tmplOnce.Do(func() {
		s.tmpl, s.tmplErr = s.buildTemplate()
	})
	return s.tmpl, s.tmplErr
}

func (s *server) buildTemplate() (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "scimd_tmpl_" + sum
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	exists := func() (bool, error) {
		var n int
		err := s.admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n)
		return n > 0, err
	}
	// The final name appears only by rename, after migration: if it exists
	// it is ready.
	if ok, err := exists(); err != nil || ok {
		return name, err
	}

	tmp := name + "_tmp_" + randomHex()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(tmp)); err != nil {
		return "", fmt.Errorf("create %s: %w", tmp, err)
	}
	dropTmp := func() {
		_, _ = s.admin.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(tmp)+" IS_TEMPLATE false")
		_, _ = s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(tmp)+" WITH (FORCE)")
	}
	st, err := postgres.Open(ctx, s.urlFor(tmp))
	if err != nil {
		dropTmp()
		return "", err
	}
	err = st.Migrate(ctx)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		dropTmp()
		return "", fmt.Errorf("migrate %s: %w", tmp, err)
	}
	if _, err := s.admin.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(tmp)+" IS_TEMPLATE true"); err != nil {
		dropTmp()
		return "", fmt.Errorf("mark %s as template: %w", tmp, err)
	}
	_, err = s.admin.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(tmp)+" RENAME TO "+pq.QuoteIdentifier(name))
	if err != nil {
		dropTmp()
		if pq.As(err, pqerror.DuplicateDatabase) != nil { // another process won the race
			return name, nil
		}
		return "", fmt.Errorf("rename %s: %w", tmp, err)
	}
	return name, nil
}

// migrationsHash fingerprints the embedded migrations (names and contents).
func migrationsHash() (string, error) {
	fsys := postgres.MigrationsFS()
	var names []string
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, path)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", errors.New("no embedded migrations")
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// redact drops the password from a URL for messages.
func redact(u *url.URL) string {
	return u.Redacted()
}
