package auth

import (
	"context"
	"sync"
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
// is still checked on every request by Authenticate. Forget drops a token
// at once, for revocations made through the same process. It is safe for
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
}

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
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
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
	c.m[key] = cached{tok: t, at: now}
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
