package store

import (
	"context"
	"errors"
	"time"
)

//go:generate go run ./internal/guardgen

// Guarded is a Store whose calls cannot hang and whose errors say when the
// database is unavailable. Every call except Update and Close runs under a
// deadline (the timeout given to Guard), so that a request waiting for a
// connection of a pool whose server has gone silent gives up in bounded
// time; Update is not bounded as a whole (a transaction is as long as its
// statements, and the backend bounds each of those). An error the
// backend's classifier recognises as the database being unreachable, and
// the call's own deadline passing, come back as an *UnavailableError
// (errors.Is ErrUnavailable) that keeps the driver's error as its cause;
// every other error is returned unchanged. An error of a call whose
// caller's context had already ended is never reclassified: the caller
// gave up, the database did not fail.
//
// The methods are generated (guard_gen.go) from the Store interface; a
// method added to the interface passes through the embedded Store
// unguarded until "go generate ./store" is run, which TestGuardCoversStore
// enforces.
type Guarded struct {
	Store
	unavailable func(error) bool
	timeout     time.Duration
}

// Guard returns s guarded: unavailable reports whether an error of s means
// the database cannot be reached (nil: none does, only the deadline
// counts), and timeout bounds every call but Update and Close (0 or less:
// no deadline).
func Guard(s Store, unavailable func(error) bool, timeout time.Duration) *Guarded {
	if unavailable == nil {
		unavailable = func(error) bool { return false }
	}
	return &Guarded{Store: s, unavailable: unavailable, timeout: timeout}
}

// Unguarded returns the store Guard was given.
func (g *Guarded) Unguarded() Store { return g.Store }

// bound returns the context a call runs under.
func (g *Guarded) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if g.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, g.timeout)
}

// fail classifies the error of a call made for ctx.
func (g *Guarded) fail(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || g.unavailable(err) {
		return &UnavailableError{Cause: err}
	}
	return err
}
