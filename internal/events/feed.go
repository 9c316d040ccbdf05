package events

import (
	"context"
	"time"

	"github.com/scimd/scimd/scim/webhook"
	"github.com/scimd/scimd/store"
)

// FeedPoll is how often a long poll looks for new events.
const FeedPoll = 200 * time.Millisecond

// Feed returns up to limit events of a tenant after the position after,
// waiting up to wait for at least one (a long poll), and the position to
// continue from. It returns early, with what it has, when ctx ends or stop
// is closed (the process shutting down; nil never is). A malformed
// position is store.ErrInvalidCursor; other errors are the store's.
func Feed(ctx context.Context, stop <-chan struct{}, s store.Reader, tenantID, after string, limit int, wait time.Duration) ([]webhook.Event, string, error) {
	deadline := time.Now().Add(wait)
	for {
		evs, next, err := s.EventFeed(ctx, tenantID, after, limit)
		if err != nil {
			return nil, "", err
		}
		if len(evs) > 0 || !time.Now().Add(FeedPoll).Before(deadline) {
			out := make([]webhook.Event, len(evs))
			for i, ev := range evs {
				out[i] = Payload(ev)
			}
			return out, next, nil
		}
		t := time.NewTimer(FeedPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return []webhook.Event{}, next, nil
		case <-stop:
			t.Stop()
			return []webhook.Event{}, next, nil
		case <-t.C:
		}
	}
}
