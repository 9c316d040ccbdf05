package scim

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/scim/patch"
	"github.com/scimd/scimd/store"
)

// takeMembers removes the members from a group document and returns their
// values.
func takeMembers(doc map[string]any) []string {
	list, _ := doc["members"].([]any)
	delete(doc, "members")
	ids := make([]string, 0, len(list))
	for _, m := range list {
		if v := str(m.(map[string]any)["value"]); v != "" {
			ids = append(ids, v)
		}
	}
	return ids
}

func groupColumns(g *store.Group, doc map[string]any) {
	g.DisplayName = str(doc["displayName"])
	g.ExternalID = str(doc["externalId"])
	g.Doc = encodeDoc(doc)
}

func (s *server) createGroup(w http.ResponseWriter, r *http.Request) {
	doc, err := s.readResource(r, schemas.Group)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	members := takeMembers(doc)
	var g store.Group
	groupColumns(&g, doc)
	created, err := s.cfg.Provision.CreateGroup(r.Context(), actor(r), g, members)
	if err != nil {
		s.writeCreateError(w, r, err)
		return
	}
	s.writeGroup(w, r, &created, http.StatusCreated)
}

func (s *server) getGroup(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	g, err := s.cfg.Store.GetGroup(r.Context(), p.TenantID, chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if v, ok := parseETag(inm); ok && (v == nil || *v == g.Version) {
			w.Header().Set("ETag", etag(g.Version))
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	s.writeGroup(w, r, &g, http.StatusOK)
}

// writeGroup renders a group (with its members unless the projection
// leaves them out) and answers with status (201 adds Location).
func (s *server) writeGroup(w http.ResponseWriter, r *http.Request, g *store.Group, status int) {
	proj := readProjection(r)
	withMembers := !proj.excludes("members")
	var members []store.Member
	if withMembers {
		mm, err := s.cfg.Store.GroupMembers(r.Context(), g.TenantID, []string{g.ID})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		members = mm[g.ID]
	}
	base := s.baseURL(r)
	doc, err := renderGroup(g, members, withMembers, base)
	if err == nil {
		doc, err = proj.apply(schemas.Group, doc)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(g.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", base+"/Groups/"+g.ID)
	}
	writeJSON(w, status, doc)
}

func (s *server) listGroups(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, schemas.Group, s.groupPage)
}

// groupPage runs a group query and renders its page; members are read only
// when the projection keeps them.
func (s *server) groupPage(r *http.Request, lp listParams) (pageMeta, []any, error) {
	p := principal(r.Context())
	page, err := s.cfg.Store.ListGroups(r.Context(), p.TenantID, withBase(lp.query, s.baseURL(r)))
	if err != nil {
		return pageMeta{}, nil, err
	}
	meta := pageMeta{Total: page.Total, Keys: page.Keys, HasPrev: page.HasPrev, HasNext: page.HasNext}
	withMembers := !lp.projection.excludes("members")
	var members map[string][]store.Member
	if withMembers && len(page.Groups) > 0 {
		ids := make([]string, len(page.Groups))
		for i := range page.Groups {
			ids[i] = page.Groups[i].ID
		}
		if members, err = s.cfg.Store.GroupMembers(r.Context(), p.TenantID, ids); err != nil {
			return pageMeta{}, nil, err
		}
	}
	base := s.baseURL(r)
	res := make([]any, 0, len(page.Groups))
	for i := range page.Groups {
		g := &page.Groups[i]
		doc, err := renderGroup(g, members[g.ID], withMembers, base)
		if err == nil {
			doc, err = lp.projection.apply(schemas.Group, doc)
		}
		if err != nil {
			return pageMeta{}, nil, err
		}
		res = append(res, doc)
	}
	return meta, res, nil
}

func (s *server) replaceGroup(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.readResource(r, schemas.Group)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	members := takeMembers(doc)
	g, err := s.cfg.Provision.UpdateGroup(r.Context(), actor(r), chi.URLParam(r, "id"), version, "group.replace",
		func(g *store.Group) ([]provision.MemberChange, error) {
			groupColumns(g, doc)
			return []provision.MemberChange{{Kind: provision.MembersReplace, IDs: members}}, nil
		})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeGroup(w, r, &g, http.StatusOK)
}

var memberKinds = map[patch.MemberKind]provision.MemberKind{
	patch.MemberAdd:     provision.MembersAdd,
	patch.MemberRemove:  provision.MembersRemove,
	patch.MemberReplace: provision.MembersReplace,
	patch.MemberClear:   provision.MembersClear,
}

// patchGroup answers 204 (Entra's preference; it spares rendering a large
// member list) unless the request asks for attributes, then 200 with the
// projected group (RFC 7644 §3.5.2).
func (s *server) patchGroup(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ops, err := patch.Decode(body, s.opts(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := s.cfg.Provision.UpdateGroup(r.Context(), actor(r), chi.URLParam(r, "id"), version, "group.patch",
		func(g *store.Group) ([]provision.MemberChange, error) {
			doc, err := decodeDoc(g.Doc)
			if err != nil {
				return nil, err
			}
			res, err := patch.Apply(schemas.Group, g.ID, doc, ops, s.opts(r))
			if err != nil {
				return nil, err
			}
			groupColumns(g, doc)
			changes := make([]provision.MemberChange, len(res.Members))
			for i, m := range res.Members {
				changes[i] = provision.MemberChange{Kind: memberKinds[m.Kind], IDs: m.IDs}
			}
			return changes, nil
		})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if readProjection(r).empty() {
		w.Header().Set("ETag", etag(g.Version))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.writeGroup(w, r, &g, http.StatusOK)
}

func (s *server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.cfg.Provision.DeleteGroup(r.Context(), actor(r), chi.URLParam(r, "id"), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
