// Package provision is the one place a change to users and groups runs.
// Every path that changes state — SCIM requests, the CLI, later /Bulk and
// the console — calls this service, which does, in one transaction: lock
// the row, apply the caller's mutation to a copy, gather the facts the
// lifecycle rules need, ask internal/policy, write the row conditionally on
// its version, append the audit entry and the outbox event, commit.
// A refused change rolls back, leaves an audit entry of the refusal, and
// returns the *policy.Violation.
package provision
