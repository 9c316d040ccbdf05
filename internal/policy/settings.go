package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultBlockedDomains are the consumer email domains whose users cannot be
// deactivated, only removed (Smartsheet's list).
var DefaultBlockedDomains = []string{
	"outlook.com", "gmail.com", "hotmail.com", "live.com", "yahoo.com", "aol.com",
	"verizon.net", "rocketmail.com", "comcast.net", "icloud.com", "charter.net",
	"web.de", "mail.com", "email.com", "usa.com", "duck.com", "mail.ru",
}

// What deleted_user_data may be.
const (
	DataErase  = "erase"
	DataRetain = "retain"
)

// MaxUserNameLength is the longest userName any tenant accepts.
const MaxUserNameLength = 256

// Settings are one tenant's lifecycle settings (LIFECYCLE.md). The JSON
// names are the setting names admins use with `scimd tenant policy --set`.
type Settings struct {
	// Preset names the preset the settings started from ("" for the
	// defaults); it is informational.
	Preset string `json:"preset,omitempty"`
	// Seats is the number of licensed seats; 0 means unlimited.
	Seats int `json:"seats"`
	// InactiveUsersConsumeSeats makes deactivated users keep their seat.
	InactiveUsersConsumeSeats bool `json:"inactive_users_consume_seats"`
	// DeactivationBlockedDomains lists the email domains whose users cannot
	// be deactivated, only removed.
	DeactivationBlockedDomains []string `json:"deactivation_blocked_domains"`
	// DeactivationAllowedDomains, when not empty, lists the only email
	// domains whose users may be deactivated.
	DeactivationAllowedDomains []string `json:"deactivation_allowed_domains"`
	// ProtectAdminsFromDeactivation forbids deactivating admins and owners.
	ProtectAdminsFromDeactivation bool `json:"protect_admins_from_deactivation"`
	// ReactivationWindowDays limits reactivation to N days after
	// deactivation; 0 means unlimited.
	ReactivationWindowDays int `json:"reactivation_window_days"`
	// DeletedUserData is "erase" or "retain": what a tombstone keeps.
	DeletedUserData string `json:"deleted_user_data"`
	// RequireDeactivationBeforeDelete refuses deleting an active user.
	RequireDeactivationBeforeDelete bool `json:"require_deactivation_before_delete"`
	// RemoveSharingOnDelete asks the host to revoke the deleted user's
	// sharing (a flag of the user.deleted event).
	RemoveSharingOnDelete bool `json:"remove_sharing_on_delete"`
	// UniqueEmails refuses an email another live user has.
	UniqueEmails bool `json:"unique_emails"`
	// ReserveDeletedUsernames refuses a userName a deleted user had.
	ReserveDeletedUsernames bool `json:"reserve_deleted_usernames"`
	// UsernamePattern is a regular expression every userName must match
	// (Go syntax, anchored by the admin); "" means any non-empty userName
	// of at most MaxUserNameLength characters.
	UsernamePattern string `json:"username_pattern"`
	// RestoreDeletedOnRecreate makes a create whose email matches a
	// retained tombstone restore that user instead.
	RestoreDeletedOnRecreate bool `json:"restore_deleted_on_recreate"`
	// BulkMaxOperations caps the operations of one bulk request.
	BulkMaxOperations int `json:"bulk_max_operations"`
	// Strict turns off the lenient reading of the request shapes Okta and
	// Entra send that bend RFC 7644 (for validator runs): each is a 400.
	Strict bool `json:"strict"`
	// DeprovisionBrake pauses deactivations and deletions once more of them
	// come within DeprovisionBrakeWindowMinutes than BrakeLimit allows,
	// until an operator resumes the tenant (brake.go).
	DeprovisionBrake bool `json:"deprovision_brake"`
	// DeprovisionBrakePercent is the share of the active users (1–100)
	// that may be deactivated or deleted within one window.
	DeprovisionBrakePercent int `json:"deprovision_brake_percent"`
	// DeprovisionBrakeWindowMinutes is the sliding window's length
	// (1–MaxBrakeWindowMinutes).
	DeprovisionBrakeWindowMinutes int `json:"deprovision_brake_window_minutes"`
	// DeprovisionBrakeMin is the floor of the limit, so that a small
	// tenant is not paused by a couple of changes.
	DeprovisionBrakeMin int `json:"deprovision_brake_min"`
}

// Defaults returns the settings a tenant has when it sets nothing.
func Defaults() Settings {
	return Settings{
		DeactivationBlockedDomains: slices.Clone(DefaultBlockedDomains),
		DeactivationAllowedDomains: []string{},
		DeletedUserData:            DataErase,
		RemoveSharingOnDelete:      true,
		UniqueEmails:               true,
		BulkMaxOperations:          1000,

		DeprovisionBrake:              true,
		DeprovisionBrakePercent:       10,
		DeprovisionBrakeWindowMinutes: 10,
		DeprovisionBrakeMin:           10,
	}
}

