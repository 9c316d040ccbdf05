package scim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// listParams are the query parameters of a list request (RFC 7644 §3.4.2,
// RFC 9865 §2).
type listParams struct {
	query      store.Query
	startIndex int
	projection projection
	filterText string // the filter as given (trimmed); "" for none
	sortGiven  bool   // the request has sortBy
	orderGiven bool   // the request has sortOrder
	cursor     bool   // the request pages by cursor: it has a cursor parameter, maybe empty
	cursorText string // the cursor; "" asks for the first page
}

// projection is the attributes / excludedAttributes pair.
type projection struct {
	attributes, excluded []string
}

func (p projection) empty() bool { return len(p.attributes) == 0 && len(p.excluded) == 0 }

// names reports whether the projection asks for attr by name.
func (p projection) names(attr string) bool {
	for _, a := range p.attributes {
		if strings.EqualFold(a, attr) {
			return true
		}
	}
	return false
}

// excludes reports whether the projection excludes attr.
func (p projection) excludes(attr string) bool {
	for _, a := range p.excluded {
		if strings.EqualFold(a, attr) {
			return true
		}
	}
	return len(p.attributes) > 0 && !p.names(attr)
}

func (p projection) apply(rt *schemas.ResourceType, doc map[string]any) (map[string]any, error) {
	if p.empty() {
		return schemas.Project(rt, doc, nil, nil)
	}
	return schemas.Project(rt, doc, p.attributes, p.excluded)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// MaxAttributeNames is the largest number of names an attributes or
// excludedAttributes list may hold (far more than the catalogue has
// attributes and sub-attributes); a longer list is 400 invalidValue, so
// that projecting a page costs no more than a bounded list allows.
const MaxAttributeNames = 200

// checkProjection returns a *schemas.Error of type invalidValue when the
// attributes or excludedAttributes parameter of q names more than
// MaxAttributeNames attributes; nil otherwise.
func checkProjection(q url.Values) error {
	for _, param := range []string{"attributes", "excludedAttributes"} {
		if n := len(splitList(q.Get(param))); n > MaxAttributeNames {
			return schemas.Errorf(schemas.InvalidValue, "%s names %d attributes; at most %d are allowed", param, n, MaxAttributeNames)
		}
	}
	return nil
}

// limitProjection refuses a request whose attributes or
// excludedAttributes list is longer than MaxAttributeNames before its
// handler runs, so that nothing changes.
func (s *server) limitProjection(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkProjection(r.URL.Query()); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func readProjection(r *http.Request) projection {
	q := r.URL.Query()
	return projection{attributes: splitList(q.Get("attributes")), excluded: splitList(q.Get("excludedAttributes"))}
}

// readListParams reads and checks filter, sortBy, sortOrder, startIndex,
// count, cursor, attributes and excludedAttributes. startIndex below 1
// reads as 1; a negative count as 0; count above MaxCount as MaxCount.
// startIndex and cursor together are 400 invalidValue. A multi-valued
// complex sortBy names its value ("emails" sorts as "emails.value").
//
// opts (at most one) are the request's input-reading options (server.opts),
// which say whether the filter is read leniently and count its rewrites;
// without them the filter is read leniently unless the tenant is strict,
// and rewrites are not counted.
func readListParams(r *http.Request, rt *schemas.ResourceType, opts ...schemas.Options) (listParams, error) {
	var o schemas.Options
	if len(opts) > 0 {
		o = opts[0]
	} else {
		strict, _ := r.Context().Value(keyStrict).(bool)
		o.Lenient = !strict
	}
	q := r.URL.Query()
	lp := listParams{startIndex: 1, projection: readProjection(r)}
	lp.query.Limit = DefaultCount
	if q.Has("cursor") {
		if q.Has("startIndex") {
			return lp, schemas.Errorf(schemas.InvalidValue, "startIndex and cursor cannot be combined: page by index or by cursor")
		}
		lp.cursor, lp.cursorText = true, q.Get("cursor")
	}
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return lp, schemas.Errorf(schemas.InvalidValue, "startIndex must be an integer, not %q", v)
		}
		if n > 1 {
			lp.startIndex = n
		}
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return lp, schemas.Errorf(schemas.InvalidValue, "count must be an integer, not %q", v)
		}
		lp.query.Limit = min(max(n, 0), MaxCount)
	}
	lp.query.Offset = lp.startIndex - 1
	if f := strings.TrimSpace(q.Get("filter")); f != "" {
		filter, err := parseFilter(rt, f, o)
		if err != nil {
			return lp, err
		}
		lp.query.Filter, lp.filterText = filter, f
	}
	if v := q.Get("sortBy"); v != "" {
		path, caseExact, err := sortAttr(rt, v)
		if err != nil {
			return lp, err
		}
		lp.query.SortBy, lp.query.CaseExact, lp.sortGiven = path, caseExact, true
	}
	switch o := q.Get("sortOrder"); strings.ToLower(o) {
	case "":
	case "ascending":
		lp.orderGiven = true
	case "descending":
		lp.query.Descending, lp.orderGiven = true, true
	default:
		return lp, schemas.Errorf(schemas.InvalidValue, "sortOrder must be ascending or descending, not %q", o)
	}
	return lp, nil
}

