package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// TestForgetTokensReachesEveryCache: a revocation made in this process
// (ForgetTokens) is seen by every cache of the process on its next
// look-up, well within the TTL.
func TestForgetTokensReachesEveryCache(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tok, h, _ := NewToken()
	src := &countingTokens{toks: fakeTokens{string(h): {ID: "t1", TenantID: "ten", Hash: h}}}
	a, b := NewCache(src, time.Hour, clock), NewCache(src, time.Hour, clock)
	for _, c := range []*Cache{a, b} {
		if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); err != nil {
			t.Fatal(err)
		}
	}
	revoked := now
	src.set(h, store.Token{ID: "t1", TenantID: "ten", Hash: h, Revoked: &revoked})
	ForgetTokens()
	for i, c := range []*Cache{a, b} {
		if _, err := Authenticate(ctx, c, "Bearer "+tok, store.TokenSCIM, now); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("cache %d after ForgetTokens: %v, want ErrUnauthorized", i, err)
		}
	}
	if src.reads != 4 {
		t.Fatalf("%d store reads, want 4 (two per cache)", src.reads)
	}
}
