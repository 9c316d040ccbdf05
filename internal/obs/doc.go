// Package obs is scimd's observability: the Prometheus metrics, kept in an
// explicit registry (no globals), and the request-scoped logger.
package obs
