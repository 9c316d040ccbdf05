package chaos

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

const (
	crashWorkers = 16
	crashRounds  = 3
	crashGroups  = 4
	crashSeats   = 40
	// crashRoundRequests is the fewest answers a round gets before its kill.
	crashRoundRequests = 250
)

// ustate is what the test knows of one user: whether it is live, its
// active flag and displayName, and its memberships (bit i: group i).
type ustate struct {
	exists  bool
	active  bool
	display string
	groups  uint8
}

func (s ustate) String() string {
	if !s.exists {
		return "absent"
	}
	return fmt.Sprintf("live active=%v displayName=%q groups=%04b", s.active, s.display, s.groups)
}

// muser is one user a worker owns. Only its worker sends requests about
// it, one at a time, so at most its last request is unanswered.
type muser struct {
	name  string
	id    string  // "" until a create is answered (or found after a crash)
	acked ustate  // the state after the last answered request
	maybe *ustate // the state if the unanswered last request took effect
}

// sent is one answered request whose audit entry must exist.
type sent struct {
	reqID  string
	status int
}

// crashStats are the figures of a crash test.
type crashStats struct {
	tried, acked, refused, unanswered atomic.Int64
	outcomes                          outcomes
}

// answered is the number of requests answered so far.
func (s *crashStats) answered() int64 {
	return int64(s.outcomes.total())
}

// worker drives requests about its own users.
type worker struct {
	n      int
	c      *client
	groups []string
	rng    *rand.Rand
	users  []*muser
	seq    int
	stats  *crashStats
	sent   []sent   // answered 2xx and 403 requests
	errs   []string // unexpected answers
}

// TestCrashUnderWrites kills scimd with SIGKILL while 16 clients write, a
// few times, and checks after every restart that every answered request
// has its effect, an unanswered one all or nothing of it, and the
// invariants of checkInvariants hold.
func TestCrashUnderWrites(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { crashUnderWrites(t, b.url(t)) })
	}
}

func crashUnderWrites(t *testing.T, dbURL string) {
	began := time.Now()
	tn := newTenant(t, dbURL, "acme", "seats="+strconv.Itoa(crashSeats), "deprovision_brake=false")
	st := openStore(t, dbURL)
	srv := serve(t, "scimd", dbURL)
	setup := newClient(srv.base, tn.token)
	groups := make([]string, crashGroups)
	for i := range groups {
		r, err := setup.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": fmt.Sprintf("group-%d", i)}, "")
		if err != nil || r.status != 201 {
			t.Fatalf("create group: %v %v", err, r)
		}
		groups[i] = r.str("id")
	}
	stats := &crashStats{}
	workers := make([]*worker, crashWorkers)
	for i := range workers {
		workers[i] = &worker{n: i, groups: groups, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i))), stats: stats}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 99))
	problems := 0
	for round := range crashRounds {
		roundStart := time.Now()
		before, triedBefore := stats.answered(), stats.tried.Load()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, w := range workers {
			w.c = newClient(srv.base, tn.token)
			wg.Add(1)
			go func() { defer wg.Done(); w.run(round, stop) }()
		}
		// Kill at a random moment once the clients are well under way:
		// after at least 1.5 s and crashRoundRequests answers (a server
		// built with -race over SQLite answers a few dozen a second), then
		// up to one more second.
		time.Sleep(1500 * time.Millisecond)
		for deadline := time.Now().Add(time.Minute); stats.answered()-before < crashRoundRequests && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(time.Second))))
		inFlight := stats.tried.Load() - stats.answered() - stats.unanswered.Load()
		srv.kill()
		close(stop)
		wg.Wait()
		killed := time.Now()
		settle(t, dbURL)
		srv = serve(t, fmt.Sprintf("scimd (restart %d)", round+1), dbURL)
		t.Logf("round %d: %d requests in %v, ~%d in flight at the kill; restart (migrations, start-up) took %v",
			round+1, stats.tried.Load()-triedBefore, killed.Sub(roundStart).Round(time.Millisecond), inFlight, time.Since(killed).Round(time.Millisecond))
		problems += verifyCrash(t, dbURL, st, tn, workers, round+1)
		if t.Failed() {
			break
		}
	}
	unexpected := 0
	for _, w := range workers {
		for _, e := range w.errs {
			unexpected++
			t.Errorf("worker %d: %s", w.n, e)
		}
	}
	t.Logf("%d kills: %d requests tried, %d answered 2xx, %d refused (403 policy.seats), %d unanswered at a kill, %d unexpected answers; answers %s; losses, half-applied, phantoms, invariant violations and audit mismatches: %d; %v",
		crashRounds, stats.tried.Load(), stats.acked.Load(), stats.refused.Load(), stats.unanswered.Load(), unexpected, &stats.outcomes, problems, time.Since(began).Round(time.Millisecond))
}

