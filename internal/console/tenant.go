package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// DeadShown is how many dead deliveries the tenant page lists.
const DeadShown = 50

type tokenRow struct {
	store.Token
	Owner string
	Live  bool
}

type tenantData struct {
	Status     provision.TenantStatus
	Counts     map[string]int // users by state
	Policy     []policyRow
	Tokens     []tokenRow
	Webhooks   []store.Webhook
	Deliveries map[string]int
	Dead       []store.Delivery
	NewToken   string
	NewTokenID string
	Assign     []string
}

type policyRow struct {
	Key, Value string
}

// tenant is the tenant page: seats, the effective policy, tokens,
// webhooks and event delivery.
func (c *console) tenant(w http.ResponseWriter, r *http.Request) {
	c.renderTenant(w, r, http.StatusOK, tenantData{}, nil)
}

func (c *console) renderTenant(w http.ResponseWriter, r *http.Request, status int, d tenantData, pr *problem) {
	s := sessionOf(r.Context())
	ctx := r.Context()
	var err error
	if d.Status, err = c.cfg.Provision.Status(ctx, s.tenant.Name); err != nil {
		c.internal(w, r, err)
		return
	}
	d.Counts = map[string]int{}
	for state, n := range d.Status.Users {
		d.Counts[string(state)] = n
	}
	d.Policy, err = policyRows(d.Status)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	toks, err := c.cfg.Store.ListTokens(ctx, s.tenant.ID)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	now := c.cfg.Now()
	for _, t := range toks {
		row := tokenRow{Token: t, Live: t.Live(now)}
		if t.OwnerID != "" {
			if u, err := c.cfg.Store.GetUser(ctx, s.tenant.ID, t.OwnerID); err == nil {
				row.Owner = u.UserName
			} else if !errors.Is(err, store.ErrNotFound) {
				c.internal(w, r, err)
				return
			}
		}
		d.Tokens = append(d.Tokens, row)
	}
	if d.Webhooks, err = c.cfg.Store.ListWebhooks(ctx, s.tenant.ID); err != nil {
		c.internal(w, r, err)
		return
	}
	if d.Deliveries, err = c.cfg.Store.CountDeliveries(ctx, s.tenant.ID); err != nil {
		c.internal(w, r, err)
		return
	}
	if d.Dead, err = c.cfg.Store.ListDeliveries(ctx, s.tenant.ID, store.DeliveryDead, DeadShown); err != nil {
		c.internal(w, r, err)
		return
	}
	c.render(w, r, status, "tenant", page{Data: d, Problem: pr})
}

// policyRows lists the effective settings in the order of their JSON
// document (the names docs/policy.md and `scimd tenant policy` use).
func policyRows(st provision.TenantStatus) ([]policyRow, error) {
	b, err := json.Marshal(st.Settings)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var rows []policyRow
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		rows = append(rows, policyRow{Key: k.(string), Value: string(v)})
	}
	return rows, nil
}

// createToken issues a SCIM or host token; its secret is shown once, on
// the page this answers.
func (c *console) createToken(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r.Context())
	t := translator(language(r))
	spec := provision.TokenSpec{TenantID: s.tenant.ID, Kind: r.PostFormValue("kind"), OwnerUserName: r.PostFormValue("owner")}
	if spec.Kind != store.TokenSCIM && spec.Kind != store.TokenHost {
		c.renderTenant(w, r, http.StatusBadRequest, tenantData{}, &problem{Title: t("problem.invalid"), Detail: t("token.kind")})
		return
	}
	if days := r.PostFormValue("days"); days != "" {
		d, err := time.ParseDuration(days + "h")
		if err != nil || d <= 0 || d > 3650*time.Hour {
			c.renderTenant(w, r, http.StatusBadRequest, tenantData{}, &problem{Title: t("problem.invalid"), Detail: t("token.daysInvalid")})
			return
		}
		spec.TTL = d * 24
	}
	secret, tok, err := c.cfg.Provision.CreateToken(r.Context(), c.actor(r), spec)
	if err != nil {
		c.changeFailed(w, r, err)
		return
	}
	c.renderTenant(w, r, http.StatusOK, tenantData{NewToken: secret, NewTokenID: tok.ID}, nil)
}

// revokeToken revokes a token of the session's tenant.
func (c *console) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := c.cfg.Provision.RevokeToken(r.Context(), c.actor(r), chi.URLParam(r, "id")); err != nil {
		c.changeFailed(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/tenant#tokens", http.StatusSeeOther)
}

// retryEvent queues the dead deliveries of an event again.
func (c *console) retryEvent(w http.ResponseWriter, r *http.Request) {
	if _, err := c.cfg.Provision.RetryEvent(r.Context(), c.actor(r), chi.URLParam(r, "id")); err != nil {
		c.changeFailed(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/tenant#events", http.StatusSeeOther)
}

func (c *console) changeFailed(w http.ResponseWriter, r *http.Request, err error) {
	t := translator(language(r))
	pr, status, ok := outcome(t, err)
	if !ok {
		c.internal(w, r, err)
		return
	}
	c.renderTenant(w, r, status, tenantData{}, pr)
}
