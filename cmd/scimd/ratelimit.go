package main

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/scimd/scimd/internal/ratelimit"
)

// rateLimits reads the rate limits of serve from the environment:
// SCIMD_RATE_TENANT and SCIMD_RATE_TOKEN (requests per second, default
// ratelimit.DefaultTenantRate and DefaultTokenRate; 0 disables that
// limit), SCIMD_RATE_TENANT_BURST and SCIMD_RATE_TOKEN_BURST (requests,
// default twice the rate), SCIMD_RATE_PAUSE (how long a refused request
// is held before its 429, default ratelimit.DefaultPause) and
// SCIMD_RATE_CONCURRENT (how many of a tenant's requests run at once,
// default ratelimit.DefaultConcurrent; 0 does not cap them). It returns an
// error naming the variable for a value that is not a finite number ≥ 0
// (rates), a whole number ≥ 1 (bursts), a duration from 0s to 5s (the
// pause) or a whole number from 0 to 10000 (the cap).
func (e *env) rateLimits() (ratelimit.Limits, error) {
	d := ratelimit.Defaults()
	tenant, err := e.rateLimit("SCIMD_RATE_TENANT", d.Tenant.Rate)
	if err != nil {
		return ratelimit.Limits{}, err
	}
	token, err := e.rateLimit("SCIMD_RATE_TOKEN", d.Token.Rate)
	if err != nil {
		return ratelimit.Limits{}, err
	}
	pause := d.Pause
	if v := e.getenv("SCIMD_RATE_PAUSE"); v != "" {
		var err error
		if pause, err = time.ParseDuration(v); err != nil || pause < 0 || pause > 5*time.Second {
			return ratelimit.Limits{}, fmt.Errorf("SCIMD_RATE_PAUSE %q: use a duration from 0s to 5s", v)
		}
	}
	concurrent := d.Concurrent
	if v := e.getenv("SCIMD_RATE_CONCURRENT"); v != "" {
		var err error
		if concurrent, err = strconv.Atoi(v); err != nil || concurrent < 0 || concurrent > 10000 {
			return ratelimit.Limits{}, fmt.Errorf("SCIMD_RATE_CONCURRENT %q: use a number of requests from 0 to 10000 (0: no cap)", v)
		}
	}
	return ratelimit.Limits{Tenant: tenant, Token: token, Pause: pause, Concurrent: concurrent}, nil
}

// rateLimit reads one limit: the rate from the variable name, the burst
// from name_BURST.
func (e *env) rateLimit(name string, def float64) (ratelimit.Limit, error) {
	l := ratelimit.Limit{Rate: def}
	if v := e.getenv(name); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return l, fmt.Errorf("%s %q: use a number of requests per second ≥ 0 (0 disables the limit)", name, v)
		}
		l.Rate = r
	}
	l.Burst = ratelimit.DefaultBurst(l.Rate)
	if v := e.getenv(name + "_BURST"); v != "" {
		b, err := strconv.Atoi(v)
		if err != nil || b < 1 || b > math.MaxInt32 {
			return l, fmt.Errorf("%s_BURST %q: use a whole number of requests ≥ 1 (default twice %s)", name, v, name)
		}
		l.Burst = b
	}
	if !l.Enabled() {
		return ratelimit.Limit{}, nil
	}
	return l, nil
}
