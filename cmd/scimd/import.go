package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

// maxReportedRows bounds the per-record refusal and failure lines printed.
const maxReportedRows = 1000

// importBatch is the most records a worker applies together.
const importBatch = 200

// importRecord is one record of the file: its document, where it starts,
// and its match key as written (for partitioning), or a reading error.
type importRecord struct {
	line int
	doc  map[string]any
	key  string
	err  error
}

// importTally counts outcomes; its methods are safe for concurrent use.
type importTally struct {
	mu       sync.Mutex
	counts   map[string]int
	rules    map[string]int // refusals by rule
	reported int
	records  atomic.Int64
}

func (t *importTally) add(w io.Writer, line int, r scim.ImportResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[r.Outcome]++
	if r.Outcome != scim.ImportRefused && r.Outcome != scim.ImportFailed {
		return
	}
	if r.Outcome == scim.ImportRefused {
		rule, _, _ := strings.Cut(r.Detail, ":")
		t.rules[rule]++
	}
	if t.reported < maxReportedRows {
		where := "user " + r.Key
		if line > 0 {
			where = fmt.Sprintf("line %d", line)
			if r.Key != "" {
				where += " (" + r.Key + ")"
			}
		}
		fmt.Fprintf(w, "%s: %s: %s\n", where, r.Outcome, r.Detail)
	} else if t.reported == maxReportedRows {
		fmt.Fprintf(w, "… more refused or failed records are counted in the summary only\n")
	}
	t.reported++
}

// importUsers: scimd import --tenant NAME [--format csv|json] [--match userName|externalId]
// [--deactivate-missing] [--dry-run] [--workers N] FILE
func (e *env) importUsers(ctx context.Context, args []string) error {
	fs := e.flags("import")
	tenantName := fs.String("tenant", "", "tenant name")
	format := fs.String("format", "", "csv or json (one SCIM User per line); default: from the file name (.csv, else json)")
	match := fs.String("match", "userName", "the attribute that finds an existing user: userName or externalId")
	deactivateMissing := fs.Bool("deactivate-missing", false, "deactivate (through the policy) active users of the tenant absent from the file")
	dryRun := fs.Bool("dry-run", false, "report what would change and write nothing")
	workers := fs.Int("workers", 0, "records applied at once (default: 1 on SQLite, 8 on PostgreSQL)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *format == "" {
		*format = "json"
		if strings.EqualFold(filepath.Ext(pos[0]), ".csv") {
			*format = "csv"
		}
	}
	if *format != "csv" && *format != "json" {
		return fmt.Errorf("--format %q: use csv or json", *format)
	}
	var in io.Reader = os.Stdin
	var size int64
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}
	db, t, err := e.openTenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := provision.New(db, nil, nil)
	im, err := scim.NewImporter(ctx, db, svc, t.ID, *match)
	if err != nil {
		return err
	}
	if *workers <= 0 {
		*workers = 1
		if strings.HasPrefix(e.dbURL, "postgres") {
			*workers = 8
		}
	}
	if *dryRun {
		ctx = provision.WithDryRun(ctx)
	}

	// PostgreSQL: refresh planner statistics as the tenant grows.
	analyze, _ := db.(interface{ Analyze(context.Context) error })
	counter := &countingReader{r: in}
	records := make(chan importRecord, 256)
	readErr := make(chan error, 1)
	go func() {
		defer close(records)
		if *format == "csv" {
			readErr <- readCSV(ctx, counter, *match, records)
		} else {
			readErr <- readJSONLines(ctx, counter, *match, records)
		}
	}()

	tally := &importTally{counts: map[string]int{}, rules: map[string]int{}}
	var seenMu sync.Mutex
	seenIDs, seenKeys := map[string]bool{}, map[string]bool{}
	stopProgress := e.progress(tally, counter, size)
	queues := make([]chan importRecord, *workers)
	var wg sync.WaitGroup
	var fatal atomic.Value
	for i := range queues {
		queues[i] = make(chan importRecord, 64)
		wg.Add(1)
		go func(q chan importRecord) {
			defer wg.Done()
			for first := range q {
				// Take what is queued (up to a batch): the new users of a
				// batch are created together.
				chunk := []importRecord{first}
			drain:
				for len(chunk) < importBatch {
					select {
					case rec, ok := <-q:
						if !ok {
							break drain
						}
						chunk = append(chunk, rec)
					default:
						break drain
					}
				}
				var docs []map[string]any
				var at []importRecord
				for _, rec := range chunk {
					if n := tally.records.Add(1); analyze != nil && (n == 1000 || n == 10_000 || n%100_000 == 0) {
						if err := analyze.Analyze(ctx); err != nil && ctx.Err() == nil {
							fmt.Fprintf(e.stderr, "import: refreshing planner statistics failed: %v\n", err)
						}
					}
					if rec.err != nil {
						tally.add(e.stderr, rec.line, scim.ImportResult{Outcome: scim.ImportFailed, Key: rec.key, Detail: rec.err.Error()})
						continue
					}
					docs = append(docs, rec.doc)
					at = append(at, rec)
				}
				if len(docs) == 0 || fatal.Load() != nil || ctx.Err() != nil {
					continue
				}
				results, err := im.ApplyBatch(ctx, docs, *format == "csv") // a CSV row holds only the file's columns
				if err != nil && ctx.Err() == nil {
					fatal.CompareAndSwap(nil, err)
				}
				seenMu.Lock()
				for n, rec := range at {
					if rec.key != "" {
						seenKeys[store.Fold(rec.key)] = true
					}
					if n < len(results) && results[n].UserID != "" {
						seenIDs[results[n].UserID] = true
					}
				}
				seenMu.Unlock()
				for n, rec := range at {
					if n < len(results) && results[n].Outcome != "" {
						tally.add(e.stderr, rec.line, results[n])
					}
				}
			}
		}(queues[i])
	}
	for rec := range records {
		h := fnv.New32a()
		h.Write([]byte(store.Fold(rec.key)))
		queues[int(h.Sum32()%uint32(len(queues)))] <- rec
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	rerr := <-readErr
	if err, _ := fatal.Load().(error); err != nil {
		stopProgress()
		return fmt.Errorf("import stopped: %w", err)
	}
	if rerr == nil && ctx.Err() == nil && *deactivateMissing {
		rerr = im.DeactivateMissing(ctx, func(u store.User) bool {
			seenMu.Lock()
			defer seenMu.Unlock()
			return seenIDs[u.ID] || seenKeys[store.Fold(u.UserName)] || (u.ExternalID != "" && seenKeys[store.Fold(u.ExternalID)])
		}, func(r scim.ImportResult) { tally.add(e.stderr, 0, r) })
	}
	stopProgress()
	e.printSummary(tally, *dryRun)
	switch {
	case ctx.Err() != nil:
		return errors.New("import interrupted; what was applied stays applied, and running the same import again continues without duplicates")
	case rerr != nil:
		return rerr
	}
	if n := tally.counts[scim.ImportFailed] + tally.counts[scim.ImportRefused]; n > 0 {
		return fmt.Errorf("import finished with %d refused or failed record(s) (listed above)", n)
	}
	return nil
}

