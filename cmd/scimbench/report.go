package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything a run measured, as -json writes it.
type Report struct {
	Tool     string      `json:"tool"`
	Started  time.Time   `json:"started"`
	Seconds  float64     `json:"seconds"`
	Machine  Machine     `json:"machine"`
	Settings Settings    `json:"settings"`
	Seed     *SeedReport `json:"seed,omitempty"`
	Rows     []Row       `json:"rows"`
	Ratios   []Ratio     `json:"ratios"`
}

// Machine describes where the run happened.
type Machine struct {
	NumCPU      int     `json:"num_cpu"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	GOOS        string  `json:"goos"`
	GOARCH      string  `json:"goarch"`
	GoVersion   string  `json:"go_version"`
	CPUModel    string  `json:"cpu_model,omitempty"`
	MemTotalGiB float64 `json:"mem_total_gib,omitempty"`
}

// Settings are the flags of the run.
type Settings struct {
	Database    string   `json:"database,omitempty"` // password hidden
	DBKind      string   `json:"db_kind,omitempty"`
	Base        string   `json:"base"`
	InProcess   bool     `json:"in_process"`
	Tenant      string   `json:"tenant"`
	Users       int      `json:"users"`
	Groups      int      `json:"groups"`
	Members     int      `json:"members"`
	Concurrency int      `json:"concurrency"`
	Duration    string   `json:"duration"`
	WalkMax     string   `json:"walk_max"`
	PageSize    int      `json:"page_size"`
	Sample      int      `json:"sample"`
	PoolUsers   int      `json:"pool_users"`
	RandSeed    uint64   `json:"rand_seed"`
	Phases      []string `json:"phases"`
}

// Ratio compares a phase's throughput with a ceiling's.
type Ratio struct {
	Phase      string  `json:"phase"`
	Ceiling    string  `json:"ceiling"`
	PhaseRPS   float64 `json:"phase_rps"`
	CeilingRPS float64 `json:"ceiling_rps"`
	Ratio      float64 `json:"ratio"` // PhaseRPS / CeilingRPS
}

// ceilingOf lists, per phase, the ceilings it is compared with.
var ceilingOf = []struct{ phase, ceiling string }{
	{"lookup-username", "http-lookup"}, {"lookup-username", "sql-lookup"},
	{"lookup-externalid", "http-lookup"}, {"lookup-externalid", "sql-lookup"},
	{"lookup-email", "http-lookup"}, {"lookup-email", "sql-lookup"},
	{"get", "http-lookup"}, {"get", "sql-lookup"},
	{"create", "sql-insert"},
	{"patch", "sql-update"},
	{"mixed", "http-mixed"},
}

// ratios pairs every measured phase with its measured ceilings.
func ratios(rows []Row) []Ratio {
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Phase] = r
	}
	var out []Ratio
	for _, p := range ceilingOf {
		ph, ok1 := byName[p.phase]
		ce, ok2 := byName[p.ceiling]
		if !ok1 || !ok2 || ph.RPS <= 0 || ce.RPS <= 0 {
			continue
		}
		out = append(out, Ratio{Phase: p.phase, Ceiling: p.ceiling, PhaseRPS: ph.RPS, CeilingRPS: ce.RPS, Ratio: ph.RPS / ce.RPS})
	}
	return out
}

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// printTable writes the rows and the ratios as aligned text.
func printTable(out io.Writer, rows []Row, rs []Ratio) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tconc\tok\terr\treq/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tusers/s\tCPU µs/op\tPG CPU µs/op\tother cores\t")
	for _, r := range rows {
		if r.Skipped || r.Unsupported {
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\t\t\t\t\t\t %s\n", r.Phase, r.Note)
			continue
		}
		other := ""
		if !strings.Contains(r.Phase, "/") {
			other = strconv.FormatFloat(r.OtherCores, 'f', 2, 64)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", r.Phase, r.Concurrency, r.OK, r.Errors,
			fmtNum(r.RPS), fmtNum(r.P50ms), fmtNum(r.P95ms), fmtNum(r.P99ms), fmtNum(r.MaxMs),
			fmtNum(r.UsersPerSec), fmtNum(r.CPUus), fmtNum(r.DBCPUus), other)
		if r.Note != "" {
			fmt.Fprintf(tw, " %s", r.Note)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, r := range rows {
		for _, s := range r.ErrorSamples {
			fmt.Fprintf(out, "  %s error: %s\n", r.Phase, s)
		}
	}
	if len(rs) > 0 {
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "phase\treq/s\tceiling\tceiling req/s\tratio\t")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Phase, fmtNum(r.PhaseRPS), r.Ceiling, fmtNum(r.CeilingRPS), fmtRatio(r.Ratio))
		}
		tw.Flush()
	}
	var walks []string
	for _, r := range rows {
		if r.UsersPerSec > 0 && !strings.Contains(r.Phase, "/") {
			walks = append(walks, fmt.Sprintf("%s %s users/s", r.Phase, fmtNum(r.UsersPerSec)))
		}
	}
	if len(walks) > 0 {
		fmt.Fprintf(out, "\nlists: %s\n", strings.Join(walks, ", "))
	}
}

func fmtRatio(r float64) string {
	pct := r * 100
	prec := 0
	switch {
	case pct < 0.1:
		prec = 3
	case pct < 1:
		prec = 2
	case pct < 10:
		prec = 1
	}
	return strconv.FormatFloat(pct, 'f', prec, 64) + " %"
}

// machine describes this machine (the CPU model and memory from /proc on
// Linux).
func machine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GOOS: runtime.GOOS,
		GOARCH: runtime.GOARCH, GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				m.MemTotalGiB = float64(int(kb/(1<<20)*10+0.5)) / 10
			}
		}
	}
	return m
}

func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
