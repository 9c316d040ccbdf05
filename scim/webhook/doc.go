// Package webhook is the public contract of scimd's event webhooks: how a
// delivery is signed and how the host product verifies it. It has no
// dependencies beyond the standard library, so a host product can import
// it on its own.
//
// Every delivery is an HTTP POST whose body is one Event (JSON) and whose
// SignatureHeader is "t=<unix seconds>,v1=<hex HMAC-SHA256>", the HMAC
// being computed with the webhook's secret over "<t>.<body>". A receiver
// recomputes it over the raw body, compares in constant time and refuses
// signatures older than a tolerance (Verify does all three), then
// de-duplicates on the event id: delivery is at least once.
package webhook
