package policy

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Rule codes: the stable prefix of every refusal's detail. docs/policy.md
// lists them with the setting each one follows.
const (
	RuleSelf               = "policy.self"
	RuleTokenOwner         = "policy.token_owner"
	RuleProtectedAdmin     = "policy.protected_admin"
	RuleConsumerDomain     = "policy.consumer_domain"
	RuleDomainNotAllowed   = "policy.domain_not_allowed"
	RuleReactivationWindow = "policy.reactivation_window"
	RuleSeats              = "policy.seats"
	RuleOwnerDelete        = "policy.owner_delete"
	RuleOwnerDemote        = "policy.owner_demote"
	RuleSingleOwner        = "policy.single_owner"
	RuleDeactivateFirst    = "policy.deactivate_first"
	RuleUserNamePattern    = "policy.username_pattern"
	RuleUserNameReserved   = "policy.username_reserved"
	RuleUniqueEmail        = "policy.unique_email"
)

// Roles, as store.User.Role holds them.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Subject is what the rules know of a user on one side of a change.
type Subject struct {
	UserName string
	Active   bool
	Role     string
	Emails   []string // primary email first
	// DeactivatedAt is when the user was deactivated (nil when active).
	DeactivatedAt *time.Time
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

// privileged reports whether the role is admin or owner.
func privileged(role string) bool { return role == RoleAdmin || role == RoleOwner }

// Facts are what the provision service looked up for one change. Which
// ones a change needs is said by Needs; the others may stay zero.
type Facts struct {
	Now time.Time
	// Self is true when the subject is the actor: the owner of the token in
	// use, or the admin signed in to the console.
	Self bool
	// OwnsLiveToken is true when the subject owns a SCIM token that is
	// neither revoked nor expired.
	OwnsLiveToken bool
	// SeatsUsed is the number of seats taken before the change.
	SeatsUsed int
	// OtherOwner is true when a live user other than the subject has the
	// role owner.
	OtherOwner bool
	// TakenEmail is an email of the subject that another live user has
	// ("" for none).
	TakenEmail string
	// UserNameReserved is true when a deleted user held the subject's
	// userName.
	UserNameReserved bool
	// Transfer is true for an ownership transfer, the one change that may
	// demote the owner.
	Transfer bool
}

// Action is the kind of change.
type Action int

// The kinds of change Check judges.
const (
	// Create is a new user (Before nil).
	Create Action = iota + 1
	// Update changes a live user.
	Update
	// Delete removes a live user (After nil).
	Delete
	// Restore brings a retained tombstone back as After (Before is the
	// tombstone).
	Restore
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
	return c.Action == Update && c.Before.Active && !c.After.Active
}

// Reactivates reports whether the change turns an inactive user active.
func (c Change) Reactivates() bool {
	return c.Action == Update && !c.Before.Active && c.After.Active
}

// Demotes reports whether the change takes admin rights (admin or owner)
// away.
func (c Change) Demotes() bool {
	return c.Action == Update && privileged(c.Before.Role) && !privileged(c.After.Role)
}

// TakesSeat reports whether the change makes the user consume a seat it
// did not consume before, under s.
func TakesSeat(s Settings, c Change) bool {
	consumes := func(sub *Subject) bool {
		return sub != nil && (sub.Active || s.InactiveUsersConsumeSeats)
	}
	switch c.Action {
	case Create, Restore:
		return consumes(c.After)
	case Update:
		return !consumes(c.Before) && consumes(c.After)
	}
	return false
}

// Need says which facts a change needs under some settings, so that the
// provision service only runs the look-ups that can matter.
type Need struct {
	OwnsLiveToken, Seats, OtherOwner, Emails, UserNameReserved bool
}

// Needs returns the facts Check will read for c under s.
func Needs(s Settings, c Change) Need {
	var n Need
	n.OwnsLiveToken = c.Deactivates() || c.Demotes()
	n.Seats = s.Seats > 0 && TakesSeat(s, c)
	n.OtherOwner = c.After != nil && c.After.Role == RoleOwner && (c.Before == nil || c.Before.Role != RoleOwner || c.Action == Restore)
	if c.After != nil && s.UniqueEmails {
		n.Emails = c.Before == nil || c.Action == Restore || !sameEmails(c.Before.Emails, c.After.Emails)
	}
	if c.After != nil && s.ReserveDeletedUsernames && c.Action != Restore {
		n.UserNameReserved = c.Before == nil || !strings.EqualFold(c.Before.UserName, c.After.UserName)
	}
	return n
}

func sameEmails(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Violation is a refusal: Rule is a stable code, Detail a sentence for the
// admin that says what to do instead. Conflict marks a uniqueness refusal
// (409 uniqueness) rather than a policy one (403).
type Violation struct {
	Rule     string
	Detail   string
	Conflict bool
}

// Error renders the violation as SCIM error details do: "rule: detail".
func (v *Violation) Error() string { return v.Rule + ": " + v.Detail }

func refuse(rule, format string, args ...any) *Violation {
	return &Violation{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

type rule func(Settings, Change) *Violation

// rules run in this order; the first refusal wins.
var rules = []rule{
	userNamePattern, userNameReserved, uniqueEmail,
	self, ownerDelete, ownerDemote, singleOwner, tokenOwner, protectedAdmin,
	consumerDomain, domainNotAllowed, deactivateFirst, reactivationWindow, seats,
}

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

var (
	reMu    sync.Mutex
	reCache = map[string]*regexp.Regexp{}
)

// compile returns the compiled pattern, caching it (patterns come from a
// handful of tenant settings).
func compile(p string) (*regexp.Regexp, error) {
	reMu.Lock()
	defer reMu.Unlock()
	if re, ok := reCache[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	if len(reCache) > 1000 {
		clear(reCache)
	}
	reCache[p] = re
	return re, nil
}

// userNamePattern: every userName matches username_pattern (Hubble).
func userNamePattern(s Settings, c Change) *Violation {
	if c.After == nil || (c.Before != nil && c.Action == Update && c.Before.UserName == c.After.UserName) {
		return nil
	}
	if s.userNameOK(c.After.UserName) {
		return nil
	}
	if s.UsernamePattern == "" {
		return refuse(RuleUserNamePattern, "a userName must be 1 to %d characters long", MaxUserNameLength)
	}
	return refuse(RuleUserNamePattern, "%q does not match this tenant's userName pattern %s; choose a userName that does",
		c.After.UserName, s.UsernamePattern)
}

// userNameReserved: a userName a deleted user had stays reserved (Hubble).
func userNameReserved(s Settings, c Change) *Violation {
	if !c.Facts.UserNameReserved || !Needs(s, c).UserNameReserved {
		return nil
	}
	v := refuse(RuleUserNameReserved, "the userName %s belonged to a deleted user and stays reserved in this tenant; choose another userName", c.After.UserName)
	v.Conflict = true
	return v
}

// uniqueEmail: an email belongs to one live user of the tenant (Hubble).
func uniqueEmail(s Settings, c Change) *Violation {
	if c.Facts.TakenEmail == "" || !Needs(s, c).Emails {
		return nil
	}
	v := refuse(RuleUniqueEmail, "the email %s is already used by another user of this tenant; each user needs their own email", c.Facts.TakenEmail)
	v.Conflict = true
	return v
}

// self: no one deactivates or deletes themselves (Smartsheet, monday).
func self(_ Settings, c Change) *Violation {
	if !c.Facts.Self {
		return nil
	}
	switch {
	case c.Action == Delete:
		return refuse(RuleSelf, "%s is the admin making this request and cannot delete themselves; use another admin's token", c.Before.UserName)
	case c.Deactivates():
		return refuse(RuleSelf, "%s is the admin making this request and cannot deactivate themselves; use another admin's token", c.Before.UserName)
	}
	return nil
}

// ownerDelete: the owner cannot be deleted until ownership is transferred
// (Hubble, monday).
func ownerDelete(_ Settings, c Change) *Violation {
	if c.Action != Delete || c.Before.Role != RoleOwner {
		return nil
	}
	return refuse(RuleOwnerDelete, "%s is the tenant's owner and cannot be deleted; transfer ownership first (scimd tenant owner TENANT USERNAME)", c.Before.UserName)
}

// ownerDemote: once set, an owner exists; the role moves only by transfer.
func ownerDemote(_ Settings, c Change) *Violation {
	if c.Action != Update || c.Before.Role != RoleOwner || c.After.Role == RoleOwner || c.Facts.Transfer {
		return nil
	}
	return refuse(RuleOwnerDemote, "%s is the tenant's owner and keeps that role until ownership is transferred (scimd tenant owner TENANT USERNAME)", c.Before.UserName)
}

// singleOwner: at most one owner per tenant.
func singleOwner(s Settings, c Change) *Violation {
	if !c.Facts.OtherOwner || c.Facts.Transfer || !Needs(s, c).OtherOwner {
		return nil
	}
	return refuse(RuleSingleOwner, "this tenant already has an owner; give %s another role, or transfer ownership (scimd tenant owner TENANT USERNAME)", c.After.UserName)
}

// tokenOwner: an admin associated with a live SCIM token cannot be
// deactivated or demoted while that token is live (monday.com).
func tokenOwner(_ Settings, c Change) *Violation {
	if !c.Facts.OwnsLiveToken {
		return nil
	}
	switch {
	case c.Deactivates():
		return refuse(RuleTokenOwner, "%s owns a live SCIM token and cannot be deactivated while it is live; "+
			"revoke the token (scimd token revoke ID) or issue it to another admin first", c.Before.UserName)
	case c.Demotes():
		return refuse(RuleTokenOwner, "%s owns a live SCIM token and must stay an admin while it is live; "+
			"revoke the token (scimd token revoke ID) or issue it to another admin first", c.Before.UserName)
	}
	return nil
}

// protectedAdmin: admins and owners cannot be suspended (Hubble).
func protectedAdmin(s Settings, c Change) *Violation {
	if !s.ProtectAdminsFromDeactivation || !c.Deactivates() || !privileged(c.Before.Role) {
		return nil
	}
	return refuse(RuleProtectedAdmin, "%s is an %s and admins cannot be deactivated in this tenant; change their role first or delete the user",
		c.Before.UserName, c.Before.Role)
}

func domainOf(sub *Subject) (string, bool) {
	_, d, ok := strings.Cut(sub.Email(), "@")
	return strings.ToLower(d), ok && d != ""
}

// consumerDomain: users of consumer email domains cannot be deactivated,
// only removed (Smartsheet).
func consumerDomain(s Settings, c Change) *Violation {
	if !c.Deactivates() {
		return nil
	}
	domain, ok := domainOf(c.Before)
	if !ok {
		return nil
	}
	for _, d := range s.DeactivationBlockedDomains {
		if domain == strings.ToLower(d) {
			return refuse(RuleConsumerDomain, "%s uses a consumer email domain (%s) and cannot be deactivated; "+
				"delete the user instead", c.Before.Email(), domain)
		}
	}
	return nil
}

// domainNotAllowed: when the tenant lists its own domains, only their
// users can be deactivated (Smartsheet).
func domainNotAllowed(s Settings, c Change) *Violation {
	if !c.Deactivates() || len(s.DeactivationAllowedDomains) == 0 {
		return nil
	}
	domain, _ := domainOf(c.Before)
	for _, d := range s.DeactivationAllowedDomains {
		if domain == strings.ToLower(d) {
			return nil
		}
	}
	return refuse(RuleDomainNotAllowed, "%s is not in one of this tenant's domains (%s) and cannot be deactivated; delete the user instead",
		c.Before.UserName, strings.Join(s.DeactivationAllowedDomains, ", "))
}

// deactivateFirst: a user must be deactivated before it is deleted
// (monday.com).
func deactivateFirst(s Settings, c Change) *Violation {
	if !s.RequireDeactivationBeforeDelete || c.Action != Delete || !c.Before.Active {
		return nil
	}
	return refuse(RuleDeactivateFirst, "%s is active; deactivate the user (active=false) before deleting it", c.Before.UserName)
}

// reactivationWindow: reactivation only within N days of deactivation
// (Smartsheet).
func reactivationWindow(s Settings, c Change) *Violation {
	if s.ReactivationWindowDays == 0 || !c.Reactivates() || c.Before.DeactivatedAt == nil {
		return nil
	}
	limit := c.Before.DeactivatedAt.Add(time.Duration(s.ReactivationWindowDays) * 24 * time.Hour)
	if !c.Facts.Now.After(limit) {
		return nil
	}
	return refuse(RuleReactivationWindow, "%s was deactivated on %s, more than %d days ago, and can no longer be reactivated; "+
		"delete the user and provision it again", c.Before.UserName, c.Before.DeactivatedAt.UTC().Format("2006-01-02"), s.ReactivationWindowDays)
}

// seats: a change that takes a seat needs a free one (kintone,
// Smartsheet, monday).
func seats(s Settings, c Change) *Violation {
	if s.Seats == 0 || !TakesSeat(s, c) || c.Facts.SeatsUsed < s.Seats {
		return nil
	}
	name := c.After.UserName
	what := "created"
	switch c.Action {
	case Update:
		what = "reactivated"
	case Restore:
		what = "restored"
	}
	return refuse(RuleSeats, "all %d seats of this tenant are taken, so %s cannot be %s; free a seat (deactivate or delete a user) or raise the seat count",
		s.Seats, name, what)
}
