package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/store"
)

// phaseOrder lists every phase in the order a run takes them: each
// ceiling runs next to the phases it is compared with, reads before
// writes.
var phaseOrder = []string{
	"http-lookup", "sql-lookup",
	"lookup-username", "lookup-externalid", "lookup-email", "get",
	"page-shallow", "page-deep", "index-walk", "cursor-walk",
	"console",
	"sql-insert", "create", "bulk",
	"sql-update", "patch",
	"http-mixed", "mixed",
}

// phaseGroups are names -phases accepts for several phases at once.
var phaseGroups = map[string][]string{
	"lookups":  {"lookup-username", "lookup-externalid", "lookup-email"},
	"pages":    {"page-shallow", "page-deep"},
	"walks":    {"index-walk", "cursor-walk"},
	"console":  {"console"},
	"ceilings": {"http-lookup", "sql-lookup", "sql-insert", "sql-update", "http-mixed"},
	"writes":   {"sql-insert", "create", "bulk", "sql-update", "patch", "http-mixed", "mixed"},
}

// selectPhases reads a -phases value: a comma-separated list of phase
// names, group names (lookups, pages, walks, console, ceilings, writes)
// and "all"; a name prefixed with "-" is removed, and a list made only of
// removals starts from all. "none" selects nothing (seed and stop). The
// result is in run order.
func selectPhases(spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "none" {
		return nil, nil
	}
	var tokens []string
	for t := range strings.SplitSeq(spec, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, t)
		}
	}
	if len(tokens) == 0 {
		return nil, errors.New("-phases is empty (use all, none or a list)")
	}
	sel := map[string]bool{}
	if !slices.ContainsFunc(tokens, func(t string) bool { return !strings.HasPrefix(t, "-") }) {
		for _, p := range phaseOrder {
			sel[p] = true
		}
	}
	for _, t := range tokens {
		name, neg := strings.CutPrefix(t, "-")
		var names []string
		switch {
		case name == "all":
			names = phaseOrder
		case phaseGroups[name] != nil:
			names = phaseGroups[name]
		case slices.Contains(phaseOrder, name):
			names = []string{name}
		default:
			return nil, fmt.Errorf("-phases: unknown phase %q (phases: %s; groups: all, none, %s)",
				name, strings.Join(phaseOrder, ", "), strings.Join(groupNames(), ", "))
		}
		for _, n := range names {
			sel[n] = !neg
		}
	}
	var out []string
	for _, p := range phaseOrder {
		if sel[p] {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-phases %q selects no phase", spec)
	}
	return out, nil
}

func groupNames() []string {
	var g []string
	for k := range phaseGroups {
		g = append(g, k)
	}
	sort.Strings(g)
	return g
}

// bench is one run against one SCIM server.
type bench struct {
	cfg      config
	log      io.Writer
	scim     *client
	tenantID string
	// seeded: the tenant holds the seeded users 0 … users-1, so lookups
	// can name any of them; otherwise they name pool users.
	seeded bool
	users  int
	// pool holds existing users for get and the phases that flip active.
	// Each pool user is changed by one worker at a time only.
	pool    []poolUser
	tag     string // unique per run, in the userNames of created users
	seq     atomic.Int64
	sqlc    *sqlCeiling // nil without a database
	db      store.Store // the database seeded; nil without -database-url
	nothing *client     // to the do-nothing server
	cpu     cpuMeter
}

// pick returns a random existing user to look up.
func (b *bench) pick(r *rand.Rand) poolUser {
	if b.seeded {
		idx := r.IntN(b.users)
		un := seedUserName(idx)
		return poolUser{userName: un, externalID: seedExternalID(idx), email: un}
	}
	return b.pool[r.IntN(len(b.pool))]
}

func (b *bench) phaseSeed(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return b.cfg.randSeed ^ h.Sum64()
}

