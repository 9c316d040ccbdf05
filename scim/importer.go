package scim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/policy"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/schemas"
	"github.com/scimd/scimd/store"
)

// Import outcomes, as ImportResult.Outcome and the summary of
// `scimd import` name them.
const (
	ImportCreated     = "created"
	ImportUpdated     = "updated"
	ImportUnchanged   = "unchanged"
	ImportDeactivated = "deactivated"
	ImportRefused     = "refused"
	ImportFailed      = "failed"
)

// ImportResult is what became of one record (or, for DeactivateMissing, of
// one user).
type ImportResult struct {
	Outcome string
	UserID  string
	// Key is the record's match key (its userName or externalId).
	Key string
	// Detail says why a record was refused (starting with the policy rule)
	// or failed; "" otherwise.
	Detail string
}

// Importer applies user documents of a sync file to one tenant with the
// semantics of the SCIM API: a record whose match key (userName or
// externalId) names a live user replaces it as a PUT would (roles, active
// and the password are kept unless the record sets them), any other record
// creates the user as a POST would (a deleted user may be restored under
// the tenant's policy). Every change passes the same provision service,
// policy and audit as a request does. It is safe for concurrent use, but
// records with the same key must be applied one after the other.
type Importer struct {
	store    store.Store
	svc      *provision.Service
	actor    provision.Actor
	byExtID  bool
	settings schemas.Options
}

// NewImporter returns an importer for the tenant that matches records by
// match ("userName" or "externalId") and reads them leniently like the
// SCIM API unless the tenant is in strict mode. Errors: an unknown match,
// store.ErrNotFound for an unknown tenant, or the store's.
func NewImporter(ctx context.Context, s store.Store, svc *provision.Service, tenantID, match string) (*Importer, error) {
	if match != "userName" && match != "externalId" {
		return nil, fmt.Errorf("match %q: use userName or externalId", match)
	}
	t, err := s.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	settings, err := policy.Parse(t.Policy)
	if err != nil {
		return nil, err
	}
	a := provision.Actor{TenantID: tenantID, Name: "cli", Client: "scimd-import"}
	return &Importer{store: s, svc: svc, actor: a, byExtID: match == "externalId",
		settings: schemas.Options{Lenient: !settings.Strict}}, nil
}

// Apply creates or replaces the user the SCIM document in describes. The
// outcome is ImportFailed with a detail for a record that is not a valid
// user or lacks its match key, ImportRefused for a policy refusal, and
// ImportFailed for other errors (a store error's text is not shown: it is
// returned as err as well, so the caller can stop).
func (im *Importer) Apply(ctx context.Context, in map[string]any) (ImportResult, error) {
	return im.apply(ctx, in, false)
}

// Merge is Apply for a record that holds only some of a user's
// attributes (a CSV row): an existing user keeps every attribute the
// record does not set; a typed multi-valued value (emails.work) replaces
// the user's values of that type. A new user is created from the record.
func (im *Importer) Merge(ctx context.Context, in map[string]any) (ImportResult, error) {
	return im.apply(ctx, in, true)
}

func (im *Importer) apply(ctx context.Context, in map[string]any, merge bool) (ImportResult, error) {
	doc, key, err := im.read(in)
	if err != nil {
		return im.failed("", err), nil
	}
	res, u, err := im.prepare(ctx, doc, key, merge, nil)
	if u == nil || err != nil {
		return res, err
	}
	created, err := im.svc.CreateUser(ctx, im.actor, *u)
	if err != nil {
		return im.outcomeOf(res.Key, err)
	}
	return ImportResult{Outcome: ImportCreated, UserID: created.ID, Key: res.Key}, nil
}

