package postgres

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// maxStatements bounds the prepared-statement cache. Queries are built from
// a small set of shapes (values are always bound parameters), so a directory
// in steady use needs a few dozen; past the bound, new shapes run unprepared.
const maxStatements = 1024

// stmtCache holds one server-side prepared statement per query text, shared
// by the pool: database/sql prepares it on each connection the first time
// that connection runs it. A prepared statement is parsed and planned once
// (PostgreSQL keeps a generic plan when it is as good as the custom ones)
// and runs in one round trip, where an unprepared query with parameters
// costs lib/pq two round trips and a parse and plan each time.
type stmtCache struct {
	db *sqlx.DB

	mu       sync.Mutex
	stmts    map[string]*sqlx.Stmt
	bad      map[string]bool // texts that cannot be prepared (several statements)
	inflight map[string]bool // texts being prepared in the background
	closed   bool
	bg       sync.WaitGroup // background prepares
}

func newStmtCache(db *sqlx.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sqlx.Stmt{}, bad: map[string]bool{}, inflight: map[string]bool{}}
}

// get returns the prepared statement for query, preparing it on the pool
// when wait is true; with wait false (inside a transaction, whose
// connection the pool may need to lend for the prepare) a missing
// statement is prepared in the background and nil is returned, so the
// caller runs this execution unprepared.
func (c *stmtCache) get(ctx context.Context, query string, wait bool) *sqlx.Stmt {
	c.mu.Lock()
	if st, ok := c.stmts[query]; ok || c.closed || c.bad[query] || len(c.stmts) >= maxStatements {
		c.mu.Unlock()
		return st
	}
	if !wait {
		if !c.inflight[query] {
			c.inflight[query] = true
			c.bg.Go(func() { c.prepare(context.Background(), query) })
		}
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return c.prepare(ctx, query)
}

// prepare prepares query on the pool and stores it; it returns nil when the
// statement cannot be prepared (the query then always runs unprepared) or
// the pool does not lend a connection in time.
func (c *stmtCache) prepare(ctx context.Context, query string) *sqlx.Stmt {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	st, err := c.db.PreparexContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, query)
	if err != nil {
		if ctx.Err() == nil && !isConnErr(err) {
			c.bad[query] = true
		}
		return nil
	}
	if prev, ok := c.stmts[query]; ok || c.closed {
		_ = st.Close()
		return prev
	}
	c.stmts[query] = st
	return st
}

// isConnErr reports whether err is about the connection rather than the
// statement text.
func isConnErr(err error) bool {
	return err == sql.ErrConnDone || err == context.Canceled || err == context.DeadlineExceeded
}

// close waits for background prepares and closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.bg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}

// conn runs queries through the statement cache, on the pool (tx nil) or
// in a transaction. It implements sqlx.ExtContext.
type conn struct {
	db    *sqlx.DB
	tx    *sqlx.Tx
	cache *stmtCache
}

var _ sqlx.ExtContext = conn{}

// stmt returns the statement to run query with, or nil to run it
// unprepared: queries without parameters gain nothing from preparing
// (lib/pq sends them in one round trip) and may hold several statements.
func (c conn) stmt(ctx context.Context, query string, args []any) *sqlx.Stmt {
	if len(args) == 0 || c.cache == nil {
		return nil
	}
	st := c.cache.get(ctx, query, c.tx == nil)
	if st == nil || c.tx == nil {
		return st
	}
	return c.tx.StmtxContext(ctx, st)
}

func (c conn) ext() sqlx.ExtContext {
	if c.tx != nil {
		return c.tx
	}
	return c.db
}

// QueryContext runs a query that returns rows.
func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query, args); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.ext().QueryContext(ctx, query, args...)
}

// QueryxContext runs a query that returns rows.
func (c conn) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if st := c.stmt(ctx, query, args); st != nil {
		return st.QueryxContext(ctx, args...)
	}
	return c.ext().QueryxContext(ctx, query, args...)
}

// QueryRowxContext runs a query that returns at most one row.
func (c conn) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if st := c.stmt(ctx, query, args); st != nil {
		return st.QueryRowxContext(ctx, args...)
	}
	return c.ext().QueryRowxContext(ctx, query, args...)
}

// ExecContext runs a statement that returns no rows.
func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query, args); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.ext().ExecContext(ctx, query, args...)
}

// DriverName returns the driver's name.
func (c conn) DriverName() string { return c.db.DriverName() }

// Rebind rewrites bind variables for the driver.
func (c conn) Rebind(query string) string { return c.db.Rebind(query) }

// BindNamed binds named parameters.
func (c conn) BindNamed(query string, arg any) (string, []any, error) {
	return c.db.BindNamed(query, arg)
}