// run runs one phase and returns its rows.
func (b *bench) run(ctx context.Context, name string) []Row {
	skip := func(why string) []Row {
		return []Row{{Phase: name, Class: phaseClass(name), Skipped: true, Note: "skipped: " + why}}
	}
	needsPool := name == "get" || name == "console" || name == "patch" || name == "mixed" || name == "sql-update" || name == "http-mixed"
	if needsPool && len(b.pool) == 0 {
		return skip("no existing users")
	}
	if strings.HasPrefix(name, "sql-") && b.sqlc == nil {
		return skip("needs -database-url")
	}
	if name == "console" && b.db == nil {
		return skip("needs -database-url (to sign in to the console)")
	}
	conc := b.cfg.concurrency
	flipConc := min(conc, len(b.pool))
	switch name {
	case "http-lookup":
		return b.timed(ctx, name, conc, nil, func(ctx context.Context, w *worker) (string, int, error) {
			return "", 0, b.lookup(ctx, b.nothing, w, userNameQuery(b.pick(w.rng).userName), "", false)
		})
	case "sql-lookup":
		return b.timed(ctx, name, conc, nil, func(ctx context.Context, w *worker) (string, int, error) {
			return "", 0, b.sqlc.lookup(ctx, b.tenantID, b.pick(w.rng).userName)
		})
	case "lookup-username", "lookup-externalid", "lookup-email":
		return b.timed(ctx, name, conc, nil, func(ctx context.Context, w *worker) (string, int, error) {
			u := b.pick(w.rng)
			var path string
			switch name {
			case "lookup-username":
				path = userNameQuery(u.userName)
			case "lookup-externalid":
				path = externalIDQuery(u.externalID)
			default:
				path = emailQuery(u.email)
			}
			return "", 0, b.lookup(ctx, b.scim, w, path, u.id, true)
		})
	case "get":
		return b.timed(ctx, name, conc, nil, func(ctx context.Context, w *worker) (string, int, error) {
			u := b.pool[w.rng.IntN(len(b.pool))]
			path := "/Users/" + u.id
			st, body, err := b.scim.do(ctx, &w.buf, "GET", path, nil)
			switch {
			case err != nil:
				return "", 0, err
			case st != 200:
				return "", 0, statusError("GET", path, st, body)
			case !bytes.Contains(body, []byte(`"`+u.id+`"`)):
				return "", 0, fmt.Errorf("GET %s: the answer is not that user", path)
			}
			return "", 0, nil
		})
	case "page-shallow", "page-deep":
		total, err := b.totalUsers(ctx)
		if err != nil {
			return []Row{{Phase: name, Class: "scim", Errors: 1, ErrorSamples: []string{err.Error()}}}
		}
		ps := b.cfg.pageSize
		return b.timed(ctx, name, conc, nil, func(ctx context.Context, w *worker) (string, int, error) {
			start := 1
			if name == "page-deep" {
				lo, hi := max(1, total-10*ps+1), max(1, total-ps+1)
				start = lo + w.rng.IntN(hi-lo+1)
			}
			n, err := b.page(ctx, w, start, ps, min(ps, total-start+1))
			return "", n, err
		})
	case "index-walk":
		return []Row{b.indexWalk(ctx)}
	case "cursor-walk":
		return []Row{b.cursorWalk(ctx)}
	case "console":
		return b.consolePhase(ctx, name, conc)
	case "sql-insert":
		prefix := "sqlceiling." + b.tag + "."
		rows := b.timed(ctx, name, conc, nil, func(ctx context.Context, w *worker) (string, int, error) {
			u := ceilingUser(b.tenantID, b.tag, b.seq.Add(1), time.Now().UTC().Truncate(time.Microsecond))
			return "", 0, b.sqlc.insert(ctx, &u)
		})
		n, err := b.sqlc.removeInserted(context.WithoutCancel(ctx), b.tenantID, prefix)
		if err != nil {
			rows[0].Note = "removing the inserted rows failed: " + err.Error()
		} else {
			rows[0].Note = strconv.FormatInt(n, 10) + " inserted rows removed afterwards"
		}
		return rows
	case "create":
		return b.timed(ctx, name, conc, nil, func(ctx context.Context, w *worker) (string, int, error) {
			return "", 0, b.create(ctx, b.scim, w, true)
		})
	case "bulk":
		// A bulk of -bulk-size creations is one request of seconds: fewer
		// of them at once than single requests.
		return b.timed(ctx, name, min(conc, 4), nil, func(ctx context.Context, w *worker) (string, int, error) {
			n, err := b.bulk(ctx, w)
			return "", n, err
		})
	case "sql-update":
		return b.timed(ctx, name, flipConc, b.own(flipConc), func(ctx context.Context, w *worker) (string, int, error) {
			u := b.next(w)
			to := !u.active
			if err := b.sqlc.setActive(ctx, b.tenantID, u.id, to, time.Now().UTC().Truncate(time.Microsecond)); err != nil {
				return "", 0, err
			}
			u.active = to
			return "", 0, nil
		})
	case "patch":
		return b.timed(ctx, name, flipConc, b.own(flipConc), func(ctx context.Context, w *worker) (string, int, error) {
			return "", 0, b.flip(ctx, b.scim, w, true)
		})
	case "http-mixed", "mixed":
		c, real := b.scim, true
		if name == "http-mixed" {
			c, real = b.nothing, false
		}
		return b.timed(ctx, name, flipConc, b.own(flipConc), func(ctx context.Context, w *worker) (string, int, error) {
			switch x := w.rng.IntN(100); {
			case x < 70:
				u := b.pick(w.rng)
				return "lookup", 0, b.lookup(ctx, c, w, userNameQuery(u.userName), u.id, real)
			case x < 90:
				return "patch", 0, b.flip(ctx, c, w, real)
			default:
				return "create", 0, b.create(ctx, c, w, real)
			}
		})
	}
	return skip("unknown phase")
}

