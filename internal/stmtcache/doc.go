// Package stmtcache keeps prepared statements for the query texts a store
// runs, so that a statement is parsed and planned once per connection
// instead of on every execution.
//
// On PostgreSQL a prepared statement also runs in one round trip, where an
// unprepared query with parameters costs lib/pq two (and a parse and plan
// each time); PostgreSQL keeps a generic plan only when it is as good as
// the custom ones. On SQLite preparing is most of the cost of a point
// look-up. Inside a transaction a statement that is not cached yet runs
// unprepared and is prepared in the background, because preparing it on
// the pool could wait for a connection the transactions hold.
package stmtcache
