package provision

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/store"
)

// AuditMark tells the layer that answers a request whether the service
// already left the request's audit entry, so that it adds one only for
// requests that never reached a recorded outcome (bad input, a missing
// resource, a failed commit, a change that changed nothing).
type AuditMark struct {
	recorded atomic.Bool // a success entry was written in the change's transaction
	refused  atomic.Bool // a refusal entry was committed
}

type markKey struct{}

// WithAuditMark returns ctx carrying a new mark that the service's
// methods set as they write audit entries.
func WithAuditMark(ctx context.Context) (context.Context, *AuditMark) {
	m := &AuditMark{}
	return context.WithValue(ctx, markKey{}, m), m
}

// Handled reports whether the request whose answer has the given status
// already has its audit entry: a success written with its change, or a
// committed refusal.
func (m *AuditMark) Handled(status int) bool {
	if status < 400 {
		return m.recorded.Load()
	}
	return m.refused.Load()
}

func markOf(ctx context.Context) *AuditMark {
	m, _ := ctx.Value(markKey{}).(*AuditMark)
	return m
}

// AuditAttempt leaves the audit entry of a request that did not record
// its own outcome: status is what the caller answered. It writes in a
// transaction of its own and outlives the request's cancellation; a
// failure to write is logged with the request id, not returned. Without a
// tenant (a request that could not be attributed to one) it only logs.
func (s *Service) AuditAttempt(ctx context.Context, a Actor, op, rtype, id string, status int) {
	if isDryRun(ctx) {
		return
	}
	if a.TenantID == "" {
		s.log.WarnContext(ctx, "unattributed change attempt not audited", "request_id", a.RequestID, "op", op, "status", status)
		return
	}
	ctx = context.WithoutCancel(ctx)
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, &store.AuditEntry{
			ID: newID(), TenantID: a.TenantID, At: s.clock(), Actor: a.Name, RequestID: a.RequestID,
			Client: a.Client, Operation: op, ResourceType: rtype, ResourceID: id, Status: status,
		})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "audit of a change attempt failed", "request_id", a.RequestID, "op", op, "err", err)
	}
}

// failed leaves the audit entry of a CLI or host change that failed for a
// reason other than the policy (refusals have theirs) and returns err
// unchanged.
func (s *Service) failed(ctx context.Context, a Actor, err error, op, rtype, id string) error {
	var v *policy.Violation
	if err == nil || errors.As(err, &v) {
		return err
	}
	s.AuditAttempt(ctx, a, op, rtype, id, statusOf(err))
	return err
}

// statusOf is the HTTP-like status the audit trail records for a failure.
func statusOf(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 404
	case errors.Is(err, store.ErrConflict):
		return 409
	case errors.Is(err, store.ErrPrecondition):
		return 412
	case errors.Is(err, ErrInvalid):
		return 400
	}
	return 500
}

// CreateWebhook registers url for the tenant's events and returns the
// signing secret (shown once; the receiver verifies with it) with the
// webhook. Errors: ErrInvalid (wrapped) for a URL that is not absolute http or
// https without credentials, a *store.ConflictError for a URL the tenant
// already has, or the store's.
func (s *Service) CreateWebhook(ctx context.Context, a Actor, rawURL string) (string, store.Webhook, error) {
	if err := checkWebhookURL(rawURL); err != nil {
		return "", store.Webhook{}, s.failed(ctx, a, err, "webhook.create", "Webhook", "")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", store.Webhook{}, err
	}
	secret := "whsec_" + base64.RawURLEncoding.EncodeToString(b)
	w := store.Webhook{ID: newID(), TenantID: a.TenantID, URL: rawURL, Secret: []byte(secret), Created: s.clock()}
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateWebhook(ctx, &w); err != nil {
			return err
		}
		return s.record(ctx, tx, a, w.Created, "webhook.create", "Webhook", w.ID, 201, []string{"url"}, nil)
	})
	if err != nil {
		return "", store.Webhook{}, s.failed(ctx, a, err, "webhook.create", "Webhook", "")
	}
	w.Secret = nil
	return secret, w, nil
}

func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: webhook URL %q: use an absolute http:// or https:// URL", ErrInvalid, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w: webhook URL: put no credentials in the URL; verify the signature instead", ErrInvalid)
	}
	if strings.Contains(u.Host, " ") {
		return fmt.Errorf("%w: webhook URL %q: malformed host", ErrInvalid, raw)
	}
	return nil
}

// DeleteWebhook removes a webhook of the actor's tenant and its pending
// deliveries. Errors: store.ErrNotFound, or the store's.
func (s *Service) DeleteWebhook(ctx context.Context, a Actor, id string) error {
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.DeleteWebhook(ctx, a.TenantID, id); err != nil {
			return err
		}
		return s.record(ctx, tx, a, s.clock(), "webhook.delete", "Webhook", id, 204, nil, nil)
	})
	return s.failed(ctx, a, err, "webhook.delete", "Webhook", id)
}

// RetryEvent puts the dead deliveries of an event of the actor's tenant
// back in the queue and returns how many. Errors: store.ErrNotFound when
// the event has no dead delivery, or the store's.
func (s *Service) RetryEvent(ctx context.Context, a Actor, eventID string) (int, error) {
	var n int
	err := s.update(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		now := s.clock()
		if n, err = tx.RetryDeliveries(ctx, a.TenantID, eventID, now); err != nil {
			return err
		}
		return s.record(ctx, tx, a, now, "event.retry", "Event", eventID, 200, nil, nil)
	})
	return n, s.failed(ctx, a, err, "event.retry", "Event", eventID)
}

// ResolveUser turns a user id or userName into the id the audit trail
// records: a live user's or tombstone's id as given, a live user found by
// userName, or ref itself when it looks like an id that no longer exists
// (an erased user's entries still name it). Errors: store.ErrNotFound when
// ref is neither, or the store's.
func (s *Service) ResolveUser(ctx context.Context, tenantID, ref string) (string, error) {
	if _, err := uuid.Parse(ref); err == nil {
		return strings.ToLower(ref), nil
	}
	u, err := s.store.GetUserByUserName(ctx, tenantID, ref)
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

type dryRunKey struct{}

// WithDryRun returns ctx under which the service's changes run to the end
// — every check, the policy, the writes — and are then rolled back:
// nothing is written, audit entries of refusals and failures included. A
// change that would succeed returns as if it had.
func WithDryRun(ctx context.Context) context.Context {
	return context.WithValue(ctx, dryRunKey{}, true)
}

func isDryRun(ctx context.Context) bool {
	v, _ := ctx.Value(dryRunKey{}).(bool)
	return v
}

var errDryRun = errors.New("provision: dry run: rolled back")

// update runs fn in a store transaction, rolled back under WithDryRun.
func (s *Service) update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if !isDryRun(ctx) {
		return s.store.Update(ctx, fn)
	}
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}
