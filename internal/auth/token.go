package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// TokenPrefix starts every token scimd issues.
const TokenPrefix = "scimd_"

// ErrUnauthorized means the presented token is missing, malformed, unknown,
// revoked or expired. Callers answer 401 without saying which.
var ErrUnauthorized = errors.New("auth: unauthorized")

// NewToken returns a fresh random token and its SHA-256 hash, the only form
// that is stored. It fails only if the system's random source does.
func NewToken() (token string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, Hash(token), nil
}

// Hash returns the SHA-256 of a token.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Principal is who is calling: the tenant and token a request acts as.
type Principal struct {
	TenantID string
	TokenID  string
	// OwnerID is the admin user the token belongs to, or "".
	OwnerID string
	// Kind is the token's kind (store.TokenSCIM or store.TokenHost).
	Kind string
	// TenantPolicy is the tenant's policy document, read with the token.
	TenantPolicy []byte
}

// TokenReader is the store method Authenticate needs.
type TokenReader interface {
	TokenByHash(ctx context.Context, hash []byte) (store.Token, error)
}

// Authenticate resolves an Authorization header value ("Bearer <token>",
// scheme case-insensitive) to a principal of the given token kind
// (store.TokenSCIM or store.TokenHost). It returns ErrUnauthorized for a
// missing, malformed, unknown, revoked or expired token and for a token of
// another kind, and the store's error when the look-up itself fails.
func Authenticate(ctx context.Context, r TokenReader, header, kind string, now time.Time) (Principal, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(tok, TokenPrefix) || len(tok) > 128 {
		return Principal{}, ErrUnauthorized
	}
	h := Hash(tok)
	t, err := r.TokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, err
	}
	tk := t.Kind
	if tk == "" {
		tk = store.TokenSCIM
	}
	if subtle.ConstantTimeCompare(t.Hash, h) != 1 || !t.Live(now) || tk != kind {
		return Principal{}, ErrUnauthorized
	}
	return Principal{TenantID: t.TenantID, TokenID: t.ID, OwnerID: t.OwnerID, Kind: tk, TenantPolicy: t.TenantPolicy}, nil
}
