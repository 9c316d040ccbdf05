package ratelimit

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Scope names the bucket that refused a request.
type Scope string

// The two scopes a request is limited in.
const (
	ScopeToken  Scope = "token"
	ScopeTenant Scope = "tenant"
)

// Limit is one bucket's size and refill rate.
type Limit struct {
	// Rate is the sustained number of requests per second; 0 (or less)
	// disables the limit.
	Rate float64
	// Burst is the number of requests the bucket holds when full, i.e. how
	// many may come at once after a quiet spell; values below 1 mean
	// DefaultBurst(Rate).
	Burst int
}

// Enabled reports whether the limit limits anything.
func (l Limit) Enabled() bool { return l.Rate > 0 }

// String says the limit in words, e.g. "300 requests/s (burst 600)", or
// "unlimited".
func (l Limit) String() string {
	if !l.Enabled() {
		return "unlimited"
	}
	return FormatRate(l.Rate) + " requests/s (burst " + strconv.Itoa(l.burst()) + ")"
}

func (l Limit) burst() int {
	if l.Burst >= 1 {
		return l.Burst
	}
	return DefaultBurst(l.Rate)
}

// DefaultBurst is the burst of a limit that names none: twice the rate,
// rounded up, and at least 1.
func DefaultBurst(rate float64) int {
	if rate <= 0 {
		return 1
	}
	b := math.Ceil(2 * rate)
	if b > math.MaxInt32 {
		return math.MaxInt32
	}
	return max(int(b), 1)
}

// FormatRate writes a rate the shortest way it reads back exactly ("300",
// "0.5").
func FormatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

// Limits are the limits of both scopes. The zero value limits nothing.
type Limits struct {
	Tenant Limit
	Token  Limit
	// Pause is how long a refused request is held before its 429 is
	// answered (see Limiter.Hold); 0 answers at once.
	Pause time.Duration
	// Concurrent is how many of a tenant's admitted requests may run at
	// once (see Limiter.Enter); 0 does not cap them.
	Concurrent int
}

// Enabled reports whether any limit is.
func (l Limits) Enabled() bool {
	return l.Tenant.Enabled() || l.Token.Enabled() || l.Concurrent > 0
}

// The default limits of scimd serve: comfortably above what identity
// providers send (Entra ID stays under 25 requests/s per tenant), low
// enough that one tenant cannot take a server from the others.
const (
	DefaultTenantRate = 300
	DefaultTokenRate  = 200
)

// DefaultPause is the Pause of the default limits: short next to the
// second a refused client is told to wait, long enough that a client
// retrying at once from a fixed pool of workers sends a few requests a
// second per worker instead of thousands.
const DefaultPause = 250 * time.Millisecond

// DefaultConcurrent is the Concurrent of the default limits: enough for a
// tenant's requests at its full rate (300 requests/s of a few milliseconds
// each need one or two at once), few enough that a tenant flooding the
// server leaves the cores and database connections to the others.
const DefaultConcurrent = 4

// MaxHeld is the largest number of refused requests a Limiter holds at
// once; refusals beyond it are answered at once, so holding them never
// ties up more than that many connections.
const MaxHeld = 1024

// Defaults returns the default limits: DefaultTenantRate per tenant and
// DefaultTokenRate per token, each with a burst of twice its rate, and
// refusals held for DefaultPause.
func Defaults() Limits {
	return Limits{
		Tenant:     Limit{Rate: DefaultTenantRate, Burst: DefaultBurst(DefaultTenantRate)},
		Token:      Limit{Rate: DefaultTokenRate, Burst: DefaultBurst(DefaultTokenRate)},
		Pause:      DefaultPause,
		Concurrent: DefaultConcurrent,
	}
}

