package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/store"
)

// The noisy phase: does a tenant flooding the server at full speed slow
// down another tenant's look-ups? A scimd with the default rate limits
// (ratelimit.Defaults) serves the database in this process; the quiet
// tenant Q (-tenant, the seeded one) looks users up by userName at a
// steady pace well inside its limits: alone, while the noisy tenant N
// (-tenant with "-noisy" appended, created when missing) sends look-ups
// and creations at just under its limits, and while N floods the same
// server as fast as it can, ignoring its 429s (which the server holds for
// the default pause before answering). Rows: noisy/quiet (Q
// alone), noisy/paced (Q while N keeps to its limits), noisy/paced-n (N's
// requests then), noisy (Q while N floods; the note compares the p99s)
// and noisy/flood (N's accepted requests; the note gives its 429s).
const (
	noisyPhase = "noisy"
	// quietConc and floodConc are the concurrency of Q and of N.
	quietConc = 2
	floodConc = 16
	// noisyRounds is the number of stretches of each kind; each lasts
	// -duration / noisyRounds.
	noisyRounds = 5
)

func init() { phaseOrder = append(phaseOrder, noisyPhase) }

// quietRate is Q's pace in requests per second: half the tighter of the
// default limits, so Q never meets its own limit.
func quietRate() float64 {
	d := ratelimit.Defaults()
	return min(d.Tenant.Rate, d.Token.Rate) / 2
}

// noisy runs the noisy phase.
func (b *bench) noisy(ctx context.Context) []Row {
	skip := func(why string) []Row {
		return []Row{{Phase: noisyPhase, Class: "scim", Skipped: true, Note: "skipped: " + why}}
	}
	fail := func(err error) []Row {
		return []Row{{Phase: noisyPhase, Class: "scim", Errors: 1, ErrorSamples: []string{err.Error()}}}
	}
	if b.db == nil || !b.seeded {
		return skip("needs -database-url (a second tenant and a rate-limited server in this process)")
	}
	svc := provision.New(b.db, nil, nil)
	noisyName := b.cfg.tenant + "-noisy"
	nt, err := b.db.GetTenantByName(ctx, noisyName)
	if errors.Is(err, store.ErrNotFound) {
		nt, err = svc.CreateTenant(ctx, benchActor, noisyName)
	}
	if err != nil {
		return fail(fmt.Errorf("tenant %s: %w", noisyName, err))
	}
	noisyID := nt.ID
	qTok, _, err := svc.CreateToken(ctx, benchActor, provision.TokenSpec{TenantID: b.tenantID})
	if err != nil {
		return fail(err)
	}
	nTok, _, err := svc.CreateToken(ctx, benchActor, provision.TokenSpec{TenantID: noisyID})
	if err != nil {
		return fail(err)
	}
	limits := ratelimit.Defaults()
	srv, err := serve(b.db, svc, limits)
	if err != nil {
		return fail(err)
	}
	defer srv.close()
	q := newClient(srv.url, qTok, quietConc, b.cfg.timeout)
	defer q.close()
	n := newClient(srv.url, nTok, floodConc, b.cfg.timeout)
	defer n.close()

	// Three kinds of stretch alternate, noisyRounds of each, so that load
	// from outside this process (a shared machine) weighs on all alike: Q
	// alone; Q while N sends at just under its limits (what N may do, no
	// 429s); Q while N floods (everything N can send, mostly 429s).
	seed := b.phaseSeed(noisyPhase)
	seg := b.cfg.duration / noisyRounds
	nRate := 0.95 * min(limits.Tenant.Rate, limits.Token.Rate)
	var alone, paced, flooded stretch
	var nPaced, nFlood flood
	for round := range noisyRounds {
		if ctx.Err() != nil {
			break
		}
		k := uint64(3 * round)
		b.stretch(ctx, q, seed+k, seg, &alone, nil)
		b.stretch(ctx, q, seed+k+1, seg, &paced, func(stop <-chan struct{}) {
			nPaced.start(ctx, b, n, seed+k+1, time.Duration(float64(time.Second)*floodConc/nRate), stop)
		})
		b.stretch(ctx, q, seed+k+2, seg, &flooded, func(stop <-chan struct{}) {
			nFlood.start(ctx, b, n, seed+k+2, 0, stop)
		})
	}
	quiet := alone.row(b, noisyPhase+"/quiet", true)
	quiet.Note = fmt.Sprintf("tenant Q alone, paced at %s look-ups/s (%d stretches of %s, alternating with the two below)",
		ratelimit.FormatRate(quietRate()), noisyRounds, seg)
	atLimit := paced.row(b, noisyPhase+"/paced", false)
	loud := flooded.row(b, noisyPhase, false)
	if quiet.P99ms > 0 && quiet.P50ms > 0 {
		atLimit.Note = fmt.Sprintf("tenant Q while N sends %s requests/s, just under its limits: p99 %.2f × quiet, p50 %.2f × quiet",
			ratelimit.FormatRate(nRate), atLimit.P99ms/quiet.P99ms, atLimit.P50ms/quiet.P50ms)
		loud.Note = fmt.Sprintf("tenant Q while N floods: p99 %.2f ms = %.2f × its quiet p99 (goal ≤ 2), p50 %.2f × quiet",
			loud.P99ms, loud.P99ms/quiet.P99ms, loud.P50ms/quiet.P50ms)
	}
	nPacedRow := nPaced.row(noisyPhase+"/paced-n", paced.wall, limits)
	nFloodRow := nFlood.row(noisyPhase+"/flood", flooded.wall, limits)
	return []Row{quiet, atLimit, nPacedRow, loud, nFloodRow}
}

