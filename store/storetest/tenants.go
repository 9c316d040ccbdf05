package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scimd/scimd/store"
)

func testTenants(e *env) {
	zone := time.FixedZone("UTC+5", 5*3600)
	b := store.Tenant{ID: newID(), Name: "beta", Policy: json.RawMessage(`{"a": [1, 2], "b": {"c": true}}`), Created: t0.In(zone)}
	a := store.Tenant{ID: newID(), Name: "alpha", Created: at(time.Microsecond)}
	e.must(func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &b); err != nil {
			return err
		}
		if err := tx.CreateTenant(ctx, &a); err != nil {
			return err
		}
		// Reads in the transaction see its writes.
		got, err := tx.GetTenantByName(ctx, "alpha")
		if err != nil || got.ID != a.ID {
			e.Errorf("GetTenantByName in tx = %v, %v", got, err)
		}
		return nil
	})
	wantB := store.Tenant{ID: b.ID, Name: "beta", Policy: b.Policy, Created: t0}
	wantA := store.Tenant{ID: a.ID, Name: "alpha", Policy: json.RawMessage(`{}`), Created: at(time.Microsecond)}

	got, err := e.s.GetTenant(e.ctx, b.ID)
	if err != nil {
		e.Fatalf("GetTenant: %v", err)
	}
	if d := cmp.Diff(wantB, got, cmpOpts...); d != "" {
		e.Errorf("GetTenant (-want +got):\n%s", d)
	}
	checkUTC(e.T, "GetTenant", got.Created)
	got, err = e.s.GetTenantByName(e.ctx, "alpha")
	if err != nil {
		e.Fatalf("GetTenantByName: %v", err)
	}
	if d := cmp.Diff(wantA, got, cmpOpts...); d != "" {
		e.Errorf("GetTenantByName (nil policy reads back as {}) (-want +got):\n%s", d)
	}
	list, err := e.s.ListTenants(e.ctx)
	if err != nil {
		e.Fatalf("ListTenants: %v", err)
	}
	if d := cmp.Diff([]store.Tenant{wantA, wantB}, list, cmpOpts...); d != "" {
		e.Errorf("ListTenants not ordered by name (-want +got):\n%s", d)
	}

	_, err = e.s.GetTenant(e.ctx, newID())
	wantErr(e.T, "GetTenant(missing)", err, store.ErrNotFound)
	_, err = e.s.GetTenant(e.ctx, "not-a-uuid")
	wantErr(e.T, "GetTenant(malformed)", err, store.ErrNotFound)
	_, err = e.s.GetTenantByName(e.ctx, "ALPHA")
	wantErr(e.T, "GetTenantByName(other case)", err, store.ErrNotFound)

	err = e.update(func(ctx context.Context, tx store.Tx) error {
		return tx.CreateTenant(ctx, &store.Tenant{ID: newID(), Name: "alpha", Created: t0})
	})
	wantErr(e.T, "CreateTenant(taken name)", err, store.ErrConflict)

	pol := json.RawMessage(`{"seats": 5}`)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.UpdateTenantPolicy(ctx, a.ID, pol) })
	got, _ = e.s.GetTenant(e.ctx, a.ID)
	if !jsonEqual(got.Policy, pol) {
		e.Errorf("UpdateTenantPolicy: policy %s, want %s", got.Policy, pol)
	}
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.UpdateTenantPolicy(ctx, newID(), pol) })
	wantErr(e.T, "UpdateTenantPolicy(missing)", err, store.ErrNotFound)
}

