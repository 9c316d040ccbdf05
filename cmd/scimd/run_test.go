package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/internal/testenv"
)

// syncBuffer is testenv.SyncBuffer.
type syncBuffer = testenv.SyncBuffer

// cli runs one command against dbURL and returns stdout, stderr and error.
func cli(t *testing.T, dbURL string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "SCIMD_DATABASE_URL" {
			return dbURL
		}
		return ""
	}
	err := run(context.Background(), args, getenv, &out, &errb)
	return out.String(), errb.String(), err
}

func mustCLI(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	out, errs, err := cli(t, dbURL, args...)
	if err != nil {
		t.Fatalf("scimd %v: %v\n%s", args, err, errs)
	}
	return out
}

var (
	uuidLine  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$`)
	tokenLine = regexp.MustCompile(`^scimd_[A-Za-z0-9_-]{43}\n$`)
)

func databases(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "cli.db") },
		"postgres": func(t *testing.T) string { return pgtest.EmptyURL(t) },
	}
}

func TestTenantAndTokenCommands(t *testing.T) {
	for name, mk := range databases(t) {
		t.Run(name, func(t *testing.T) {
			db := mk(t)
			mustCLI(t, db, "migrate")
			id := mustCLI(t, db, "tenant", "create", "acme")
			if !uuidLine.MatchString(id) {
				t.Fatalf("tenant create printed %q", id)
			}
			if _, _, err := cli(t, db, "tenant", "create", "acme"); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Fatalf("duplicate tenant: %v", err)
			}
			if _, _, err := cli(t, db, "tenant", "create", "bad name!"); err == nil {
				t.Fatal("bad tenant name accepted")
			}
			if out := mustCLI(t, db, "tenant", "list"); !strings.Contains(out, strings.TrimSpace(id)) || !strings.Contains(out, "acme") {
				t.Fatalf("tenant list: %q", out)
			}
			out, errs, err := cli(t, db, "token", "create", "--tenant", "acme", "--expires", "90d")
			if err != nil || !tokenLine.MatchString(out) || !strings.Contains(errs, "shown only now") {
				t.Fatalf("token create: %q %q %v", out, errs, err)
			}
			for _, bad := range [][]string{
				{"token", "create"}, {"token", "create", "--tenant", "nope"}, {"token", "create", "--tenant", "acme", "--expires", "soon"},
				{"token", "create", "--tenant", "acme", "--owner", "nobody@acme.test"}, {"token", "revoke", "no-such-id"},
				{"tenant"}, {"frobnicate"}, {"tenant", "create"},
			} {
				if _, _, err := cli(t, db, bad...); err == nil {
					t.Errorf("scimd %v succeeded", bad)
				}
			}
			list := mustCLI(t, db, "token", "list", "--tenant", "acme")
			m := regexp.MustCompile(`(?m)^([0-9a-f-]{36})\s+live\s`).FindStringSubmatch(list)
			if m == nil {
				t.Fatalf("token list: %q", list)
			}
			if strings.Contains(list, strings.TrimSpace(out)) {
				t.Fatal("token list shows the secret")
			}
			mustCLI(t, db, "token", "revoke", m[1])
			if list := mustCLI(t, db, "token", "list", "--tenant", "acme"); !strings.Contains(list, m[1]+"  revoked") {
				t.Fatalf("after revoke: %q", list)
			}
			// Flags after positional arguments and --database-url work too.
			mustCLI(t, "", "tenant", "create", "beta", "--database-url", db)
		})
	}
}

func TestDatabaseURLForms(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	mustCLI(t, "", "tenant", "create", "a")
	mustCLI(t, "sqlite://rel/dir.db", "migrate")
	mustCLI(t, "sqlite://"+filepath.Join(dir, "abs.db"), "migrate")
	for _, f := range []string{"scimd.db", "rel/dir.db", "abs.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not created: %v", f, err)
		}
	}
	if _, _, err := cli(t, "mysql://x", "migrate"); err == nil {
		t.Fatal("unknown scheme accepted")
	}
}

// serve starts "scimd serve" on a free port and returns its SCIM base URL
// as printed, the stderr buffer and a stop function that waits for a clean
// shutdown.
// Further environment variables come as "KEY=value" in env.
func serve(t *testing.T, db string, env ...string) (base string, stderr *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &syncBuffer{}
	done := make(chan error, 1)
	getenv := func(k string) string {
		switch k {
		case "SCIMD_DATABASE_URL":
			return db
		case "SCIMD_ADDR":
			return "127.0.0.1:0"
		}
		for _, kv := range env {
			if key, v, _ := strings.Cut(kv, "="); key == k {
				return v
			}
		}
		return ""
	}
	go func() { done <- run(ctx, []string{"serve"}, getenv, io.Discard, stderr) }()
	listening := regexp.MustCompile(`addr=http://(127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			base = "http://" + m[1] + "/scim/v2"
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	}
	return base, stderr, stop
}

