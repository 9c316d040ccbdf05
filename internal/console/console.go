package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the console is mounted.
const Prefix = "/admin"

// Config is what the console needs.
type Config struct {
	Store     store.Store
	Provision *provision.Service
	Log       *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// RequestID returns the request id the caller's middleware assigned.
	RequestID func(ctx context.Context) string
	// SessionTTL is how long a session lasts after sign-in (DefaultSessionTTL
	// when 0).
	SessionTTL time.Duration
}

// DefaultSessionTTL is how long a console session lasts after sign-in.
const DefaultSessionTTL = 8 * time.Hour

type console struct {
	cfg   Config
	pages map[string]*template.Template
	csrf  store.SecretCache // the key CSRF tokens are derived with
}

// pages are the parsed templates: embedded in the binary, so a template
// that does not parse fails every test at start-up, never a request.
var pages = func() map[string]*template.Template {
	p, err := parsePages()
	if err != nil {
		panic(err)
	}
	return p
}()

// Handler returns the console's routes, to be mounted at Prefix.
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
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	c := &console{cfg: cfg, pages: pages}
	r := chi.NewRouter()
	r.Use(securityHeaders, c.sameOrigin)
	static, _ := fs.Sub(staticFS, "static")
	r.Handle("/static/*", http.StripPrefix(Prefix+"/static/", staticHandler(static)))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "error.notFound", nil)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusMethodNotAllowed, "error.method", nil)
	})
	r.Get("/login", c.loginPage)
	r.Post("/login", c.login)
	r.Get("/lang", c.setLang)
	r.Group(func(r chi.Router) {
		r.Use(c.session)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, Prefix+"/users", http.StatusSeeOther)
		})
		r.Post("/logout", c.logout)
		r.Get("/users", c.users)
		r.Post("/users/batch", c.batch)
		r.Get("/users/{id}", c.user)
		r.Get("/users/{id}/delete", c.confirmDelete)
		r.Post("/users/{id}/{action}", c.userAction)
		r.Get("/tenant", c.tenant)
		r.Post("/tenant/tokens", c.createToken)
		r.Post("/tenant/tokens/{id}/revoke", c.revokeToken)
		r.Post("/tenant/events/{id}/retry", c.retryEvent)
	})
	return r
}

// staticHandler serves the embedded assets with a cache lifetime of an
// hour (they change only with the binary).
func staticHandler(files fs.FS) http.Handler {
	h := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// securityHeaders keeps pages out of frames and caches, scripts and styles
// to the console's own files, and the sign-in link out of Referer headers.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses state-changing requests a browser marks as coming
// from another site (Sec-Fetch-Site) or whose Origin is another host: the
// second line of defence after the CSRF token, and the only one for the
// sign-in form, which has no session yet.
func (c *console) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
				c.fail(w, r, http.StatusForbidden, "error.csrf", nil)
				return
			}
			if o := r.Header.Get("Origin"); o != "" && o != "null" {
				u, err := url.Parse(o)
				if err != nil || u.Host != r.Host {
					c.fail(w, r, http.StatusForbidden, "error.csrf", nil)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// returnPath is the address the language switch returns to: the page
// itself for a GET, else the page a post was made from (the path of a
// post is not a page: /admin/users/batch → /admin/users with the same
// view, /admin/users/{id}/{action} → the user's page, /admin/tenant/… →
// the tenant page, sign-in and sign-out → the sign-in page).
func returnPath(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return r.URL.RequestURI()
	}
	p := strings.TrimPrefix(r.URL.Path, Prefix)
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "users" && parts[1] == "batch":
		u := Prefix + "/users"
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		return u
	case len(parts) == 3 && parts[0] == "users":
		return Prefix + "/users/" + url.PathEscape(parts[1])
	case len(parts) > 0 && parts[0] == "tenant":
		return Prefix + "/tenant"
	}
	return Prefix + "/login"
}

// page is what every template receives.
type page struct {
	Lang    string
	T       func(key string, args ...any) string
	Title   string
	Path    string // the request's path and query, for the language switch
	Session *sessionInfo
	CSRF    string
	// Notice and Problem are the outcome of the last action.
	Notice  string
	Problem *problem
	Data    any
}

// problem is an error shown to the admin: a translated heading and, for a
// policy refusal, the rule and the policy's own text.
type problem struct {
	Title  string
	Rule   string
	Detail string
}

// render executes one page template; a template failure is an internal
// error, answered without the half-written page.
func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if err := c.write(w, r, status, name, p); err != nil {
		c.internal(w, r, err)
	}
}

