// Package store is the storage contract of scimd: the model types, the
// Store and Tx interfaces, the filter and query types the SCIM layer hands
// to a backend, and the sentinel errors every backend returns.
//
// Backends live in store/sqlite and store/postgres; both pass the one
// conformance suite in store/storetest. Every method is scoped by tenant:
// no call reads or writes rows of a tenant other than the one it names.
// Case folding for caseExact=false attributes is Fold: the *_key columns are
// folded in Go when written, and values folded in the database (attributes
// of the JSON document) go through SQL that agrees with Fold exactly
// (scimd_fold on SQLite, lower() under "C" plus translate() on
// PostgreSQL), so both databases agree on which strings are equal.
//
// Guard wraps a backend so that no call hangs on a database that is down
// or silent and such failures come back as ErrUnavailable (internal/dbopen
// guards every store the commands open); the HTTP layers answer it with
// 503 and Retry-After.
package store
