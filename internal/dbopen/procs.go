package dbopen

import "runtime"

// Procs is the number of Go processors (runtime.GOMAXPROCS) a server of
// the database t names should run with, given the procs it would run with
// otherwise: one more than that for SQLite, the same for PostgreSQL.
//
// The SQLite driver is Go code that reads, writes and syncs its files with
// plain blocking system calls, and a goroutine in a system call keeps its
// processor until the runtime's monitor takes it back, which can be
// milliseconds later. With as many processors as cores, the writer's fsync
// at a WAL checkpoint then leaves one processor fewer for everything else
// for that long: on two cores, another tenant's look-up p99 went from
// 0.9 ms alone to 4.4–4.9 ms while a neighbour sent creations back to
// back, and to 2.1–2.3 ms with one processor more (docs/security.md). The
// PostgreSQL driver waits in the network poller, which frees its processor
// at once.
func (t Target) Procs(procs int) int {
	if t.Kind == SQLite {
		return procs + 1
	}
	return procs
}

// SetProcs sets runtime.GOMAXPROCS to t.Procs of its current value and
// returns the value before and after, unless the GOMAXPROCS environment
// variable (read through getenv) is set, in which case the operator's
// choice stands and both values are the current one.
func SetProcs(t Target, getenv func(string) string) (before, after int) {
	before = runtime.GOMAXPROCS(0)
	if getenv("GOMAXPROCS") != "" {
		return before, before
	}
	after = t.Procs(before)
	runtime.GOMAXPROCS(after)
	return before, after
}
