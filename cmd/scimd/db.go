package main

import (
	"context"

	"github.com/scimd/scimd/internal/dbopen"
)

// database is a store that can migrate itself.
type database = dbopen.Database

// openDatabase opens the database a URL names (dbopen.Parse lists the
// forms); it does not migrate.
func openDatabase(ctx context.Context, url string) (database, error) {
	t, err := dbopen.Parse(url)
	if err != nil {
		return nil, err
	}
	return dbopen.Open(ctx, t)
}