// Presets are the settings that reproduce one product's behaviour, as
// differences from Defaults.
var presets = map[string]func(*Settings){
	// kintone (cybozu.com): deactivated users free their seat, data and
	// memberships stay; no domain rules.
	"kintone": func(s *Settings) {
		s.DeactivationBlockedDomains = []string{}
	},
	// Smartsheet: consumer domains cannot be deactivated, reactivation
	// only within 7 days, sharing removed on delete.
	"smartsheet": func(s *Settings) {
		s.ReactivationWindowDays = 7
		s.RemoveSharingOnDelete = true
	},
	// Hubble: suspended users keep their seat, admins cannot be suspended,
	// deleted users keep their data, their userNames stay reserved and a
	// re-created user is restored; userNames are 5–23 letters, digits, _.
	"hubble": func(s *Settings) {
		s.DeactivationBlockedDomains = []string{}
		s.InactiveUsersConsumeSeats = true
		s.ProtectAdminsFromDeactivation = true
		s.DeletedUserData = DataRetain
		s.ReserveDeletedUsernames = true
		s.UsernamePattern = `^[A-Za-z0-9_]{5,23}$`
		s.RestoreDeletedOnRecreate = true
		s.RemoveSharingOnDelete = false
	},
	// monday.com: users are deactivated before they are deleted, personal
	// data is erased, batches are capped at 200.
	"monday": func(s *Settings) {
		s.DeactivationBlockedDomains = []string{}
		s.RequireDeactivationBeforeDelete = true
		s.BulkMaxOperations = 200
	},
}

// Presets returns the preset names, sorted.
func Presets() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Preset returns the defaults changed by the named preset. An unknown name
// is an error that lists the valid ones.
func Preset(name string) (Settings, error) {
	p, ok := presets[strings.ToLower(name)]
	if !ok {
		return Settings{}, fmt.Errorf("unknown preset %q; presets are %s", name, strings.Join(Presets(), ", "))
	}
	s := Defaults()
	p(&s)
	s.Preset = strings.ToLower(name)
	return s, nil
}

// Parse reads a tenant's stored policy document over the defaults. Keys the
// document does not set keep their default. A malformed document, an
// unknown key or an invalid value (see Validate) is an error.
func Parse(doc []byte) (Settings, error) {
	s := Defaults()
	if len(bytes.TrimSpace(doc)) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("policy: reading settings: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Encode returns the settings as the JSON document tenants store.
func (s Settings) Encode() []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a struct of plain fields always marshals
	}
	return b
}

// Keys returns the setting names --set accepts, sorted.
func Keys() []string {
	keys := make([]string, 0, len(setters))
	for k := range setters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

type setter func(s *Settings, v string) error

func boolSetter(f func(*Settings) *bool) setter {
	return func(s *Settings, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*f(s) = b
		return nil
	}
}

func intSetter(f func(*Settings) *int) setter {
	return func(s *Settings, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*f(s) = n
		return nil
	}
}

func listSetter(f func(*Settings) *[]string) setter {
	return func(s *Settings, v string) error {
		list := []string{}
		for _, d := range strings.Split(v, ",") {
			if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
				list = append(list, d)
			}
		}
		*f(s) = list
		return nil
	}
}

var setters = map[string]setter{
	"seats":                              intSetter(func(s *Settings) *int { return &s.Seats }),
	"inactive_users_consume_seats":       boolSetter(func(s *Settings) *bool { return &s.InactiveUsersConsumeSeats }),
	"deactivation_blocked_domains":       listSetter(func(s *Settings) *[]string { return &s.DeactivationBlockedDomains }),
	"deactivation_allowed_domains":       listSetter(func(s *Settings) *[]string { return &s.DeactivationAllowedDomains }),
	"protect_admins_from_deactivation":   boolSetter(func(s *Settings) *bool { return &s.ProtectAdminsFromDeactivation }),
	"reactivation_window_days":           intSetter(func(s *Settings) *int { return &s.ReactivationWindowDays }),
	"require_deactivation_before_delete": boolSetter(func(s *Settings) *bool { return &s.RequireDeactivationBeforeDelete }),
	"remove_sharing_on_delete":           boolSetter(func(s *Settings) *bool { return &s.RemoveSharingOnDelete }),
	"unique_emails":                      boolSetter(func(s *Settings) *bool { return &s.UniqueEmails }),
	"reserve_deleted_usernames":          boolSetter(func(s *Settings) *bool { return &s.ReserveDeletedUsernames }),
	"restore_deleted_on_recreate":        boolSetter(func(s *Settings) *bool { return &s.RestoreDeletedOnRecreate }),
	"bulk_max_operations":                intSetter(func(s *Settings) *int { return &s.BulkMaxOperations }),
	"strict":                             boolSetter(func(s *Settings) *bool { return &s.Strict }),
	"deprovision_brake":                  boolSetter(func(s *Settings) *bool { return &s.DeprovisionBrake }),
	"deprovision_brake_percent":          intSetter(func(s *Settings) *int { return &s.DeprovisionBrakePercent }),
	"deprovision_brake_window_minutes":   intSetter(func(s *Settings) *int { return &s.DeprovisionBrakeWindowMinutes }),
	"deprovision_brake_min":              intSetter(func(s *Settings) *int { return &s.DeprovisionBrakeMin }),
	"deleted_user_data": func(s *Settings, v string) error {
		s.DeletedUserData = strings.ToLower(strings.TrimSpace(v))
		return nil
	},
	"username_pattern": func(s *Settings, v string) error {
		s.UsernamePattern = v
		return nil
	},
}

