package main

import (
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/ratelimit"
)

func TestRateLimitSettings(t *testing.T) {
	lim := func(rate float64, burst int) ratelimit.Limit { return ratelimit.Limit{Rate: rate, Burst: burst} }
	const pause, conc = ratelimit.DefaultPause, ratelimit.DefaultConcurrent
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    ratelimit.Limits
		wantErr string // part of the error; "" for none
	}{
		{"defaults", nil, ratelimit.Limits{Tenant: lim(300, 600), Token: lim(200, 400), Pause: pause, Concurrent: conc}, ""},
		{"rates set, bursts follow", map[string]string{"SCIMD_RATE_TENANT": "50", "SCIMD_RATE_TOKEN": "12.5"},
			ratelimit.Limits{Tenant: lim(50, 100), Token: lim(12.5, 25), Pause: pause, Concurrent: conc}, ""},
		{"bursts set", map[string]string{"SCIMD_RATE_TENANT_BURST": "1000", "SCIMD_RATE_TOKEN_BURST": "1"},
			ratelimit.Limits{Tenant: lim(300, 1000), Token: lim(200, 1), Pause: pause, Concurrent: conc}, ""},
		{"tenant off", map[string]string{"SCIMD_RATE_TENANT": "0"},
			ratelimit.Limits{Token: lim(200, 400), Pause: pause, Concurrent: conc}, ""},
		{"both off", map[string]string{"SCIMD_RATE_TENANT": "0", "SCIMD_RATE_TOKEN": "0"}, ratelimit.Limits{Pause: pause, Concurrent: conc}, ""},
		{"pause set", map[string]string{"SCIMD_RATE_PAUSE": "1s"},
			ratelimit.Limits{Tenant: lim(300, 600), Token: lim(200, 400), Pause: time.Second, Concurrent: conc}, ""},
		{"pause off", map[string]string{"SCIMD_RATE_PAUSE": "0s"},
			ratelimit.Limits{Tenant: lim(300, 600), Token: lim(200, 400), Concurrent: conc}, ""},
		{"pause too long", map[string]string{"SCIMD_RATE_PAUSE": "1m"}, ratelimit.Limits{}, "SCIMD_RATE_PAUSE \"1m\""},
		{"pause negative", map[string]string{"SCIMD_RATE_PAUSE": "-1s"}, ratelimit.Limits{}, "SCIMD_RATE_PAUSE \"-1s\""},
		{"pause without unit", map[string]string{"SCIMD_RATE_PAUSE": "250"}, ratelimit.Limits{}, "SCIMD_RATE_PAUSE \"250\""},
		{"concurrency set", map[string]string{"SCIMD_RATE_CONCURRENT": "3"},
			ratelimit.Limits{Tenant: lim(300, 600), Token: lim(200, 400), Pause: pause, Concurrent: 3}, ""},
		{"everything off", map[string]string{"SCIMD_RATE_TENANT": "0", "SCIMD_RATE_TOKEN": "0", "SCIMD_RATE_CONCURRENT": "0"},
			ratelimit.Limits{Pause: pause}, ""},
		{"negative concurrency", map[string]string{"SCIMD_RATE_CONCURRENT": "-1"}, ratelimit.Limits{}, "SCIMD_RATE_CONCURRENT \"-1\""},
		{"word concurrency", map[string]string{"SCIMD_RATE_CONCURRENT": "many"}, ratelimit.Limits{}, "SCIMD_RATE_CONCURRENT \"many\""},
		{"slow rate", map[string]string{"SCIMD_RATE_TOKEN": "0.2"},
			ratelimit.Limits{Tenant: lim(300, 600), Token: lim(0.2, 1), Pause: pause, Concurrent: conc}, ""},
		{"negative rate", map[string]string{"SCIMD_RATE_TENANT": "-1"}, ratelimit.Limits{}, "SCIMD_RATE_TENANT \"-1\""},
		{"word rate", map[string]string{"SCIMD_RATE_TOKEN": "fast"}, ratelimit.Limits{}, "SCIMD_RATE_TOKEN \"fast\""},
		{"unit rate", map[string]string{"SCIMD_RATE_TOKEN": "200/s"}, ratelimit.Limits{}, "SCIMD_RATE_TOKEN \"200/s\""},
		{"infinite rate", map[string]string{"SCIMD_RATE_TENANT": "Inf"}, ratelimit.Limits{}, "SCIMD_RATE_TENANT \"Inf\""},
		{"NaN rate", map[string]string{"SCIMD_RATE_TENANT": "NaN"}, ratelimit.Limits{}, "SCIMD_RATE_TENANT \"NaN\""},
		{"zero burst", map[string]string{"SCIMD_RATE_TENANT_BURST": "0"}, ratelimit.Limits{}, "SCIMD_RATE_TENANT_BURST \"0\""},
		{"fractional burst", map[string]string{"SCIMD_RATE_TOKEN_BURST": "1.5"}, ratelimit.Limits{}, "SCIMD_RATE_TOKEN_BURST \"1.5\""},
		{"huge burst", map[string]string{"SCIMD_RATE_TOKEN_BURST": "99999999999"}, ratelimit.Limits{}, "SCIMD_RATE_TOKEN_BURST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{getenv: func(k string) string { return tc.env[k] }}
			got, err := e.rateLimits()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("limits %+v, want %+v", got, tc.want)
			}
		})
	}
	// The defaults stay comfortably above Entra ID's 25 requests/s per tenant.
	if d := ratelimit.Defaults(); d.Tenant.Rate < 4*25 || d.Token.Rate < 4*25 {
		t.Fatalf("default limits %+v are too close to Entra ID's 25 requests/s", d)
	}
}

// TestServeRefusesBadRateLimits: serve stops at startup, before opening
// the database, on a rate limit it cannot read.
func TestServeRefusesBadRateLimits(t *testing.T) {
	env := map[string]string{"SCIMD_RATE_TENANT": "lots", "SCIMD_ADDR": "127.0.0.1:0",
		"SCIMD_DATABASE_URL": "sqlite://" + t.TempDir() + "/never.db"}
	var out, errb strings.Builder
	err := run(t.Context(), []string{"serve"}, func(k string) string { return env[k] }, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `SCIMD_RATE_TENANT "lots"`) {
		t.Fatalf("serve with SCIMD_RATE_TENANT=lots: %v, want an error naming it", err)
	}
}
