// Package chaos holds end-to-end tests that run the real scimd binary as
// separate processes and do to them what production does: kill them with
// SIGKILL in the middle of work, and run several of them on one database.
// It has no code of its own; everything is in its tests.
//
// What the tests prove:
//
//   - crash_test.go, TestCrashUnderWrites (SQLite and PostgreSQL): 16
//     clients create, deactivate, reactivate, replace and delete users and
//     add and remove group members while scimd is killed with SIGKILL
//     several times. After every restart (migrations and start-up succeed
//     on the crashed database) every request that got a 2xx has its effect,
//     a request whose answer was lost has either all of its effect or none,
//     nothing changed that no request asked for, the seats limit holds,
//     group members are live users, every user and group has exactly one
//     outbox event per committed change (its version), and every event has
//     its audit entry from the same transaction.
//   - crash_test.go, TestCrashDuringImport (SQLite and PostgreSQL):
//     `scimd import` of 10 000 users killed twice midway and run again
//     creates every record exactly once, reports the records applied
//     before a kill as unchanged, and leaves one user.created event and
//     one audit entry per user.
//   - replicas_test.go, TestReplicas (PostgreSQL; SQLite is one process's
//     file): three scimd processes on one database answer the same new
//     userName sent to all three at once with exactly one 201 and two 409s,
//     apply 32 concurrent membership PATCHes of one group as the serial
//     order would, give the last seat to exactly one of several concurrent
//     creates and reactivations, and refuse a token revoked through the CLI
//     within one second on every replica while the tenant's second token
//     keeps working.
//
// scimd is built from this tree once per test run with `go build`: the
// servers with -race when the tests run with -race (so a data race in the
// server under these loads fails the test through its report on stderr),
// the CLI commands and the import without it (modernc SQLite under the
// race detector imports more than ten times slower). PostgreSQL comes from
// TEST_DATABASE_URL through internal/pgtest, a fresh database per test.
package chaos