func (e *env) printSummary(t *importTally, dryRun bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	title := "import summary"
	if dryRun {
		title += " (dry run: nothing was written; the counts say what would happen)"
	}
	fmt.Fprintln(e.stdout, title)
	fmt.Fprintf(e.stdout, "  %-12s %d\n", "records", t.records.Load())
	for _, k := range []string{scim.ImportCreated, scim.ImportUpdated, scim.ImportUnchanged, scim.ImportDeactivated, scim.ImportRefused, scim.ImportFailed} {
		line := fmt.Sprintf("  %-12s %d", k, t.counts[k])
		if k == scim.ImportRefused && len(t.rules) > 0 {
			var rs []string
			for r, n := range t.rules {
				rs = append(rs, fmt.Sprintf("%s: %d", r, n))
			}
			sort.Strings(rs)
			line += "   (" + strings.Join(rs, ", ") + ")"
		}
		fmt.Fprintln(e.stdout, line)
	}
}

// progress reports how far the import is: a bar with rate and ETA redrawn
// on a terminal, a plain line every five seconds otherwise. The returned
// function stops it.
func (e *env) progress(t *importTally, c *countingReader, size int64) func() {
	tty := false
	if f, ok := e.stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	every := 5 * time.Second
	if tty {
		every = 200 * time.Millisecond
	}
	start := time.Now()
	done := make(chan struct{})
	stopped := make(chan struct{})
	line := func() string {
		n := t.records.Load()
		el := time.Since(start).Seconds()
		rate := float64(n) / max(el, 0.001)
		s := fmt.Sprintf("%d records, %.0f/s", n, rate)
		if size > 0 {
			frac := float64(c.n.Load()) / float64(size)
			s = fmt.Sprintf("%3.0f%% %s", frac*100, s)
			if frac > 0 && frac < 1 {
				eta := time.Duration(el/frac*(1-frac)) * time.Second
				s += ", ETA " + eta.Round(time.Second).String()
			}
			if tty {
				const width = 30
				filled := min(width, int(frac*width))
				s = "[" + strings.Repeat("#", filled) + strings.Repeat(" ", width-filled) + "] " + s
			}
		}
		return s
	}
	go func() {
		defer close(stopped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprintf(e.stderr, "\r%s\n", line())
				}
				return
			case <-tick.C:
				if tty {
					fmt.Fprintf(e.stderr, "\r%s\033[K", line())
				} else {
					fmt.Fprintf(e.stderr, "import: %s\n", line())
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-stopped }) }
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// readJSONLines streams one SCIM User document per line; blank lines are
// skipped. Errors: a read error (lines that are not JSON objects are
// records with an error).
func readJSONLines(ctx context.Context, r io.Reader, match string, out chan<- importRecord) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		if ctx.Err() != nil {
			return nil
		}
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(b), &doc); err != nil {
			out <- importRecord{line: line, err: fmt.Errorf("not a JSON object: %v", err)}
			continue
		}
		key, _ := doc[match].(string)
		out <- importRecord{line: line, doc: doc, key: key}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading line %d: %w", line+1, err)
	}
	return nil
}

