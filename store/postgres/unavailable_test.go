package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

func TestIsUnavailable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"silent", fmt.Errorf("postgres: begin: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), true},
		{"bad conn", fmt.Errorf("wrapped: %w", driver.ErrBadConn), true},
		{"admin shutdown", &pq.Error{Code: "57P01"}, true},
		{"crash shutdown", &pq.Error{Code: "57P02"}, true},
		{"starting up", &pq.Error{Code: "57P03"}, true},
		{"statement timeout", fmt.Errorf("x: %w", &pq.Error{Code: "57014"}), true},
		{"connection exception", &pq.Error{Code: "08006"}, true},
		{"too many connections", &pq.Error{Code: "53300"}, true},
		{"unique violation", &pq.Error{Code: "23505"}, false},
		{"syntax error", &pq.Error{Code: "42601"}, false},
		{"deadlock", &pq.Error{Code: "40P01"}, false},
		{"plain", errors.New("no"), false},
		{"canceled", context.Canceled, false},
		{"nil", nil, false},
	} {
		if got := IsUnavailable(c.err); got != c.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestPGInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"10000": 10 * time.Second, "250ms": 250 * time.Millisecond, "30s": 30 * time.Second, "2 min": 2 * time.Minute,
		"1h": time.Hour, "0": 0, "1.5s": 1500 * time.Millisecond,
	} {
		if got, ok := pgInterval(in); !ok || got != want {
			t.Errorf("pgInterval(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "s", "10 parsecs", "-1s"} {
		if _, ok := pgInterval(bad); ok {
			t.Errorf("pgInterval(%q) accepted", bad)
		}
	}
}

// TestSilentConnectionGivesUp: a read on a connection whose peer stays
// silent ends at the silence bound, and the driver's earlier deadline
// wins over it.
func TestSilentConnectionGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent
		}
	}()
	d := watchDialer{silence: 200 * time.Millisecond}
	c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) || !IsUnavailable(err) {
		t.Fatalf("silent read: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("silent read hung %v", took)
	}
	// The driver's own deadline (connect_timeout during start-up), when
	// earlier than the silence bound, is kept.
	d.silence = time.Hour
	c2, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.SetDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the driver's deadline: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the driver's deadline was ignored: the read took %v", took)
	}
}
