package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/scimd/scimd/internal/dbopen"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scimbench:", err)
		os.Exit(1)
	}
}

// config holds the flags.
type config struct {
	databaseURL string
	base, token string
	tenant      string
	users       int
	groups      int
	members     int
	concurrency int
	duration    time.Duration
	walkMax     time.Duration
	phases      []string
	jsonOut     string
	sample      int
	pageSize    int
	bulkSize    int
	seedBatch   int
	seedWorkers int
	timeout     time.Duration
	cpuProfile  string
	randSeed    uint64
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("scimbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `scimbench — scimd's load generator.

Seeds a tenant with -users users and -groups groups straight through the
store, serves scimd in-process on a loopback port (or drives -base), runs
the phases for -duration each at -concurrency, measures the HTTP and SQL
ceilings in the same run, and prints a table (and -json).

Usage: go run ./cmd/scimbench -database-url sqlite:///tmp/bench.db -users 100000 [flags]

Phases (-phases, in run order): `+strings.Join(phaseOrder, ", ")+`
Groups: all, none, `+strings.Join(groupNames(), ", ")+`; "-name" removes (e.g. -phases all,-index-walk).
The console phase signs in to /admin as the tenant's admin bench-console-admin
(created when missing; needs -database-url) and times the users screens:
rows console/users, /walk, /search, /inactive and /user.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.databaseURL, "database-url", os.Getenv("SCIMD_DATABASE_URL"),
		"sqlite:///abs/path.db, sqlite://rel/path.db or postgres://… (env SCIMD_DATABASE_URL); seeds it and, without -base, serves it")
	fs.StringVar(&c.base, "base", "", "SCIM root of an already running server, e.g. http://127.0.0.1:8080/scim/v2 (loopback only); needs -token")
	fs.StringVar(&c.token, "token", "", "bearer token for -base (a token of -tenant)")
	fs.StringVar(&c.tenant, "tenant", "bench", "tenant to seed and measure")
	fs.IntVar(&c.users, "users", 10000, "users the tenant holds (seeded when it has fewer)")
	fs.IntVar(&c.groups, "groups", 10, "groups to seed")
	fs.IntVar(&c.members, "members", 100, "members per seeded group")
	fs.IntVar(&c.concurrency, "concurrency", 16, "concurrent requests")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each timed phase")
	fs.DurationVar(&c.walkMax, "walk-max", 2*time.Minute, "longest a walk (index-walk, cursor-walk) may take")
	phases := fs.String("phases", "all", "phases to run: names, groups, all, none, -name")
	fs.StringVar(&c.jsonOut, "json", "", "write every row, the machine and the settings as JSON to this file")
	fs.IntVar(&c.sample, "sample", 10000, "existing users read up front for get and patch")
	fs.IntVar(&c.pageSize, "page-size", 100, "count= of the page and walk phases")
	fs.IntVar(&c.bulkSize, "bulk-size", 1000, "user creations per POST /Bulk in the bulk phase")
	fs.IntVar(&c.seedBatch, "seed-batch", 1000, "users per seeding transaction")
	fs.IntVar(&c.seedWorkers, "seed-workers", 0, "concurrent seeding transactions (0: 1 on SQLite, 4 on PostgreSQL)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed phases (go tool pprof) to this file")
	seed := fs.Uint64("rand-seed", 1, "random seed of the request mix")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.randSeed = *seed
	var err error
	if c.phases, err = selectPhases(*phases); err != nil {
		return c, err
	}
	switch {
	case c.databaseURL == "" && c.base == "":
		return c, errors.New("give -database-url (sqlite:///path.db or postgres://…) or -base")
	case c.base != "" && c.token == "":
		return c, errors.New("-base needs -token")
	case c.users < 1:
		return c, errors.New("-users must be at least 1")
	case c.groups < 0 || c.members < 0:
		return c, errors.New("-groups and -members must not be negative")
	case c.concurrency < 1:
		return c, errors.New("-concurrency must be at least 1")
	case c.duration <= 0 || c.walkMax <= 0 || c.timeout <= 0:
		return c, errors.New("-duration, -walk-max and -timeout must be positive")
	case c.bulkSize < 1 || c.bulkSize > scim.MaxBulkOperations:
		return c, fmt.Errorf("-bulk-size must be 1…%d", scim.MaxBulkOperations)
	case c.pageSize < 1 || c.pageSize > scim.MaxCount:
		return c, fmt.Errorf("-page-size must be between 1 and %d", scim.MaxCount)
	case c.sample < 1 || c.seedBatch < 1 || c.seedWorkers < 0:
		return c, errors.New("-sample and -seed-batch must be at least 1, -seed-workers at least 0")
	}
	if c.base != "" {
		if err := loopback(c.base); err != nil {
			return c, err
		}
	}
	return c, nil
}

