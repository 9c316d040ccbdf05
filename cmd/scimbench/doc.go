// Command scimbench is scimd's own load generator. It measures scimd at
// a realistic size and says how far each operation is from what the
// machine allows.
//
// A run has three steps:
//
//  1. Seeding. With -database-url it migrates the database, creates the
//     tenant "bench" (-tenant) and writes -users users and -groups groups
//     of -members members straight through the store (store.Store.Update
//     with batched CreateUser, CreateGroup and AddMembers), with the
//     documents and columns the SCIM layer would write for an Okta
//     create. A tenant that already holds that many users is not seeded
//     again, so one large database serves many runs.
//  2. Serving. Unless -base names a running server, scimd's real HTTP
//     handler (scim.NewServer over provision.New) serves the database on
//     a loopback port in this process, with a fresh SCIM token.
//  3. Phases, each for -duration at -concurrency, reporting successes,
//     errors, req/s and p50/p95/p99/max latency:
//     lookup-username, lookup-externalid, lookup-email (Okta's
//     filter=… eq "…" GETs of random seeded users), get, page-shallow
//     and page-deep (count=100 at the start and near the end),
//     index-walk (every user by startIndex, one connection, at most
//     -walk-max), cursor-walk (RFC 9865 cursors, or "unsupported"),
//     console (the admin console's user screens, below), create (Okta's
//     POST /Users), patch (Okta's active false/true), mixed (70 %
//     lookups, 20 % patches, 10 % creates), and noisy (another tenant's
//     look-up latency alone, while a second tenant keeps to its rate
//     limits, and while it floods the server; see noisy.go).
//
// The seeded tenant's mass-deprovisioning brake is turned off on every
// run (the patch phases deactivate users over and over).
//
// The console phase (also the group "console") needs -database-url: it
// makes sure the tenant has the active admin "bench-console-admin"
// (created through the provision service when missing), issues it a
// one-time sign-in link as `scimd admin login-url` does, signs in at
// /admin/login and sends the session cookie with every request. Each
// request is one of five, picked at random, each reported as its own row:
// console/users (GET /admin/users, the first page of 50 by name),
// console/walk (each worker follows the rel="next" link of its last page
// sorted by lastModified, restarting at the first page after the last, so
// pages get deeper; the note gives the deepest page reached),
// console/search (?q= the first 6 characters of a sampled userName),
// console/inactive (?status=inactive) and console/user (GET
// /admin/users/{id} of a sampled user). A page must answer 200 with the
// users table (the user page: that user's userName).
//
// Ceilings run in the same process and database: http-lookup and
// http-mixed drive a do-nothing net/http handler with the lookup and mixed
// request shapes through the same client; sql-lookup, sql-insert and
// sql-update run the indexed select by user_name_key, a users insert and
// a users update through database/sql. The table ends with each phase's
// throughput as a share of its ceiling; -json writes all rows with the
// machine and the settings.
//
// Run it from the module root:
//
//	go run ./cmd/scimbench -database-url sqlite:///tmp/bench.db -users 100000 -groups 100 -members 100
//	go run ./cmd/scimbench -database-url 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable' -users 1000000 -phases all,-index-walk
//
// Client and server share the machine (and, in-process, the Go runtime),
// so req/s is what this box does end to end; the CPU columns give the cost
// per operation.
package main