// ApplyBatch applies records in order, as Apply (merge false) or Merge
// (merge true) would one after the other, but creates the new users of
// the batch together (provision.Service.CreateUsers: a few statements for
// all of them, the outcome of each as if alone). It returns one result per
// record and, like Apply, the first error that is not a record's fault.
func (im *Importer) ApplyBatch(ctx context.Context, ins []map[string]any, merge bool) ([]ImportResult, error) {
	out := make([]ImportResult, len(ins))
	var pending []store.User
	var pendingAt []int
	pendingKeys := map[string]bool{}
	var live map[string]bool // folded userNames known live (nil: look each up)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		res, err := im.svc.CreateUsers(ctx, im.actor, pending)
		for n, i := range pendingAt {
			switch {
			case n >= len(res):
				out[i] = ImportResult{Outcome: ImportFailed, Key: out[i].Key, Detail: "internal error"}
			case res[n].Err != nil:
				var perr error
				if out[i], perr = im.outcomeOf(out[i].Key, res[n].Err); perr != nil && err == nil {
					err = perr
				}
			default:
				out[i] = ImportResult{Outcome: ImportCreated, UserID: res[n].User.ID, Key: out[i].Key}
				if live != nil {
					live[store.Fold(out[i].Key)] = true
				}
			}
		}
		pending, pendingAt = pending[:0], pendingAt[:0]
		clear(pendingKeys)
		return err
	}
	// Each record is read once; one look-up answers which userNames of the
	// whole batch are taken, so records of new users need none of their own.
	docs := make([]map[string]any, len(ins))
	keys := make([]string, len(ins))
	errs := make([]error, len(ins))
	for i, in := range ins {
		docs[i], keys[i], errs[i] = im.read(in)
	}
	if !im.byExtID {
		var err error
		if live, err = im.store.LiveUserNames(ctx, im.actor.TenantID, keys); err != nil {
			return out, err
		}
	}
	for i := range ins {
		if errs[i] != nil {
			out[i] = im.failed("", errs[i])
			continue
		}
		if keys[i] != "" && pendingKeys[store.Fold(keys[i])] {
			if err := flush(); err != nil {
				return out, err
			}
		}
		res, u, err := im.prepare(ctx, docs[i], keys[i], merge, live)
		out[i] = res
		if err != nil {
			return out, err
		}
		if u != nil {
			pending = append(pending, *u)
			pendingAt = append(pendingAt, i)
			pendingKeys[store.Fold(res.Key)] = true
		}
	}
	return out, flush()
}

// read normalises a record (as the SCIM API reads a body) and returns it
// with its match key ("" when it has none). Errors are Normalize's.
func (im *Importer) read(in map[string]any) (map[string]any, string, error) {
	doc, err := schemas.Normalize(schemas.User, in, im.settings)
	if err != nil {
		return nil, "", err
	}
	if im.byExtID {
		return doc, str(doc["externalId"]), nil
	}
	return doc, str(doc["userName"]), nil
}

// prepare applies a read record (doc, with its match key) when it updates
// an existing user; for a new user it returns the user to create (and a
// result holding only the key) without creating it.
func (im *Importer) prepare(ctx context.Context, doc map[string]any, key string, merge bool, live map[string]bool) (ImportResult, *store.User, error) {
	if im.byExtID && key == "" {
		return ImportResult{Outcome: ImportFailed, Detail: "externalId is required to match by externalId"}, nil, nil
	}
	var cur store.User
	found := false
	if key != "" {
		c, err := im.findKnown(ctx, key, live)
		switch {
		case err == nil:
			cur, found = c, true
		case !errors.Is(err, store.ErrNotFound):
			return ImportResult{Outcome: ImportFailed, Key: key, Detail: "internal error"}, nil, err
		}
	}
	if merge && found {
		base, err := decodeDoc(cur.Doc)
		if err != nil {
			return ImportResult{Outcome: ImportFailed, Key: key, Detail: "internal error"}, nil, err
		}
		if doc, err = schemas.Normalize(schemas.User, overlay(base, doc), im.settings); err != nil {
			return im.failed("", err), nil, nil
		}
	}
	if missing := schemas.MissingRequired(schemas.User, doc); len(missing) > 0 {
		return ImportResult{Outcome: ImportFailed, Key: key, Detail: missing[0] + " is required"}, nil, nil
	}
	_, hasActive := doc["active"]
	hash, err := takePassword(doc)
	if err != nil {
		return im.failed(key, err), nil, nil
	}
	if !found {
		u := store.User{Active: true}
		u.PasswordHash = hash
		if err := userColumns(&u, doc); err != nil {
			return im.failed(key, err), nil, nil
		}
		u.Doc = encodeDoc(doc)
		return ImportResult{Key: key}, &u, nil
	}
	replace := func(u *store.User) error {
		wasActive := u.Active
		if hash != "" {
			u.PasswordHash = hash
		}
		if err := userColumns(u, doc); err != nil {
			return err
		}
		if !hasActive {
			u.Active = wasActive
		}
		u.Doc = encodeDoc(doc)
		return nil
	}
	// A record that changes nothing (a re-run) needs no transaction.
	if same, err := provision.Unchanged(cur, replace); err == nil && same {
		return ImportResult{Outcome: ImportUnchanged, UserID: cur.ID, Key: key}, nil, nil
	}
	after, err := im.svc.UpdateUser(ctx, im.actor, cur.ID, nil, "user.import", replace)
	if err != nil {
		res, err := im.outcomeOf(key, err)
		res.UserID = cur.ID
		return res, nil, err
	}
	if after.Version == cur.Version {
		return ImportResult{Outcome: ImportUnchanged, UserID: cur.ID, Key: key}, nil, nil
	}
	return ImportResult{Outcome: ImportUpdated, UserID: cur.ID, Key: key}, nil, nil
}

