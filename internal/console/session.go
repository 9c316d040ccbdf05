package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/auth"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// LoginLinkTTL is how long a sign-in link printed by IssueLoginLink works.
const LoginLinkTTL = 10 * time.Minute

// cookieName is the session cookie; its value is the session secret.
const cookieName = "scimd_console"

// ErrNotAdmin is returned by IssueLoginLink for a user who may not sign in
// to the console: not an admin or owner, or not active.
var ErrNotAdmin = errors.New("console: only an active admin or owner of the tenant can sign in to the console")

// IssueLoginLink creates a one-time sign-in link for the live, active admin
// or owner userName of the tenant tenantName and returns its URL under
// baseURL (e.g. "https://scim.example.com"), valid for LoginLinkTTL. The
// issue is audited as "console.login_link" by actor. Errors:
// store.ErrNotFound for an unknown tenant or user, ErrNotAdmin, and the
// store's.
func IssueLoginLink(ctx context.Context, s store.Store, svc *provision.Service, actor provision.Actor, tenantName, userName, baseURL string, now time.Time) (string, error) {
	t, err := s.GetTenantByName(ctx, tenantName)
	if err != nil {
		return "", fmt.Errorf("tenant %q: %w", tenantName, err)
	}
	u, err := s.GetUserByUserName(ctx, t.ID, userName)
	if err != nil {
		return "", fmt.Errorf("user %q: %w", userName, err)
	}
	if !MayUseConsole(&u) {
		return "", ErrNotAdmin
	}
	secret, hash, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	now = now.UTC().Truncate(store.TimePrecision)
	err = s.CreateConsoleSecret(ctx, &store.ConsoleSecret{
		ID: uuid.Must(uuid.NewV7()).String(), TenantID: t.ID, UserID: u.ID, Kind: store.ConsoleLogin,
		Hash: hash, Created: now, Expires: now.Add(LoginLinkTTL),
	})
	if err != nil {
		return "", err
	}
	actor.TenantID = t.ID
	svc.AuditAttempt(ctx, actor, "console.login_link", "User", u.ID, http.StatusOK)
	return strings.TrimRight(baseURL, "/") + Prefix + "/login#" + secret, nil
}

// MayUseConsole reports whether a live user may sign in to the console
// and stay signed in: an active admin or owner.
func MayUseConsole(u *store.User) bool {
	return u.Active && (u.Role == store.RoleAdmin || u.Role == store.RoleOwner)
}

// sessionInfo is the signed-in admin of a request.
type sessionInfo struct {
	hash   []byte
	tenant store.Tenant
	user   store.User
	csrf   string
}

// UserName and TenantName are what the page header shows.
func (s *sessionInfo) UserName() string   { return s.user.UserName }
func (s *sessionInfo) UserID() string     { return s.user.ID }
func (s *sessionInfo) TenantName() string { return s.tenant.Name }

type sessionKey struct{}

func sessionOf(ctx context.Context) *sessionInfo {
	s, _ := ctx.Value(sessionKey{}).(*sessionInfo)
	return s
}

