package store

import "strings"

// Fold returns the case-folded key of a caseExact=false string. Both backends
// store and compare these keys, so case-insensitive matching is done once,
// in Go, and agrees across databases.
func Fold(s string) string {
	return strings.ToLower(s)
}
