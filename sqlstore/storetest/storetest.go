// Package storetest is the conformance suite for atrium.Store: every storage
// engine runs the same tests, so SQLite and PostgreSQL behave alike.
package storetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium"
)

// Clocked is implemented by stores whose clock tests may set; tests that need
// it are skipped for stores without it.
type Clocked interface {
	SetNow(func() time.Time)
}

// Run runs the suite. open must return a fresh, empty, migrated store for
// each call and close it when the test ends (t.Cleanup); subtests run in
// parallel, each with its own store.
func Run(t *testing.T, open func(t *testing.T) atrium.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s atrium.Store)
	}{
		{"Ping", testPing},
		{"Time", testTime},

		{"CreateUser", testCreateUser},
		{"CreateUserConflict", testCreateUserConflict},
		{"FindUserNotFound", testFindUserNotFound},
		{"FindUsers", testFindUsers},
		{"UpdateUser", testUpdateUser},
		{"BootstrapAdmin", testBootstrapAdmin},
		{"BootstrapAdminConcurrent", testBootstrapAdminConcurrent},

		{"Tokens", testTokens},
		{"TokenErrors", testTokenErrors},
		{"TokenRevokeExpiry", testTokenRevokeExpiry},

		{"CreateWorkspace", testCreateWorkspace},
		{"CreateWorkspaceErrors", testCreateWorkspaceErrors},
		{"FindWorkspaces", testFindWorkspaces},
		{"UpdateWorkspace", testUpdateWorkspace},
		{"DeleteWorkspace", testDeleteWorkspace},

		{"AddMembers", testAddMembers},
		{"AddMembersErrors", testAddMembersErrors},
		{"FindMembers", testFindMembers},
		{"MemberRoles", testMemberRoles},
		{"OwnerRules", testOwnerRules},
		{"OwnerRulesConcurrent", testOwnerRulesConcurrent},

		{"Roles", testRoles},
		{"RoleErrors", testRoleErrors},

		{"OperationLogs", testOperationLogs},
		{"Audit", testAudit},
		{"AuditFailedWrite", testAuditFailedWrite},
		{"AuditNotForBookkeeping", testAuditNotForBookkeeping},

		{"ResourceGroups", testResourceGroups},
		{"Nodes", testNodes},
		{"Quotas", testQuotas},
		{"QuotaFilters", testQuotaFilters},
		{"QuotaBindings", testQuotaBindings},
		{"QuotaTreeConcurrent", testQuotaTreeConcurrent},
		{"WorkspaceConfig", testWorkspaceConfig},
		{"ComputeWorkspaceDelete", testComputeWorkspaceDelete},
		{"ComputeAudit", testComputeAudit},
		{"AccountMappings", testAccountMappings},
		{"AccountMappingsAudit", testAccountMappingsAudit},

		{"Jobs", testJobs},
		{"FindJobs", testFindJobs},
		{"UpdateJob", testUpdateJob},
		{"UpdateJobConcurrent", testUpdateJobConcurrent},
		{"DeleteJob", testDeleteJob},
		{"JobWorkspaceDelete", testJobWorkspaceDelete},
		{"JobAudit", testJobAudit},

		{"UsageLedger", testUsageLedger},
		{"UsageWindow", testUsageWindow},
		{"UsageWorkspaceDelete", testUsageWorkspaceDelete},
		{"LiveJobsBlockDeletes", testLiveJobsBlockDeletes},

		{"Assets", testAssets},
		{"AssetVersions", testAssetVersions},
		{"AssetApprovalConcurrent", testAssetApprovalConcurrent},
		{"FindAssets", testFindAssets},
		{"AssetFilters", testAssetFilters},
		{"AssetWorkspaceDelete", testAssetWorkspaceDelete},
		{"AssetAudit", testAssetAudit},
		{"Events", testEvents},
		{"JobOutbox", testJobOutbox},
		{"MemberOutbox", testMemberOutbox},

		{"AlertRules", testAlertRules},
		{"Deliveries", testDeliveries},
		{"ClaimConcurrent", testClaimConcurrent},

		{"Registries", testRegistries},
		{"RegistryAudit", testRegistryAudit},

		{"Leases", testLeases},
		{"LeaseConcurrent", testLeaseConcurrent},

		{"DSWHandoffs", testDSWHandoffs},
		{"DSWHandoffConcurrent", testDSWHandoffConcurrent},

		{"Pipelines", testPipelines},
		{"PipelineRuns", testPipelineRuns},
		{"PipelineRunConcurrent", testPipelineRunConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// Clock is a settable clock for stores that implement Clocked.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// clockStart has nanoseconds and a zone on purpose: stores keep UTC
// microseconds, and the suite checks they do.
var clockStart = time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+2", 2*3600))

// setClock installs a Clock on s, skipping the test if s has no settable clock.
func setClock(t *testing.T, s atrium.Store) *Clock {
	t.Helper()
	cs, ok := s.(Clocked)
	if !ok {
		t.Skip("store has no settable clock (storetest.Clocked)")
	}
	c := &Clock{t: clockStart}
	cs.SetNow(c.Now)
	return c
}

// stored is how a store keeps a time: UTC, microseconds.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

var ctx = context.Background()

func ptr[T any](v T) *T { return &v }

func mustUser(t *testing.T, s atrium.Store, name string) *atrium.User {
	t.Helper()
	u := &atrium.User{Name: name, DisplayName: "User " + strings.ToUpper(name), Email: name + "@example.com", PasswordHash: "hash-of-" + name}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func mustWorkspace(t *testing.T, s atrium.Store, name string, creator *atrium.User) *atrium.Workspace {
	t.Helper()
	w := &atrium.Workspace{Name: name, DisplayName: "WS " + name, Description: "about " + name, EnvTypes: []string{"dev", "prod"}, Creator: creator.ID}
	if err := s.CreateWorkspace(ctx, w); err != nil {
		t.Fatalf("CreateWorkspace(%s): %v", name, err)
	}
	return w
}

func mustAddMember(t *testing.T, s atrium.Store, ws *atrium.Workspace, u *atrium.User, roles ...string) *atrium.Member {
	t.Helper()
	ms, err := s.AddMembers(ctx, ws.ID, []atrium.MemberParams{{UserID: u.ID, Roles: roles}})
	if err != nil {
		t.Fatalf("AddMembers(%s, %s): %v", ws.Name, u.Name, err)
	}
	return ms[0]
}

func mustOwnerMember(t *testing.T, s atrium.Store, ws *atrium.Workspace) *atrium.Member {
	t.Helper()
	m, err := s.FindMemberByUser(ctx, ws.ID, ws.Creator)
	if err != nil {
		t.Fatalf("FindMemberByUser(creator): %v", err)
	}
	return m
}

// wantCode fails unless err carries the application error code.
func wantCode(t *testing.T, err error, code string) *atrium.Error {
	t.Helper()
	if got := atrium.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	return atrium.AsError(err)
}

func wantNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantEqual compares with reflect.DeepEqual, printing both sides.
func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, dump(got), dump(want))
	}
}

