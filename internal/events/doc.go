// Package events turns the outbox into deliveries: a Dispatcher posts each
// event to the tenant's webhooks, signed as package scim/webhook documents,
// retries failures with exponential backoff and jitter, marks an event dead
// after the last attempt, and keeps the events of one user or group in
// order; Feed serves the same events to hosts that poll
// (GET /api/v1/events). Delivery is at least once: a receiver de-duplicates
// on the event id.
//
// Several dispatchers (one per scimd replica) may run over one database:
// the store leases each claimed delivery to one of them (on PostgreSQL with
// FOR UPDATE SKIP LOCKED), and no transaction is open while a dispatcher
// waits for a receiver.
package events
