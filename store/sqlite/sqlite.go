package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/scimd/scimd/internal/stmtcache"
	"github.com/scimd/scimd/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// readers is the number of connections in the reader pool. Reads are CPU
// work, so more connections than cores add no throughput, but with fewer
// a tenant running several requests at once (ratelimit's default lets 4
// run) could hold every reader while another tenant's look-up waits: with
// 4, that look-up's p99 under such a neighbour was 11.4 ms, with 8 it was
// 7.1–7.4 ms (docs/security.md, noisy neighbour).
const readers = 8

// Store is the SQLite implementation of store.Store. It is safe for
// concurrent use; write transactions are serialised on its single writer
// connection.
type Store struct {
	w *sqlx.DB // exactly one connection; transactions are BEGIN IMMEDIATE
	r *sqlx.DB // reader pool
	// Prepared statements of each pool: preparing (parsing and planning)
	// is most of the cost of a point look-up.
	wc, rc *stmtcache.Cache
}

// rconn runs statements on the reader pool.
func (s *Store) rconn() conn {
	return conn{stmtcache.Conn{DB: s.r, Cache: s.rc}}
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite database file at path and
// returns a Store with a single writer connection and a pool of reader
// connections, each in WAL mode with foreign keys on, synchronous=NORMAL
// and a busy timeout. It does not migrate the schema; call Migrate. It
// returns an error when the file cannot be opened or configured.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	w, err := openDB(ctx, path, 1, "&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	r, err := openDB(ctx, path, readers, "&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	return &Store{w: w, r: r, wc: stmtcache.New(w), rc: stmtcache.New(r)}, nil
}

func openDB(ctx context.Context, path string, conns int, extra string) (*sqlx.DB, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=secure_delete(1)" +
		// No memory map. With one, every read
		// transaction that follows a commit unmaps the file and maps it
		// again (the pager drops its mapping when the database changed),
		// and under a stream of writes those unmaps, each stalling every
		// thread of the process, cost more than the read system calls the
		// map saves: another tenant's look-up p99 while a neighbour sent
		// creations went from 2.0-2.4 ms to 1.5-1.9 ms without it, and
		// the mixed benchmark ran 5-9 % faster; read-only look-ups at
		// concurrency 16 run ~15 % slower (docs/security.md, section 2).
		// Keep more pages per connection than the default 2 MB.
		"&_pragma=mmap_size(0)" +
		"&_pragma=cache_size(-32000)" + extra
	db, err := sqlx.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// Migrate applies every embedded migration that has not been applied yet,
// on the writer connection. It returns the first migration error.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w.DB, fsys)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	// Reader connections opened before the migrations read the planner
	// statistics of 00005_stats.sql only when they next open: start them
	// afresh.
	s.r.SetMaxIdleConns(0)
	s.r.SetMaxIdleConns(readers)
	return nil
}

// Ping checks that both the writer and the reader connections answer, and
// returns the first error.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return err
	}
	return s.r.PingContext(ctx)
}

// Close closes both connection pools and returns the first error.
func (s *Store) Close() error {
	s.rc.Close()
	s.wc.Close()
	return errors.Join(s.r.Close(), s.w.Close())
}

// Update runs fn in an IMMEDIATE transaction on the writer connection:
// it commits when fn returns nil, rolls back and returns fn's error
// unchanged when it does not, and rolls back and re-panics when fn panics.
// Errors beginning or committing the transaction are returned as they are.
// fn must not call Update itself (there is one writer connection).
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.write(ctx, func(t *tx) error { return fn(ctx, t) })
}

