package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/scim/webhook"
	"github.com/scimd/scimd/store"
)

// Defaults of Config.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 12
	DefaultBaseDelay   = 2 * time.Second
	DefaultMaxDelay    = time.Hour
	DefaultBatch       = 32
	DefaultPoll        = time.Second
	DefaultWorkers     = 8
)

// Config configures a Dispatcher; zero fields take the defaults above.
type Config struct {
	Store store.Store
	// Client posts the deliveries; its own Timeout is left alone, the
	// per-attempt Timeout below bounds every attempt. Redirects are not
	// followed (a 3xx is a failed attempt).
	Client *http.Client
	Log    *slog.Logger
	// Metrics, when set, receives the delivery series.
	Metrics *obs.Metrics
	Now     func() time.Time
	// Timeout bounds one attempt (connect, send, answer).
	Timeout time.Duration
	// MaxAttempts is the number of attempts before an event is dead.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the backoff: attempt n failed waits a
	// random time between half and all of min(MaxDelay, BaseDelay·2^(n-1)).
	BaseDelay, MaxDelay time.Duration
	// Batch is how many deliveries one claim takes.
	Batch int
	// Poll is how long an idle dispatcher waits before claiming again.
	Poll time.Duration
	// Workers is how many deliveries of a batch are posted at once.
	Workers int
	// Jitter returns a number in [0, 1); rand.Float64 when nil.
	Jitter func() float64
}

// Dispatcher delivers pending events. It is safe for concurrent use; Run
// it once per process.
type Dispatcher struct {
	cfg  Config
	wake chan struct{}
}

// New returns a dispatcher with cfg's zero fields set to the defaults.
func New(cfg Config) *Dispatcher {
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	c := *cfg.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.Client = &c
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultBaseDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Float64
	}
	return &Dispatcher{cfg: cfg, wake: make(chan struct{}, 1)}
}

// lease is how long a claim is held: an attempt's timeout plus a margin
// for recording its outcome. A dispatcher that dies holding a claim delays
// the delivery by at most this much.
func (d *Dispatcher) lease() time.Duration { return d.cfg.Timeout + 30*time.Second }

// Wake makes a waiting Run claim at once (after a commit that wrote
// events in this process). It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends and returns nil then; deliveries in flight
// are abandoned (see Serve). Store errors are logged and retried after the
// poll interval; they do not stop it.
func (d *Dispatcher) Run(ctx context.Context) error {
	return d.Serve(ctx, ctx)
}

// Serve delivers until stop ends, then claims nothing more and returns nil
// once every delivery it has in flight is posted and its outcome recorded:
// the graceful end of a process that is shutting down. When ctx ends
// (before or after stop) it returns at once, abandoning the deliveries in
// flight: their claims are left to expire and another dispatcher, or this
// one after a restart, delivers them; an outcome is recorded whole or not
// at all, never lost. Deliveries of a claimed batch not yet started when
// stop ends are left the same way. Store errors are logged and retried
// after the poll interval; they do not stop it.
func (d *Dispatcher) Serve(stop, ctx context.Context) error {
	statsEvery := time.NewTicker(5 * time.Second)
	defer statsEvery.Stop()
	d.updateStats(ctx)
	for {
		if stop.Err() != nil || ctx.Err() != nil {
			return nil
		}
		n, err := d.runOnce(stop, ctx)
		if stop.Err() != nil || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.cfg.Log.ErrorContext(ctx, "event dispatch failed", "err", err)
		}
		if n == d.cfg.Batch && err == nil {
			continue // more may be due right now
		}
		t := time.NewTimer(d.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-stop.Done():
			t.Stop()
			return nil
		case <-d.wake:
		case <-statsEvery.C:
			d.updateStats(ctx)
		case <-t.C:
		}
		t.Stop()
	}
}

func (d *Dispatcher) updateStats(ctx context.Context) {
	m := d.cfg.Metrics
	if m == nil {
		return
	}
	st, err := d.cfg.Store.DeliveryStats(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Log.ErrorContext(ctx, "event delivery stats failed", "err", err)
		}
		return
	}
	m.QueueDepth.Set(float64(st.Pending))
	m.DeadDeliveries.Set(float64(st.Dead))
	age := 0.0
	if !st.OldestPending.IsZero() {
		age = max(0, d.cfg.Now().Sub(st.OldestPending).Seconds())
	}
	m.OldestPending.Set(age)
}

