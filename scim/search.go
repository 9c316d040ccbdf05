package scim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/scimd/scimd/schemas"
)

// searchQuery turns a SearchRequest body (RFC 7644 §3.4.3) into the query
// parameters of the equivalent GET, so that POST …/.search runs the same
// engine as GET. Member names are matched case-insensitively. Errors are
// *schemas.Error values (invalidSyntax, invalidValue).
func searchQuery(r *http.Request) (url.Values, error) {
	body, err := readJSON(r)
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	hasSchema := false
	for k, val := range body {
		switch strings.ToLower(k) {
		case "schemas":
			list, _ := val.([]any)
			for _, s := range list {
				if str, ok := s.(string); ok && strings.EqualFold(str, schemas.SearchRequestURN) {
					hasSchema = true
				}
			}
		case "attributes", "excludedattributes":
			names, err := nameList(k, val)
			if err != nil {
				return nil, err
			}
			key := "attributes"
			if strings.EqualFold(k, "excludedAttributes") {
				key = "excludedAttributes"
			}
			v.Set(key, strings.Join(names, ","))
		case "filter", "sortby", "sortorder":
			s, ok := val.(string)
			if !ok {
				return nil, schemas.Errorf(schemas.InvalidValue, "%s must be a string", k)
			}
			v.Set(map[string]string{"filter": "filter", "sortby": "sortBy", "sortorder": "sortOrder"}[strings.ToLower(k)], s)
		case "startindex", "count":
			n, ok := val.(json.Number)
			if !ok {
				return nil, schemas.Errorf(schemas.InvalidValue, "%s must be an integer", k)
			}
			v.Set(map[string]string{"startindex": "startIndex", "count": "count"}[strings.ToLower(k)], n.String())
		case "cursor":
			// RFC 9865 §2.2: "" (or null) asks for the first page.
			switch c := val.(type) {
			case string:
				v.Set("cursor", c)
			case nil:
				v.Set("cursor", "")
			default:
				return nil, schemas.Errorf(schemas.InvalidValue, "cursor must be a string")
			}
		}
	}
	if !hasSchema {
		return nil, schemas.Errorf(schemas.InvalidSyntax, "schemas must contain %q", schemas.SearchRequestURN)
	}
	if err := checkProjection(v); err != nil {
		return nil, err
	}
	return v, nil
}

// nameList reads attributes / excludedAttributes: an array of names (or,
// leniently, one comma-separated string).
func nameList(key string, val any) ([]string, error) {
	switch t := val.(type) {
	case string:
		return []string{t}, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, schemas.Errorf(schemas.InvalidValue, "%s must be an array of attribute names", key)
			}
			out = append(out, s)
		}
		return out, nil
	case nil:
		return nil, nil
	}
	return nil, schemas.Errorf(schemas.InvalidValue, "%s must be an array of attribute names", key)
}

// withQuery returns a copy of r whose query string is v.
func withQuery(r *http.Request, v url.Values) *http.Request {
	r2 := r.Clone(r.Context())
	u := *r.URL
	u.RawQuery = v.Encode()
	r2.URL = &u
	return r2
}

func (s *server) searchUsers(w http.ResponseWriter, r *http.Request) {
	v, err := searchQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.listUsers(w, withQuery(r, v))
}

func (s *server) searchGroups(w http.ResponseWriter, r *http.Request) {
	v, err := searchQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.listGroups(w, withQuery(r, v))
}

// searchAll is POST /.search at the root: it searches Users, then Groups,
// as one list. A filter or sortBy that names an attribute one resource type
// does not have leaves that type out; when it fits neither, it is a 400.
func (s *server) searchAll(w http.ResponseWriter, r *http.Request) {
	v, err := searchQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	r = withQuery(r, v)
	if v.Has("cursor") {
		s.writeError(w, r, schemas.Errorf(schemas.InvalidValue,
			"cursor paging works on /Users/.search and /Groups/.search; the root .search pages by startIndex"))
		return
	}
	lpU, errU := readListParams(r, schemas.User, s.opts(r))
	lpG, errG := readListParams(r, schemas.Group, s.opts(r))
	if errU != nil && errG != nil {
		s.writeError(w, r, errU)
		return
	}
	var total int
	var res []any
	start, count := 1, DefaultCount
	if errU == nil {
		start, count = lpU.startIndex, lpU.query.Limit
	} else {
		start, count = lpG.startIndex, lpG.query.Limit
	}
	users := 0
	if errU == nil {
		m, page, err := s.userPage(r, lpU)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		users, total, res = m.Total, m.Total, page
	}
	if errG == nil {
		// Groups continue the list where the users end.
		lpG.query.Offset = max(start-1-users, 0)
		lpG.query.Limit = max(count-len(res), 0)
		m, page, err := s.groupPage(r, lpG)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		total += m.Total
		res = append(res, page...)
	}
	writeList(w, total, start, res)
}
