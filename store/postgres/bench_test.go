package postgres_test

import (
	"testing"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store/storetest"
)

// BenchmarkAddMembers: adding 100 users to an empty group and to a group
// of 100,000 members (storetest.BenchAddMembers), on a fresh database.
func BenchmarkAddMembers(b *testing.B) {
	storetest.BenchAddMembers(b, pgtest.Store(b))
}

// BenchmarkPageDepth: the first page and the page at startIndex=99,901 of
// a 100,000-user directory (storetest.BenchPageDepth), on a fresh database.
func BenchmarkPageDepth(b *testing.B) {
	storetest.BenchPageDepth(b, pgtest.Store(b))
}
