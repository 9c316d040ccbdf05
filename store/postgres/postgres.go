package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/scimd/scimd/internal/stmtcache"
	"github.com/scimd/scimd/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Pool and session settings, sized for a 2-core box: opening a backend costs
// far more than a query, so idle connections equal open ones and live long.
const (
	maxOpenConns    = 16
	connMaxLifetime = time.Hour
	connMaxIdleTime = 30 * time.Minute
)

// Constraint names the conflict mapping knows (see migrations/00001_init.sql,
// 00002_lifecycle.sql and 00005_events.sql).
const (
	constraintUserName    = "users_user_name_key_uniq"
	constraintOneOwner    = "users_one_owner_uniq"
	constraintDisplayName = "groups_display_name_key_uniq"
	constraintGroupFK     = "group_members_group_fk"
	constraintWebhookURL  = "webhooks_url_uniq"
)

// Store is the PostgreSQL implementation of store.Store. It is safe for
// concurrent use; its Reader methods each run as one statement (one
// snapshot) outside any explicit transaction.
type Store struct {
	reader
	db    *sqlx.DB
	stmts *stmtcache.Cache
	cfg   pq.Config     // for Migrate's own connection
	bound time.Duration // CallTimeout
}

var _ store.Store = (*Store)(nil)

// Options bound the time a Store waits for the database; zero fields take
// the defaults.
type Options struct {
	// StatementTimeout is the statement_timeout of every session: the
	// server cancels a statement (lock waits included) that runs longer.
	// Zero keeps the URL's statement_timeout, or DefaultStatementTimeout
	// when the URL sets none.
	StatementTimeout time.Duration
	// ConnectTimeout bounds establishing a connection. Zero keeps the
	// URL's connect_timeout, or DefaultConnectTimeout when it sets none.
	ConnectTimeout time.Duration
}

// Open is OpenWith with default Options.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith connects to the PostgreSQL database at url (a postgres:// URL or
// a key=value connection string, as lib/pq accepts), sizes the connection
// pool, sets the statement timeout and the connect timeout of o and the UTC
// time zone on every session, and pings the server. A connection that
// awaits an answer and hears nothing for the statement timeout plus two
// seconds is given up as broken (the server would have ended the statement
// by then), so a silent server cannot hold a caller forever; a statement
// timeout of 0 (disabled) disables that bound too. It does not migrate;
// call Migrate. It returns an error when url cannot be parsed or the server
// does not answer before ctx ends.
func OpenWith(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse connection url: %w", err)
	}
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	if o.StatementTimeout > 0 {
		cfg.Runtime["statement_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
	} else if _, ok := cfg.Runtime["statement_timeout"]; !ok {
		cfg.Runtime["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	statement, ok := pgInterval(cfg.Runtime["statement_timeout"])
	if !ok {
		return nil, fmt.Errorf("postgres: statement_timeout %q: use a number of milliseconds or a number with a unit (ms, s, min, h)", cfg.Runtime["statement_timeout"])
	}
	switch {
	case o.ConnectTimeout > 0:
		cfg.ConnectTimeout = o.ConnectTimeout
	case cfg.ConnectTimeout <= 0:
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.TZ == "" {
		cfg.TZ = "UTC"
	}
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connector: %w", err)
	}
	var bound time.Duration
	if statement > 0 {
		bound = statement + silenceMargin
	}
	connector.Dialer(watchDialer{silence: bound})
	sdb := sql.OpenDB(connector)
	sdb.SetMaxOpenConns(maxOpenConns)
	sdb.SetMaxIdleConns(maxOpenConns)
	sdb.SetConnMaxLifetime(connMaxLifetime)
	sdb.SetConnMaxIdleTime(connMaxIdleTime)
	db := sqlx.NewDb(sdb, "postgres")
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	stmts := stmtcache.New(db)
	return &Store{reader: reader{q: stmtcache.Conn{DB: db, Cache: stmts}}, db: db, stmts: stmts, cfg: cfg, bound: bound}, nil
}

// CallTimeout is how long one call may wait for the database before it is
// given up (the statement timeout plus a margin; 0 when statements are not
// bounded): the bound store.Guard should put on each call.
func (s *Store) CallTimeout() time.Duration { return s.bound }

// MigrationsFS returns the embedded migration files (migrations/*.sql), for
// tools that fingerprint or inspect the schema (internal/pgtest derives its
// template database name from them).
func MigrationsFS() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return sub
}

// Migrate applies every pending migration with goose under a PostgreSQL
// session advisory lock, so several replicas may call it on one database at
// once: one migrates while the others wait (polling every second, for up to
// five minutes) and then find nothing to do. It returns an error when the
// lock cannot be taken in time or a migration fails.
func (s *Store) Migrate(ctx context.Context) error {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("postgres: migration locker: %w", err)
	}
	// Migrations run on a connection of their own without the sessions'
	// statement timeout: building an index on a large table may take
	// longer than any request should.
	cfg := s.cfg.Clone()
	cfg.Runtime["statement_timeout"] = "0"
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	mdb := sql.OpenDB(connector)
	defer mdb.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, mdb, MigrationsFS(),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Update runs fn in a READ COMMITTED transaction and commits it when fn
// returns nil. An error from fn rolls the transaction back and is returned
// unchanged; a panic in fn rolls back and panics again. An error beginning or
// committing the transaction is returned wrapped.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	// Waiting for a connection is bounded like any call (store.Guard
	// bounds the others); the transaction itself is as long as its
	// statements, each bounded by the statement timeout.
	actx, cancel := ctx, context.CancelFunc(func() {})
	if s.bound > 0 {
		actx, cancel = context.WithTimeout(ctx, s.bound)
	}
	conn, err := s.db.Connx(actx)
	cancel()
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	finished := false
	defer func() {
		if !finished { // fn panicked
			_ = tx.Rollback()
		}
	}()
	t := &txn{reader: reader{q: stmtcache.Conn{DB: s.db, Tx: tx, Cache: s.stmts}}}
	err = fn(ctx, t)
	if err == nil {
		err = t.flushAudit(ctx)
	}
	finished = true
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: commit: %w", mapErr(err))
	}
	return nil
}

