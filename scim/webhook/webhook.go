package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
	SignatureHeader = "Scimd-Signature"
	// EventIDHeader carries the event id (also in the body), for
	// de-duplication before parsing.
	EventIDHeader = "Scimd-Event-Id"
	// EventTypeHeader carries the event type (also in the body).
	EventTypeHeader = "Scimd-Event-Type"
)

// DefaultTolerance is how old a signature Verify accepts when given 0.
const DefaultTolerance = 5 * time.Minute

// Event is the body of a webhook delivery and one element of the pull
// feed (GET /api/v1/events). Field names are stable.
type Event struct {
	// ID identifies the event; a receiver de-duplicates on it.
	ID string `json:"id"`
	// Type is e.g. "user.deactivated" (docs/events.md lists them all).
	Type string `json:"type"`
	// TenantID is the tenant the change belongs to.
	TenantID string `json:"tenantId"`
	// OccurredAt is when the change committed (RFC 3339, UTC).
	OccurredAt time.Time `json:"occurredAt"`
	// ResourceType is "User", "Group" or "Tenant" (tenant.* events).
	ResourceType string `json:"resourceType"`
	// ResourceID is the id of the user or group.
	ResourceID string `json:"resourceId"`
	// Data is the type's payload (docs/events.md).
	Data json.RawMessage `json:"data"`
}

// Errors Verify returns.
var (
	// ErrMalformed: the header is missing or not in the documented form.
	ErrMalformed = errors.New("webhook: malformed signature header")
	// ErrMismatch: no v1 signature in the header matches the body.
	ErrMismatch = errors.New("webhook: signature does not match")
	// ErrExpired: the signature's timestamp is further from now than the
	// tolerance allows (a replay, or a clock far off).
	ErrExpired = errors.New("webhook: signature timestamp outside the tolerance")
)

// Sign returns the SignatureHeader value for body signed with secret at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks header (the SignatureHeader value) against the raw body
// and secret at now, accepting timestamps within tolerance of now
// (DefaultTolerance when 0). It returns ErrMalformed, ErrExpired or
// ErrMismatch, or nil when the signature is good. Several v1 values (as
// sent while a secret is being rotated) are accepted if any matches.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformed
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return ErrMalformed
			}
			sigs = append(sigs, b)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformed
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrExpired
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrMismatch
}