// sortAttr resolves a sortBy value to the canonical path the store sorts
// by and whether it compares exactly. Every attribute that is neither
// complex nor never returned sorts; a multi-valued complex one by its
// value sub-attribute; a sub-attribute of a multi-valued one by its
// primary value, else its first (RFC 7644 §3.4.2.3).
func sortAttr(rt *schemas.ResourceType, v string) (string, bool, error) {
	a, ok := rt.Lookup(v)
	if ok && a.Type == schemas.TypeComplex && a.MultiValued {
		if sub, found := a.SubAttr("value"); found {
			a = sub
		}
	}
	if !ok {
		return "", false, schemas.Errorf(schemas.InvalidValue, "cannot sort %s by %q: no such attribute", rt.Name, v)
	}
	if _, err := store.ResolveSort(rt, a.Path); err != nil {
		return "", false, schemas.Errorf(schemas.InvalidValue, "cannot sort %s by %q: %s", rt.Name, v, sortRefusal(a))
	}
	return a.Path, a.CaseExact, nil
}

// sortRefusal says why a cannot be sorted by.
func sortRefusal(a *schemas.Attr) string {
	switch {
	case a.Returned == schemas.ReturnedNever:
		return "it is never returned"
	case a.Type == schemas.TypeComplex:
		return "it is complex; name one of its sub-attributes (" + a.Path + ".…)"
	}
	return "it is multi-valued"
}

// pageMeta is what a list handler learns of its page besides the
// resources: the number of all matches and where the page lies.
type pageMeta struct {
	Total            int
	Keys             []store.Position
	HasPrev, HasNext bool
}

// pageFunc runs a list query and renders its page.
type pageFunc func(r *http.Request, lp listParams) (pageMeta, []any, error)

// readList reads the list parameters of a request for rt and, for a
// cursor, checks it and continues its walk: the filter and sort bound into
// the cursor apply (a request that repeats them must repeat them exactly,
// else 400 invalidCursor), and the page starts after (before) its
// position. It returns the cursor's payload (nil without one).
func (s *server) readList(r *http.Request, rt *schemas.ResourceType) (listParams, *cursorState, error) {
	lp, err := readListParams(r, rt, s.opts(r))
	if err != nil || !lp.cursor || lp.cursorText == "" {
		return lp, nil, err
	}
	st, err := s.decodeCursor(r, rt.Name, lp.cursorText)
	if err != nil {
		return lp, nil, err
	}
	if (lp.filterText != "" && lp.filterText != st.Filter) || (lp.sortGiven && lp.query.SortBy != st.SortBy) ||
		(lp.orderGiven && lp.query.Descending != st.Desc) {
		return lp, nil, errorf(http.StatusBadRequest, scimInvalidCursor,
			"the cursor belongs to a walk with another filter or sort: repeat the filter, sortBy and sortOrder of its first page, or leave them out")
	}
	if lp.filterText == "" && st.Filter != "" {
		if lp.query.Filter, err = parseFilter(rt, st.Filter, s.opts(r)); err != nil {
			return lp, nil, err
		}
		lp.filterText = st.Filter
	}
	if !lp.sortGiven && st.SortBy != "" {
		path, caseExact, err := sortAttr(rt, st.SortBy)
		if err != nil {
			return lp, nil, err
		}
		lp.query.SortBy, lp.query.CaseExact = path, caseExact
	}
	lp.query.Descending = st.Desc
	if st.Pos != nil {
		pos := st.Pos.Position()
		if st.Before {
			lp.query.Before = &pos
		} else {
			lp.query.After = &pos
		}
	}
	return lp, &st, nil
}

