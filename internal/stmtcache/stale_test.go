package stmtcache_test

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/internal/stmtcache"
)

// TestStaleStatementAfterMigration changes a table's column type from
// another connection, as a replica that migrates does, under a statement
// this pool has prepared: the next executions re-prepare instead of failing
// with "cached plan must not change result type".
func TestStaleStatementAfterMigration(t *testing.T) {
	ctx := context.Background()
	url := pgtest.EmptyURL(t)
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	other, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := db.Exec(`CREATE TABLE kv (k text PRIMARY KEY, v int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO kv VALUES ('a', 1)`); err != nil {
		t.Fatal(err)
	}
	c := stmtcache.New(db)
	defer c.Close()
	q := stmtcache.Conn{DB: db, Cache: c}
	read := func(what string) string {
		t.Helper()
		var v string
		if err := q.QueryRowxContext(ctx, `SELECT v::text FROM kv WHERE k = $1`, "a").Scan(&v); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var n int
		rows, err := q.QueryxContext(ctx, `SELECT * FROM kv WHERE k = $1`, "a")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for rows.Next() {
			n++
		}
		if err := rows.Close(); err != nil || n != 1 {
			t.Fatalf("%s: %d rows, %v", what, n, err)
		}
		return v
	}
	for range 3 {
		read("before")
	}
	if _, err := other.Exec(`ALTER TABLE kv ALTER COLUMN v TYPE text USING v::text || '!'`); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if v := read("after"); v != "1!" {
			t.Fatalf("read %d after the migration: %q", i, v)
		}
	}
}
