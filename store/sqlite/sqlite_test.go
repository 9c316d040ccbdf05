package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/sqlite"
	"github.com/scimd/scimd/store/storetest"
)

// openStore opens a fresh, migrated store on a new file in the test's
// temporary directory and closes it when the test ends.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "scimd.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) })
}