// Ping checks that the database answers; it returns the driver's error when
// it does not, and ctx's error when ctx ends first, even if the server has
// gone silent and the driver still waits for it (readiness checks must
// answer in their own time).
func (s *Store) Ping(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.db.PingContext(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes the connection pool; it returns the error of closing it.
func (s *Store) Close() error {
	s.stmts.Close()
	return s.db.Close()
}

// mapErr turns driver errors the contract names into store errors:
// unique violations become ErrConflict (a *store.ConflictError for userName,
// roles (the one live owner), displayName and a webhook's url).
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if pqErr := pq.As(err, pqerror.UniqueViolation); pqErr != nil {
		switch pqErr.Constraint {
		case constraintUserName:
			return &store.ConflictError{Attr: "userName"}
		case constraintOneOwner:
			return &store.ConflictError{Attr: "roles"}
		case constraintDisplayName:
			return &store.ConflictError{Attr: "displayName"}
		case constraintWebhookURL:
			return &store.ConflictError{Attr: "url"}
		}
		return fmt.Errorf("%w (constraint %s)", store.ErrConflict, pqErr.Constraint)
	}
	return err
}

// errMalformed is returned (wrapped) by writes given an id that is not a
// canonical UUID.
var errMalformed = errors.New("postgres: not a canonical UUID")

// parseID reports whether s is a UUID in canonical form (lowercase, with
// hyphens, as uuid.UUID.String writes it). Only such ids are ever stored, so
// anything else matches no row and never reaches PostgreSQL's uuid cast.
func parseID(s string) bool {
	if len(s) != 36 {
		return false
	}
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// needID returns an error naming what when id is not a canonical UUID.
func needID(what, id string) error {
	if !parseID(id) {
		return fmt.Errorf("%w: %s %q", errMalformed, what, id)
	}
	return nil
}

// validIDs returns the canonical UUIDs among ids, without duplicates, in
// their first order.
func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if !parseID(id) {
			continue
		}
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}

// nullStr maps "" to NULL.
func nullStr(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// nullKey maps "" to NULL and anything else to store.Fold of it.
func nullKey(s string) sql.NullString {
	if s == "" {
		return sql.NullString{}
	}
	return sql.NullString{String: store.Fold(s), Valid: true}
}

// nullTime maps nil to NULL.
func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: *t, Valid: true}
}

// timePtr maps NULL to nil and a time to its UTC form.
func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// jsonDoc maps an empty document to NULL.
func jsonDoc(doc []byte) any {
	if len(doc) == 0 {
		return nil
	}
	return string(doc)
}
