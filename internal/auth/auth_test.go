package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

type fakeTokens map[string]store.Token

func (f fakeTokens) TokenByHash(_ context.Context, h []byte) (store.Token, error) {
	t, ok := f[string(h)]
	if !ok {
		return store.Token{}, store.ErrNotFound
	}
	return t, nil
}

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	live, liveHash, _ := NewToken()
	revoked, revokedHash, _ := NewToken()
	expired, expiredHash, _ := NewToken()
	unknown, _, _ := NewToken()
	host, hostHash, _ := NewToken()
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	f := fakeTokens{
		string(liveHash):    {ID: "t1", TenantID: "ten", Hash: liveHash, OwnerID: "u1", Expires: &future},
		string(revokedHash): {ID: "t2", TenantID: "ten", Hash: revokedHash, Revoked: &past},
		string(expiredHash): {ID: "t3", TenantID: "ten", Hash: expiredHash, Expires: &past},
		string(hostHash):    {ID: "t4", TenantID: "ten", Hash: hostHash, Kind: store.TokenHost},
	}
	p, err := Authenticate(context.Background(), f, "Bearer "+live, store.TokenSCIM, now)
	if err != nil || p.TenantID != "ten" || p.TokenID != "t1" || p.OwnerID != "u1" || p.Kind != store.TokenSCIM {
		t.Fatalf("live token: %+v %v", p, err)
	}
	if _, err := Authenticate(context.Background(), f, "bearer  "+live, store.TokenSCIM, now); err != nil {
		t.Fatalf("scheme case: %v", err)
	}
	// Each kind of token works only where it belongs.
	if p, err := Authenticate(context.Background(), f, "Bearer "+host, store.TokenHost, now); err != nil || p.Kind != store.TokenHost {
		t.Fatalf("host token on the host API: %+v %v", p, err)
	}
	if _, err := Authenticate(context.Background(), f, "Bearer "+host, store.TokenSCIM, now); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("host token accepted for SCIM: %v", err)
	}
	if _, err := Authenticate(context.Background(), f, "Bearer "+live, store.TokenHost, now); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("SCIM token accepted for the host API: %v", err)
	}
	for name, h := range map[string]string{
		"revoked": "Bearer " + revoked, "expired": "Bearer " + expired, "unknown": "Bearer " + unknown,
		"empty": "", "no scheme": live, "basic": "Basic " + live, "non-token": "non-token",
		"no prefix": "Bearer " + strings.TrimPrefix(live, TokenPrefix), "huge": "Bearer " + TokenPrefix + strings.Repeat("a", 500),
	} {
		if _, err := Authenticate(context.Background(), f, h, store.TokenSCIM, now); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: got %v, want ErrUnauthorized", name, err)
		}
	}
}

func TestNewToken(t *testing.T) {
	a, ha, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := NewToken()
	if a == b || !strings.HasPrefix(a, TokenPrefix) || len(a) != len(TokenPrefix)+43 || string(ha) != string(Hash(a)) {
		t.Fatalf("tokens %q %q", a, b)
	}
}

func TestPassword(t *testing.T) {
	h, err := HashPassword("s3cret!")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "s3cret") || !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(h, "s3cret!") || CheckPassword(h, "s3cret") || CheckPassword("garbage", "s3cret!") {
		t.Fatal("CheckPassword")
	}
}
