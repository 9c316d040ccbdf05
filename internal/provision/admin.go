package provision

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/auth"
	"github.com/scimd/scimd/internal/policy"
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
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
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
	// Kind is store.TokenSCIM (the default when "") or store.TokenHost.
	Kind string
}

// CreateToken issues a token and returns the secret, which exists nowhere
// else: only its hash is stored. An owner that does not exist or is not an
// admin or owner wraps ErrInvalid.
func (s *Service) CreateToken(ctx context.Context, a Actor, spec TokenSpec) (string, store.Token, error) {
	secret, hash, err := auth.NewToken()
	if err != nil {
		return "", store.Token{}, err
	}
	switch spec.Kind {
	case "":
		spec.Kind = store.TokenSCIM
	case store.TokenSCIM, store.TokenHost:
	default:
		return "", store.Token{}, fmt.Errorf("%w: token kind %q: use %s or %s", ErrInvalid, spec.Kind, store.TokenSCIM, store.TokenHost)
	}
	if spec.Kind == store.TokenHost && spec.OwnerUserName != "" {
		return "", store.Token{}, fmt.Errorf("%w: host tokens belong to the host product, not to a user; drop --owner", ErrInvalid)
	}
	now := s.clock()
	t := store.Token{ID: newID(), TenantID: spec.TenantID, Kind: spec.Kind, Hash: hash, Created: now}
	if spec.TTL > 0 {
		exp := now.Add(spec.TTL)
		t.Expires = &exp
	}
	err = s.update(ctx, func(ctx context.Context, tx store.Tx) error {
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
		a.TenantID = spec.TenantID
		return "", store.Token{}, s.failed(ctx, a, err, "token.create", "Token", "")
	}
	return secret, t, nil
}

// RevokeToken revokes a token by id; revoking twice keeps the first time.
// An actor bound to a tenant (a.TenantID set) revokes only that tenant's
// tokens; the CLI's actor revokes any. An unknown id, or another tenant's,
// is store.ErrNotFound. Once it has committed, every token cache of this
// process forgets what it remembers (auth.ForgetTokens), so the revoked
// token is refused on its next request here; other processes refuse it
// within their cache's TTL.
func (s *Service) RevokeToken(ctx context.Context, a Actor, tokenID string) error {
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		tenantID, err := tokenTenant(ctx, tx, a.TenantID, tokenID)
		if err != nil {
			return err
		}
		now := s.clock()
		if err := tx.RevokeToken(ctx, tokenID, now); err != nil {
			return err
		}
		a.TenantID = tenantID
		return s.record(ctx, tx, a, now, "token.revoke", "Token", tokenID, 200, []string{"revoked"}, nil)
	})
	if err == nil {
		auth.ForgetTokens()
	}
	return err
}

// tokenTenant finds the tenant of a token by id among the tokens of
// tenantID, or of every tenant when tenantID is "" (tokens are few), or
// returns store.ErrNotFound.
func tokenTenant(ctx context.Context, r store.Reader, tenantID, tokenID string) (string, error) {
	tenants := []string{tenantID}
	if tenantID == "" {
		ts, err := r.ListTenants(ctx)
		if err != nil {
			return "", err
		}
		tenants = tenants[:0]
		for _, t := range ts {
			tenants = append(tenants, t.ID)
		}
	}
	for _, t := range tenants {
		toks, err := r.ListTokens(ctx, t)
		if err != nil {
			return "", err
		}
		for _, k := range toks {
			if k.ID == tokenID {
				return t, nil
			}
		}
	}
	return "", store.ErrNotFound
}

// SetTenantPolicy changes a tenant's lifecycle settings: preset ("" keeps
// the current settings) is applied first, then every key=value of sets in
// order. The result must validate. It returns the new effective settings.
// Errors: store.ErrNotFound for an unknown tenant; an unknown preset or
// key, a malformed key=value or an invalid result wraps ErrInvalid with a
// message that names the valid choices.
func (s *Service) SetTenantPolicy(ctx context.Context, a Actor, tenantName, preset string, sets []string) (policy.Settings, error) {
	var out policy.Settings
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		t, err := tx.GetTenantByName(ctx, tenantName)
		if err != nil {
			return err
		}
		if _, err := tx.LockTenant(ctx, t.ID); err != nil {
			return err
		}
		cur, err := policy.Parse(t.Policy)
		if err != nil {
			return err
		}
		if preset != "" {
			if cur, err = policy.Preset(preset); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
		}
		for _, kv := range sets {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%w: %q is not key=value; settings are %s", ErrInvalid, kv, strings.Join(policy.Keys(), ", "))
			}
			if err := cur.Set(k, v); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
		}
		if err := cur.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if err := tx.UpdateTenantPolicy(ctx, t.ID, cur.Encode()); err != nil {
			return err
		}
		out = cur
		a.TenantID = t.ID
		return s.record(ctx, tx, a, s.clock(), "tenant.policy", "Tenant", t.ID, 200, []string{"policy"}, nil)
	})
	if err != nil {
		if t, terr := s.store.GetTenantByName(ctx, tenantName); terr == nil {
			a.TenantID = t.ID
			return out, s.failed(ctx, a, err, "tenant.policy", "Tenant", t.ID)
		}
	}
	return out, err
}

// Seats are a tenant's licensed seats and their use.
type Seats struct {
	Licensed int  `json:"licensed"` // 0 means unlimited
	Used     int  `json:"used"`
	Free     *int `json:"free"` // nil when unlimited
}

// TenantStatus is a tenant with its effective policy and seat use.
type TenantStatus struct {
	Tenant   store.Tenant
	Settings policy.Settings
	Seats    Seats
	Users    map[store.UserState]int
	// Brake is the tenant's mass-deprovisioning brake state.
	Brake store.Brake
}

// Status returns a tenant's effective policy, seat use and brake state. Errors:
// store.ErrNotFound for an unknown tenant name.
func (s *Service) Status(ctx context.Context, tenantName string) (TenantStatus, error) {
	t, err := s.store.GetTenantByName(ctx, tenantName)
	if err != nil {
		return TenantStatus{}, err
	}
	settings, err := policy.Parse(t.Policy)
	if err != nil {
		return TenantStatus{}, err
	}
	st := TenantStatus{Tenant: t, Settings: settings, Users: map[store.UserState]int{}}
	for _, state := range []store.UserState{store.StateActive, store.StateInactive, store.StateDeleted} {
		if st.Users[state], err = s.store.CountUsers(ctx, t.ID, state); err != nil {
			return TenantStatus{}, err
		}
	}
	used, err := seatsUsed(ctx, s.store, t.ID, settings)
	if err != nil {
		return TenantStatus{}, err
	}
	if st.Brake, err = s.store.GetBrake(ctx, t.ID); err != nil {
		return TenantStatus{}, err
	}
	st.Seats = Seats{Licensed: settings.Seats, Used: used}
	if settings.Seats > 0 {
		free := max(settings.Seats-used, 0)
		st.Seats.Free = &free
	}
	return st, nil
}
