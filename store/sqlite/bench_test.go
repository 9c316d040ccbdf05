package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/scimd/scimd/store/sqlite"
	"github.com/scimd/scimd/store/storetest"
)

// BenchmarkAddMembers: adding 100 users to an empty group and to a group
// of 100,000 members (storetest.BenchAddMembers).
func BenchmarkAddMembers(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "scimd.db"))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	storetest.BenchAddMembers(b, s)
}

// BenchmarkPageDepth: the first page and the page at startIndex=99,901 of
// a 100,000-user directory (storetest.BenchPageDepth).
func BenchmarkPageDepth(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "scimd.db"))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	storetest.BenchPageDepth(b, s, nil)
}
