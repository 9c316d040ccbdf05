package scim

import (
	"strings"
	"testing"
)

// TestGroupsAsMembers checks that members may be users or groups of the
// same tenant, that anything else is a 400 invalidValue changing nothing,
// and that members render with their type and $ref.
func TestGroupsAsMembers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		uid := createUser(t, h, "u@acme.test", "u@acme.test", "")
		outer := gets(h.req("POST", "/Groups", map[string]any{"displayName": "Outer"}).must(t, 201).Body, "id")
		inner := gets(h.req("POST", "/Groups", map[string]any{"displayName": "Inner"}).must(t, 201).Body, "id")
		h.req("PATCH", "/Groups/"+outer, patchOp+`{"op":"add","path":"members","value":[{"value":"`+inner+`"},{"value":"`+uid+`"}]}]}`).must(t, 204)
		r := h.req("GET", "/Groups/"+outer, nil).must(t, 200)
		byID := map[string]map[string]any{}
		for _, m := range get(r.Body, "members").([]any) {
			mm := m.(map[string]any)
			byID[mm["value"].(string)] = mm
		}
		if g := byID[inner]; g == nil || g["type"] != "Group" || g["display"] != "Inner" || !strings.HasSuffix(g["$ref"].(string), "/Groups/"+inner) {
			t.Fatalf("group member: %s", r.Raw)
		}
		if u := byID[uid]; u == nil || u["type"] != "User" || !strings.HasSuffix(u["$ref"].(string), "/Users/"+uid) {
			t.Fatalf("user member: %s", r.Raw)
		}
		// A group of another tenant, the group itself, or an unknown id:
		// 400 and nothing changes.
		_, otherTok := h.newTenant("other")
		foreign := gets(h.req("POST", "/Groups", map[string]any{"displayName": "Foreign"}, "Authorization", "Bearer "+otherTok).must(t, 201).Body, "id")
		version := gets(r.Body, "meta.version")
		for _, bad := range []string{foreign, outer, "01a2f0f0-0000-7000-8000-000000000000"} {
			h.req("PATCH", "/Groups/"+outer, patchOp+`{"op":"remove","path":"members[value eq \"`+uid+`\"]"},{"op":"add","path":"members","value":[{"value":"`+bad+`"}]}]}`).scimError(t, 400, "invalidValue")
		}
		if r := h.req("GET", "/Groups/"+outer, nil).must(t, 200); gets(r.Body, "meta.version") != version || len(get(r.Body, "members").([]any)) != 2 {
			t.Fatalf("a refused PATCH changed the group: %s", r.Raw)
		}
		// Deleting the inner group removes it from the outer one.
		h.req("DELETE", "/Groups/"+inner, nil).must(t, 204)
		if r := h.req("GET", "/Groups/"+outer, nil).must(t, 200); len(get(r.Body, "members").([]any)) != 1 {
			t.Fatalf("deleted group still a member: %s", r.Raw)
		}
	})
}