// csvColumn turns one cell into part of a SCIM document.
type csvColumn struct {
	name string
	set  func(doc map[string]any, v string)
}

// csvColumns maps a header row to setters (docs/import.md lists the
// forms). Errors name the columns that are not User attributes.
func csvColumns(header []string) ([]csvColumn, error) {
	var cols []csvColumn
	var bad []string
	seen := map[string]bool{}
	for _, h := range header {
		name := strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		lower := strings.ToLower(name)
		if seen[lower] {
			return nil, fmt.Errorf("line 1: column %q appears twice", name)
		}
		seen[lower] = true
		base, typ, _ := strings.Cut(name, ".")
		switch strings.ToLower(base) {
		case "emails", "phonenumbers", "ims", "photos":
			attr := map[string]string{"emails": "emails", "phonenumbers": "phoneNumbers", "ims": "ims", "photos": "photos"}[strings.ToLower(base)]
			if typ == "" {
				typ = "work"
			}
			cols = append(cols, csvColumn{name: name, set: func(doc map[string]any, v string) {
				list, _ := doc[attr].([]any)
				doc[attr] = append(list, map[string]any{"value": v, "type": typ, "primary": len(list) == 0})
			}})
			continue
		case "roles":
			if typ == "" {
				cols = append(cols, csvColumn{name: name, set: func(doc map[string]any, v string) {
					doc["roles"] = []any{map[string]any{"value": v, "primary": true}}
				}})
				continue
			}
		case "enterprise":
			full := schemas.EnterpriseURN + ":" + typ
			if _, ok := schemas.User.Lookup(full); !ok || typ == "" {
				bad = append(bad, name)
				continue
			}
			cols = append(cols, csvColumn{name: name, set: func(doc map[string]any, v string) { doc[full] = v }})
			continue
		}
		a, ok := schemas.User.Lookup(name)
		if !ok || a.Mutability == schemas.ReadOnly || strings.EqualFold(name, "groups") {
			bad = append(bad, name)
			continue
		}
		cols = append(cols, csvColumn{name: name, set: func(doc map[string]any, v string) { doc[name] = v }})
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("line 1: column(s) %q are not writable User attributes; use attribute paths like userName, name.givenName, emails.work, phoneNumbers.mobile, roles, enterprise.department (docs/import.md)", bad)
	}
	return cols, nil
}

// readCSV streams a CSV file whose first row names the attributes. Empty
// cells leave their attribute out. Errors: a malformed header or a read
// error (malformed rows are records with an error).
func readCSV(ctx context.Context, r io.Reader, match string, out chan<- importRecord) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return errors.New("the CSV file is empty: its first row must name the attributes")
	}
	if err != nil {
		return fmt.Errorf("line 1: %w", err)
	}
	cols, err := csvColumns(header)
	if err != nil {
		return err
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			out <- importRecord{line: pe.StartLine, err: fmt.Errorf("malformed CSV: %v", pe.Err)}
			continue
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		if len(row) != len(cols) {
			out <- importRecord{line: line, err: fmt.Errorf("%d cells, the header has %d", len(row), len(cols))}
			continue
		}
		doc := map[string]any{}
		for i, c := range cols {
			if v := strings.TrimSpace(row[i]); v != "" {
				c.set(doc, v)
			}
		}
		if len(doc) == 0 {
			continue // an empty row
		}
		key, _ := doc[match].(string)
		out <- importRecord{line: line, doc: doc, key: key}
	}
}
