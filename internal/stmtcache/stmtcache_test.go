package stmtcache

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite"
)

func open(t *testing.T, conns int) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(`CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func (c *Cache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmts)
}

func TestPoolQueriesArePreparedOnce(t *testing.T) {
	ctx := context.Background()
	db := open(t, 4)
	c := New(db)
	defer c.Close()
	q := Conn{DB: db, Cache: c}
	for i := range 20 {
		if _, err := q.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, string(rune('a'+i)), "x"); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := q.QueryRowxContext(ctx, `SELECT v FROM kv WHERE k = ?`, string(rune('a'+i))).Scan(&v); err != nil || v != "x" {
			t.Fatalf("read back %q, %v", v, err)
		}
	}
	if n := c.size(); n != 2 {
		t.Fatalf("%d statements cached, want 2 (the insert and the select)", n)
	}
	rows, err := q.QueryxContext(ctx, `SELECT k FROM kv WHERE v = ? ORDER BY k`, "x")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Close(); err != nil || n != 20 {
		t.Fatalf("%d rows, %v; want 20", n, err)
	}
}

func TestUnpreparableTextsRunUnprepared(t *testing.T) {
	ctx := context.Background()
	db := open(t, 2)
	c := New(db)
	defer c.Close()
	q := Conn{DB: db, Cache: c}
	// No parameters: never prepared, so several statements in one text work.
	if _, err := q.ExecContext(ctx, `INSERT INTO kv VALUES ('a', '1'); INSERT INTO kv VALUES ('b', '2')`); err != nil {
		t.Fatal(err)
	}
	// A text the database refuses: the error comes back, nothing is cached,
	// and later calls keep returning it.
	for range 2 {
		if _, err := q.ExecContext(ctx, `INSERT INTO nosuch VALUES (?)`, 1); err == nil {
			t.Fatal("insert into a missing table succeeded")
		}
	}
	if n := c.size(); n != 0 {
		t.Fatalf("%d statements cached, want none", n)
	}
}

// TestMissInsideTransactionDoesNotWait runs a new query text inside a
// transaction that holds the pool's only connection: preparing it on the
// pool would wait for that connection forever, so it must run unprepared
// now and be prepared once the transaction is over.
func TestMissInsideTransactionDoesNotWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := open(t, 1)
	c := New(db)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := Conn{DB: db, Tx: tx, Cache: c}
	if _, err := q.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, "a", "1"); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := q.QueryRowxContext(ctx, `SELECT v FROM kv WHERE k = ?`, "a").Scan(&v); err != nil || v != "1" {
		t.Fatalf("read in the transaction: %q, %v", v, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for c.size() < 2 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	// Now cached: the next transaction runs both prepared, on its connection.
	tx, err = db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	q.Tx = tx
	if err := q.QueryRowxContext(ctx, `SELECT v FROM kv WHERE k = ?`, "a").Scan(&v); err != nil || v != "1" {
		t.Fatalf("prepared read in a transaction: %q, %v", v, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := c.size(); n != 0 {
		t.Fatalf("Close left %d statements", n)
	}
	// After Close queries still run, unprepared.
	if err := (Conn{DB: db, Cache: c}).QueryRowxContext(ctx, `SELECT v FROM kv WHERE k = ?`, "a").Scan(&v); err != nil {
		t.Fatal(err)
	}
}
