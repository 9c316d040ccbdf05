package provision

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/scimd/scimd/internal/auth"
	"github.com/scimd/scimd/store"
)

var tenantName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ErrInvalid wraps admin input errors (a bad tenant name, an owner that is
// not an admin); the message is meant for the operator.
var ErrInvalid = errors.New("invalid")

// CreateTenant creates a tenant with default policy. A malformed name wraps
// ErrInvalid; a taken name is store.ErrConflict.
func (s *Service) CreateTenant(ctx context.Context, a Actor, name string) (store.Tenant, error) {
	if !tenantName.MatchString(name) {
		return store.Tenant{}, fmt.Errorf("%w: tenant name %q: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, name)
	}
	t := store.Tenant{ID: newID(), Name: name, Policy: []byte("{}"), Created: s.clock()}
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &t); err != nil {
			return err
		}
		a.TenantID = t.ID
		return s.record(ctx, tx, a, t.Created, "tenant.create", "Tenant", t.ID, 201, nil, nil)
	})
	if err != nil {
		return store.Tenant{}, err
	}
	return t, nil
}

// TokenSpec says what token to create.
type TokenSpec struct {
	TenantID string
	// OwnerUserName names an existing admin or owner of the tenant the
	// token belongs to; "" for none.
	OwnerUserName string
	// TTL is how long the token lives; 0 means it does not expire.
	TTL time.Duration
}

// CreateToken issues a token and returns the secret, which exists nowhere
// else: only its hash is stored. An owner that does not exist or is not an
// admin or owner wraps ErrInvalid.
func (s *Service) CreateToken(ctx context.Context, a Actor, spec TokenSpec) (string, store.Token, error) {
	secret, hash, err := auth.NewToken()
	if err != nil {
		return "", store.Token{}, err
	}
	now := s.clock()
	t := store.Token{ID: newID(), TenantID: spec.TenantID, Hash: hash, Created: now}
	if spec.TTL > 0 {
		exp := now.Add(spec.TTL)
		t.Expires = &exp
	}
	err = s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if spec.OwnerUserName != "" {
			u, err := tx.GetUserByUserName(ctx, spec.TenantID, spec.OwnerUserName)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: no user %q in this tenant", ErrInvalid, spec.OwnerUserName)
			}
			if err != nil {
				return err
			}
			if u.Role != store.RoleAdmin && u.Role != store.RoleOwner {
				return fmt.Errorf("%w: %s has the role %s; a token owner must be an admin or the owner", ErrInvalid, u.UserName, u.Role)
			}
			t.OwnerID = u.ID
		}
		if err := tx.CreateToken(ctx, &t); err != nil {
			return err
		}
		a.TenantID = spec.TenantID
		return s.record(ctx, tx, a, now, "token.create", "Token", t.ID, 201, nil, nil)
	})
	if err != nil {
		return "", store.Token{}, err
	}
	return secret, t, nil
}

// RevokeToken revokes a token by id; revoking twice keeps the first time.
// An unknown id is store.ErrNotFound.
func (s *Service) RevokeToken(ctx context.Context, a Actor, tokenID string) error {
	return s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		now := s.clock()
		if err := tx.RevokeToken(ctx, tokenID, now); err != nil {
			return err
		}
		return nil
	})
}