// RunOnce claims one batch of due deliveries, posts them (concurrently;
// the store hands out at most one delivery per user or group and webhook
// at a time, so order is kept) and records the outcomes. It returns how
// many it claimed and the first store error.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	return d.runOnce(ctx, ctx)
}

// runOnce is RunOnce that starts no delivery after stop ends.
func (d *Dispatcher) runOnce(stop, ctx context.Context) (int, error) {
	batch, err := d.cfg.Store.ClaimDeliveries(ctx, d.cfg.Now().UTC(), d.lease(), d.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("events: claim: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	sem := make(chan struct{}, d.cfg.Workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, dl := range batch {
		sem <- struct{}{}
		if stop.Err() != nil {
			<-sem
			break // the rest stay claimed until their lease expires
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := d.deliver(ctx, dl); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(batch), first
}

// Payload returns the JSON body of an event's delivery (the same object
// the pull feed lists).
func Payload(ev store.Event) webhook.Event {
	data := ev.Payload
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	return webhook.Event{ID: ev.ID, Type: ev.Type, TenantID: ev.TenantID, OccurredAt: ev.At.UTC(),
		ResourceType: ev.ResourceType, ResourceID: ev.ResourceID, Data: data}
}

// deliver makes one attempt and records its outcome; it returns only the
// store's error (a lost claim is logged, not returned).
func (d *Dispatcher) deliver(ctx context.Context, dl store.Delivery) error {
	status, attemptErr := d.post(ctx, dl)
	if ctx.Err() != nil {
		// Shutting down: leave the claim to expire; another dispatcher (or
		// this one after a restart) tries again.
		return nil
	}
	now := d.cfg.Now().UTC()
	o := store.DeliveryOutcome{At: now, Status: status}
	outcome := "delivered"
	switch {
	case attemptErr == nil:
		o.Delivered = true
	case dl.Attempts >= d.cfg.MaxAttempts:
		o.Dead, o.Error = true, attemptErr.Error()
		outcome = "dead"
	default:
		o.Error, o.NextAttempt = attemptErr.Error(), now.Add(d.backoff(dl.Attempts))
		outcome = "failed"
	}
	if m := d.cfg.Metrics; m != nil {
		m.Deliveries.WithLabelValues(outcome).Inc()
		if o.Delivered {
			m.DeliveryLag.Observe(max(0, now.Sub(dl.Event.At).Seconds()))
		}
	}
	log := d.cfg.Log.With("event_id", dl.Event.ID, "event_type", dl.Event.Type, "webhook_id", dl.WebhookID,
		"tenant_id", dl.TenantID, "attempt", dl.Attempts)
	switch outcome {
	case "dead":
		log.WarnContext(ctx, "event delivery dead after the last attempt", "err", attemptErr)
	case "failed":
		log.InfoContext(ctx, "event delivery failed; will retry", "err", attemptErr, "next_attempt", o.NextAttempt)
	}
	err := d.cfg.Store.FinishDelivery(ctx, dl, o)
	if errors.Is(err, store.ErrNotFound) {
		log.WarnContext(ctx, "event delivery outcome not recorded: the claim expired and was taken over")
		return nil
	}
	if err != nil {
		return fmt.Errorf("events: finish delivery %s: %w", dl.ID, err)
	}
	return nil
}

// backoff is the wait after the n-th failed attempt: between half and all
// of min(MaxDelay, BaseDelay·2^(n-1)).
func (d *Dispatcher) backoff(n int) time.Duration {
	full := d.cfg.MaxDelay
	if n-1 < 40 {
		if b := d.cfg.BaseDelay << (n - 1); b > 0 && b < full {
			full = b
		}
	}
	return full/2 + time.Duration(d.cfg.Jitter()*float64(full/2))
}

// post sends one attempt; it returns the status (0 without an answer) and
// an error that says what went wrong, nil for a 2xx answer.
func (d *Dispatcher) post(ctx context.Context, dl store.Delivery) (int, error) {
	body, err := json.Marshal(Payload(dl.Event))
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, dl.URL, strings.NewReader(string(body)))
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "scimd-webhooks/1")
	req.Header.Set(webhook.EventIDHeader, dl.Event.ID)
	req.Header.Set(webhook.EventTypeHeader, dl.Event.Type)
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(dl.Secret, d.cfg.Now(), body))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		if actx.Err() == context.DeadlineExceeded {
			return 0, fmt.Errorf("no answer within %s", d.cfg.Timeout)
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
