package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Time bounds of the connections Open makes (see Options).
const (
	// DefaultStatementTimeout is the statement_timeout of every session
	// unless Options or the URL set another.
	DefaultStatementTimeout = 10 * time.Second
	// DefaultConnectTimeout bounds establishing a connection (TCP connect
	// and start-up) unless Options or the URL (connect_timeout) set
	// another.
	DefaultConnectTimeout = 5 * time.Second
	// silenceMargin is how much longer than the statement timeout a
	// connection may stay silent while an answer is awaited before it is
	// given up as dead: the server itself ends any statement at the
	// statement timeout, so a longer silence means the server or the
	// network is gone.
	silenceMargin = 2 * time.Second
)

// IsUnavailable reports whether err means the database could not be
// reached or did not answer in time, rather than that the statement was
// wrong: connection refused, reset or broken (driver.ErrBadConn, which
// lib/pq also reports for a fatal server error and an unexpected end of
// the connection), any network error (including a connection found silent
// past its bound), SQLSTATE class 08 (connection exception), 57P01, 57P02
// and 57P03 (the server shutting down, crashed or starting), 57014 (a
// statement canceled, by statement_timeout) and 53300 (too many
// connections). store.Guard uses it to return store.ErrUnavailable.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		code := string(pe.Code)
		switch {
		case strings.HasPrefix(code, "08"):
			return true
		case code == "57P01", code == "57P02", code == "57P03", code == "57014", code == "53300":
			return true
		}
	}
	return false
}

// pgInterval reads a PostgreSQL time setting as the server does: a number
// of milliseconds, or a number with a unit (us, ms, s, min, h, d).
func pgInterval(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	unit := map[string]time.Duration{
		"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
	}
	u, ok := unit[strings.TrimSpace(s[i:])]
	if !ok {
		return 0, false
	}
	return time.Duration(n * float64(u)), true
}

// watchDialer dials connections whose reads give up after the server has
// been silent for the given bound while an answer is awaited (0: never).
// lib/pq reads a connection only after sending it something, so an idle
// connection of the pool is never cut; a blackholed server (the TCP
// connection stays open but nothing comes back) is, where a context's
// cancellation alone is not: lib/pq cancels a statement by asking the
// server, which does not answer either.
type watchDialer struct {
	d       net.Dialer
	silence time.Duration
}

func (w watchDialer) Dial(network, address string) (net.Conn, error) {
	return w.DialContext(context.Background(), network, address)
}

func (w watchDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return w.DialContext(ctx, network, address)
}

func (w watchDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := w.d.DialContext(ctx, network, address)
	if err != nil || w.silence <= 0 {
		return c, err
	}
	return &watchConn{Conn: c, silence: w.silence}, nil
}

// watchConn is a connection whose every Read has a deadline of silence
// from its start, or the deadline the driver set when that is earlier.
type watchConn struct {
	net.Conn
	silence time.Duration

	mu       sync.Mutex
	deadline time.Time // the driver's read deadline; zero for none
}

func (c *watchConn) Read(b []byte) (int, error) {
	d := time.Now().Add(c.silence)
	c.mu.Lock()
	if !c.deadline.IsZero() && c.deadline.Before(d) {
		d = c.deadline
	}
	c.mu.Unlock()
	if err := c.Conn.SetReadDeadline(d); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *watchConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *watchConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}
