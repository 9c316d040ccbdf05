package schemas

import "testing"

// TestServiceProviderConfigPagination checks the RFC 9865 §4 object.
func TestServiceProviderConfigPagination(t *testing.T) {
	doc := mustJSON(t, ServiceProviderConfig(base, SPConfig{Pagination: &Pagination{
		Cursor: true, Index: true, DefaultPaginationMethod: "index", DefaultPageSize: 100, MaxPageSize: 1000, CursorTimeout: 3600,
	}})).(map[string]any)
	p, ok := doc["pagination"].(map[string]any)
	if !ok {
		t.Fatalf("no pagination object: %v", doc)
	}
	want := map[string]any{"cursor": true, "index": true, "defaultPaginationMethod": "index",
		"defaultPageSize": 100.0, "maxPageSize": 1000.0, "cursorTimeout": 3600.0}
	if len(p) != len(want) {
		t.Errorf("pagination = %v, want %v", p, want)
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("pagination.%s = %v, want %v", k, p[k], v)
		}
	}
	if _, ok := mustJSON(t, ServiceProviderConfig(base, SPConfig{})).(map[string]any)["pagination"]; ok {
		t.Error("pagination advertised without a Pagination")
	}
}