// write runs fn in an IMMEDIATE transaction on the writer connection, as
// Update describes: it commits when fn returns nil and rolls back (and
// returns fn's error unchanged, or re-panics) when it does not.
func (s *Store) write(ctx context.Context, fn func(t *tx) error) error {
	sqlTx, err := s.w.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(&tx{conn{stmtcache.Conn{DB: s.w, Tx: sqlTx, Cache: s.wc}}}); err != nil {
		done = true
		_ = sqlTx.Rollback()
		return err
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// read runs fn in a read transaction on the reader pool, so that its
// statements see one snapshot.
func (s *Store) read(ctx context.Context, fn func(c conn) error) error {
	sqlTx, err := s.r.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer sqlTx.Rollback() //nolint:errcheck // read-only; nothing to keep
	return fn(conn{stmtcache.Conn{DB: s.r, Tx: sqlTx, Cache: s.rc}})
}

// GetTenant implements store.Reader; a missing tenant is store.ErrNotFound.
func (s *Store) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	return s.rconn().GetTenant(ctx, id)
}

// GetTenantByName implements store.Reader; a missing tenant is
// store.ErrNotFound.
func (s *Store) GetTenantByName(ctx context.Context, name string) (store.Tenant, error) {
	return s.rconn().GetTenantByName(ctx, name)
}

// ListTenants implements store.Reader; it returns only database errors.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	return s.rconn().ListTenants(ctx)
}

// TokenByHash implements store.Reader; an unknown hash is
// store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	return s.rconn().TokenByHash(ctx, hash)
}

// ListTokens implements store.Reader; it returns only database errors.
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]store.Token, error) {
	return s.rconn().ListTokens(ctx, tenantID)
}

// UserOwnsLiveToken implements store.Reader; it returns only database
// errors.
func (s *Store) UserOwnsLiveToken(ctx context.Context, tenantID, userID string, now time.Time) (bool, error) {
	return s.rconn().UserOwnsLiveToken(ctx, tenantID, userID, now)
}

// GetUser implements store.Reader; a missing, deleted or malformed id is
// store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, tenantID, id string) (u store.User, err error) {
	err = s.read(ctx, func(c conn) error {
		u, err = c.GetUser(ctx, tenantID, id)
		return err
	})
	return u, err
}

// GetUserByUserName implements store.Reader; no live user with that
// folded userName is store.ErrNotFound.
func (s *Store) GetUserByUserName(ctx context.Context, tenantID, userName string) (u store.User, err error) {
	err = s.read(ctx, func(c conn) error {
		u, err = c.GetUserByUserName(ctx, tenantID, userName)
		return err
	})
	return u, err
}

// GetTombstone implements store.Reader; a missing, live or malformed id
// is store.ErrNotFound.
func (s *Store) GetTombstone(ctx context.Context, tenantID, id string) (u store.User, err error) {
	err = s.read(ctx, func(c conn) error {
		u, err = c.GetTombstone(ctx, tenantID, id)
		return err
	})
	return u, err
}

// CountUsers implements store.Reader; it returns only database errors.
func (s *Store) CountUsers(ctx context.Context, tenantID string, states ...store.UserState) (int, error) {
	return s.rconn().CountUsers(ctx, tenantID, states...)
}

// EmailTaken implements store.Reader; it returns only database errors.
func (s *Store) EmailTaken(ctx context.Context, tenantID, email, exceptUserID string) (bool, error) {
	return s.rconn().EmailTaken(ctx, tenantID, email, exceptUserID)
}

// UserNameReserved implements store.Reader; it returns only database
// errors.
func (s *Store) UserNameReserved(ctx context.Context, tenantID, userName string) (bool, error) {
	return s.rconn().UserNameReserved(ctx, tenantID, userName)
}

// FindRetainedByEmail implements store.Reader; no retained tombstone with
// that email is store.ErrNotFound.
func (s *Store) FindRetainedByEmail(ctx context.Context, tenantID, email string) (u store.User, err error) {
	err = s.read(ctx, func(c conn) error {
		u, err = c.FindRetainedByEmail(ctx, tenantID, email)
		return err
	})
	return u, err
}

// GetOwner implements store.Reader; a tenant without a live owner is
// store.ErrNotFound.
func (s *Store) GetOwner(ctx context.Context, tenantID string) (u store.User, err error) {
	err = s.read(ctx, func(c conn) error {
		u, err = c.GetOwner(ctx, tenantID)
		return err
	})
	return u, err
}

// ListUsers implements store.Reader in one read transaction (one
// snapshot), of live users or (Query.Deleted) of tombstones; a filter or
// sort it cannot compile, or a Query.IfChurn it does not take, is a
// *store.UnsupportedError (store.ErrUnsupported), and a page whose
// Query.IfChurn is no longer the tenant's churn count is store.ErrStale.
func (s *Store) ListUsers(ctx context.Context, tenantID string, q store.Query) (p store.UserPage, err error) {
	err = s.read(ctx, func(c conn) error {
		p, err = c.ListUsers(ctx, tenantID, q)
		return err
	})
	return p, err
}

