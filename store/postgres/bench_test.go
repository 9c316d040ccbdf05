package postgres_test

import (
	"database/sql"
	"testing"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/storetest"
)

// BenchmarkAddMembers: adding 100 users to an empty group and to a group
// of 100,000 members (storetest.BenchAddMembers), on a fresh database.
func BenchmarkAddMembers(b *testing.B) {
	storetest.BenchAddMembers(b, pgtest.Store(b))
}

// BenchmarkPageDepth: the first page and the page at startIndex=99,901 of
// a 100,000-user directory (storetest.BenchPageDepth), on a fresh database,
// vacuumed and analyzed after the seeding.
func BenchmarkPageDepth(b *testing.B) {
	u := pgtest.URL(b)
	s, err := postgres.Open(b.Context(), u)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	storetest.BenchPageDepth(b, s, func(b *testing.B) {
		db, err := sql.Open("postgres", u)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(b.Context(), `VACUUM ANALYZE`); err != nil {
			b.Fatalf("VACUUM ANALYZE: %v", err)
		}
	})
}