func testTokens(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	owner := e.user(ta.ID, "owner")
	exp := at(24 * time.Hour)
	t1 := store.Token{ID: newID(), TenantID: ta.ID, Hash: bytes.Repeat([]byte{1}, 32), OwnerID: owner.ID, Created: at(time.Second), Expires: &exp}
	t2 := store.Token{ID: newID(), TenantID: ta.ID, Hash: bytes.Repeat([]byte{2}, 32), Created: t0}
	t3 := store.Token{ID: newID(), TenantID: tb.ID, Hash: bytes.Repeat([]byte{3}, 32), Created: t0}
	e.must(func(ctx context.Context, tx store.Tx) error {
		for _, tk := range []*store.Token{&t1, &t2, &t3} {
			if err := tx.CreateToken(ctx, tk); err != nil {
				return err
			}
		}
		return nil
	})

	got, err := e.s.TokenByHash(e.ctx, t1.Hash)
	if err != nil {
		e.Fatalf("TokenByHash: %v", err)
	}
	want1 := t1
	want1.Kind = store.TokenSCIM // t1 was written with Kind ""
	// The tenant's policy comes with the token, so that authentication is
	// one query.
	if tn, err := e.s.GetTenant(e.ctx, t1.TenantID); err != nil || !jsonEqual(got.TenantPolicy, tn.Policy) {
		e.Errorf("TokenByHash policy = %s, tenant's = %s (%v)", got.TenantPolicy, tn.Policy, err)
	}
	got.TenantPolicy = nil
	if d := cmp.Diff(want1, got); d != "" {
		e.Errorf("TokenByHash (-want +got):\n%s", d)
	}
	checkUTC(e.T, "TokenByHash", got.Created, *got.Expires)
	got, err = e.s.TokenByHash(e.ctx, t2.Hash)
	if err != nil || got.OwnerID != "" || got.Expires != nil || got.Revoked != nil {
		e.Errorf("TokenByHash(t2) = %+v, %v; want no owner, expiry or revocation", got, err)
	}
	_, err = e.s.TokenByHash(e.ctx, bytes.Repeat([]byte{9}, 32))
	wantErr(e.T, "TokenByHash(unknown)", err, store.ErrNotFound)

	err = e.update(func(ctx context.Context, tx store.Tx) error {
		return tx.CreateToken(ctx, &store.Token{ID: newID(), TenantID: tb.ID, Hash: t1.Hash, Created: t0})
	})
	wantErr(e.T, "CreateToken(duplicate hash)", err, store.ErrConflict)

	list, err := e.s.ListTokens(e.ctx, ta.ID)
	if err != nil {
		e.Fatalf("ListTokens: %v", err)
	}
	if len(list) != 2 || list[0].ID != t2.ID || list[1].ID != t1.ID {
		e.Errorf("ListTokens(a) = %v, want [t2 t1] (by creation time)", list)
	}
	list, _ = e.s.ListTokens(e.ctx, tb.ID)
	if len(list) != 1 || list[0].ID != t3.ID {
		e.Errorf("ListTokens(b) = %v, want [t3]", list)
	}

	// Revoking keeps the first revocation time.
	r1, r2 := at(2*time.Hour), at(3*time.Hour)
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.RevokeToken(ctx, t1.ID, r1) })
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.RevokeToken(ctx, t1.ID, r2) })
	got, _ = e.s.TokenByHash(e.ctx, t1.Hash)
	if got.Revoked == nil || !got.Revoked.Equal(r1) {
		e.Errorf("Revoked = %v, want the first revocation %v", got.Revoked, r1)
	} else {
		checkUTC(e.T, "Revoked", *got.Revoked)
	}
	if got.Live(at(time.Hour)) {
		e.Errorf("revoked token is Live")
	}
	err = e.update(func(ctx context.Context, tx store.Tx) error { return tx.RevokeToken(ctx, newID(), r1) })
	wantErr(e.T, "RevokeToken(missing)", err, store.ErrNotFound)

	// Token.Live.
	for _, c := range []struct {
		tok  store.Token
		now  time.Time
		live bool
	}{
		{store.Token{}, t0, true},
		{store.Token{Expires: &exp}, exp.Add(-time.Microsecond), true},
		{store.Token{Expires: &exp}, exp, false},
		{store.Token{Revoked: &r1}, t0, false},
	} {
		if c.tok.Live(c.now) != c.live {
			e.Errorf("Live(%+v, %v) = %v", c.tok, c.now, !c.live)
		}
	}
}

