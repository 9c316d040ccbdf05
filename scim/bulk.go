package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// MaxBulkOperations is the largest number of operations one /Bulk request
// may hold (advertised as bulk.maxOperations); bulk.maxPayloadSize is the
// body limit of every request.
const MaxBulkOperations = 1000

// bulkOp is one operation of a BulkRequest (RFC 7644 §3.7).
type bulkOp struct {
	Method  string `json:"method"`
	BulkID  string `json:"bulkId,omitempty"`
	Version string `json:"version,omitempty"`
	Path    string `json:"path"`
	// Data is decoded once, with numbers kept as written (json.Number).
	Data any `json:"data,omitempty"`
}

type bulkRequest struct {
	Schemas      []string `json:"schemas"`
	FailOnErrors any      `json:"failOnErrors,omitempty"` // checked by the handler: a positive integer
	Operations   []bulkOp `json:"Operations"`
}

// bulkResult is one operation of the BulkResponse; status is a string as
// in RFC 7644's examples.
type bulkResult struct {
	Location string          `json:"location,omitempty"`
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`

	createdID string // the id a successful POST created
}

type bulkResponse struct {
	Schemas    []string     `json:"schemas"`
	Operations []bulkResult `json:"Operations"`
}

const bulkRefPrefix = "bulkId:"

// bulk serves POST /Bulk. Every operation runs as the single request it
// stands for — through the same handler, policy, audit and events, in a
// transaction of its own — after the operations whose bulkIds it
// references; circular references and references to operations that
// failed are answered 409 for the operations concerned.
func (s *server) bulk(w http.ResponseWriter, r *http.Request) {
	var req bulkRequest
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "",
				"the bulk request is larger than maxPayloadSize (%d bytes); split it", mbe.Limit))
			return
		}
		s.writeError(w, r, errorf(http.StatusBadRequest, schemas.InvalidSyntax, "the body is not a BulkRequest: %v", err))
		return
	}
	if !slices.Contains(req.Schemas, schemas.BulkRequestURN) {
		s.writeError(w, r, errorf(http.StatusBadRequest, schemas.InvalidSyntax, "schemas must contain %s", schemas.BulkRequestURN))
		return
	}
	if len(req.Operations) > MaxBulkOperations {
		s.writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "",
			"the bulk request has %d operations; maxOperations is %d", len(req.Operations), MaxBulkOperations))
		return
	}
	// The tenant's own cap (read here, not on every request's path).
	settings, err := policy.ParseShared(principal(r.Context()).TenantPolicy)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if limit := settings.BulkMaxOperations; limit > 0 && len(req.Operations) > limit {
		s.writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "",
			"the bulk request has %d operations; this tenant allows at most %d (policy setting bulk_max_operations)", len(req.Operations), limit))
		return
	}
	if len(req.Operations) == 0 {
		s.writeError(w, r, errorf(http.StatusBadRequest, schemas.InvalidValue, "Operations is empty"))
		return
	}
	failOn := 0 // 0: no limit
	if req.FailOnErrors != nil {
		num, _ := req.FailOnErrors.(json.Number)
		n, err := strconv.Atoi(num.String())
		if err != nil || n < 1 {
			s.writeError(w, r, errorf(http.StatusBadRequest, schemas.InvalidValue, "failOnErrors must be a positive integer, not %s", jsonText(req.FailOnErrors)))
			return
		}
		failOn = n
	}
	ops := req.Operations
	defined := map[string]int{} // bulkId → index of its POST
	for i, op := range ops {
		if op.BulkID == "" {
			continue
		}
		if j, dup := defined[op.BulkID]; dup {
			s.writeError(w, r, errorf(http.StatusBadRequest, schemas.InvalidValue,
				"bulkId %q is used by operations %d and %d; bulkIds must be unique", op.BulkID, j, i))
			return
		}
		if strings.ToUpper(op.Method) == http.MethodPost {
			defined[op.BulkID] = i
		}
	}

	results := make([]*bulkResult, len(ops))
	deps := make([][]int, len(ops)) // operations each operation waits for
	for i, op := range ops {
		refs := bulkRefs(op)
		for _, id := range refs {
			j, ok := defined[id]
			if !ok {
				results[i] = opError(op, http.StatusConflict, schemas.InvalidValue,
					fmt.Sprintf("bulkId %q is not the bulkId of a POST in this request", id))
				break
			}
			if j == i {
				results[i] = opError(op, http.StatusConflict, schemas.InvalidValue,
					fmt.Sprintf("operation %d refers to its own bulkId %q", i, id))
				break
			}
			deps[i] = append(deps[i], j)
		}
	}
	order, cyclic := bulkOrder(deps, results)
	for _, i := range cyclic {
		results[i] = opError(ops[i], http.StatusConflict, schemas.InvalidValue,
			"circular bulkId reference: this operation and the ones it refers to wait for each other")
	}

	resolved := map[string]string{} // bulkId → id of the created resource
	errorsSeen := len(cyclic)
	for k := 0; k < len(order); k++ {
		i := order[k]
		if failOn > 0 && errorsSeen >= failOn {
			break
		}
		// A run of plain user creations (no failOnErrors to stop within
		// it) is created in a few statements, with the outcome each would
		// have had alone.
		if failOn == 0 && batchableCreate(ops[i], deps[i], results[i]) {
			run := []int{i}
			for k+1 < len(order) && len(run) < MaxBulkOperations {
				j := order[k+1]
				if !batchableCreate(ops[j], deps[j], results[j]) {
					break
				}
				run = append(run, j)
				k++
			}
			if len(run) > 1 {
				// Each creation counts as a request against the rate limits.
				if run = s.admitBulkRun(r, run, ops, results); len(run) > 0 {
					s.runBulkCreates(r, run, ops, results, resolved)
				}
				continue
			}
		}
		if results[i] != nil { // answered already (unresolvable reference)
			errorsSeen++
			continue
		}
		op := ops[i]
		var missing string
		for _, j := range deps[i] {
			if _, ok := resolved[ops[j].BulkID]; !ok {
				missing = ops[j].BulkID
				break
			}
		}
		if missing != "" {
			results[i] = opError(op, http.StatusConflict, schemas.InvalidValue,
				fmt.Sprintf("bulkId %q could not be resolved: the operation that creates it failed", missing))
			errorsSeen++
			continue
		}
		res := s.runBulkOp(r, i, op, resolved)
		results[i] = res
		if code, _ := strconv.Atoi(res.Status); code >= 400 {
			errorsSeen++
		} else if strings.ToUpper(op.Method) == http.MethodPost && op.BulkID != "" {
			resolved[op.BulkID] = res.createdID
		}
	}
	out := bulkResponse{Schemas: []string{schemas.BulkResponseURN}, Operations: []bulkResult{}}
	for _, res := range results {
		if res != nil {
			out.Operations = append(out.Operations, *res)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// bulkRefs returns the bulkIds an operation refers to, in its path and
// anywhere in its data, each once.
func bulkRefs(op bulkOp) []string {
	var refs []string
	add := func(s string) {
		if id, ok := strings.CutPrefix(s, bulkRefPrefix); ok && !slices.Contains(refs, id) {
			refs = append(refs, id)
		}
	}
	for _, seg := range strings.Split(op.Path, "/") {
		add(seg)
	}
	walkStrings(op.Data, add)
	return refs
}

func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case map[string]any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

// replaceRefs returns v with every "bulkId:X" string replaced by the id
// created for X.
func replaceRefs(v any, resolved map[string]string) any {
	switch x := v.(type) {
	case string:
		if id, ok := strings.CutPrefix(x, bulkRefPrefix); ok {
			if real, ok := resolved[id]; ok {
				return real
			}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = replaceRefs(e, resolved)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = replaceRefs(e, resolved)
		}
		return x
	}
	return v
}

// bulkOrder orders the operations so that each runs after those it
// depends on, in request order where the references allow (operations
// already answered count as done); it returns the order and the operations
// that are on or behind a cycle.
func bulkOrder(deps [][]int, answered []*bulkResult) (order, cyclic []int) {
	n := len(deps)
	indeg := make([]int, n)
	users := make([][]int, n)
	for i, ds := range deps {
		if answered[i] != nil {
			continue
		}
		for _, j := range ds {
			indeg[i]++
			users[j] = append(users[j], i)
		}
	}
	ready := []int{}
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	done := make([]bool, n)
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		done[i] = true
		for _, u := range users[i] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	for i := 0; i < n; i++ {
		if !done[i] {
			cyclic = append(cyclic, i)
		}
	}
	return order, cyclic
}

// opError is the result of an operation answered without running it.
func opError(op bulkOp, status int, scimType, detail string) *bulkResult {
	body, _ := json.Marshal(errorBody{Schemas: []string{schemas.ErrorURN}, Status: strconv.Itoa(status), ScimType: scimType, Detail: detail})
	return &bulkResult{Method: strings.ToUpper(op.Method), BulkID: op.BulkID, Status: strconv.Itoa(status), Response: body}
}

// runBulkOp runs one operation as the request it stands for, through the
// whole handler (authentication, audit, policy, events), and turns the
// answer into its result.
func (s *server) runBulkOp(r *http.Request, i int, op bulkOp, resolved map[string]string) *bulkResult {
	method := strings.ToUpper(op.Method)
	path := op.Path
	for id, real := range resolved {
		path = strings.ReplaceAll(path, bulkRefPrefix+id, real)
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	collection := len(parts) == 1
	switch {
	case len(parts) < 1 || len(parts) > 2 || (parts[0] != "Users" && parts[0] != "Groups"):
		return opError(op, http.StatusBadRequest, schemas.InvalidPath, fmt.Sprintf("path %q: use /Users, /Groups, /Users/{id} or /Groups/{id}", op.Path))
	case method == http.MethodPost && !collection:
		return opError(op, http.StatusBadRequest, schemas.InvalidPath, "POST takes the resource type's path, e.g. /Users")
	case method == http.MethodPost && op.BulkID == "":
		return opError(op, http.StatusBadRequest, schemas.InvalidValue, "a POST operation needs a bulkId (RFC 7644 §3.7)")
	case (method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete) && collection:
		return opError(op, http.StatusBadRequest, schemas.InvalidPath, fmt.Sprintf("%s takes a resource's path, e.g. /Users/{id}", method))
	case method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch && method != http.MethodDelete:
		return opError(op, http.StatusBadRequest, schemas.InvalidValue, fmt.Sprintf("method %q: use POST, PUT, PATCH or DELETE", op.Method))
	case method != http.MethodDelete && op.Data == nil:
		return opError(op, http.StatusBadRequest, schemas.InvalidValue, method+" needs data")
	}
	var body io.Reader = http.NoBody
	if method != http.MethodDelete {
		b, err := json.Marshal(replaceRefs(op.Data, resolved))
		if err != nil {
			return opError(op, http.StatusBadRequest, schemas.InvalidSyntax, "data: "+err.Error())
		}
		body = bytes.NewReader(b)
	}
	// A fresh route context: the sub-request is routed from the top.
	ctx := context.WithValue(r.Context(), chi.RouteCtxKey, (*chi.Context)(nil))
	target := *r.URL
	target.Path = strings.TrimSuffix(r.URL.Path, "/Bulk") + "/" + strings.Trim(path, "/")
	target.RawPath, target.RawQuery = "", ""
	sub, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return opError(op, http.StatusBadRequest, schemas.InvalidPath, fmt.Sprintf("path %q: %v", op.Path, err))
	}
	sub.Host, sub.RemoteAddr, sub.TLS = r.Host, r.RemoteAddr, r.TLS
	for _, h := range []string{"Authorization", "User-Agent", "X-Forwarded-Proto"} {
		if v := r.Header.Get(h); v != "" {
			sub.Header.Set(h, v)
		}
	}
	sub.Header.Set("Content-Type", "application/scim+json")
	sub.Header.Set("X-Request-Id", requestID(r.Context())+"."+strconv.Itoa(i))
	if op.Version != "" {
		sub.Header.Set("If-Match", op.Version)
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, sub)
	res := &bulkResult{Method: method, BulkID: op.BulkID, Status: strconv.Itoa(rec.Code), Version: rec.Header().Get("ETag")}
	if rec.Code >= 400 {
		res.Response = json.RawMessage(bytes.TrimSpace(rec.Body.Bytes()))
		return res
	}
	if method == http.MethodPost {
		var created struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &created)
		res.createdID = created.ID
	}
	res.Location = rec.Header().Get("Location")
	if res.Location == "" && method != http.MethodDelete {
		res.Location = s.baseURL(r) + "/" + strings.Trim(path, "/")
	}
	return res
}

// batchableCreate reports whether an operation is a plain user creation
// that can join a batch: POST /Users with a bulkId, no version and no
// bulkId references, not answered already.
func batchableCreate(op bulkOp, deps []int, answered *bulkResult) bool {
	return answered == nil && len(deps) == 0 && strings.ToUpper(op.Method) == http.MethodPost &&
		strings.Trim(op.Path, "/") == "Users" && op.BulkID != "" && op.Version == "" && op.Data != nil
}

// runBulkCreates creates the users of a run of POST /Users operations with
// the provision service's batch create, and answers each operation as its
// single request would have been answered.
func (s *server) runBulkCreates(r *http.Request, run []int, ops []bulkOp, results []*bulkResult, resolved map[string]string) {
	a := actor(r)
	fail := func(i int, err error) {
		e := s.clientError(r, err)
		// Refusals have their audit entry from the service; the rest get
		// theirs here, as auditAttempts gives a single request's.
		var pv *policy.Violation
		if !errors.As(err, &pv) {
			s.cfg.Provision.AuditAttempt(r.Context(), a, "user.create", "User", "", e.Status)
		}
		results[i] = opError(ops[i], e.Status, e.ScimType, e.Detail)
	}
	var users []store.User
	var idx []int
	for _, i := range run {
		in, ok := ops[i].Data.(map[string]any)
		if !ok {
			fail(i, schemas.Errorf(schemas.InvalidSyntax, "the request body is not a JSON object"))
			continue
		}
		u, err := s.newUser(r, in)
		if err != nil {
			fail(i, err)
			continue
		}
		users = append(users, u)
		idx = append(idx, i)
	}
	if len(users) == 0 {
		return
	}
	res, err := s.cfg.Provision.CreateUsers(r.Context(), a, users)
	for n, i := range idx {
		switch {
		case n >= len(res):
			fail(i, err)
		case res[n].Err != nil:
			fail(i, res[n].Err)
		default:
			u := res[n].User
			results[i] = &bulkResult{Method: http.MethodPost, BulkID: ops[i].BulkID, Status: "201",
				Location: s.baseURL(r) + "/Users/" + u.ID, Version: etag(u.Version), createdID: u.ID}
			resolved[ops[i].BulkID] = u.ID
		}
	}
	if s.cfg.Changed != nil {
		s.cfg.Changed()
	}
}

// jsonText is v as JSON, cut to 40 bytes, for an error detail.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
