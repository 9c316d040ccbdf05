//go:build !race

package storetest

// raceBuild reports whether the race detector is on.
const raceBuild = false
