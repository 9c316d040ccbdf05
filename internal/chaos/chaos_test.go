package chaos

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq" // settle's own connection

	"github.com/scimd/scimd/internal/dbopen"
	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// raceEnabled is set by race_test.go when the tests run with -race.
var raceEnabled bool

// build is one build of scimd, made once per test run.
type build struct {
	race bool
	once sync.Once
	path string
	err  error
}

var (
	buildDir string
	// plainBuild runs the CLI commands and `scimd import`.
	plainBuild = &build{}
	// serverBuild runs `scimd serve`: with -race when the tests run with
	// it, so a data race in the server under the crash and replica loads
	// fails the test through its report on stderr. (The import runs the
	// plain build: modernc SQLite under the race detector imports some
	// twenty times slower, and the code it would check is the one the
	// servers run, batches included, under the same detector.)
	serverBuild = &build{} // race set by TestMain
	buildMu     sync.Mutex
)

func TestMain(m *testing.M) {
	serverBuild.race = raceEnabled
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary returns the path of the plain scimd binary built from this tree.
func binary(t testing.TB) string { return plainBuild.get(t) }

// get builds scimd once and returns the binary's path.
func (b *build) get(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("the go command is needed to build scimd: %w", err)
			return
		}
		buildMu.Lock()
		if buildDir == "" {
			buildDir, b.err = os.MkdirTemp("", "scimd-chaos-")
		}
		buildMu.Unlock()
		if b.err != nil {
			return
		}
		b.path = filepath.Join(buildDir, "scimd")
		args := []string{"build", "-o"}
		if b.race {
			b.path += "-race"
			args = append(args, b.path, "-race")
		} else {
			args = append(args, b.path)
		}
		args = append(args, "github.com/scimd/scimd/cmd/scimd")
		out, err := exec.Command(goTool, args...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// backends are the databases the crash tests run on: each returns the
// URL of a fresh database for the test.
var backends = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "scimd.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.URL(t) }},
}

// childEnv is this process's environment without scimd's own settings,
// plus the given ones.
func childEnv(dbURL string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIMD_") {
			env = append(env, kv)
		}
	}
	env = append(env, "SCIMD_DATABASE_URL="+dbURL)
	return append(env, extra...)
}

// syncBuffer is testenv.SyncBuffer.
type syncBuffer = testenv.SyncBuffer

// proc is one scimd process.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, set before done closes

	killOnce sync.Once
}

// start runs the binary with args; the process is killed when the test
// ends if it still runs.
func start(t testing.TB, bin, name, dbURL string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = childEnv(dbURL, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL (once) and waits for the process to be gone, then
// fails the test if the race detector reported a race in it.
func (p *proc) kill() {
	p.killOnce.Do(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.checkRaces()
	})
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to exit by itself and returns its
// exit error; after d it kills it and fails the test.
func (p *proc) wait(d time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		p.kill() // only checks races now
		return p.err
	case <-time.After(d):
		p.kill()
		p.t.Fatalf("%s did not finish within %v; stderr:\n%s", p.name, d, clip(p.stderr.String(), 3000))
		return nil
	}
}

func (p *proc) checkRaces() {
	if out := p.stderr.String(); strings.Contains(out, "WARNING: DATA RACE") {
		i := strings.Index(out, "WARNING: DATA RACE")
		p.t.Errorf("%s: the race detector reported a data race:\n%s", p.name, clip(out[i:], 6000))
	}
}

// clip returns at most the first n bytes of s (reports start where the
// interesting part starts).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n…"
}

