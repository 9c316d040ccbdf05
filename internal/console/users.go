package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// Paging and batch limits of the users screen.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
	// MaxBatch is the most users one batch change takes (monday.com's
	// limit).
	MaxBatch = 200
	// MaxSearchLength caps the search text; MinSearchLength is the shortest
	// search run: a prefix of one character matches a large share of a big
	// directory, and the search's cost grows with its matches.
	MaxSearchLength = 200
	MinSearchLength = 2
)

// roles an admin can give in the console; ownership moves only with
// `scimd tenant owner`.
var assignableRoles = []string{store.RoleAdmin, store.RoleMember, store.RoleViewer, store.RoleGuest}

var allRoles = []string{store.RoleOwner, store.RoleAdmin, store.RoleMember, store.RoleViewer, store.RoleGuest}

// sorts are the orders of the users screen: the query's SortBy and
// whether it runs descending by default.
var sorts = map[string]struct {
	by   string
	desc bool
}{
	"name":         {"displayName", false},
	"userName":     {"userName", false},
	"lastModified": {"meta.lastModified", true},
	"lastActive":   {store.SortLastActive, true},
}

var sortNames = []string{"name", "userName", "lastModified", "lastActive"}

// listView is a parsed /admin/users URL.
type listView struct {
	Q      string
	Status string // "", "active", "inactive", "deleted"
	Role   string
	Sort   string
	Order  string // "asc" or "desc"
	Count  int
	After  string
	Before string
}

func parseView(r *http.Request) (listView, error) {
	q := r.URL.Query()
	v := listView{Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Role: q.Get("role"),
		Sort: q.Get("sort"), Order: q.Get("order"), After: q.Get("after"), Before: q.Get("before"), Count: DefaultPageSize}
	if n := len([]rune(v.Q)); n > MaxSearchLength || n > 0 && n < MinSearchLength {
		return v, errSearchLength
	}
	switch v.Status {
	case "", "active", "inactive", "deleted":
	default:
		return v, fmt.Errorf("unknown status %q", v.Status)
	}
	if v.Role != "" && !slices.Contains(allRoles, v.Role) {
		return v, fmt.Errorf("unknown role %q", v.Role)
	}
	if v.Sort == "" {
		v.Sort = "name"
	}
	if _, ok := sorts[v.Sort]; !ok {
		return v, fmt.Errorf("unknown sort %q", v.Sort)
	}
	if v.Order == "" {
		v.Order = "asc"
		if sorts[v.Sort].desc {
			v.Order = "desc"
		}
	}
	if v.Order != "asc" && v.Order != "desc" {
		return v, fmt.Errorf("unknown order %q", v.Order)
	}
	if c := q.Get("count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > MaxPageSize {
			return v, fmt.Errorf("count must be 1 to %d", MaxPageSize)
		}
		v.Count = n
	}
	return v, nil
}

// url is the view's shareable URL with its paging replaced.
func (v listView) url(after, before string) string {
	return withQuery(Prefix+"/users",
		"q", v.Q, "status", v.Status, "role", v.Role, "sort", v.Sort, "order", v.Order,
		"count", countParam(v.Count), "after", after, "before", before)
}

func countParam(n int) string {
	if n == DefaultPageSize {
		return ""
	}
	return strconv.Itoa(n)
}

// SortURL is the URL of the same view sorted by name, with its default
// order (or the other order when it is already sorted that way).
func (v listView) SortURL(name string) string {
	w := v
	w.Sort, w.Order = name, ""
	if v.Sort == name {
		w.Order = map[string]string{"asc": "desc", "desc": "asc"}[v.Order]
	}
	return w.url("", "")
}

