package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Row is one line of the report: a phase, a ceiling or a part of the
// mixed phase.
type Row struct {
	Phase       string  `json:"phase"`
	Class       string  `json:"class"` // "scim", "ceiling" or "walk"
	Concurrency int     `json:"concurrency"`
	OK          int     `json:"ok"`
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	MeanMs      float64 `json:"mean_ms"`
	// Users is the number of users the pages of a list or walk phase
	// returned, UsersPerSec that number over the wall time.
	Users       int     `json:"users,omitempty"`
	UsersPerSec float64 `json:"users_per_sec,omitempty"`
	// CPUus is this process's CPU time per successful operation: the
	// generator plus, when the server runs in-process, scimd and SQLite.
	CPUus float64 `json:"cpu_us_per_op,omitempty"`
	// DBCPUus is the CPU time of the local PostgreSQL processes serving
	// the database per successful operation.
	DBCPUus float64 `json:"db_cpu_us_per_op,omitempty"`
	// OtherCores is the average number of cores other processes kept busy
	// during the phase: a measure of interference on a shared machine.
	OtherCores   float64  `json:"other_cores"`
	Truncated    bool     `json:"truncated,omitempty"`
	Unsupported  bool     `json:"unsupported,omitempty"`
	Skipped      bool     `json:"skipped,omitempty"`
	Note         string   `json:"note,omitempty"`
	ErrorSamples []string `json:"error_samples,omitempty"`
}

// recorder collects the outcomes of one kind of operation.
type recorder struct {
	lat     []time.Duration // successful operations only
	errors  int
	users   int
	samples []string
}

const maxSamples = 5

func (r *recorder) fail(err error) {
	r.errors++
	if len(r.samples) < maxSamples {
		msg := err.Error()
		if !slices.Contains(r.samples, msg) {
			r.samples = append(r.samples, msg)
		}
	}
}

func (r *recorder) merge(o *recorder) {
	r.lat = append(r.lat, o.lat...)
	r.errors += o.errors
	r.users += o.users
	for _, s := range o.samples {
		if len(r.samples) < maxSamples && !slices.Contains(r.samples, s) {
			r.samples = append(r.samples, s)
		}
	}
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// ascending durations: the smallest value that at least p % of the values
// do not exceed. It is 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// rank = ceil(p/100 · n), computed in integers where p is whole so
	// that float rounding cannot move it (95 % of 20 is exactly 19).
	var rank int
	if p == float64(int(p)) {
		rank = (int(p)*n + 99) / 100
	} else {
		x := p / 100 * float64(n)
		rank = int(x)
		if float64(rank) < x {
			rank++
		}
	}
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summarize turns a recorder into a row (it sorts r.lat).
func summarize(name, class string, conc int, r *recorder, wall time.Duration) Row {
	slices.Sort(r.lat)
	row := Row{Phase: name, Class: class, Concurrency: conc, OK: len(r.lat), Errors: r.errors,
		Seconds: wall.Seconds(), Users: r.users, ErrorSamples: r.samples}
	if len(r.lat) == 0 {
		return row
	}
	var sum time.Duration
	for _, d := range r.lat {
		sum += d
	}
	row.P50ms = millis(percentile(r.lat, 50))
	row.P95ms = millis(percentile(r.lat, 95))
	row.P99ms = millis(percentile(r.lat, 99))
	row.MaxMs = millis(r.lat[len(r.lat)-1])
	row.MeanMs = millis(sum / time.Duration(len(r.lat)))
	if wall > 0 {
		row.RPS = float64(len(r.lat)) / wall.Seconds()
		if r.users > 0 {
			row.UsersPerSec = float64(r.users) / wall.Seconds()
		}
	}
	return row
}

// worker is one concurrent client loop.
type worker struct {
	id   int
	rng  *rand.Rand
	buf  bytes.Buffer
	recs map[string]*recorder
	// own are the indices of the pool users only this worker changes in
	// the phases that flip active; next walks through them.
	own  []int
	next int
}

func (w *worker) rec(kind string) *recorder {
	r := w.recs[kind]
	if r == nil {
		r = &recorder{}
		w.recs[kind] = r
	}
	return r
}

// opFunc runs one operation. It returns the kind of operation (for the
// mixed phases; "" otherwise), the users a page returned, and an error
// for a transport failure or an unexpected answer.
type opFunc func(ctx context.Context, w *worker) (kind string, users int, err error)

// runFor runs fn on conc workers until d has passed (operations in flight
// then finish and count) or ctx ends, and returns the recorders of every
// kind merged over the workers, and the wall time. setup, if not nil,
// prepares each worker before the clock starts.
func runFor(ctx context.Context, conc int, d time.Duration, seed uint64, setup func(w *worker), fn opFunc) (map[string]*recorder, time.Duration) {
	workers := make([]*worker, conc)
	for i := range workers {
		workers[i] = &worker{id: i, rng: rand.New(rand.NewPCG(seed, uint64(i)+1)), recs: map[string]*recorder{}}
		if setup != nil {
			setup(workers[i])
		}
	}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				kind, users, err := fn(ctx, w)
				lat := time.Since(t0)
				r := w.rec(kind)
				if err != nil {
					r.fail(err)
					continue
				}
				r.lat = append(r.lat, lat)
				r.users += users
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	merged := map[string]*recorder{}
	for _, w := range workers {
		for k, r := range w.recs {
			m := merged[k]
			if m == nil {
				m = &recorder{}
				merged[k] = m
			}
			m.merge(r)
		}
	}
	return merged, wall
}
