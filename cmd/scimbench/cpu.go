package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the times in /proc; 100 on every
// Linux build that matters here.
const clockTicks = 100

// cpuMeter reads CPU time: this process's, the machine's, and, when the
// database is a local PostgreSQL, that of the PostgreSQL processes
// working for the database pgDB (its backends and the server's own
// processes, not the backends of other databases).
type cpuMeter struct {
	pgDB string // "" when PostgreSQL is not watched
}

type cpuReading struct {
	at            time.Time
	self, db, all time.Duration
}

func (m cpuMeter) read() cpuReading {
	r := cpuReading{at: time.Now(), self: processCPU(), all: machineBusy()}
	if m.pgDB != "" {
		r.db = postgresCPU(m.pgDB)
	}
	return r
}

// perOp fills the CPU columns of a row from two readings.
func (m cpuMeter) perOp(row *Row, a, z cpuReading) {
	wall := z.at.Sub(a.at).Seconds()
	if z.all > 0 && wall > 0 {
		other := z.all - a.all - (z.self - a.self) - (z.db - a.db)
		row.OtherCores = max(float64(other)/float64(time.Second)/wall, 0)
	}
	if row.OK == 0 {
		return
	}
	n := float64(row.OK)
	row.CPUus = float64(z.self-a.self) / float64(time.Microsecond) / n
	if m.pgDB != "" {
		row.DBCPUus = float64(z.db-a.db) / float64(time.Microsecond) / n
	}
}

// machineBusy is the CPU time all CPUs spent outside idle and iowait
// since boot (Linux /proc/stat; 0 elsewhere).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		if i >= 8 { // guest times are already in user and nice
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// pgAux are the titles of PostgreSQL's own processes, which work for
// every database.
var pgAux = []string{"checkpointer", "background writer", "walwriter", "autovacuum launcher",
	"logical replication launcher", "stats collector", "archiver"}

// postgresCPU sums the user and system time of the processes named
// "postgres" that work for database db: backends and autovacuum workers
// whose process title names it, the auxiliary processes and the
// postmaster (Linux /proc; 0 elsewhere). Backends of other databases
// (say, test suites sharing the server) are left out, and so is the time
// of exited backends the postmaster reaped.
func postgresCPU(db string) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var ticks int64
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "postgres" {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		title := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
		if rest, ok := strings.CutPrefix(title, "postgres: "); ok {
			mine := false
			for _, a := range pgAux {
				if strings.Contains(rest, a) {
					mine = true
				}
			}
			for _, w := range strings.Fields(rest) {
				if w == db {
					mine = true
				}
			}
			if !mine {
				continue
			}
		}
		// After ") " come fields 3 (state) onwards; utime and stime are
		// fields 14 and 15.
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		for _, v := range f[11:13] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}