// run sends requests until the server stops answering or stop closes.
func (w *worker) run(round int, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if !w.step(round) {
			return
		}
	}
}

func (w *worker) live() []*muser {
	var l []*muser
	for _, u := range w.users {
		if u.acked.exists && u.maybe == nil {
			l = append(l, u)
		}
	}
	return l
}

// step sends one request and records its outcome; false when no answer
// came (the server is gone).
func (w *worker) step(round int) bool {
	w.seq++
	reqID := fmt.Sprintf("c%d-w%d-%d", round, w.n, w.seq)
	live := w.live()
	var (
		u             *muser
		method, path  string
		body          any
		after         ustate
		want          int
		seatRefusable bool
	)
	r := w.rng.Float64()
	switch {
	case len(live) < 3 || (r < 0.15 && len(live) < 8):
		u = &muser{name: fmt.Sprintf("w%d-u%d@example.com", w.n, len(w.users))}
		w.users = append(w.users, u)
		after = ustate{exists: true, active: w.rng.Float64() < 0.8, display: "d0"}
		method, path, body, want = "POST", "/Users", userDoc(u.name, after.display, after.active), 201
		seatRefusable = after.active
	default:
		u = live[w.rng.IntN(len(live))]
		after = u.acked
		r2 := w.rng.Float64()
		switch {
		case r2 < 0.30:
			after.active = !after.active
			method, path, body, want = "PATCH", "/Users/"+u.id, setActive(after.active), 200
			seatRefusable = after.active
		case r2 < 0.50:
			after.display = fmt.Sprintf("d%d", w.seq)
			method, path, body, want = "PUT", "/Users/"+u.id, userDoc(u.name, after.display, after.active), 200
		case r2 < 0.85:
			g := w.rng.IntN(len(w.groups))
			bit := uint8(1) << g
			method, path, want = "PATCH", "/Groups/"+w.groups[g], 204
			if after.groups&bit == 0 {
				body = addMember(u.id)
			} else {
				body = removeMember(u.id)
			}
			after.groups ^= bit
		default:
			after = ustate{}
			method, path, want = "DELETE", "/Users/"+u.id, 204
		}
	}
	w.stats.tried.Add(1)
	rep, err := w.c.do(method, path, body, reqID)
	if err != nil {
		w.stats.unanswered.Add(1)
		u.maybe = &after
		return false
	}
	w.stats.outcomes.add(rep.status)
	switch {
	case rep.status == want:
		w.stats.acked.Add(1)
		if method == "POST" {
			u.id = rep.str("id")
		}
		u.acked = after
		w.sent = append(w.sent, sent{reqID, rep.status})
	case rep.status == 403 && seatRefusable && strings.Contains(rep.str("detail"), "policy.seats"):
		w.stats.refused.Add(1)
		w.sent = append(w.sent, sent{reqID, rep.status})
	default:
		w.errs = append(w.errs, fmt.Sprintf("%s %s (%s): want %d, got %s", method, path, reqID, want, rep))
		if rep.status >= 500 {
			u.maybe = &after // an internal error may or may not have committed
		}
	}
	return true
}