// query is the store query of a view. The search is a prefix match,
// case-insensitive, of the userName, the display, given or family name or
// an email address: the store reads the matches from those columns'
// indexes and sorts them, so its cost grows with the number of matches,
// not with the directory (a search that matches a few users of a million
// takes milliseconds; one that matches 50 000 of them about a second on
// a small machine, docs/console.md). A page that walks the sort's index
// and tests each user instead is as fast for a broad search but, when the
// matches sort together (a name prefix sorted by name), reads most of the
// directory before it finds them.
func (v listView) query() (store.Query, error) {
	var terms store.And
	if v.Q != "" {
		sw := func(attr string) store.Cmp {
			a, _ := schemas.User.Lookup(attr)
			return store.Cmp{Attr: attr, Op: store.OpSw, Value: v.Q, CaseExact: a != nil && a.CaseExact}
		}
		terms = append(terms, store.Or{
			sw("userName"), sw("displayName"), sw("name.givenName"), sw("name.familyName"),
			store.ValuePath{Attr: "emails", Filter: sw("emails.value")},
		})
	}
	switch v.Status {
	case "active":
		terms = append(terms, store.Cmp{Attr: "active", Op: store.OpEq, Value: true})
	case "inactive":
		terms = append(terms, store.Cmp{Attr: "active", Op: store.OpEq, Value: false})
	}
	if v.Role != "" {
		terms = append(terms, store.ValuePath{Attr: "roles", Filter: store.Cmp{Attr: "roles.value", Op: store.OpEq, Value: v.Role}})
	}
	s := sorts[v.Sort]
	q := store.Query{SortBy: s.by, Descending: v.Order == "desc", Limit: v.Count, Deleted: v.Status == "deleted", Edges: true}
	switch len(terms) {
	case 0:
	case 1:
		q.Filter = terms[0]
	default:
		q.Filter = terms
	}
	// Counting every match of a filter over a million users costs more
	// than the page; the unfiltered live count is kept by the store.
	q.NoTotal = q.Filter != nil || q.Deleted
	var err error
	switch {
	case v.After != "":
		q.After, err = decodePosition(v.After)
	case v.Before != "":
		q.Before, err = decodePosition(v.Before)
	}
	return q, err
}

func encodePosition(p store.Position) string {
	b, _ := json.Marshal(store.Typed(p))
	return base64.RawURLEncoding.EncodeToString(b)
}

var (
	errBadPosition  = errors.New("malformed page position")
	errSearchLength = fmt.Errorf("search %d to %d characters", MinSearchLength, MaxSearchLength)
)

func decodePosition(s string) (*store.Position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 2048 {
		return nil, errBadPosition
	}
	var tp store.TypedPosition
	if json.Unmarshal(b, &tp) != nil || tp.ID == "" {
		return nil, errBadPosition
	}
	p := tp.Position()
	return &p, nil
}

// userRow is one row of the users table.
type userRow struct {
	ID, Name, UserName, Email, Role, Status string
	LastActive, Modified, DeactivatedAt     *time.Time
	Self                                    bool
}

func rowOf(u *store.User, selfID string) userRow {
	row := userRow{ID: u.ID, Name: displayName(u), UserName: u.UserName, Role: u.Role, Status: string(u.State),
		LastActive: u.LastActive, DeactivatedAt: u.DeactivatedAt, Self: u.ID == selfID}
	m := u.Modified
	row.Modified = &m
	row.Email = primaryEmail(u)
	return row
}

// displayName is the name the screens show: displayName, else the given
// and family names, else the userName.
func displayName(u *store.User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if n := strings.TrimSpace(u.GivenName + " " + u.FamilyName); n != "" {
		return n
	}
	return u.UserName
}

func primaryEmail(u *store.User) string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

type usersData struct {
	View     listView
	Rows     []userRow
	Total    int // −1 when not counted
	PrevURL  string
	NextURL  string
	Roles    []string
	Assign   []string
	Sorts    []string
	MaxBatch int
	Results  []batchResult
}

// users is the users screen: search, filters, sort and keyset paging.
func (c *console) users(w http.ResponseWriter, r *http.Request) {
	c.renderUsers(w, r, http.StatusOK, nil, nil)
}

func (c *console) renderUsers(w http.ResponseWriter, r *http.Request, status int, results []batchResult, pr *problem) {
	s := sessionOf(r.Context())
	t := translator(language(r))
	d := usersData{Roles: allRoles, Assign: assignableRoles, Sorts: sortNames, MaxBatch: MaxBatch, Results: results, Total: -1}
	v, err := parseView(r)
	d.View = v
	var q store.Query
	if err == nil {
		q, err = v.query()
	}
	if err != nil {
		detail := err.Error()
		if errors.Is(err, errSearchLength) {
			detail = t("users.searchLength", MinSearchLength, MaxSearchLength)
		}
		c.render(w, r, http.StatusBadRequest, "users", page{Data: d, Problem: &problem{Title: t("users.badView"), Detail: detail}})
		return
	}
	pg, err := c.cfg.Store.ListUsers(r.Context(), s.tenant.ID, q)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	d.Total = pg.Total
	for i := range pg.Users {
		d.Rows = append(d.Rows, rowOf(&pg.Users[i], s.user.ID))
	}
	if n := len(pg.Keys); n > 0 {
		if pg.HasPrev {
			d.PrevURL = v.url("", encodePosition(pg.Keys[0]))
		}
		if pg.HasNext {
			d.NextURL = v.url(encodePosition(pg.Keys[n-1]), "")
		}
	} else if v.After != "" || v.Before != "" {
		d.PrevURL = v.url("", "")
	}
	c.render(w, r, status, "users", page{Data: d, Problem: pr})
}