// UserCheckpoints implements store.Reader in one read transaction (one
// snapshot): every below 1 is a *store.UnsupportedError
// (store.ErrUnsupported); other errors are the database's.
func (s *Store) UserCheckpoints(ctx context.Context, tenantID string, every int) (cp store.Checkpoints, err error) {
	err = s.read(ctx, func(c conn) error {
		cp, err = c.UserCheckpoints(ctx, tenantID, every)
		return err
	})
	return cp, err
}

// UserGroups implements store.Reader; it returns only database errors.
func (s *Store) UserGroups(ctx context.Context, tenantID string, userIDs []string) (map[string][]store.GroupRef, error) {
	return s.rconn().UserGroups(ctx, tenantID, userIDs)
}

// GetGroup implements store.Reader; a missing or malformed id is
// store.ErrNotFound.
func (s *Store) GetGroup(ctx context.Context, tenantID, id string) (store.Group, error) {
	return s.rconn().GetGroup(ctx, tenantID, id)
}

// ListGroups implements store.Reader; a filter or sort it cannot compile,
// or a Query.IfChurn, is a *store.UnsupportedError (store.ErrUnsupported).
func (s *Store) ListGroups(ctx context.Context, tenantID string, q store.Query) (p store.GroupPage, err error) {
	err = s.read(ctx, func(c conn) error {
		p, err = c.ListGroups(ctx, tenantID, q)
		return err
	})
	return p, err
}

// GroupMembers implements store.Reader; it returns only database errors.
func (s *Store) GroupMembers(ctx context.Context, tenantID string, groupIDs []string) (map[string][]store.Member, error) {
	return s.rconn().GroupMembers(ctx, tenantID, groupIDs)
}

// mapErr turns SQLite constraint errors into store errors: a uniqueness
// violation on a users row is a ConflictError for userName (or roles, for
// the one-owner index), on a groups row for displayName, and so on. Other
// errors are returned as they are.
func mapErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		// SQLite names the columns of the violated index, not the index.
		switch uniqueColumns(se.Error()) {
		case "users.tenant_id, users.user_name_key":
			return &store.ConflictError{Attr: "userName"}
		case "users.tenant_id": // users_one_owner (migrations/00002_lifecycle.sql)
			return &store.ConflictError{Attr: "roles"}
		case "groups.tenant_id, groups.display_name_key":
			return &store.ConflictError{Attr: "displayName"}
		case "tenants.name":
			return &store.ConflictError{Attr: "name"}
		case "tokens.hash", "console_secrets.hash":
			return &store.ConflictError{Attr: "hash"}
		case "webhooks.tenant_id, webhooks.url":
			return &store.ConflictError{Attr: "url"}
		default:
			return &store.ConflictError{Attr: "id"}
		}
	}
	return err
}

// uniqueColumns returns the column list of a SQLite uniqueness violation
// message ("UNIQUE constraint failed: t.a, t.b (2067)" gives "t.a, t.b"),
// or "" when msg is not one.
func uniqueColumns(msg string) string {
	const prefix = "UNIQUE constraint failed: "
	i := strings.Index(msg, prefix)
	if i < 0 {
		return ""
	}
	cols := msg[i+len(prefix):]
	if j := strings.LastIndex(cols, " ("); j >= 0 {
		cols = cols[:j]
	}
	return cols
}

// isNoRows reports whether err is sql.ErrNoRows.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// ListEvents implements store.Reader; it returns only database errors.
func (s *Store) ListEvents(ctx context.Context, tenantID, after string, limit int) ([]store.Event, error) {
	return s.rconn().ListEvents(ctx, tenantID, after, limit)
}

// ListAudit implements store.Reader; it returns only database errors.
func (s *Store) ListAudit(ctx context.Context, tenantID, after string, limit int) ([]store.AuditEntry, error) {
	return s.rconn().ListAudit(ctx, tenantID, after, limit)
}
