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
