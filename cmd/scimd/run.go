package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimd/scimd/internal/dbopen"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

const usage = `scimd — a SCIM 2.0 provisioning endpoint for Okta, Entra ID and sync jobs.

Usage:
  scimd serve [--addr ADDR] [--database-url URL]   serve SCIM on ADDR (default 127.0.0.1:8080)
  scimd migrate                                     apply database migrations
  scimd tenant create NAME                          create a tenant; prints its id
  scimd tenant list                                 list tenants
  scimd tenant show NAME                            the tenant, its effective policy, seats and brake, as JSON
  scimd tenant policy NAME [--preset PRESET] [--set key=value …]
                                                    change the lifecycle policy (docs/policy.md)
  scimd tenant owner NAME USERNAME                  transfer ownership to USERNAME
  scimd tenant resume NAME                          let deactivations and deletions through again after the
                                                    mass-deprovisioning brake paused them (docs/policy.md)
  scimd token create --tenant NAME [--owner USERNAME] [--expires 90d] [--kind scim|host]
                                                    issue a bearer token; prints it alone on stdout
  scimd token list --tenant NAME                    list a tenant's tokens (never the secrets)
  scimd token revoke ID                             revoke a token
  scimd import --tenant NAME [--match userName|externalId] [--deactivate-missing] [--dry-run] FILE
                                                    create or update users from a CSV or JSON-lines file (docs/import.md)
  scimd audit --tenant NAME [--user ID|USERNAME] [--since 1h] [--limit N] [--json]
                                                    the audit trail, newest first
  scimd webhook add --tenant NAME --url URL         deliver the tenant's events to URL; prints the signing secret
  scimd webhook list --tenant NAME                  list the tenant's webhooks
  scimd webhook remove --tenant NAME ID             remove a webhook and its pending deliveries
  scimd events --tenant NAME [--dead]               event deliveries, newest first (--dead: only dead ones)
  scimd events retry --tenant NAME EVENT_ID         queue an event's dead deliveries again
  scimd admin login-url --tenant NAME --user USERNAME [--url URL]
                                                    print a one-time sign-in link (10 minutes) to the
                                                    admin console at /admin, for an active admin or owner

Every command takes --database-url (env SCIMD_DATABASE_URL; default: the SQLite
file scimd.db in the working directory; sqlite:///abs/path.db, sqlite://rel/path.db
or postgres://…). serve also reads SCIMD_ADDR, SCIMD_BASE_URL, SCIMD_LOG_FORMAT
(text|json), SCIMD_LOG_LEVEL (debug|info|warn|error), SCIMD_MAX_BODY_BYTES and
SCIMD_TOKEN_CACHE_TTL (default 500ms: how long a running server trusts a token it
has read; a revocation reaches it within that time; 0s reads on every request),
SCIMD_WEBHOOKS (on|off, default on: deliver events to webhooks from this
process), SCIMD_WEBHOOK_TIMEOUT (default 10s per attempt) and
SCIMD_WEBHOOK_MAX_ATTEMPTS (default 12, then the event is dead).
Rate limits (per process; past them 429 with Retry-After): SCIMD_RATE_TENANT
(requests/s per tenant, default 300), SCIMD_RATE_TOKEN (requests/s per token,
default 200), SCIMD_RATE_TENANT_BURST and SCIMD_RATE_TOKEN_BURST (default
twice the rate); 0 disables a limit. A /Bulk operation counts as a request.
SCIMD_RATE_PAUSE (default 250ms) holds a refused request before its 429.
SCIMD_RATE_CONCURRENT (default 4; 0: no cap) is how many of a tenant's requests
run at once; the others wait their turn.
Database time bounds (every command): SCIMD_DB_STATEMENT_TIMEOUT (PostgreSQL
statement_timeout, default 10s: a request whose database is down or silent is
answered 503 with Retry-After within about that long) and
SCIMD_DB_CONNECT_TIMEOUT (default 5s). serve stops on SIGTERM or SIGINT:
/readyz answers 503 at once, SCIMD_SHUTDOWN_DELAY (default 0s) later it stops
accepting connections, then it waits up to SCIMD_SHUTDOWN_TIMEOUT (default
20s) for the requests and webhook deliveries in flight and exits 0 (1 when
the deadline cut requests off; deliveries cut off stay pending).
SCIMD_TLS_CERT and SCIMD_TLS_KEY (PEM files, both or neither) make serve
speak HTTPS only, TLS 1.2 at least.
`