type userData struct {
	User     userRow
	Profile  [][2]string
	Groups   []store.GroupRef
	Deleted  bool
	Erased   bool
	Created  *time.Time
	Timeline []timelineRow
	Assign   []string
	Done     string
}

// user is one user's page: profile, role, groups, status and the
// provisioning timeline of the audit trail.
func (c *console) user(w http.ResponseWriter, r *http.Request) {
	c.renderUser(w, r, http.StatusOK, nil)
}

// TimelineLength is how many audit entries a user's page shows.
const TimelineLength = 100

func (c *console) renderUser(w http.ResponseWriter, r *http.Request, status int, pr *problem) {
	s := sessionOf(r.Context())
	id := chi.URLParam(r, "id")
	ctx := r.Context()
	d := userData{Assign: assignableRoles, Done: r.URL.Query().Get("done")}
	u, err := c.cfg.Store.GetUser(ctx, s.tenant.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		u, err = c.cfg.Store.GetTombstone(ctx, s.tenant.ID, id)
		d.Deleted = err == nil
	}
	if c.readFailed(w, r, err) {
		return
	}
	d.User, d.Erased, d.Created = rowOf(&u, s.user.ID), u.Erased, &u.Created
	d.Profile = profile(&u)
	if !d.Deleted {
		gm, err := c.cfg.Store.UserGroups(ctx, s.tenant.ID, []string{u.ID})
		if err != nil {
			c.internal(w, r, err)
			return
		}
		d.Groups = gm[u.ID]
	}
	entries, err := c.cfg.Store.QueryAudit(ctx, store.AuditQuery{TenantID: s.tenant.ID, ResourceID: u.ID, Limit: TimelineLength})
	if err != nil {
		c.internal(w, r, err)
		return
	}
	if d.Timeline, err = c.timeline(r, entries); err != nil {
		c.internal(w, r, err)
		return
	}
	c.render(w, r, status, "user", page{Data: d, Problem: pr, Title: d.User.Name})
}

// profile lists the attributes of the stored document a person looks
// for, in a fixed order.
func profile(u *store.User) [][2]string {
	var doc map[string]any
	_ = json.Unmarshal(u.Doc, &doc)
	str := func(m map[string]any, k string) string {
		s, _ := m[k].(string)
		return s
	}
	name, _ := doc["name"].(map[string]any)
	ent, _ := doc[schemas.EnterpriseURN].(map[string]any)
	var emails []string
	for _, e := range u.Emails {
		v := e.Value
		if e.Type != "" {
			v += " (" + e.Type + ")"
		}
		emails = append(emails, v)
	}
	rows := [][2]string{
		{"userName", u.UserName},
		{"displayName", u.DisplayName},
		{"name.givenName", u.GivenName},
		{"name.familyName", u.FamilyName},
		{"name.formatted", str(name, "formatted")},
		{"emails", strings.Join(emails, ", ")},
		{"externalId", u.ExternalID},
		{"title", str(doc, "title")},
		{"userType", str(doc, "userType")},
		{"preferredLanguage", str(doc, "preferredLanguage")},
		{"department", str(ent, "department")},
		{"employeeNumber", str(ent, "employeeNumber")},
		{"id", u.ID},
	}
	out := rows[:0]
	for _, r := range rows {
		if r[1] != "" {
			out = append(out, r)
		}
	}
	return out
}

type deleteData struct {
	User     userRow
	Settings policy.Settings
	Active   bool
}

// confirmDelete says what deletion does under this tenant's policy before
// the admin confirms it.
func (c *console) confirmDelete(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r.Context())
	u, err := c.cfg.Store.GetUser(r.Context(), s.tenant.ID, chi.URLParam(r, "id"))
	if c.readFailed(w, r, err) {
		return
	}
	settings, err := c.cfg.Provision.Settings(r.Context(), c.cfg.Store, s.tenant.ID)
	if err != nil {
		c.internal(w, r, err)
		return
	}
	row := rowOf(&u, s.user.ID)
	c.render(w, r, http.StatusOK, "delete", page{Data: deleteData{User: row, Settings: settings, Active: u.Active}})
}

