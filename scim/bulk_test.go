package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

const bulkURN = `"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]`

type bulkOut struct {
	Operations []struct {
		Location, Method, BulkID, Version, Status string
		Response                                  map[string]any
	}
}

func doBulk(t *testing.T, h *harness, body string) (int, bulkOut) {
	t.Helper()
	r := h.req("POST", "/Bulk", body)
	var out bulkOut
	if r.Status == 200 {
		if err := json.Unmarshal(r.Raw, &out); err != nil {
			t.Fatal(err)
		}
		if gets(r.Body, "schemas") == "" && !strings.Contains(string(r.Raw), "BulkResponse") {
			t.Fatalf("not a BulkResponse: %s", r.Raw)
		}
	}
	return r.Status, out
}

func userCount(t *testing.T, h *harness) int {
	t.Helper()
	n, err := h.store.CountUsers(context.Background(), h.tenantID, store.StateActive, store.StateInactive)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func groupMembers(t *testing.T, h *harness, groupID string) []string {
	t.Helper()
	g := h.req("GET", "/Groups/"+groupID, nil).must(t, 200).Body
	var out []string
	ms, _ := g["members"].([]any)
	for _, m := range ms {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	return out
}

// TestBulkRFCExample replays RFC 7644 §3.7.2: a user and a group that lists
// it by bulkId, in one request — and the same with the group first.
func TestBulkRFCExample(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h := newHarness(t, s)
		for _, groupFirst := range []bool{false, true} {
			suffix := fmt.Sprint(groupFirst)
			user := `{"method":"POST","path":"/Users","bulkId":"qwerty` + suffix + `","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Alice` + suffix + `"}}`
			group := `{"method":"POST","path":"/Groups","bulkId":"ytrewq` + suffix + `","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Tour Guides ` + suffix + `","members":[{"type":"User","value":"bulkId:qwerty` + suffix + `"}]}}`
			ops := user + "," + group
			if groupFirst {
				ops = group + "," + user
			}
			st, out := doBulk(t, h, `{`+bulkURN+`,"Operations":[`+ops+`]}`)
			if st != 200 || len(out.Operations) != 2 {
				t.Fatalf("status %d, %+v", st, out)
			}
			var userID, groupID string
			for _, op := range out.Operations {
				if op.Status != "201" || op.Method != "POST" || op.Location == "" || op.Version == "" {
					t.Fatalf("operation %+v", op)
				}
				id := op.Location[strings.LastIndex(op.Location, "/")+1:]
				switch {
				case strings.HasPrefix(op.BulkID, "qwerty") && strings.Contains(op.Location, "/Users/"):
					userID = id
				case strings.HasPrefix(op.BulkID, "ytrewq") && strings.Contains(op.Location, "/Groups/"):
					groupID = id
				default:
					t.Fatalf("operation %+v", op)
				}
			}
			if m := groupMembers(t, h, groupID); len(m) != 1 || m[0] != userID {
				t.Errorf("group first=%v: members %v, want [%s]", groupFirst, m, userID)
			}
			// Results come in request order.
			if groupFirst != strings.HasPrefix(out.Operations[0].BulkID, "ytrewq") {
				t.Errorf("results out of request order: %+v", out.Operations)
			}
		}
	})
}

// TestBulkCircular: groups that list each other by bulkId wait for each
// other forever: both are refused with 409 and nothing is created; an
// unknown bulkId is refused the same way; the rest of the request runs.
func TestBulkCircular(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h := newHarness(t, s)
		st, out := doBulk(t, h, `{`+bulkURN+`,"Operations":[
			{"method":"POST","path":"/Groups","bulkId":"a","data":{"displayName":"A","members":[{"value":"bulkId:b"}]}},
			{"method":"POST","path":"/Groups","bulkId":"b","data":{"displayName":"B","members":[{"value":"bulkId:a"}]}},
			{"method":"POST","path":"/Groups","bulkId":"c","data":{"displayName":"C","members":[{"value":"bulkId:nowhere"}]}},
			{"method":"POST","path":"/Users","bulkId":"u","data":{"userName":"ok@example.com"}}]}`)
		if st != 200 || len(out.Operations) != 4 {
			t.Fatalf("status %d: %+v", st, out)
		}
		for i, op := range out.Operations[:3] {
			if op.Status != "409" || !strings.Contains(fmt.Sprint(op.Response["detail"]), "bulkId") {
				t.Errorf("operation %d: %+v", i, op)
			}
		}
		if !strings.Contains(fmt.Sprint(out.Operations[0].Response["detail"]), "circular") {
			t.Errorf("detail %v", out.Operations[0].Response["detail"])
		}
		if out.Operations[3].Status != "201" {
			t.Errorf("the independent operation: %+v", out.Operations[3])
		}
		if l := h.req("GET", "/Groups", nil).must(t, 200).Body["totalResults"]; l != float64(0) {
			t.Errorf("groups created: %v", l)
		}
	})
}

