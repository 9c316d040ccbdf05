package postgres_test

import (
	"testing"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestConformance runs the shared storage conformance suite, each subtest on
// its own database cloned from the migrated template.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return pgtest.Store(t) })
}
