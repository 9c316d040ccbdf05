package scim

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// TestStrictMode checks the per-tenant strict switch: the client shapes
// that bend RFC 7644 are rewritten (and counted) for a lenient tenant and
// refused with a 400 for a strict one.
func TestStrictMode(t *testing.T) {
	shapes := []struct {
		name, body, kind string
	}{
		{"capitalised op", patchOp + `{"op":"Replace","path":"displayName","value":"X"}]}`, "op_case"},
		{"boolean as a string", patchOp + `{"op":"replace","path":"active","value":"False"}]}`, "bool_string"},
		{"dotted key in a path-less value", patchOp + `{"op":"replace","value":{"name.givenName":"G"}}]}`, "dotted_key"},
		{"manager as a string", patchOp + `{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m1"}]}`, "manager_string"},
		{"empty Operations", patchOp + `]}`, "empty_operations"},
	}
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h, _ := lifecycleHarness(t, s, "")
		id := createUser(t, h, "lenient@acme.test", "lenient@acme.test", "")
		for _, sh := range shapes {
			before := testutil.ToFloat64(h.metrics.Rewrites.WithLabelValues(sh.kind))
			h.req("PATCH", "/Users/"+id, sh.body).must(t, 200)
			if after := testutil.ToFloat64(h.metrics.Rewrites.WithLabelValues(sh.kind)); after != before+1 {
				t.Errorf("%s: rewrite %s counted %v times", sh.name, sh.kind, after-before)
			}
		}

		// A strict tenant gets a 400 for each, and nothing changes.
		_, tok := h.newTenant("validator")
		if _, err := h.svc.SetTenantPolicy(context.Background(), provision.Actor{Name: "test"}, "validator", "", []string{"strict=true"}); err != nil {
			t.Fatal(err)
		}
		auth := []string{"Authorization", "Bearer " + tok}
		sid := gets(h.req("POST", "/Users", map[string]any{"userName": "strict@acme.test"}, auth...).must(t, 201).Body, "id")
		for _, sh := range shapes {
			r := h.req("PATCH", "/Users/"+sid, sh.body, auth...)
			if r.Status != 400 {
				t.Errorf("%s in strict mode: %d %s", sh.name, r.Status, r.Raw)
			}
		}
		if r := h.req("GET", "/Users/"+sid, nil, auth...).must(t, 200); gets(r.Body, "meta.version") != `W/"1"` {
			t.Fatalf("a refused strict request changed the user: %s", r.Raw)
		}
		// The RFC forms work in strict mode.
		h.req("PATCH", "/Users/"+sid, patchOp+`{"op":"replace","path":"active","value":false}]}`, auth...).must(t, 200)
		h.req("POST", "/Users", map[string]any{"userName": "b@acme.test", "active": "True"}, auth...).scimError(t, 400, "invalidValue")
		// Microsoft's Postman collection asks for /serviceConfiguration.
		if r := h.req("GET", "/serviceConfiguration", nil).must(t, 200); get(r.Body, "etag.supported") != true {
			t.Fatalf("serviceConfiguration: %s", r.Raw)
		}
	})
}