// run is the whole program.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	started := time.Now()
	b := &bench{cfg: cfg, log: stderr, users: cfg.users, tag: runTag()}
	rep := &Report{Tool: "scimd cmd/scimbench", Started: started.UTC(), Machine: machine()}
	rep.Settings = Settings{Tenant: cfg.tenant, Users: cfg.users, Groups: cfg.groups, Members: cfg.members,
		Concurrency: cfg.concurrency, Duration: cfg.duration.String(), WalkMax: cfg.walkMax.String(),
		PageSize: cfg.pageSize, Sample: cfg.sample, RandSeed: cfg.randSeed, Phases: cfg.phases, Base: cfg.base}

	rng := rand.New(rand.NewPCG(cfg.randSeed, 7))
	var db dbopen.Database
	if cfg.databaseURL != "" {
		target, err := dbopen.Parse(cfg.databaseURL)
		if err != nil {
			return err
		}
		rep.Settings.Database, rep.Settings.DBKind = dbopen.Redact(cfg.databaseURL), target.Kind
		if db, err = openStore(ctx, target); err != nil {
			return err
		}
		defer db.Close()
		if cfg.base == "" {
			// Serving in this process: the processors scimd serve would run with.
			if before, after := dbopen.SetProcs(target, os.Getenv); after != before {
				fmt.Fprintf(stderr, "GOMAXPROCS %d → %d, as scimd serve sets it for SQLite\n", before, after)
			}
		}
		b.db = db
		if b.tenantID, err = ensureTenant(ctx, db, cfg.tenant); err != nil {
			return err
		}
		workers := cfg.seedWorkers
		if workers == 0 {
			workers = 1
			if target.Kind == dbopen.Postgres {
				workers = 4
			}
		}
		s := &seeder{db: db, tenantID: b.tenantID, users: cfg.users, groups: cfg.groups, members: cfg.members,
			batch: cfg.seedBatch, workers: workers, log: stderr}
		if target.Kind == dbopen.Postgres {
			s.analyze = func(ctx context.Context) error { return maintain(ctx, target.URL, analyzeSeeded) }
		}
		fmt.Fprintf(stderr, "seed: tenant %s on %s, %d users, %d groups × %d members\n",
			cfg.tenant, target.Kind, cfg.users, cfg.groups, cfg.members)
		sr, err := s.seed(ctx)
		if err != nil {
			return err
		}
		sr.Tenant = cfg.tenant
		if target.Kind == dbopen.Postgres && (sr.UsersSeeded > 0 || sr.GroupsSeeded > 0) {
			// Tables that just grew by a bulk load have no planner
			// statistics and an unset visibility map until autovacuum
			// comes by (within a minute or so, in the middle of a phase);
			// do its work now so the phases measure the steady state.
			if err := maintain(ctx, target.URL, vacuumAnalyze); err != nil {
				return err
			}
			sr.Vacuumed = true
		}
		rep.Seed = &sr
		fmt.Fprintf(stderr, "seed: %d users and %d groups (%d memberships) written in %.1f s; the tenant had %d users\n",
			sr.UsersSeeded, sr.GroupsSeeded, sr.MembersSeeded, sr.Seconds, sr.UsersBefore)
		b.seeded = true
		if b.pool, err = s.storePool(ctx, cfg.sample, rng); err != nil {
			return err
		}
		if len(cfg.phases) > 0 && needsSQL(cfg.phases) {
			if b.sqlc, err = openSQLCeiling(ctx, target, cfg.concurrency); err != nil {
				return fmt.Errorf("opening the database for the SQL ceilings: %w", err)
			}
			defer b.sqlc.close()
		}
		if target.Kind == dbopen.Postgres && localPostgres(target.URL) {
			b.cpu.pgDB = postgresDB(target.URL)
		}
	}
	if len(cfg.phases) == 0 {
		return finish(rep, b, nil, started, stdout)
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	base, token := cfg.base, cfg.token
	if base == "" {
		svc := provision.New(db, nil, nil)
		secret, _, err := svc.CreateToken(ctx, benchActor, provision.TokenSpec{TenantID: b.tenantID})
		if err != nil {
			return fmt.Errorf("creating a token: %w", err)
		}
		srv, err := serve(db, svc, ratelimit.Limits{})
		if err != nil {
			return err
		}
		defer srv.close()
		base, token = srv.url, secret
		rep.Settings.InProcess = true
		rep.Settings.Base = base
	}
	b.scim = newClient(base, token, cfg.concurrency, cfg.timeout)
	defer b.scim.close()
	if !b.seeded {
		if b.pool, err = b.discover(ctx, cfg.sample, rng); err != nil {
			return err
		}
		if len(b.pool) == 0 {
			return fmt.Errorf("%s has no users to measure", base)
		}
	}
	rep.Settings.PoolUsers = len(b.pool)
	nothing, err := startNothing()
	if err != nil {
		return err
	}
	defer nothing.close()
	b.nothing = newClient(nothing.url, token, cfg.concurrency, cfg.timeout)
	defer b.nothing.close()

	fmt.Fprintf(stderr, "run: %s, %d users, concurrency %d, %s per phase, phases %s\n",
		base, cfg.users, cfg.concurrency, cfg.duration, strings.Join(cfg.phases, ","))
	var rows []Row
	for _, p := range cfg.phases {
		if ctx.Err() != nil {
			break
		}
		var rs []Row
		if p == noisyPhase { // noisy.go: a server of its own, with rate limits
			rs = b.noisy(ctx)
		} else {
			rs = b.run(ctx, p)
		}
		for _, r := range rs {
			fmt.Fprintf(stderr, "%-18s ok %7d  err %4d  %9s req/s  p50 %7s ms  p99 %7s ms  %s\n",
				r.Phase, r.OK, r.Errors, fmtNum(r.RPS), fmtNum(r.P50ms), fmtNum(r.P99ms), r.Note)
		}
		rows = append(rows, rs...)
	}
	return finish(rep, b, rows, started, stdout)
}

