package scim

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testutilCount reads the refusal counter of a rule.
func testutilCount(h *harness, rule string) float64 {
	return testutil.ToFloat64(h.metrics.Refusals.WithLabelValues(rule))
}

func TestHealthReadyMetrics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		for _, p := range []string{"/healthz", "/readyz"} {
			res, err := http.Get(h.srv.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || strings.TrimSpace(string(b)) != "ok" {
				t.Fatalf("%s: %d %s", p, res.StatusCode, b)
			}
		}
		h.req("GET", "/Users/nope", nil).must(t, 404)
		h.req("GET", "/Users", nil).must(t, 200)
		res, err := http.Get(h.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, want := range []string{
			`scimd_http_requests_total{method="GET",route="/scim/v2/Users/{id}",status="404"} 1`,
			`scimd_http_requests_total{method="GET",route="/scim/v2/Users",status="200"} 1`,
			`scimd_http_request_duration_seconds_bucket{method="GET",route="/scim/v2/Users"`,
			`go_goroutines`,
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

func TestCompatRewritesAreCounted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		id := createUser(t, h, "carl", "carl@acme.test", "")
		h.req("PATCH", "/Users/"+id, patchOp+`{"op":"Replace","path":"active","value":"False"}]}`).must(t, 200)
		if n := testutil.ToFloat64(h.metrics.Rewrites.WithLabelValues("bool_string")); n != 1 {
			t.Fatalf("bool_string rewrites %v, want 1", n)
		}
	})
}
