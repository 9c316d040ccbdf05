// Package ratelimit is scimd's request rate limiting: a token bucket per
// bearer token and one per tenant (golang.org/x/time/rate), each refilled
// at a configured rate up to a configured burst. A request goes only when
// both its token's and its tenant's bucket hold a token; a request one
// bucket refuses takes nothing from the other.
//
// A refused request can be held for a short pause before it is answered
// (Limiter.Hold, Limits.Pause): a client that retries at once from a
// fixed pool of workers then sends a few requests a second per worker
// instead of thousands of refused ones, which leaves the CPU to the other
// tenants. At most MaxHeld refusals are held at once.
//
// Limits are per process: the buckets live in memory, so N replicas of
// scimd behind a load balancer let a tenant through at up to N times the
// configured rate. Buckets of keys unused for a while (at least a minute,
// and at least the time a bucket takes to refill) are dropped, so memory
// is bounded by the tokens and tenants in recent use; a dropped bucket
// was full, so dropping it changes no answer.
package ratelimit
