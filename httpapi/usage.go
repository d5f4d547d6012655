package httpapi

// Usage accounting: GPU-, CPU-core- and memory-hours from the allocation
// ledger (atrium.UsageService), per workspace for its members and
// platform-wide for ResourceAdmin. The scheduling loop writes the ledger;
// these handlers only read and add it up.

import (
	"cmp"
	"math"
	"net/url"
	"slices"
	"time"

	"atrium"
)

// Usage grouping keys.
const (
	UsageByUser      = "user"
	UsageByQuota     = "quota"
	UsageByGPUType   = "gpuType"
	UsageByJobType   = "jobType"
	UsageByWorkspace = "workspace" // platform-wide only
)

// Usage window limits.
const (
	DefaultUsageWindow = 7 * 24 * time.Hour
	MaxUsageWindow     = 400 * 24 * time.Hour
)

// UsageReport is the usage of a window [from, to), grouped.
type UsageReport struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	GroupBy string    `json:"groupBy"`
	// Items are sorted by gpuHours, highest first, then by key.
	Items []UsageItem `json:"items"`
	// Total adds up every item; its key is empty.
	Total UsageItem `json:"total"`
}

// UsageItem is the usage of one group within the window.
type UsageItem struct {
	// Key is the user name, quota id, gpuType ("" for CPU-only pods), job
	// type (the kind, e.g. DSW, when a job has none) or workspace id.
	Key            string  `json:"key"`
	GPUHours       float64 `json:"gpuHours"`
	CPUCoreHours   float64 `json:"cpuCoreHours"`
	MemoryGiBHours float64 `json:"memoryGiBHours"`
	// Jobs counts distinct jobs, Allocations pod allocations (a pod per
	// attempt).
	Jobs        int `json:"jobs"`
	Allocations int `json:"allocations"`
}

// usageKey returns a's key under groupBy.
func usageKey(a *atrium.Allocation, groupBy string) string {
	switch groupBy {
	case UsageByQuota:
		return a.QuotaID
	case UsageByGPUType:
		return a.GPUType
	case UsageByJobType:
		return cmp.Or(a.JobType, a.JobKind)
	case UsageByWorkspace:
		return a.WorkspaceID
	}
	return cmp.Or(a.UserName, a.UserID)
}

// aggregateUsage adds up allocations over [from, to), grouped by groupBy.
// Each allocation counts only for its part inside the window; an open one
// runs until min(to, now). Allocations with nothing inside the window are
// left out, from the counts too. Hours are rounded to 6 decimals.
func aggregateUsage(as []*atrium.Allocation, from, to, now time.Time, groupBy string) UsageReport {
	type acc struct {
		gpu, cpu, mem float64 // unit-seconds: GPU·s, millicore·s, byte·s
		jobs          map[string]bool
		n             int
	}
	add := func(x *acc, a *atrium.Allocation, secs float64) {
		x.gpu += float64(a.GPU) * secs
		x.cpu += float64(a.MilliCPU) * secs
		x.mem += float64(a.Memory) * secs
		x.jobs[a.JobID] = true
		x.n++
	}
	item := func(key string, x *acc) UsageItem {
		return UsageItem{Key: key, GPUHours: hours(x.gpu, 1), CPUCoreHours: hours(x.cpu, 1000),
			MemoryGiBHours: hours(x.mem, 1<<30), Jobs: len(x.jobs), Allocations: x.n}
	}

	groups, total := map[string]*acc{}, &acc{jobs: map[string]bool{}}
	for _, a := range as {
		start := a.StartedAt
		if start.Before(from) {
			start = from
		}
		end := to
		if now.Before(end) {
			end = now
		}
		if a.EndedAt != nil && a.EndedAt.Before(end) {
			end = *a.EndedAt
		}
		if !end.After(start) {
			continue
		}
		secs := end.Sub(start).Seconds()
		key := usageKey(a, groupBy)
		g := groups[key]
		if g == nil {
			g = &acc{jobs: map[string]bool{}}
			groups[key] = g
		}
		add(g, a, secs)
		add(total, a, secs)
	}

	r := UsageReport{From: from, To: to, GroupBy: groupBy, Items: []UsageItem{}, Total: item("", total)}
	for key, g := range groups {
		r.Items = append(r.Items, item(key, g))
	}
	slices.SortFunc(r.Items, func(a, b UsageItem) int {
		return cmp.Or(cmp.Compare(b.GPUHours, a.GPUHours), cmp.Compare(a.Key, b.Key))
	})
	return r
}

// hours turns unit-seconds into unit-hours of a unit worth per units.
func hours(unitSeconds, per float64) float64 {
	return math.Round(unitSeconds/per/3600*1e6) / 1e6
}

// usageWindow reads from, to (RFC 3339) and groupBy. The window defaults to
// the last 7 days; to may not be after now, from must be before to, and the
// window is at most 400 days.
func usageWindow(q url.Values, now time.Time, groups ...string) (from, to time.Time, groupBy string, err error) {
	now = now.UTC()
	to = now
	if s := q.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return from, to, "", atrium.FieldErrorf("to", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		to = to.UTC()
		if to.After(now) {
			return from, to, "", atrium.FieldErrorf("to", "must not be in the future (now is %s)", now.Format(time.RFC3339))
		}
	}
	from = to.Add(-DefaultUsageWindow)
	if s := q.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return from, to, "", atrium.FieldErrorf("from", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		from = from.UTC()
		if !from.Before(to) {
			return from, to, "", atrium.FieldErrorf("from", "must be before to (%s)", to.Format(time.RFC3339))
		}
		if to.Sub(from) > MaxUsageWindow {
			return from, to, "", atrium.FieldErrorf("from", "must be at most 400 days before to (%s)", to.Format(time.RFC3339))
		}
	}
	groupBy, err = oneOf(q, "groupBy", groups...)
	return from, to, cmp.Or(groupBy, UsageByUser), err
}

var usageGroups = []string{UsageByUser, UsageByQuota, UsageByGPUType, UsageByJobType}

var usageParams = []param{
	{"from", "start of the window, RFC 3339 (default: 7 days before to)"},
	{"to", "end of the window, RFC 3339, not in the future (default: now); at most 400 days after from"},
	{"groupBy", "user (default), quota, gpuType or jobType"},
}

// workspaceUsage answers GET …/workspaces/{workspaceId}/usage.
func workspaceUsage(c *call) (any, error) {
	return c.usage(c.ws.ID, usageGroups)
}

// platformUsage answers GET /api/v1/usage (ResourceAdmin).
func platformUsage(c *call) (any, error) {
	ws := c.r.URL.Query().Get("workspaceId")
	return c.usage(ws, append(slices.Clone(usageGroups), UsageByWorkspace))
}

func (c *call) usage(workspaceID string, groups []string) (any, error) {
	now := c.s.Now()
	from, to, groupBy, err := usageWindow(c.r.URL.Query(), now, groups...)
	if err != nil {
		return nil, err
	}
	as, err := c.s.Store.FindAllocations(c.ctx(), atrium.AllocationFilter{WorkspaceID: workspaceID, From: from, To: to})
	if err != nil {
		return nil, err
	}
	return aggregateUsage(as, from, to, now.UTC(), groupBy), nil
}