// Set changes one setting from its text form: "true"/"false", a whole
// number, a comma-separated list of domains ("" for none), or a string.
// An unknown key is an error that lists the valid keys; a value of the
// wrong form is an error that says what the key takes. Set does not
// validate the result as a whole; call Validate.
func (s *Settings) Set(key, value string) error {
	f, ok := setters[strings.ToLower(strings.TrimSpace(key))]
	if !ok {
		return fmt.Errorf("unknown setting %q; settings are %s", key, strings.Join(Keys(), ", "))
	}
	if err := f(s, value); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

var domainName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

// Validate checks every setting and returns an error naming the first bad
// one and the values it takes.
func (s Settings) Validate() error {
	switch {
	case s.Seats < 0:
		return fmt.Errorf("seats must be 0 (unlimited) or more, not %d", s.Seats)
	case s.ReactivationWindowDays < 0:
		return fmt.Errorf("reactivation_window_days must be 0 (unlimited) or more, not %d", s.ReactivationWindowDays)
	case s.DeletedUserData != DataErase && s.DeletedUserData != DataRetain:
		return fmt.Errorf("deleted_user_data must be %s or %s, not %q", DataErase, DataRetain, s.DeletedUserData)
	case s.BulkMaxOperations < 1 || s.BulkMaxOperations > 10000:
		return fmt.Errorf("bulk_max_operations must be between 1 and 10000, not %d", s.BulkMaxOperations)
	case s.RestoreDeletedOnRecreate && s.DeletedUserData != DataRetain:
		return fmt.Errorf("restore_deleted_on_recreate needs deleted_user_data=%s (erased users cannot be restored)", DataRetain)
	case len(s.UsernamePattern) > 1024:
		return fmt.Errorf("username_pattern must be at most 1024 characters")
	case s.DeprovisionBrakePercent < 1 || s.DeprovisionBrakePercent > 100:
		return fmt.Errorf("deprovision_brake_percent must be between 1 and 100, not %d", s.DeprovisionBrakePercent)
	case s.DeprovisionBrakeWindowMinutes < 1 || s.DeprovisionBrakeWindowMinutes > MaxBrakeWindowMinutes:
		return fmt.Errorf("deprovision_brake_window_minutes must be between 1 and %d, not %d", MaxBrakeWindowMinutes, s.DeprovisionBrakeWindowMinutes)
	case s.DeprovisionBrakeMin < 1 || s.DeprovisionBrakeMin > MaxBrakeMin:
		return fmt.Errorf("deprovision_brake_min must be between 1 and %d, not %d", MaxBrakeMin, s.DeprovisionBrakeMin)
	}
	if s.UsernamePattern != "" {
		if _, err := regexp.Compile(s.UsernamePattern); err != nil {
			return fmt.Errorf("username_pattern is not a valid regular expression: %v", err)
		}
	}
	for _, list := range []struct {
		key     string
		domains []string
	}{{"deactivation_blocked_domains", s.DeactivationBlockedDomains}, {"deactivation_allowed_domains", s.DeactivationAllowedDomains}} {
		for _, d := range list.domains {
			if !domainName.MatchString(d) {
				return fmt.Errorf("%s: %q is not a lower-case domain name like example.com", list.key, d)
			}
		}
	}
	return nil
}

// userNamePattern compiles UsernamePattern (validated before use; an
// invalid one matches nothing).
func (s Settings) userNameOK(name string) bool {
	if name == "" || len(name) > MaxUserNameLength {
		return false
	}
	if s.UsernamePattern == "" {
		return true
	}
	re, err := compile(s.UsernamePattern)
	return err == nil && re.MatchString(name)
}

// parsed remembers ParseShared's results by document (a few tenants'
// policies; bounded by maxParsed).
var parsed sync.Map // string → Settings

const maxParsed = 4096

var parsedCount atomic.Int64

// ParseShared is Parse for the hot path (every request reads its tenant's
// settings): a document read before returns the settings parsed then,
// without decoding and validating it again. The settings returned share
// their slices with other callers: read them, do not modify them (Parse
// returns a private copy). Errors are Parse's (a document that fails is
// not remembered).
func ParseShared(doc []byte) (Settings, error) {
	if v, ok := parsed.Load(string(doc)); ok {
		return v.(Settings), nil
	}
	s, err := Parse(doc)
	if err != nil {
		return Settings{}, err
	}
	if parsedCount.Load() < maxParsed {
		if _, loaded := parsed.LoadOrStore(string(doc), s); !loaded {
			parsedCount.Add(1)
		}
	}
	return s, nil
}
