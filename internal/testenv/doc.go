// Package testenv gives tests a real, migrated, empty store on every
// backend: SQLite in a temporary directory and, when TEST_DATABASE_URL is
// set (mandatory with SCIMD_REQUIRE_PG=1), a fresh PostgreSQL database
// cloned from a migrated template.
package testenv
