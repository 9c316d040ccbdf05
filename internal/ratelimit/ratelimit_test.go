package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a manual clock for the limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// allowed counts how many of n requests the limiter lets through.
func allowed(l *Limiter, tenant, token string, n int) int {
	k := 0
	for range n {
		if l.Allow(tenant, token).Allowed {
			k++
		}
	}
	return k
}

func TestBurstThenRefill(t *testing.T) {
	c := newClock()
	l := New(Config{Limits: Limits{Token: Limit{Rate: 10, Burst: 5}}, Now: c.Now})
	if got := allowed(l, "t1", "k1", 5); got != 5 {
		t.Fatalf("a full bucket of 5 let %d of 5 through", got)
	}
	d := l.Allow("t1", "k1")
	if d.Allowed || d.Scope != ScopeToken || d.Limit.Rate != 10 {
		t.Fatalf("the 6th request: %+v, want a refusal by the token bucket", d)
	}
	if d.RetryAfter != 100*time.Millisecond || d.RetryAfterSeconds() != 1 {
		t.Fatalf("retry after %v (%d s), want 100ms (1 s)", d.RetryAfter, d.RetryAfterSeconds())
	}
	// Refusals take nothing: after 100 ms exactly one token is back.
	c.Advance(100 * time.Millisecond)
	if got := allowed(l, "t1", "k1", 3); got != 1 {
		t.Fatalf("100 ms at 10/s refilled %d tokens, want 1", got)
	}
	// A second refills the whole burst and no more.
	c.Advance(10 * time.Second)
	if got := allowed(l, "t1", "k1", 10); got != 5 {
		t.Fatalf("after a long pause %d of 10 went, want the burst of 5", got)
	}
}

func TestRetryAfterOfSlowRates(t *testing.T) {
	c := newClock()
	l := New(Config{Limits: Limits{Tenant: Limit{Rate: 0.25, Burst: 1}}, Now: c.Now})
	if !l.Allow("t1", "k1").Allowed {
		t.Fatal("the first request was refused")
	}
	d := l.Allow("t1", "k1")
	if d.Allowed || d.Scope != ScopeTenant || d.RetryAfter != 4*time.Second || d.RetryAfterSeconds() != 4 {
		t.Fatalf("got %+v (%d s), want a tenant refusal for 4 s", d, d.RetryAfterSeconds())
	}
	c.Advance(2500 * time.Millisecond)
	if d := l.Allow("t1", "k1"); d.Allowed || d.RetryAfterSeconds() != 2 {
		t.Fatalf("1.5 s before the refill: %+v (%d s), want a refusal for 2 s (1.5 rounded up)", d, d.RetryAfterSeconds())
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    Decision
		want int
	}{
		{Decision{Allowed: true}, 0},
		{Decision{RetryAfter: 0}, 1},
		{Decision{RetryAfter: time.Nanosecond}, 1},
		{Decision{RetryAfter: time.Second}, 1},
		{Decision{RetryAfter: time.Second + time.Nanosecond}, 2},
		{Decision{RetryAfter: 59*time.Second + 999*time.Millisecond}, 60},
	} {
		if got := tc.d.RetryAfterSeconds(); got != tc.want {
			t.Errorf("%+v: RetryAfterSeconds %d, want %d", tc.d, got, tc.want)
		}
	}
}

// TestBothBuckets: a request needs a token from both buckets, and the
// bucket that refuses costs the other nothing.
func TestBothBuckets(t *testing.T) {
	c := newClock()
	l := New(Config{Limits: Limits{Tenant: Limit{Rate: 1, Burst: 10}, Token: Limit{Rate: 1, Burst: 4}}, Now: c.Now})

	// Token k1 is refused by its own bucket after 4; the 6 refusals cost
	// the tenant nothing, so k2 still has the tenant's remaining 6.
	if got := allowed(l, "t1", "k1", 10); got != 4 {
		t.Fatalf("k1 got %d through, want its burst of 4", got)
	}
	if d := l.Allow("t1", "k1"); d.Scope != ScopeToken {
		t.Fatalf("k1 refused by %q, want token", d.Scope)
	}
	if got := allowed(l, "t1", "k2", 4); got != 4 {
		t.Fatalf("k2 got %d of 4 through", got)
	}
	// Tenant has 2 left: k3 gets 2, then the tenant refuses; k3's own
	// bucket must get back the token the tenant refusal reserved.
	if got := allowed(l, "t1", "k3", 4); got != 2 {
		t.Fatalf("k3 got %d through, want the tenant's remaining 2", got)
	}
	d := l.Allow("t1", "k3")
	if d.Allowed || d.Scope != ScopeTenant || d.Limit.Burst != 10 {
		t.Fatalf("k3 after the tenant ran dry: %+v, want a tenant refusal", d)
	}
	// k3 used 2 of its 4: on another tenant it may send 2 more right now.
	if got := allowed(l, "t2", "k3", 4); got != 2 {
		t.Fatalf("k3 on tenant t2 got %d through, want 2 (tenant refusals must not take k3's tokens)", got)
	}
	// Another tenant is unaffected by t1 running dry.
	if got := allowed(l, "t2", "k9", 4); got != 4 {
		t.Fatalf("tenant t2 got %d of 4 through while t1 is throttled", got)
	}
}

