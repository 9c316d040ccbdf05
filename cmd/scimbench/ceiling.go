package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/scimd/scimd/internal/dbopen"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	_ "github.com/lib/pq"  // database/sql driver "postgres" for the SQL ceilings
	_ "modernc.org/sqlite" // database/sql driver "sqlite" for the SQL ceilings

	"github.com/scimd/scimd/store"
)

// nothingBody is what the do-nothing server answers to every request: a
// small ListResponse with one short resource.
var nothingBody = []byte(`{"schemas":["` + urnList + `"],"totalResults":1,"itemsPerPage":1,"startIndex":1,` +
	`"Resources":[{"id":"01900000-0000-7000-8000-000000000000","userName":"nobody@example.com","active":true}]}`)

// nothingServer is the HTTP ceiling: net/http on loopback reading each
// request whole and answering nothingBody, doing no other work.
type nothingServer struct {
	srv *http.Server
	url string
}

func startNothing() (*nothingServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = w.Write(nothingBody)
	})
	s := &nothingServer{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, url: "http://" + ln.Addr().String() + "/scim/v2"}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *nothingServer) close() { _ = s.srv.Close() }

// sqlCeiling runs the statements the SCIM operations boil down to,
// through database/sql on the same database, bypassing scimd entirely.
// On SQLite it mirrors the store's connections: one writer, readers in a
// pool (here one per worker), WAL, synchronous=NORMAL.
type sqlCeiling struct {
	kind string
	r, w *sql.DB
}

func openSQLCeiling(ctx context.Context, t dbopen.Target, conc int) (*sqlCeiling, error) {
	c := &sqlCeiling{kind: t.Kind}
	switch t.Kind {
	case dbopen.SQLite:
		dsn := "file:" + (&url.URL{Path: t.Path}).EscapedPath() +
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
			"&_pragma=synchronous(NORMAL)&_pragma=secure_delete(1)"
		w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
		if err != nil {
			return nil, err
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
		if err != nil {
			w.Close()
			return nil, err
		}
		r.SetMaxOpenConns(conc)
		r.SetMaxIdleConns(conc)
		c.r, c.w = r, w
	case dbopen.Postgres:
		db, err := sql.Open("postgres", t.URL)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(conc)
		db.SetMaxIdleConns(conc)
		c.r, c.w = db, db
	default:
		return nil, fmt.Errorf("no SQL ceiling for %q", t.Kind)
	}
	if err := errors.Join(c.r.PingContext(ctx), c.w.PingContext(ctx)); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *sqlCeiling) close() {
	if c.r != c.w {
		c.r.Close()
	}
	c.w.Close()
}

// ph numbers placeholders for PostgreSQL ($1, $2, …) and leaves SQLite's ?.
func (c *sqlCeiling) ph(q string) string {
	if c.kind != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// timeArg is a timestamp as the schema stores it: unix microseconds on
// SQLite, timestamptz on PostgreSQL.
func (c *sqlCeiling) timeArg(t time.Time) any {
	if c.kind == "postgres" {
		return t
	}
	return t.UnixMicro()
}

func (c *sqlCeiling) boolArg(b bool) any {
	if c.kind == "postgres" {
		return b
	}
	if b {
		return 1
	}
	return 0
}

// lookup is the indexed select a userName filter needs: the user row by
// its folded userName (users_user_name_key), with every column scimd
// reads.
func (c *sqlCeiling) lookup(ctx context.Context, tenantID, userName string) error {
	rows, err := c.r.QueryContext(ctx, c.ph(`SELECT tenant_id, id, user_name, external_id, active, display_name,
		given_name, family_name, role, state, deactivated_at, erased, password_hash, doc, version, created, modified
		FROM users WHERE tenant_id = ? AND user_name_key = ? AND state <> 'deleted'`), tenantID, store.Fold(userName))
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		vals := make([]any, 17)
		ptrs := make([]any, 17)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("sql lookup %s: %d rows", userName, n)
	}
	return nil
}

// insert writes one users row in its own transaction, as CreateUser
// writes it.
func (c *sqlCeiling) insert(ctx context.Context, u *store.User) error {
	_, err := c.w.ExecContext(ctx, c.ph(`INSERT INTO users (tenant_id, id, user_name, user_name_key, external_id,
		active, display_name, display_name_key, given_name, given_name_key, family_name, family_name_key,
		role, state, deactivated_at, password_hash, doc, version, created, modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, 1, ?, ?)`),
		u.TenantID, u.ID, u.UserName, store.Fold(u.UserName), u.ExternalID, c.boolArg(u.Active),
		u.DisplayName, store.Fold(u.DisplayName), u.GivenName, store.Fold(u.GivenName),
		u.FamilyName, store.Fold(u.FamilyName), u.Role, string(u.State), string(u.Doc),
		c.timeArg(u.Created), c.timeArg(u.Modified))
	return err
}

// setActive rewrites the columns a (de)activation changes, by primary key,
// in its own transaction.
func (c *sqlCeiling) setActive(ctx context.Context, tenantID, id string, active bool, now time.Time) error {
	state, deact := string(store.StateActive), any(nil)
	if !active {
		state, deact = string(store.StateInactive), c.timeArg(now)
	}
	res, err := c.w.ExecContext(ctx, c.ph(`UPDATE users SET active = ?, state = ?, deactivated_at = ?,
		version = version + 1, modified = ? WHERE tenant_id = ? AND id = ? AND state <> 'deleted'`),
		c.boolArg(active), state, deact, c.timeArg(now), tenantID, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("sql update %s: %d rows (%v)", id, n, err)
	}
	return nil
}

// removeInserted deletes the rows the insert ceiling wrote (their
// userNames start with prefix), so they do not stay in the tenant.
func (c *sqlCeiling) removeInserted(ctx context.Context, tenantID, prefix string) (int64, error) {
	res, err := c.w.ExecContext(ctx, c.ph(`DELETE FROM users WHERE tenant_id = ? AND user_name_key LIKE ?`),
		tenantID, prefix+"%")
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ceilingUser is the row the insert ceiling writes: the document of a
// created user under a userName only this run uses.
func ceilingUser(tenantID, tag string, seq int64, now time.Time) store.User {
	p := newProfile(tag, seq)
	p.userName = fmt.Sprintf("sqlceiling.%s.%d@example.com", tag, seq)
	p.email = p.userName
	return p.storeUser(tenantID, now)
}

// Maintenance statements the seeder runs on PostgreSQL.
const (
	// vacuumAnalyze, after a bulk load, does now what autovacuum would do
	// a little later, in the middle of a phase.
	vacuumAnalyze = "VACUUM ANALYZE"
	// analyzeSeeded refreshes the statistics of the tables a seeding run
	// grows. Plans a connection keeps (foreign-key checks, prepared
	// statements) are made from the statistics of their time; a server
	// without autovacuum would keep planning a table of a million rows as
	// an empty one, and a check that scans it makes every insert slower
	// than the last. ANALYZE makes those plans be made again.
	analyzeSeeded = "ANALYZE users, user_emails, groups, group_members"
)

// maintain runs one maintenance statement on the PostgreSQL database at u
// over a connection of its own (VACUUM cannot run in a transaction).
func maintain(ctx context.Context, u, stmt string) error {
	db, err := sql.Open("postgres", u)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s while seeding: %w", stmt, err)
	}
	return nil
}