// env is the configuration every command shares.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	dbURL  string
}

// run is the whole program: it parses args, runs one command and returns
// its error. It reads the environment only through getenv.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr, dbURL: getenv("SCIMD_DATABASE_URL")}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return e.serve(ctx, rest)
	case "migrate":
		return e.migrate(ctx, rest)
	case "tenant":
		return e.sub(ctx, "tenant", rest, map[string]func(context.Context, []string) error{
			"create": e.tenantCreate, "list": e.tenantList, "show": e.tenantShow,
			"policy": e.tenantPolicy, "owner": e.tenantOwner, "resume": e.tenantResume,
		})
	case "token":
		return e.sub(ctx, "token", rest, map[string]func(context.Context, []string) error{
			"create": e.tokenCreate, "list": e.tokenList, "revoke": e.tokenRevoke,
		})
	case "audit":
		return e.audit(ctx, rest)
	case "import":
		return e.importUsers(ctx, rest)
	case "webhook":
		return e.sub(ctx, "webhook", rest, map[string]func(context.Context, []string) error{
			"add": e.webhookAdd, "list": e.webhookList, "remove": e.webhookRemove,
		})
	case "events":
		return e.events(ctx, rest)
	case "admin":
		return e.sub(ctx, "admin", rest, map[string]func(context.Context, []string) error{
			"login-url": e.adminLoginURL,
		})
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func (e *env) sub(ctx context.Context, name string, args []string, cmds map[string]func(context.Context, []string) error) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return fmt.Errorf("%s needs a subcommand", name)
	}
	f, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(e.stderr, usage)
		return fmt.Errorf("unknown command %q %q", name, args[0])
	}
	return f(ctx, args[1:])
}

// flags returns a flag set that knows --database-url.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&e.dbURL, "database-url", e.dbURL, "database URL (env SCIMD_DATABASE_URL)")
	return fs
}

// parse parses flags that may stand before, between or after the
// positional arguments, and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != positional {
		return nil, fmt.Errorf("%s takes %d argument(s), got %d", fs.Name(), positional, len(pos))
	}
	return pos, nil
}

// open opens and migrates the database.
func (e *env) open(ctx context.Context) (database, error) {
	opts, err := e.dbOptions()
	if err != nil {
		return nil, err
	}
	db, err := openDatabaseWith(ctx, e.dbURL, opts)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the database: %w", err)
	}
	return db, nil
}

var cliActor = provision.Actor{Name: "cli", Client: "scimd-cli"}

func (e *env) migrate(ctx context.Context, args []string) error {
	if _, err := parse(e.flags("migrate"), args, 0); err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(e.stderr, "migrations applied")
	return nil
}

func (e *env) tenantCreate(ctx context.Context, args []string) error {
	pos, err := parse(e.flags("tenant create"), args, 1)
	if err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := provision.New(db, nil, nil).CreateTenant(ctx, cliActor, pos[0])
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a tenant named %q already exists", pos[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, t.ID)
	return nil
}