func TestDisabled(t *testing.T) {
	if l := New(Config{}); l != nil {
		t.Fatalf("New with no limits = %v, want nil", l)
	}
	var l *Limiter
	if d := l.Allow("t", "k"); !d.Allowed {
		t.Fatalf("a nil limiter refused: %+v", d)
	}
	if l.Limits().Enabled() {
		t.Fatal("a nil limiter says it has limits")
	}
	// One scope disabled: only the other limits.
	c := newClock()
	l = New(Config{Limits: Limits{Token: Limit{Rate: 0}, Tenant: Limit{Rate: 2, Burst: 3}}, Now: c.Now})
	if got := allowed(l, "t1", "k1", 10); got != 3 {
		t.Fatalf("tenant limit only: %d went, want 3", got)
	}
	if l.tokens != nil {
		t.Fatal("a disabled token limit keeps buckets")
	}
}

func TestDefaultBurst(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		want int
	}{{300, 600}, {200, 400}, {0.2, 1}, {0.5, 1}, {0.75, 2}, {1e12, 1<<31 - 1}, {0, 1}} {
		if got := DefaultBurst(tc.rate); got != tc.want {
			t.Errorf("DefaultBurst(%v) = %d, want %d", tc.rate, got, tc.want)
		}
	}
	if s := (Limit{Rate: 300}).String(); s != "300 requests/s (burst 600)" {
		t.Errorf("Limit.String = %q", s)
	}
	if s := (Limit{Rate: 0.5, Burst: 3}).String(); s != "0.5 requests/s (burst 3)" {
		t.Errorf("Limit.String = %q", s)
	}
	if s := (Limit{}).String(); s != "unlimited" {
		t.Errorf("Limit.String = %q", s)
	}
}

// TestEviction: buckets of keys gone quiet are dropped, so memory follows
// the keys in recent use, and a dropped bucket comes back full.
func TestEviction(t *testing.T) {
	c := newClock()
	l := New(Config{Limits: Limits{Tenant: Limit{Rate: 100, Burst: 200}, Token: Limit{Rate: 10, Burst: 20}}, Now: c.Now})
	const n = 10000
	for i := range n {
		l.Allow(fmt.Sprintf("tenant-%d", i%100), fmt.Sprintf("token-%d", i))
	}
	if l.tokens.len() != n || l.tenants.len() != 100 {
		t.Fatalf("%d token and %d tenant buckets, want %d and 100", l.tokens.len(), l.tenants.len(), n)
	}
	// Keep one key busy; the rest go idle past MinIdle.
	for range 4 {
		c.Advance(MinIdle / 4)
		l.Allow("tenant-0", "token-busy")
	}
	c.Advance(time.Second)
	l.Allow("tenant-0", "token-busy")
	if got := l.tokens.len(); got != 1 {
		t.Fatalf("%d token buckets after the others went idle, want 1", got)
	}
	if got := l.tenants.len(); got != 1 {
		t.Fatalf("%d tenant buckets after the others went idle, want 1", got)
	}
	// Many more keys over time: the count stays bounded by the keys of
	// one idle period.
	for round := range 5 {
		for i := range 2000 {
			l.Allow("tenant-x", fmt.Sprintf("round-%d-token-%d", round, i))
		}
		c.Advance(MinIdle + time.Second)
	}
	l.Allow("tenant-x", "last")
	if got := l.tokens.len(); got > 2001 {
		t.Fatalf("%d token buckets after 5 idle periods of 2000 keys each, want at most 2001", got)
	}
}

// TestIdleCoversRefill: a slow bucket is kept until it has refilled, so
// evicting it never hands out a fresh burst early.
func TestIdleCoversRefill(t *testing.T) {
	c := newClock()
	l := New(Config{Limits: Limits{Token: Limit{Rate: 0.01, Burst: 3}}, Now: c.Now}) // refills in 300 s
	if got := allowed(l, "t", "slow", 5); got != 3 {
		t.Fatalf("%d went, want 3", got)
	}
	c.Advance(2 * MinIdle)
	l.Allow("t", "other") // a sweep runs
	if got := allowed(l, "t", "slow", 5); got != 1 {
		t.Fatalf("after 120 s at 0.01/s %d went, want 1 (the bucket must not have been dropped half empty)", got)
	}
}