func phaseClass(name string) string {
	switch {
	case slices.Contains(phaseGroups["ceilings"], name):
		return "ceiling"
	case slices.Contains(phaseGroups["walks"], name):
		return "walk"
	}
	return "scim"
}

// timed runs a phase for -duration and summarises it: one row, plus one
// per kind of operation when there are several.
func (b *bench) timed(ctx context.Context, name string, conc int, setup func(*worker), fn opFunc) []Row {
	a := b.cpu.read()
	recs, wall := runFor(ctx, conc, b.cfg.duration, b.phaseSeed(name), setup, fn)
	z := b.cpu.read()
	kinds := make([]string, 0, len(recs))
	for k := range recs {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	all := &recorder{}
	for _, k := range kinds {
		all.merge(recs[k])
	}
	row := summarize(name, phaseClass(name), conc, all, wall)
	b.cpu.perOp(&row, a, z)
	rows := []Row{row}
	if len(kinds) > 1 || (len(kinds) == 1 && kinds[0] != "") {
		for _, k := range kinds {
			rows = append(rows, summarize(name+"/"+k, phaseClass(name), conc, recs[k], wall))
		}
	}
	return rows
}

// own gives worker w the pool users whose index is w mod conc, so that no
// two workers change one user at the same time.
func (b *bench) own(conc int) func(w *worker) {
	return func(w *worker) {
		w.own = w.own[:0]
		for i := w.id; i < len(b.pool); i += conc {
			w.own = append(w.own, i)
		}
		w.next = w.rng.IntN(len(w.own))
	}
}

func (b *bench) next(w *worker) *poolUser {
	u := &b.pool[w.own[w.next%len(w.own)]]
	w.next++
	return u
}

// lookup GETs a filter query; with check the answer must hold exactly
// one resource (the user with id, when id is known).
func (b *bench) lookup(ctx context.Context, c *client, w *worker, path, id string, check bool) error {
	st, body, err := c.do(ctx, &w.buf, "GET", path, nil)
	if err != nil {
		return err
	}
	if st != 200 {
		return statusError("GET", path, st, body)
	}
	if !check {
		return nil
	}
	if n := topInt(body, "totalResults"); n != 1 {
		return fmt.Errorf("GET %s: totalResults %d, want 1", path, n)
	}
	if id != "" && !bytes.Contains(body, []byte(`"`+id+`"`)) {
		return fmt.Errorf("GET %s: the answer does not hold user %s", path, id)
	}
	return nil
}

// flip PATCHes the next of the worker's users to the opposite of its
// active state (Okta's deactivate / reactivate), so every PATCH changes
// the user. Against the do-nothing server (real false) no state changes.
func (b *bench) flip(ctx context.Context, c *client, w *worker, real bool) error {
	u := b.next(w)
	to := !u.active
	path := "/Users/" + u.id
	st, body, err := c.do(ctx, &w.buf, "PATCH", path, patchBody(to))
	if err != nil {
		return err
	}
	if !real {
		if st != 200 {
			return statusError("PATCH", path, st, body)
		}
		return nil
	}
	if st != 200 && st != 204 {
		return statusError("PATCH", path, st, body)
	}
	if st == 200 {
		if v, _ := topValue(body, "active"); string(v) != strconv.FormatBool(to) {
			return fmt.Errorf("PATCH %s: active is %s after setting it to %t", path, v, to)
		}
	}
	u.active = to
	return nil
}

// create POSTs a new user under a userName only this run uses.
func (b *bench) create(ctx context.Context, c *client, w *worker, real bool) error {
	p := newProfile(b.tag, b.seq.Add(1))
	st, body, err := c.do(ctx, &w.buf, "POST", "/Users", p.postBody())
	if err != nil {
		return err
	}
	if !real {
		if st != 200 {
			return statusError("POST", "/Users", st, body)
		}
		return nil
	}
	if st != 201 {
		return statusError("POST", "/Users", st, body)
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &o); err != nil || o.ID == "" {
		return fmt.Errorf("POST /Users: no id in the answer")
	}
	return nil
}

// bulk POSTs one /Bulk request of -bulk-size Okta-like user creations and
// returns how many were created; any operation that was not created is
// an error.
func (b *bench) bulk(ctx context.Context, w *worker) (int, error) {
	var body bytes.Buffer
	body.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[`)
	for i := 0; i < b.cfg.bulkSize; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		p := newProfile(b.tag, b.seq.Add(1))
		fmt.Fprintf(&body, `{"method":"POST","path":"/Users","bulkId":"b%d","data":`, i)
		body.Write(p.postBody())
		body.WriteByte('}')
	}
	body.WriteString(`]}`)
	st, resp, err := b.scim.do(ctx, &w.buf, "POST", "/Bulk", body.Bytes())
	if err != nil {
		return 0, err
	}
	if st != 200 {
		return 0, statusError("POST", "/Bulk", st, resp)
	}
	var out struct {
		Operations []struct {
			Status string `json:"status"`
		} `json:"Operations"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return 0, fmt.Errorf("POST /Bulk: %v", err)
	}
	n := 0
	for _, op := range out.Operations {
		if op.Status == "201" {
			n++
		}
	}
	if n != b.cfg.bulkSize {
		return n, fmt.Errorf("POST /Bulk: %d of %d operations created", n, b.cfg.bulkSize)
	}
	return n, nil
}

