package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/scimd/scimd/internal/dbopen"
)

// Defaults of the settings below.
const (
	defaultShutdownTimeout = 20 * time.Second
	maxShutdownTimeout     = 10 * time.Minute
)

// dbOptions reads the database time bounds every command uses:
// SCIMD_DB_STATEMENT_TIMEOUT (PostgreSQL statement_timeout, default 10s)
// and SCIMD_DB_CONNECT_TIMEOUT (establishing a connection, default 5s). It
// returns an error naming a value that is not a duration in range.
func (e *env) dbOptions() (dbopen.Options, error) {
	var o dbopen.Options
	var err error
	if o.StatementTimeout, err = e.duration("SCIMD_DB_STATEMENT_TIMEOUT", time.Second, time.Hour); err != nil {
		return o, err
	}
	if o.ConnectTimeout, err = e.duration("SCIMD_DB_CONNECT_TIMEOUT", time.Second, 5*time.Minute); err != nil {
		return o, err
	}
	return o, nil
}

// openDatabaseWith is openDatabase with time bounds.
func openDatabaseWith(ctx context.Context, url string, opts dbopen.Options) (database, error) {
	t, err := dbopen.Parse(url)
	if err != nil {
		return nil, err
	}
	return dbopen.OpenWith(ctx, t, opts)
}

// duration reads an optional duration variable (0 when unset) that must lie
// in [lo, hi].
func (e *env) duration(name string, lo, hi time.Duration) (time.Duration, error) {
	v := e.getenv(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%s %q: use a duration from %s to %s", name, v, lo, hi)
	}
	return d, nil
}

// serveOptions are serve's settings for stopping and for TLS.
type serveOptions struct {
	// shutdownTimeout bounds a graceful stop (SCIMD_SHUTDOWN_TIMEOUT).
	shutdownTimeout time.Duration
	// drainDelay is how long serve keeps answering, with /readyz at 503,
	// after the signal and before it stops accepting connections
	// (SCIMD_SHUTDOWN_DELAY, default 0), for load balancers that need to
	// see the readiness change first.
	drainDelay time.Duration
	// tls is the server's TLS configuration; nil serves plain HTTP.
	tls *tls.Config
}

// serveOptions reads SCIMD_SHUTDOWN_TIMEOUT (default 20s),
// SCIMD_SHUTDOWN_DELAY (default 0s), and SCIMD_TLS_CERT and SCIMD_TLS_KEY
// (PEM files; both or neither): with them serve speaks HTTPS only, TLS 1.2
// at least. It returns an error for a value out of range, one of the TLS
// pair without the other, or a certificate and key that do not load.
func (e *env) serveOptions() (serveOptions, error) {
	o := serveOptions{shutdownTimeout: defaultShutdownTimeout}
	d, err := e.duration("SCIMD_SHUTDOWN_TIMEOUT", time.Second, maxShutdownTimeout)
	if err != nil {
		return o, err
	}
	if d > 0 {
		o.shutdownTimeout = d
	}
	if o.drainDelay, err = e.duration("SCIMD_SHUTDOWN_DELAY", 0, time.Minute); err != nil {
		return o, err
	}
	cert, key := e.getenv("SCIMD_TLS_CERT"), e.getenv("SCIMD_TLS_KEY")
	switch {
	case cert == "" && key == "":
	case cert == "" || key == "":
		return o, errors.New("SCIMD_TLS_CERT and SCIMD_TLS_KEY: set both (PEM certificate chain and private key files) or neither")
	default:
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return o, fmt.Errorf("SCIMD_TLS_CERT %q and SCIMD_TLS_KEY %q: %w", cert, key, err)
		}
		o.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	}
	return o, nil
}

// scheme is the scheme of the URLs serve answers on.
func (o serveOptions) scheme() string {
	if o.tls != nil {
		return "https"
	}
	return "http"
}

// serve runs srv on ln, over TLS when it is configured; it returns what
// http.Server.Serve returns.
func (o serveOptions) serve(srv *http.Server, ln net.Listener) error {
	if o.tls == nil {
		return srv.Serve(ln)
	}
	srv.TLSConfig = o.tls
	return srv.ServeTLS(ln, "", "")
}

// shutdown stops srv gracefully once the process was told to stop:
// readiness turns 503 at once (stopping), srv keeps serving for the drain
// delay, then stops accepting and waits for the requests in flight, while
// the event dispatcher (already told to claim nothing more) finishes the
// deliveries it has in flight (dispatchDone closes when it has). Both wait
// at most the shutdown timeout; past it the remaining connections are
// closed, the deliveries abandoned (they stay pending in the database) and
// an error is returned; a graceful stop returns nil.
func (o serveOptions) shutdown(log *slog.Logger, srv *http.Server, stopping func(), dispatchDone <-chan struct{}) error {
	stopping()
	log.Info("shutting down", "deadline", o.shutdownTimeout.String(), "drain_delay", o.drainDelay.String())
	ctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if o.drainDelay > 0 {
		t := time.NewTimer(o.drainDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("shutdown: requests still running after %s were cut off: %w", o.shutdownTimeout, err)
	}
	select {
	case <-dispatchDone:
	case <-ctx.Done():
		log.Warn("shutdown: event deliveries still in flight are abandoned; they stay pending and are retried", "deadline", o.shutdownTimeout.String())
	}
	if err == nil {
		log.Info("stopped")
	}
	return err
}
