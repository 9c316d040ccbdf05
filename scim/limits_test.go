package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/scim/patch"
)

// This file checks every input limit of the SCIM API through the real HTTP
// handler on every backend: each over-limit request is answered with a
// SCIM error (413 or 400) and changes nothing.

const searchURN = `"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]`

// limitFixture is a tenant with two users and a group holding one of them.
type limitFixture struct {
	h              *harness
	user, other, g string
}

func newLimitFixture(t *testing.T, h *harness) limitFixture {
	t.Helper()
	f := limitFixture{h: h}
	f.user = gets(h.req("POST", "/Users", `{"userName":"dora@example.com","name":{"givenName":"Dora","familyName":"Doe"},
		"emails":[{"value":"dora@example.com","type":"work","primary":true}]}`).must(t, 201).Body, "id")
	f.other = gets(h.req("POST", "/Users", `{"userName":"egon@example.com"}`).must(t, 201).Body, "id")
	f.g = gets(h.req("POST", "/Groups", `{"displayName":"Sales","members":[{"value":"`+f.user+`"}]}`).must(t, 201).Body, "id")
	return f
}

// state is everything a SCIM request can change that the limit tests look
// at: every user and group as the API shows them (members included) and
// the outbox events.
func (f limitFixture) state(t *testing.T) string {
	t.Helper()
	h := f.h
	users := h.req("GET", "/Users?count=1000&sortBy=userName", nil).must(t, 200).Raw
	groups := h.req("GET", "/Groups?count=1000&sortBy=displayName", nil).must(t, 200).Raw
	events, err := h.store.ListEvents(context.Background(), h.tenantID, "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s\n%s\n%d events", users, groups, len(events))
}

// unchanged fails the test when the state differs from before.
func (f limitFixture) unchanged(t *testing.T, what, before string) {
	t.Helper()
	if after := f.state(t); after != before {
		t.Errorf("%s changed the tenant:\nbefore %s\nafter  %s", what, before, after)
	}
}

// chunked sends body without a Content-Length (Transfer-Encoding:
// chunked), as a streaming client does.
func chunked(t *testing.T, h *harness, method, path, body string) resp {
	t.Helper()
	// A reader of unknown length: the client cannot set Content-Length.
	rd := struct{ io.Reader }{strings.NewReader(body)}
	r, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+h.token)
	r.Header.Set("Content-Type", "application/scim+json")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	if len(res.TransferEncoding) == 0 && res.Request != nil && res.Request.ContentLength > 0 {
		t.Fatalf("%s %s was sent with a Content-Length", method, path)
	}
	raw, _ := io.ReadAll(res.Body)
	out := resp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if err := json.Unmarshal(raw, &out.Body); err != nil {
		t.Fatalf("%s %s: response is not JSON: %s", method, path, raw)
	}
	return out
}

// TestLimitBody: a body over the limit is 413 with a SCIM error on every
// endpoint that takes one, whether the client declares its length or
// streams it chunked, and nothing changes.
func TestLimitBody(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		f := newLimitFixture(t, h)
		before := f.state(t)
		pad := strings.Repeat("x", DefaultMaxBodyBytes)
		user := `{"userName":"big@example.com","displayName":"` + pad + `"}`
		group := `{"displayName":"` + pad + `"}`
		patchBody := patchOp + `{"op":"replace","path":"displayName","value":"` + pad + `"}]}`
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/Users", user},
			{"PUT", "/Users/" + f.user, user},
			{"PATCH", "/Users/" + f.user, patchBody},
			{"POST", "/Groups", group},
			{"PUT", "/Groups/" + f.g, group},
			{"PATCH", "/Groups/" + f.g, patchBody},
			{"POST", "/Users/.search", `{` + searchURN + `,"filter":"userName pr","sortBy":"` + pad + `"}`},
			{"POST", "/Groups/.search", `{` + searchURN + `,"filter":"` + pad + `"}`},
			{"POST", "/.search", `{` + searchURN + `,"attributes":["` + pad + `"]}`},
			{"POST", "/Bulk", `{` + bulkURN + `,"Operations":[{"method":"POST","path":"/Users","bulkId":"b","data":` + user + `}]}`},
		} {
			what := tc.method + " " + tc.path
			if d := h.req(tc.method, tc.path, tc.body).scimError(t, 413, ""); !strings.Contains(d, fmt.Sprint(DefaultMaxBodyBytes)) {
				t.Errorf("%s: detail %q does not state the limit", what, d)
			}
			if d := chunked(t, h, tc.method, tc.path, tc.body).scimError(t, 413, ""); !strings.Contains(d, fmt.Sprint(DefaultMaxBodyBytes)) {
				t.Errorf("%s chunked: detail %q does not state the limit", what, d)
			}
			f.unchanged(t, what, before)
		}
		// Just under the limit, streamed, is read whole.
		ok := `{"userName":"streamed@example.com","title":"` + strings.Repeat("y", DefaultMaxBodyBytes-100) + `"}`
		r := chunked(t, h, "POST", "/Users", ok).must(t, 201)
		if len(gets(r.Body, "title")) != DefaultMaxBodyBytes-100 {
			t.Errorf("a streamed body under the limit lost data")
		}
	})
}

