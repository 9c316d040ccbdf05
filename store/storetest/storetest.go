package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/scimd/scimd/store"
)

// Run runs the conformance suite as subtests of t. newStore must return a
// fresh, migrated, empty store for each subtest and arrange for it to be
// closed (t.Cleanup); the suite never closes it.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(e *env)
	}{
		{"Tenants", testTenants},
		{"Tokens", testTokens},
		{"UserOwnsLiveToken", testUserOwnsLiveToken},
		{"UpdateSemantics", testUpdateSemantics},
		{"UserRoundTrip", testUserRoundTrip},
		{"UserConflicts", testUserConflicts},
		{"UpdateUser", testUpdateUser},
		{"UpdateUserEmailsInOneTx", testUpdateUserEmailsInOneTx},
		{"DeleteUser", testDeleteUser},
		{"CountUsers", testCountUsers},
		{"EmailTaken", testEmailTaken},
		{"UserNameReserved", testUserNameReserved},
		{"FindRetainedByEmail", testFindRetainedByEmail},
		{"Owner", testOwner},
		{"EraseUser", testEraseUser},
		{"RestoreUser", testRestoreUser},
		{"LockTenant", testLockTenant},
		{"TokenKinds", testTokenKinds},
		{"Groups", testGroups},
		{"Members", testMembers},
		{"ManyMembers", testManyMembers},
		{"GroupMembers", testGroupMembers},
		{"GroupMemberConcurrency", testGroupMemberConcurrency},
		{"MissingGroup", testMissingGroup},
		{"TenantIsolation", testTenantIsolation},
		{"UserFilters", testUserFilters},
		{"GroupFilters", testGroupFilters},
		{"FilterDifferential", testFilterDifferential},
		{"Unsupported", testUnsupported},
		{"SortUsers", testSortUsers},
		{"SortGroups", testSortGroups},
		{"Paging", testPaging},
		{"KeysetPaging", testKeysetPaging},
		{"KeysetChurn", testKeysetChurn},
		{"CountsExact", testCountsExact},
		{"Churn", testChurn},
		{"UserCheckpoints", testUserCheckpoints},
		{"CheckedPages", testCheckedPages},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"AuditAndEvents", testAuditAndEvents},
		{"QueryAudit", testQueryAudit},
		{"Webhooks", testWebhooks},
		{"Deliveries", testDeliveries},
		{"DeliveryOrder", testDeliveryOrder},
		{"DeliveryClaimsConcurrent", testDeliveryClaimsConcurrent},
		{"EventFeed", testEventFeed},
		{"BatchReads", testBatchReads}, {"BatchCreateUsers", testBatchCreateUsers}, {"BatchAppendAll", testBatchAppendAll},
		{"ConsoleSecrets", testConsoleSecrets},
		{"TouchUserActive", testTouchUserActive},
		{"ListDeleted", testListDeleted},
		{"SortLastActive", testSortLastActive},
		{"StatusByDisplayName", testStatusByDisplayName},
		{"NoTotal", testNoTotal},
		{"CountDeliveries", testCountDeliveries},
		{"BrakeState", testBrakeState}, {"DeprovisionCounts", testDeprovisionCounts}, {"BrakeConcurrency", testBrakeConcurrency},
		{"IdempotencyPut", testIdempotencyPut}, {"IdempotencyClaim", testIdempotencyClaim},
		{"IdempotencyConcurrent", testIdempotencyConcurrent}, {"IdempotencyPurge", testIdempotencyPurge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			tc.fn(&env{T: t, s: s, ctx: t.Context()})
		})
	}
}

// env is one subtest's store with helpers that fail the test on error.
type env struct {
	*testing.T
	s   store.Store
	ctx context.Context
}

// t0 is the base time of every fixture: microsecond precision, UTC.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// update runs fn in s.Update.
func (e *env) update(fn func(ctx context.Context, tx store.Tx) error) error {
	return e.s.Update(e.ctx, fn)
}

// must runs fn in s.Update and fails the test on error.
func (e *env) must(fn func(ctx context.Context, tx store.Tx) error) {
	e.Helper()
	if err := e.update(fn); err != nil {
		e.Fatalf("Update: %v", err)
	}
}

func (e *env) tenant(name string) store.Tenant {
	e.Helper()
	tn := store.Tenant{ID: newID(), Name: name, Policy: json.RawMessage(`{"seats": 10}`), Created: t0}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.CreateTenant(ctx, &tn) })
	return tn
}

// user creates a live user of the tenant; mods adjust it before the write.
func (e *env) user(tenantID, userName string, mods ...func(*store.User)) store.User {
	e.Helper()
	u := store.User{
		TenantID: tenantID, ID: newID(), UserName: userName, Active: true, Role: store.RoleMember,
		State: store.StateActive, Doc: json.RawMessage(`{"userName": ` + quote(userName) + `}`),
		Created: t0, Modified: t0,
	}
	for _, m := range mods {
		m(&u)
	}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.CreateUser(ctx, &u) })
	if u.Version != 1 {
		e.Fatalf("CreateUser set Version %d, want 1", u.Version)
	}
	return u
}