// stretch is what Q measured in one kind of stretch, over the rounds.
type stretch struct {
	rec  recorder
	wall time.Duration
	cpu  [2]cpuReading // the sum of the stretches' CPU readings, as one reading pair
}

// stretch runs Q for d with load (nil: none) started alongside and
// stopped when Q stops, and adds the outcome to st.
func (b *bench) stretch(ctx context.Context, q *client, seed uint64, d time.Duration, st *stretch, load func(stop <-chan struct{})) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if load != nil {
		wg.Go(func() { load(stop) })
	}
	a := b.cpu.read()
	rec, wall := b.quietLookups(ctx, q, seed, d)
	close(stop)
	wg.Wait()
	z := b.cpu.read()
	st.rec.merge(rec)
	st.wall += wall
	if st.cpu[0].at.IsZero() {
		st.cpu[0].at, st.cpu[1].at = a.at, a.at
	}
	st.cpu[1].at = st.cpu[1].at.Add(z.at.Sub(a.at))
	st.cpu[1].self += z.self - a.self
	st.cpu[1].db += z.db - a.db
	st.cpu[1].all += z.all - a.all
}

// row summarises Q's look-ups of a kind of stretch; the CPU per look-up
// is given only when Q ran alone (otherwise the process's CPU went mostly
// to N).
func (st *stretch) row(b *bench, name string, cpu bool) Row {
	r := summarize(name, "scim", quietConc, &st.rec, st.wall)
	b.cpu.perOp(&r, st.cpu[0], st.cpu[1])
	if !cpu {
		r.CPUus, r.DBCPUus = 0, 0
	}
	return r
}