func dump(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = dump(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return fmt.Sprintf("&%+v", rv.Elem().Interface())
	}
	return fmt.Sprintf("%+v", v)
}

func testPing(t *testing.T, s atrium.Store) {
	wantNoErr(t, s.Ping(ctx))
}

// testTime checks that the store takes its timestamps from its clock, stores
// them as UTC microseconds and returns them unchanged.
func testTime(t *testing.T, s atrium.Store) {
	c := setClock(t, s)
	u := mustUser(t, s, "alice")
	want := stored(clockStart)
	if !u.CreatedAt.Equal(want) || u.CreatedAt.Location() != time.UTC || !u.UpdatedAt.Equal(want) {
		t.Fatalf("CreatedAt = %v, UpdatedAt = %v, want %v in UTC", u.CreatedAt, u.UpdatedAt, want)
	}
	got, err := s.FindUserByID(ctx, u.ID)
	wantNoErr(t, err)
	wantEqual(t, "user read back", got, u)

	c.Add(90 * time.Minute)
	w := mustWorkspace(t, s, "ws_time", u)
	if want := stored(clockStart.Add(90 * time.Minute)); !w.CreatedAt.Equal(want) {
		t.Fatalf("workspace CreatedAt = %v, want %v", w.CreatedAt, want)
	}
	gw, err := s.FindWorkspaceByID(ctx, w.ID)
	wantNoErr(t, err)
	wantEqual(t, "workspace read back", gw, w)

	// Times far from now and before 1970 round-trip too.
	for _, at := range []time.Time{
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(2999, 1, 1, 0, 0, 0, 1000, time.FixedZone("x", -5*3600)),
	} {
		c.mu.Lock()
		c.t = at
		c.mu.Unlock()
		r := &atrium.Role{WorkspaceID: w.ID, Name: fmt.Sprintf("R%d", at.Year())}
		wantNoErr(t, s.CreateRole(ctx, r))
		got, err := s.FindRole(ctx, w.ID, r.Name)
		wantNoErr(t, err)
		if !got.CreatedAt.Equal(at) || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("role CreatedAt = %v, want %v in UTC", got.CreatedAt, at)
		}
	}
}
