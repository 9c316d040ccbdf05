package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store"
)

// The batch contract (store/batch.go): BatchReader on conn (reached from
// Store through the reader pool and from tx inside transactions),
// BatchWriter on tx.
//
// Each read is one statement over the distinct folded keys of its input,
// bound as one JSON array and walked with json_each; every key is probed
// with the WHERE clause of the one-at-a-time method.

// keySet runs a query whose rows are one text column and returns them as a
// set; what names the query in errors.
func (c conn) keySet(ctx context.Context, what, query string, args ...any) (map[string]bool, error) {
	var keys []string
	if err := sqlx.SelectContext(ctx, c.q, &keys, query, args...); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

// LiveUserNames returns the folded userNames among userNames that a live
// user of the tenant holds (those CreateUser would refuse as a conflict),
// in one statement; "" is never among them. Errors are the driver's.
func (c conn) LiveUserNames(ctx context.Context, tenantID string, userNames []string) (map[string]bool, error) {
	keys := store.FoldKeys(userNames)
	if len(keys) == 0 {
		return map[string]bool{}, nil
	}
	return c.keySet(ctx, "live userNames", `SELECT j.value FROM json_each(?2) j
		WHERE EXISTS (SELECT 1 FROM users u
			WHERE u.tenant_id = ?1 AND u.user_name_key = j.value AND u.state <> 'deleted')`,
		tenantID, idsJSON(keys))
}

// LiveEmails returns the folded emails among emails that a live user of
// the tenant has (EmailTaken with no exception), in one statement; "" is
// never among them. Errors are the driver's.
func (c conn) LiveEmails(ctx context.Context, tenantID string, emails []string) (map[string]bool, error) {
	keys := store.FoldKeys(emails)
	if len(keys) == 0 {
		return map[string]bool{}, nil
	}
	return c.keySet(ctx, "live emails", `SELECT j.value FROM json_each(?2) j
		WHERE EXISTS (SELECT 1 FROM user_emails e JOIN users u ON u.tenant_id = e.tenant_id AND u.id = e.user_id
			WHERE e.tenant_id = ?1 AND e.value_key = j.value AND u.state <> 'deleted')`,
		tenantID, idsJSON(keys))
}

// ReservedUserNames returns the folded userNames among userNames that a
// tombstone of the tenant holds (UserNameReserved: a retained one by the
// folded userName, an erased one by its store.ErasedKey), in one
// statement; "" is never among them. Errors are the driver's (an input
// that cannot be encoded as JSON included).
func (c conn) ReservedUserNames(ctx context.Context, tenantID string, userNames []string) (map[string]bool, error) {
	keys := store.FoldKeys(userNames)
	if len(keys) == 0 {
		return map[string]bool{}, nil
	}
	// [[folded, erased key], …]: ErasedKey folds, so the folded name's
	// erased key is the name's.
	pairs := make([][2]string, len(keys))
	for i, k := range keys {
		pairs[i] = [2]string{k, store.ErasedKey(k)}
	}
	js, err := json.Marshal(pairs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reserved userNames: %w", err)
	}
	return c.keySet(ctx, "reserved userNames", `SELECT k.f FROM (
			SELECT j.value ->> 0 AS f, j.value ->> 1 AS h FROM json_each(?2) j) AS k
		WHERE EXISTS (SELECT 1 FROM users
			WHERE tenant_id = ?1 AND state = 'deleted' AND user_name_key IN (k.f, k.h)
			AND ((erased = 0 AND user_name_key = k.f) OR (erased = 1 AND user_name_key = k.h)))`,
		tenantID, string(js))
}

// RetainedEmails returns the folded emails among emails that a retained
// (not erased) tombstone of the tenant has (those FindRetainedByEmail
// finds a tombstone for), in one statement; "" is never among them.
// Errors are the driver's.
func (c conn) RetainedEmails(ctx context.Context, tenantID string, emails []string) (map[string]bool, error) {
	keys := store.FoldKeys(emails)
	if len(keys) == 0 {
		return map[string]bool{}, nil
	}
	return c.keySet(ctx, "retained emails", `SELECT j.value FROM json_each(?2) j
		WHERE EXISTS (SELECT 1 FROM users u
			WHERE u.tenant_id = ?1 AND u.state = 'deleted' AND u.erased = 0 AND u.id IN (
				SELECT e.user_id FROM user_emails e WHERE e.tenant_id = ?1 AND e.value_key = j.value))`,
		tenantID, idsJSON(keys))
}

// LiveUserNames implements store.BatchReader on the reader pool; errors
// are the driver's.
func (s *Store) LiveUserNames(ctx context.Context, tenantID string, userNames []string) (map[string]bool, error) {
	return s.rconn().LiveUserNames(ctx, tenantID, userNames)
}

// LiveEmails implements store.BatchReader on the reader pool; errors are
// the driver's.
func (s *Store) LiveEmails(ctx context.Context, tenantID string, emails []string) (map[string]bool, error) {
	return s.rconn().LiveEmails(ctx, tenantID, emails)
}

// ReservedUserNames implements store.BatchReader on the reader pool;
// errors are the driver's.
func (s *Store) ReservedUserNames(ctx context.Context, tenantID string, userNames []string) (map[string]bool, error) {
	return s.rconn().ReservedUserNames(ctx, tenantID, userNames)
}

// RetainedEmails implements store.BatchReader on the reader pool; errors
// are the driver's.
func (s *Store) RetainedEmails(ctx context.Context, tenantID string, emails []string) (map[string]bool, error) {
	return s.rconn().RetainedEmails(ctx, tenantID, emails)
}

// CreateUsers inserts every user of us and its emails with the prepared
// statements of CreateUser, one user after the other on the writer
// connection (SQLite runs in process: a statement costs no round trip),
// and sets each Version to 1 once all succeeded; the insert triggers keep
// the tenant counts row by row. A userName a live user holds, or that two
// users of us share once folded, is a *store.ConflictError for
// "userName"; a second live owner one for "roles"; a taken id one for
// "id"; other errors are the driver's. After an error the transaction
// must be rolled back, and no Version has changed.
func (t *tx) CreateUsers(ctx context.Context, us []*store.User) error {
	versions := make([]int64, len(us))
	for i, u := range us {
		versions[i] = u.Version
	}
	for _, u := range us {
		if err := t.CreateUser(ctx, u); err != nil {
			for i, v := range versions {
				us[i].Version = v
			}
			return err
		}
	}
	return nil
}

// AppendAll appends the entries, then the events, with the statements of
// AppendAudit and AppendEvent one by one: each event takes the next
// position of the commit order (MAX(seq) + 1, so they follow each other in
// the order given) and a pending delivery, due at its time, for every
// webhook of its tenant. A taken id is a *store.ConflictError for "id";
// other errors are the driver's.
func (t *tx) AppendAll(ctx context.Context, entries []store.AuditEntry, events []store.Event) error {
	for i := range entries {
		if err := t.AppendAudit(ctx, &entries[i]); err != nil {
			return err
		}
	}
	for i := range events {
		if err := t.AppendEvent(ctx, &events[i]); err != nil {
			return err
		}
	}
	return nil
}