// page GETs one page and checks it holds want users.
func (b *bench) page(ctx context.Context, w *worker, start, count, want int) (int, error) {
	path := "/Users?startIndex=" + strconv.Itoa(start) + "&count=" + strconv.Itoa(count)
	st, body, err := b.scim.do(ctx, &w.buf, "GET", path, nil)
	if err != nil {
		return 0, err
	}
	if st != 200 {
		return 0, statusError("GET", path, st, body)
	}
	n := topInt(body, "itemsPerPage")
	if n != want {
		return 0, fmt.Errorf("GET %s: itemsPerPage %d, want %d", path, n, want)
	}
	return n, nil
}

// totalUsers asks the server how many users the tenant has.
func (b *bench) totalUsers(ctx context.Context) (int, error) {
	w := &worker{}
	st, body, err := b.scim.do(ctx, &w.buf, "GET", "/Users?startIndex=1&count=0", nil)
	if err != nil {
		return 0, err
	}
	if st != 200 {
		return 0, statusError("GET", "/Users?count=0", st, body)
	}
	n := topInt(body, "totalResults")
	if n < 0 {
		return 0, errors.New("GET /Users?count=0: no totalResults")
	}
	return n, nil
}

// indexWalk reads every user page by page (startIndex += count) on one
// connection, as a full sync job does, for at most -walk-max.
func (b *bench) indexWalk(ctx context.Context) Row {
	total, err := b.totalUsers(ctx)
	if err != nil {
		return Row{Phase: "index-walk", Class: "walk", Concurrency: 1, Errors: 1, ErrorSamples: []string{err.Error()}}
	}
	ps := b.cfg.pageSize
	w := &worker{}
	rec := &recorder{}
	a := b.cpu.read()
	start := time.Now()
	truncated := false
	for si := 1; si <= total; si += ps {
		if ctx.Err() != nil || time.Since(start) > b.cfg.walkMax {
			truncated = true
			break
		}
		t0 := time.Now()
		n, err := b.page(ctx, w, si, ps, min(ps, total-si+1))
		if err != nil {
			rec.fail(err)
			continue
		}
		rec.lat = append(rec.lat, time.Since(t0))
		rec.users += n
	}
	wall := time.Since(start)
	z := b.cpu.read()
	row := summarize("index-walk", "walk", 1, rec, wall)
	b.cpu.perOp(&row, a, z)
	row.Truncated = truncated
	row.Note = fmt.Sprintf("%d of %d users in %.1f s", rec.users, total, wall.Seconds())
	if truncated {
		row.Note += " (stopped at -walk-max)"
	}
	return row
}

