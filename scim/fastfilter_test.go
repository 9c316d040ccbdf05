package scim

import (
	"reflect"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

// quickCases are filter texts of the shape quickCompare takes and of the
// shapes next to it that it must leave to the parser.
var quickCases = []string{
	`userName eq "bjensen@example.com"`,
	`userName EQ "x"`,
	`externalId eq "00u1abcd"`,
	`name.givenName sw "Bar bara"`,
	`emails.value co "@example.com"`,
	`vpx0.value eq "a"`,
	`userName ne ""`,
	`userName gt "m"`, `userName ge "m"`, `userName lt "m"`, `userName le "m"`, `userName ew "m"`,
	`displayName eq "Ünïcødé 名前"`,
	`x-1_a eq "v"`,
	// Left to the parser.
	`userName eq "a\"b"`,
	`userName eq "a\\b"`,
	`userName eq "tab	here"`,
	`userName  eq "x"`,
	`userName eq  "x"`,
	`userName eq "x" `,
	` userName eq "x"`,
	`userName eq "x" and active eq true`,
	`userName eq "a" or userName eq "b"`,
	`userName pr`,
	`active eq true`,
	`meta.lastModified gt "2026-01-01T00:00:00Z"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`,
	`emails[type eq "work"]`,
	`1userName eq "x"`,
	`user.name.x eq "x"`,
	`userName xx "x"`,
	`userName eq "x`,
	`userName eq x"`,
	`userName eq "a"b"`,
	`not (userName eq "x")`,
	`userName eq ""x""`,
	`.userName eq "x"`,
	`userName. eq "x"`,
}

func TestQuickCompareMatchesParser(t *testing.T) {
	took := 0
	for _, text := range quickCases {
		checkQuick(t, text)
		if _, ok := quickCompare(text); ok {
			took++
		}
	}
	if took < 14 {
		t.Errorf("quickCompare took %d of the cases, want the 14 plain comparisons", took)
	}
}

// checkQuick fails the test when quickCompare takes text and the parser
// does not give the same expression for it.
func checkQuick(t *testing.T, text string) {
	t.Helper()
	q, ok := quickCompare(text)
	if !ok {
		return
	}
	want, err := filter.ParseFilter([]byte(text))
	if err != nil {
		t.Fatalf("quickCompare took %q, which the parser refuses: %v", text, err)
	}
	if !reflect.DeepEqual(filter.Expression(q), want) {
		t.Fatalf("quickCompare(%q) = %#v, the parser says %#v", text, q, want)
	}
}

func FuzzQuickCompare(f *testing.F) {
	for _, c := range quickCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkQuick(t, text)
	})
}
