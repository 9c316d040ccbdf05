package scim

import (
	"slices"
	"strings"
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

// TestFilterEveryAttribute filters over HTTP, on every backend, on
// attributes kept only in the document, derived by the server, in the
// Enterprise extension and in value filters, and checks the limits.
func TestFilterEveryAttribute(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		bj := h.req("POST", "/Users", `{"userName":"bjensen","name":{"givenName":"Barbara","middleName":"Zoë"},"title":"Tour Guide",
			"emails":[{"value":"bjensen@example.com","type":"work","primary":true,"display":"Babs"},{"value":"b@home.org","type":"home"}],
			"phoneNumbers":[{"value":"+1 555 0100","type":"mobile"}],
			"addresses":[{"type":"work","locality":"Hollywood"},{"type":"home","postalCode":"91608"}],
			"x509Certificates":[{"value":"TUlJQw=="}],
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"boss-1"}}}`).must(t, 201)
		id := gets(bj.Body, "id")
		other := gets(h.req("POST", "/Users", `{"userName":"İSTANBUL","nickName":"STRASSE","active":false}`).must(t, 201).Body, "id")
		g := h.req("POST", "/Groups", `{"displayName":"Sales","members":[{"value":"`+id+`"}]}`).must(t, 201)
		gid := gets(g.Body, "id")

		users := func(filter string) []string {
			t.Helper()
			r := h.req("GET", "/Users?filter="+q(filter), nil).must(t, 200)
			var ids []string
			list, _ := r.Body["Resources"].([]any)
			for _, x := range list {
				ids = append(ids, gets(x, "id"))
			}
			return ids
		}
		for _, tc := range []struct {
			filter string
			want   []string
		}{
			{`name.middleName eq "ZOË"`, []string{id}},
			{`title sw "tour"`, []string{id}},
			{`title ne "Tour Guide"`, []string{other}},
			{`not (title eq "Tour Guide")`, []string{other}},
			{`userName eq "istanbul"`, []string{other}},
			{`nickName eq "strasse"`, []string{other}},
			{`emails[type eq "work" and primary eq true]`, []string{id}},
			{`emails[display co "BAB"]`, []string{id}},
			{`emails[type eq "home"].value ew ".org"`, []string{id}},
			{`addresses[type eq "work" or postalCode pr]`, []string{id}},
			{`addresses[type eq "home" and locality pr]`, nil},
			{`addresses pr`, []string{id}},
			{`not (phoneNumbers pr)`, []string{other}},
			{`phoneNumbers.type eq "MOBILE"`, []string{id}},
			{`x509Certificates.value eq "TUlJQw=="`, []string{id}},
			{`x509Certificates.value eq "tuljqw=="`, nil},
			{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d"`, []string{id}},
			{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "BOSS-1"`, []string{id}},
			{`department pr`, []string{id}},
			{`roles[value eq "member" and primary eq true]`, []string{id, other}},
			{`groups[display eq "sales"]`, []string{id}},
			{`groups.value eq "` + gid + `"`, []string{id}},
			{`groups[$ref ew "/Groups/` + gid + `"]`, []string{id}},
			{`meta.location eq "` + strings.ToUpper(h.base) + `/USERS/` + strings.ToUpper(id) + `"`, []string{id}},
			{`meta.resourceType eq "User"`, []string{id, other}},
			{`meta.version eq "W/\"1\""`, []string{id, other}},
			{`active eq false and name pr`, nil},
			{`active eq false or name pr`, []string{id, other}},
		} {
			if got := users(tc.filter); !slices.Equal(sorted(got), sorted(tc.want)) {
				t.Errorf("%s: got %v, want %v", tc.filter, got, tc.want)
			}
		}
		r := h.req("GET", "/Groups?filter="+q(`members[display eq "BJENSEN" and type eq "User"] and members.$ref co "/Users/`+id+`"`), nil).must(t, 200)
		if r.Body["totalResults"] != 1.0 {
			t.Errorf("group members filter: %s", r.Raw)
		}
		for _, f := range []string{
			`password eq "x"`, `password pr`, `name eq "x"`, `addresses eq "x"`, `active gt true`, `active co true`,
			`meta.created co "2020"`, `meta.created gt 12`, `active eq 12`, `nickName eq "a\u0000b"`,
			strings.Repeat(`userName pr and `, MaxFilterComparisons) + `userName pr`,
			strings.Repeat(`not (`, MaxFilterDepth) + `userName pr` + strings.Repeat(`)`, MaxFilterDepth),
		} {
			if d := h.req("GET", "/Users?filter="+q(f), nil).scimError(t, 400, "invalidFilter"); d == "" {
				t.Errorf("%s: no detail", f)
			}
		}
		h.req("GET", "/Users?filter="+q(strings.Repeat(`not (`, MaxFilterDepth-1)+`userName pr`+strings.Repeat(`)`, MaxFilterDepth-1)), nil).must(t, 200)
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
