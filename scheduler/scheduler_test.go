package scheduler

import (
	"testing"
	"time"

	"atrium/resource"
)

// twoA100 is a root quota over two 8×A100 nodes with a leaf "team".
func twoA100() Snapshot {
	return Snapshot{
		Nodes:  []Node{gpuNode("n1", "rg", "A100", 8), gpuNode("n2", "rg", "A100", 8)},
		Quotas: []Quota{root("root", "rg"), child("team", "root", nil, nil)},
	}
}

func TestAdmit(t *testing.T) {
	t.Run("gang_all_or_nothing", func(t *testing.T) {
		snap := twoA100()
		snap.Nodes = append(snap.Nodes, gpuNode("n3", "rg", "A100", 8))
		snap.Queued = []Workload{
			job("big", "team", 5, 0, pods("w", 4, 4, 16, 5, "A100")),
			job("fits", "team", 5, 1, pods("w", 3, 4, 16, 5, "A100")),
		}
		d := schedule(t, snap)
		wantIDs(t, "admitted", admitted(d), "fits")
		p := pending(t, d, "big")
		if p.Reason.Code != InsufficientNodeCapacity || p.Reason.Requested.GPU != 20 || p.Reason.Available.GPU != 24 || p.Reason.PodSet != "w" {
			t.Errorf("big: %+v", p.Reason)
		}
		if len(admission(t, d, "fits").Placements) != 3 {
			t.Error("want a placement per pod")
		}
	})
	t.Run("best_fit_fullest_node", func(t *testing.T) {
		snap := twoA100()
		snap.Running = []Workload{run(job("r", "team", 5, 0, pods("w", 1, 4, 16, 6, "A100")), 0, "n2")}
		snap.Queued = []Workload{job("q", "team", 5, 1, pods("w", 1, 1, 1, 2, "A100"))}
		d := schedule(t, snap)
		if n := admission(t, d, "q").Placements[0].Node; n != "n2" {
			t.Errorf("placed on %s, want the fuller n2", n)
		}
	})
	t.Run("pods_of_a_gang_spread_when_needed", func(t *testing.T) {
		snap := twoA100()
		snap.Queued = []Workload{job("q", "team", 5, 0, pods("m", 1, 1, 1, 2, "A100"), pods("w", 2, 1, 1, 6, "A100"))}
		d := schedule(t, snap)
		a := admission(t, d, "q")
		if a.Placements[0].PodSet != "m" || a.Placements[1].Node == a.Placements[2].Node {
			t.Errorf("placements %+v", a.Placements)
		}
	})
	t.Run("gpu_type_must_match", func(t *testing.T) {
		snap := twoA100()
		snap.Nodes = append(snap.Nodes, gpuNode("h1", "rg", "H100", 8))
		snap.Queued = []Workload{job("q", "team", 5, 0, pods("w", 1, 1, 1, 8, "H100"))}
		d := schedule(t, snap)
		if n := admission(t, d, "q").Placements[0].Node; n != "h1" {
			t.Errorf("placed on %s", n)
		}
	})
	t.Run("no_matching_gpu_type", func(t *testing.T) {
		snap := twoA100()
		snap.Queued = []Workload{job("q", "team", 5, 0, pods("w", 1, 1, 1, 1, "V100"))}
		d := schedule(t, snap)
		if r := pending(t, d, "q").Reason; r.Code != NoMatchingGPUType || r.GPUType != "V100" || r.Quota != "root" {
			t.Errorf("reason %+v", r)
		}
	})
	t.Run("cpu_only_pods_use_cpu_only_nodes", func(t *testing.T) {
		snap := twoA100()
		snap.Nodes = append(snap.Nodes, cpuNode("c1", "rg", 16))
		snap.Queued = []Workload{job("q", "team", 5, 0, pods("w", 1, 8, 8, 0, ""))}
		d := schedule(t, snap)
		if n := admission(t, d, "q").Placements[0].Node; n != "c1" {
			t.Errorf("placed on %s", n)
		}
		snap = twoA100()
		snap.Queued = []Workload{job("q", "team", 5, 0, pods("w", 1, 8, 8, 0, ""))}
		if r := pending(t, schedule(t, snap), "q").Reason; r.Code != NoMatchingGPUType {
			t.Errorf("without cpu nodes: %+v", r)
		}
	})
	t.Run("cpu_pod_naming_a_gpu_type_uses_its_nodes", func(t *testing.T) {
		snap := twoA100()
		snap.Queued = []Workload{job("q", "team", 5, 0, pods("w", 1, 8, 8, 0, "A100"))}
		admission(t, schedule(t, snap), "q")
	})
	t.Run("not_ready_and_draining_nodes_take_no_pods", func(t *testing.T) {
		snap := twoA100()
		snap.Nodes[0].State = NodeNotReady
		snap.Nodes[1].State = NodeDraining
		snap.Queued = []Workload{job("q", "team", 5, 0, pods("w", 1, 1, 1, 1, "A100"))}
		if r := pending(t, schedule(t, snap), "q").Reason; r.Code != NoMatchingGPUType {
			t.Errorf("reason %+v", r)
		}
	})
	t.Run("higher_priority_first", func(t *testing.T) {
		snap := twoA100()
		snap.Queued = []Workload{
			job("old-low", "team", 3, 0, pods("w", 2, 1, 1, 8, "A100")),
			job("new-high", "team", 9, 5, pods("w", 2, 1, 1, 8, "A100")),
		}
		d := schedule(t, snap)
		wantIDs(t, "admitted", admitted(d), "new-high")
	})
	t.Run("fifo_within_a_priority", func(t *testing.T) {
		snap := twoA100()
		snap.Queued = []Workload{
			job("second", "team", 5, 2, pods("w", 2, 1, 1, 8, "A100")),
			job("first", "team", 5, 1, pods("w", 2, 1, 1, 8, "A100")),
		}
		d := schedule(t, snap)
		wantIDs(t, "admitted", admitted(d), "first")
		if p := pending(t, d, "second"); p.Position != 2 {
			t.Errorf("position %d", p.Position)
		}
	})
	t.Run("invalid_workloads_stay_queued_with_reason", func(t *testing.T) {
		snap := twoA100()
		snap.Queued = []Workload{
			job("nowhere", "ghost", 5, 0, pods("w", 1, 1, 1, 1, "A100")),
			job("nopods", "team", 5, 0),
			{ID: "untyped", Quota: "team", Priority: 5, PodSets: []PodSet{{Name: "w", Count: 1, Request: vec(1, 1, 1)}}},
		}
		d := schedule(t, snap)
		for _, id := range []string{"nowhere", "nopods", "untyped"} {
			if r := pending(t, d, id).Reason; r.Code != InvalidWorkload || r.Detail == "" {
				t.Errorf("%s: %+v", id, r)
			}
		}
	})
	t.Run("node_order_does_not_matter", func(t *testing.T) {
		a, b := twoA100(), twoA100()
		b.Nodes[0], b.Nodes[1] = b.Nodes[1], b.Nodes[0]
		for _, s := range []*Snapshot{&a, &b} {
			s.Queued = []Workload{job("q", "team", 5, 0, pods("w", 1, 1, 1, 1, "A100"))}
		}
		if x, y := admission(t, schedule(t, a), "q"), admission(t, schedule(t, b), "q"); x.Placements[0] != y.Placements[0] {
			t.Errorf("%v vs %v", x.Placements, y.Placements)
		}
	})
}