// write fills in what every page shows (language, the session, the
// language switch's return path, a default title) and sends the page; when
// the template fails nothing has been sent and the error is returned.
func (c *console) write(w http.ResponseWriter, r *http.Request, status int, name string, p page) error {
	lang := language(r)
	p.Lang = lang
	p.T = translator(lang)
	p.Path = returnPath(r)
	if s := sessionOf(r.Context()); s != nil {
		p.Session = s
		p.CSRF = s.csrf
	}
	if p.Title == "" {
		p.Title = p.T("title." + name)
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// fail answers with the error page; err, when set, is logged with the
// request id and never shown.
func (c *console) fail(w http.ResponseWriter, r *http.Request, status int, key string, err error) {
	rid := c.cfg.RequestID(r.Context())
	if err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "console internal error", "request_id", rid, "path", r.URL.Path, "err", err)
	}
	t := translator(language(r))
	c.renderError(w, r, status, &problem{Title: t(key), Detail: t("error.requestID", rid)})
}

// readFailed answers a failed read, if err is one: 404 for
// store.ErrNotFound (the same page whether the id exists in another
// tenant or nowhere), 500 otherwise. It reports whether it answered.
func (c *console) readFailed(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, "error.notFound", nil)
	default:
		c.internal(w, r, err)
	}
	return true
}

// internal answers an unexpected error: 503 with Retry-After when the
// database is unavailable (store.ErrUnavailable, logged as a warning),
// else 500; either way the error is logged with the request id and never
// shown.
func (c *console) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		rid := c.cfg.RequestID(r.Context())
		c.cfg.Log.WarnContext(r.Context(), "database unavailable", "request_id", rid, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(store.RetryAfterUnavailable))
		t := translator(language(r))
		c.renderError(w, r, http.StatusServiceUnavailable, &problem{Title: t("error.unavailable"), Detail: t("error.requestID", rid)})
		return
	}
	c.fail(w, r, http.StatusInternalServerError, "error.internal", err)
}

func (c *console) renderError(w http.ResponseWriter, r *http.Request, status int, pr *problem) {
	if err := c.write(w, r, status, "error", page{Problem: pr, Title: pr.Title}); err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "console error page failed", "request_id", c.cfg.RequestID(r.Context()), "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal error\n"))
	}
}

// outcome turns the error of a change into what the admin sees, or
// reports false for an internal error (logged, answered by the caller
// with the generic page).
func outcome(t func(string, ...any) string, err error) (*problem, int, bool) {
	var v *policy.Violation
	var missing *provision.MissingMembersError
	switch {
	case errors.As(err, &v):
		status := http.StatusForbidden
		if v.Conflict {
			status = http.StatusConflict
		}
		return &problem{Title: t("problem.refused"), Rule: v.Rule, Detail: v.Detail}, status, true
	case errors.Is(err, store.ErrNotFound):
		return &problem{Title: t("problem.notFound")}, http.StatusNotFound, true
	case errors.Is(err, store.ErrPrecondition):
		return &problem{Title: t("problem.changed")}, http.StatusPreconditionFailed, true
	case errors.Is(err, store.ErrConflict):
		return &problem{Title: t("problem.conflict"), Detail: err.Error()}, http.StatusConflict, true
	case errors.Is(err, provision.ErrInvalid):
		return &problem{Title: t("problem.invalid"), Detail: strings.TrimPrefix(err.Error(), provision.ErrInvalid.Error()+": ")}, http.StatusBadRequest, true
	case errors.As(err, &missing):
		return &problem{Title: t("problem.notFound")}, http.StatusNotFound, true
	}
	return nil, http.StatusInternalServerError, false
}

// actor is who the console's changes are made by, for the policy (the
// signed-in admin is "self") and the audit trail.
func (c *console) actor(r *http.Request) provision.Actor {
	s := sessionOf(r.Context())
	return provision.Actor{
		TenantID: s.tenant.ID, OwnerID: s.user.ID, Name: "console:" + s.user.ID,
		RequestID: c.cfg.RequestID(r.Context()), Client: r.UserAgent(),
	}
}

// parsePages parses one template set per page: the layout plus the page.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

var funcs = template.FuncMap{
	"when": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"at": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"join": strings.Join,
	// md renders text with `code spans` (the messages name commands that
	// way) as HTML, everything else escaped.
	"md": func(s string) template.HTML {
		return template.HTML(codeSpan.ReplaceAllString(template.HTMLEscapeString(s), "<code>$1</code>"))
	},
	"hasPrefix": strings.HasPrefix,
	"list":      func(s ...string) []string { return s },
	"query":     withQuery,
}

// withQuery is base with the non-empty values of the key/value pairs kv
// as its query string.
func withQuery(base string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}
