// Package storetest is the one conformance suite every store.Store backend
// passes. A backend's test calls Run with a function that returns a fresh,
// migrated, empty store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { … })
//	}
//
// The suite is the executable form of the doc comments in package store:
// tenants and tokens, user and group round trips, uniqueness, versions,
// tombstones, memberships, tenant isolation, the filter semantics of
// store.Filter on every attribute and operator (hand-written cases, and
// generated filters on generated data checked against the reference
// evaluator internal/filtereval), sorting, paging,
// serialised concurrent updates, and the user lifecycle (seat counts,
// email and userName reservation, the one owner, erase and restore, token
// kinds). It uses only the store interfaces, so
// every backend runs exactly the same checks.
package storetest
