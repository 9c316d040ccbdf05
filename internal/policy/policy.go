package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rule codes: the stable prefix of every refusal's detail.
const (
	RuleTokenOwner     = "policy.token_owner"
	RuleConsumerDomain = "policy.consumer_domain"
)

// DefaultBlockedDomains are the consumer email domains whose users cannot be
// deactivated, only removed (Smartsheet's list).
var DefaultBlockedDomains = []string{
	"outlook.com", "gmail.com", "hotmail.com", "live.com", "yahoo.com", "aol.com",
	"verizon.net", "rocketmail.com", "comcast.net", "icloud.com", "charter.net",
	"web.de", "mail.com", "email.com", "usa.com", "duck.com", "mail.ru",
}

// Settings are one tenant's policy settings.
type Settings struct {
	// DeactivationBlockedDomains lists the email domains whose users cannot
	// be deactivated (deactivation_blocked_domains).
	DeactivationBlockedDomains []string `json:"deactivation_blocked_domains"`
}

// Defaults returns the settings a tenant has when it sets nothing.
func Defaults() Settings {
	return Settings{DeactivationBlockedDomains: slices.Clone(DefaultBlockedDomains)}
}

// Parse reads a tenant's stored policy document over the defaults. Keys the
// document does not set keep their default. A malformed document or an
// unknown key is an error.
func Parse(doc []byte) (Settings, error) {
	s := Defaults()
	if len(doc) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("policy: reading settings: %w", err)
	}
	return s, nil
}

// Subject is what the rules know of a user on one side of a change.
type Subject struct {
	UserName string
	Active   bool
	Role     string
	Emails   []string // primary email first
}

// Email returns the address the domain rules look at: the primary (first)
// email, or the userName when it looks like an address and there is none.
func (s Subject) Email() string {
	if len(s.Emails) > 0 && s.Emails[0] != "" {
		return s.Emails[0]
	}
	if strings.Contains(s.UserName, "@") {
		return s.UserName
	}
	return ""
}

// Facts are what the provision service looked up for one change.
type Facts struct {
	Now time.Time
	// OwnsLiveToken is true when the user owns a SCIM token that is neither
	// revoked nor expired.
	OwnsLiveToken bool
}

// Action is the kind of change.
type Action int

// The kinds of change Check judges.
const (
	Create Action = iota + 1
	Update
	Delete
)

// Change is one proposed change to a user: Before is nil on Create, After
// is nil on Delete.
type Change struct {
	Action Action
	Before *Subject
	After  *Subject
	Facts  Facts
}

// Deactivates reports whether the change turns an active user inactive.
func (c Change) Deactivates() bool {
	return c.Action == Update && c.Before != nil && c.After != nil && c.Before.Active && !c.After.Active
}

// Violation is a refusal: Rule is a stable code, Detail a sentence for the
// admin that says what to do instead.
type Violation struct {
	Rule   string
	Detail string
}

// Error renders the violation as SCIM error details do: "rule: detail".
func (v *Violation) Error() string { return v.Rule + ": " + v.Detail }

type rule func(Settings, Change) *Violation

// rules run in this order; the first refusal wins.
var rules = []rule{tokenOwner, consumerDomain}

// Check judges a change under the tenant's settings and returns the first
// refusal, or nil when the change may happen.
func Check(s Settings, c Change) *Violation {
	for _, r := range rules {
		if v := r(s, c); v != nil {
			return v
		}
	}
	return nil
}

// tokenOwner: an admin associated with a live SCIM token cannot be
// deactivated while that token is live (monday.com).
func tokenOwner(_ Settings, c Change) *Violation {
	if !c.Deactivates() || !c.Facts.OwnsLiveToken {
		return nil
	}
	return &Violation{
		Rule: RuleTokenOwner,
		Detail: fmt.Sprintf("%s owns a live SCIM token and cannot be deactivated while it is live; "+
			"revoke the token (scimd token revoke ID) or issue it to another admin first", c.Before.UserName),
	}
}

// consumerDomain: users of consumer email domains cannot be deactivated,
// only removed (Smartsheet).
func consumerDomain(s Settings, c Change) *Violation {
	if !c.Deactivates() {
		return nil
	}
	email := c.Before.Email()
	_, domain, ok := strings.Cut(email, "@")
	if !ok {
		return nil
	}
	for _, d := range s.DeactivationBlockedDomains {
		if strings.EqualFold(domain, d) {
			return &Violation{
				Rule: RuleConsumerDomain,
				Detail: fmt.Sprintf("%s uses a consumer email domain (%s) and cannot be deactivated; "+
					"delete the user instead", email, strings.ToLower(domain)),
			}
		}
	}
	return nil
}
