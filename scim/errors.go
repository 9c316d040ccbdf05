package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/auth"
	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// apiError is an error the handlers raise themselves, already in SCIM terms.
type apiError struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *apiError) Error() string { return e.Detail }

func errorf(status int, scimType, format string, args ...any) *apiError {
	return &apiError{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// errorBody is the RFC 7644 §3.12 error response; status is a string.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// UnavailableDetail is the detail of that 503; the database's own error
// goes only to the log, with the request id.
const UnavailableDetail = "the database is unavailable; retry later"

// classify is THE table: it turns any error into the SCIM error the client
// sees. Errors it does not know are internal: the client gets a generic 500
// and the error is logged with the request id, never shown.
func classify(err error) (e apiError, internal bool) {
	var (
		ae  *apiError
		se  *schemas.Error
		pv  *policy.Violation
		ce  *store.ConflictError
		ue  *store.UnsupportedError
		mm  *provision.MissingMembersError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ae):
		return *ae, false
	case errors.As(err, &se):
		return apiError{http.StatusBadRequest, se.ScimType, se.Detail}, false
	case errors.As(err, &pv) && pv.Conflict:
		return apiError{http.StatusConflict, schemas.Uniqueness, pv.Error()}, false
	case errors.As(err, &pv):
		return apiError{http.StatusForbidden, "", pv.Error()}, false
	case errors.As(err, &ce) && ce.Attr == "roles":
		return apiError{http.StatusConflict, schemas.Uniqueness, "this tenant already has an owner; transfer ownership instead (scimd tenant owner TENANT USERNAME)"}, false
	case errors.As(err, &ce):
		return apiError{http.StatusConflict, schemas.Uniqueness, fmt.Sprintf("%s is already taken in this tenant", ce.Attr)}, false
	case errors.Is(err, store.ErrConflict):
		return apiError{http.StatusConflict, schemas.Uniqueness, "a unique attribute is already taken in this tenant"}, false
	case errors.As(err, &ue):
		return apiError{http.StatusBadRequest, schemas.InvalidFilter, ue.What}, false
	case errors.As(err, &mm):
		return apiError{http.StatusBadRequest, schemas.InvalidValue, fmt.Sprintf("members %q are not users or groups of this tenant", mm.IDs)}, false
	case errors.Is(err, store.ErrNotFound):
		return apiError{http.StatusNotFound, "", "resource not found"}, false
	case errors.Is(err, store.ErrPrecondition):
		return apiError{http.StatusPreconditionFailed, "", "the resource has changed: If-Match does not match its current version"}, false
	case errors.Is(err, auth.ErrUnauthorized):
		return apiError{http.StatusUnauthorized, "", "a valid bearer token is required (Authorization: Bearer scimd_…)"}, false
	case errors.As(err, &mbe):
		return apiError{http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)}, false
	case errors.Is(err, store.ErrUnavailable):
		return apiError{http.StatusServiceUnavailable, "", UnavailableDetail}, false
	}
	return apiError{http.StatusInternalServerError, "", "internal error"}, true
}

// clientError is the SCIM error the client sees for err: an internal
// error is logged with the request id and answered generically, a policy
// refusal is counted.
func (s *server) clientError(r *http.Request, err error) apiError {
	e, internal := classify(err)
	rid := requestID(r.Context())
	if internal {
		s.log.ErrorContext(r.Context(), "internal error", "request_id", rid, "method", r.Method, "path", r.URL.Path, "err", err)
		e.Detail = "internal error; request id " + rid
	}
	if e.Status == http.StatusServiceUnavailable && errors.Is(err, store.ErrUnavailable) {
		s.log.WarnContext(r.Context(), "database unavailable", "request_id", rid, "method", r.Method, "path", r.URL.Path, "err", err)
		e.Detail += "; request id " + rid
	}
	var pv *policy.Violation
	if errors.As(err, &pv) {
		s.metrics.Refusals.WithLabelValues(pv.Rule).Inc()
	}
	return e
}

// writeError answers with the SCIM error for err.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.clientError(r, err)
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimd"`)
	}
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", strconv.Itoa(store.RetryAfterUnavailable))
	}
	writeJSON(w, e.Status, errorBody{
		Schemas: []string{schemas.ErrorURN}, Status: strconv.Itoa(e.Status), ScimType: e.ScimType, Detail: e.Detail,
	})
}

// queryTokenParams are the query parameters a bearer token is refused in
// (compared without case): RFC 6750 §2.3's access_token and the names
// clients improvise.
var queryTokenParams = []string{"access_token", "token", "bearer"}

// refuseQueryTokens answers 400 to a request of the SCIM API or the host
// API that carries a bearer token in its query string, before anything
// reads or logs it: URLs end up in proxy logs, browser histories and
// Referer headers, so a token must travel in the Authorization header.
// The value is never logged (the access log writes the path only).
func (s *server) refuseQueryTokens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" || !queryHasToken(r.URL.RawQuery) {
			next.ServeHTTP(w, r)
			return
		}
		const detail = "bearer tokens are not accepted in the query string; send the token in the Authorization header (Authorization: Bearer scimd_…)"
		p := strings.ToLower(r.URL.Path)
		switch {
		case strings.HasPrefix(p, "/api/v1"):
			b, _ := json.Marshal(map[string]string{"error": "token_in_query", "detail": detail, "requestId": requestID(r.Context())})
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(b)
		case strings.HasPrefix(p, "/scim/v2"):
			s.writeError(w, r, errorf(http.StatusBadRequest, schemas.InvalidValue, detail))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// queryHasToken reports whether a raw query names one of queryTokenParams;
// a query that does not parse is searched as it is.
func queryHasToken(raw string) bool {
	for _, kv := range strings.FieldsFunc(raw, func(c rune) bool { return c == '&' || c == ';' }) {
		k, _, _ := strings.Cut(kv, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		for _, name := range queryTokenParams {
			if strings.EqualFold(strings.TrimSpace(k), name) {
				return true
			}
		}
	}
	return false
}