// TestLimitFilter: a filter over the length, comparison or depth limit is
// 400 invalidFilter in a query string and in a SearchRequest body; a
// deeply nested filter is refused quickly, without exhausting the stack.
func TestLimitFilter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		f := newLimitFixture(t, h)
		before := f.state(t)
		nest := func(n int) string { return strings.Repeat("(", n) + `userName pr` + strings.Repeat(")", n) }
		nots := func(n int) string { return strings.Repeat("not (", n) + `userName pr` + strings.Repeat(")", n) }
		// A filter of n bytes that matches every user.
		atLength := func(n int) string {
			head := `userName pr or title eq "`
			return head + strings.Repeat("t", n-len(head)-1) + `"`
		}
		cases := map[string]string{
			"length":               atLength(MaxFilterLength + 1),
			"comparisons":          strings.Repeat(`userName pr or `, MaxFilterComparisons) + `userName pr`,
			"comparisons in []":    `emails[` + strings.Repeat(`value pr or `, MaxFilterComparisons) + `value pr]`,
			"depth":                nots(MaxFilterDepth),
			"10000 parentheses":    nest(10000),
			"2000 parentheses":     nest(2000),
			"parentheses deep":     nest(MaxFilterDepth + 1),
			"parentheses many":     strings.TrimSuffix(strings.Repeat(nest(5)+" or ", MaxFilterComparisons/2), " or "),
			"long attribute name":  strings.Repeat("a", 600) + " pr",
			"long bare value":      `externalId eq ` + strings.Repeat("a", 600),
			"2000 nots":            nots(MaxFilterLength / 6),
			"nested and/or":        strings.Repeat(`userName pr and (title pr or (`, 100) + `userName pr` + strings.Repeat(`))`, 100),
			"long string value":    `userName eq "` + strings.Repeat("a", MaxFilterLength) + `"`,
			"unbalanced (":         strings.Repeat("(", MaxFilterLength),
			"unbalanced )":         strings.Repeat(")", MaxFilterLength),
			"many value filters":   strings.Repeat(`emails[value pr] or `, MaxFilterComparisons) + `emails[value pr]`,
			"brackets in brackets": strings.Repeat(`emails[`, 500) + `value pr` + strings.Repeat(`]`, 500),
		}
		for name, text := range cases {
			if d := h.req("GET", "/Users?filter="+q(text), nil).scimError(t, 400, schemas.InvalidFilter); d == "" {
				t.Errorf("%s: no detail", name)
			}
			body, _ := json.Marshal(map[string]any{"schemas": []string{schemas.SearchRequestURN}, "filter": text})
			for _, path := range []string{"/Users/.search", "/Groups/.search", "/.search"} {
				h.req("POST", path, string(body)).scimError(t, 400, schemas.InvalidFilter)
			}
		}
		// At the limits, the filter runs.
		notMatches := 2.0 // users that nots(MaxFilterDepth-1) matches
		if (MaxFilterDepth-1)%2 == 1 {
			notMatches = 0
		}
		for text, want := range map[string]float64{
			strings.Repeat(`userName pr or `, MaxFilterComparisons-1) + `userName pr`: 2,
			nots(MaxFilterDepth - 1): notMatches,
			nest(MaxFilterDepth):     2, // parentheses alone add no depth
			strings.TrimSuffix(strings.Repeat(`(userName pr) or `, MaxFilterComparisons), ` or `): 2,
			atLength(MaxFilterLength): 2,
		} {
			if r := h.req("GET", "/Users?filter="+q(text), nil).must(t, 200); r.Body["totalResults"] != want {
				t.Errorf("%.40s…: %s", text, r.Raw)
			}
		}
		f.unchanged(t, "filters", before)
	})
}