func (e *env) group(tenantID, displayName string, mods ...func(*store.Group)) store.Group {
	e.Helper()
	g := store.Group{
		TenantID: tenantID, ID: newID(), DisplayName: displayName,
		Doc: json.RawMessage(`{"displayName": ` + quote(displayName) + `}`), Created: t0, Modified: t0,
	}
	for _, m := range mods {
		m(&g)
	}
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.CreateGroup(ctx, &g) })
	if g.Version != 1 {
		e.Fatalf("CreateGroup set Version %d, want 1", g.Version)
	}
	return g
}

func (e *env) addMembers(tenantID, groupID string, ids ...string) {
	e.Helper()
	e.must(func(ctx context.Context, tx store.Tx) error {
		missing, err := tx.AddMembers(ctx, tenantID, groupID, ids)
		if err == nil && len(missing) > 0 {
			e.Fatalf("AddMembers: missing %v", missing)
		}
		return err
	})
}

func (e *env) deleteUser(tenantID, id string) {
	e.Helper()
	e.deleteUserAt(tenantID, id, at(time.Hour), false)
}

// deleteUserAt deletes a live user at the given time, erasing it or not.
func (e *env) deleteUserAt(tenantID, id string, when time.Time, erase bool) {
	e.Helper()
	e.must(func(ctx context.Context, tx store.Tx) error { return tx.DeleteUser(ctx, tenantID, id, when, erase) })
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// jsonEqual compares two JSON documents semantically (PostgreSQL's jsonb
// does not keep the text).
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

var cmpOpts = []cmp.Option{cmp.Comparer(jsonEqual)}

// normUser makes a user comparable: no emails is nil.
func normUser(u store.User) store.User {
	if len(u.Emails) == 0 {
		u.Emails = nil
	}
	return u
}

// checkUser fails the test unless got equals want in every field and
// every time in got is in UTC.
func (e *env) checkUser(what string, got, want store.User) {
	e.Helper()
	if d := cmp.Diff(normUser(want), normUser(got), cmpOpts...); d != "" {
		e.Errorf("%s: user mismatch (-want +got):\n%s", what, d)
	}
	times := []time.Time{got.Created, got.Modified}
	if got.DeactivatedAt != nil {
		times = append(times, *got.DeactivatedAt)
	}
	checkUTC(e.T, what, times...)
}

func (e *env) checkGroup(what string, got, want store.Group) {
	e.Helper()
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		e.Errorf("%s: group mismatch (-want +got):\n%s", what, d)
	}
	checkUTC(e.T, what, got.Created, got.Modified)
}

func checkUTC(t *testing.T, what string, ts ...time.Time) {
	t.Helper()
	for _, x := range ts {
		if x.Location() != time.UTC {
			t.Errorf("%s: time %v is in %v, want UTC", what, x, x.Location())
		}
	}
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// wantConflict fails the test unless err is a *store.ConflictError for attr.
func wantConflict(t *testing.T, what string, err error, attr string) {
	t.Helper()
	var ce *store.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) {
		t.Errorf("%s: error %v, want *store.ConflictError", what, err)
		return
	}
	if ce.Attr != attr {
		t.Errorf("%s: conflict on %q, want %q", what, ce.Attr, attr)
	}
}

func (e *env) getUser(tenantID, id string) (store.User, error) {
	return e.s.GetUser(e.ctx, tenantID, id)
}

func (e *env) mustGetUser(tenantID, id string) store.User {
	e.Helper()
	u, err := e.getUser(tenantID, id)
	if err != nil {
		e.Fatalf("GetUser(%s): %v", id, err)
	}
	return u
}

func (e *env) mustGetGroup(tenantID, id string) store.Group {
	e.Helper()
	g, err := e.s.GetGroup(e.ctx, tenantID, id)
	if err != nil {
		e.Fatalf("GetGroup(%s): %v", id, err)
	}
	return g
}

// allUsers returns every live user of the tenant in id order.
func (e *env) allUsers(tenantID string, f store.Filter) []store.User {
	e.Helper()
	p, err := e.s.ListUsers(e.ctx, tenantID, store.Query{Filter: f, Limit: 10000})
	if err != nil {
		e.Fatalf("ListUsers: %v", err)
	}
	if p.Total != len(p.Users) {
		e.Errorf("ListUsers: Total %d, %d users", p.Total, len(p.Users))
	}
	return p.Users
}

func (e *env) allGroups(tenantID string, f store.Filter) []store.Group {
	e.Helper()
	p, err := e.s.ListGroups(e.ctx, tenantID, store.Query{Filter: f, Limit: 10000})
	if err != nil {
		e.Fatalf("ListGroups: %v", err)
	}
	if p.Total != len(p.Groups) {
		e.Errorf("ListGroups: Total %d, %d groups", p.Total, len(p.Groups))
	}
	return p.Groups
}

func userIDs(us []store.User) []string {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

func groupIDs(gs []store.Group) []string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.ID
	}
	return ids
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// members returns the member ids of one group.
func (e *env) members(tenantID, groupID string) []string {
	e.Helper()
	m, err := e.s.GroupMembers(e.ctx, tenantID, []string{groupID})
	if err != nil {
		e.Fatalf("GroupMembers: %v", err)
	}
	var ids []string
	for _, x := range m[groupID] {
		ids = append(ids, x.ID)
	}
	return ids
}

func ptr[T any](v T) *T { return &v }