func (e *env) tenantList(ctx context.Context, args []string) error {
	if _, err := parse(e.flags("tenant list"), args, 0); err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	ts, err := db.ListTenants(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Name, t.Created.Format(time.RFC3339))
	}
	return tw.Flush()
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func (e *env) tenantPolicy(ctx context.Context, args []string) error {
	fs := e.flags("tenant policy")
	preset := fs.String("preset", "", "start from a preset: "+strings.Join(policy.Presets(), ", "))
	var sets listFlag
	fs.Var(&sets, "set", "key=value, repeatable; keys: "+strings.Join(policy.Keys(), ", "))
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *preset == "" && len(sets) == 0 {
		return fmt.Errorf("tenant policy needs --preset PRESET and/or --set key=value (presets: %s; keys: %s)",
			strings.Join(policy.Presets(), ", "), strings.Join(policy.Keys(), ", "))
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := tenant(ctx, db, pos[0]); err != nil {
		return err
	}
	svc := provision.New(db, nil, nil)
	if _, err := svc.SetTenantPolicy(ctx, cliActor, pos[0], *preset, sets); err != nil {
		return err
	}
	return e.printStatus(ctx, svc, pos[0])
}

func (e *env) tenantShow(ctx context.Context, args []string) error {
	pos, err := parse(e.flags("tenant show"), args, 1)
	if err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := tenant(ctx, db, pos[0]); err != nil {
		return err
	}
	return e.printStatus(ctx, provision.New(db, nil, nil), pos[0])
}

// printStatus prints a tenant with its effective policy and seats as JSON.
func (e *env) printStatus(ctx context.Context, svc *provision.Service, name string) error {
	st, err := svc.Status(ctx, name)
	if err != nil {
		return err
	}
	out := map[string]any{
		"id": st.Tenant.ID, "name": st.Tenant.Name, "created": st.Tenant.Created.Format(time.RFC3339),
		"policy": st.Settings, "seats": st.Seats, "deprovisioning": brakeStatus(st.Brake),
		"users": map[string]int{
			"active": st.Users[store.StateActive], "inactive": st.Users[store.StateInactive], "deleted": st.Users[store.StateDeleted],
		},
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, string(b))
	return nil
}

func (e *env) tenantOwner(ctx context.Context, args []string) error {
	pos, err := parse(e.flags("tenant owner"), args, 2)
	if err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := tenant(ctx, db, pos[0])
	if err != nil {
		return err
	}
	a := cliActor
	a.TenantID = t.ID
	u, err := provision.New(db, nil, nil).TransferOwnership(ctx, a, pos[1])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %q in tenant %s", pos[1], t.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s is now the owner of tenant %s\n", u.UserName, t.Name)
	return nil
}

// tenant looks a tenant up by name, with an error that says what exists.
func tenant(ctx context.Context, db database, name string) (store.Tenant, error) {
	if name == "" {
		return store.Tenant{}, errors.New("--tenant NAME is required")
	}
	t, err := db.GetTenantByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return t, fmt.Errorf("no tenant named %q (scimd tenant list shows them)", name)
	}
	return t, err
}

// parseTTL reads a duration that may also be given in days ("90d").
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--expires %q: use a positive number of days like 90d, or a duration like 12h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		return 0, fmt.Errorf("--expires %q: use a positive number of days like 90d, or a duration like 12h", s)
	}
	return dur, nil
}

func (e *env) tokenCreate(ctx context.Context, args []string) error {
	fs := e.flags("token create")
	tenantName := fs.String("tenant", "", "tenant name")
	owner := fs.String("owner", "", "userName of the admin the token belongs to")
	expires := fs.String("expires", "", "lifetime, e.g. 90d or 12h (default: never expires)")
	kind := fs.String("kind", store.TokenSCIM, "scim (for identity providers, on /scim/v2) or host (for the host product, on /api/v1)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	ttl, err := parseTTL(*expires)
	if err != nil {
		return err
	}
	db, t, err := e.openTenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, tok, err := provision.New(db, nil, nil).CreateToken(ctx, cliActor, provision.TokenSpec{TenantID: t.ID, OwnerUserName: *owner, TTL: ttl, Kind: *kind})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, secret)
	fmt.Fprintf(e.stderr, "token %s for tenant %s created; it is shown only now (only its SHA-256 is stored)\n", tok.ID, t.Name)
	return nil
}

