package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/scimd/scimd/internal/dbopen"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/store"
)

func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i))
	}
	twenty := hundred[:20]
	tests := []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{7}, 99, 7},
		{"p50 of 1..100", hundred, 50, 50},
		{"p95 of 1..100", hundred, 95, 95},
		{"p99 of 1..100", hundred, 99, 99},
		{"p100 is the max", hundred, 100, 100},
		{"p95 of 20 is the 19th", twenty, 95, 19},
		{"p50 of 20 is the 10th", twenty, 50, 10},
		{"p99 of 20 is the max", twenty, 99, 20},
		{"fractional p rounds the rank up", twenty, 99.9, 20},
		{"tiny p is the min", twenty, 0.1, 1},
		{"p50 of two is the lower", []time.Duration{3, 9}, 50, 3},
		{"p51 of two is the upper", []time.Duration{3, 9}, 51, 9},
	}
	for _, tt := range tests {
		if got := percentile(tt.values, tt.p); got != tt.want {
			t.Errorf("%s: percentile(p%v) = %d, want %d", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	r := &recorder{lat: []time.Duration{4 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}, errors: 1, users: 400}
	row := summarize("x", "scim", 2, r, 2*time.Second)
	if row.OK != 4 || row.Errors != 1 || row.RPS != 2 || row.UsersPerSec != 200 {
		t.Errorf("counts: %+v", row)
	}
	if row.P50ms != 2 || row.P99ms != 4 || row.MaxMs != 4 || row.MeanMs != 2.5 {
		t.Errorf("latencies: %+v", row)
	}
}

func TestSelectPhases(t *testing.T) {
	tests := []struct {
		spec    string
		want    []string
		wantErr string
	}{
		{spec: "all", want: phaseOrder},
		{spec: " all , ", want: phaseOrder},
		{spec: "none", want: nil},
		{spec: "patch,get", want: []string{"get", "patch"}},
		{spec: "lookups", want: []string{"lookup-username", "lookup-externalid", "lookup-email"}},
		{spec: "ceilings,mixed", want: []string{"http-lookup", "sql-lookup", "sql-insert", "sql-update", "http-mixed", "mixed"}},
		{spec: "all,-walks,-ceilings", want: []string{"lookup-username", "lookup-externalid", "lookup-email", "get",
			"page-shallow", "page-deep", "console", "create", "bulk", "patch", "mixed", "noisy"}},
		{spec: "noisy", want: []string{"noisy"}},
		{spec: "console", want: []string{"console"}},
		{spec: "walks,console,patch", want: []string{"index-walk", "cursor-walk", "console", "patch"}},
		{spec: "-index-walk", want: slices.DeleteFunc(slices.Clone(phaseOrder), func(s string) bool { return s == "index-walk" })},
		{spec: "lookups,-lookup-email", want: []string{"lookup-username", "lookup-externalid"}},
		{spec: "get,get", want: []string{"get"}},
		{spec: "", wantErr: "empty"},
		{spec: "lookup", wantErr: `unknown phase "lookup"`},
		{spec: "get,-get", wantErr: "selects no phase"},
	}
	for _, tt := range tests {
		got, err := selectPhases(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("selectPhases(%q) error %v, want one containing %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("selectPhases(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
		}
	}
	// Every group names known phases only.
	for g, names := range phaseGroups {
		for _, n := range names {
			if !slices.Contains(phaseOrder, n) {
				t.Errorf("group %s names unknown phase %s", g, n)
			}
		}
	}
}

func TestTopValue(t *testing.T) {
	body := []byte(`{"Resources":[{"id":"a","emails":[{"value":"x"}]}], "itemsPerPage" : 1,"nextCursor":"VZ\"q","totalResults":7}`)
	if n := topInt(body, "totalResults"); n != 7 {
		t.Errorf("totalResults = %d", n)
	}
	if n := topInt(body, "itemsPerPage"); n != 1 {
		t.Errorf("itemsPerPage = %d", n)
	}
	if s := topString(body, "nextCursor"); s != `VZ"q` {
		t.Errorf("nextCursor = %q", s)
	}
	if n := topInt(body, "startIndex"); n != -1 {
		t.Errorf("absent startIndex = %d, want -1", n)
	}
	if s := topString([]byte(`{"nextCursor":null}`), "nextCursor"); s != "" {
		t.Errorf("null nextCursor = %q", s)
	}
}

func TestRatios(t *testing.T) {
	rows := []Row{
		{Phase: "lookup-username", RPS: 100}, {Phase: "http-lookup", RPS: 1000},
		{Phase: "create", RPS: 50}, {Phase: "sql-insert", RPS: 0}, // a ceiling without a rate gives no ratio
		{Phase: "mixed", RPS: 30}, {Phase: "http-mixed", RPS: 600},
	}
	got := ratios(rows)
	want := []Ratio{
		{Phase: "lookup-username", Ceiling: "http-lookup", PhaseRPS: 100, CeilingRPS: 1000, Ratio: 0.1},
		{Phase: "mixed", Ceiling: "http-mixed", PhaseRPS: 30, CeilingRPS: 600, Ratio: 0.05},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ratios = %+v, want %+v", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-users", "10"},                                                // neither a database nor -base
		{"-base", "http://127.0.0.1:1/scim/v2"},                         // no token
		{"-base", "http://example.com/scim/v2", "-token", "t"},          // not loopback
		{"-database-url", "mysql://x", "-phases", "nope"},               // unknown phase
		{"-database-url", "sqlite:///x.db", "-concurrency", "0"},        // no workers
		{"-database-url", "sqlite:///x.db", "-page-size", "5000"},       // above scimd's maximum
		{"-database-url", "sqlite:///x.db", "-duration", "0s"},          // no time
		{"-database-url", "sqlite:///x.db", "stray"},                    // positional
		{"-database-url", "sqlite:///x.db", "-members", "-1"},           // negative
		{"-database-url", "sqlite:///x.db", "-base", "ftp://127.0.0.1"}, // scheme
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	c, err := parseFlags([]string{"-database-url", "sqlite:///x.db", "-base", "http://[::1]:8080/scim/v2", "-token", "t"}, io.Discard)
	if err != nil || c.concurrency != 16 || len(c.phases) != len(phaseOrder) {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	if _, err := dbopen.Parse("postgres://u:secret@h/db"); err != nil {
		t.Error(err)
	}
	if r := dbopen.Redact("postgres://u:secret@h/db"); strings.Contains(r, "secret") {
		t.Errorf("redact left the password: %s", r)
	}
}

// TestSeededDocumentMatchesSCIM checks that a seeded row is the row the
// SCIM layer writes for the same Okta create.
func TestSeededDocumentMatchesSCIM(t *testing.T) {
	ctx := context.Background()
	db, err := openStore(ctx, dbopen.Target{Kind: dbopen.SQLite, Path: filepath.Join(t.TempDir(), "doc.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tid, err := ensureTenant(ctx, db, "bench")
	if err != nil {
		t.Fatal(err)
	}
	svc := provision.New(db, nil, nil)
	secret, _, err := svc.CreateToken(ctx, benchActor, provision.TokenSpec{TenantID: tid})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve(db, svc, ratelimit.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	p := seedProfile(4321)
	req, _ := http.NewRequest("POST", srv.url+"/Users", bytes.NewReader(p.postBody()))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	got, err := db.GetUserByUserName(ctx, tid, p.userName)
	if err != nil {
		t.Fatal(err)
	}
	want := p.storeUser(tid, got.Created)
	want.ID = got.ID
	var gotDoc, wantDoc any
	if err := json.Unmarshal(got.Doc, &gotDoc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want.Doc, &wantDoc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotDoc, wantDoc) {
		t.Errorf("stored document\n got %s\nwant %s", got.Doc, want.Doc)
	}
	got.Doc, want.Doc = nil, nil
	got.Modified = want.Modified
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored columns\n got %+v\nwant %+v", got, want)
	}
}

// TestRunEveryPhase seeds a temp SQLite store with 200 users and runs
// every phase briefly against the in-process server: none may fail.
func TestRunEveryPhase(t *testing.T) {
	testRunEveryPhase(t, "sqlite://"+filepath.Join(t.TempDir(), "bench.db"))
}

// TestRunEveryPhasePostgres is the same on a fresh PostgreSQL database
// (skipped without TEST_DATABASE_URL).
func TestRunEveryPhasePostgres(t *testing.T) {
	testRunEveryPhase(t, pgtest.URL(t))
}

func testRunEveryPhase(t *testing.T, dbURL string) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run.json")
	var stdout, stderr bytes.Buffer
	args := []string{"-database-url", dbURL, "-users", "200", "-groups", "4", "-members", "30",
		"-concurrency", "4", "-duration", "100ms", "-sample", "50", "-json", out}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	rep := readReport(t, out)
	if rep.Seed == nil || rep.Seed.UsersSeeded != 200 || rep.Seed.GroupsSeeded != 4 || rep.Seed.MembersSeeded != 120 {
		t.Errorf("seed: %+v", rep.Seed)
	}
	seen := map[string]bool{}
	for _, r := range rep.Rows {
		seen[r.Phase] = true
		if r.Errors != 0 {
			t.Errorf("%s: %d errors: %q", r.Phase, r.Errors, r.ErrorSamples)
		}
		if r.Skipped {
			t.Errorf("%s skipped: %s", r.Phase, r.Note)
		}
		if r.Phase == "cursor-walk" {
			if !r.Unsupported && r.Users == 0 {
				t.Errorf("cursor-walk neither unsupported nor walked: %+v", r)
			}
			continue
		}
		if r.OK == 0 || r.RPS <= 0 || r.P50ms <= 0 || r.MaxMs < r.P99ms || r.P99ms < r.P95ms || r.P95ms < r.P50ms {
			t.Errorf("%s: implausible row %+v", r.Phase, r)
		}
	}
	for _, p := range phaseOrder {
		if !seen[p] {
			t.Errorf("no row for phase %s", p)
		}
	}
	for _, r := range rep.Rows {
		switch r.Phase {
		case "index-walk":
			if r.Users < 200 || r.Truncated {
				t.Errorf("index-walk read %d users: %+v", r.Users, r)
			}
		case "page-shallow", "page-deep":
			if r.UsersPerSec <= 0 {
				t.Errorf("%s: no users/s", r.Phase)
			}
		}
	}
	if len(rep.Ratios) < 5 {
		t.Errorf("ratios: %+v", rep.Ratios)
	}
	if rep.Machine.NumCPU < 1 || rep.Machine.GOOS == "" || rep.Settings.Users != 200 || !rep.Settings.InProcess {
		t.Errorf("machine/settings: %+v %+v", rep.Machine, rep.Settings)
	}
	for _, want := range []string{"lookup-username", "ratio", "http-lookup"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}

	// A second run finds the users and groups and seeds nothing; the
	// SQL insert ceiling left no rows behind.
	out2 := filepath.Join(dir, "run2.json")
	args = []string{"-database-url", dbURL, "-users", "200", "-groups", "4", "-members", "30",
		"-concurrency", "2", "-duration", "50ms", "-phases", "lookup-username", "-json", out2}
	stderr.Reset()
	if err := run(context.Background(), args, io.Discard, &stderr); err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr.String())
	}
	rep2 := readReport(t, out2)
	if rep2.Seed.UsersSeeded != 0 || rep2.Seed.GroupsSeeded != 0 || rep2.Seed.UsersBefore < 200 {
		t.Errorf("second seed: %+v", rep2.Seed)
	}
	target, err := dbopen.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := openStore(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tn, err := db.GetTenantByName(context.Background(), "bench")
	if err != nil {
		t.Fatal(err)
	}
	page, err := db.ListUsers(context.Background(), tn.ID, store.Query{
		Filter: store.Cmp{Attr: "userName", Op: store.OpSw, Value: "sqlceiling."}})
	if err != nil || page.Total != 0 {
		t.Errorf("rows of the insert ceiling left: %d (%v)", page.Total, err)
	}
}

func readReport(t *testing.T, path string) Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// cursorServer answers /Users with RFC 9865 cursor pages over n users,
// or 400 for a cursor when it does not support them.
func cursorServer(n int, supported bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path == "/ServiceProviderConfig" {
			_, _ = io.WriteString(w, `{"pagination":{"cursor":`+strconv.FormatBool(supported)+`,"index":true}}`)
			return
		}
		if !q.Has("cursor") {
			_, _ = io.WriteString(w, `{"totalResults":`+strconv.Itoa(n)+`,"itemsPerPage":0,"Resources":[]}`)
			return
		}
		if !supported {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"scimType":"invalidValue"}`)
			return
		}
		start, _ := strconv.Atoi(strings.TrimPrefix(q.Get("cursor"), "c"))
		count, _ := strconv.Atoi(q.Get("count"))
		end := min(start+count, n)
		var res []string
		for i := start; i < end; i++ {
			res = append(res, `{"id":"u`+strconv.Itoa(i)+`"}`)
		}
		next := ""
		if end < n {
			next = `,"nextCursor":"c` + strconv.Itoa(end) + `"`
		}
		_, _ = io.WriteString(w, `{"Resources":[`+strings.Join(res, ",")+`],"itemsPerPage":`+strconv.Itoa(end-start)+next+`}`)
	}))
}

func TestCursorWalk(t *testing.T) {
	for _, supported := range []bool{true, false} {
		ts := cursorServer(25, supported)
		b := &bench{cfg: config{pageSize: 10, walkMax: time.Minute}, scim: newClient(ts.URL, "", 1, 5*time.Second)}
		row := b.cursorWalk(context.Background())
		ts.Close()
		if supported {
			if row.Unsupported || row.Errors != 0 || row.Users != 25 || row.OK != 3 {
				t.Errorf("supported: %+v", row)
			}
		} else if !row.Unsupported || row.Errors != 0 {
			t.Errorf("unsupported: %+v", row)
		}
	}
}

// TestConsolePhase runs the console phase against the in-process server
// over a small SQLite directory: every operation has a rate and no
// errors, and the walk goes past the first page. A second, short run
// finds the admin the first one created and signs in again.
func TestConsolePhase(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "console.db")
	// Long enough for every operation to come up under -race, where a
	// page takes ~100 ms on a small machine.
	for i, d := range []string{"2s", "300ms"} {
		out := filepath.Join(dir, "run"+strconv.Itoa(i)+".json")
		var stderr bytes.Buffer
		args := []string{"-database-url", dbURL, "-users", "120", "-groups", "2", "-members", "10",
			"-concurrency", "3", "-duration", d, "-sample", "40", "-phases", "console", "-json", out}
		if err := run(context.Background(), args, io.Discard, &stderr); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, stderr.String())
		}
		rep := readReport(t, out)
		rows := map[string]Row{}
		for _, r := range rep.Rows {
			rows[r.Phase] = r
			if r.Skipped || r.Errors != 0 || r.OK == 0 || r.RPS <= 0 || r.P50ms <= 0 || r.P99ms < r.P50ms {
				t.Errorf("run %d: %s: %+v", i, r.Phase, r)
			}
		}
		if _, ok := rows["console"]; !ok {
			t.Errorf("run %d: no console row in %+v", i, rep.Rows)
		}
		if i > 0 {
			continue
		}
		for _, op := range consoleOps {
			if _, ok := rows["console/"+op]; !ok {
				t.Errorf("no row console/%s in %+v", op, rep.Rows)
			}
		}
		// 121 users (the seeded ones and the admin) are 3 pages of 50.
		if n := rows["console/walk"].Note; !strings.Contains(n, "deepest page") || strings.Contains(n, "deepest page 1 ") {
			t.Errorf("walk note %q", n)
		}
	}
}

func TestConsoleNeedsDatabase(t *testing.T) {
	b := &bench{pool: []poolUser{{id: "x", userName: "x"}}}
	rows := b.run(context.Background(), "console")
	if len(rows) != 1 || !rows[0].Skipped || !strings.Contains(rows[0].Note, "-database-url") {
		t.Errorf("console without a database: %+v", rows)
	}
}

func TestNextHref(t *testing.T) {
	body := []byte(`<nav class="pager"><a href="/admin/users?before=Yg&amp;sort=lastModified" rel="prev" id="prev">Previous</a>
    <a href="/admin/users?after=eyJ0IjoidCJ9&amp;order=desc&amp;sort=lastModified" rel="next" id="next">Next</a></nav>`)
	if got, want := nextHref(body), "/admin/users?after=eyJ0IjoidCJ9&order=desc&sort=lastModified"; got != want {
		t.Errorf("nextHref = %q, want %q", got, want)
	}
	if got := nextHref([]byte(`<a href="/admin/users" rel="prev">`)); got != "" {
		t.Errorf("nextHref without a next link = %q", got)
	}
	if !containsHTML([]byte(`<dd>a&#43;b@example.com</dd>`), "a+b@example.com") || containsHTML([]byte(`<dd>ab</dd>`), "a+b") {
		t.Error("containsHTML")
	}
	if firstChars("amara.abara.0@example.com", 6) != "amara." || firstChars("äbc", 2) != "äb" || firstChars("ab", 6) != "ab" {
		t.Error("firstChars")
	}
}