func testUserOwnsLiveToken(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	live, expired, revoked, none, other := e.user(ta.ID, "live"), e.user(ta.ID, "expired"),
		e.user(ta.ID, "revoked"), e.user(ta.ID, "none"), e.user(tb.ID, "other")
	exp := at(time.Hour)
	rev := at(-time.Hour)
	mk := func(tenantID, owner string, expires, revokedAt *time.Time) store.Token {
		return store.Token{ID: newID(), TenantID: tenantID, Hash: []byte(newID()), OwnerID: owner, Created: at(-2 * time.Hour), Expires: expires, Revoked: revokedAt}
	}
	toks := []store.Token{
		mk(ta.ID, live.ID, &exp, nil),
		mk(ta.ID, live.ID, nil, &rev),
		mk(ta.ID, expired.ID, &exp, nil),
		mk(ta.ID, revoked.ID, nil, nil),
		mk(ta.ID, "", nil, nil),
		mk(tb.ID, other.ID, nil, nil),
	}
	e.must(func(ctx context.Context, tx store.Tx) error {
		for i := range toks {
			if err := tx.CreateToken(ctx, &toks[i]); err != nil {
				return err
			}
		}
		return tx.RevokeToken(ctx, toks[3].ID, rev)
	})
	for _, c := range []struct {
		tenant, user string
		now          time.Time
		want         bool
	}{
		{ta.ID, live.ID, t0, true},
		{ta.ID, live.ID, exp.Add(-time.Microsecond), true},
		{ta.ID, live.ID, exp, false}, // expired exactly now
		{ta.ID, expired.ID, at(2 * time.Hour), false},
		{ta.ID, expired.ID, t0, true},
		{ta.ID, revoked.ID, t0, false},
		{ta.ID, none.ID, t0, false},
		{tb.ID, live.ID, t0, false}, // another tenant's token owner
		{ta.ID, other.ID, t0, false},
		{tb.ID, other.ID, t0, true},
		{ta.ID, "", t0, false},
	} {
		got, err := e.s.UserOwnsLiveToken(e.ctx, c.tenant, c.user, c.now)
		if err != nil || got != c.want {
			e.Errorf("UserOwnsLiveToken(%s, %s, %v) = %v, %v; want %v", c.tenant, c.user, c.now, got, err, c.want)
		}
	}
	// Inside a transaction too.
	e.must(func(ctx context.Context, tx store.Tx) error {
		got, err := tx.UserOwnsLiveToken(ctx, ta.ID, live.ID, t0)
		if err != nil || !got {
			e.Errorf("tx.UserOwnsLiveToken = %v, %v; want true", got, err)
		}
		return nil
	})
}

type panicValue struct{}

func testUpdateSemantics(e *env) {
	sentinel := errors.New("sentinel")
	id := newID()
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &store.Tenant{ID: id, Name: "rolled-back", Created: t0}); err != nil {
			return err
		}
		if _, err := tx.GetTenant(ctx, id); err != nil {
			e.Errorf("tx does not see its own write: %v", err)
		}
		if _, err := e.s.GetTenant(e.ctx, id); !errors.Is(err, store.ErrNotFound) {
			e.Errorf("uncommitted write visible outside the transaction: %v", err)
		}
		return sentinel
	})
	if err != sentinel {
		e.Errorf("Update returned %v, want fn's error unchanged", err)
	}
	_, err = e.s.GetTenant(e.ctx, id)
	wantErr(e.T, "after rollback", err, store.ErrNotFound)

	func() {
		defer func() {
			if r := recover(); r != (panicValue{}) {
				e.Errorf("recovered %v, want the panic value re-panicked", r)
			}
		}()
		_ = e.update(func(ctx context.Context, tx store.Tx) error {
			if err := tx.CreateTenant(ctx, &store.Tenant{ID: id, Name: "panicked", Created: t0}); err != nil {
				return err
			}
			panic(panicValue{})
		})
		e.Errorf("Update did not re-panic")
	}()
	_, err = e.s.GetTenant(e.ctx, id)
	wantErr(e.T, "after panic", err, store.ErrNotFound)

	// The store is usable after a rollback and a panic.
	tn := e.tenant("committed")
	if _, err := e.s.GetTenant(e.ctx, tn.ID); err != nil {
		e.Errorf("GetTenant after commit: %v", err)
	}
	if err := e.s.Ping(e.ctx); err != nil {
		e.Errorf("Ping: %v", err)
	}
}

