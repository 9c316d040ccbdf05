package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// TestTenantResume trips a tenant's brake, shows it with `scimd tenant
// show`, resumes it with `scimd tenant resume`, and then a deactivation
// goes through.
func TestTenantResume(t *testing.T) {
	for name, mk := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dbURL := mk(t)
			mustCLI(t, dbURL, "tenant", "create", "acme")
			mustCLI(t, dbURL, "tenant", "policy", "acme", "--set", "deprovision_brake_min=3")
			db, err := openDatabase(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ten, err := db.GetTenantByName(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			svc := provision.New(db, nil, nil)
			a := provision.Actor{TenantID: ten.ID, Name: "test"}
			var ids []string
			for i := range 6 {
				u, err := svc.CreateUser(ctx, a, store.User{UserName: fmt.Sprintf("u%d", i), Active: true, Doc: []byte(`{}`)})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, u.ID)
			}
			deactivate := func(id string) error {
				_, err := svc.UpdateUser(ctx, a, id, nil, "user.patch", func(u *store.User) error { u.Active = false; return nil })
				return err
			}
			for _, id := range ids[:3] {
				if err := deactivate(id); err != nil {
					t.Fatal(err)
				}
			}
			var v *policy.Violation
			if err := deactivate(ids[3]); !errors.As(err, &v) || v.Rule != policy.RuleDeprovisioningPaused ||
				!strings.Contains(v.Detail, "scimd tenant resume acme") {
				t.Fatalf("the fourth deactivation: %v", err)
			}
			var show struct {
				Deprovisioning struct {
					Paused bool `json:"paused"`
					Count  int  `json:"count"`
					Limit  int  `json:"limit"`
				} `json:"deprovisioning"`
			}
			if err := json.Unmarshal([]byte(mustCLI(t, dbURL, "tenant", "show", "acme")), &show); err != nil {
				t.Fatal(err)
			}
			if d := show.Deprovisioning; !d.Paused || d.Count != 4 || d.Limit != 3 {
				t.Fatalf("tenant show: %+v", d)
			}

			out := mustCLI(t, dbURL, "tenant", "resume", "acme")
			if !strings.Contains(out, "tenant acme: deactivations and deletions resumed") || !strings.Contains(out, "4 within 10 minutes exceeded the limit of 3") ||
				!strings.Contains(out, "the 3 deactivation(s) and deletion(s) before it no longer count") {
				t.Fatalf("resume printed %q", out)
			}
			if err := deactivate(ids[3]); err != nil {
				t.Fatalf("deactivation after the resume: %v", err)
			}
			if err := json.Unmarshal([]byte(mustCLI(t, dbURL, "tenant", "show", "acme")), &show); err != nil || show.Deprovisioning.Paused {
				t.Fatalf("tenant show after the resume: %+v %v", show, err)
			}
			if out := mustCLI(t, dbURL, "tenant", "resume", "acme"); !strings.Contains(out, "were not paused") || !strings.Contains(out, "the 1 deactivation") {
				t.Fatalf("second resume printed %q", out)
			}
			if out := mustCLI(t, dbURL, "audit", "--tenant", "acme"); strings.Count(out, "tenant.resume") != 2 || !strings.Contains(out, "tenant.pause") {
				t.Errorf("audit:\n%s", out)
			}
			for _, bad := range [][]string{{"tenant", "resume"}, {"tenant", "resume", "nope"}, {"tenant", "resume", "acme", "extra"}} {
				if _, _, err := cli(t, dbURL, bad...); err == nil {
					t.Errorf("scimd %v succeeded", bad)
				}
			}
		})
	}
}
