package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Fold returns the case-folded key of a caseExact=false string. Both backends
// store and compare these keys, so case-insensitive matching is done once,
// in Go, and agrees across databases.
func Fold(s string) string {
	return strings.ToLower(s)
}

// ErasedKey is the userName key an erased tombstone keeps: a SHA-256 of the
// folded userName, so that a reserved userName can still be recognised
// without the tombstone holding the name itself.
func ErasedKey(userName string) string {
	sum := sha256.Sum256([]byte(Fold(userName)))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// FoldKeys returns the distinct non-empty Fold of values, in their first
// order: the keys a batch look-up probes (the one-at-a-time look-ups never
// match "").
func FoldKeys(values []string) []string {
	out := make([]string, 0, len(values))
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		k := Fold(v)
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}