// findKnown is find, but answers store.ErrNotFound without a look-up for
// a userName live (a batch's look-up of every userName) says is free.
func (im *Importer) findKnown(ctx context.Context, key string, live map[string]bool) (store.User, error) {
	if live != nil && !im.byExtID && !live[store.Fold(key)] {
		return store.User{}, store.ErrNotFound
	}
	return im.find(ctx, key)
}

// find returns the live user the key names.
func (im *Importer) find(ctx context.Context, key string) (store.User, error) {
	if !im.byExtID {
		return im.store.GetUserByUserName(ctx, im.actor.TenantID, key)
	}
	f, err := parseFilter(schemas.User, "externalId eq "+strconv.Quote(key), schemas.Options{})
	if err != nil {
		return store.User{}, err
	}
	page, err := im.store.ListUsers(ctx, im.actor.TenantID, store.Query{Filter: f, Limit: 1})
	if err != nil {
		return store.User{}, err
	}
	if len(page.Users) == 0 {
		return store.User{}, store.ErrNotFound
	}
	return page.Users[0], nil
}

// outcomeOf turns a service error into the record's outcome; errors that
// are not the record's fault are returned too.
func (im *Importer) outcomeOf(key string, err error) (ImportResult, error) {
	var v *policy.Violation
	if errors.As(err, &v) {
		return ImportResult{Outcome: ImportRefused, Key: key, Detail: v.Error()}, nil
	}
	e, internal := classify(err)
	if internal {
		return ImportResult{Outcome: ImportFailed, Key: key, Detail: "internal error"}, err
	}
	return ImportResult{Outcome: ImportFailed, Key: key, Detail: e.Detail}, nil
}

func (im *Importer) failed(key string, err error) ImportResult {
	e, internal := classify(err)
	if internal {
		return ImportResult{Outcome: ImportFailed, Key: key, Detail: err.Error()}
	}
	return ImportResult{Outcome: ImportFailed, Key: key, Detail: e.Detail}
}

// DeactivateMissing deactivates, through the policy, every active user of
// the tenant that seen does not recognise, and calls report with each
// outcome (ImportDeactivated or ImportRefused; ImportFailed with err for a
// store error, which also stops it). Errors: the store's, or ctx's.
func (im *Importer) DeactivateMissing(ctx context.Context, seen func(u store.User) bool, report func(ImportResult)) error {
	f, err := parseFilter(schemas.User, "active eq true", schemas.Options{})
	if err != nil {
		return err
	}
	var after *store.Position
	for {
		page, err := im.store.ListUsers(ctx, im.actor.TenantID, store.Query{Filter: f, Limit: 500, After: after, WithoutEmails: true})
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			if err := ctx.Err(); err != nil {
				return err
			}
			if seen(u) {
				continue
			}
			_, err := im.svc.UpdateUser(ctx, im.actor, u.ID, nil, "user.import", func(u *store.User) error {
				u.Active = false
				return nil
			})
			res := ImportResult{Outcome: ImportDeactivated, UserID: u.ID, Key: u.UserName}
			if err != nil {
				var perr error
				if res, perr = im.outcomeOf(u.UserName, err); perr != nil {
					report(res)
					return perr
				}
				res.UserID = u.ID
				if res.Outcome == ImportFailed && errors.Is(err, store.ErrNotFound) {
					continue // deleted meanwhile
				}
			}
			report(res)
		}
		if len(page.Users) < 500 {
			return nil
		}
		after = &page.Keys[len(page.Keys)-1]
	}
}

// overlay returns base with the (normalised) record laid over it: complex
// values (name, the enterprise extension) merge key by key, typed values
// of multi-valued attributes replace the base's values of the same type,
// anything else replaces.
func overlay(base, rec map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		switch k {
		case "id", "meta", "groups", "schemas":
			continue
		}
		out[k] = v
	}
	for k, v := range rec {
		if k == "schemas" {
			continue
		}
		if m, ok := v.(map[string]any); ok {
			if old, ok := out[k].(map[string]any); ok {
				out[k] = overlay(old, m)
				continue
			}
		}
		list, isList := v.([]any)
		old, hadList := out[k].([]any)
		if !isList || !hadList {
			out[k] = v
			continue
		}
		types := map[string]bool{}
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				types[strings.ToLower(str(m["type"]))] = true
			}
		}
		merged := append([]any{}, list...)
		for _, e := range old {
			m, ok := e.(map[string]any)
			if ok && types[strings.ToLower(str(m["type"]))] {
				continue
			}
			if ok && len(list) > 0 {
				m = maps.Clone(m)
				delete(m, "primary") // the record's first value is primary
				e = m
			}
			merged = append(merged, e)
		}
		out[k] = merged
	}
	return out
}
