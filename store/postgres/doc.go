// Package postgres is the PostgreSQL backend of the scimd storage contract
// (package store), built on sqlx and lib/pq.
//
// The schema lives in embedded goose migrations (migrations/*.sql) that
// Migrate applies under a PostgreSQL advisory-lock session locker, so any
// number of replicas may migrate one database at once; Open never migrates.
// The SQL is written for PostgreSQL and stays within what Citus and
// CockroachDB support: tenant_id leads every key, ids are caller-generated
// UUIDs, there are no sequences and no advisory locks outside migrations.
//
// Case-insensitive matching compares the *_key columns, which hold
// store.Fold of their value computed in Go; text that is compared or sorted
// is stored with COLLATE "C", so every order is byte order, the same as Go
// and SQLite. Empty strings are stored as NULL (absent). Filters are
// compiled to SQL with bound parameters only (filter.go).
//
// Uniqueness is enforced by unique indexes alone: SQLSTATE 23505 is mapped
// by constraint name to *store.ConflictError. Write transactions run at
// READ COMMITTED; LockUser, LockGroup and LockTenant take row locks with
// SELECT … FOR UPDATE (LockTenant serialises seat and owner counts across
// replicas) and versioned updates are conditional on the expected version.
// After any error inside Store.Update the PostgreSQL transaction is aborted,
// so the function given to Update must return that error rather than go on
// using the Tx.
//
// Events are ordered by (txid, id), txid being the id of the transaction
// that wrote the event (pg_current_xact_id()). The event feed returns only
// events of transactions older than every transaction still running
// (pg_snapshot_xmin), so a reader following its positions never skips an
// event that commits late. AppendEvent writes the outbox row and one
// pending delivery per webhook of the tenant in one statement; the
// dispatcher claims deliveries with FOR UPDATE SKIP LOCKED and a lease,
// only the first pending one of each (webhook, resource) at a time. This
// part departs from the portable subset above: it relies on PostgreSQL
// transaction ids (xid8), delivery ids come from gen_random_uuid(), the
// claim index (on next_attempt) spans tenants, and the resource columns
// of deliveries hold the empty string rather than NULL for none, so that
// they compare with =.
//
// Every session runs with a statement timeout (Options.StatementTimeout,
// else the URL's statement_timeout, else 10s) and TimeZone UTC; every query
// takes the caller's context, so cancellation reaches the server. A
// connection awaiting an answer that stays silent past the statement
// timeout plus a margin is given up, and connecting is bounded by
// connect_timeout (5s by default), so a server that is down or blackholed
// answers callers with errors IsUnavailable recognises instead of holding
// them; migrations run on a connection without the statement timeout.
package postgres