// TestBulkFailOnErrors: with failOnErrors 1 processing stops at the first
// error; the operations after it are neither run nor answered.
func TestBulkFailOnErrors(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h := newHarness(t, s)
		createUser(t, h, "taken@example.com", "taken@example.com", "")
		body := func(fail string) string {
			return `{` + bulkURN + fail + `,"Operations":[
			{"method":"POST","path":"/Users","bulkId":"1","data":{"userName":"one@example.com"}},
			{"method":"POST","path":"/Users","bulkId":"2","data":{"userName":"taken@example.com"}},
			{"method":"POST","path":"/Users","bulkId":"3","data":{"userName":"three@example.com"}},
			{"method":"POST","path":"/Users","bulkId":"4","data":{"userName":"four@example.com"}}]}`
		}
		st, out := doBulk(t, h, body(`,"failOnErrors":1`))
		if st != 200 || len(out.Operations) != 2 || out.Operations[0].Status != "201" || out.Operations[1].Status != "409" ||
			out.Operations[1].Response["scimType"] != "uniqueness" {
			t.Fatalf("failOnErrors 1: %d %+v", st, out)
		}
		if n := userCount(t, h); n != 2 {
			t.Errorf("users after failOnErrors 1: %d, want 2", n)
		}
		// Without failOnErrors every operation runs.
		h.req("DELETE", "/Users/"+out.Operations[0].Location[strings.LastIndex(out.Operations[0].Location, "/")+1:], nil).must(t, 204)
		st, out = doBulk(t, h, body(""))
		if st != 200 || len(out.Operations) != 4 || out.Operations[1].Status != "409" || out.Operations[3].Status != "201" {
			t.Fatalf("no failOnErrors: %d %+v", st, out)
		}
		for _, bad := range []string{`,"failOnErrors":0`, `,"failOnErrors":-1`} {
			if r := h.req("POST", "/Bulk", body(bad)); r.Status != 400 {
				t.Errorf("%s: %d", bad, r.Status)
			}
		}
	})
}

