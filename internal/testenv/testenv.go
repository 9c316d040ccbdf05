package testenv

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/sqlite"
)

// Backends names the storage backends tests run on, in order.
var Backends = []string{"sqlite", "postgres"}

// Open returns a fresh, migrated, empty store of the named backend, closed
// when the test ends. For postgres it skips the test when no server is
// configured, or fails it when SCIMD_REQUIRE_PG=1.
func Open(t testing.TB, backend string) store.Store {
	t.Helper()
	switch backend {
	case "sqlite":
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "scimd.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	case "postgres":
		return pgtest.Store(t)
	}
	t.Fatalf("testenv: unknown backend %q", backend)
	return nil
}

// ForEach runs f as a subtest on a fresh store of every backend.
func ForEach(t *testing.T, f func(t *testing.T, s store.Store)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(b, func(t *testing.T) {
			f(t, Open(t, b))
		})
	}
}
