package scim

import (
	"context"
	"github.com/scimd/scimd/internal/auth"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/hostapi"
	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/store"
)

// Config is what the protocol layer needs.
type Config struct {
	Store     store.Store
	Provision *provision.Service
	Log       *slog.Logger
	Metrics   *obs.Metrics
	// BaseURL is the public URL of the SCIM root, e.g.
	// "https://scim.example.com/scim/v2"; empty derives it from each request.
	BaseURL string
	// MaxBodyBytes caps request bodies (advertised as bulk.maxPayloadSize).
	MaxBodyBytes int64
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// TokenCacheTTL is how long a token read from the store is trusted
	// before it is read again (auth.Cache); 0 reads it on every request.
	// A revocation made by another process takes effect within it.
	TokenCacheTTL time.Duration
	// Changed, when set, is called after every request that changed state
	// (a 2xx answer to POST, PUT, PATCH or DELETE): serve wakes the event
	// dispatcher with it, so webhooks hear of the change at once rather
	// than at its next poll.
	Changed func()
	// Stopping, when set, is closed as the process starts shutting down:
	// /readyz answers 503 from then on (load balancers should send nothing
	// new) and the host API's long polls answer at once.
	Stopping <-chan struct{}
	// RateLimits are the request rates allowed per bearer token and per
	// tenant on the SCIM API, and apart on the host API (internal/ratelimit);
	// past them a request gets 429 with Retry-After. The zero value limits
	// nothing.
	RateLimits ratelimit.Limits
}

// Limits advertised in /ServiceProviderConfig and enforced.
const (
	DefaultMaxBodyBytes = 1 << 20
	MaxCount            = 1000 // filter.maxResults: the largest page
	DefaultCount        = 100
	MaxFilterLength     = 4096
	// DefaultTokenCacheTTL is the TokenCacheTTL scimd serve runs with.
	DefaultTokenCacheTTL = 500 * time.Millisecond
)

type server struct {
	mux     http.Handler // the whole router, for /Bulk's operations
	cfg     Config
	log     *slog.Logger
	metrics *obs.Metrics
	cursors store.SecretCache // the key cursors are signed with
	walks   walks             // where index-paged walks left off
	tokens  *auth.Cache
	limiter *ratelimit.Limiter // nil: no rate limits
	idem    idemState          // Idempotency-Key upkeep
}

// NewServer returns scimd's HTTP handler: /healthz, /readyz, /metrics and
// the SCIM API under /scim/v2.
func NewServer(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = obs.NewMetrics()
	}
	s := &server{cfg: cfg, log: cfg.Log, metrics: cfg.Metrics, tokens: auth.NewCache(cfg.Store, cfg.TokenCacheTTL, cfg.Now)}
	s.limiter = s.newLimiter()

	r := chi.NewRouter()
	r.Use(withRequestID, canonicalPath, s.observe, s.refuseQueryTokens, s.limitBody)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, "", "no such endpoint: %s", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "", "%s is not allowed on %s", r.Method, r.URL.Path))
	})

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	r.Get("/readyz", s.ready)
	r.Handle("/metrics", cfg.Metrics.Handler())

	r.Mount("/api/v1", hostapi.Handler(hostapi.Config{
		Store: cfg.Store, Provision: cfg.Provision, Log: cfg.Log, Now: cfg.Now, RequestID: requestID,
		Limiter: s.newLimiter(), Stopping: cfg.Stopping,
	}))

	r.Mount(console.Prefix, console.Handler(console.Config{
		Store: cfg.Store, Provision: cfg.Provision, Log: cfg.Log, Now: cfg.Now, RequestID: requestID,
	}))

	r.Route("/scim/v2", func(r chi.Router) {
		r.Use(middleware.StripSlashes)
		// Discovery documents hold no tenant data (RFC 7644 §4 lets them be
		// public), so validators can read them before a token is set up.
		r.Get("/ServiceProviderConfig", s.serviceProviderConfig)
		// Microsoft's reference Postman collection asks for this name.
		r.Get("/serviceConfiguration", s.serviceProviderConfig)
		r.Get("/ResourceTypes", s.resourceTypes)
		r.Get("/ResourceTypes/{name}", s.resourceType)
		r.Get("/Schemas", s.schemaList)
		r.Get("/Schemas/{urn}", s.schema)

		r.Group(func(r chi.Router) {
			r.Use(s.authenticate, s.rateLimit, s.auditAttempts, s.limitProjection)
			r.Post("/Bulk", s.keyedBulk)
			r.Post("/.search", s.searchAll)
			r.Post("/Users/.search", s.searchUsers)
			r.Post("/Groups/.search", s.searchGroups)
			r.Get("/Users", s.listUsers)
			r.Post("/Users", s.keyedCreate(s.createUser))
			r.Get("/Users/{id}", s.getUser)
			r.Put("/Users/{id}", s.replaceUser)
			r.Patch("/Users/{id}", s.patchUser)
			r.Delete("/Users/{id}", s.deleteUser)

			r.Get("/Groups", s.listGroups)
			r.Post("/Groups", s.keyedCreate(s.createGroup))
			r.Get("/Groups/{id}", s.getGroup)
			r.Put("/Groups/{id}", s.replaceGroup)
			r.Patch("/Groups/{id}", s.patchGroup)
			r.Delete("/Groups/{id}", s.deleteGroup)
		})
	})
	s.mux = r
	return r
}

// ready answers 200 when the database answers within two seconds and the
// process is not shutting down (Config.Stopping), else 503.
func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	select {
	case <-s.cfg.Stopping: // a nil channel never is
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
		return
	default:
	}
	if err := s.cfg.Store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", "request_id", requestID(ctx), "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unreachable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// baseURL is the absolute URL of the SCIM root for this request.
func (s *server) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/scim/v2"
}

// endpoints are the SCIM endpoint names, by their lower-case form.
var endpoints = map[string]string{}

func init() {
	for _, e := range []string{"Users", "Groups", "ServiceProviderConfig", "serviceConfiguration", "ResourceTypes", "Schemas", "Bulk", ".search"} {
		endpoints[strings.ToLower(e)] = e
	}
}

// canonicalPath rewrites the endpoint name after /scim/v2/ to its canonical
// case ("/scim/v2/users" → "/scim/v2/Users"): clients such as Microsoft's
// reference collection send endpoint names in another case, and resource
// types are case-insensitive names.
func canonicalPath(next http.Handler) http.Handler {
	const prefix = "/scim/v2/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if len(p) > len(prefix) && strings.EqualFold(p[:len(prefix)], prefix) {
			rest := p[len(prefix):]
			name, tail, _ := strings.Cut(rest, "/")
			if canon, ok := endpoints[strings.ToLower(name)]; ok && canon != name || p[:len(prefix)] != prefix {
				if canon == "" {
					canon = name
				}
				u := *r.URL
				u.Path = prefix + canon
				if tail != "" || strings.Contains(rest, "/") {
					u.Path += "/" + tail
				}
				u.RawPath = ""
				r2 := r.Clone(r.Context())
				r2.URL = &u
				r = r2
			}
		}
		next.ServeHTTP(w, r)
	})
}