// list answers a list request for rt (GET or POST …/.search) whose pages
// page renders: by cursor when the request has a cursor parameter, else
// by index.
func (s *server) list(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType, page pageFunc) {
	lp, st, err := s.readList(r, rt)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if lp.cursor {
		s.listByCursor(w, r, rt, lp, st, page)
		return
	}
	p := principal(r.Context())
	now := s.cfg.Now()
	walked := false
	if lp.startIndex > 1 && lp.query.Limit > 0 {
		if pos, ok := s.walks.get(walkKey(p.TenantID, p.TokenID, rt.Name, &lp, lp.startIndex), now); ok {
			lp.query.After, lp.query.Offset, walked = &pos, 0, true
		}
	}
	m, res, err := s.indexPage(r, rt, lp, page) // a walked page has its position: not through checkpoints
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n := len(res)
	if n > 0 && n == lp.query.Limit {
		s.walks.put(walkKey(p.TenantID, p.TokenID, rt.Name, &lp, lp.startIndex+n), m.Keys[n-1], now)
	}
	total := m.Total
	if walked {
		// Consistent with the walk: the resources before startIndex, the
		// page, and at least one more when there is one.
		if m.HasNext {
			total = max(total, lp.startIndex+n)
		} else {
			total = lp.startIndex - 1 + n
		}
	}
	writeList(w, total, lp.startIndex, res)
}

// listByCursor answers a cursor-paged list (RFC 9865): the page after (or
// before) the cursor's position, nextCursor unless it is the last page,
// previousCursor unless it is the first. count=0 answers only
// totalResults, and a nextCursor that keeps the position when resources
// follow it.
func (s *server) listByCursor(w http.ResponseWriter, r *http.Request, rt *schemas.ResourceType, lp listParams, st *cursorState, page pageFunc) {
	lp.query.Edges = true
	m, res, err := page(r, lp)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body := map[string]any{
		"schemas":      []string{schemas.ListResponseURN},
		"totalResults": m.Total,
		"itemsPerPage": len(res),
		"Resources":    res,
	}
	walk := cursorState{Type: rt.Name, Filter: lp.filterText, SortBy: lp.query.SortBy, Desc: lp.query.Descending}
	var next, prev *cursorState
	switch {
	case len(res) > 0:
		if m.HasNext {
			c := walk
			c.Pos = store.Typed(m.Keys[len(res)-1])
			next = &c
		}
		if m.HasPrev {
			c := walk
			c.Before, c.Pos = true, store.Typed(m.Keys[0])
			prev = &c
		}
	case lp.query.Limit == 0 && st == nil:
		if m.HasNext {
			next = &walk
		}
	case lp.query.Limit == 0:
		if (st.Before && m.HasPrev) || (!st.Before && m.HasNext) {
			c := walk
			c.Before, c.Pos = st.Before, st.Pos
			next = &c
		}
	}
	for name, c := range map[string]*cursorState{"nextCursor": next, "previousCursor": prev} {
		if c == nil {
			continue
		}
		text, err := s.encodeCursor(r, *c)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		body[name] = text
	}
	writeJSON(w, http.StatusOK, body)
}

// writeList answers with a ListResponse.
func writeList(w http.ResponseWriter, total, startIndex int, resources []any) {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{schemas.ListResponseURN},
		"totalResults": total,
		"itemsPerPage": len(resources),
		"startIndex":   startIndex,
		"Resources":    resources,
	})
}