// verifyCrash checks, with the restarted server idle, that the database
// holds exactly the effects of the answered requests (and all or nothing
// of each unanswered one), the invariants and one audit entry per
// answered request; then it makes the observed state the known one. It
// returns the number of problems it reported.
func verifyCrash(t *testing.T, dbURL string, st store.Store, tn tenant, workers []*worker, round int) int {
	t.Helper()
	s := readSnapshot(t, st, tn.id)
	byName := map[string]store.User{}
	for _, u := range s.live {
		byName[store.Fold(u.UserName)] = u
	}
	groupIdx := map[string]int{}
	for i, g := range workers[0].groups {
		groupIdx[g] = i
	}
	memberOf := map[string]uint8{}
	for gid, ms := range s.members {
		for _, m := range ms {
			memberOf[m.ID] |= 1 << groupIdx[gid]
		}
	}
	claimed := map[string]bool{}
	losses, halfDone, phantoms := 0, 0, 0
	for _, w := range workers {
		for _, u := range w.users {
			var actual ustate
			if u.id == "" { // an unanswered create: did it commit?
				if lu, ok := byName[store.Fold(u.name)]; ok {
					u.id = lu.ID
				}
			}
			if lu, ok := s.live[u.id]; ok && u.id != "" {
				actual = ustate{exists: true, active: lu.Active, display: lu.DisplayName, groups: memberOf[lu.ID]}
				claimed[u.id] = true
			} else if _, ok := s.tombs[u.id]; ok && u.id != "" {
				claimed[u.id] = true
			}
			switch {
			case actual == u.acked:
			case u.maybe != nil && actual == *u.maybe:
			case u.maybe != nil:
				halfDone++
				t.Errorf("round %d: user %s (%s) is %v: neither its last answered state %v nor the effect of the unanswered request %v",
					round, u.name, u.id, actual, u.acked, *u.maybe)
			default:
				losses++
				t.Errorf("round %d: user %s (%s) is %v; the answered requests left it %v", round, u.name, u.id, actual, u.acked)
			}
			u.acked, u.maybe = actual, nil
		}
	}
	for id, u := range s.live {
		if !claimed[id] {
			phantoms++
			t.Errorf("round %d: live user %s (%s) no request created", round, id, u.UserName)
		}
	}
	for id := range s.tombs {
		if !claimed[id] {
			phantoms++
			t.Errorf("round %d: deleted user %s no request created", round, id)
		}
	}
	bad := checkInvariants(s, crashSeats)
	// The seats `scimd tenant show` reports in use are the active users.
	var show struct {
		Seats struct{ Licensed, Used int }
	}
	if err := json.Unmarshal([]byte(mustCLI(t, dbURL, "tenant", "show", tn.name)), &show); err != nil {
		t.Fatalf("tenant show: %v", err)
	}
	active := 0
	for _, u := range s.live {
		if u.State == store.StateActive {
			active++
		}
	}
	if show.Seats.Licensed != crashSeats || show.Seats.Used != active {
		bad = append(bad, fmt.Sprintf("tenant show: %d of %d seats used; %d users are active", show.Seats.Used, show.Seats.Licensed, active))
	}
	for _, b := range bad {
		t.Errorf("round %d: %s", round, b)
	}
	audited := map[string][]int{}
	for _, a := range s.audit {
		audited[a.RequestID] = append(audited[a.RequestID], a.Status)
	}
	missing := 0
	for _, w := range workers {
		for _, r := range w.sent {
			// A 2xx answer's entry has a 2xx status (a group PATCH answered
			// 204 is recorded as 200); a refusal's has the refusal's.
			if got := audited[r.reqID]; len(got) != 1 || got[0]/100 != r.status/100 || (r.status >= 300 && got[0] != r.status) {
				missing++
				t.Errorf("round %d: request %s answered %d has audit entries with statuses %v", round, r.reqID, r.status, got)
			}
		}
	}
	t.Logf("round %d verified: %d live users (%d active of %d seats), %d deleted, %d events, %d audit entries; losses %d, half-applied %d, phantoms %d, invariant violations %d, audit mismatches %d",
		round, len(s.live), active, crashSeats, len(s.tombs), len(s.events), len(s.audit), losses, halfDone, phantoms, len(bad), missing)
	return losses + halfDone + phantoms + len(bad) + missing
}

const importRecords = 10_000

// TestCrashDuringImport kills `scimd import` twice midway through 10 000
// records and runs it again to the end: every record exists exactly once,
// the re-run reports the records applied before as unchanged and creates
// only the others, and each user has one user.created event and one audit
// entry of its creation.
func TestCrashDuringImport(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { crashDuringImport(t, b.url(t)) })
	}
}

var summaryLine = regexp.MustCompile(`(?m)^  (\w+)\s+(\d+)`)