var bootstrapToken = regexp.MustCompile(`Bearer token:\s+(scimd_\S+)`)

func TestServeBootstrapsOnce(t *testing.T) {
	for name, mk := range databases(t) {
		t.Run(name, func(t *testing.T) {
			db := mk(t)
			base, stderr, stop := serve(t, db)
			m := bootstrapToken.FindStringSubmatch(stderr.String())
			if m == nil || !strings.Contains(stderr.String(), "SCIM base URL:  "+base) || !strings.Contains(stderr.String(), `tenant "default"`) {
				t.Fatalf("no bootstrap banner:\n%s", stderr.String())
			}
			req, _ := http.NewRequest("POST", base+"/Users", strings.NewReader(`{"userName":"first@example.com"}`))
			req.Header.Set("Authorization", "Bearer "+m[1])
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 201 {
				t.Fatalf("create with the bootstrap token: %d", res.StatusCode)
			}
			stop()
			if out := mustCLI(t, db, "tenant", "list"); !strings.Contains(out, "default") {
				t.Fatalf("tenant list: %q", out)
			}
			_, stderr, stop = serve(t, db)
			stop()
			if bootstrapToken.MatchString(stderr.String()) {
				t.Fatalf("second start printed a token:\n%s", stderr.String())
			}
		})
	}
}

// TestReplicasStartTogether starts two servers on one fresh PostgreSQL
// database at once: both migrate (under the advisory lock) and serve, and
// exactly one of them creates the default tenant and prints its token.
func TestReplicasStartTogether(t *testing.T) {
	db := pgtest.EmptyURL(t)
	var wg sync.WaitGroup
	var bases [2]string
	var errs [2]*syncBuffer
	var stops [2]func()
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bases[i], errs[i], stops[i] = serve(t, db)
		}()
	}
	wg.Wait()
	tokens := 0
	for i := range 2 {
		if bootstrapToken.MatchString(errs[i].String()) {
			tokens++
		}
		res, err := http.Get(strings.TrimSuffix(bases[i], "/scim/v2") + "/readyz")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("replica %d not ready: %v", i, err)
		}
		res.Body.Close()
		stops[i]()
	}
	if tokens != 1 {
		t.Fatalf("%d replicas printed a token, want 1", tokens)
	}
	if out := mustCLI(t, db, "tenant", "list"); strings.Count(out, "default") != 1 {
		t.Fatalf("tenant list: %q", out)
	}
}

