package scim

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/provision"
)

// changeOf names the audit operation and resource type of a request that
// changes or tries to change state ("" for reads, searches included).
func changeOf(r *http.Request) (op, rtype string) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	var res string
	switch {
	case strings.HasSuffix(path, "/.search"):
		return "", ""
	case strings.Contains(path, "/scim/v2/Users"):
		res, rtype = "user", "User"
	case strings.Contains(path, "/scim/v2/Groups"):
		res, rtype = "group", "Group"
	default:
		return "", ""
	}
	switch r.Method {
	case http.MethodPost:
		return res + ".create", rtype
	case http.MethodPut:
		return res + ".replace", rtype
	case http.MethodPatch:
		return res + ".patch", rtype
	case http.MethodDelete:
		return res + ".delete", rtype
	}
	return "", ""
}

// auditAttempts makes sure every authenticated request that changes or
// tries to change state leaves one audit entry: the provision service
// writes the entries of changes (in their transaction) and of policy
// refusals; this adds one, with the status answered, for everything else
// — malformed bodies, missing resources, conflicts, failed commits and
// changes that changed nothing.
func (s *server) auditAttempts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, rtype := changeOf(r)
		if op == "" || s.cfg.Provision == nil {
			next.ServeHTTP(w, r)
			return
		}
		ctx, mark := provision.WithAuditMark(r.Context())
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		if status < 300 && s.cfg.Changed != nil {
			s.cfg.Changed()
		}
		if mark.Handled(status) {
			return
		}
		if status == http.StatusServiceUnavailable {
			// Refused because the database is unavailable: nothing
			// changed, and recording it would wait on the same database.
			return
		}
		s.cfg.Provision.AuditAttempt(ctx, actor(r), op, rtype, chi.URLParam(r, "id"), status)
	})
}