// Config configures a Limiter.
type Config struct {
	Limits
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Refused, when set, is called once for every refused request with the
	// scope that refused it (for a metric).
	Refused func(Scope)
	// IdleAfter is how long a key may go unused before its bucket is
	// dropped; it is raised to at least MinIdle and to the time the bucket
	// takes to refill from empty, so a dropped bucket is always full.
	IdleAfter time.Duration
}

// MinIdle is the shortest time a bucket is kept after its last use.
const MinIdle = time.Minute

// Decision is the answer to one request.
type Decision struct {
	// Allowed says whether the request may go.
	Allowed bool
	// Scope and Limit name the bucket that refused it (zero when allowed).
	Scope Scope
	Limit Limit
	// RetryAfter is how long until the refusing bucket would let the
	// request through (zero when allowed).
	RetryAfter time.Duration
}

// RetryAfterSeconds is RetryAfter in whole seconds rounded up, at least 1:
// the value of a Retry-After header. It is 0 for an allowed request.
func (d Decision) RetryAfterSeconds() int {
	if d.Allowed {
		return 0
	}
	s := int64((d.RetryAfter + time.Second - 1) / time.Second)
	return int(min(max(s, 1), math.MaxInt32))
}

// Detail says a refusal in words for an error body, e.g. "rate limit of
// 300 requests/s (burst 600) for this tenant exceeded; retry after 1 s";
// it is "" for an allowed request.
func (d Decision) Detail() string {
	if d.Allowed {
		return ""
	}
	return "rate limit of " + d.Limit.String() + " for this " + string(d.Scope) +
		" exceeded; retry after " + strconv.Itoa(d.RetryAfterSeconds()) + " s"
}

// Limiter holds the buckets. Its methods are safe for concurrent use; a
// nil *Limiter allows everything.
type Limiter struct {
	cfg     Config
	tenants *buckets
	tokens  *buckets
	held    chan struct{} // a slot per refused request being held
	running sync.Map      // tenant id → chan struct{}: a slot per running request
}

// New returns a Limiter with cfg's limits, or nil (which allows
// everything) when neither limit is enabled.
func New(cfg Config) *Limiter {
	if !cfg.Enabled() {
		return nil
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, held: make(chan struct{}, MaxHeld)}
	now := cfg.Now()
	if cfg.Tenant.Enabled() {
		l.tenants = newBuckets(cfg.Tenant, cfg.IdleAfter, now)
	}
	if cfg.Token.Enabled() {
		l.tokens = newBuckets(cfg.Token, cfg.IdleAfter, now)
	}
	return l
}

// Limits returns the limits the Limiter enforces (the zero Limits for a
// nil Limiter).
func (l *Limiter) Limits() Limits {
	if l == nil {
		return Limits{}
	}
	return l.cfg.Limits
}

// Allow decides one request of the given tenant made with the given token
// (their ids). The request takes one token from each enabled bucket when
// both hold one; when either refuses, neither loses anything, and the
// Decision says which refused and how long until it would not. The token
// bucket is asked first, so a request its own token refuses never counts
// against the tenant.
func (l *Limiter) Allow(tenantID, tokenID string) Decision {
	if l == nil {
		return Decision{Allowed: true}
	}
	now := l.cfg.Now()
	var held *rate.Reservation
	if l.tokens != nil {
		r, d := l.tokens.reserve(tokenID, now, ScopeToken)
		if !d.Allowed {
			l.refused(ScopeToken)
			return d
		}
		held = r
	}
	if l.tenants != nil {
		if _, d := l.tenants.reserve(tenantID, now, ScopeTenant); !d.Allowed {
			if held != nil {
				held.CancelAt(now) // the token's bucket gets its token back
			}
			l.refused(ScopeTenant)
			return d
		}
	}
	return Decision{Allowed: true}
}