func crashDuringImport(t *testing.T, dbURL string) {
	began := time.Now()
	tn := newTenant(t, dbURL, "acme")
	file := filepath.Join(t.TempDir(), "users.csv")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"userName", "externalId", "displayName", "emails.work", "name.givenName", "name.familyName"})
	want := map[string]bool{}
	for i := range importRecords {
		name := fmt.Sprintf("imp%05d@example.com", i)
		want[name] = true
		_ = cw.Write([]string{name, fmt.Sprintf("ext-%05d", i), fmt.Sprintf("User %05d", i), name, "Given", fmt.Sprintf("F%05d", i)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, dbURL)
	count := func() int {
		n, err := st.CountUsers(t.Context(), tn.id, store.StateActive, store.StateInactive)
		if err != nil {
			t.Fatalf("count users: %v", err)
		}
		return n
	}
	// Two kills, each after at least another 1 000 records were applied.
	applied := 0
	for kill := 1; kill <= 2; kill++ {
		p := start(t, binary(t), fmt.Sprintf("scimd import (run %d)", kill), dbURL, nil, "import", "--tenant", tn.name, file)
		target := applied + 1000
		deadline := time.Now().Add(3 * time.Minute)
		for count() < target {
			if p.exited() {
				t.Fatalf("the import ended before the kill (%d users, waiting for %d): %v\n%s", count(), target, p.err, clip(p.stderr.String(), 2000))
			}
			if time.Now().After(deadline) {
				t.Fatalf("the import applied %d records in 3 minutes, waiting for %d", count(), target)
			}
			time.Sleep(50 * time.Millisecond)
		}
		p.kill()
		settle(t, dbURL)
		applied = count()
		if applied >= importRecords {
			t.Fatalf("the import finished before the kill took effect (%d users)", applied)
		}
		t.Logf("kill %d: import killed with %d of %d users applied", kill, applied, importRecords)
		for _, b := range checkInvariants(readSnapshot(t, st, tn.id), 0) {
			t.Errorf("after kill %d: %s", kill, b)
		}
	}
	p := start(t, binary(t), "scimd import (final run)", dbURL, nil, "import", "--tenant", tn.name, file)
	if err := p.wait(5 * time.Minute); err != nil {
		t.Fatalf("final import: %v\n%s\n%s", err, p.stdout.String(), clip(p.stderr.String(), 3000))
	}
	got := map[string]int{}
	for _, m := range summaryLine.FindAllStringSubmatch(p.stdout.String(), -1) {
		got[m[1]], _ = strconv.Atoi(m[2])
	}
	wantSummary := map[string]int{"records": importRecords, "created": importRecords - applied, "unchanged": applied, "updated": 0, "refused": 0, "failed": 0}
	for k, v := range wantSummary {
		if got[k] != v {
			t.Errorf("final run summary: %s = %d, want %d\n%s", k, got[k], v, p.stdout.String())
		}
	}

	s := readSnapshot(t, st, tn.id)
	if len(s.live) != importRecords || len(s.tombs) != 0 {
		t.Errorf("%d live users and %d deleted after the import, want %d and 0", len(s.live), len(s.tombs), importRecords)
	}
	names := map[string]int{}
	for _, u := range s.live {
		names[store.Fold(u.UserName)]++
	}
	dups, absent := 0, 0
	for n, k := range names {
		if k != 1 {
			dups++
			t.Errorf("userName %s exists %d times", n, k)
		}
		if !want[n] {
			t.Errorf("user %s is not in the file", n)
		}
	}
	for n := range want {
		if names[n] == 0 {
			absent++
		}
	}
	if absent > 0 {
		t.Errorf("%d records of the file have no user", absent)
	}
	created := map[string]int{}
	for _, e := range s.events {
		if e.Type == "user.created" {
			created[e.ResourceID]++
		} else {
			t.Errorf("event %s %s: the import should only create", e.Type, e.ResourceID)
		}
	}
	creates := map[string]int{}
	for _, a := range s.audit {
		if a.Operation == "user.create" && a.Status == 201 {
			creates[a.ResourceID]++
		}
	}
	for id, u := range s.live {
		if created[id] != 1 || creates[id] != 1 || u.Version != 1 {
			t.Errorf("user %s: version %d, %d user.created events, %d creation audit entries; want 1 each", u.UserName, u.Version, created[id], creates[id])
		}
	}
	bad := checkInvariants(s, 0)
	for _, b := range bad {
		t.Errorf("after the import: %s", b)
	}
	t.Logf("import of %d records killed twice (at %d applied) and re-run: %d users, duplicates %d, missing %d, events %d, audit entries %d, invariant violations %d; final run: %v; %v",
		importRecords, applied, len(s.live), dups, absent, len(s.events), len(s.audit), len(bad), got, time.Since(began).Round(time.Millisecond))
}
