package dbopen

import (
	"runtime"
	"testing"
)

func TestProcs(t *testing.T) {
	sqlite, err := Parse("sqlite:///tmp/x.db")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := Parse("postgres://u@127.0.0.1:5432/db")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		t           Target
		procs, want int
	}{
		{sqlite, 1, 2},
		{sqlite, 2, 3},
		{sqlite, 16, 17},
		{pg, 1, 1},
		{pg, 2, 2},
		{pg, 16, 16},
	} {
		if got := tc.t.Procs(tc.procs); got != tc.want {
			t.Errorf("%s Procs(%d) = %d, want %d", tc.t.Kind, tc.procs, got, tc.want)
		}
	}
}

// TestSetProcs changes the test binary's GOMAXPROCS and puts it back; it
// does not run in parallel with anything.
func TestSetProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	sqlite := Target{Kind: SQLite, Path: "x.db"}
	noEnv := func(string) string { return "" }

	runtime.GOMAXPROCS(2)
	if before, after := SetProcs(sqlite, noEnv); before != 2 || after != 3 || runtime.GOMAXPROCS(0) != 3 {
		t.Fatalf("SQLite: SetProcs = %d, %d and GOMAXPROCS %d; want 2, 3 and 3", before, after, runtime.GOMAXPROCS(0))
	}

	runtime.GOMAXPROCS(2)
	if before, after := SetProcs(Target{Kind: Postgres, URL: "postgres://x"}, noEnv); before != 2 || after != 2 || runtime.GOMAXPROCS(0) != 2 {
		t.Fatalf("PostgreSQL: SetProcs = %d, %d and GOMAXPROCS %d; want 2, 2 and 2", before, after, runtime.GOMAXPROCS(0))
	}

	runtime.GOMAXPROCS(2)
	env := func(k string) string {
		if k == "GOMAXPROCS" {
			return "2"
		}
		return ""
	}
	if before, after := SetProcs(sqlite, env); before != 2 || after != 2 || runtime.GOMAXPROCS(0) != 2 {
		t.Fatalf("GOMAXPROCS set: SetProcs = %d, %d and GOMAXPROCS %d; want the operator's 2 kept", before, after, runtime.GOMAXPROCS(0))
	}
}