// Hold holds a refused request for the configured Pause before the caller
// answers it. A client that retries at once, as a fixed pool of workers
// flooding the server does, then sends a few requests a second per worker
// instead of as many as the server can refuse, which leaves the CPU to
// the other tenants. Hold returns early when ctx ends, and at once when
// no Pause is set or MaxHeld refusals are held already. The pause runs on
// the real clock, not Config.Now.
func (l *Limiter) Hold(ctx context.Context) {
	if l == nil || l.cfg.Pause <= 0 {
		return
	}
	select {
	case l.held <- struct{}{}:
	default:
		return
	}
	defer func() { <-l.held }()
	t := time.NewTimer(l.cfg.Pause)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Enter waits until fewer than Concurrent requests of the tenant are
// running, then counts the caller's as running until it calls the
// returned release. Waiting requests cost no CPU and hold no database
// connection, so a tenant sending many requests at once queues behind
// itself instead of in front of the other tenants. It returns ctx's
// error, and nothing to release, when ctx ends first. A nil Limiter, or
// one without a Concurrent cap, lets every request in at once.
func (l *Limiter) Enter(ctx context.Context, tenantID string) (release func(), err error) {
	if l == nil || l.cfg.Concurrent <= 0 {
		return func() {}, nil
	}
	v, ok := l.running.Load(tenantID)
	if !ok {
		v, _ = l.running.LoadOrStore(tenantID, make(chan struct{}, l.cfg.Concurrent))
	}
	slots := v.(chan struct{})
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Limiter) refused(s Scope) {
	if l.cfg.Refused != nil {
		l.cfg.Refused(s)
	}
}

// buckets are the buckets of one scope, by key.
type buckets struct {
	limit Limit
	idle  time.Duration

	mu        sync.RWMutex
	m         map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used atomic.Int64 // the clock's UnixNano at the last use
}

func newBuckets(limit Limit, idle time.Duration, now time.Time) *buckets {
	// A bucket unused for burst/rate has refilled completely; dropping it
	// then is the same as keeping it.
	refill := time.Duration(math.MaxInt64 / 2)
	if secs := float64(limit.burst()) / limit.Rate; secs < float64(refill)/float64(time.Second) {
		refill = time.Duration(secs * float64(time.Second))
	}
	idle = max(idle, MinIdle, refill)
	return &buckets{limit: limit, idle: idle, m: map[string]*bucket{}, lastSweep: now}
}

// reserve takes one token from key's bucket. When the bucket cannot give
// it now it takes nothing and returns the refusal.
func (b *buckets) reserve(key string, now time.Time, scope Scope) (*rate.Reservation, Decision) {
	bk := b.get(key, now)
	r := bk.lim.ReserveN(now, 1)
	if !r.OK() { // cannot happen with burst ≥ 1; refuse rather than allow
		return nil, Decision{Scope: scope, Limit: b.limit, RetryAfter: time.Second}
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return nil, Decision{Scope: scope, Limit: b.limit, RetryAfter: wait}
	}
	return r, Decision{Allowed: true}
}

// get returns key's bucket, made full when new, and drops the buckets
// idle for too long once per idle period.
func (b *buckets) get(key string, now time.Time) *bucket {
	b.mu.RLock()
	bk := b.m[key]
	sweep := now.Sub(b.lastSweep) >= b.idle
	b.mu.RUnlock()
	if bk == nil || sweep {
		b.mu.Lock()
		if now.Sub(b.lastSweep) >= b.idle {
			b.sweep(now)
		}
		if bk = b.m[key]; bk == nil {
			bk = &bucket{lim: rate.NewLimiter(rate.Limit(b.limit.Rate), b.limit.burst())}
			b.m[key] = bk
		}
		b.mu.Unlock()
	}
	bk.used.Store(now.UnixNano())
	return bk
}

// sweep drops the buckets unused for the idle period; b.mu is held.
func (b *buckets) sweep(now time.Time) {
	cut := now.Add(-b.idle).UnixNano()
	for k, bk := range b.m {
		if bk.used.Load() <= cut {
			delete(b.m, k)
		}
	}
	b.lastSweep = now
}

// len is the number of buckets held.
func (b *buckets) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
