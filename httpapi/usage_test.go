package httpapi

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"atrium"
)

var usageT0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return usageT0.Add(d) }

func alloc(job, user string, gpu, milliCPU int64, memGi int64, start time.Time, end *time.Time) *atrium.Allocation {
	return &atrium.Allocation{JobID: job, WorkspaceID: "ws-1", QuotaID: "q-" + user, UserID: "u-" + user, UserName: user,
		JobKind: atrium.KindDLC, JobType: "PyTorchJob", GPUType: "A100", GPU: gpu, MilliCPU: milliCPU, Memory: memGi << 30,
		StartedAt: start, EndedAt: end}
}

func TestAggregateUsage(t *testing.T) {
	h := time.Hour
	ptr := func(t time.Time) *time.Time { return &t }
	dsw := alloc("dsw-1", "carol", 0, 500, 1, at(0), ptr(at(2*h)))
	dsw.JobKind, dsw.JobType, dsw.GPUType = atrium.KindDSW, "", ""
	t4 := alloc("dlc-3", "bob", 1, 1000, 2, at(0), ptr(at(h)))
	t4.GPUType, t4.JobType = "T4", "TFJob"
	tests := []struct {
		name          string
		as            []*atrium.Allocation
		from, to, now time.Time
		groupBy       string
		want          []UsageItem
		wantTotal     UsageItem
	}{
		{
			name: "nothing", from: at(0), to: at(h), now: at(h), groupBy: UsageByUser,
			want: []UsageItem{}, wantTotal: UsageItem{},
		},
		{
			name: "whole allocations inside the window",
			as: []*atrium.Allocation{
				alloc("dlc-1", "alice", 2, 4000, 8, at(0), ptr(at(2*h))),
				alloc("dlc-1", "alice", 0, 2000, 4, at(0), ptr(at(2*h))),
				alloc("dlc-2", "bob", 1, 1000, 2, at(h), ptr(at(h+30*time.Minute))),
			},
			from: at(-h), to: at(3 * h), now: at(5 * h), groupBy: UsageByUser,
			want: []UsageItem{
				{Key: "alice", GPUHours: 4, CPUCoreHours: 12, MemoryGiBHours: 24, Jobs: 1, Allocations: 2},
				{Key: "bob", GPUHours: 0.5, CPUCoreHours: 0.5, MemoryGiBHours: 1, Jobs: 1, Allocations: 1},
			},
			wantTotal: UsageItem{GPUHours: 4.5, CPUCoreHours: 12.5, MemoryGiBHours: 25, Jobs: 2, Allocations: 3},
		},
		{
			name: "clipped to the window on both sides",
			as: []*atrium.Allocation{
				alloc("dlc-1", "alice", 4, 1000, 1, at(-2*h), ptr(at(2*h))), // 1h of it is inside
				alloc("dlc-2", "alice", 1, 1000, 1, at(30*time.Minute), ptr(at(5*h))),
			},
			from: at(0), to: at(h), now: at(10 * h), groupBy: UsageByUser,
			want:      []UsageItem{{Key: "alice", GPUHours: 4.5, CPUCoreHours: 1.5, MemoryGiBHours: 1.5, Jobs: 2, Allocations: 2}},
			wantTotal: UsageItem{GPUHours: 4.5, CPUCoreHours: 1.5, MemoryGiBHours: 1.5, Jobs: 2, Allocations: 2},
		},
		{
			name: "an open allocation runs until min(to, now)",
			as: []*atrium.Allocation{
				alloc("dlc-1", "alice", 1, 1000, 1, at(0), nil),
				alloc("dlc-2", "bob", 1, 1000, 1, at(0), nil),
			},
			from: at(0), to: at(4 * h), now: at(90 * time.Minute), groupBy: UsageByUser,
			want: []UsageItem{
				{Key: "alice", GPUHours: 1.5, CPUCoreHours: 1.5, MemoryGiBHours: 1.5, Jobs: 1, Allocations: 1},
				{Key: "bob", GPUHours: 1.5, CPUCoreHours: 1.5, MemoryGiBHours: 1.5, Jobs: 1, Allocations: 1},
			},
			wantTotal: UsageItem{GPUHours: 3, CPUCoreHours: 3, MemoryGiBHours: 3, Jobs: 2, Allocations: 2},
		},
		{
			name: "an open allocation stops at to when now is later",
			as:   []*atrium.Allocation{alloc("dlc-1", "alice", 8, 1000, 1, at(0), nil)},
			from: at(0), to: at(h), now: at(100 * h), groupBy: UsageByQuota,
			want:      []UsageItem{{Key: "q-alice", GPUHours: 8, CPUCoreHours: 1, MemoryGiBHours: 1, Jobs: 1, Allocations: 1}},
			wantTotal: UsageItem{GPUHours: 8, CPUCoreHours: 1, MemoryGiBHours: 1, Jobs: 1, Allocations: 1},
		},
		{
			name: "preempted and restarted attempts of one job all count, the job once",
			as: []*atrium.Allocation{
				alloc("dlc-1", "alice", 1, 0, 0, at(0), ptr(at(h))),
				alloc("dlc-1", "alice", 1, 0, 0, at(2*h), ptr(at(3*h))),
				alloc("dlc-1", "alice", 1, 0, 0, at(4*h), nil),
			},
			from: at(0), to: at(5 * h), now: at(5 * h), groupBy: UsageByJobType,
			want:      []UsageItem{{Key: "PyTorchJob", GPUHours: 3, Jobs: 1, Allocations: 3}},
			wantTotal: UsageItem{GPUHours: 3, Jobs: 1, Allocations: 3},
		},
		{
			name: "outside the window or empty: left out",
			as: []*atrium.Allocation{
				alloc("dlc-1", "alice", 1, 1000, 1, at(-2*h), ptr(at(-h))),
				alloc("dlc-2", "alice", 1, 1000, 1, at(2*h), nil),
				alloc("dlc-3", "alice", 1, 1000, 1, at(30*time.Minute), ptr(at(30*time.Minute))),
				alloc("dlc-4", "bob", 1, 1000, 1, at(0), ptr(at(h))),
			},
			from: at(0), to: at(h), now: at(h), groupBy: UsageByUser,
			want:      []UsageItem{{Key: "bob", GPUHours: 1, CPUCoreHours: 1, MemoryGiBHours: 1, Jobs: 1, Allocations: 1}},
			wantTotal: UsageItem{GPUHours: 1, CPUCoreHours: 1, MemoryGiBHours: 1, Jobs: 1, Allocations: 1},
		},
		{
			name: "by gpuType: equal GPU-hours sort by key, CPU-only pods under the empty key",
			as: []*atrium.Allocation{
				alloc("dlc-1", "alice", 1, 1000, 1, at(0), ptr(at(h))),
				t4,
				dsw,
				alloc("dlc-4", "bob", 3, 1000, 1, at(0), ptr(at(h))),
			},
			from: at(0), to: at(2 * h), now: at(2 * h), groupBy: UsageByGPUType,
			want: []UsageItem{
				{Key: "A100", GPUHours: 4, CPUCoreHours: 2, MemoryGiBHours: 2, Jobs: 2, Allocations: 2},
				{Key: "T4", GPUHours: 1, CPUCoreHours: 1, MemoryGiBHours: 2, Jobs: 1, Allocations: 1},
				{Key: "", GPUHours: 0, CPUCoreHours: 1, MemoryGiBHours: 2, Jobs: 1, Allocations: 1},
			},
			wantTotal: UsageItem{GPUHours: 5, CPUCoreHours: 4, MemoryGiBHours: 6, Jobs: 4, Allocations: 4},
		},
		{
			name: "by jobType: a job without a type goes under its kind",
			as:   []*atrium.Allocation{t4, dsw},
			from: at(0), to: at(2 * h), now: at(2 * h), groupBy: UsageByJobType,
			want: []UsageItem{
				{Key: "TFJob", GPUHours: 1, CPUCoreHours: 1, MemoryGiBHours: 2, Jobs: 1, Allocations: 1},
				{Key: atrium.KindDSW, GPUHours: 0, CPUCoreHours: 1, MemoryGiBHours: 2, Jobs: 1, Allocations: 1},
			},
			wantTotal: UsageItem{GPUHours: 1, CPUCoreHours: 2, MemoryGiBHours: 4, Jobs: 2, Allocations: 2},
		},
		{
			name: "by workspace; a user without a name is keyed by id",
			as: func() []*atrium.Allocation {
				a, b := alloc("dlc-1", "alice", 1, 0, 0, at(0), ptr(at(h))), alloc("dlc-2", "bob", 2, 0, 0, at(0), ptr(at(h)))
				b.WorkspaceID = "ws-2"
				return []*atrium.Allocation{a, b}
			}(),
			from: at(0), to: at(h), now: at(h), groupBy: UsageByWorkspace,
			want: []UsageItem{
				{Key: "ws-2", GPUHours: 2, Jobs: 1, Allocations: 1},
				{Key: "ws-1", GPUHours: 1, Jobs: 1, Allocations: 1},
			},
			wantTotal: UsageItem{GPUHours: 3, Jobs: 2, Allocations: 2},
		},
		{
			name: "rounded to 6 decimals",
			as:   []*atrium.Allocation{alloc("dlc-1", "", 1, 1, 0, at(0), ptr(at(time.Second)))},
			from: at(0), to: at(h), now: at(h), groupBy: UsageByUser,
			want:      []UsageItem{{Key: "u-", GPUHours: 0.000278, CPUCoreHours: 0, Jobs: 1, Allocations: 1}},
			wantTotal: UsageItem{GPUHours: 0.000278, Jobs: 1, Allocations: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := aggregateUsage(tc.as, tc.from, tc.to, tc.now, tc.groupBy)
			if !r.From.Equal(tc.from) || !r.To.Equal(tc.to) || r.GroupBy != tc.groupBy {
				t.Errorf("window = %v %v %s", r.From, r.To, r.GroupBy)
			}
			if !reflect.DeepEqual(r.Items, tc.want) {
				t.Errorf("items:\n got  %+v\n want %+v", r.Items, tc.want)
			}
			if r.Total != tc.wantTotal {
				t.Errorf("total:\n got  %+v\n want %+v", r.Total, tc.wantTotal)
			}
		})
	}
}

