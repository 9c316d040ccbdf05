package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/scim/webhook"
)

// TestWebhookLifecycle drives the whole event path through the binary's
// commands: webhook add prints a secret; a running server delivers signed
// events to it; a failing receiver makes the event dead (events --dead);
// events retry delivers it; the audit trail shows the SCIM changes and the
// CLI's own, failures included; webhook remove stops deliveries.
func TestWebhookLifecycle(t *testing.T) {
	var mu sync.Mutex
	var got []webhook.Event
	var secret []byte
	var failing atomic.Bool
	var badSig atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, 0, time.Now()) != nil {
			badSig.Add(1)
		}
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var ev webhook.Event
		_ = json.Unmarshal(body, &ev)
		got = append(got, ev)
	}))
	defer recv.Close()
	received := func(typ string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range got {
			if ev.Type == typ {
				return true
			}
		}
		return false
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	db := "sqlite://" + filepath.Join(t.TempDir(), "scimd.db")
	base, stderr, stop := serve(t, db, "SCIMD_WEBHOOK_MAX_ATTEMPTS=1", "SCIMD_WEBHOOK_TIMEOUT=2s")
	defer stop()
	m := bootstrapToken.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no bootstrap token:\n%s", stderr.String())
	}
	token := m[1]

	out := mustCLI(t, db, "webhook", "add", "--tenant", "default", "--url", recv.URL+"/scimd")
	if !regexp.MustCompile(`^whsec_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("webhook add printed %q", out)
	}
	mu.Lock()
	secret = []byte(strings.TrimSpace(out))
	mu.Unlock()
	if _, _, err := cli(t, db, "webhook", "add", "--tenant", "default", "--url", "ftp://example.com"); err == nil {
		t.Error("webhook add accepted an ftp URL")
	}
	list := mustCLI(t, db, "webhook", "list", "--tenant", "default")
	if !strings.Contains(list, recv.URL+"/scimd") {
		t.Fatalf("webhook list: %q", list)
	}
	hookID := strings.Fields(strings.Split(strings.TrimSpace(list), "\n")[1])[0]

	scimReq := func(method, path, body string) map[string]any {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		req.Header.Set("User-Agent", "Okta SCIM Client")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, out)
		}
		return out
	}
	u := scimReq("POST", "/Users", `{"userName":"dana@example.com","active":true,"emails":[{"value":"dana@example.com","primary":true}]}`)
	id, _ := u["id"].(string)
	waitFor("user.created at the webhook", func() bool { return received("user.created") })

	// The receiver fails; with one attempt allowed the event is dead.
	failing.Store(true)
	scimReq("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
	var deadLine string
	waitFor("a dead user.deactivated", func() bool {
		for _, l := range strings.Split(mustCLI(t, db, "events", "--tenant", "default", "--dead"), "\n") {
			if strings.Contains(l, "user.deactivated") && strings.Contains(l, "dead") {
				deadLine = l
				return true
			}
		}
		return false
	})
	failing.Store(false)
	mustCLI(t, db, "events", "retry", "--tenant", "default", strings.Fields(deadLine)[0])
	waitFor("user.deactivated after the retry", func() bool { return received("user.deactivated") })
	if _, _, err := cli(t, db, "events", "retry", "--tenant", "default", strings.Fields(deadLine)[0]); err == nil {
		t.Error("retrying an event without dead deliveries succeeded")
	}
	if n := badSig.Load(); n != 0 {
		t.Errorf("%d deliveries failed signature verification", n)
	}

	// The audit trail: the user's timeline, and the CLI's changes (the
	// failed retry too).
	var ops []string
	sc := bufio.NewScanner(strings.NewReader(mustCLI(t, db, "audit", "--tenant", "default", "--user", "dana@example.com", "--json")))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e["client"] != "Okta SCIM Client" {
			t.Errorf("entry client %v", e["client"])
		}
		ops = append(ops, e["operation"].(string))
	}
	if strings.Join(ops, ",") != "user.patch,user.create" {
		t.Errorf("dana's timeline = %v", ops)
	}
	all := mustCLI(t, db, "audit", "--tenant", "default", "--since", "1h")
	for _, want := range []string{"webhook.create", "event.retry", "token.create", "tenant.create"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit lacks %s:\n%s", want, all)
		}
	}
	if !regexp.MustCompile(`event\.retry\s+Event \S+\s+404`).MatchString(all) {
		t.Errorf("the failed retry is not in the trail:\n%s", all)
	}

	mustCLI(t, db, "webhook", "remove", "--tenant", "default", hookID)
	if _, _, err := cli(t, db, "webhook", "remove", "--tenant", "default", hookID); err == nil {
		t.Error("removing a removed webhook succeeded")
	}
	if l := mustCLI(t, db, "webhook", "list", "--tenant", "default"); strings.Contains(l, recv.URL) {
		t.Errorf("webhook still listed: %q", l)
	}
}
