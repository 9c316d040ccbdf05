package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/provision"
)

// The replay engine: testdata/replay/*.json hold client flows (one file per
// flow, see testdata/replay/README.md for the format). TestReplay runs every
// file, step by step and in order, through the real handler on every
// storage backend, starting each file from an empty store.

// replayFile is one sequence file.
type replayFile struct {
	Description string            `json:"description"`
	Source      string            `json:"source"`
	Vars        map[string]string `json:"vars"`
	Steps       []replayStep      `json:"steps"`
}

// replayStep is one request and what its response must look like, or a
// policy change of the tenant.
type replayStep struct {
	Name    string        `json:"name"`
	Note    string        `json:"note"`
	Skip    string        `json:"skip"`
	Repeat  int           `json:"repeat"`
	Policy  []string      `json:"policy"`
	Request replayRequest `json:"request"`
	Expect  replayExpect  `json:"expect"`
}

type replayRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   map[string]string `json:"query"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

type replayExpect struct {
	Status       json.RawMessage   `json:"status"`
	Headers      map[string]string `json:"headers"`
	Body         json.RawMessage   `json:"body"`
	BodyContains []string          `json:"bodyContains"`
	BodyLacks    []string          `json:"bodyLacks"`
	NoBody       bool              `json:"noBody"`
}

const replayDir = "testdata/replay"

func TestReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(replayDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no replay files in %s: %v", replayDir, err)
	}
	for _, path := range files {
		f := loadReplay(t, path)
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, h *harness) {
				runReplay(t, h, f)
			})
		})
	}
}

// loadReplay reads a sequence file strictly: unknown fields are typos.
func loadReplay(t *testing.T, path string) *replayFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f replayFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(f.Steps) == 0 {
		t.Fatalf("%s: no steps", path)
	}
	for i, s := range f.Steps {
		if s.Name == "" {
			t.Fatalf("%s: step %d has no name", path, i+1)
		}
		if s.Policy == nil && (s.Request.Method == "" || s.Request.Path == "" || len(s.Expect.Status) == 0) {
			t.Fatalf("%s: step %q needs request.method, request.path and expect.status", path, s.Name)
		}
	}
	return &f
}

// replayRun is the state of one file's run on one backend.
type replayRun struct {
	h    *harness
	vars map[string]any
}

func runReplay(t *testing.T, h *harness, f *replayFile) {
	run := &replayRun{h: h, vars: map[string]any{
		"base": h.base, "root": h.srv.URL, "token": h.token,
	}}
	for k, v := range f.Vars {
		run.vars[k] = v
	}
	for i, step := range f.Steps {
		t.Run(fmt.Sprintf("%02d_%s", i+1, step.Name), func(t *testing.T) {
			var errs []string
			n := max(step.Repeat, 1)
			for k := 1; k <= n; k++ {
				if step.Repeat > 0 {
					run.vars["i"] = strconv.Itoa(k)
				}
				e := run.step(step)
				if step.Repeat > 0 {
					for j := range e {
						e[j] = fmt.Sprintf("[i=%d] %s", k, e[j])
					}
				}
				errs = append(errs, e...)
			}
			delete(run.vars, "i")
			switch {
			case step.Skip != "" && len(errs) > 0:
				t.Skipf("SKIP (%s):\n%s", step.Skip, strings.Join(errs, "\n"))
			case step.Skip != "":
				t.Errorf("step is marked skip (%s) but passes now: remove the skip", step.Skip)
			case len(errs) > 0:
				t.Error(strings.Join(errs, "\n"))
			}
		})
	}
}

// step runs one step once and returns what did not match.
func (run *replayRun) step(s replayStep) (errs []string) {
	if s.Policy != nil {
		_, err := run.h.svc.SetTenantPolicy(context.Background(), provision.Actor{Name: "replay"}, "acme", "", s.Policy)
		if err != nil {
			return []string{"policy: " + err.Error()}
		}
		return nil
	}
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	target, err := run.subst(s.Request.Path, nil)
	if err != nil {
		return []string{err.Error()}
	}
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		target = run.h.base + target
	}
	if len(s.Request.Query) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(s.Request.Query)) {
			v, err := run.subst(s.Request.Query[k], nil)
			if err != nil {
				return []string{err.Error()}
			}
			parts = append(parts, url.QueryEscape(k)+"="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + strings.Join(parts, "&")
	}

	var body []byte
	if raw := bytes.TrimSpace(s.Request.Body); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if raw[0] == '"' {
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return []string{"request.body: " + err.Error()}
			}
			b, err := run.subst(str, nil)
			if err != nil {
				return []string{err.Error()}
			}
			body = []byte(b)
		} else {
			b, err := run.subst(string(raw), jsonEscape)
			if err != nil {
				return []string{err.Error()}
			}
			body = []byte(b)
		}
	}
	req, err := http.NewRequest(s.Request.Method, target, bytes.NewReader(body))
	if err != nil {
		return []string{err.Error()}
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	req.Header.Set("Authorization", "Bearer "+run.h.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	for k, v := range s.Request.Headers {
		v, err := run.subst(v, nil)
		if err != nil {
			return []string{err.Error()}
		}
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return []string{err.Error()}
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	defer func() {
		if len(errs) > 0 {
			shown := raw
			if len(shown) > 3000 {
				shown = append(shown[:3000:3000], "…"...)
			}
			errs = append([]string{fmt.Sprintf("%s %s%s\n  → %d %s", s.Request.Method, target, bodyNote(body), res.StatusCode, shown)}, errs...)
		}
	}()

	// Status.
	var want []int
	var one int
	if err := json.Unmarshal(s.Expect.Status, &one); err == nil {
		want = []int{one}
	} else if err := json.Unmarshal(s.Expect.Status, &want); err != nil || len(want) == 0 {
		return []string{"expect.status must be a status or a list of statuses"}
	}
	if !slices.Contains(want, res.StatusCode) {
		fail("status %d, want %v", res.StatusCode, want)
	}

	// Headers.
	for _, k := range slices.Sorted(maps.Keys(s.Expect.Headers)) {
		var got any
		present := len(res.Header.Values(k)) > 0
		if present {
			got = res.Header.Get(k)
		}
		run.match("header "+k, s.Expect.Headers[k], got, present, fail)
	}

	// Body.
	var doc any
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&doc); err != nil {
			doc = nil
			if len(s.Expect.Body) > 0 {
				fail("the response body is not JSON: %v", err)
			}
		}
	}
	if s.Expect.NoBody && len(raw) > 0 {
		fail("the response must have no body")
	}
	if len(s.Expect.Body) > 0 {
		var wantBody any
		if err := json.Unmarshal(s.Expect.Body, &wantBody); err != nil {
			return []string{"expect.body: " + err.Error()}
		}
		run.match("body", wantBody, doc, len(raw) > 0, fail)
	}
	for _, c := range s.Expect.BodyContains {
		c, err := run.subst(c, nil)
		if err != nil {
			fail("%v", err)
			continue
		}
		if !bytes.Contains(raw, []byte(c)) {
			fail("the body does not contain %q", c)
		}
	}
	for _, c := range s.Expect.BodyLacks {
		c, err := run.subst(c, nil)
		if err != nil {
			fail("%v", err)
			continue
		}
		if bytes.Contains(raw, []byte(c)) {
			fail("the body contains %q", c)
		}
	}
	return errs
}

func bodyNote(body []byte) string {
	if body == nil {
		return ""
	}
	if len(body) > 600 {
		return "\n  " + string(body[:600]) + "…"
	}
	return "\n  " + string(body)
}

var varRef = regexp.MustCompile(`\{\{([A-Za-z0-9_.-]+)\}\}`)

// subst replaces every {{name}} in s with the variable's value; esc, when
// set, escapes string values (for JSON text).
func (run *replayRun) subst(s string, esc func(string) string) (string, error) {
	var missing []string
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-2]
		v, ok := run.vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		str, isString := v.(string)
		if !isString {
			b, _ := json.Marshal(v)
			return string(b)
		}
		if esc != nil {
			return esc(str)
		}
		return str
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("undefined variable(s) %s (a step that should have saved them failed?)", strings.Join(missing, ", "))
	}
	return out, nil
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// expandVar turns an expected string into the value it stands for: a
// string that is exactly "{{name}}" is the variable's value (of any JSON
// type); other strings have their references substituted.
func (run *replayRun) expandVar(s string) (any, error) {
	if m := varRef.FindStringSubmatch(s); m != nil && m[0] == s {
		if v, ok := run.vars[m[1]]; ok {
			return v, nil
		}
	}
	return run.subst(s, nil)
}

// match checks got (present says whether it exists at all) against want,
// the partial expectation, reporting mismatches through fail.
func (run *replayRun) match(where string, want, got any, present bool, fail func(string, ...any)) {
	switch w := want.(type) {
	case string:
		if strings.HasPrefix(w, "$") {
			run.matcher(where, w, got, present, fail)
			return
		}
		v, err := run.expandVar(w)
		if err != nil {
			fail("%s: %v", where, err)
			return
		}
		if !present || !equalJSON(v, got) {
			fail("%s: got %s, want %s", where, show(got, present), show(v, true))
		}
	case nil:
		// null, absent and empty are equivalent (RFC 7643 §2.5).
		if present && !isEmptyJSON(got) {
			fail("%s: got %s, want null or absent", where, show(got, present))
		}
	case map[string]any:
		if isArrayMatcher(w) {
			run.matchArray(where, w, got, present, fail)
			return
		}
		g, ok := got.(map[string]any)
		if !present || !ok {
			fail("%s: got %s, want an object", where, show(got, present))
			return
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			gv, ok := g[k]
			run.match(where+"."+k, w[k], gv, ok, fail)
		}
	case []any:
		g, ok := got.([]any)
		if !present || !ok {
			fail("%s: got %s, want an array of %d", where, show(got, present), len(w))
			return
		}
		if len(g) != len(w) {
			fail("%s: got %d elements, want %d: %s", where, len(g), len(w), show(got, true))
			return
		}
		for i := range w {
			run.match(fmt.Sprintf("%s[%d]", where, i), w[i], g[i], true, fail)
		}
	default: // numbers and booleans
		if !present || !equalJSON(w, got) {
			fail("%s: got %s, want %s", where, show(got, present), show(w, true))
		}
	}
}

// isArrayMatcher reports whether an expected object is an array matcher:
// every key is one of $has, $none and $len.
func isArrayMatcher(w map[string]any) bool {
	if len(w) == 0 {
		return false
	}
	for k := range w {
		if k != "$has" && k != "$none" && k != "$len" {
			return false
		}
	}
	return true
}

// matchArray checks an array against an array matcher: for every element
// of $has some element matches, for no element of $none any element
// matches, and the array has $len elements.
func (run *replayRun) matchArray(where string, w map[string]any, got any, present bool, fail func(string, ...any)) {
	g, ok := got.([]any)
	if !present || !ok {
		if n, ok := w["$len"].(float64); ok && n == 0 && !present {
			return // an empty array and an absent attribute are the same
		}
		if _, onlyNone := w["$none"]; onlyNone && len(w) == 1 && !present {
			return
		}
		fail("%s: got %s, want an array", where, show(got, present))
		return
	}
	if n, ok := w["$len"]; ok {
		if f, ok := n.(float64); !ok || int(f) != len(g) {
			fail("%s: got %d elements, want %v: %s", where, len(g), n, show(got, true))
		}
	}
	matches := func(we, ge any) bool {
		var errs []string
		run.match(where, we, ge, true, func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) })
		return len(errs) == 0
	}
	for key, wantFound := range map[string]bool{"$has": true, "$none": false} {
		list, ok := w[key]
		if !ok {
			continue
		}
		ws, ok := list.([]any)
		if !ok {
			fail("%s: %s takes an array", where, key)
			continue
		}
		for i, we := range ws {
			found := slices.ContainsFunc(g, func(ge any) bool { return matches(we, ge) })
			if found != wantFound {
				verb := "no element matches"
				if !wantFound {
					verb = "an element matches"
				}
				fail("%s: %s %s[%d] %s in %s", where, verb, key, i, show(we, true), show(got, true))
			}
		}
	}
}

// matcher applies a "$…" matcher.
func (run *replayRun) matcher(where, m string, got any, present bool, fail func(string, ...any)) {
	name, arg, _ := strings.Cut(m, ":")
	expand := func() (string, bool) {
		s, err := run.subst(arg, nil)
		if err != nil {
			fail("%s: %v", where, err)
			return "", false
		}
		return s, true
	}
	str, isString := got.(string)
	switch name {
	case "$any":
		if !present || isEmptyJSON(got) {
			fail("%s: got %s, want a non-empty value", where, show(got, present))
		}
	case "$absent":
		if present {
			fail("%s: got %s, want it absent", where, show(got, present))
		}
	case "$empty":
		if present && !isEmptyJSON(got) {
			fail("%s: got %s, want absent, null or empty", where, show(got, present))
		}
	case "$null":
		if !present || got != nil {
			fail("%s: got %s, want null", where, show(got, present))
		}
	case "$number", "$string", "$bool", "$array", "$object":
		ok := false
		switch got.(type) {
		case float64:
			ok = name == "$number"
		case string:
			ok = name == "$string"
		case bool:
			ok = name == "$bool"
		case []any:
			ok = name == "$array"
		case map[string]any:
			ok = name == "$object"
		}
		if !present || !ok {
			fail("%s: got %s, want a %s", where, show(got, present), name[1:])
		}
	case "$save":
		name, ok := expand()
		if !ok {
			return
		}
		if !present || got == nil {
			fail("%s: nothing to save as %s", where, name)
			return
		}
		run.vars[name] = got
	case "$eq", "$ne", "$contains", "$prefix", "$suffix", "$icase":
		s, ok := expand()
		if !ok {
			return
		}
		var good bool
		switch name {
		case "$eq":
			good = isString && str == s
		case "$ne":
			good = present && !(isString && str == s)
		case "$contains":
			good = isString && strings.Contains(str, s)
		case "$prefix":
			good = isString && strings.HasPrefix(str, s)
		case "$suffix":
			good = isString && strings.HasSuffix(str, s)
		case "$icase":
			good = isString && strings.EqualFold(str, s)
		}
		if !present || !good {
			fail("%s: got %s, want %s %q", where, show(got, present), name[1:], s)
		}
	case "$len":
		n, err := strconv.Atoi(arg)
		g, ok := got.([]any)
		if err != nil || !present || !ok || len(g) != n {
			fail("%s: got %s, want an array of %s", where, show(got, present), arg)
		}
	default:
		fail("%s: unknown matcher %q", where, m)
	}
}

func isEmptyJSON(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func show(v any, present bool) string {
	if !present {
		return "(absent)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}

// TestReplayMatcher checks the engine's matching itself, so that a replay
// that passes means what it says.
func TestReplayMatcher(t *testing.T) {
	run := &replayRun{vars: map[string]any{"id": "u1", "n": 3.0}}
	got := map[string]any{
		"id": "u1", "n": 3.0, "s": "hello world", "b": false, "null": nil, "empty": "",
		"list":   []any{map[string]any{"type": "work", "value": "a"}, map[string]any{"type": "home", "value": "b"}},
		"nested": map[string]any{"x": 1.0, "y": []any{}},
	}
	for _, tc := range []struct {
		want string
		ok   bool
	}{
		{`{"id": "u1"}`, true},
		{`{"id": "{{id}}", "n": "{{n}}"}`, true},
		{`{"id": "u2"}`, false},
		{`{"id": "$any", "s": "$string", "n": "$number", "b": "$bool", "list": "$array", "nested": "$object"}`, true},
		{`{"empty": "$any"}`, false},
		{`{"missing": "$any"}`, false},
		{`{"missing": "$absent", "null": null, "empty": null, "nested": {"y": "$empty", "z": null}}`, true},
		{`{"null": "$absent"}`, false},
		{`{"null": "$null"}`, true},
		{`{"s": "$contains:lo wo", "id": "$prefix:u", "empty": "$eq:"}`, true},
		{`{"s": "$ne:hello world"}`, false},
		{`{"s": "$icase:HELLO WORLD"}`, true},
		{`{"list": "$len:2"}`, true},
		{`{"list": [{"type": "work"}]}`, false},
		{`{"list": [{"type": "work"}, {"type": "home", "value": "b"}]}`, true},
		{`{"list": [{"type": "home"}, {"type": "work"}]}`, false},
		{`{"list": {"$has": [{"type": "home"}], "$len": 2, "$none": [{"type": "other"}]}}`, true},
		{`{"list": {"$has": [{"type": "other"}]}}`, false},
		{`{"list": {"$none": [{"value": "a"}]}}`, false},
		{`{"missing": {"$none": [{"value": "a"}]}, "absentList": {"$len": 0}}`, true},
		{`{"nested": {"x": 1}}`, true},
		{`{"nested": {"x": "1"}}`, false},
		{`{"s": "$bogus"}`, false},
		{`{"id": "$save:saved"}`, true},
		{`{"id": "{{saved}}"}`, true},
		{`{"id": "{{undefined}}"}`, false},
	} {
		var want any
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatal(err)
		}
		var errs []string
		run.match("body", want, any(got), true, func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) })
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%s: ok=%v, want %v: %v", tc.want, len(errs) == 0, tc.ok, errs)
		}
	}
}
