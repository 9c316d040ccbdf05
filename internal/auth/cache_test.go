package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// countingTokens is a token store that counts its look-ups.
type countingTokens struct {
	mu    sync.Mutex
	toks  fakeTokens
	reads int
}

func (c *countingTokens) TokenByHash(ctx context.Context, h []byte) (store.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.toks.TokenByHash(ctx, h)
}

func (c *countingTokens) set(h []byte, t store.Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.toks[string(h)] = t
}

func TestCacheRemembersForTTL(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tok, h, _ := NewToken()
	src := &countingTokens{toks: fakeTokens{string(h): {ID: "t1", TenantID: "ten", Hash: h}}}
	c := NewCache(src, 2*time.Second, clock)

	for range 5 {
		if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); err != nil {
			t.Fatal(err)
		}
	}
	if src.reads != 1 {
		t.Fatalf("5 requests within the TTL read the store %d times, want 1", src.reads)
	}

	// Revoked by another process: still trusted until the TTL has passed.
	revoked := now
	src.set(h, store.Token{ID: "t1", TenantID: "ten", Hash: h, Revoked: &revoked})
	now = now.Add(1999 * time.Millisecond)
	if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); err != nil {
		t.Fatalf("within the TTL: %v", err)
	}
	now = now.Add(time.Millisecond)
	if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("after the TTL the revocation must count: %v", err)
	}
	if src.reads != 2 {
		t.Fatalf("reads = %d, want 2", src.reads)
	}
}

func TestCacheChecksExpiryEveryRequest(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expires := now.Add(time.Second)
	tok, h, _ := NewToken()
	src := &countingTokens{toks: fakeTokens{string(h): {ID: "t1", TenantID: "ten", Hash: h, Expires: &expires}}}
	c := NewCache(src, time.Minute, func() time.Time { return now })
	if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); err != nil {
		t.Fatal(err)
	}
	if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now.Add(time.Second)); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("an expired token must be refused even from the cache: %v", err)
	}
}

func TestCacheDoesNotRememberMisses(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, h, _ := NewToken()
	src := &countingTokens{toks: fakeTokens{}}
	c := NewCache(src, time.Minute, func() time.Time { return now })
	if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("unknown token: %v", err)
	}
	src.set(h, store.Token{ID: "t1", TenantID: "ten", Hash: h})
	if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); err != nil {
		t.Fatalf("a token created after a miss must work at once: %v", err)
	}
	c.Forget()
	if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); err != nil {
		t.Fatal(err)
	}
	if src.reads != 3 {
		t.Fatalf("reads = %d, want 3 (miss, hit, after Forget)", src.reads)
	}
}

func TestCacheZeroTTLReadsEveryTime(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, h, _ := NewToken()
	src := &countingTokens{toks: fakeTokens{string(h): {ID: "t1", TenantID: "ten", Hash: h}}}
	c := NewCache(src, 0, nil)
	for range 3 {
		if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); err != nil {
			t.Fatal(err)
		}
	}
	if src.reads != 3 {
		t.Fatalf("reads = %d, want 3", src.reads)
	}
}
