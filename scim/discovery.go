package scim

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/schemas"
)

// spConfig is what scimd supports today; only what works is advertised.
func (s *server) spConfig() schemas.SPConfig {
	return schemas.SPConfig{
		PatchSupported:     true,
		BulkSupported:      true,
		BulkMaxOperations:  MaxBulkOperations,
		BulkMaxPayloadSize: int(s.cfg.MaxBodyBytes),
		FilterSupported:    true,
		FilterMaxResults:   MaxCount,
		SortSupported:      true,
		ETagSupported:      true,
		Pagination: &schemas.Pagination{
			Cursor:                  true,
			Index:                   true,
			DefaultPaginationMethod: "index",
			DefaultPageSize:         DefaultCount,
			MaxPageSize:             MaxCount,
			CursorTimeout:           int(CursorTimeout / time.Second),
		},
	}
}

func (s *server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, schemas.ServiceProviderConfig(s.baseURL(r), s.spConfig()))
}

func (s *server) resourceTypes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, listResponse(schemas.ResourceTypes(s.baseURL(r))))
}

func (s *server) resourceType(w http.ResponseWriter, r *http.Request) {
	doc, ok := schemas.ResourceTypeDoc(s.baseURL(r), chi.URLParam(r, "name"))
	if !ok {
		s.writeError(w, r, errorf(http.StatusNotFound, "", "no resource type %q", chi.URLParam(r, "name")))
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *server) schemaList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, listResponse(schemas.SchemaDocs(s.baseURL(r))))
}

func (s *server) schema(w http.ResponseWriter, r *http.Request) {
	doc, ok := schemas.SchemaDoc(s.baseURL(r), chi.URLParam(r, "urn"))
	if !ok {
		s.writeError(w, r, errorf(http.StatusNotFound, "", "no schema %q", chi.URLParam(r, "urn")))
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// listResponse wraps a complete, unpaged list of documents.
func listResponse(docs []map[string]any) map[string]any {
	res := make([]any, len(docs))
	for i, d := range docs {
		res[i] = d
	}
	return map[string]any{
		"schemas": []string{schemas.ListResponseURN}, "totalResults": len(docs),
		"itemsPerPage": len(docs), "startIndex": 1, "Resources": res,
	}
}
