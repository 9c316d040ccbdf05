package scim

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// Deep index pages. A cold jump deep into /Users (startIndex=990001 with
// no walk mark to continue from, walk.go) is an offset over the current
// matches (RFC 7644 §3.4.2.4): in the default order an offset scan of the
// tenant's index of live user ids, linear in the depth. So each process
// keeps, per tenant, the checkpoints of that order (the id of every
// checkpointEvery-th live user, store.Checkpoints) with the tenant's churn
// count read in the same snapshot, and serves a deep page as a seek after
// the last checkpoint before it plus an offset below checkpointEvery, on
// condition that the churn count has not moved (store.Query.IfChurn,
// checked in the page's own snapshot). The count moves whenever a user
// becomes live or stops being live, which is exactly when offsets can
// shift; so an unchanged count means the page holds what the plain offset
// would, totalResults included. A moved count answers store.ErrStale: the
// list is dropped, the page is served by the plain offset, and the list is
// read again on a later deep request, at most once per checkpointRebuild
// per tenant, so a tenant under constant churn pays one pass over its
// index every few seconds, not one per request.
//
// Only unfiltered /Users pages in the default order (no sortBy, ascending)
// at offsets of at least checkpointEvery (ten pages of the default count;
// shallower offsets skip no more index entries than a page after a
// checkpoint may) use checkpoints; every other list keeps its plain query.

// checkpointEvery is the distance between two checkpoints: a deep page
// skips fewer than this many index entries, and a 1,000,000-user tenant
// keeps 1,000 ids. A variable only so that tests can shrink it.
var checkpointEvery = 1000

// Limits of the checkpoints.
const (
	// checkpointRebuild is the least time between two reads of one
	// tenant's checkpoints.
	checkpointRebuild = 5 * time.Second
	// checkpointTenants is how many tenants' checkpoints a process keeps;
	// beyond it the least recently used are forgotten.
	checkpointTenants = 256
)

// checkpointEntry is what a process knows of one tenant's checkpoints.
type checkpointEntry struct {
	cp      *store.Checkpoints // nil: none (not read yet, failed, or stale)
	read    time.Time          // when the last read started
	used    time.Time          // the last deep page that asked
	loading chan struct{}      // closed when the read in flight ends; nil when none is
}

// checkpointCache holds the checkpoints of one process, per tenant.
type checkpointCache struct {
	mu      sync.Mutex
	tenants map[string]*checkpointEntry
}

// get returns the tenant's checkpoints, reading them from st when the
// process has none and has not read them in the last checkpointRebuild;
// a request that finds a read in flight waits for it. It returns nil when
// there are none to use (the read failed, was too recent, or ctx ended
// while waiting).
func (c *checkpointCache) get(ctx context.Context, st store.Reader, tenantID string, now time.Time) *store.Checkpoints {
	c.mu.Lock()
	e := c.tenants[tenantID]
	if e == nil {
		if c.tenants == nil {
			c.tenants = map[string]*checkpointEntry{}
		}
		if len(c.tenants) >= checkpointTenants {
			c.evictLocked()
		}
		e = &checkpointEntry{}
		c.tenants[tenantID] = e
	}
	e.used = now
	switch {
	case e.cp != nil:
		cp := e.cp
		c.mu.Unlock()
		return cp
	case e.loading != nil:
		done := e.loading
		c.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return e.cp
	case !e.read.IsZero() && now.Sub(e.read) < checkpointRebuild:
		c.mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	e.read, e.loading = now, done
	c.mu.Unlock()
	cp, err := st.UserCheckpoints(ctx, tenantID, checkpointEvery)
	c.mu.Lock()
	defer c.mu.Unlock()
	e.loading = nil
	close(done)
	if err != nil {
		return nil
	}
	e.cp = &cp
	return e.cp
}

// evictLocked forgets the least recently used tenant whose read is not in
// flight (c.mu held).
func (c *checkpointCache) evictLocked() {
	var oldest string
	var at time.Time
	for id, e := range c.tenants {
		if e.loading == nil && (oldest == "" || e.used.Before(at)) {
			oldest, at = id, e.used
		}
	}
	if oldest != "" {
		delete(c.tenants, oldest)
	}
}

// stale drops the tenant's checkpoints if they are still the ones with
// that churn count (a newer read is kept).
func (c *checkpointCache) stale(tenantID string, churn int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.tenants[tenantID]; e != nil && e.cp != nil && e.cp.Churn == churn {
		e.cp = nil
	}
}

// deepPage reports whether an index page of rt with these parameters
// (and no walk mark) is served through the checkpoints.
func deepPage(rt *schemas.ResourceType, lp *listParams) bool {
	q := &lp.query
	return rt == schemas.User && q.Filter == nil && q.SortBy == "" && !q.Descending && q.After == nil &&
		q.Before == nil && q.Limit > 0 && q.Offset >= checkpointEvery
}

// indexPage runs page for an index-paged list request. A deep page of
// the default /Users order goes through the tenant's checkpoints: after
// the last checkpoint before the offset, on condition that the churn
// count is unchanged; when it has changed (store.ErrStale) the checkpoints
// are dropped and the page runs as the plain offset. The answer is the
// plain offset's either way. Errors are page's.
func (s *server) indexPage(r *http.Request, rt *schemas.ResourceType, lp listParams, page pageFunc) (pageMeta, []any, error) {
	if !deepPage(rt, &lp) {
		return page(r, lp)
	}
	tenantID := principal(r.Context()).TenantID
	cps := &s.walks.checkpoints
	cp := cps.get(r.Context(), s.cfg.Store, tenantID, s.cfg.Now())
	if cp == nil {
		return page(r, lp)
	}
	after, rest, ok := cp.Seek(lp.query.Offset)
	if !ok {
		return page(r, lp)
	}
	seek := lp
	seek.query.After, seek.query.Offset, seek.query.IfChurn = &store.Position{ID: after}, rest, &cp.Churn
	m, res, err := page(r, seek)
	if errors.Is(err, store.ErrStale) {
		cps.stale(tenantID, cp.Churn)
		return page(r, lp)
	}
	return m, res, err
}
