package scim

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimd/scimd/store"
)

// Index paging walks. A client that pages with startIndex (Okta, Entra ID,
// most scripts) asks for startIndex = 1, 1+count, 1+2·count, … An offset
// over the current matches makes the deep pages slow (every page skips all
// the rows before it) and, worse, loses or repeats resources when others
// are created or deleted during the walk: a deletion before the current
// page shifts every later resource one place forward, past the client.
//
// So scimd remembers, for each full page it serves, the keyset position of
// the page's last resource under the index where the next page starts
// (per tenant, token, resource type, filter and sort). A request for that
// startIndex continues right after the position, whatever changed before
// it: a keyset seek, as cheap at the end of the directory as at its start,
// and a walk that returns every resource that exists throughout it exactly
// once. totalResults of such a page is kept consistent with the walk (the
// resources already walked plus the ones left), so a client that stops when
// startIndex passes totalResults stops exactly at the end. Any other
// startIndex is an offset over the current matches, as RFC 7644 defines it.
//
// The marks live in the memory of the process that served the page: a walk
// whose requests reach other replicas, or that pauses longer than
// walkTTL, falls back to offsets. Cursor paging (cursor.go) has no such
// limit. A cold offset deep into the default /Users order is served
// through checkpoints (checkpoints.go), with the plain offset's answer.

// Limits of the walk marks.
const (
	walkTTL      = 15 * time.Minute
	walkMaxMarks = 20_000
)

type walkMark struct {
	pos     store.Position
	expires time.Time
}

// walks holds the marks of one process, and the checkpoints that serve
// its cold deep index pages (checkpoints.go).
type walks struct {
	mu          sync.Mutex
	marks       map[string]walkMark
	checkpoints checkpointCache
}

// walkKey names the mark of a walk at startIndex.
func walkKey(tenantID, tokenID, rtName string, lp *listParams, startIndex int) string {
	q := lp.query
	return strings.Join([]string{tenantID, tokenID, rtName, lp.filterText, q.SortBy,
		strconv.FormatBool(q.CaseExact), strconv.FormatBool(q.Descending), strconv.Itoa(startIndex)}, "\x00")
}

// get returns the position a walk left at startIndex, if it is fresh.
func (w *walks) get(key string, now time.Time) (store.Position, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.marks[key]
	if !ok || now.After(m.expires) {
		return store.Position{}, false
	}
	return m.pos, true
}

// put records the position a walk reached at startIndex.
func (w *walks) put(key string, pos store.Position, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.marks == nil {
		w.marks = map[string]walkMark{}
	}
	if len(w.marks) >= walkMaxMarks {
		for k, m := range w.marks {
			if now.After(m.expires) {
				delete(w.marks, k)
			}
		}
		for k := range w.marks { // still full: forget arbitrary marks
			if len(w.marks) < walkMaxMarks*9/10 {
				break
			}
			delete(w.marks, k)
		}
	}
	w.marks[key] = walkMark{pos: pos, expires: now.Add(walkTTL)}
}
