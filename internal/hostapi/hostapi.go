package hostapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/auth"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/store"
)

// Config is what the API needs.
type Config struct {
	Store     store.Store
	Provision *provision.Service
	Log       *slog.Logger
	Now       func() time.Time
	// RequestID returns the request id the caller's middleware assigned.
	RequestID func(ctx context.Context) string
	// Stopping, when set, is closed as the process starts shutting down;
	// long polls of GET /events then answer at once with what they have.
	Stopping <-chan struct{}
	// Limiter limits the requests of each host token and tenant; past it a
	// request gets 429 with Retry-After. Nil limits nothing.
	Limiter *ratelimit.Limiter
}

// Handler returns the API's routes, to be mounted at /api/v1.
func Handler(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestID == nil {
		cfg.RequestID = func(context.Context) string { return "" }
	}
	h := &handler{cfg: cfg}
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "not_found", "no such endpoint", nil)
	})
	r.Get("/users/{id}/access", h.access)
	r.Get("/audit", h.audit)
	r.Get("/events", h.events)
	return r
}

// principal authenticates a host token and checks the rate limits; on
// failure it has answered (401, 429 or 500).
func (h *handler) principal(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p, err := auth.Authenticate(r.Context(), h.cfg.Store, r.Header.Get("Authorization"), store.TokenHost, h.cfg.Now())
	if errors.Is(err, auth.ErrUnauthorized) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimd host API"`)
		h.fail(w, r, http.StatusUnauthorized, "unauthorized", "a valid host token is required (scimd token create --kind host)", nil)
		return p, false
	}
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "internal", "internal error", err)
		return p, false
	}
	if d := h.cfg.Limiter.Allow(p.TenantID, p.TokenID); !d.Allowed {
		h.cfg.Limiter.Hold(r.Context())
		w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
		h.fail(w, r, http.StatusTooManyRequests, "rate_limited", d.Detail(), nil)
		return p, false
	}
	return p, true
}

type handler struct{ cfg Config }

// AccessResponse is the body of GET /api/v1/users/{id}/access.
type AccessResponse struct {
	UserID  string `json:"userId"`
	Allowed bool   `json:"allowed"`
	// Reason is absent when allowed, else "inactive", "deleted" or "unknown".
	Reason string `json:"reason,omitempty"`
}

// ErrorResponse is the body of every error of this API.
type ErrorResponse struct {
	Error     string `json:"error"`
	Detail    string `json:"detail"`
	RequestID string `json:"requestId,omitempty"`
}

func (h *handler) access(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	acc, err := h.cfg.Provision.CheckAccess(r.Context(), p.TenantID, id)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "internal", "internal error", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, AccessResponse{UserID: id, Allowed: acc.Allowed, Reason: acc.Reason})
}

// fail answers with an error; an internal error is logged with the
// request id and never shown, and a store.ErrUnavailable is answered 503
// "unavailable" with Retry-After whatever status was asked for.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, code, detail string, err error) {
	rid := h.cfg.RequestID(r.Context())
	switch {
	case errors.Is(err, store.ErrUnavailable):
		h.cfg.Log.WarnContext(r.Context(), "database unavailable", "request_id", rid, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(store.RetryAfterUnavailable))
		status, code, detail = http.StatusServiceUnavailable, "unavailable", "the database is unavailable; retry later; request id "+rid
	case err != nil:
		h.cfg.Log.ErrorContext(r.Context(), "internal error", "request_id", rid, "path", r.URL.Path, "err", err)
		detail = "internal error; request id " + rid
	}
	writeJSON(w, status, ErrorResponse{Error: code, Detail: detail, RequestID: rid})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