// siblings is 16 A100 under a root with leaves a and b, min 8 GPUs each.
func siblings() Snapshot {
	snap := twoA100()
	min8 := gpuList("A100", 64, 512, 8)
	max16 := gpuList("A100", 64, 512, 16)
	snap.Quotas = []Quota{root("root", "rg"), child("a", "root", min8, max16), child("b", "root", min8, max16)}
	return snap
}

func TestQuota(t *testing.T) {
	t.Run("exceeds_max_names_the_quota", func(t *testing.T) {
		snap := siblings()
		snap.Nodes = append(snap.Nodes, gpuNode("n3", "rg", "A100", 8))
		snap.Queued = []Workload{job("q", "a", 5, 0, pods("w", 3, 1, 1, 8, "A100"))}
		r := pending(t, schedule(t, snap), "q").Reason
		if r.Code != ExceedsQuotaMax || r.Quota != "a" || r.Requested.GPU != 24 || r.Available.GPU != 16 {
			t.Errorf("reason %+v", r)
		}
	})
	t.Run("ancestor_max_binds", func(t *testing.T) {
		snap := twoA100()
		snap.Quotas = []Quota{{ID: "root", ResourceGroups: []string{"rg"}, Max: gpuList("A100", 64, 512, 8)}, child("team", "root", nil, nil)}
		snap.Queued = []Workload{job("q", "team", 5, 0, pods("w", 2, 1, 1, 8, "A100"))}
		if r := pending(t, schedule(t, snap), "q").Reason; r.Code != ExceedsQuotaMax || r.Quota != "root" {
			t.Errorf("reason %+v", r)
		}
	})
	t.Run("borrows_siblings_unused_min", func(t *testing.T) {
		snap := siblings()
		snap.Queued = []Workload{job("q", "a", 5, 0, pods("w", 2, 1, 1, 8, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)), "q")
	})
	t.Run("quota_exhausted_reports_numbers", func(t *testing.T) {
		snap := siblings()
		snap.Running = []Workload{run(job("r", "a", 5, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1")}
		snap.Quotas[1].Max = gpuList("A100", 64, 512, 12)
		snap.Queued = []Workload{job("q", "a", 5, 0, pods("w", 1, 1, 1, 8, "A100"))}
		r := pending(t, schedule(t, snap), "q").Reason
		if r.Code != QuotaExhausted || r.Quota != "a" || r.Available.GPU != 4 || r.Requested.GPU != 8 || r.GPUType != "A100" {
			t.Errorf("reason %+v", r)
		}
		if r.Message() == "" {
			t.Error("empty message")
		}
	})
	t.Run("lending_limit_honoured", func(t *testing.T) {
		snap := siblings()
		snap.Quotas[2].LendingLimit = gpuList("A100", 64, 512, 2)
		snap.Queued = []Workload{job("q", "a", 5, 0, pods("w", 1, 1, 1, 8, "A100"), pods("x", 1, 1, 1, 4, "A100"))}
		d := schedule(t, snap)
		r := pending(t, d, "q").Reason
		if r.Code != QuotaExhausted || r.Quota != "root" || r.Available.GPU != 10 {
			t.Errorf("reason %+v", r)
		}
		snap.Queued = []Workload{job("q", "a", 5, 0, pods("w", 1, 1, 1, 8, "A100"), pods("x", 1, 1, 1, 2, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)), "q")
	})
	t.Run("borrowing_stops_at_max", func(t *testing.T) {
		snap := siblings()
		snap.Quotas[1].Max = gpuList("A100", 64, 512, 10)
		snap.Queued = []Workload{job("q1", "a", 5, 0, pods("w", 1, 1, 1, 8, "A100")), job("q2", "a", 5, 1, pods("w", 1, 1, 1, 4, "A100"))}
		d := schedule(t, snap)
		wantIDs(t, "admitted", admitted(d), "q1")
		if r := pending(t, d, "q2").Reason; r.Code != QuotaExhausted || r.Quota != "a" {
			t.Errorf("reason %+v", r)
		}
	})
	t.Run("root_bounded_by_ready_nodes", func(t *testing.T) {
		snap := siblings()
		snap.Nodes[1].State = NodeDraining
		snap.Queued = []Workload{job("q", "a", 5, 0, pods("w", 2, 1, 1, 8, "A100"))}
		if r := pending(t, schedule(t, snap), "q").Reason; r.Code != InsufficientNodeCapacity || r.Quota != "root" {
			t.Errorf("reason %+v", r)
		}
	})
	t.Run("three_levels", func(t *testing.T) {
		snap := twoA100()
		snap.Quotas = []Quota{root("root", "rg"),
			child("dept", "root", gpuList("A100", 64, 512, 8), gpuList("A100", 64, 512, 8)),
			child("other", "root", gpuList("A100", 64, 512, 8), nil),
			child("team", "dept", nil, nil)}
		snap.Queued = []Workload{job("q1", "team", 5, 0, pods("w", 1, 1, 1, 8, "A100")), job("q2", "team", 5, 1, pods("w", 1, 1, 1, 1, "A100")),
			job("q3", "other", 5, 2, pods("w", 1, 1, 1, 8, "A100"))}
		d := schedule(t, snap)
		wantIDs(t, "admitted", admitted(d), "q1", "q3")
		if r := pending(t, d, "q2").Reason; r.Code != QuotaExhausted || r.Quota != "dept" {
			t.Errorf("reason %+v", r)
		}
	})
}

func TestQueue(t *testing.T) {
	withStrategy := func(s QueueStrategy) Snapshot {
		snap := twoA100()
		snap.Quotas[1].Strategy = s
		return snap
	}
	t.Run("strict_fifo_head_blocks", func(t *testing.T) {
		snap := withStrategy(StrictFIFO)
		snap.Queued = []Workload{job("head", "team", 5, 0, pods("w", 3, 1, 1, 8, "A100")), job("small", "team", 5, 1, pods("w", 1, 1, 1, 1, "A100"))}
		d := schedule(t, snap)
		wantIDs(t, "admitted", admitted(d))
		if p := pending(t, d, "small"); p.Reason.Code != StrictFIFOBlocked || p.Reason.Blocker != "head" || p.Position != 2 {
			t.Errorf("small: %+v", p)
		}
	})
	t.Run("strict_fifo_ignores_never_admissible_head", func(t *testing.T) {
		snap := withStrategy(StrictFIFO)
		snap.Queued = []Workload{job("head", "team", 5, 0, pods("w", 1, 1, 1, 1, "V100")), job("small", "team", 5, 1, pods("w", 1, 1, 1, 1, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)), "small")
	})
	t.Run("round_robin_skips_blocked_head", func(t *testing.T) {
		snap := withStrategy(RoundRobin)
		snap.Queued = []Workload{job("head", "team", 5, 0, pods("w", 3, 1, 1, 8, "A100")), job("small", "team", 5, 1, pods("w", 1, 1, 1, 1, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)), "small")
	})
	t.Run("intelligent_strict_at_high_priority", func(t *testing.T) {
		snap := withStrategy(Intelligent)
		snap.Queued = []Workload{job("high", "team", 8, 0, pods("w", 3, 1, 1, 8, "A100")), job("low", "team", 4, 1, pods("w", 1, 1, 1, 1, "A100"))}
		d := schedule(t, snap)
		wantIDs(t, "admitted", admitted(d))
		if p := pending(t, d, "low"); p.Reason.Code != WaitingBehindHigherPriority || p.Reason.Blocker != "high" {
			t.Errorf("low: %+v", p)
		}
	})
	t.Run("intelligent_round_robin_below_strict", func(t *testing.T) {
		snap := withStrategy(Intelligent)
		snap.Queued = []Workload{job("mid", "team", 6, 0, pods("w", 3, 1, 1, 8, "A100")), job("low", "team", 4, 1, pods("w", 1, 1, 1, 1, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)), "low")
	})
	t.Run("intelligent_aging_lifts_old_workloads", func(t *testing.T) {
		snap := withStrategy(Intelligent)
		snap.Policy.AgingInterval = 10 * time.Minute
		snap.Now = t0.Add(60 * time.Minute)
		snap.Queued = []Workload{job("old-low", "team", 3, 0, pods("w", 2, 1, 1, 8, "A100")), job("new-mid", "team", 5, 55, pods("w", 2, 1, 1, 8, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)), "old-low")
		snap.Policy.AgingInterval = 0
		wantIDs(t, "admitted without aging", admitted(schedule(t, snap)), "new-mid")
	})
	t.Run("aged_workload_becomes_strict", func(t *testing.T) {
		snap := withStrategy(Intelligent)
		snap.Policy.AgingInterval = 10 * time.Minute
		snap.Now = t0.Add(60 * time.Minute)
		snap.Queued = []Workload{job("aged", "team", 4, 0, pods("w", 3, 1, 1, 8, "A100")), job("later", "team", 4, 59, pods("w", 1, 1, 1, 1, "A100"))}
		d := schedule(t, snap)
		if p := pending(t, d, "later"); p.Reason.Code != WaitingBehindHigherPriority {
			t.Errorf("later: %+v", p)
		}
	})
	t.Run("queues_of_other_quotas_are_independent", func(t *testing.T) {
		snap := siblings()
		snap.Quotas[1].Strategy = StrictFIFO
		snap.Queued = []Workload{job("a-head", "a", 5, 0, pods("w", 3, 1, 1, 8, "A100")), job("b", "b", 5, 1, pods("w", 1, 1, 1, 1, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)), "b")
	})
	t.Run("priority_order_across_quotas", func(t *testing.T) {
		snap := siblings()
		snap.Queued = []Workload{job("a-low", "a", 3, 0, pods("w", 2, 1, 1, 8, "A100")), job("b-high", "b", 8, 5, pods("w", 2, 1, 1, 8, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)), "b-high")
	})
}

// preemptible is one 8×A100 node, quota "team" with in-quota preemption
// (preemptor ≥7 may preempt ≤3).
func preemptible() Snapshot {
	return Snapshot{
		Nodes:  []Node{gpuNode("n1", "rg", "A100", 8)},
		Quotas: []Quota{root("root", "rg"), {ID: "team", Parent: "root", PreemptorPriority: 7, PreemptedPriority: 3}},
	}
}

func TestPreempt(t *testing.T) {
	t.Run("in_quota_priority", func(t *testing.T) {
		snap := preemptible()
		snap.Running = []Workload{run(job("low", "team", 2, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1")}
		snap.Queued = []Workload{job("high", "team", 8, 1, pods("w", 1, 1, 1, 8, "A100"))}
		d := schedule(t, snap)
		if a := admission(t, d, "high"); len(a.Preempts) != 1 || a.Preempts[0] != "low" {
			t.Errorf("admission %+v", a)
		}
		if len(d.Preempted) != 1 || d.Preempted[0] != (Preemption{Workload: "low", By: "high", Reason: PreemptPriority}) {
			t.Errorf("preempted %+v", d.Preempted)
		}
	})
	t.Run("victims_lowest_priority_then_newest", func(t *testing.T) {
		snap := preemptible()
		snap.Running = []Workload{
			run(job("p2", "team", 2, 0, pods("w", 1, 1, 1, 2, "A100")), 0, "n1"),
			run(job("p1-old", "team", 1, 0, pods("w", 1, 1, 1, 2, "A100")), 1, "n1"),
			run(job("p1-new", "team", 1, 0, pods("w", 1, 1, 1, 2, "A100")), 2, "n1"),
			run(job("p3", "team", 3, 0, pods("w", 1, 1, 1, 2, "A100")), 3, "n1"),
		}
		snap.Queued = []Workload{job("high", "team", 8, 1, pods("w", 1, 1, 1, 4, "A100"))}
		wantIDs(t, "preempted", preempted(schedule(t, snap)), "p1-new", "p1-old")
		snap.Queued = []Workload{job("high", "team", 8, 1, pods("w", 1, 1, 1, 2, "A100"))}
		wantIDs(t, "preempted", preempted(schedule(t, snap)), "p1-new")
	})
	t.Run("only_needed_victims", func(t *testing.T) {
		snap := preemptible()
		snap.Running = []Workload{
			run(job("small", "team", 1, 0, pods("w", 1, 1, 1, 2, "A100")), 5, "n1"),
			run(job("big", "team", 2, 0, pods("w", 1, 1, 1, 6, "A100")), 0, "n1"),
		}
		snap.Queued = []Workload{job("high", "team", 8, 1, pods("w", 1, 1, 1, 6, "A100"))}
		wantIDs(t, "preempted", preempted(schedule(t, snap)), "big")
	})
	t.Run("not_above_preempted_priority", func(t *testing.T) {
		snap := preemptible()
		snap.Running = []Workload{run(job("mid", "team", 4, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1")}
		snap.Queued = []Workload{job("high", "team", 9, 1, pods("w", 1, 1, 1, 8, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)))
	})
	t.Run("not_below_preemptor_priority", func(t *testing.T) {
		snap := preemptible()
		snap.Running = []Workload{run(job("low", "team", 1, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1")}
		snap.Queued = []Workload{job("six", "team", 6, 1, pods("w", 1, 1, 1, 8, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)))
	})
	t.Run("min_runtime_protects", func(t *testing.T) {
		snap := preemptible()
		snap.Policy.MinRuntime = time.Hour
		snap.Now = t0.Add(30 * time.Minute)
		snap.Running = []Workload{run(job("low", "team", 1, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1")}
		snap.Queued = []Workload{job("high", "team", 8, 1, pods("w", 1, 1, 1, 8, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)))
		snap.Now = t0.Add(61 * time.Minute)
		wantIDs(t, "admitted later", admitted(schedule(t, snap)), "high")
	})
	t.Run("quota_min_runtime_protects", func(t *testing.T) {
		snap := preemptible()
		for i := range snap.Quotas {
			if snap.Quotas[i].ID == "team" {
				snap.Quotas[i].MinRuntime = time.Hour
			}
		}
		snap.Now = t0.Add(30 * time.Minute)
		snap.Running = []Workload{run(job("low", "team", 1, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1")}
		snap.Queued = []Workload{job("high", "team", 8, 1, pods("w", 1, 1, 1, 8, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)))
		snap.Now = t0.Add(61 * time.Minute)
		wantIDs(t, "admitted later", admitted(schedule(t, snap)), "high")
	})
	t.Run("other_quotas_untouched_by_priority", func(t *testing.T) {
		snap := preemptible()
		snap.Quotas = append(snap.Quotas, Quota{ID: "other", Parent: "root"})
		snap.Running = []Workload{run(job("low", "other", 1, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1")}
		snap.Queued = []Workload{job("high", "team", 8, 1, pods("w", 1, 1, 1, 8, "A100"))}
		wantIDs(t, "admitted", admitted(schedule(t, snap)))
	})
	borrowed := func() Snapshot {
		snap := siblings()
		snap.Running = []Workload{
			run(job("b1", "b", 3, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1"),
			run(job("b2", "b", 3, 0, pods("w", 1, 1, 1, 8, "A100")), 1, "n2"),
		}
		return snap
	}
	t.Run("reclaim_from_lower_priority_borrower", func(t *testing.T) {
		snap := borrowed()
		snap.Queued = []Workload{job("a", "a", 5, 2, pods("w", 1, 1, 1, 8, "A100"))}
		d := schedule(t, snap)
		wantIDs(t, "preempted", preempted(d), "b2")
		if d.Preempted[0].Reason != PreemptReclaim {
			t.Errorf("reason %s", d.Preempted[0].Reason)
		}
	})
	t.Run("reclaim_spares_equal_priority_by_default", func(t *testing.T) {
		snap := borrowed()
		snap.Queued = []Workload{job("a", "a", 3, 2, pods("w", 1, 1, 1, 8, "A100"))}
		wantIDs(t, "preempted", preempted(schedule(t, snap)))
		snap.Policy.Reclaim = ReclaimAny
		wantIDs(t, "preempted with ReclaimAny", preempted(schedule(t, snap)), "b2")
		snap.Policy.Reclaim = ReclaimNever
		snap.Queued[0].Priority = 9
		wantIDs(t, "preempted with ReclaimNever", preempted(schedule(t, snap)))
	})
	t.Run("reclaim_only_within_min", func(t *testing.T) {
		snap := borrowed()
		snap.Queued = []Workload{job("a", "a", 5, 2, pods("w", 2, 1, 1, 8, "A100"))}
		wantIDs(t, "preempted", preempted(schedule(t, snap)))
	})
	t.Run("reclaim_spares_quota_within_min", func(t *testing.T) {
		snap := borrowed()
		snap.Running = snap.Running[:1] // b uses exactly its min
		snap.Quotas = append(snap.Quotas, child("c", "root", nil, nil))
		snap.Running = append(snap.Running, run(job("c1", "c", 1, 0, pods("w", 1, 1, 1, 8, "A100")), 3, "n2"))
		snap.Queued = []Workload{job("a", "a", 5, 2, pods("w", 1, 1, 1, 8, "A100"))}
		wantIDs(t, "preempted", preempted(schedule(t, snap)), "c1")
	})
	t.Run("no_preemption_cycle", func(t *testing.T) {
		snap := borrowed()
		snap.Queued = []Workload{job("a", "a", 5, 2, pods("w", 1, 1, 1, 8, "A100"))}
		s, err := New(snap)
		if err != nil {
			t.Fatal(err)
		}
		d1 := s.Pass(t0.Add(time.Hour))
		wantIDs(t, "first pass preempted", preempted(d1), "b2")
		d2 := s.Pass(t0.Add(time.Hour))
		wantIDs(t, "second pass preempted", preempted(d2))
		wantIDs(t, "second pass admitted", admitted(d2))
		if p, _ := s.Explain("b2"); p.Reason.Code != QuotaExhausted && p.Reason.Code != InsufficientNodeCapacity {
			t.Errorf("b2: %+v", p)
		}
	})
	t.Run("victims_not_needed_are_not_taken_from_other_gpu_types", func(t *testing.T) {
		snap := preemptible()
		snap.Nodes = append(snap.Nodes, gpuNode("h1", "rg", "H100", 8))
		snap.Running = []Workload{run(job("h", "team", 1, 0, pods("w", 1, 1, 1, 8, "H100")), 0, "h1"),
			run(job("a", "team", 2, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1")}
		snap.Queued = []Workload{job("high", "team", 8, 1, pods("w", 1, 1, 1, 8, "A100"))}
		wantIDs(t, "preempted", preempted(schedule(t, snap)), "a")
	})
}

func TestWhatIf(t *testing.T) {
	snap := preemptible()
	snap.Running = []Workload{run(job("low", "team", 1, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1")}
	s, err := New(snap)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	a, _, err := s.WhatIf(job("high", "team", 8, 1, pods("w", 1, 1, 1, 8, "A100")), now)
	if err != nil || a == nil || a.Placements[0].Node != "n1" || len(a.Preempts) != 1 || a.Preempts[0] != "low" {
		t.Fatalf("what-if: %+v %v", a, err)
	}
	a, p, _ := s.WhatIf(job("mid", "team", 5, 1, pods("w", 1, 1, 1, 8, "A100")), now)
	if a != nil || p.Reason.Code != InsufficientNodeCapacity || p.Position != 1 {
		t.Errorf("what-if mid: %+v %+v", a, p)
	}
	// Nothing changed.
	if pl, ok := s.Running("low"); !ok || pl[0].Node != "n1" {
		t.Error("what-if changed the state")
	}
	if d := s.Pass(now); len(d.Admitted)+len(d.Preempted)+len(d.Queued) != 0 {
		t.Errorf("pass after what-if: %s", dump(d))
	}
}

func TestIncremental(t *testing.T) {
	snap := siblings()
	snap.Quotas = append(snap.Quotas, Quota{ID: "other-root", ResourceGroups: []string{"rg2"}})
	snap.Nodes = append(snap.Nodes, gpuNode("x1", "rg2", "A100", 8))
	s, err := New(snap)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	s.Pass(now)
	must(t, s.Submit(job("j1", "a", 5, 1, pods("w", 2, 1, 1, 8, "A100"))))
	d := s.Refresh(now)
	wantIDs(t, "admitted j1", admitted(d), "j1")
	must(t, s.Submit(job("j2", "b", 5, 2, pods("w", 1, 1, 1, 8, "A100"))))
	must(t, s.Submit(job("x", "other-root", 5, 2, pods("w", 1, 1, 1, 8, "A100"))))
	d = s.Refresh(now)
	wantIDs(t, "admitted", admitted(d), "x")
	if p, ok := s.Explain("j2"); !ok || p.Reason.Code != InsufficientNodeCapacity || p.Position != 1 {
		t.Errorf("j2: %+v", p)
	}
	if !s.Remove("j1") {
		t.Fatal("remove j1")
	}
	d = s.Refresh(now)
	wantIDs(t, "admitted after j1 finished", admitted(d), "j2")
	if len(d.Queued) != 0 {
		t.Errorf("refresh evaluated %d workloads of a clean tree", len(d.Queued))
	}
	if s.Submit(job("j2", "b", 5, 2)) == nil {
		t.Error("duplicate accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var _ = resource.Vector{}

func TestUsage(t *testing.T) {
	snap := siblings()
	snap.Running = []Workload{
		run(job("b1", "b", 3, 0, pods("w", 1, 1, 1, 8, "A100")), 0, "n1"),
		run(job("b2", "b", 3, 0, pods("w", 1, 1, 1, 8, "A100")), 1, "n2"),
	}
	snap.Running[0].Used = resource.List{"A100": vec(0, 0, 5)}
	snap.Queued = []Workload{job("a1", "a", 5, 2, pods("w", 1, 1, 1, 4, "A100"))}
	u, err := Usage(snap)
	if err != nil {
		t.Fatal(err)
	}
	get := func(q string) TypeUsage {
		for _, tu := range u[q].Types {
			if tu.GPUType == "A100" {
				return tu
			}
		}
		t.Fatalf("%s has no A100 usage: %+v", q, u[q])
		return TypeUsage{}
	}
	a, b, r := get("a"), get("b"), get("root")
	if a.Min.GPU != 8 || a.Max.GPU != 16 || a.Allocated.GPU != 0 || a.Requested.GPU != 4 || a.Lent.GPU != 8 || a.Borrowed.GPU != 0 {
		t.Errorf("a: %+v", a)
	}
	if b.Allocated.GPU != 16 || b.Used.GPU != 13 || b.Borrowed.GPU != 8 || b.Lent.GPU != 0 || b.Available.GPU != 0 {
		t.Errorf("b: %+v", b)
	}
	if r.Allocated.GPU != 16 || r.Requested.GPU != 4 || !r.MaxUnlimited || u["a"].Parent != "root" {
		t.Errorf("root: %+v", r)
	}
}