// TestLimitPaging: count above maxResults is served as maxResults (RFC 7644
// §3.4.2.4: the server returns at most its maximum); a negative count as
// 0; count or startIndex that is not an integer, or does not fit one, is
// 400 invalidValue; startIndex below 1 reads as 1 and one far past the end
// is an empty page.
func TestLimitPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		// MaxCount+5 users, created through /Bulk.
		n := MaxCount + 5
		for start := 0; start < n; start += MaxBulkOperations / 2 {
			var ops []string
			for i := start; i < min(n, start+MaxBulkOperations/2); i++ {
				ops = append(ops, fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"b%d","data":{"userName":"u%04d@example.com"}}`, i, i))
			}
			r := h.req("POST", "/Bulk", `{`+bulkURN+`,"Operations":[`+strings.Join(ops, ",")+`]}`).must(t, 200)
			for _, op := range r.Body["Operations"].([]any) {
				if s := gets(op, "status"); s != "201" {
					t.Fatalf("bulk create: %v", op)
				}
			}
		}
		page := func(r resp) (items, total, start int) {
			t.Helper()
			res, _ := r.Body["Resources"].([]any)
			ipp, _ := r.Body["itemsPerPage"].(float64)
			tot, _ := r.Body["totalResults"].(float64)
			si, _ := r.Body["startIndex"].(float64)
			if int(ipp) != len(res) {
				t.Errorf("itemsPerPage %v but %d resources", r.Body["itemsPerPage"], len(res))
			}
			return len(res), int(tot), int(si)
		}
		for _, tc := range []struct {
			query               string
			items, total, start int
		}{
			{"count=5000", MaxCount, n, 1},
			{fmt.Sprint("count=", MaxCount+1), MaxCount, n, 1},
			{"count=2147483648", MaxCount, n, 1},
			{"count=9223372036854775807", MaxCount, n, 1},
			{"count=-5", 0, n, 1},
			{"count=-9223372036854775808", 0, n, 1},
			{"count=0", 0, n, 1},
			{"startIndex=0&count=3", 3, n, 1},
			{"startIndex=-7&count=3", 3, n, 1},
			{"startIndex=-9223372036854775808&count=3", 3, n, 1},
			{fmt.Sprintf("startIndex=%d&count=10", n-2), 3, n, n - 2},
			{"startIndex=2147483648&count=10", 0, n, 2147483648},
			{"startIndex=9223372036854775807&count=10", 0, n, 9223372036854775807},
			{"startIndex=9223372036854775807&count=5000", 0, n, 9223372036854775807},
		} {
			r := h.req("GET", "/Users?"+tc.query, nil).must(t, 200)
			items, total, start := page(r)
			if items != tc.items || total != tc.total || (tc.start < 1<<53 && start != tc.start) {
				t.Errorf("%s: %d items of %d from %d, want %d of %d from %d", tc.query, items, total, start, tc.items, tc.total, tc.start)
			}
			// The same through a SearchRequest body.
			body := map[string]any{"schemas": []string{schemas.SearchRequestURN}}
			for _, kv := range strings.Split(tc.query, "&") {
				k, v, _ := strings.Cut(kv, "=")
				body[k] = json.Number(v)
			}
			r = h.req("POST", "/Users/.search", body).must(t, 200)
			if items, total, _ := page(r); items != tc.items || total != tc.total {
				t.Errorf("search %s: %d items of %d, want %d of %d", tc.query, items, total, tc.items, tc.total)
			}
		}
		for _, bad := range []string{"abc", "1.5", "1e3", "0x10", "99999999999999999999", "-99999999999999999999", "１０", " 5", "5 "} {
			for _, param := range []string{"count", "startIndex"} {
				d := h.req("GET", "/Users?"+param+"="+q(bad), nil).scimError(t, 400, schemas.InvalidValue)
				if !strings.Contains(d, param) {
					t.Errorf("%s=%s: detail %q does not name the parameter", param, bad, d)
				}
				h.req("GET", "/Groups?"+param+"="+q(bad), nil).scimError(t, 400, schemas.InvalidValue)
			}
		}
		for _, bad := range []string{`"10"`, `1.5`, `1e3`, `99999999999999999999`, `true`, `null`, `[1]`, `{"n":1}`} {
			for _, param := range []string{"count", "startIndex"} {
				body := `{` + searchURN + `,"` + param + `":` + bad + `}`
				for _, path := range []string{"/Users/.search", "/Groups/.search", "/.search"} {
					h.req("POST", path, body).scimError(t, 400, schemas.InvalidValue)
				}
			}
		}
		if c := userCount(t, h); c != n {
			t.Errorf("%d users, want %d", c, n)
		}
	})
}

// TestLimitBulk: more operations than maxOperations, or a payload over
// maxPayloadSize, is 413 (RFC 7644 §3.7.4) whether the length is declared
// or streamed; a failOnErrors that is not a positive integer is 400
// invalidValue; nothing is applied.
func TestLimitBulk(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		f := newLimitFixture(t, h)
		before := f.state(t)
		op := func(i int) string {
			return fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"b%d","data":{"userName":"n%d@example.com"}}`, i, i)
		}
		var ops []string
		for i := 0; i <= MaxBulkOperations; i++ {
			ops = append(ops, op(i))
		}
		tooMany := `{` + bulkURN + `,"Operations":[` + strings.Join(ops, ",") + `]}`
		if d := h.req("POST", "/Bulk", tooMany).scimError(t, 413, ""); !strings.Contains(d, "maxOperations") {
			t.Errorf("detail %q does not name maxOperations", d)
		}
		chunked(t, h, "POST", "/Bulk", tooMany).scimError(t, 413, "")
		// Many tiny operations under the payload limit: the operation count
		// is checked, not what the operations do.
		empty := `{` + bulkURN + `,"Operations":[` + strings.Repeat(`{},`, 100000) + `{}]}`
		h.req("POST", "/Bulk", empty).scimError(t, 413, "")
		big := `{` + bulkURN + `,"Operations":[` + op(0) + `,{"method":"PATCH","path":"/Users/` + f.user +
			`","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"` +
			strings.Repeat("x", DefaultMaxBodyBytes) + `"}]}}]}`
		if d := h.req("POST", "/Bulk", big).scimError(t, 413, ""); !strings.Contains(d, fmt.Sprint(DefaultMaxBodyBytes)) {
			t.Errorf("detail %q does not state the limit", d)
		}
		chunked(t, h, "POST", "/Bulk", big).scimError(t, 413, "")
		for _, v := range []string{`0`, `-1`, `1.5`, `1e3`, `"1"`, `true`, `[1]`, `{}`, `99999999999999999999`, `-9223372036854775808`} {
			body := `{` + bulkURN + `,"failOnErrors":` + v + `,"Operations":[` + op(0) + `]}`
			if d := h.req("POST", "/Bulk", body).scimError(t, 400, schemas.InvalidValue); !strings.Contains(d, "failOnErrors") {
				t.Errorf("failOnErrors %s: detail %q does not name failOnErrors", v, d)
			}
		}
		// Deep nesting in an operation's data.
		deep := `{` + bulkURN + `,"Operations":[{"method":"POST","path":"/Users","bulkId":"d","data":{"userName":"d","title":` +
			strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}]}`
		h.req("POST", "/Bulk", deep).scimError(t, 400, schemas.InvalidSyntax)
		f.unchanged(t, "over-limit bulk requests", before)
		// At the limit, the request runs.
		r := h.req("POST", "/Bulk", `{`+bulkURN+`,"Operations":[`+strings.Join(ops[:MaxBulkOperations], ",")+`]}`).must(t, 200)
		if got := len(r.Body["Operations"].([]any)); got != MaxBulkOperations {
			t.Errorf("%d results, want %d", got, MaxBulkOperations)
		}
		if n := userCount(t, h); n != 2+MaxBulkOperations {
			t.Errorf("%d users after a bulk at the limit, want %d", n, 2+MaxBulkOperations)
		}
	})
}

// TestLimitPatch: more operations than patch.MaxOperations is 400 tooMany;
// more member values than schemas.MaxMembers in one request, or more values
// of another multi-valued attribute than schemas.MaxValues in one resource,
// is 400 tooMany; deep JSON nesting in any body is 400 invalidSyntax;
// nothing changes.
func TestLimitPatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		f := newLimitFixture(t, h)
		before := f.state(t)
		ops := strings.Repeat(`{"op":"replace","path":"title","value":"t"},`, patch.MaxOperations) + `{"op":"replace","path":"title","value":"t"}]}`
		if d := h.req("PATCH", "/Users/"+f.user, patchOp+ops).scimError(t, 400, schemas.TooMany); !strings.Contains(d, fmt.Sprint(patch.MaxOperations)) {
			t.Errorf("detail %q does not state the limit", d)
		}
		h.req("PATCH", "/Groups/"+f.g, patchOp+ops).scimError(t, 400, schemas.TooMany)
		values := func(n int, v string) string { return "[" + strings.Repeat(v+",", n-1) + v + "]" }
		// 200 000 member values in one add (the same short id, which the
		// lenient reading takes as {"value": id}, keeps the body small).
		for _, v := range []string{`"` + f.other + `"`, `"a"`} {
			body := patchOp + `{"op":"add","path":"members","value":` + values(200000, v) + `}]}`
			if len(body) > DefaultMaxBodyBytes && v != `"a"` {
				continue
			}
			h.req("PATCH", "/Groups/"+f.g, body).scimError(t, 400, schemas.TooMany)
		}
		h.req("PATCH", "/Groups/"+f.g, patchOp+`{"op":"replace","value":{"members":`+values(schemas.MaxMembers+1, `"a"`)+`}}]}`).scimError(t, 400, schemas.TooMany)
		// Distinct ids over several operations.
		distinct := func(from, n int) string {
			var b strings.Builder
			for i := range n {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"m%d"`, from+i)
			}
			return "[" + b.String() + "]"
		}
		half := schemas.MaxMembers/2 + 1
		h.req("PATCH", "/Groups/"+f.g, patchOp+`{"op":"add","path":"members","value":`+distinct(0, half)+`},`+
			`{"op":"remove","path":"members","value":`+distinct(half, half)+`}]}`).scimError(t, 400, schemas.TooMany)
		h.req("PATCH", "/Groups/"+f.g, patchOp+`{"op":"add","path":"members","value":`+distinct(0, schemas.MaxMembers+1)+`}]}`).scimError(t, 400, schemas.TooMany)
		// POST and PUT of a group with too many members.
		h.req("POST", "/Groups", `{"displayName":"Big","members":`+values(200000, `"a"`)+`}`).scimError(t, 400, schemas.TooMany)
		h.req("PUT", "/Groups/"+f.g, `{"displayName":"Sales","members":`+values(schemas.MaxMembers+1, `{"value":"a"}`)+`}`).scimError(t, 400, schemas.TooMany)
		// 100 000 emails in one add, in one replace without a path, in a
		// POST and a PUT; MaxValues+1 over two operations.
		emails := values(100000, `"e"`)
		h.req("PATCH", "/Users/"+f.user, patchOp+`{"op":"add","path":"emails","value":`+emails+`}]}`).scimError(t, 400, schemas.TooMany)
		h.req("PATCH", "/Users/"+f.user, patchOp+`{"op":"replace","value":{"emails":`+emails+`}}]}`).scimError(t, 400, schemas.TooMany)
		h.req("POST", "/Users", `{"userName":"many@example.com","emails":`+emails+`}`).scimError(t, 400, schemas.TooMany)
		h.req("PUT", "/Users/"+f.user, `{"userName":"dora@example.com","phoneNumbers":`+values(schemas.MaxValues+1, `{"value":"1"}`)+`}`).scimError(t, 400, schemas.TooMany)
		halfEmails := func(from int) string {
			var b strings.Builder
			for i := range schemas.MaxValues/2 + 1 {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"value":"e%d@example.com"}`, from+i)
			}
			return `{"op":"add","path":"emails","value":[` + b.String() + `]}`
		}
		h.req("PATCH", "/Users/"+f.user, patchOp+halfEmails(0)+","+halfEmails(schemas.MaxValues)+`]}`).scimError(t, 400, schemas.TooMany)
		// Deep nesting, in every body.
		deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/Users", `{"userName":"deep","title":` + deep + `}`},
			{"PUT", "/Users/" + f.user, `{"userName":"deep","title":` + deep + `}`},
			{"PATCH", "/Users/" + f.user, patchOp + `{"op":"add","path":"title","value":` + deep + `}]}`},
			{"POST", "/Groups", `{"displayName":"deep","members":` + deep + `}`},
			{"PUT", "/Groups/" + f.g, `{"displayName":"deep","x":` + deep + `}`},
			{"PATCH", "/Groups/" + f.g, patchOp + `{"op":"add","path":"members","value":` + deep + `}]}`},
			{"POST", "/.search", `{` + searchURN + `,"attributes":` + deep + `}`},
			{"POST", "/Users", strings.Repeat(`{"a":`, 100000) + `1` + strings.Repeat(`}`, 100000)},
		} {
			h.req(tc.method, tc.path, tc.body).scimError(t, 400, schemas.InvalidSyntax)
		}
		f.unchanged(t, "over-limit PATCH, POST and PUT", before)
		// At the limits, the requests run.
		h.req("PATCH", "/Users/"+f.user, patchOp+strings.Repeat(`{"op":"replace","path":"title","value":"t"},`, patch.MaxOperations-1)+`{"op":"replace","path":"title","value":"t"}]}`).must(t, 200)
		h.req("PATCH", "/Users/"+f.user, patchOp+`{"op":"add","path":"emails","value":`+values(schemas.MaxValues-1, `{"value":"x@example.com"}`)+`}]}`).must(t, 200)
		h.req("PATCH", "/Groups/"+f.g, patchOp+`{"op":"add","path":"members","value":`+values(schemas.MaxMembers, `"`+f.other+`"`)+`}]}`).must(t, 204)
	})
}

// TestLimitAttributes: attributes and excludedAttributes lists longer than
// MaxAttributeNames are 400 invalidValue, in a query string and in a
// SearchRequest body; a list at the limit is served.
func TestLimitAttributes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		f := newLimitFixture(t, h)
		list := func(n int) string { return strings.TrimSuffix(strings.Repeat("userName,", n), ",") }
		for _, param := range []string{"attributes", "excludedAttributes"} {
			for _, path := range []string{"/Users", "/Groups", "/Users/" + f.user, "/Groups/" + f.g} {
				if d := h.req("GET", path+"?"+param+"="+list(MaxAttributeNames+1), nil).scimError(t, 400, schemas.InvalidValue); !strings.Contains(d, param) {
					t.Errorf("%s: detail %q does not name %s", path, d, param)
				}
				h.req("GET", path+"?"+param+"="+list(MaxAttributeNames), nil).must(t, 200)
			}
			body, _ := json.Marshal(map[string]any{"schemas": []string{schemas.SearchRequestURN}, param: strings.Split(list(20000), ",")})
			for _, path := range []string{"/Users/.search", "/Groups/.search", "/.search"} {
				h.req("POST", path, string(body)).scimError(t, 400, schemas.InvalidValue)
			}
			h.req("PATCH", "/Users/"+f.user+"?"+param+"="+list(MaxAttributeNames+1), patchOp+`{"op":"replace","path":"title","value":"t"}]}`).scimError(t, 400, schemas.InvalidValue)
		}
	})
}
