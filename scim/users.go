package scim

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/auth"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/scim/patch"
	"github.com/scimd/scimd/store"
)

// opts are the input-reading options of a request: lenient towards the
// known IdP shapes, counting every rewrite, unless the tenant is in strict
// mode (for validator runs), where each of those shapes is a 400.
func (s *server) opts(r *http.Request) schemas.Options {
	strict, _ := r.Context().Value(keyStrict).(bool)
	return schemas.Options{Lenient: !strict, Rewrote: func(kind string) { s.metrics.Rewrites.WithLabelValues(kind).Inc() }}
}

// actor describes the caller of a request for the provision service.
func actor(r *http.Request) provision.Actor {
	p := principal(r.Context())
	return provision.Actor{TenantID: p.TenantID, TokenID: p.TokenID, OwnerID: p.OwnerID, Name: "token:" + p.TokenID,
		RequestID: requestID(r.Context()), Client: r.UserAgent(), TenantPolicy: p.TenantPolicy}
}

// readResource reads a POST or PUT body into the canonical document of rt
// and checks its required attributes.
func (s *server) readResource(r *http.Request, rt *schemas.ResourceType) (map[string]any, error) {
	body, err := readJSON(r)
	if err != nil {
		return nil, err
	}
	return s.canonical(r, rt, body)
}

// canonical turns a resource body of rt into its canonical document and
// checks its required attributes.
func (s *server) canonical(r *http.Request, rt *schemas.ResourceType, body map[string]any) (map[string]any, error) {
	doc, err := schemas.Normalize(rt, body, s.opts(r))
	if err != nil {
		return nil, err
	}
	if missing := schemas.MissingRequired(rt, doc); len(missing) > 0 {
		return nil, schemas.Errorf(schemas.InvalidValue, "%s is required", missing[0])
	}
	return doc, nil
}

// takePassword removes a password from the document and returns its hash
// ("" when the document has none).
func takePassword(doc map[string]any) (string, error) {
	pw := str(doc["password"])
	delete(doc, "password")
	if pw == "" {
		return "", nil
	}
	return auth.HashPassword(pw)
}

// newUser builds the user a POST /Users body describes.
func (s *server) newUser(r *http.Request, body map[string]any) (store.User, error) {
	doc, err := s.canonical(r, schemas.User, body)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{Active: true}
	if u.PasswordHash, err = takePassword(doc); err != nil {
		return store.User{}, err
	}
	if err := userColumns(&u, doc); err != nil {
		return store.User{}, err
	}
	u.Doc = encodeDoc(doc)
	return u, nil
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.newUser(r, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.cfg.Provision.CreateUser(r.Context(), actor(r), u)
	if err != nil {
		s.writeCreateError(w, r, err)
		return
	}
	s.writeUser(w, r, &created, http.StatusCreated)
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	u, err := s.cfg.Store.GetUser(r.Context(), p.TenantID, chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if v, ok := parseETag(inm); ok && (v == nil || *v == u.Version) {
			w.Header().Set("ETag", etag(u.Version))
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	s.writeUser(w, r, &u, http.StatusOK)
}

// writeUser renders a user with its groups (u.Groups; read here when the
// caller has not read them), applies the request's projection and answers
// with status (201 adds Location).
func (s *server) writeUser(w http.ResponseWriter, r *http.Request, u *store.User, status int) {
	proj := readProjection(r)
	groups := u.Groups
	if groups == nil && !proj.excludes("groups") {
		gm, err := s.cfg.Store.UserGroups(r.Context(), u.TenantID, []string{u.ID})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		groups = gm[u.ID]
	}
	base := s.baseURL(r)
	var body any
	var err error
	if proj.empty() {
		body, err = renderUserJSON(u, groups, base)
	} else {
		var doc map[string]any
		if doc, err = renderUser(u, groups, base); err == nil {
			body, err = proj.apply(schemas.User, doc)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(u.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", base+"/Users/"+u.ID)
	}
	writeJSON(w, status, body)
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, schemas.User, s.userPage)
}

// userPage runs a user query and renders its page; it returns what the
// store said of the page (the number of all matches, …) and the rendered
// resources.
func (s *server) userPage(r *http.Request, lp listParams) (pageMeta, []any, error) {
	p := principal(r.Context())
	q := withBase(lp.query, s.baseURL(r))
	q.WithGroups = !lp.projection.excludes("groups")
	q.WithoutEmails = true // rendered from the document
	page, err := s.cfg.Store.ListUsers(r.Context(), p.TenantID, q)
	if err != nil {
		return pageMeta{}, nil, err
	}
	meta := pageMeta{Total: page.Total, Keys: page.Keys, HasPrev: page.HasPrev, HasNext: page.HasNext}
	base := s.baseURL(r)
	res := make([]any, 0, len(page.Users))
	fast := lp.projection.empty()
	for i := range page.Users {
		u := &page.Users[i]
		if fast {
			raw, err := renderUserJSON(u, u.Groups, base)
			if err != nil {
				return pageMeta{}, nil, err
			}
			res = append(res, raw)
			continue
		}
		doc, err := renderUser(u, u.Groups, base)
		if err == nil {
			doc, err = lp.projection.apply(schemas.User, doc)
		}
		if err != nil {
			return pageMeta{}, nil, err
		}
		res = append(res, doc)
	}
	return meta, res, nil
}

func (s *server) replaceUser(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.readResource(r, schemas.User)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hash, err := takePassword(doc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	u, err := s.cfg.Provision.UpdateUser(r.Context(), actor(r), id, version, "user.replace", func(u *store.User) error {
		// A PUT that does not mention roles or active keeps them: many IdPs
		// never send roles, and a full replace must not demote or
		// deactivate by omission. The password is write-only: kept unless sent.
		if hash != "" {
			u.PasswordHash = hash
		}
		if err := userColumns(u, doc); err != nil {
			return err
		}
		u.Doc = encodeDoc(doc)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeUser(w, r, &u, http.StatusOK)
}

func (s *server) patchUser(w http.ResponseWriter, r *http.Request) {
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
	id := chi.URLParam(r, "id")
	u, err := s.cfg.Provision.UpdateUser(r.Context(), actor(r), id, version, "user.patch", func(u *store.User) error {
		doc, err := decodeDoc(u.Doc)
		if err != nil {
			return err
		}
		if _, err := patch.Apply(schemas.User, u.ID, doc, ops, s.opts(r)); err != nil {
			return err
		}
		hash, err := takePassword(doc)
		if err != nil {
			return err
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		if err := userColumns(u, doc); err != nil {
			return err
		}
		u.Doc = encodeDoc(doc)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeUser(w, r, &u, http.StatusOK)
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.cfg.Provision.DeleteUser(r.Context(), actor(r), chi.URLParam(r, "id"), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
