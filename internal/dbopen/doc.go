// Package dbopen reads the database URLs scimd's commands accept and opens
// the store they name: "" (the SQLite file scimd.db in the working
// directory), sqlite:///abs/path.db, sqlite://rel/path.db, or postgres://…
// (postgresql:// too). It also says how many Go processors a server of
// each kind of database runs with (Target.Procs, SetProcs). cmd/scimd and
// cmd/scimbench share it.
package dbopen