// userAction runs one action on one user through the provision service.
func (c *console) userAction(w http.ResponseWriter, r *http.Request) {
	id, action := chi.URLParam(r, "id"), chi.URLParam(r, "action")
	t := translator(language(r))
	var err error
	switch action {
	case "deactivate", "reactivate":
		_, err = c.setActive(r, id, action == "reactivate")
	case "role":
		role := r.PostFormValue("role")
		if !slices.Contains(assignableRoles, role) {
			c.renderUser(w, r, http.StatusBadRequest, &problem{Title: t("problem.invalid"), Detail: t("problem.role", role)})
			return
		}
		_, err = c.setRole(r, id, role)
	case "delete":
		if r.PostFormValue("confirm") != "yes" {
			c.renderUser(w, r, http.StatusBadRequest, &problem{Title: t("problem.invalid"), Detail: t("problem.confirm")})
			return
		}
		err = c.cfg.Provision.DeleteUser(r.Context(), c.actor(r), id, nil)
	default:
		c.fail(w, r, http.StatusNotFound, "error.notFound", nil)
		return
	}
	if err != nil {
		pr, status, ok := outcome(t, err)
		if !ok {
			c.internal(w, r, err)
			return
		}
		c.renderUser(w, r, status, pr)
		return
	}
	http.Redirect(w, r, Prefix+"/users/"+id+"?done="+action, http.StatusSeeOther)
}

// setActive and setRole change one user and return it as stored.
func (c *console) setActive(r *http.Request, id string, active bool) (store.User, error) {
	op := "user.deactivate"
	if active {
		op = "user.reactivate"
	}
	return c.cfg.Provision.UpdateUser(r.Context(), c.actor(r), id, nil, op, func(u *store.User) error {
		u.Active = active
		return nil
	})
}

func (c *console) setRole(r *http.Request, id, role string) (store.User, error) {
	return c.cfg.Provision.UpdateUser(r.Context(), c.actor(r), id, nil, "user.role", func(u *store.User) error {
		u.Role = role
		return nil
	})
}

// batchResult is the outcome of one user of a batch change.
type batchResult struct {
	ID, Name string
	OK       bool
	Problem  *problem
}

// batch changes the status or role of up to MaxBatch selected users, one
// change each through the provision service, and shows every outcome.
func (c *console) batch(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r.Context())
	t := translator(language(r))
	ids := slices.Compact(slices.Sorted(slices.Values(r.PostForm["id"])))
	action := r.PostFormValue("action")
	bad := func(detail string) {
		c.renderUsers(w, r, http.StatusBadRequest, nil, &problem{Title: t("batch.refused"), Detail: detail})
	}
	switch {
	case len(ids) == 0:
		bad(t("batch.none"))
		return
	case len(ids) > MaxBatch:
		bad(t("batch.tooMany", MaxBatch, len(ids)))
		return
	case slices.Contains(ids, s.user.ID):
		bad(t("batch.self"))
		return
	}
	var apply func(id string) (store.User, error)
	switch {
	case action == "deactivate" || action == "reactivate":
		apply = func(id string) (store.User, error) { return c.setActive(r, id, action == "reactivate") }
	case strings.HasPrefix(action, "role:") && slices.Contains(assignableRoles, strings.TrimPrefix(action, "role:")):
		role := strings.TrimPrefix(action, "role:")
		apply = func(id string) (store.User, error) { return c.setRole(r, id, role) }
	default:
		bad(t("batch.action", action))
		return
	}
	results := make([]batchResult, 0, len(ids))
	for _, id := range ids {
		res := batchResult{ID: id, Name: id}
		u, err := apply(id)
		if err == nil {
			res.OK, res.Name = true, displayName(&u)
		} else if pr, _, ok := outcome(t, err); ok {
			// A refused user is named by a read of its own.
			res.Problem = pr
			if u, err := c.cfg.Store.GetUser(r.Context(), s.tenant.ID, id); err == nil {
				res.Name = displayName(&u)
			}
		} else {
			c.internal(w, r, err)
			return
		}
		results = append(results, res)
	}
	c.renderUsers(w, r, http.StatusOK, results, nil)
}

// timelineRow is one audit entry with its actor in words.
type timelineRow struct {
	store.AuditEntry
	Who string
}

// timeline names each entry's actor: "CLI", "console: <userName>" for a
// console admin, "token <id>" for a SCIM or host token.
func (c *console) timeline(r *http.Request, entries []store.AuditEntry) ([]timelineRow, error) {
	s := sessionOf(r.Context())
	names := map[string]string{}
	rows := make([]timelineRow, len(entries))
	for i, e := range entries {
		who, ok := names[e.Actor]
		if !ok {
			switch id, console := strings.CutPrefix(e.Actor, "console:"); {
			case e.Actor == "cli":
				who = "CLI"
			case console:
				who = "console: " + id
				u, err := c.cfg.Store.GetUser(r.Context(), s.tenant.ID, id)
				if err == nil {
					who = "console: " + u.UserName
				} else if !errors.Is(err, store.ErrNotFound) {
					return nil, err
				}
			default:
				who = "token " + e.Actor
			}
			names[e.Actor] = who
		}
		rows[i] = timelineRow{AuditEntry: e, Who: who}
	}
	return rows, nil
}