// TestConcurrent: under concurrent use the buckets give out exactly their
// tokens (the clock stands still), and the refusals are counted by scope.
func TestConcurrent(t *testing.T) {
	c := newClock()
	var refusedToken, refusedTenant atomic.Int64
	l := New(Config{
		Limits: Limits{Tenant: Limit{Rate: 1, Burst: 100}, Token: Limit{Rate: 1, Burst: 30}},
		Now:    c.Now,
		Refused: func(s Scope) {
			switch s {
			case ScopeToken:
				refusedToken.Add(1)
			case ScopeTenant:
				refusedTenant.Add(1)
			}
		},
	})
	var ok atomic.Int64
	perToken := make([]atomic.Int64, 8)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			tok := g % 8
			for range 50 {
				if l.Allow("t1", fmt.Sprintf("k%d", tok)).Allowed {
					ok.Add(1)
					perToken[tok].Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 100 {
		t.Fatalf("%d requests went, want the tenant's burst of 100", ok.Load())
	}
	for i := range perToken {
		if n := perToken[i].Load(); n > 30 {
			t.Fatalf("token k%d got %d through, more than its burst of 30", i, n)
		}
	}
	if refusedToken.Load()+refusedTenant.Load() != 32*50-100 || refusedTenant.Load() == 0 {
		t.Fatalf("refusals counted: %d token + %d tenant, want %d in all, some by the tenant",
			refusedToken.Load(), refusedTenant.Load(), 32*50-100)
	}
}

func TestDetail(t *testing.T) {
	c := newClock()
	l := New(Config{Limits: Limits{Tenant: Limit{Rate: 300}, Token: Limit{Rate: 200, Burst: 1}}, Now: c.Now})
	if d := l.Allow("t", "k"); d.Detail() != "" {
		t.Fatalf("an allowed request has the detail %q", d.Detail())
	}
	want := "rate limit of 200 requests/s (burst 1) for this token exceeded; retry after 1 s"
	if d := l.Allow("t", "k"); d.Detail() != want {
		t.Fatalf("detail %q, want %q", d.Detail(), want)
	}
}

// TestHold: a refusal is held for the pause, no longer than its context
// lives, and not at all beyond MaxHeld held at once.
func TestHold(t *testing.T) {
	var nilLimiter *Limiter
	nilLimiter.Hold(context.Background()) // returns: nothing to hold

	l := New(Config{Limits: Limits{Token: Limit{Rate: 1}, Pause: 30 * time.Millisecond}})
	start := time.Now()
	l.Hold(context.Background())
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("held for %v, want at least the pause of 30ms", d)
	}

	long := New(Config{Limits: Limits{Token: Limit{Rate: 1}, Pause: time.Hour}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { long.Hold(ctx); close(done) }()
	cancel()
	<-done // a pause of an hour ends with its request

	for range MaxHeld { // every slot taken
		long.held <- struct{}{}
	}
	long.Hold(context.Background()) // returns at once instead of for an hour
	if len(long.held) != MaxHeld {
		t.Fatalf("%d slots held, want %d", len(long.held), MaxHeld)
	}
	if d := Defaults(); d.Pause != DefaultPause || d.Pause >= time.Second {
		t.Fatalf("default pause %v: want DefaultPause, under the 1 s a refused client is told to wait", d.Pause)
	}
}

// TestEnter: at most Concurrent requests of a tenant run at once; the
// next waits for a release (or gives up with its context), and other
// tenants are not held up by it.
func TestEnter(t *testing.T) {
	l := New(Config{Limits: Limits{Concurrent: 2}})
	ctx := context.Background()
	r1, err := l.Enter(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.Enter(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// A third request of tenant a waits; tenant b gets in at once.
	if rb, err := l.Enter(ctx, "b"); err != nil {
		t.Fatalf("tenant b waited behind tenant a: %v", err)
	} else {
		rb()
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Enter(short, "a"); err == nil {
		t.Fatal("a third request of tenant a got in while two were running")
	}
	entered := make(chan func())
	go func() {
		r3, err := l.Enter(ctx, "a")
		if err != nil {
			t.Error(err)
			close(entered)
			return
		}
		entered <- r3
	}()
	select {
	case <-entered:
		t.Fatal("the third request got in before a slot was released")
	case <-time.After(50 * time.Millisecond):
	}
	r1()
	r3, ok := <-entered
	if !ok {
		t.Fatal("the third request never got in")
	}
	r2()
	r3()
	// Every slot is free again: two requests get in without waiting.
	for range 2 {
		bounded, stop := context.WithTimeout(ctx, 5*time.Second)
		_, err := l.Enter(bounded, "a")
		stop()
		if err != nil {
			t.Fatalf("a slot was not released: %v", err)
		}
	}
	var unlimited *Limiter
	if rel, err := unlimited.Enter(short, "a"); err != nil || rel == nil {
		t.Fatalf("a nil Limiter refused a request: %v", err)
	}
	if New(Config{Limits: Limits{Concurrent: 1}}) == nil {
		t.Fatal("a Concurrent cap alone did not make a Limiter")
	}
}
