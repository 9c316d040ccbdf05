package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/dbopen"
	"github.com/scimd/scimd/store"
)

// buildScimd builds the scimd binary into a temporary directory.
func buildScimd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "scimd")
	// go test puts the go command of its GOROOT first on PATH.
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestGracefulShutdown starts the scimd binary, holds a request and a
// webhook delivery in flight, and sends SIGTERM: /readyz must answer 503
// at once while the drain delay lasts, new connections must then be
// refused, the request in flight must complete with its 201, the delivery
// in flight must be recorded as delivered (and the event written during
// the shutdown left pending, not lost), a long poll of the host API's
// event feed must answer at once instead of holding the stop, and the
// process must exit 0.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildScimd(t)
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			gracefulShutdown(t, bin, db(t))
		})
	}
}

func gracefulShutdown(t *testing.T, bin, dbURL string) {
	const (
		drainDelay = time.Second
		hold       = 2 * time.Second // how long the receiver holds a delivery
	)
	// The receiver holds every delivery for a while and counts them.
	var arrived, answered atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived.Add(1)
		time.Sleep(hold)
		answered.Add(1)
	}))
	defer recv.Close()

	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"SCIMD_DATABASE_URL="+dbURL, "SCIMD_ADDR=127.0.0.1:0", "SCIMD_LOG_LEVEL=info",
		"SCIMD_SHUTDOWN_TIMEOUT=15s", "SCIMD_SHUTDOWN_DELAY="+drainDelay.String())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		_, _ = io.Copy(logs, stderr)
		exited <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	listening := regexp.MustCompile(`addr=http://(127\.0\.0\.1:\d+)`)
	var addr, token string
	for deadline := time.Now().Add(30 * time.Second); addr == "" || token == ""; {
		if m := listening.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
		if m := bootstrapToken.FindStringSubmatch(logs.String()); m != nil {
			token = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("scimd did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	base := "http://" + addr
	mustCLI(t, dbURL, "webhook", "add", "--tenant", "default", "--url", recv.URL)

	post := func(userName string, body io.Reader) (int, error) {
		if body == nil {
			body = strings.NewReader(fmt.Sprintf(`{"userName":%q}`, userName))
		}
		req, err := http.NewRequest(http.MethodPost, base+"/scim/v2/Users", body)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	// A change whose delivery the receiver will be holding at SIGTERM.
	if st, err := post("held@example.com", nil); err != nil || st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, err)
	}
	for deadline := time.Now().Add(10 * time.Second); arrived.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no delivery reached the receiver:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A long poll of the host API's event feed, waiting at the signal.
	hostToken := strings.TrimSpace(mustCLI(t, dbURL, "token", "create", "--tenant", "default", "--kind", "host"))
	feed := func(query string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/events"+query, nil)
		req.Header.Set("Authorization", "Bearer "+hostToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		var page struct{ NextCursor string }
		err = json.NewDecoder(res.Body).Decode(&page)
		return res.StatusCode, page.NextCursor, err
	}
	st, cursor, err := feed("")
	if err != nil || st != http.StatusOK {
		t.Fatalf("event feed: %d %v", st, err)
	}
	poll := make(chan error, 1)
	go func() {
		st, _, err := feed("?wait=60s&after=" + url.QueryEscape(cursor))
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("status %d", st)
		}
		poll <- err
	}()
	// A request in flight: its body arrives slowly, across the signal.
	pr, pw := io.Pipe()
	slow := make(chan error, 1)
	go func() {
		st, err := post("", pr)
		if err == nil && st != http.StatusCreated {
			err = fmt.Errorf("status %d", st)
		}
		slow <- err
	}()
	if _, err := io.WriteString(pw, `{"userName":`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server is reading the body

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	// Readiness turns 503 at once; the server still answers meanwhile.
	time.Sleep(100 * time.Millisecond)
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("/readyz during the drain delay: %v", err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the drain delay: %d, want 503", res.StatusCode)
	}
	// After the delay, new connections are refused.
	refusedAt := time.Duration(0)
	for deadline := signalled.Add(drainDelay + 5*time.Second); time.Now().Before(deadline); {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("dial after shutdown: %v, want connection refused", err)
			}
			refusedAt = time.Since(signalled)
			break
		}
		_ = c.Close()
		time.Sleep(50 * time.Millisecond)
	}
	if refusedAt == 0 {
		t.Errorf("new connections still accepted %v after SIGTERM", drainDelay+5*time.Second)
	} else if refusedAt < drainDelay {
		t.Errorf("connections refused %v after SIGTERM, before the %v drain delay", refusedAt, drainDelay)
	}
	// The long poll answers at once rather than holding the shutdown.
	select {
	case err := <-poll:
		if err != nil {
			t.Errorf("the long poll in flight: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the long poll in flight did not answer")
	}
	// The request in flight completes.
	if _, err := io.WriteString(pw, `"slow@example.com"}`); err != nil {
		t.Fatalf("finishing the request in flight: %v", err)
	}
	_ = pw.Close()
	if err := <-slow; err != nil {
		t.Errorf("the request in flight: %v", err)
	}
	// The process exits 0.
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("scimd exited with %v:\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("scimd did not exit:\n%s", logs.String())
	}
	t.Logf("connections refused %v after SIGTERM; exited %v after it", refusedAt.Round(time.Millisecond), time.Since(signalled).Round(time.Millisecond))
	if answered.Load() < 1 {
		t.Errorf("the delivery in flight was not completed")
	}

	// What the database holds: the held delivery delivered, the change
	// made during the shutdown saved with its delivery pending.
	ctx := context.Background()
	target, err := dbopen.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := dbopen.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ten, err := db.GetTenantByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"held@example.com", "slow@example.com"} {
		if _, err := db.GetUserByUserName(ctx, ten.ID, u); err != nil {
			t.Errorf("user %s: %v", u, err)
		}
	}
	ds, err := db.ListDeliveries(ctx, ten.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{} // userName of the event's resource → state
	for _, d := range ds {
		if d.Event.Type != "user.created" {
			continue
		}
		u, err := db.GetUser(ctx, ten.ID, d.Event.ResourceID)
		if err != nil {
			t.Fatal(err)
		}
		states[u.UserName] = d.State
	}
	if states["held@example.com"] != store.DeliveryDelivered {
		t.Errorf("the delivery held across SIGTERM: %q, want delivered (%v)", states["held@example.com"], states)
	}
	if s := states["slow@example.com"]; s != store.DeliveryDelivered && s != store.DeliveryPending {
		t.Errorf("the delivery of the change made during shutdown: %q, want pending or delivered (%v)", s, states)
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("no clean stop in the log:\n%s", lastLines(logs.String(), 10))
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