// cli runs one scimd command to completion and returns its stdout and
// stderr; a failure to run or a non-zero exit is the error.
func cli(t testing.TB, dbURL string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = childEnv(dbURL)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// mustCLI is cli that fails the test on an error and returns stdout.
func mustCLI(t testing.TB, dbURL string, args ...string) string {
	t.Helper()
	out, errs, err := cli(t, dbURL, args...)
	if err != nil {
		t.Fatalf("scimd %s: %v\n%s", strings.Join(args, " "), err, errs)
	}
	return out
}

// tenant is a tenant made through the CLI with one SCIM token.
type tenant struct {
	name, id string
	token    string // the secret
	tokenID  string
}

var tokenIDLine = regexp.MustCompile(`token (\S+) for tenant`)

// newTenant creates a tenant with the given policy settings (key=value)
// and a SCIM token.
func newTenant(t testing.TB, dbURL, name string, settings ...string) tenant {
	t.Helper()
	tn := tenant{name: name, id: strings.TrimSpace(mustCLI(t, dbURL, "tenant", "create", name))}
	if len(settings) > 0 {
		args := []string{"tenant", "policy", name}
		for _, s := range settings {
			args = append(args, "--set", s)
		}
		mustCLI(t, dbURL, args...)
	}
	tn.token, tn.tokenID = newToken(t, dbURL, name)
	return tn
}

// newToken creates a SCIM token of a tenant and returns its secret and id.
func newToken(t testing.TB, dbURL, tenantName string) (secret, id string) {
	t.Helper()
	out, errs, err := cli(t, dbURL, "token", "create", "--tenant", tenantName)
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, errs)
	}
	m := tokenIDLine.FindStringSubmatch(errs)
	if m == nil {
		t.Fatalf("token create printed no token id: %q", errs)
	}
	return strings.TrimSpace(out), m[1]
}

// server is one `scimd serve` process.
type server struct {
	*proc
	base string // http://127.0.0.1:PORT
}

// serve starts scimd serve on a free port of 127.0.0.1 and waits until it
// listens (migrations done).
func serve(t testing.TB, name, dbURL string) *server {
	t.Helper()
	s, err := launch(t, name, dbURL).await()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// launch starts scimd serve on a free port of 127.0.0.1 without waiting
// for it; await does.
func launch(t testing.TB, name, dbURL string) *proc {
	t.Helper()
	return start(t, serverBuild.get(t), name, dbURL, []string{
		"SCIMD_ADDR=127.0.0.1:0", "SCIMD_LOG_FORMAT=json", "SCIMD_WEBHOOKS=off",
		// These tests are about what survives a kill and what replicas
		// agree on, not about rate limits: nothing is limited.
		"SCIMD_RATE_TENANT=0", "SCIMD_RATE_TOKEN=0", "SCIMD_RATE_CONCURRENT=0",
	}, "serve")
}

// await waits until a launched server listens and returns it; an error
// when it exits first or does not listen within two minutes.
func (p *proc) await() (*server, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if addr := listening(p.stderr.String()); addr != "" {
			return &server{proc: p, base: addr}, nil
		}
		if p.exited() {
			return nil, fmt.Errorf("%s exited before listening: %v\n%s", p.name, p.err, clip(p.stderr.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill()
	return nil, fmt.Errorf("%s did not listen within 2 minutes:\n%s", p.name, clip(p.stderr.String(), 4000))
}

// listening finds the address of the "scimd listening" log line.
func listening(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte("scimd listening")) {
			continue
		}
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "scimd listening" {
			return rec.Addr
		}
	}
	return ""
}

// client talks SCIM to one server with one token.
type client struct {
	base  string
	token string
	hc    *http.Client
}

var sharedTransport = &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}

func newClient(base, token string) *client {
	return &client{base: base, token: token, hc: &http.Client{Transport: sharedTransport, Timeout: 60 * time.Second}}
}

// reply is one answer.
type reply struct {
	status int
	body   []byte
	doc    map[string]any
}

// str returns a string attribute of the answer's document.
func (r reply) str(name string) string {
	s, _ := r.doc[name].(string)
	return s
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, clip(string(r.body), 400)) }

// do sends one request under /scim/v2 with X-Request-Id reqID (if not
// empty). A transport error (the server died, the connection broke) is
// the error; every HTTP answer is a reply.
func (c *client) do(method, path string, body any, reqID string) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+"/scim/v2"+path, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/scim+json")
	if reqID != "" {
		req.Header.Set("X-Request-Id", reqID)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: resp.StatusCode, body: b}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &r.doc)
	}
	return r, nil
}

