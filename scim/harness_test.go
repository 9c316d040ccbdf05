package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/obs"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/internal/testenv"
	"github.com/scimd/scimd/store"
)

// harness is a real scimd handler over a real store, with one tenant and a
// token for it.
type harness struct {
	t        *testing.T
	srv      *httptest.Server
	store    store.Store
	svc      *provision.Service
	metrics  *obs.Metrics
	tenantID string
	token    string
	base     string
}

func newHarness(t *testing.T, s store.Store) *harness {
	t.Helper()
	svc := provision.New(s, nil, nil)
	h := &harness{t: t, store: s, svc: svc, metrics: obs.NewMetrics()}
	h.srv = httptest.NewServer(NewServer(Config{Store: s, Provision: svc, Metrics: h.metrics}))
	t.Cleanup(h.srv.Close)
	h.base = h.srv.URL + "/scim/v2"
	h.tenantID, h.token = h.newTenant("acme")
	return h
}

// newTenant creates a tenant and a token for it.
func (h *harness) newTenant(name string) (id, token string) {
	h.t.Helper()
	ctx := context.Background()
	a := provision.Actor{Name: "test"}
	ten, err := h.svc.CreateTenant(ctx, a, name)
	if err != nil {
		h.t.Fatal(err)
	}
	tok, _, err := h.svc.CreateToken(ctx, a, provision.TokenSpec{TenantID: ten.ID})
	if err != nil {
		h.t.Fatal(err)
	}
	return ten.ID, tok
}

// resp is a decoded response.
type resp struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// req sends a request with the harness token. body may be a string (sent
// as is), []byte, or any value (JSON-encoded). hdr is alternating
// header names and values; "Authorization" there replaces the token.
func (h *harness) req(method, path string, body any, hdr ...string) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = h.base + path
	}
	r, err := http.NewRequest(method, url, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+h.token)
	if body != nil {
		r.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.Body); err != nil && strings.Contains(res.Header.Get("Content-Type"), "json") {
			h.t.Fatalf("%s %s: response is not JSON: %s", method, path, raw)
		}
	}
	return out
}

// must checks the status and returns the response.
func (r resp) must(t *testing.T, status int) resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// scimError checks that the response is a SCIM error with this status and
// returns its detail.
func (r resp) scimError(t *testing.T, status int, scimType string) string {
	t.Helper()
	r.must(t, status)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/scim+json") {
		t.Fatalf("error content type %q", r.Header.Get("Content-Type"))
	}
	if s, _ := r.Body["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Fatalf("error schemas: %s", r.Raw)
	}
	if st, ok := r.Body["status"].(string); !ok || st != itoa(status) {
		t.Fatalf("error status must be the string %q: %s", itoa(status), r.Raw)
	}
	if got, _ := r.Body["scimType"].(string); got != scimType {
		t.Fatalf("scimType %q, want %q: %s", got, scimType, r.Raw)
	}
	d, _ := r.Body["detail"].(string)
	if d == "" {
		t.Fatalf("error without detail: %s", r.Raw)
	}
	return d
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// get walks a dotted path ("name.givenName", "emails.0.value",
// "Resources.0.id") through a decoded body.
func get(v any, path string) any {
	var parts []string
	if strings.HasPrefix(path, "urn:") {
		// An extension URN contains dots ("2.0"); it ends at the last ":".
		colon := strings.LastIndex(path, ":")
		urn, rest, _ := strings.Cut(path[colon:], ".")
		parts = append([]string{path[:colon] + urn}, strings.Split(rest, ".")...)
	} else {
		parts = strings.Split(path, ".")
	}
	for _, p := range parts {
		switch t := v.(type) {
		case map[string]any:
			v = t[p]
		case []any:
			var i int
			if err := json.Unmarshal([]byte(p), &i); err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

func gets(v any, path string) string {
	s, _ := get(v, path).(string)
	return s
}

// forEachBackend runs f with a fresh harness on every storage backend.
func forEachBackend(t *testing.T, f func(t *testing.T, h *harness)) {
	testenv.ForEach(t, func(t *testing.T, s store.Store) {
		f(t, newHarness(t, s))
	})
}
