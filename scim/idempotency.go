package scim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// Idempotency-Key on POST /Users, /Groups and /Bulk: a request retried
// with the same key and the same body gets the outcome of the first one
// (the same id, the same status) instead of a 409, for IdempotencyTTL.
//
// A create records its key in its own transaction (provision's
// WithIdempotencyKey), so a crash after the commit and before the answer
// left the server still lets the retry find it; a concurrent request
// with the same key waits for that transaction and then replays its
// outcome. Refusals (4xx) and failures record nothing: they changed
// nothing, and a retry runs again. A replay renders the resource as it is
// now with the original status (201) and Location; a resource deleted
// since answers what a GET would (404).
//
// /Bulk operations commit one by one, so a /Bulk request claims its key
// first (pending: a concurrent retry gets 409 with Retry-After), runs, and
// records its whole response. A claim left pending for bulkKeyStale (the
// server died mid-run) is taken over by the next retry, which runs the
// request again: the operations that had committed then answer as
// repeated operations do (a 409 for a second create).

// IdempotencyTTL is how long a recorded Idempotency-Key is honoured.
const IdempotencyTTL = 24 * time.Hour

const (
	idempotencyHeader = "Idempotency-Key"
	// replayedHeader marks an answer replayed from a recorded outcome.
	replayedHeader = "Idempotent-Replayed"
	maxKeyLen      = 255
	// bulkKeyStale is how long a /Bulk claim may stay pending before a
	// retry takes it over: longer than the server's write timeout (90 s),
	// after which no client still waits for the first run's answer.
	bulkKeyStale = 2 * time.Minute
	// bulkRetryAfter is the Retry-After of a 409 for a /Bulk request
	// still running, in seconds.
	bulkRetryAfter = "5"
	// Expired keys are purged by keyed requests, at most once per
	// purgeEvery per process and purgeBatch rows at a time.
	purgeEvery = time.Minute
	purgeBatch = 1000
)

// idemState is the server's Idempotency-Key state: when expired keys were
// last purged (unix nanoseconds of the server clock).
type idemState struct {
	lastPurge atomic.Int64
}

// idempotencyKey returns the request's Idempotency-Key; ok is false
// without one. A malformed key is a SCIM 400.
func idempotencyKey(r *http.Request) (key string, ok bool, err error) {
	vals := r.Header.Values(idempotencyHeader)
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, errorf(http.StatusBadRequest, schemas.InvalidValue, "send one Idempotency-Key header, not %d", len(vals))
	}
	key = vals[0]
	valid := len(key) >= 1 && len(key) <= maxKeyLen
	for i := 0; valid && i < len(key); i++ {
		valid = key[i] >= 0x20 && key[i] <= 0x7e
	}
	if !valid {
		return "", false, errorf(http.StatusBadRequest, schemas.InvalidValue,
			"Idempotency-Key must be 1 to %d printable ASCII characters", maxKeyLen)
	}
	return key, true, nil
}

// errReader returns err once its reader is drained.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// fingerprint reads the request body and returns the SHA-256 of the
// method, path and body, putting the body back for the handler. When the
// body cannot be read (too large, say) it returns ok false and the body
// still ends with the error, for the handler to answer as it would
// without a key.
func fingerprint(r *http.Request) (fp []byte, ok bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h := sha256.New()
	// The path as routed: "/Users/" is "/Users" (StripSlashes routes it
	// so but leaves the URL as sent).
	fmt.Fprintf(h, "%s\x00%s\x00", r.Method, strings.TrimRight(r.URL.Path, "/"))
	h.Write(body)
	return h.Sum(nil), true
}

// keyNow is the server clock at the stores' precision.
func (s *server) keyNow() time.Time { return s.cfg.Now().UTC().Truncate(store.TimePrecision) }

// keyedRequest reads the request's Idempotency-Key and fingerprints it:
// ok is false when the request has no key (or a body that cannot be read)
// and the caller serves it as it would without one; a malformed key is
// answered here (handled true). k carries the tenant, key, fingerprint and
// times; the purge of expired keys is scheduled on done.
func (s *server) keyedRequest(w http.ResponseWriter, r *http.Request) (k store.IdempotencyKey, ok, handled bool, done func()) {
	key, ok, err := idempotencyKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return k, false, true, nil
	}
	if !ok {
		return k, false, false, nil
	}
	fp, ok := fingerprint(r)
	if !ok {
		return k, false, false, nil
	}
	now := s.keyNow()
	k = store.IdempotencyKey{TenantID: principal(r.Context()).TenantID, Key: key, Fingerprint: fp,
		Created: now, Expires: now.Add(IdempotencyTTL)}
	return k, true, false, func() { s.purgeKeys(r.Context(), now) }
}

// keyedCreate wraps the POST handler of a resource type: without an
// Idempotency-Key it is the handler; with one, a recorded outcome of the
// key is replayed (or refused, for another request), and otherwise the
// handler runs with the key in its context for the create to record.
func (s *server) keyedCreate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, ok, handled, done := s.keyedRequest(w, r)
		if handled {
			return
		}
		if !ok {
			next(w, r)
			return
		}
		defer done()
		rec, err := s.cfg.Store.GetIdempotencyKey(r.Context(), k.TenantID, k.Key, k.Created)
		switch {
		case err == nil:
			s.replay(w, r, rec, k.Fingerprint)
			return
		case !errors.Is(err, store.ErrNotFound):
			s.writeError(w, r, err)
			return
		}
		next(w, r.WithContext(provision.WithIdempotencyKey(r.Context(), k)))
	}
}

