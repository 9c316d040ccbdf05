package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/store"
)

// maxCached bounds a Cache; when it is full the cache starts over empty.
const maxCached = 10000

// Cache is a TokenReader that remembers the tokens its store found, by
// hash, for a short time, so that a client sending a stream of requests
// costs one token look-up per TTL instead of one per request. Only found
// tokens are remembered (a token created a moment ago works at once); the
// price is that a revocation, an expiry change or a tenant policy change
// made by another process reaches requests up to TTL later. Expiry itself
// is still checked on every request by Authenticate. Forget (one cache) and
// ForgetTokens (every cache of the process) drop what is remembered at
// once, for revocations made through the same process (provision.RevokeToken
// calls ForgetTokens). It is safe for
// concurrent use.
type Cache struct {
	r   TokenReader
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	tok store.Token
	at  time.Time
	gen uint64 // generation when it was read
}

// generation counts the calls of ForgetTokens in this process.
var generation atomic.Uint64

// ForgetTokens makes every Cache of the process forget every token it
// remembers, so that a token revoked (or changed) by this process is read
// again, and refused, on its very next request. provision.RevokeToken calls
// it after a revocation; other processes see a revocation within their cache's TTL.
func ForgetTokens() { generation.Add(1) }

// NewCache returns a Cache over r that keeps each token for ttl by the clock
// now (time.Now when nil). A ttl of zero or less remembers nothing.
func NewCache(r TokenReader, ttl time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{r: r, ttl: ttl, now: now, m: map[string]cached{}}
}

// TokenByHash returns the remembered token for hash when it was read less
// than TTL ago, else reads it from the store. It returns the store's errors
// (store.ErrNotFound for an unknown token) unchanged.
func (c *Cache) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	if c.ttl <= 0 {
		return c.r.TokenByHash(ctx, hash)
	}
	key := string(hash)
	now := c.now()
	gen := generation.Load()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && e.gen == gen && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
		return e.tok, nil
	}
	t, err := c.r.TokenByHash(ctx, hash)
	if err != nil {
		c.mu.Lock()
		delete(c.m, key)
		c.mu.Unlock()
		return t, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCached {
		clear(c.m)
	}
	c.m[key] = cached{tok: t, at: now, gen: gen}
	c.mu.Unlock()
	return t, nil
}

// Forget drops every remembered token, so that the next request of each
// reads its token again.
func (c *Cache) Forget() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
