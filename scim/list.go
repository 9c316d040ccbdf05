package scim

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// sortable lists the attributes sortBy accepts, per resource type.
var sortable = map[*schemas.ResourceType]map[string]bool{
	schemas.User: set("id", "userName", "externalId", "displayName", "name.givenName", "name.familyName",
		"active", "meta.created", "meta.lastModified"),
	schemas.Group: set("id", "displayName", "externalId", "meta.created", "meta.lastModified"),
}

// listParams are the query parameters of a list request (RFC 7644 §3.4.2).
type listParams struct {
	query      store.Query
	startIndex int
	projection projection
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

func readProjection(r *http.Request) projection {
	q := r.URL.Query()
	return projection{attributes: splitList(q.Get("attributes")), excluded: splitList(q.Get("excludedAttributes"))}
}

// readListParams reads and checks filter, sortBy, sortOrder, startIndex,
// count, attributes and excludedAttributes. startIndex below 1 reads as 1;
// a negative count as 0; count above MaxCount as MaxCount.
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
	if f := q.Get("filter"); strings.TrimSpace(f) != "" {
		filter, err := parseFilter(rt, f, o)
		if err != nil {
			return lp, err
		}
		lp.query.Filter = filter
	}
	if v := q.Get("sortBy"); v != "" {
		a, ok := rt.Lookup(v)
		if !ok || !sortable[rt][a.Path] {
			return lp, schemas.Errorf(schemas.InvalidValue, "cannot sort %s by %q", rt.Name, v)
		}
		lp.query.SortBy, lp.query.CaseExact = a.Path, a.CaseExact
	}
	switch o := q.Get("sortOrder"); strings.ToLower(o) {
	case "", "ascending":
	case "descending":
		lp.query.Descending = true
	default:
		return lp, schemas.Errorf(schemas.InvalidValue, "sortOrder must be ascending or descending, not %q", o)
	}
	return lp, nil
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