func TestUsageWindow(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	nowUTC := now.UTC()
	day := 24 * time.Hour
	for _, tc := range []struct {
		name      string
		q         string
		from, to  time.Time
		groupBy   string
		wantField string
	}{
		{"defaults", "", nowUTC.Add(-7 * day), nowUTC, "user", ""},
		{"from only", "from=2030-05-01T00:00:00Z", time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC), nowUTC, "user", ""},
		{"to only", "to=2030-05-10T00:00:00%2B02:00", time.Date(2030, 5, 2, 22, 0, 0, 0, time.UTC), time.Date(2030, 5, 9, 22, 0, 0, 0, time.UTC), "user", ""},
		{"both, grouped", "from=2030-05-01T00:00:00Z&to=2030-05-02T00:00:00.5Z&groupBy=gpuType",
			time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 5, 2, 0, 0, 0, 5e8, time.UTC), "gpuType", ""},
		{"to is now", "to=2030-06-01T11:00:00Z", nowUTC.Add(-7 * day), nowUTC, "user", ""},
		{"exactly 400 days", "from=2029-04-27T11:00:00Z", nowUTC.Add(-400 * day), nowUTC, "user", ""},
		{"bad from", "from=yesterday", time.Time{}, time.Time{}, "", "from"},
		{"date without time", "to=2030-05-01", time.Time{}, time.Time{}, "", "to"},
		{"to in the future", "to=2030-06-01T11:00:01Z", time.Time{}, time.Time{}, "", "to"},
		{"from after to", "from=2030-05-02T00:00:00Z&to=2030-05-01T00:00:00Z", time.Time{}, time.Time{}, "", "from"},
		{"from equals to", "from=2030-05-01T00:00:00Z&to=2030-05-01T00:00:00Z", time.Time{}, time.Time{}, "", "from"},
		{"from in the future", "from=2030-07-01T00:00:00Z", time.Time{}, time.Time{}, "", "from"},
		{"over 400 days", "from=2029-04-27T10:59:59Z", time.Time{}, time.Time{}, "", "from"},
		{"unknown grouping", "groupBy=workspace", time.Time{}, time.Time{}, "", "groupBy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			from, to, groupBy, err := usageWindow(q, now, usageGroups...)
			if tc.wantField != "" {
				if e := atrium.AsError(err); e == nil || e.Code != atrium.EINVALID || e.Field != tc.wantField {
					t.Fatalf("err = %v, want EINVALID on %s", err, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !from.Equal(tc.from) || !to.Equal(tc.to) || groupBy != tc.groupBy || from.Location() != time.UTC || to.Location() != time.UTC {
				t.Fatalf("window = %v %v %s, want %v %v %s in UTC", from, to, groupBy, tc.from, tc.to, tc.groupBy)
			}
		})
	}
}