func finish(rep *Report, b *bench, rows []Row, started time.Time, stdout io.Writer) error {
	rep.Rows = rows
	if rep.Rows == nil {
		rep.Rows = []Row{}
	}
	rep.Ratios = ratios(rows)
	if rep.Ratios == nil {
		rep.Ratios = []Ratio{}
	}
	rep.Seconds = time.Since(started).Seconds()
	if len(rows) > 0 {
		m, st := rep.Machine, rep.Settings
		db := st.DBKind
		if db == "" {
			db = "no database"
		}
		fmt.Fprintf(stdout, "scimbench: %s, %d users, %d groups × %d members, concurrency %d, %s per phase; %d CPUs (%s), %s/%s, %s\n\n",
			db, st.Users, st.Groups, st.Members, st.Concurrency, st.Duration, m.NumCPU, m.CPUModel, m.GOOS, m.GOARCH, m.GoVersion)
		printTable(stdout, rows, rep.Ratios)
	}
	if b.cfg.jsonOut != "" {
		if err := writeJSON(b.cfg.jsonOut, rep); err != nil {
			return err
		}
	}
	return nil
}

func needsSQL(phases []string) bool {
	for _, p := range phases {
		if strings.HasPrefix(p, "sql-") {
			return true
		}
	}
	return false
}

// localPostgres reports whether a PostgreSQL URL names this machine, whose
// postgres processes' CPU time can then be read.
func localPostgres(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	if h == "" || h == "localhost" || strings.HasPrefix(h, "/") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// postgresDB is the database name of a PostgreSQL URL.
func postgresDB(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	if db := strings.TrimPrefix(p.Path, "/"); db != "" {
		return db
	}
	return p.User.Username()
}

// runTag is a short random tag that keeps the userNames of one run's
// created users apart from every other run's.
func runTag() string {
	return strconv.FormatUint(rand.Uint64()%(36*36*36*36*36*36), 36)
}

// server is scimd's real handler serving on a loopback port in this
// process.
type server struct {
	srv *http.Server
	url string
}

// serve serves db with scimd's handler and the given rate limits (the
// zero Limits: none) on a loopback port in this process.
func serve(db store.Store, svc *provision.Service, limits ratelimit.Limits) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := scim.NewServer(scim.Config{Store: db, Provision: svc, Log: slog.New(slog.DiscardHandler), Metrics: obs.NewMetrics(),
		TokenCacheTTL: scim.DefaultTokenCacheTTL, RateLimits: limits})
	s := &server{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second},
		url: "http://" + ln.Addr().String() + "/scim/v2",
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// discover reads up to size existing users of a server that was not
// seeded by this run, from pages at random offsets.
func (b *bench) discover(ctx context.Context, size int, rng *rand.Rand) ([]poolUser, error) {
	total, err := b.totalUsers(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var pool []poolUser
	w := &worker{}
	pages := min((size+99)/100, 50, (total+99)/100)
	for range pages {
		start := 1 + rng.IntN(max(total-99, 1))
		path := "/Users?startIndex=" + strconv.Itoa(start) + "&count=100"
		st, body, err := b.scim.do(ctx, &w.buf, "GET", path, nil)
		if err != nil {
			return nil, err
		}
		if st != 200 {
			return nil, statusError("GET", path, st, body)
		}
		var list struct {
			Resources []struct {
				ID         string `json:"id"`
				UserName   string `json:"userName"`
				ExternalID string `json:"externalId"`
				Active     *bool  `json:"active"`
				Emails     []struct {
					Value string `json:"value"`
					Type  string `json:"type"`
				} `json:"emails"`
			} `json:"Resources"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		for _, r := range list.Resources {
			if seen[r.ID] || r.ID == "" || len(pool) >= size {
				continue
			}
			seen[r.ID] = true
			u := poolUser{id: r.ID, userName: r.UserName, externalID: r.ExternalID, active: r.Active == nil || *r.Active}
			for _, e := range r.Emails {
				if e.Type == "work" {
					u.email = e.Value
					break
				}
			}
			pool = append(pool, u)
		}
	}
	b.users = total
	return pool, nil
}
