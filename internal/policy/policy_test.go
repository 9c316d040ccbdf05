package policy

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func subj(name string, active bool, role string, emails ...string) *Subject {
	return &Subject{UserName: name, Active: active, Role: role, Emails: emails}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		s      Settings
		change Change
		rule   string // "" = allowed
	}{
		{"plain deactivation", Defaults(),
			Change{Update, subj("bob@acme.test", true, "member", "bob@acme.test"), subj("bob@acme.test", false, "member", "bob@acme.test"), Facts{Now: now}}, ""},
		{"token owner deactivated", Defaults(),
			Change{Update, subj("admin@acme.test", true, "admin", "admin@acme.test"), subj("admin@acme.test", false, "admin", "admin@acme.test"), Facts{Now: now, OwnsLiveToken: true}}, RuleTokenOwner},
		{"token owner other change", Defaults(),
			Change{Update, subj("admin@acme.test", true, "admin"), subj("admin2@acme.test", true, "admin"), Facts{Now: now, OwnsLiveToken: true}}, ""},
		{"token owner already inactive stays inactive", Defaults(),
			Change{Update, subj("admin@acme.test", false, "admin"), subj("admin@acme.test", false, "admin"), Facts{Now: now, OwnsLiveToken: true}}, ""},
		{"token owner deleted is not this rule", Defaults(),
			Change{Delete, subj("admin@acme.test", true, "admin"), nil, Facts{Now: now, OwnsLiveToken: true}}, ""},
		{"consumer domain by primary email", Defaults(),
			Change{Update, subj("alice", true, "member", "alice@gmail.com"), subj("alice", false, "member", "alice@gmail.com"), Facts{Now: now}}, RuleConsumerDomain},
		{"consumer domain case-insensitive", Defaults(),
			Change{Update, subj("alice", true, "member", "alice@GMail.COM"), subj("alice", false, "member"), Facts{Now: now}}, RuleConsumerDomain},
		{"consumer domain by userName when no email", Defaults(),
			Change{Update, subj("carol@outlook.com", true, "member"), subj("carol@outlook.com", false, "member"), Facts{Now: now}}, RuleConsumerDomain},
		{"subdomain of consumer domain is not blocked", Defaults(),
			Change{Update, subj("d", true, "member", "d@corp.gmail.com.example"), subj("d", false, "member"), Facts{Now: now}}, ""},
		{"consumer domain may be removed", Defaults(),
			Change{Delete, subj("alice", true, "member", "alice@gmail.com"), nil, Facts{Now: now}}, ""},
		{"consumer domain may be created inactive", Defaults(),
			Change{Create, nil, subj("alice", false, "member", "alice@gmail.com"), Facts{Now: now}}, ""},
		{"tenant clears the list", Settings{},
			Change{Update, subj("alice", true, "member", "alice@gmail.com"), subj("alice", false, "member"), Facts{Now: now}}, ""},
		{"token owner wins over consumer domain", Defaults(),
			Change{Update, subj("a", true, "admin", "a@gmail.com"), subj("a", false, "admin"), Facts{Now: now, OwnsLiveToken: true}}, RuleTokenOwner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Check(tt.s, tt.change)
			if tt.rule == "" {
				if v != nil {
					t.Fatalf("refused: %v", v)
				}
				return
			}
			if v == nil {
				t.Fatalf("allowed; want %s", tt.rule)
			}
			if v.Rule != tt.rule {
				t.Fatalf("rule %s; want %s", v.Rule, tt.rule)
			}
			if !strings.HasPrefix(v.Error(), tt.rule+": ") || !strings.Contains(v.Detail, "instead") && !strings.Contains(v.Detail, "first") {
				t.Fatalf("detail does not say what to do: %q", v.Error())
			}
		})
	}
}

func TestParse(t *testing.T) {
	s, err := Parse([]byte(`{}`))
	if err != nil || len(s.DeactivationBlockedDomains) != len(DefaultBlockedDomains) {
		t.Fatalf("defaults: %v %v", s, err)
	}
	s, err = Parse([]byte(`{"deactivation_blocked_domains":["example.org"]}`))
	if err != nil || len(s.DeactivationBlockedDomains) != 1 || s.DeactivationBlockedDomains[0] != "example.org" {
		t.Fatalf("override: %v %v", s, err)
	}
	if _, err := Parse([]byte(`{"no_such_setting":1}`)); err == nil {
		t.Fatal("unknown key accepted")
	}
	if _, err := Parse([]byte(`{`)); err == nil {
		t.Fatal("malformed document accepted")
	}
}

// TestOnlyDeactivationIsRefused is a property test over random changes: the
// two rules live today refuse only changes that turn an active user
// inactive, and every refusal is explained by a fact.
func TestOnlyDeactivationIsRefused(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	domains := []string{"gmail.com", "acme.test", "GMAIL.COM", "outlook.com", "example.org"}
	roles := []string{"owner", "admin", "member", "viewer", "guest"}
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	for i := 0; i < 20000; i++ {
		mk := func() *Subject {
			return subj("u"+pick(roles), r.IntN(2) == 0, pick(roles), "x@"+pick(domains))
		}
		c := Change{Action: Action(1 + r.IntN(3)), Before: mk(), After: mk(), Facts: Facts{Now: now, OwnsLiveToken: r.IntN(2) == 0}}
		switch c.Action {
		case Create:
			c.Before = nil
		case Delete:
			c.After = nil
		}
		v := Check(Defaults(), c)
		if v == nil {
			continue
		}
		if !c.Deactivates() {
			t.Fatalf("refused a change that does not deactivate: %+v: %v", c, v)
		}
		switch v.Rule {
		case RuleTokenOwner:
			if !c.Facts.OwnsLiveToken {
				t.Fatalf("token rule without a live token: %+v", c)
			}
		case RuleConsumerDomain:
			_, d, _ := strings.Cut(c.Before.Email(), "@")
			if !strings.EqualFold(d, "gmail.com") && !strings.EqualFold(d, "outlook.com") {
				t.Fatalf("consumer rule for %q", d)
			}
		}
	}
}