// TestUsageAPI records a ledger through UpdateJob, as the scheduling loop
// does, and reads it back through both usage endpoints.
func TestUsageAPI(t *testing.T) {
	cf := newComputeFixture(t)
	ctx := context.Background()
	h := time.Hour
	cf.api.Now = func() time.Time { return at(4 * h) }
	clock := usageT0
	cf.store.(interface{ SetNow(func() time.Time) }).SetNow(func() time.Time { return clock })

	users := map[string]*atrium.User{}
	for _, name := range []string{"dev", "lead"} {
		u, err := cf.store.FindUserByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		users[name] = u
	}
	job := func(creator, jobType, quota string) *atrium.Job {
		u := users[creator]
		j := &atrium.Job{WorkspaceID: cf.ws.ID, Kind: atrium.KindDLC, DisplayName: jobType, JobType: jobType, Creator: u.ID,
			CreatorName: u.Name, QuotaID: quota, Accessibility: atrium.AccessPrivate, Status: atrium.JobQueuing}
		if err := cf.store.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	update := func(j *atrium.Job, when time.Time, close bool, open ...atrium.Allocation) *atrium.Job {
		clock = when
		for i := range open {
			open[i].QuotaID, open[i].UserID, open[i].UserName, open[i].JobKind, open[i].JobType = j.QuotaID, j.Creator, j.CreatorName, j.Kind, j.JobType
		}
		j, err := cf.store.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{CloseAllocations: close, OpenAllocations: open})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	pod := func(name, gpuType string, gpu, milliCPU, memGi int64) atrium.Allocation {
		return atrium.Allocation{Pod: name, Node: "n1", GPUType: gpuType, GPU: gpu, MilliCPU: milliCPU, Memory: memGi << 30}
	}
	// dev's job: two pods [0, 2h), preempted, its master again from 3h (open).
	a := job("dev", "PyTorchJob", "quota-a")
	a = update(a, at(0), false, pod("master-0", "A100", 2, 4000, 8), pod("worker-0", "A100", 0, 2000, 4))
	a = update(a, at(2*h), true)
	update(a, at(3*h), false, pod("master-0", "A100", 2, 4000, 8))
	// lead's job: one T4 pod [1h, 1h30m).
	b := job("lead", "TFJob", "quota-b")
	b = update(b, at(h), false, pod("worker-0", "T4", 1, 1000, 2))
	update(b, at(h+30*time.Minute), true)

	platformPath := func(path string) bool { return strings.HasPrefix(path, "/api/v1/usage") }
	get := func(token, path string, want int) UsageReport {
		t.Helper()
		resp := cf.must(t, token, "GET", path, nil, want)
		route := "/api/v1/workspaces/{workspaceId}/usage"
		if platformPath(path) {
			route = "/api/v1/usage"
		}
		cf.checkSchema(t, path, "GET", route, want, resp.body)
		var r UsageReport
		resp.decode(t, &r)
		return r
	}
	wsUsage := cf.wsPath + "/usage"

	// The default window (the last 7 days) holds everything; by user.
	r := get(cf.dev, wsUsage, 200)
	if !r.From.Equal(at(4*h-7*24*h)) || !r.To.Equal(at(4*h)) || r.GroupBy != "user" {
		t.Fatalf("default window = %v %v %s", r.From, r.To, r.GroupBy)
	}
	wantItems := []UsageItem{
		{Key: "dev", GPUHours: 6, CPUCoreHours: 16, MemoryGiBHours: 32, Jobs: 1, Allocations: 3},
		{Key: "lead", GPUHours: 0.5, CPUCoreHours: 0.5, MemoryGiBHours: 1, Jobs: 1, Allocations: 1},
	}
	if !reflect.DeepEqual(r.Items, wantItems) {
		t.Fatalf("by user = %+v", r.Items)
	}
	if want := (UsageItem{GPUHours: 6.5, CPUCoreHours: 16.5, MemoryGiBHours: 33, Jobs: 2, Allocations: 4}); r.Total != want {
		t.Fatalf("total = %+v", r.Total)
	}

	// A window cuts allocations; by gpuType.
	r = get(cf.lead, wsUsage+"?from=2030-01-01T01:00:00Z&to=2030-01-01T03:30:00Z&groupBy=gpuType", 200)
	wantItems = []UsageItem{
		{Key: "A100", GPUHours: 3, CPUCoreHours: 8, MemoryGiBHours: 16, Jobs: 1, Allocations: 3},
		{Key: "T4", GPUHours: 0.5, CPUCoreHours: 0.5, MemoryGiBHours: 1, Jobs: 1, Allocations: 1},
	}
	if !reflect.DeepEqual(r.Items, wantItems) {
		t.Fatalf("by gpuType = %+v", r.Items)
	}
	r = get(cf.dev, wsUsage+"?from=2030-01-01T02:00:00Z&to=2030-01-01T03:00:00Z&groupBy=quota", 200)
	if len(r.Items) != 0 || r.Total != (UsageItem{}) {
		t.Fatalf("a window with nothing = %+v", r)
	}
	r = get(cf.dev, wsUsage+"?groupBy=jobType", 200)
	if len(r.Items) != 2 || r.Items[0].Key != "PyTorchJob" || r.Items[1].Key != "TFJob" {
		t.Fatalf("by jobType = %+v", r.Items)
	}

	// Platform-wide, for ResourceAdmin, with workspaces as a grouping.
	r = get(cf.ra, "/api/v1/usage?groupBy=workspace", 200)
	if len(r.Items) != 1 || r.Items[0].Key != cf.ws.ID || r.Items[0].GPUHours != 6.5 {
		t.Fatalf("platform by workspace = %+v", r.Items)
	}
	r = get(cf.ra, "/api/v1/usage?workspaceId=ws-nosuch", 200)
	if len(r.Items) != 0 {
		t.Fatalf("platform, unknown workspace = %+v", r.Items)
	}
	cf.must(t, cf.dev, "GET", "/api/v1/usage", nil, 403)

	// Bad input is a 400 naming the field.
	for _, tc := range []struct{ path, field string }{
		{wsUsage + "?from=last-week", "from"},
		{wsUsage + "?to=2030-01-01T04:00:01Z", "to"},
		{wsUsage + "?from=2030-01-01T04:00:00Z&to=2030-01-01T03:00:00Z", "from"},
		{wsUsage + "?from=2028-01-01T00:00:00Z", "from"},
		{wsUsage + "?groupBy=workspace", "groupBy"},
		{wsUsage + "?workspaceId=" + cf.ws.ID, "workspaceId"},
		{"/api/v1/usage?groupBy=pod", "groupBy"},
	} {
		token := cf.dev
		if platformPath(tc.path) {
			token = cf.ra
		}
		if p := cf.must(t, token, "GET", tc.path, nil, 400).problem(t); p.Field != tc.field {
			t.Errorf("%s: field %q (%s), want %s", tc.path, p.Field, p.Detail, tc.field)
		}
	}
}