func testAuditAndEvents(e *env) {
	ta, tb := e.tenant("a"), e.tenant("b")
	u := e.user(ta.ID, "u")
	entries := []store.AuditEntry{
		{ID: newID(), TenantID: ta.ID, At: t0, Actor: newID(), RequestID: "req-1", Client: "Okta SCIM/1.0",
			Operation: "user.patch", ResourceType: "User", ResourceID: u.ID, Status: 200, Changed: []string{"active", "name.givenName"}},
		{ID: newID(), TenantID: ta.ID, At: t0, Actor: "cli", Operation: "user.deactivate", ResourceType: "User",
			ResourceID: u.ID, Status: 403, Rule: "last-owner"},
		{ID: newID(), TenantID: tb.ID, At: t0, Actor: "cli", Operation: "tenant.create", ResourceType: "Tenant", Status: 201},
	}
	events := []store.Event{
		{ID: newID(), TenantID: ta.ID, At: t0, Type: "user.deactivated", ResourceType: "User", ResourceID: u.ID,
			Payload: json.RawMessage(`{"id": "` + u.ID + `", "active": false}`)},
		{ID: newID(), TenantID: tb.ID, At: t0, Type: "group.deleted", ResourceType: "Group", ResourceID: newID()},
	}
	// One transaction: a write, its audit entries and its events commit together.
	e.must(func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockUser(ctx, ta.ID, u.ID)
		if err != nil {
			return err
		}
		cur.Active, cur.State, cur.Modified = false, store.StateInactive, at(time.Minute)
		if err := tx.UpdateUser(ctx, &cur, cur.Version); err != nil {
			return err
		}
		for i := range entries {
			if err := tx.AppendAudit(ctx, &entries[i]); err != nil {
				return err
			}
		}
		for i := range events {
			if err := tx.AppendEvent(ctx, &events[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if got := e.mustGetUser(ta.ID, u.ID); got.Active || got.Version != 2 {
		e.Errorf("user after the audited update: active %v version %d", got.Active, got.Version)
	}
	// Appending inside a transaction that rolls back is not an error either.
	sentinel := errors.New("rollback")
	err := e.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.AppendAudit(ctx, &store.AuditEntry{ID: newID(), TenantID: ta.ID, At: t0, Operation: "user.create", Status: 409}); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, &store.Event{ID: newID(), TenantID: ta.ID, At: t0, Type: "user.created"}); err != nil {
			return err
		}
		return sentinel
	})
	if err != sentinel {
		e.Errorf("Update = %v, want the sentinel", err)
	}
	// What committed reads back, per tenant, in id order; the rolled-back
	// rows are not there.
	gotEvents, err := e.s.ListEvents(e.ctx, ta.ID, "", 100)
	if err != nil {
		e.Fatal(err)
	}
	if len(gotEvents) != 1 || gotEvents[0].ID != events[0].ID || gotEvents[0].Type != "user.deactivated" ||
		gotEvents[0].ResourceID != u.ID || !gotEvents[0].At.Equal(t0) || !jsonEqual(gotEvents[0].Payload, events[0].Payload) {
		e.Errorf("ListEvents(a) = %+v", gotEvents)
	}
	if more, err := e.s.ListEvents(e.ctx, ta.ID, events[0].ID, 100); err != nil || len(more) != 0 {
		e.Errorf("ListEvents after the last = %v, %v", more, err)
	}
	if evB, err := e.s.ListEvents(e.ctx, tb.ID, "", 100); err != nil || len(evB) != 1 || evB[0].Type != "group.deleted" {
		e.Errorf("ListEvents(b) = %+v, %v", evB, err)
	}
	gotAudit, err := e.s.ListAudit(e.ctx, ta.ID, "", 100)
	if err != nil {
		e.Fatal(err)
	}
	wantA := []store.AuditEntry{entries[0], entries[1]}
	if entries[1].ID < entries[0].ID {
		wantA = []store.AuditEntry{entries[1], entries[0]}
	}
	if len(gotAudit) != 2 {
		e.Fatalf("ListAudit(a) = %+v", gotAudit)
	}
	for i, w := range wantA {
		g := gotAudit[i]
		if g.ID != w.ID || g.Actor != w.Actor || g.RequestID != w.RequestID || g.Client != w.Client || g.Operation != w.Operation ||
			g.ResourceID != w.ResourceID || g.Status != w.Status || g.Rule != w.Rule || len(g.Changed) != len(w.Changed) || !g.At.Equal(w.At) {
			e.Errorf("ListAudit(a)[%d] = %+v, want %+v", i, g, w)
		}
	}
	if one, err := e.s.ListAudit(e.ctx, ta.ID, "", 1); err != nil || len(one) != 1 || one[0].ID != wantA[0].ID {
		e.Errorf("ListAudit limit 1 = %+v, %v", one, err)
	}
}