// cursorWalk reads every user with RFC 9865 cursors when the server
// supports them: it asks GET /Users?cursor&count=N and follows nextCursor.
// A server that refuses the parameter, or ignores it (no nextCursor
// although more users remain, and no pagination.cursor in its
// ServiceProviderConfig), is reported as unsupported, not as an error.
func (b *bench) cursorWalk(ctx context.Context) Row {
	row := Row{Phase: "cursor-walk", Class: "walk", Concurrency: 1}
	ps := strconv.Itoa(b.cfg.pageSize)
	w := &worker{}
	advertised := b.cursorAdvertised(ctx)
	first := "/Users?cursor&count=" + ps
	st, body, err := b.scim.do(ctx, &w.buf, "GET", first, nil)
	if err != nil {
		row.Errors, row.ErrorSamples = 1, []string{err.Error()}
		return row
	}
	if st != 200 {
		row.Unsupported = true
		row.Note = fmt.Sprintf("unsupported: GET %s answered %d", first, st)
		return row
	}
	if topString(body, "nextCursor") == "" && !advertised && topInt(body, "totalResults") > topInt(body, "itemsPerPage") {
		row.Unsupported = true
		row.Note = "unsupported: the cursor parameter is ignored (no nextCursor; pagination.cursor not advertised)"
		return row
	}
	total, err := b.totalUsers(ctx)
	if err != nil {
		total = -1 // the walk is still measured, its completeness not checked
	}
	rec := &recorder{}
	a := b.cpu.read()
	start := time.Now()
	path := first
	for path != "" {
		if ctx.Err() != nil || time.Since(start) > b.cfg.walkMax {
			row.Truncated = true
			break
		}
		t0 := time.Now()
		st, body, err := b.scim.do(ctx, &w.buf, "GET", path, nil)
		if err == nil && st != 200 {
			err = statusError("GET", path, st, body)
		}
		if err != nil {
			rec.fail(err)
			break // without the page there is no next cursor
		}
		rec.lat = append(rec.lat, time.Since(t0))
		rec.users += max(topInt(body, "itemsPerPage"), 0)
		path = ""
		if next := topString(body, "nextCursor"); next != "" {
			path = "/Users?cursor=" + strings.ReplaceAll(url.QueryEscape(next), "+", "%20") + "&count=" + ps
		}
	}
	wall := time.Since(start)
	z := b.cpu.read()
	out := summarize("cursor-walk", "walk", 1, rec, wall)
	b.cpu.perOp(&out, a, z)
	out.Truncated = row.Truncated
	if !out.Truncated && out.Errors == 0 && total >= 0 && rec.users != total {
		out.Errors++
		out.ErrorSamples = append(out.ErrorSamples, fmt.Sprintf("the cursor walk returned %d users, totalResults is %d", rec.users, total))
	}
	out.Note = fmt.Sprintf("%d users in %.1f s", rec.users, wall.Seconds())
	if out.Truncated {
		out.Note += " (stopped at -walk-max)"
	}
	return out
}

// cursorAdvertised reports whether /ServiceProviderConfig says
// pagination.cursor (RFC 9865 §4).
func (b *bench) cursorAdvertised(ctx context.Context) bool {
	w := &worker{}
	st, body, err := b.scim.do(ctx, &w.buf, "GET", "/ServiceProviderConfig", nil)
	if err != nil || st != 200 {
		return false
	}
	var spc struct {
		Pagination struct {
			Cursor bool `json:"cursor"`
		} `json:"pagination"`
	}
	return json.Unmarshal(body, &spc) == nil && spc.Pagination.Cursor
}