// TestBulkMixed: PUT, PATCH (with version, right and wrong), DELETE and a
// policy refusal in one request; each is reported on its own and the others
// apply; each leaves its own audit entry.
func TestBulkMixed(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h := newHarness(t, s)
		a := createUser(t, h, "a@example.com", "a@example.com", "")
		b := createUser(t, h, "b@example.com", "b@example.com", "")
		g := createUser(t, h, "g@gmail.com", "g@gmail.com", "")
		etag := h.req("GET", "/Users/"+a, nil).must(t, 200).Header.Get("ETag")
		deactivate := `"data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
		st, out := doBulk(t, h, `{`+bulkURN+`,"Operations":[
			{"method":"PATCH","path":"/Users/`+a+`","version":`+jsonString(etag)+`,`+deactivate+`},
			{"method":"PATCH","path":"/Users/`+a+`","version":`+jsonString(etag)+`,`+deactivate+`},
			{"method":"PATCH","path":"/Users/`+g+`",`+deactivate+`},
			{"method":"PUT","path":"/Users/`+b+`","data":{"userName":"b@example.com","title":"Boss"}},
			{"method":"DELETE","path":"/Users/`+b+`"},
			{"method":"DELETE","path":"/Users/`+b+`"},
			{"method":"GET","path":"/Users/`+a+`"},
			{"method":"PATCH","path":"/Users"}]}`)
		if st != 200 || len(out.Operations) != 8 {
			t.Fatalf("%d %+v", st, out)
		}
		want := []string{"200", "412", "403", "200", "204", "404", "400", "400"}
		for i, w := range want {
			if out.Operations[i].Status != w {
				t.Errorf("operation %d: status %s, want %s (%+v)", i, out.Operations[i].Status, w, out.Operations[i])
			}
		}
		if d := fmt.Sprint(out.Operations[2].Response["detail"]); !strings.HasPrefix(d, "policy.consumer_domain") {
			t.Errorf("refusal detail %q", d)
		}
		if out.Operations[0].Version == "" || out.Operations[0].Version == etag || !strings.HasSuffix(out.Operations[0].Location, "/Users/"+a) {
			t.Errorf("patch result %+v", out.Operations[0])
		}
		if u := h.req("GET", "/Users/"+a, nil).must(t, 200).Body; u["active"] != false {
			t.Errorf("a not deactivated: %v", u["active"])
		}
		if u := h.req("GET", "/Users/"+g, nil).must(t, 200).Body; u["active"] != true {
			t.Errorf("the refused deactivation applied")
		}
		h.req("GET", "/Users/"+b, nil).must(t, 404)
		// One audit entry per operation that reached a handler (the GET and
		// the malformed ones did not change anything).
		all, err := s.QueryAudit(context.Background(), store.AuditQuery{TenantID: h.tenantID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		bulkEntries := 0
		for _, e := range all {
			if strings.Contains(e.RequestID, ".") {
				bulkEntries++
			}
		}
		if bulkEntries != 6 {
			t.Errorf("%d audit entries from the bulk, want 6", bulkEntries)
		}
	})
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestBulkLimits: more than maxOperations, or a body over maxPayloadSize,
// is 413 with nothing applied; both limits are advertised.
func TestBulkLimits(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		h := newHarness(t, s)
		var ops []string
		for i := 0; i <= MaxBulkOperations; i++ {
			ops = append(ops, fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"b%d","data":{"userName":"u%d@example.com"}}`, i, i))
		}
		r := h.req("POST", "/Bulk", `{`+bulkURN+`,"Operations":[`+strings.Join(ops, ",")+`]}`)
		r.scimError(t, 413, "")
		if n := userCount(t, h); n != 0 {
			t.Errorf("%d users created by a refused bulk", n)
		}
		big := `{` + bulkURN + `,"Operations":[{"method":"POST","path":"/Users","bulkId":"x","data":{"userName":"x@example.com","title":"` +
			strings.Repeat("x", DefaultMaxBodyBytes) + `"}}]}`
		h.req("POST", "/Bulk", big).scimError(t, 413, "")
		if n := userCount(t, h); n != 0 {
			t.Errorf("%d users created by an over-size bulk", n)
		}
		for _, bad := range []string{`{}`, `[1]`, `{` + bulkURN + `,"Operations":[]}`,
			`{` + bulkURN + `,"Operations":[{"method":"POST","path":"/Users","bulkId":"d","data":{"userName":"d1"}},{"method":"POST","path":"/Users","bulkId":"d","data":{"userName":"d2"}}]}`} {
			if r := h.req("POST", "/Bulk", bad); r.Status != 400 {
				t.Errorf("%s: %d %s", bad, r.Status, r.Raw)
			}
		}
		// The tenant's own cap (policy bulk_max_operations) is lower.
		if _, err := h.svc.SetTenantPolicy(context.Background(), provision.Actor{Name: "test"}, "acme", "", []string{"bulk_max_operations=2"}); err != nil {
			t.Fatal(err)
		}
		r = h.req("POST", "/Bulk", `{`+bulkURN+`,"Operations":[`+strings.Join(ops[:3], ",")+`]}`)
		if d := r.scimError(t, 413, ""); !strings.Contains(d, "bulk_max_operations") {
			t.Errorf("detail %q does not name the setting", d)
		}
		if n := userCount(t, h); n != 0 {
			t.Errorf("%d users created over the tenant's cap", n)
		}
		spc := h.req("GET", "/ServiceProviderConfig", nil).must(t, 200).Body["bulk"].(map[string]any)
		if spc["supported"] != true || spc["maxOperations"] != float64(MaxBulkOperations) || spc["maxPayloadSize"] != float64(DefaultMaxBodyBytes) {
			t.Errorf("bulk in /ServiceProviderConfig = %v", spc)
		}
	})
}