// Request bodies.

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

func userDoc(userName, display string, active bool) map[string]any {
	return map[string]any{
		"schemas": []string{userSchema}, "userName": userName, "displayName": display, "active": active,
		"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}},
	}
}

func patchOps(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
}

func setActive(active bool) map[string]any {
	return patchOps(map[string]any{"op": "replace", "path": "active", "value": active})
}

func addMember(id string) map[string]any {
	return patchOps(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": id}}})
}

func removeMember(id string) map[string]any {
	return patchOps(map[string]any{"op": "remove", "path": `members[value eq "` + id + `"]`})
}

// openStore opens the database for the test's own reads (never migrated
// here: the server does that).
func openStore(t testing.TB, dbURL string) store.Store {
	t.Helper()
	target, err := dbopen.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := dbopen.Open(ctx, target)
	if err != nil {
		t.Fatalf("open %s: %v", dbopen.Redact(dbURL), err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// settle waits until no session of another process is still working on
// a PostgreSQL database: a process killed with SIGKILL can leave behind a
// server-side session that was already committing (the COMMIT had
// reached the server), and that commit lands after the kill. Idle
// sessions of dead clients end by themselves. SQLite has nothing to wait
// for: the writer died with the process.
func settle(t testing.TB, dbURL string) {
	t.Helper()
	target, err := dbopen.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if target.Kind != dbopen.Postgres {
		return
	}
	db, err := sql.Open("postgres", target.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	deadline := time.Now().Add(time.Minute)
	for {
		var busy int
		err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'`).Scan(&busy)
		if err != nil {
			t.Fatalf("settle: %v", err)
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("settle: %d sessions still busy on the database a minute after the kill", busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// snapshot is everything of one tenant the invariants are about.
type snapshot struct {
	live    map[string]store.User // by id
	tombs   map[string]store.User // deleted users, by id
	groups  map[string]store.Group
	members map[string][]store.Member // by group id
	events  []store.Event
	audit   []store.AuditEntry
}

// readSnapshot reads a tenant's users, tombstones, groups, members, events
// and audit trail; the server should be idle meanwhile.
func readSnapshot(t testing.TB, st store.Store, tenantID string) snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := snapshot{live: map[string]store.User{}, tombs: map[string]store.User{}, groups: map[string]store.Group{}}
	for _, deleted := range []bool{false, true} {
		q := store.Query{Limit: 1000, Deleted: deleted, NoTotal: true, WithoutEmails: true}
		for {
			page, err := st.ListUsers(ctx, tenantID, q)
			if err != nil {
				t.Fatalf("list users: %v", err)
			}
			for _, u := range page.Users {
				if deleted {
					s.tombs[u.ID] = u
				} else {
					s.live[u.ID] = u
				}
			}
			if len(page.Users) < q.Limit {
				break
			}
			last := page.Keys[len(page.Keys)-1]
			q.After = &last
		}
	}
	gq := store.Query{Limit: 1000}
	for {
		page, err := st.ListGroups(ctx, tenantID, gq)
		if err != nil {
			t.Fatalf("list groups: %v", err)
		}
		for _, g := range page.Groups {
			s.groups[g.ID] = g
		}
		if len(page.Groups) < gq.Limit {
			break
		}
		last := page.Keys[len(page.Keys)-1]
		gq.After = &last
	}
	var err error
	if s.members, err = st.GroupMembers(ctx, tenantID, slices.Sorted(maps.Keys(s.groups))); err != nil {
		t.Fatalf("group members: %v", err)
	}
	for after := ""; ; {
		evs, err := st.ListEvents(ctx, tenantID, after, 5000)
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		s.events = append(s.events, evs...)
		if len(evs) < 5000 {
			break
		}
		after = evs[len(evs)-1].ID
	}
	for after := ""; ; {
		as, err := st.ListAudit(ctx, tenantID, after, 5000)
		if err != nil {
			t.Fatalf("list audit: %v", err)
		}
		s.audit = append(s.audit, as...)
		if len(as) < 5000 {
			break
		}
		after = as[len(as)-1].ID
	}
	return s
}

// eventKey pairs an event with the audit entry of its change: both carry
// the resource and the change's time, written in one transaction.
type eventKey struct {
	resource string
	at       int64
}

// checkInvariants checks what must hold of any committed state of a
// tenant, whatever was killed when, and returns the violations found:
//
//   - every user (live or deleted) and every group has exactly as many
//     outbox events as changes were committed to it: its version (a
//     create writes version 1, every later change adds one, each in the
//     transaction that writes its event);
//   - every event has exactly one audit entry of its change (same
//     resource, same time, a 2xx status), and every 2xx audit entry of a
//     user or group without an event records a change that changed nothing
//     (no changed attributes, a PATCH or PUT);
//   - a live user is active exactly when its state is active;
//   - every group member is a live user or a group of the tenant;
//   - at most seats users hold a seat (seats 0: unlimited).
func checkInvariants(s snapshot, seats int) []string {
	var bad []string
	perResource := map[string]int{}
	byKey := map[eventKey]int{}
	for _, e := range s.events {
		perResource[e.ResourceID]++
		byKey[eventKey{e.ResourceID, e.At.UnixMicro()}]++
	}
	for k, n := range byKey {
		if n != 1 {
			bad = append(bad, fmt.Sprintf("%d events of %s at one instant %d", n, k.resource, k.at))
		}
	}
	check := func(kind, id string, version int64) {
		if n := perResource[id]; int64(n) != version {
			bad = append(bad, fmt.Sprintf("%s %s has version %d but %d events", kind, id, version, n))
		}
	}
	for id, u := range s.live {
		check("user", id, u.Version)
		if u.Active != (u.State == store.StateActive) {
			bad = append(bad, fmt.Sprintf("user %s: active %v in state %s", id, u.Active, u.State))
		}
	}
	for id, u := range s.tombs {
		check("deleted user", id, u.Version)
	}
	for id, g := range s.groups {
		check("group", id, g.Version)
	}
	known := map[string]bool{}
	for id := range s.live {
		known[id] = true
	}
	for id := range s.tombs {
		known[id] = true
	}
	for id := range s.groups {
		known[id] = true
	}
	for _, e := range s.events {
		if !known[e.ResourceID] {
			bad = append(bad, fmt.Sprintf("event %s (%s) of a resource that does not exist: %s", e.ID, e.Type, e.ResourceID))
		}
	}
	paired := map[eventKey]int{}
	for _, a := range s.audit {
		if a.Status < 200 || a.Status > 299 || (a.ResourceType != "User" && a.ResourceType != "Group") {
			continue
		}
		k := eventKey{a.ResourceID, a.At.UnixMicro()}
		if byKey[k] > 0 {
			paired[k]++
			continue
		}
		noop := len(a.Changed) == 0 && (strings.HasSuffix(a.Operation, ".patch") || strings.HasSuffix(a.Operation, ".replace"))
		if !noop {
			bad = append(bad, fmt.Sprintf("audit entry %s (%s %d on %s, changed %v) records a change without an event",
				a.ID, a.Operation, a.Status, a.ResourceID, a.Changed))
		}
	}
	for k := range byKey {
		if paired[k] != 1 {
			bad = append(bad, fmt.Sprintf("event of %s at %d has %d audit entries", k.resource, k.at, paired[k]))
		}
	}
	for gid, ms := range s.members {
		for _, m := range ms {
			_, isUser := s.live[m.ID]
			_, isGroup := s.groups[m.ID]
			if !isUser && !isGroup {
				bad = append(bad, fmt.Sprintf("group %s lists member %s, which is no live user or group", gid, m.ID))
			}
		}
	}
	if seats > 0 {
		active := 0
		for _, u := range s.live {
			if u.State == store.StateActive {
				active++
			}
		}
		if active > seats {
			bad = append(bad, fmt.Sprintf("%d active users hold seats; the tenant has %d", active, seats))
		}
	}
	return bad
}

// outcomes counts answers by status, for reports.
type outcomes struct {
	mu sync.Mutex
	m  map[int]int
}

func (o *outcomes) add(status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[int]int{}
	}
	o.m[status]++
}

// total is the number of answers counted.
func (o *outcomes) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, k := range o.m {
		n += k
	}
	return n
}

func (o *outcomes) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(o.m)) {
		parts = append(parts, fmt.Sprintf("%d×%d", o.m[k], k))
	}
	return strings.Join(parts, " ")
}

// TestCheckInvariantsCatches makes sure the invariant checks can fail:
// a consistent snapshot passes, and each kind of damage a crash could do
// is reported.
func TestCheckInvariantsCatches(t *testing.T) {
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	t2 := t1.Add(time.Second)
	base := func() snapshot {
		return snapshot{
			live: map[string]store.User{
				"u1": {ID: "u1", Active: true, State: store.StateActive, Version: 2},
				"u2": {ID: "u2", Active: false, State: store.StateInactive, Version: 1},
			},
			tombs:   map[string]store.User{},
			groups:  map[string]store.Group{"g1": {ID: "g1", Version: 1}},
			members: map[string][]store.Member{"g1": {{ID: "u1", Type: store.MemberUser}}},
			events: []store.Event{
				{ID: "e1", ResourceID: "u1", At: t1, Type: "user.created"},
				{ID: "e2", ResourceID: "u1", At: t2, Type: "user.updated"},
				{ID: "e3", ResourceID: "u2", At: t1, Type: "user.created"},
				{ID: "e4", ResourceID: "g1", At: t1, Type: "group.created"},
			},
			audit: []store.AuditEntry{
				{ID: "a1", ResourceType: "User", ResourceID: "u1", At: t1, Status: 201, Operation: "user.create"},
				{ID: "a2", ResourceType: "User", ResourceID: "u1", At: t2, Status: 200, Operation: "user.patch", Changed: []string{"displayName"}},
				{ID: "a3", ResourceType: "User", ResourceID: "u2", At: t1, Status: 201, Operation: "user.create"},
				{ID: "a4", ResourceType: "Group", ResourceID: "g1", At: t1, Status: 201, Operation: "group.create"},
				{ID: "a5", ResourceType: "User", ResourceID: "u2", At: t2, Status: 200, Operation: "user.patch"}, // a no-op
				{ID: "a6", ResourceType: "User", ResourceID: "u2", At: t2, Status: 403, Operation: "user.patch"}, // a refusal
			},
		}
	}
	if bad := checkInvariants(base(), 1); len(bad) != 0 {
		t.Fatalf("a consistent snapshot has violations: %v", bad)
	}
	damage := map[string]func(s *snapshot){
		"an event lost": func(s *snapshot) { s.events = s.events[1:] },
		"an event twice": func(s *snapshot) {
			s.events = append(s.events, store.Event{ID: "e9", ResourceID: "u1", At: t2})
		},
		"an audit entry lost": func(s *snapshot) { s.audit = s.audit[1:] },
		"a change audited without its event": func(s *snapshot) {
			s.audit = append(s.audit, store.AuditEntry{ID: "a9", ResourceType: "User", ResourceID: "u2", At: t2.Add(time.Second), Status: 200, Operation: "user.patch", Changed: []string{"active"}})
		},
		"a version without its event": func(s *snapshot) { u := s.live["u2"]; u.Version = 2; s.live["u2"] = u },
		"a member that is gone": func(s *snapshot) {
			s.members["g1"] = append(s.members["g1"], store.Member{ID: "gone", Type: store.MemberUser})
		},
		"active out of step with the state": func(s *snapshot) { u := s.live["u2"]; u.Active = true; s.live["u2"] = u },
		"seats exceeded": func(s *snapshot) {
			u := s.live["u2"]
			u.Active, u.State = true, store.StateActive
			s.live["u2"] = u
		},
		"an event of nothing": func(s *snapshot) {
			s.events = append(s.events, store.Event{ID: "e8", ResourceID: "nobody", At: t1})
		},
	}
	for name, f := range damage {
		s := base()
		f(&s)
		if bad := checkInvariants(s, 1); len(bad) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
}