// quietLookups is Q: quietConc workers each GET a random seeded user by
// userName at quietRate()/quietConc per second (a late request is sent at
// once; missed slots are not made up) for d. Every answer must be the one
// user: a 429 is an error.
func (b *bench) quietLookups(ctx context.Context, c *client, seed uint64, d time.Duration) (*recorder, time.Duration) {
	interval := time.Duration(float64(time.Second) * quietConc / quietRate())
	recs := make([]*recorder, quietConc)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range quietConc {
		recs[i] = &recorder{}
		w := &worker{id: i, rng: rand.New(rand.NewPCG(seed, uint64(i)+1))}
		wg.Go(func() {
			// The workers' slots interleave.
			next := start.Add(interval * time.Duration(i) / quietConc)
			for ctx.Err() == nil {
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				}
				now := time.Now()
				if !now.Before(deadline) {
					return
				}
				next = next.Add(interval)
				if next.Before(now) {
					next = now.Add(interval)
				}
				u := b.pick(w.rng)
				if err := b.lookup(ctx, c, w, userNameQuery(u.userName), "", true); err != nil {
					recs[i].fail(err)
					continue
				}
				recs[i].lat = append(recs[i].lat, time.Since(now))
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	all := &recorder{}
	for _, r := range recs {
		all.merge(r)
	}
	return all, wall
}

// flood is N: floodConc workers sending look-ups (of users N does not
// have) and creations, half each, at a pace or as fast as they can; they
// never wait for Retry-After.
type flood struct {
	mu       sync.Mutex
	accepted recorder // successful requests; anything but 2xx and 429 is an error
	refused  atomic.Int64
}

// start runs the workers until stop is closed; interval is each worker's
// time between requests (0: none).
func (f *flood) start(ctx context.Context, b *bench, c *client, seed uint64, interval time.Duration, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for i := range floodConc {
		wg.Go(func() { f.run(ctx, b, c, rand.New(rand.NewPCG(seed, uint64(1000+i))), interval, stop) })
	}
	wg.Wait()
}

func (f *flood) run(ctx context.Context, b *bench, c *client, rng *rand.Rand, interval time.Duration, stop <-chan struct{}) {
	w := &worker{rng: rng}
	var rec recorder
	var refused int64
	defer func() {
		f.mu.Lock()
		f.accepted.merge(&rec)
		f.mu.Unlock()
		f.refused.Add(refused)
	}()
	next := time.Now()
	if interval > 0 { // the workers' slots spread over the interval
		next = next.Add(time.Duration(rng.Int64N(int64(interval))))
	}
	for ctx.Err() == nil {
		if interval > 0 {
			select {
			case <-stop:
				return
			case <-time.After(time.Until(next)):
			}
			next = next.Add(interval)
		}
		select {
		case <-stop:
			return
		default:
		}
		t0 := time.Now()
		var (
			st     int
			body   []byte
			err    error
			method = "GET"
			path   string
			want   = http.StatusOK
		)
		if rng.IntN(2) == 0 {
			path = userNameQuery(seedUserName(rng.IntN(b.users)))
			st, body, err = c.do(ctx, &w.buf, method, path, nil)
		} else {
			method, path, want = "POST", "/Users", http.StatusCreated
			st, body, err = c.do(ctx, &w.buf, method, path, newProfile(b.tag+"n", b.seq.Add(1)).postBody())
		}
		switch {
		case err != nil:
			if ctx.Err() == nil {
				rec.fail(err)
			}
		case st == http.StatusTooManyRequests:
			refused++
		case st != want:
			rec.fail(statusError(method, path, st, body))
		default:
			rec.lat = append(rec.lat, time.Since(t0))
		}
	}
}

// row summarises N's accepted requests; the note counts the 429s.
func (f *flood) row(name string, wall time.Duration, limits ratelimit.Limits) Row {
	r := summarize(name, "scim", floodConc, &f.accepted, wall)
	total := f.accepted.errors + len(f.accepted.lat) + int(f.refused.Load())
	r.Note = fmt.Sprintf("tenant N: %d requests (%.0f/s), %d accepted, %d refused with 429 (limits: tenant %s, token %s, refusals held %s, %d of a tenant's requests at once)",
		total, float64(total)/wall.Seconds(), len(f.accepted.lat), f.refused.Load(), limits.Tenant, limits.Token, limits.Pause, limits.Concurrent)
	return r
}
