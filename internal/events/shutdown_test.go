package events_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// holdingReceiver answers 200 to each delivery once release is closed,
// or gives up when the sender does.
type holdingReceiver struct {
	arrived atomic.Int32
	release chan struct{}
}

func (h *holdingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.arrived.Add(1)
	select {
	case <-h.release:
	case <-r.Context().Done():
	}
}

// deliveryState returns the state of the tenant's only delivery.
func deliveryState(t *testing.T, f *fixture) store.Delivery {
	t.Helper()
	ds, err := f.s.ListDeliveries(context.Background(), f.tenant, "", 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries: %v %v", ds, err)
	}
	return ds[0]
}

func waitArrived(t *testing.T, h *holdingReceiver) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); h.arrived.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no delivery arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeDrainsOnStop: when stop ends, Serve waits for the delivery in
// flight, records it delivered and returns; it claims nothing more.
func TestServeDrainsOnStop(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h := &holdingReceiver{release: make(chan struct{})}
		srv := httptest.NewServer(h)
		defer srv.Close()
		f := newFixture(t, s, srv.URL)
		f.event(t, "user.created", newID())
		d := f.dispatcher(events.Config{Timeout: 10 * time.Second, Poll: 20 * time.Millisecond})
		stop, stopNow := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Serve(stop, context.Background()) }()
		waitArrived(t, h)
		stopNow()
		select {
		case <-done:
			t.Fatal("Serve returned with a delivery in flight")
		case <-time.After(300 * time.Millisecond):
		}
		close(h.release)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after the delivery finished")
		}
		if dl := deliveryState(t, f); dl.State != store.DeliveryDelivered {
			t.Fatalf("delivery %s after a graceful stop, want delivered", dl.State)
		}
		// Stopped: a new event is not delivered.
		f.event(t, "user.deactivated", newID())
		time.Sleep(100 * time.Millisecond)
		if n := h.arrived.Load(); n != 1 {
			t.Fatalf("%d posts after the stop", n)
		}
	})
}

// TestServeAbandonsOnDeadline: when ctx ends during a graceful stop, Serve
// returns at once and the delivery in flight stays pending (its claim
// expires and it is delivered later), neither lost nor half recorded.
func TestServeAbandonsOnDeadline(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h := &holdingReceiver{release: make(chan struct{})}
		srv := httptest.NewServer(h)
		defer srv.Close()
		defer close(h.release)
		f := newFixture(t, s, srv.URL)
		f.event(t, "user.created", newID())
		d := f.dispatcher(events.Config{Timeout: 10 * time.Second, Poll: 20 * time.Millisecond})
		stop, stopNow := context.WithCancel(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Serve(stop, ctx) }()
		waitArrived(t, h)
		stopNow()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return when its context ended")
		}
		dl := deliveryState(t, f)
		if dl.State != store.DeliveryPending || dl.Attempts != 1 || dl.LastError != "" {
			t.Fatalf("abandoned delivery: state %s, attempts %d, error %q; want pending, 1, none", dl.State, dl.Attempts, dl.LastError)
		}
	})
}