func TestTenantPolicyCommands(t *testing.T) {
	for name, mk := range databases(t) {
		t.Run(name, func(t *testing.T) {
			db := mk(t)
			mustCLI(t, db, "tenant", "create", "acme")
			show := func() map[string]any {
				t.Helper()
				var m map[string]any
				if err := json.Unmarshal([]byte(mustCLI(t, db, "tenant", "show", "acme")), &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
			m := show()
			if m["name"] != "acme" || m["policy"].(map[string]any)["deleted_user_data"] != "erase" ||
				m["seats"].(map[string]any)["licensed"] != 0.0 || m["seats"].(map[string]any)["free"] != nil {
				t.Fatalf("defaults: %v", m)
			}
			out := mustCLI(t, db, "tenant", "policy", "acme", "--preset", "hubble", "--set", "seats=10", "--set", "reactivation_window_days=3")
			if !strings.Contains(out, `"preset": "hubble"`) {
				t.Fatalf("tenant policy printed %q", out)
			}
			m = show()
			p := m["policy"].(map[string]any)
			if p["seats"] != 10.0 || p["reactivation_window_days"] != 3.0 || p["deleted_user_data"] != "retain" ||
				p["username_pattern"] != `^[A-Za-z0-9_]{5,23}$` || m["seats"].(map[string]any)["free"] != 10.0 {
				t.Fatalf("after policy: %v", m)
			}
			// --set alone keeps the rest.
			mustCLI(t, db, "tenant", "policy", "acme", "--set", "seats=0")
			if p := show()["policy"].(map[string]any); p["seats"] != 0.0 || p["deleted_user_data"] != "retain" {
				t.Fatalf("after --set: %v", p)
			}
			for _, bad := range []struct {
				args    []string
				mention string
			}{
				{[]string{"tenant", "policy", "acme", "--preset", "okta"}, "kintone"},
				{[]string{"tenant", "policy", "acme", "--set", "seat=3"}, "reactivation_window_days"},
				{[]string{"tenant", "policy", "acme", "--set", "seats=-1"}, "seats"},
				{[]string{"tenant", "policy", "acme", "--set", "seats"}, "key=value"},
				{[]string{"tenant", "policy", "acme", "--set", "deleted_user_data=erase"}, "restore_deleted_on_recreate"},
				{[]string{"tenant", "policy", "acme"}, "--preset"},
				{[]string{"tenant", "show", "nope"}, "no tenant"},
				{[]string{"tenant", "owner", "acme", "nobody"}, "no user"},
				{[]string{"token", "create", "--tenant", "acme", "--kind", "admin"}, "scim or host"},
			} {
				_, _, err := cli(t, db, bad.args...)
				if err == nil || !strings.Contains(err.Error(), bad.mention) {
					t.Errorf("scimd %v: %v; want an error mentioning %q", bad.args, err, bad.mention)
				}
			}
			// Nothing above changed the policy.
			if p := show()["policy"].(map[string]any); p["seats"] != 0.0 || p["deleted_user_data"] != "retain" {
				t.Fatalf("a failed command changed the policy: %v", p)
			}
			host := mustCLI(t, db, "token", "create", "--tenant", "acme", "--kind", "host")
			if !tokenLine.MatchString(host) {
				t.Fatalf("host token %q", host)
			}
			if list := mustCLI(t, db, "token", "list", "--tenant", "acme"); !strings.Contains(list, "host") {
				t.Fatalf("token list: %q", list)
			}
		})
	}
}

func TestServeRefusesBadTokenCacheTTL(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "scimd.db")
	for _, v := range []string{"forever", "-1s", "2m"} {
		getenv := func(k string) string {
			switch k {
			case "SCIMD_DATABASE_URL":
				return db
			case "SCIMD_TOKEN_CACHE_TTL":
				return v
			case "SCIMD_ADDR":
				return "127.0.0.1:0"
			}
			return ""
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := run(ctx, []string{"serve"}, getenv, io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "SCIMD_TOKEN_CACHE_TTL") {
			t.Errorf("SCIMD_TOKEN_CACHE_TTL=%s: %v, want an error naming the variable", v, err)
		}
	}
}

// TestRevocationReachesRunningServer revokes, through the CLI (another
// process's connection), the token a running server has cached: requests
// with it are refused once the cache's TTL has passed.
func TestRevocationReachesRunningServer(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "scimd.db")
	base, stderr, stop := serve(t, db, "SCIMD_TOKEN_CACHE_TTL=300ms")
	defer stop()
	m := bootstrapToken.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no bootstrap token:\n%s", stderr.String())
	}
	get := func() int {
		req, _ := http.NewRequest("GET", base+"/Users?count=1", nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("before the revocation: %d", code)
	}
	lines := strings.Split(strings.TrimSpace(mustCLI(t, db, "token", "list", "--tenant", "default")), "\n")
	if len(lines) != 2 {
		t.Fatalf("token list: %q", lines)
	}
	mustCLI(t, db, "token", "revoke", strings.Fields(lines[1])[0])
	deadline := time.Now().Add(10 * time.Second)
	for get() != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the revoked token still works 10 s after the revocation (TTL 300ms)")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