func (e *env) tokenList(ctx context.Context, args []string) error {
	fs := e.flags("token list")
	tenantName := fs.String("tenant", "", "tenant name")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	db, t, err := e.openTenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	defer db.Close()
	toks, err := db.ListTokens(ctx, t.ID)
	if err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tOWNER\tCREATED\tEXPIRES\tKIND")
	for _, k := range toks {
		state := "live"
		switch {
		case k.Revoked != nil:
			state = "revoked"
		case !k.Live(now):
			state = "expired"
		}
		exp := "never"
		if k.Expires != nil {
			exp = k.Expires.Format(time.RFC3339)
		}
		owner := "-"
		if k.OwnerID != "" {
			owner = k.OwnerID
			if u, err := db.GetUser(ctx, t.ID, k.OwnerID); err == nil {
				owner = u.UserName
			}
		}
		kind := k.Kind
		if kind == "" {
			kind = store.TokenSCIM
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, state, owner, k.Created.Format(time.RFC3339), exp, kind)
	}
	return tw.Flush()
}

func (e *env) tokenRevoke(ctx context.Context, args []string) error {
	pos, err := parse(e.flags("token revoke"), args, 1)
	if err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	err = provision.New(db, nil, nil).RevokeToken(ctx, cliActor, pos[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no token with id %q (scimd token list --tenant NAME shows them)", pos[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "token %s revoked\n", pos[0])
	return nil
}

func (e *env) logger() (*slog.Logger, error) {
	var level slog.Level
	if v := e.getenv("SCIMD_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("SCIMD_LOG_LEVEL %q: use debug, info, warn or error", v)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f := e.getenv("SCIMD_LOG_FORMAT"); f {
	case "", "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	default:
		return nil, fmt.Errorf("SCIMD_LOG_FORMAT %q: use text or json", f)
	}
}

func (e *env) serve(ctx context.Context, args []string) error {
	fs := e.flags("serve")
	addr := e.getenv("SCIMD_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	fs.StringVar(&addr, "addr", addr, "listen address (env SCIMD_ADDR)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	log, err := e.logger()
	if err != nil {
		return err
	}
	maxBody := int64(scim.DefaultMaxBodyBytes)
	if v := e.getenv("SCIMD_MAX_BODY_BYTES"); v != "" {
		if maxBody, err = strconv.ParseInt(v, 10, 64); err != nil || maxBody < 1024 {
			return fmt.Errorf("SCIMD_MAX_BODY_BYTES %q: use a number of bytes ≥ 1024", v)
		}
	}
	tokenTTL := scim.DefaultTokenCacheTTL
	if v := e.getenv("SCIMD_TOKEN_CACHE_TTL"); v != "" {
		if tokenTTL, err = time.ParseDuration(v); err != nil || tokenTTL < 0 || tokenTTL > time.Minute {
			return fmt.Errorf("SCIMD_TOKEN_CACHE_TTL %q: use a duration from 0s to 1m", v)
		}
	}
	limits, err := e.rateLimits()
	if err != nil {
		return err
	}
	dcfg, err := e.dispatchConfig()
	if err != nil {
		return err
	}
	sopts, err := e.serveOptions()
	if err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if t, err := dbopen.Parse(e.dbURL); err == nil {
		// SQLite's file I/O blocks a Go processor at a time (dbopen.Target.Procs).
		if before, after := dbopen.SetProcs(t, e.getenv); after != before {
			log.Info("GOMAXPROCS raised for SQLite's blocking file I/O", "from", before, "to", after)
		}
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := e.getenv("SCIMD_BASE_URL")
	printed := base
	if printed == "" {
		printed = sopts.scheme() + "://" + displayAddr(ln.Addr().String()) + "/scim/v2"
	}
	svc := provision.New(db, nil, log)
	if err := e.bootstrap(ctx, db, svc, printed); err != nil {
		ln.Close()
		return err
	}
	metrics := obs.NewMetrics()
	dispatchDone := make(chan struct{})
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopDispatch(); <-dispatchDone }()
	var changed func()
	if dcfg.enabled {
		d := events.New(events.Config{Store: db, Log: log, Metrics: metrics, Timeout: dcfg.timeout, MaxAttempts: dcfg.maxAttempts})
		changed = d.Wake
		// The signal stops claims; deliveries in flight finish unless the
		// shutdown deadline passes (stopDispatch).
		go func() { defer close(dispatchDone); _ = d.Serve(ctx, dispatchCtx) }()
	} else {
		close(dispatchDone)
	}
	stopping := make(chan struct{}) // closed when shutdown starts
	srv := &http.Server{
		Handler: scim.NewServer(scim.Config{
			Store: db, Provision: svc, Log: log, Metrics: metrics, BaseURL: base, MaxBodyBytes: maxBody,
			TokenCacheTTL: tokenTTL, Changed: changed, RateLimits: limits, Stopping: stopping,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("scimd listening", "addr", sopts.scheme()+"://"+ln.Addr().String(), "scim", printed)
	log.Info("rate limits", "tenant", limits.Tenant.String(), "token", limits.Token.String(), "pause", limits.Pause, "concurrent_per_tenant", limits.Concurrent)
	errc := make(chan error, 1)
	go func() { errc <- sopts.serve(srv, ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return sopts.shutdown(log, srv, func() { close(stopping) }, dispatchDone)
}

// displayAddr turns a listen address into one a browser or IdP can reach
// on this machine.
func displayAddr(a string) string {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// bootstrap creates the tenant "default" and its first token when the
// database has no tenant yet, and prints the token once, framed, to
// stderr. A replica that loses the race to create it prints nothing.
func (e *env) bootstrap(ctx context.Context, db database, svc *provision.Service, base string) error {
	ts, err := db.ListTenants(ctx)
	if err != nil || len(ts) > 0 {
		return err
	}
	t, err := svc.CreateTenant(ctx, cliActor, "default")
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	if err != nil {
		return err
	}
	secret, _, err := svc.CreateToken(ctx, cliActor, provision.TokenSpec{TenantID: t.ID})
	if err != nil {
		return err
	}
	line := strings.Repeat("=", 78)
	fmt.Fprintf(e.stderr, "\n%s\n  scimd: first start — created tenant \"default\" and its first bearer token.\n\n"+
		"  SCIM base URL:  %s\n  Bearer token:   %s\n\n"+
		"  Paste both into Okta (Provisioning > Integration: SCIM connector base URL,\n"+
		"  HTTP Header auth) or Entra ID (Provisioning: Tenant URL, Secret Token).\n"+
		"  The token is shown only now; only its SHA-256 is stored. More tokens:\n"+
		"  scimd token create --tenant default\n%s\n\n", line, base, secret, line)
	return nil
}

// dispatchSettings configure the webhook dispatcher of serve.
type dispatchSettings struct {
	enabled     bool
	timeout     time.Duration
	maxAttempts int
}

func (e *env) dispatchConfig() (dispatchSettings, error) {
	d := dispatchSettings{enabled: true, timeout: events.DefaultTimeout, maxAttempts: events.DefaultMaxAttempts}
	switch v := e.getenv("SCIMD_WEBHOOKS"); v {
	case "", "on":
	case "off":
		d.enabled = false
	default:
		return d, fmt.Errorf("SCIMD_WEBHOOKS %q: use on or off", v)
	}
	if v := e.getenv("SCIMD_WEBHOOK_TIMEOUT"); v != "" {
		t, err := time.ParseDuration(v)
		if err != nil || t < time.Second || t > 5*time.Minute {
			return d, fmt.Errorf("SCIMD_WEBHOOK_TIMEOUT %q: use a duration from 1s to 5m", v)
		}
		d.timeout = t
	}
	if v := e.getenv("SCIMD_WEBHOOK_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return d, fmt.Errorf("SCIMD_WEBHOOK_MAX_ATTEMPTS %q: use a number from 1 to 100", v)
		}
		d.maxAttempts = n
	}
	return d, nil
}
