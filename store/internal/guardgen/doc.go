// Command guardgen writes store/guard_gen.go: one method of store.Guarded
// for every method of the store.Store interface, each bounding its call in
// time and classifying its error (see store/guard.go). Run it with
// "go generate ./store" after the interface changes; TestGuardCoversStore
// fails until then.
package main
