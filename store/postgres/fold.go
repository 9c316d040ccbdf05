package postgres

import (
	"strings"
	"unicode"
)

// Case folding in SQL that agrees with store.Fold (strings.ToLower, which
// is unicode.ToLower rune by rune) whatever the database's locale: lower()
// under the "C" collation folds exactly the ASCII letters, and translate()
// maps the other runes unicode.ToLower changes to what it changes them to.
// The tables come from the running binary's Unicode tables.
//
// PostgreSQL's translate() looks every rune of its argument up in its map
// one entry after the other, so the full map (about 1,400 runes) costs
// some 7 µs per rune. A comparison with a folded value v only needs the
// runes that fold to a rune of v: every rune of Fold(v) is a fixed point
// of unicode.ToLower (checked in init), so a rune of the text that is left
// unmapped but should fold differs from every rune of v both before and
// after folding, and eq, co, sw and ew (and ne) answer the same.
var (
	// foldFrom and foldTo are the full map, for the ordering operators.
	foldFrom, foldTo string
	// lowerOf maps a rune to the runes outside ASCII that fold to it.
	lowerOf = map[rune][]rune{}
)

func init() {
	var from, to strings.Builder
	for r := rune(0); r <= unicode.MaxRune; r++ {
		l := unicode.ToLower(r)
		if unicode.ToLower(l) != l {
			panic("postgres: unicode.ToLower is not idempotent")
		}
		if l != r && r >= 0x80 {
			from.WriteRune(r)
			to.WriteRune(l)
			lowerOf[l] = append(lowerOf[l], r)
		}
	}
	foldFrom, foldTo = from.String(), to.String()
}

// foldMap returns the translate() map for comparing folded text with v
// (already folded): the runes outside ASCII that fold to a rune of v, and
// their folded forms; "" when there are none.
func foldMap(v string) (from, to string) {
	var f, t strings.Builder
	seen := map[rune]bool{}
	for _, l := range v {
		if seen[l] {
			continue
		}
		seen[l] = true
		for _, r := range lowerOf[l] {
			f.WriteRune(r)
			t.WriteRune(l)
		}
	}
	return f.String(), t.String()
}
