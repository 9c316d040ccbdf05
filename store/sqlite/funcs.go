package sqlite

import (
	"database/sql/driver"

	"github.com/google/uuid"
	sqlite "modernc.org/sqlite"

	"github.com/scimd/scimd/store"
)

// SQL functions of the store, registered once for every connection the
// driver opens. The two the filter compiler uses are deterministic, so
// SQLite may use them in indexes and factor repeated calls.
//
//   - scimd_fold(x) is store.Fold(x) for text (NULL for NULL, other values
//     unchanged), so that case-insensitive matching on values kept only in
//     the JSON document agrees exactly with the *_key columns computed in
//     Go, non-ASCII letters included (SQLite's own lower() folds ASCII only).
//   - scimd_timekey(x) is store.DocTimeKey(x): the sortable key of a
//     date-time stored in a document, NULL when x is not one.
//   - scimd_uuid7() is a new UUIDv7 string on every call (not
//     deterministic): the id of each delivery AppendEvent inserts with one
//     INSERT … SELECT, and the claim of each delivery ClaimDeliveries
//     leases.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("scimd_fold", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return store.Fold(v), nil
		case []byte:
			return store.Fold(string(v)), nil
		}
		return args[0], nil
	})
	sqlite.MustRegisterDeterministicScalarFunction("scimd_timekey", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		var s string
		switch v := args[0].(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		default:
			return nil, nil
		}
		if k, ok := store.DocTimeKey(s); ok {
			return k, nil
		}
		return nil, nil
	})
	sqlite.MustRegisterScalarFunction("scimd_uuid7", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		return id.String(), nil
	})
}
