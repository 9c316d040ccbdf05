// Package pgtest gives each test its own PostgreSQL database, cloned from a
// template that was migrated once.
//
// The server comes from TEST_DATABASE_URL, a postgres:// URL such as
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable whose user may
// create databases. When it is unset or the server does not answer, tests
// that ask for a database are skipped, unless SCIMD_REQUIRE_PG=1, which
// makes them fail instead (CI sets it).
//
// The template's name is derived from a hash of the embedded migrations of
// store/postgres, so changing a migration builds a new template; the
// template is built under a unique temporary name and renamed into place,
// so test processes running in parallel (go test runs packages at once) may
// race to build it safely: one rename wins and the others drop their copy.
// Each test then gets CREATE DATABASE … TEMPLATE, which takes a few tens of
// milliseconds, and the database is dropped (WITH (FORCE)) when the test
// ends. Templates of older migration sets are left on the server; drop them
// by hand (they are named scimd_tmpl_<hash>).
package pgtest
