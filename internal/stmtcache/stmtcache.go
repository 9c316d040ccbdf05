package stmtcache

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// MaxStatements bounds a Cache. Queries are built from a small set of
// shapes (values are always bound parameters), so a directory in steady use
// needs a few dozen; past the bound, new shapes run unprepared.
const MaxStatements = 1024

// Cache holds one prepared statement per query text, shared by a pool:
// database/sql prepares it on each connection the first time that
// connection runs it. It is safe for concurrent use.
type Cache struct {
	db *sqlx.DB

	mu       sync.Mutex
	stmts    map[string]*sqlx.Stmt
	bad      map[string]bool // texts that cannot be prepared (several statements)
	inflight map[string]bool // texts being prepared in the background
	closed   bool
	bg       sync.WaitGroup // background prepares
}

// New returns an empty Cache that prepares statements on db.
func New(db *sqlx.DB) *Cache {
	return &Cache{db: db, stmts: map[string]*sqlx.Stmt{}, bad: map[string]bool{}, inflight: map[string]bool{}}
}

// get returns the prepared statement for query, preparing it on the pool
// when wait is true; with wait false (inside a transaction, whose
// connection the pool may need to lend for the prepare) a missing
// statement is prepared in the background and nil is returned, so the
// caller runs this execution unprepared.
func (c *Cache) get(ctx context.Context, query string, wait bool) *sqlx.Stmt {
	c.mu.Lock()
	if st, ok := c.stmts[query]; ok || c.closed || c.bad[query] || len(c.stmts) >= MaxStatements {
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
func (c *Cache) prepare(ctx context.Context, query string) *sqlx.Stmt {
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
	return errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Close waits for background prepares and closes every cached statement;
// later queries run unprepared. Call it before closing the pool.
func (c *Cache) Close() {
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

// Conn runs queries through a Cache, on the pool (Tx nil) or in a
// transaction of the pool. It implements sqlx.ExtContext; its methods
// return the driver's errors.
type Conn struct {
	DB    *sqlx.DB
	Tx    *sqlx.Tx
	Cache *Cache // nil runs every query unprepared
}

var _ sqlx.ExtContext = Conn{}

// stmt returns the statement to run query with, or nil to run it
// unprepared: queries without parameters may hold several statements,
// which cannot be prepared, and are rare.
func (c Conn) stmt(ctx context.Context, query string, args []any) *sqlx.Stmt {
	if len(args) == 0 || c.Cache == nil {
		return nil
	}
	st := c.Cache.get(ctx, query, c.Tx == nil)
	if st == nil || c.Tx == nil {
		return st
	}
	return c.Tx.StmtxContext(ctx, st)
}

func (c Conn) ext() sqlx.ExtContext {
	if c.Tx != nil {
		return c.Tx
	}
	return c.DB
}

// stale reports whether err says a prepared statement no longer fits the
// schema: another replica migrated it while this one kept the statement
// (PostgreSQL: "cached plan must not change result type").
func stale(err error) bool {
	return err != nil && strings.Contains(err.Error(), "cached plan must not change result type")
}

// forget drops the statement for query, so that the next use prepares it
// again against the current schema. The dropped statement is not closed:
// other goroutines may be running it; its connections release it when
// they close.
func (c *Cache) forget(query string) {
	c.mu.Lock()
	delete(c.stmts, query)
	c.mu.Unlock()
}

// retry reports whether a prepared execution that failed with err should
// run again unprepared: outside a transaction, when the statement is stale
// (inside one the error has aborted the transaction; the caller's retry of
// the whole transaction prepares afresh).
func (c Conn) retry(query string, err error) bool {
	if c.Tx != nil || !stale(err) {
		return false
	}
	c.Cache.forget(query)
	return true
}

// QueryContext runs a query that returns rows.
func (c Conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query, args); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		if !c.retry(query, err) {
			return rows, err
		}
	}
	return c.ext().QueryContext(ctx, query, args...)
}

// QueryxContext runs a query that returns rows.
func (c Conn) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if st := c.stmt(ctx, query, args); st != nil {
		rows, err := st.QueryxContext(ctx, args...)
		if !c.retry(query, err) {
			return rows, err
		}
	}
	return c.ext().QueryxContext(ctx, query, args...)
}

// QueryRowxContext runs a query that returns at most one row.
func (c Conn) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if st := c.stmt(ctx, query, args); st != nil {
		row := st.QueryRowxContext(ctx, args...)
		if !c.retry(query, row.Err()) {
			return row
		}
	}
	return c.ext().QueryRowxContext(ctx, query, args...)
}

// ExecContext runs a statement that returns no rows.
func (c Conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query, args); st != nil {
		res, err := st.ExecContext(ctx, args...)
		if !c.retry(query, err) {
			return res, err
		}
	}
	return c.ext().ExecContext(ctx, query, args...)
}

// DriverName returns the driver's name.
func (c Conn) DriverName() string { return c.DB.DriverName() }

// Rebind rewrites bind variables for the driver.
func (c Conn) Rebind(query string) string { return c.DB.Rebind(query) }

// BindNamed binds named parameters.
func (c Conn) BindNamed(query string, arg any) (string, []any, error) {
	return c.DB.BindNamed(query, arg)
}
