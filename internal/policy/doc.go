// Package policy holds scimd's user lifecycle rules as pure functions over
// facts: no I/O, no clock of its own (the caller passes Now in Facts). The
// provision service gathers the facts inside the write transaction and asks
// Check whether a change may happen; a refusal is a *Violation whose Rule is
// a stable code and whose Detail tells the admin what to do instead.
//
// The rules and their per-tenant settings are specified in LIFECYCLE.md.
package policy
