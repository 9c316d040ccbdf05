package scim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/schemas"
)

// FuzzBulk posts any body to /Bulk through the real HTTP handler over a
// SQLite store holding a few users and a group. Whatever the body, the
// answer is never a 5xx: it is either a SCIM error (RFC 7644 §3.12: the
// Error schema, its status as a string equal to the HTTP status, 400 or
// 413 for a request that cannot be read) or a 200 BulkResponse whose
// operations are no more than the request's, each with a 2xx or 4xx status
// and, when it failed, a SCIM error of that status. A body that is valid
// JSON is also sent as the data of five operations (POST, PATCH and PUT of
// a user and a group, linked by bulkIds). The seed corpus is in
// testdata/fuzz/FuzzBulk (the bulk requests of the tests, and what fuzzing
// found).
func FuzzBulk(f *testing.F) {
	for _, s := range []string{
		`{` + bulkURN + `,"Operations":[{"method":"POST","path":"/Users","bulkId":"u1","data":{"userName":"fz1@example.com"}},` +
			`{"method":"POST","path":"/Groups","bulkId":"g1","data":{"displayName":"FG","members":[{"value":"bulkId:u1"}]}}]}`,
		`{` + bulkURN + `,"failOnErrors":1,"Operations":[{"method":"PATCH","path":"/Users/bulkId:x","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}}]}`,
		`{` + bulkURN + `,"Operations":[{"method":"DELETE","path":"/Users/nope"},{"method":"PUT","path":"/Groups/x","data":{"displayName":"y"}}]}`,
		`{` + bulkURN + `,"Operations":[{"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"bulkId:b"}},{"method":"POST","path":"/Users","bulkId":"b","data":{"userName":"bulkId:a"}}]}`,
	} {
		f.Add(s)
	}
	s := testenv.Open(f, "sqlite")
	svc := provision.New(s, nil, nil)
	h := NewServer(Config{Store: s, Provision: svc, Metrics: obs.NewMetrics()})
	token := fuzzTenant(f, svc, "acme")
	seedDirectory(f, h, token)
	f.Fuzz(func(t *testing.T, body string) {
		checkBulk(t, h, token, body)
		// Valid JSON is also sent as the data of operations that create,
		// patch and replace a user and a group, so that fuzzing reaches
		// the operations and not only the request's own decoding.
		if json.Valid([]byte(body)) {
			wrapped := `{` + bulkURN + `,"Operations":[` +
				`{"method":"POST","path":"/Users","bulkId":"fu","data":` + body + `},` +
				`{"method":"POST","path":"/Groups","bulkId":"fg","data":` + body + `},` +
				`{"method":"PATCH","path":"/Users/bulkId:fu","data":` + body + `},` +
				`{"method":"PATCH","path":"/Groups/bulkId:fg","data":` + body + `},` +
				`{"method":"PUT","path":"/Users/bulkId:fu","data":` + body + `}]}`
			checkBulk(t, h, token, wrapped)
		}
	})
}

// checkBulk posts body to /Bulk and checks the answer as FuzzBulk says.
func checkBulk(t *testing.T, h http.Handler, token, body string) {
	t.Helper()
	r := httptest.NewRequest("POST", "/scim/v2/Bulk", strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		checkErrorBody(t, w.Code, w.Body.Bytes())
		if w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("a bulk request is answered %d: %s", w.Code, w.Body)
		}
		return
	}
	var res struct {
		Schemas    []string `json:"schemas"`
		Operations []struct {
			Status   string          `json:"status"`
			Response json.RawMessage `json:"response"`
		} `json:"Operations"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || len(res.Schemas) != 1 || res.Schemas[0] != schemas.BulkResponseURN {
		t.Fatalf("200 without a BulkResponse (%v): %s", err, w.Body)
	}
	var req struct {
		Operations []json.RawMessage `json:"Operations"`
	}
	if err := json.Unmarshal([]byte(body), &req); err == nil && len(res.Operations) > len(req.Operations) {
		t.Fatalf("%d results for %d operations", len(res.Operations), len(req.Operations))
	}
	for i, op := range res.Operations {
		code, err := strconv.Atoi(op.Status)
		if err != nil || code < 200 || code >= 500 {
			t.Fatalf("operation %d has status %q: %s", i, op.Status, w.Body)
		}
		if code >= 400 {
			checkErrorBody(t, code, op.Response)
		}
	}
}

// checkErrorBody fails the test unless raw is a SCIM error (RFC 7644
// §3.12) of this status with a detail.
func checkErrorBody(t *testing.T, status int, raw []byte) {
	t.Helper()
	var e struct {
		Schemas []string `json:"schemas"`
		Status  string   `json:"status"`
		Detail  string   `json:"detail"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || len(e.Schemas) != 1 || e.Schemas[0] != schemas.ErrorURN ||
		e.Status != strconv.Itoa(status) || e.Detail == "" {
		t.Fatalf("status %d without a SCIM error body (%v): %s", status, err, raw)
	}
	if status >= 500 {
		t.Fatalf("status %d: %s", status, raw)
	}
}