// session admits requests with a live session of an admin or owner who is
// still live and active; others go to the sign-in page (GET) or are
// refused (other methods). A POST must carry the session's CSRF token.
func (c *console) session(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.lookup(r)
		if err != nil {
			c.internal(w, r, err)
			return
		}
		if s == nil {
			clearCookie(w, r)
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
				return
			}
			c.fail(w, r, http.StatusUnauthorized, "error.signedOut", nil)
			return
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, s)
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost && !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) {
			c.fail(w, r, http.StatusForbidden, "error.csrf", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// lookup returns the request's session, nil when it has none that is
// still good.
func (c *console) lookup(r *http.Request) (*sessionInfo, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	hash := auth.Hash(ck.Value)
	ctx := r.Context()
	sec, err := c.cfg.Store.ConsoleSessionByHash(ctx, hash, c.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := c.cfg.Store.GetTenant(ctx, sec.TenantID)
	if err != nil {
		return nil, notFoundIsNil(err)
	}
	u, err := c.cfg.Store.GetUser(ctx, sec.TenantID, sec.UserID)
	if err != nil {
		return nil, notFoundIsNil(err)
	}
	if !MayUseConsole(&u) {
		return nil, nil
	}
	key, err := c.csrf.Get(ctx, c.cfg.Store, "console-csrf")
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(hash)
	return &sessionInfo{hash: hash, tenant: t, user: u, csrf: base64.RawURLEncoding.EncodeToString(m.Sum(nil))}, nil
}

func notFoundIsNil(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// loginPage shows the sign-in form. The link's secret travels in the
// URL's fragment, which browsers never send to a server or put in a
// Referer: the page's script copies it into the form (without script the
// admin pastes it).
func (c *console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "login", page{})
}

// login consumes a sign-in link and starts a session.
func (c *console) login(w http.ResponseWriter, r *http.Request) {
	// The field takes the secret or the whole link pasted.
	secret := strings.TrimSpace(r.PostFormValue("token"))
	secret = secret[strings.LastIndex(secret, "#")+1:]
	now := c.cfg.Now()
	if secret == "" {
		c.loginFailed(w, r)
		return
	}
	link, err := c.cfg.Store.ConsumeConsoleLogin(r.Context(), auth.Hash(secret), now)
	if errors.Is(err, store.ErrNotFound) {
		c.loginFailed(w, r)
		return
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	u, err := c.cfg.Store.GetUser(r.Context(), link.TenantID, link.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !MayUseConsole(&u) {
		c.loginFailed(w, r)
		return
	}
	if err != nil {
		c.internal(w, r, err)
		return
	}
	sessionSecret, hash, err := auth.NewToken()
	if err != nil {
		c.internal(w, r, err)
		return
	}
	created := now.UTC().Truncate(store.TimePrecision)
	err = c.cfg.Store.CreateConsoleSecret(r.Context(), &store.ConsoleSecret{
		ID: uuid.Must(uuid.NewV7()).String(), TenantID: link.TenantID, UserID: u.ID, Kind: store.ConsoleSession,
		Hash: hash, Created: created, Expires: created.Add(c.cfg.SessionTTL),
	})
	if err != nil {
		c.internal(w, r, err)
		return
	}
	// Sign-ins are rare: each clears the links and sessions that expired.
	if _, err := c.cfg.Store.PurgeConsoleSecrets(r.Context(), now); err != nil {
		c.cfg.Log.WarnContext(r.Context(), "purging expired console sessions failed", "request_id", c.cfg.RequestID(r.Context()), "err", err)
	}
	c.cfg.Provision.AuditAttempt(r.Context(), provision.Actor{
		TenantID: link.TenantID, Name: "console:" + u.ID, RequestID: c.cfg.RequestID(r.Context()), Client: r.UserAgent(),
	}, "console.signin", "User", u.ID, http.StatusOK)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: sessionSecret, Path: Prefix, HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.cfg.SessionTTL / time.Second),
	})
	http.Redirect(w, r, Prefix+"/users", http.StatusSeeOther)
}

func (c *console) loginFailed(w http.ResponseWriter, r *http.Request) {
	t := translator(language(r))
	c.render(w, r, http.StatusUnauthorized, "login", page{Problem: &problem{Title: t("login.failed"), Detail: t("login.failedDetail")}})
}

// logout ends the session everywhere (its row is deleted).
func (c *console) logout(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r.Context())
	if err := c.cfg.Store.DeleteConsoleSecret(r.Context(), s.hash); err != nil {
		c.internal(w, r, err)
		return
	}
	c.cfg.Provision.AuditAttempt(r.Context(), c.actor(r), "console.signout", "User", s.user.ID, http.StatusOK)
	clearCookie(w, r)
	t := translator(language(r))
	c.render(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, (*sessionInfo)(nil))), http.StatusOK, "login", page{Notice: t("login.signedOut")})
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// secure reports whether the request came over HTTPS (directly or, per
// X-Forwarded-Proto, through a proxy), so the cookie is marked Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}