// writeCreateError answers a failed create: one that lost its
// Idempotency-Key to a concurrent request with the same key (which
// committed first) gets that request's outcome; every other error is
// answered as writeError does.
func (s *server) writeCreateError(w http.ResponseWriter, r *http.Request, err error) {
	k, keyed := provision.IdempotencyKeyOf(r.Context())
	if !keyed || !errors.Is(err, store.ErrKeyInUse) {
		s.writeError(w, r, err)
		return
	}
	rec, err := s.cfg.Store.GetIdempotencyKey(r.Context(), k.TenantID, k.Key, s.keyNow())
	switch {
	case err == nil:
		s.replay(w, r, rec, k.Fingerprint)
	case errors.Is(err, store.ErrNotFound): // expired or purged since
		w.Header().Set("Retry-After", "1")
		s.writeError(w, r, errorf(http.StatusConflict, "", "a request with this Idempotency-Key is in progress; retry it shortly"))
	default:
		s.writeError(w, r, err)
	}
}

// replay answers a request whose Idempotency-Key has the row rec: another
// request's key is a 422, a request still running a 409 with
// Retry-After, and a recorded outcome is answered again (Idempotent-
// Replayed: true).
func (s *server) replay(w http.ResponseWriter, r *http.Request, rec store.IdempotencyKey, fp []byte) {
	switch {
	case !bytes.Equal(rec.Fingerprint, fp):
		s.writeError(w, r, errorf(http.StatusUnprocessableEntity, "",
			"this Idempotency-Key was used within the last %d hours for a different request (another body or endpoint); "+
				"send a new key with a new request", int(IdempotencyTTL/time.Hour)))
		return
	case rec.State == store.IdempotencyPending:
		w.Header().Set("Retry-After", bulkRetryAfter)
		s.writeError(w, r, errorf(http.StatusConflict, "",
			"a request with this Idempotency-Key is in progress; retry it after %s seconds", bulkRetryAfter))
		return
	}
	// The first request left the audit entry and the event of the change.
	provision.MarkReplayed(r.Context())
	w.Header().Set(replayedHeader, "true")
	switch rec.ResourceType {
	case "User":
		u, err := s.cfg.Store.GetUser(r.Context(), rec.TenantID, rec.ResourceID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeUser(w, r, &u, rec.Status)
	case "Group":
		g, err := s.cfg.Store.GetGroup(r.Context(), rec.TenantID, rec.ResourceID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeGroup(w, r, &g, rec.Status)
	case "Bulk":
		w.Header().Set("Content-Type", "application/scim+json; charset=utf-8")
		w.WriteHeader(rec.Status)
		_, _ = w.Write(rec.Response)
	default:
		s.writeError(w, r, fmt.Errorf("scim: idempotency key recorded for unknown resource type %q", rec.ResourceType))
	}
}

// keyedBulk serves POST /Bulk: without an Idempotency-Key it is bulk;
// with one it claims the key, runs bulk, and records its answer (a 200)
// or releases the key (a refusal of the whole request, which changed
// nothing). A key claimed or recorded already is answered by replay.
func (s *server) keyedBulk(w http.ResponseWriter, r *http.Request) {
	k, ok, handled, done := s.keyedRequest(w, r)
	if handled {
		return
	}
	if !ok {
		s.bulk(w, r)
		return
	}
	defer done()
	k.State, k.ResourceType = store.IdempotencyPending, "Bulk"
	now := k.Created
	rec, claimed, err := s.cfg.Store.ClaimIdempotencyKey(r.Context(), &k, now.Add(-bulkKeyStale))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !claimed {
		s.replay(w, r, rec, k.Fingerprint)
		return
	}
	// The outcome is recorded even if the client has gone.
	ctx := context.WithoutCancel(r.Context())
	recorded := false
	defer func() {
		if recorded {
			return
		}
		if err := s.cfg.Store.ReleaseIdempotencyKey(ctx, &k); err != nil {
			s.log.ErrorContext(ctx, "releasing an Idempotency-Key failed; a retry waits for it to go stale",
				"request_id", requestID(ctx), "err", err)
		}
	}()
	out := httptest.NewRecorder()
	s.bulk(out, r)
	if out.Code == http.StatusOK {
		k.Status, k.Response = out.Code, out.Body.Bytes()
		recorded = true
		if err := s.cfg.Store.FinishIdempotencyKey(ctx, &k); err != nil {
			s.log.ErrorContext(ctx, "recording the outcome of an Idempotency-Key failed; a retry after it goes stale runs again",
				"request_id", requestID(ctx), "err", err)
		}
	}
	for name, v := range out.Header() {
		w.Header()[name] = v
	}
	w.WriteHeader(out.Code)
	_, _ = w.Write(out.Body.Bytes())
}

// purgeKeys removes a batch of expired Idempotency-Keys, at most once per
// purgeEvery; a failure is logged, not answered.
func (s *server) purgeKeys(ctx context.Context, now time.Time) {
	last := s.idem.lastPurge.Load()
	if last != 0 && now.Before(time.Unix(0, last).Add(purgeEvery)) {
		return
	}
	if !s.idem.lastPurge.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := s.cfg.Store.PurgeIdempotencyKeys(ctx, now, purgeBatch); err != nil {
		s.log.WarnContext(ctx, "purging expired Idempotency-Keys failed", "request_id", requestID(ctx), "err", err)
	}
}
