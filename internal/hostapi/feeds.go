package hostapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/scim/webhook"
	"github.com/scimd/scimd/store"
)

// Limits of the feeds.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
	// MaxWait is the longest long poll of GET /api/v1/events.
	MaxWait = 60 * time.Second
)

// AuditRecord is one audit entry as the API (and `scimd audit --json`)
// shows it. Field names are stable.
type AuditRecord struct {
	ID           string    `json:"id"`
	At           time.Time `json:"at"`
	Actor        string    `json:"actor"`
	RequestID    string    `json:"requestId,omitempty"`
	Client       string    `json:"client,omitempty"`
	Operation    string    `json:"operation"`
	ResourceType string    `json:"resourceType,omitempty"`
	ResourceID   string    `json:"resourceId,omitempty"`
	Status       int       `json:"status"`
	Rule         string    `json:"rule,omitempty"`
	Changed      []string  `json:"changed,omitempty"`
}

// Record converts a stored entry.
func Record(e store.AuditEntry) AuditRecord {
	return AuditRecord{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, RequestID: e.RequestID, Client: e.Client,
		Operation: e.Operation, ResourceType: e.ResourceType, ResourceID: e.ResourceID, Status: e.Status,
		Rule: e.Rule, Changed: e.Changed}
}

// AuditPage is the body of GET /api/v1/audit.
type AuditPage struct {
	Entries []AuditRecord `json:"entries"`
	// NextCursor continues newest-first; absent on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// EventPage is the body of GET /api/v1/events.
type EventPage struct {
	Events []webhook.Event `json:"events"`
	// NextCursor is where the next poll continues (pass it as after); it
	// is present even when no event came.
	NextCursor string `json:"nextCursor"`
}

// ParseSince reads a "since" value: a duration back from now ("1h",
// "30m", "7d") or an RFC 3339 time. It returns an error that says so.
func ParseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errors.New("since: use a duration like 1h or 7d, or an RFC 3339 time")
}

// pageSize reads the limit parameter; on a bad one it has answered 400.
func (h *handler) pageSize(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return DefaultPageSize, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPageSize {
		h.fail(w, r, http.StatusBadRequest, "invalid_limit", fmt.Sprintf("limit: use a number from 1 to %d", MaxPageSize), nil)
		return 0, false
	}
	return n, true
}

func auditCursor(e store.AuditEntry) string {
	return base64.RawURLEncoding.EncodeToString([]byte(e.At.UTC().Format(time.RFC3339Nano) + "|" + e.ID))
}

func parseAuditCursor(c string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	ts, id, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", false
	}
	return t, id, true
}

// audit serves GET /api/v1/audit?user=ID|USERNAME&since=1h&cursor=&limit=.
func (h *handler) audit(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit, ok := h.pageSize(w, r)
	if !ok {
		return
	}
	aq := store.AuditQuery{TenantID: p.TenantID, Limit: limit + 1}
	var err error
	if aq.Since, err = ParseSince(q.Get("since"), h.cfg.Now()); err != nil {
		h.fail(w, r, http.StatusBadRequest, "invalid_since", err.Error(), nil)
		return
	}
	if c := q.Get("cursor"); c != "" {
		if aq.BeforeAt, aq.BeforeID, ok = parseAuditCursor(c); !ok {
			h.fail(w, r, http.StatusBadRequest, "invalid_cursor", "cursor: pass the nextCursor of a previous page unchanged", nil)
			return
		}
	}
	if u := q.Get("user"); u != "" {
		id, err := h.cfg.Provision.ResolveUser(r.Context(), p.TenantID, u)
		if errors.Is(err, store.ErrNotFound) {
			h.fail(w, r, http.StatusNotFound, "unknown_user", "no user with that id or userName in this tenant", nil)
			return
		}
		if err != nil {
			h.fail(w, r, http.StatusInternalServerError, "internal", "internal error", err)
			return
		}
		aq.ResourceID = id
	}
	es, err := h.cfg.Store.QueryAudit(r.Context(), aq)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "internal", "internal error", err)
		return
	}
	page := AuditPage{Entries: []AuditRecord{}}
	if len(es) > limit {
		es = es[:limit]
		page.NextCursor = auditCursor(es[limit-1])
	}
	for _, e := range es {
		page.Entries = append(page.Entries, Record(e))
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, page)
}

// events serves GET /api/v1/events?after=CURSOR&wait=30s&limit=.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit, ok := h.pageSize(w, r)
	if !ok {
		return
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxWait {
			h.fail(w, r, http.StatusBadRequest, "invalid_wait", "wait: use a duration from 0s to 60s, e.g. 30s", nil)
			return
		}
		wait = d
	}
	evs, next, err := events.Feed(r.Context(), h.cfg.Stopping, h.cfg.Store, p.TenantID, q.Get("after"), limit, wait)
	if errors.Is(err, store.ErrInvalidCursor) {
		h.fail(w, r, http.StatusBadRequest, "invalid_cursor", "after: pass the nextCursor of a previous answer unchanged (or nothing, for the start)", nil)
		return
	}
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "internal", "internal error", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, EventPage{Events: evs, NextCursor: next})
}
