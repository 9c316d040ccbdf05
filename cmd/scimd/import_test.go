package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// summaryCounts reads the counts of an import summary.
func summaryCounts(t *testing.T, out string) map[string]int {
	t.Helper()
	got := map[string]int{}
	re := regexp.MustCompile(`(?m)^  (\w+)\s+(\d+)`)
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n := 0
		for _, c := range m[2] {
			n = n*10 + int(c-'0')
		}
		got[m[1]] = n
	}
	if len(got) == 0 {
		t.Fatalf("no summary in %q", out)
	}
	return got
}

func wantCounts(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s = %d, want %d (all: %v)", what, k, got[k], w, got)
		}
	}
}

func tenantUsers(t *testing.T, db string) map[string]int {
	t.Helper()
	var st struct{ Users map[string]int }
	if err := json.Unmarshal([]byte(mustCLI(t, db, "tenant", "show", "acme")), &st); err != nil {
		t.Fatal(err)
	}
	return st.Users
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportCSV: bad rows are reported with their line numbers while the
// good ones apply; a re-run changes nothing; a dry run writes nothing;
// --deactivate-missing deactivates through the policy and reports refusals.
func TestImportCSV(t *testing.T) {
	for name, mk := range databases(t) {
		t.Run(name, func(t *testing.T) {
			db := mk(t)
			mustCLI(t, db, "tenant", "create", "acme")
			csv := "userName,name.givenName,name.familyName,emails.work,active,enterprise.department\n" +
				"alice@example.com,Alice,Archer,alice@example.com,true,Sales\n" +
				"bob@example.com,Bob,Baker,bob@example.com,,Ops\n" +
				",No,Name,noname@example.com,true,\n" +
				"carol@example.com,Carol,Cook,carol@example.com,maybe,\n" +
				"car\"l@example.com,Carl,Cole,carl@example.com,true,\n" +
				"dave@gmail.com,Dave,Dorn,dave@gmail.com,true,\n"
			file := writeFile(t, "users.csv", csv)
			out, errs, err := cli(t, db, "import", "--tenant", "acme", file)
			if err == nil {
				t.Fatalf("an import with failed rows succeeded:\n%s", out)
			}
			wantCounts(t, "first run", summaryCounts(t, out), map[string]int{"records": 6, "created": 3, "failed": 3})
			for _, l := range []string{"line 4", "line 5", "line 6"} {
				if !strings.Contains(errs, l+":") && !strings.Contains(errs, l+" ") {
					t.Errorf("no report for %s:\n%s", l, errs)
				}
			}
			if !strings.Contains(errs, "userName") {
				t.Errorf("the missing userName is not explained:\n%s", errs)
			}
			if u := tenantUsers(t, db); u["active"] != 3 {
				t.Errorf("users after the first run: %v", u)
			}
			auditBefore := mustCLI(t, db, "audit", "--tenant", "acme", "--limit", "1000")

			// Re-run: nothing changes, nothing is duplicated.
			out, _, _ = cli(t, db, "import", "--tenant", "acme", file)
			wantCounts(t, "re-run", summaryCounts(t, out), map[string]int{"created": 0, "updated": 0, "unchanged": 3, "failed": 3})
			if u := tenantUsers(t, db); u["active"] != 3 {
				t.Errorf("users after the re-run: %v", u)
			}

			// Dry run of a change: reported, not written.
			changed := strings.Replace(csv, "Bob,Baker,bob@example.com,,Ops", "Bob,Baker,bob@example.com,,Finance", 1)
			dry := writeFile(t, "changed.csv", changed)
			out, _, _ = cli(t, db, "import", "--tenant", "acme", "--dry-run", dry)
			if !strings.Contains(out, "dry run") {
				t.Errorf("the summary does not say dry run:\n%s", out)
			}
			wantCounts(t, "dry run", summaryCounts(t, out), map[string]int{"updated": 1, "unchanged": 2})
			out, _, _ = cli(t, db, "import", "--tenant", "acme", file)
			wantCounts(t, "after the dry run", summaryCounts(t, out), map[string]int{"unchanged": 3})

			// Deactivate the users missing from a file that holds only alice:
			// bob is deactivated, dave (gmail.com) is refused by the policy.
			only := writeFile(t, "only.csv", "userName,emails.work\nalice@example.com,alice@example.com\n")
			out, _, _ = cli(t, db, "import", "--tenant", "acme", "--deactivate-missing", "--dry-run", only)
			wantCounts(t, "dry deactivate", summaryCounts(t, out), map[string]int{"deactivated": 1, "refused": 1})
			if u := tenantUsers(t, db); u["active"] != 3 {
				t.Errorf("a dry run deactivated users: %v", u)
			}
			out, errs, err = cli(t, db, "import", "--tenant", "acme", "--deactivate-missing", only)
			if err == nil {
				t.Error("an import with a refusal succeeded")
			}
			wantCounts(t, "deactivate missing", summaryCounts(t, out), map[string]int{"unchanged": 1, "deactivated": 1, "refused": 1})
			if !strings.Contains(errs, "policy.consumer_domain") || !strings.Contains(out, "policy.consumer_domain: 1") {
				t.Errorf("the refusal is not reported with its rule:\n%s\n%s", errs, out)
			}
			if u := tenantUsers(t, db); u["active"] != 2 || u["inactive"] != 1 {
				t.Errorf("users after deactivate-missing: %v", u)
			}
			auditAfter := mustCLI(t, db, "audit", "--tenant", "acme", "--limit", "1000")
			if strings.Count(auditAfter, "\n") <= strings.Count(auditBefore, "\n") {
				t.Error("the import's changes left no audit entries")
			}
			for _, bad := range []string{"userName,nosuchattribute\n", "userName,id\n", "userName,groups\n"} {
				if _, _, err := cli(t, db, "import", "--tenant", "acme", writeFile(t, "bad.csv", bad)); err == nil ||
					!strings.Contains(err.Error(), "line 1") {
					t.Errorf("header %q: %v", strings.TrimSpace(bad), err)
				}
			}
		})
	}
}

// TestImportJSONByExternalID: JSON lines matched by externalId update the
// user whose userName changed instead of creating a second one.
func TestImportJSONByExternalID(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "import.db")
	mustCLI(t, db, "tenant", "create", "acme")
	first := writeFile(t, "a.jsonl", `{"userName":"erin@example.com","externalId":"E-1","active":true}`+"\n\n"+
		`{"userName":"frank@example.com","externalId":"F-1"}`+"\n"+`not json`+"\n")
	out, errs, _ := cli(t, db, "import", "--tenant", "acme", "--match", "externalId", first)
	wantCounts(t, "json", summaryCounts(t, out), map[string]int{"created": 2, "failed": 1})
	if !strings.Contains(errs, "line 4") {
		t.Errorf("the bad line is not reported: %s", errs)
	}
	renamed := writeFile(t, "b.json", `{"userName":"erin.new@example.com","externalId":"E-1"}`+"\n")
	out = mustCLI(t, db, "import", "--tenant", "acme", "--match", "externalId", renamed)
	wantCounts(t, "renamed", summaryCounts(t, out), map[string]int{"updated": 1, "created": 0})
	if u := tenantUsers(t, db); u["active"] != 2 {
		t.Errorf("users: %v", u)
	}
}
