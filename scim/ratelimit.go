package scim

import (
	"context"
	"net/http"
	"strconv"

	"github.com/scimd/scimd/internal/ratelimit"
)

// newLimiter returns a limiter with the configured limits that counts its
// refusals in the metrics, or nil when Config.RateLimits limits nothing.
// The SCIM API and the host API get one each: the host product's access
// checks never spend the identity provider's budget, nor the reverse.
func (s *server) newLimiter() *ratelimit.Limiter {
	if !s.cfg.RateLimits.Enabled() {
		return nil
	}
	byToken := s.metrics.RateLimited.WithLabelValues(string(ratelimit.ScopeToken))
	byTenant := s.metrics.RateLimited.WithLabelValues(string(ratelimit.ScopeTenant))
	return ratelimit.New(ratelimit.Config{
		Limits: s.cfg.RateLimits,
		Now:    s.cfg.Now,
		Refused: func(sc ratelimit.Scope) {
			if sc == ratelimit.ScopeToken {
				byToken.Inc()
			} else {
				byTenant.Inc()
			}
		},
	})
}

// rateLimit lets an authenticated request through when both its token's
// and its tenant's bucket allow it — once fewer than the configured
// number of the tenant's requests are running (ratelimit.Limiter.Enter) —
// and answers it with a SCIM 429 and Retry-After otherwise, after holding
// it for the configured pause (ratelimit.Limiter.Hold). It runs after authenticate and before the audit
// of attempts: a refused request changes nothing and writes nothing, so a
// flood of them costs no database work. The operations of a /Bulk request
// are routed through here again, one request each; the batched creations
// of a /Bulk are charged by admitBulkRun.
func (s *server) rateLimit(next http.Handler) http.Handler {
	if s.limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		// The operations of a /Bulk come here with the context of the
		// request that carried them, admitted already.
		op := ctx.Value(admittedKey{}) != nil
		p := principal(ctx)
		if d := s.limiter.Allow(p.TenantID, p.TokenID); !d.Allowed {
			if !op { // a Bulk's operations are answered in its response, not held one by one
				s.limiter.Hold(ctx)
			}
			w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
			s.writeError(w, r, errorf(http.StatusTooManyRequests, "", "%s", d.Detail()))
			return
		}
		if !op {
			// A Bulk's operations run inside their request's slot.
			release, err := s.limiter.Enter(ctx, p.TenantID)
			if err != nil {
				return // the client went away while the tenant's slots were taken
			}
			defer release()
			r = r.WithContext(context.WithValue(ctx, admittedKey{}, true))
		}
		next.ServeHTTP(w, r)
	})
}

// admittedKey marks the context of a request rateLimit let through.
type admittedKey struct{}

// admitBulkRun charges each operation of a run of batched /Bulk creations
// to the rate limits as one request, answers the ones refused with a 429
// result (whose detail says when to retry) and returns the ones admitted.
func (s *server) admitBulkRun(r *http.Request, run []int, ops []bulkOp, results []*bulkResult) []int {
	if s.limiter == nil {
		return run
	}
	p := principal(r.Context())
	admitted := make([]int, 0, len(run))
	for _, i := range run {
		if d := s.limiter.Allow(p.TenantID, p.TokenID); !d.Allowed {
			results[i] = opError(ops[i], http.StatusTooManyRequests, "", d.Detail())
			continue
		}
		admitted = append(admitted, i)
	}
	return admitted
}
