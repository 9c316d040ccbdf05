package scim

import (
	"testing"

	"github.com/scimd/scimd/schemas"
)

// TestFilterUnquotedValues: in lenient mode bare comparison values are
// quoted (and counted); strict mode refuses them; valid filters are not
// rewritten.
func TestFilterUnquotedValues(t *testing.T) {
	for _, tc := range []struct {
		rt     *schemas.ResourceType
		in     string
		want   string // the filter text after quoting
		counts int
	}{
		{schemas.User, `externalId eq jyoung`, `externalId eq "jyoung"`, 1},
		{schemas.User, `externalId eq "jyoung"`, `externalId eq "jyoung"`, 0},
		{schemas.User, `userName sw O`, `userName sw "O"`, 1},
		{schemas.User, `name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
			`name.FamilyName eq "Employee" and (emails.Value co "example.com" or emails.Value co "example.org")`, 3},
		{schemas.User, `meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, `meta.Created gt "2015-10-10T14:38:21.8617979-07:00"`, 1},
		{schemas.User, `active eq True`, `active eq true`, 1},
		{schemas.User, `active eq true and userName pr`, `active eq true and userName pr`, 0},
		{schemas.User, `externalId eq 12345`, `externalId eq "12345"`, 1},
		{schemas.User, `userName eq "a b" and displayName ne x`, `userName eq "a b" and displayName ne "x"`, 1},
		{schemas.User, `userName eq "say \"eq\" x" or title eq null`, `userName eq "say \"eq\" x" or title eq null`, 0},
		{schemas.User, `not (userName eq and)`, `not (userName eq "and")`, 1},
		{schemas.Group, `displayName eq Sales`, `displayName eq "Sales"`, 1},
	} {
		n := 0
		c := &filterCompiler{rt: tc.rt, o: schemas.Options{Lenient: true, Rewrote: func(string) { n++ }}}
		got := c.quoteBare(tc.in, func(name string) *schemas.Attr { a, _ := tc.rt.Lookup(name); return a })
		if got != tc.want || n != tc.counts {
			t.Errorf("%s:\n got  %s (%d rewrites)\n want %s (%d)", tc.in, got, n, tc.want, tc.counts)
		}
	}

	lenient := schemas.Options{Lenient: true}
	for _, f := range []string{
		`externalId eq jyoung`,
		`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
		`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`,
		`emails[type eq work].value eq x@example.com`,
		`emails[type eq work and primary eq True]`,
		`externalId eq 00123`,
	} {
		if _, err := parseFilter(schemas.User, f, lenient); err != nil {
			t.Errorf("lenient %s: %v", f, err)
		}
		if _, err := parseFilter(schemas.User, f, schemas.Options{}); err == nil {
			t.Errorf("strict %s: accepted", f)
		}
	}
	// null and quoted booleans.
	for _, f := range []string{`displayName eq null`, `emails.value ne null`, `emails[value eq null]`, `externalId eq null or userName eq "x"`} {
		if _, err := parseFilter(schemas.User, f, schemas.Options{}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := parseFilter(schemas.User, `active eq "true"`, lenient); err != nil {
		t.Errorf("lenient quoted boolean: %v", err)
	}
	for _, f := range []string{`active eq "true"`, `displayName gt null`, `displayName co null`} {
		if _, err := parseFilter(schemas.User, f, schemas.Options{}); err == nil {
			t.Errorf("strict %s: accepted", f)
		}
	}
	// Still refused leniently: a value that is not one, a bad date-time.
	for _, f := range []string{`userName eq`, `meta.created gt yesterday`, `active eq maybe`, `userName eq a b`} {
		if _, err := parseFilter(schemas.User, f, lenient); err == nil {
			t.Errorf("lenient %s: accepted", f)
		}
	}
}
