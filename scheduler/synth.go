package scheduler

import (
	"fmt"
	"math/rand/v2"
	"time"

	"atrium/resource"
)

// SynthConfig sizes a synthetic cluster for benchmarks and property tests.
type SynthConfig struct {
	Nodes  int   // nodes, spread over one resource group per root quota
	Quotas int   // quotas in a 3-level tree: ~1% roots, ~9% departments, the rest teams
	Jobs   int   // queued workloads
	Seed   int64 // same seed, same snapshot
}

// synthType is a node flavour of the synthetic cluster.
type synthType struct {
	name   string
	share  int // percent of nodes
	gpus   int64
	cores  int64
	memory int64 // GiB
}

var synthTypes = []synthType{
	{"A100", 40, 8, 96, 1024},
	{"H100", 20, 8, 128, 2048},
	{"T4", 20, 4, 48, 256},
	{"", 20, 0, 64, 256},
}

// SynthEpoch is the submission time of the first synthetic job; Synth sets
// Snapshot.Now a day later.
var SynthEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Synth builds a reproducible synthetic snapshot: mixed gpuTypes (A100, H100,
// T4 and CPU-only nodes), a 3-level quota tree whose mins share out each
// root's capacity and whose maxes allow borrowing, all queueing strategies,
// in-quota preemption on some quotas, and queued jobs with gang sizes 1–16
// and priorities 1–9. Nothing runs yet.
func Synth(cfg SynthConfig) Snapshot {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed))
	nq := max(cfg.Quotas, 3)
	nRoots := max(1, nq/100)
	nMids := max(nRoots, nq*9/100)
	nLeaves := max(1, nq-nRoots-nMids)
	snap := Snapshot{Now: SynthEpoch.Add(24 * time.Hour), Policy: Policy{AgingInterval: time.Hour, MinRuntime: 0}}

	// Nodes: round-robin over groups so every root gets every flavour.
	capacity := make([]map[string]resource.Vector, nRoots)
	for i := range capacity {
		capacity[i] = map[string]resource.Vector{}
	}
	for i := 0; i < cfg.Nodes; i++ {
		ft := synthTypes[len(synthTypes)-1]
		p := i % 100
		for _, t := range synthTypes {
			if p < t.share {
				ft = t
				break
			}
			p -= t.share
		}
		g := i % nRoots
		c := resource.Vector{MilliCPU: ft.cores * 1000, Memory: ft.memory << 30, GPU: ft.gpus}
		snap.Nodes = append(snap.Nodes, Node{Name: fmt.Sprintf("node-%05d", i), Group: fmt.Sprintf("rg-%03d", g), GPUType: ft.name, Capacity: c, State: NodeReady})
		capacity[g][ft.name] = capacity[g][ft.name].Add(c)
	}
	strategies := []QueueStrategy{RoundRobin, RoundRobin, RoundRobin, Intelligent, Intelligent, StrictFIFO}
	share := func(l map[string]resource.Vector, num, den int64) resource.List {
		out := resource.List{}
		for t, v := range l {
			out[t] = resource.Vector{MilliCPU: v.MilliCPU * num / den, Memory: v.Memory * num / den, GPU: v.GPU * num / den}
		}
		return out
	}
	for r := 0; r < nRoots; r++ {
		snap.Quotas = append(snap.Quotas, Quota{ID: fmt.Sprintf("quota-r%03d", r), ResourceGroups: []string{fmt.Sprintf("rg-%03d", r)}})
	}
	midsOf := make([][]int, nRoots)
	mids := make([]resource.List, nMids)
	for m := 0; m < nMids; m++ {
		r := m % nRoots
		midsOf[r] = append(midsOf[r], m)
	}
	for m := 0; m < nMids; m++ {
		r := m % nRoots
		n := int64(len(midsOf[r]))
		mids[m] = share(capacity[r], 9, 10*n)
		snap.Quotas = append(snap.Quotas, Quota{ID: fmt.Sprintf("quota-m%03d", m), Parent: fmt.Sprintf("quota-r%03d", r),
			Min: mids[m], Max: share(capacity[r], 3, n), Strategy: RoundRobin})
	}
	leavesOf := make([]int, nMids)
	for l := 0; l < nLeaves; l++ {
		leavesOf[l%nMids]++
	}
	leafIDs := make([]string, nLeaves)
	for l := 0; l < nLeaves; l++ {
		m := l % nMids
		n := int64(leavesOf[m])
		q := Quota{ID: fmt.Sprintf("quota-t%04d", l), Parent: fmt.Sprintf("quota-m%03d", m),
			Min: share(mids[m], 9, 10*n), Max: share(mids[m], 4, n), Strategy: strategies[rng.IntN(len(strategies))]}
		if rng.IntN(3) == 0 {
			q.PreemptorPriority, q.PreemptedPriority = 7, 3
		}
		if rng.IntN(5) == 0 {
			q.LendingLimit = share(q.Min, 1, 2)
		}
		snap.Quotas = append(snap.Quotas, q)
		leafIDs[l] = q.ID
	}
	for j := 0; j < cfg.Jobs; j++ {
		snap.Queued = append(snap.Queued, synthJob(rng, j, leafIDs[rng.IntN(nLeaves)]))
	}
	return snap
}

// synthJob draws one job: mostly small gangs, a few large ones.
func synthJob(rng *rand.Rand, j int, quota string) Workload {
	ft := synthTypes[0]
	p := rng.IntN(100)
	for _, t := range synthTypes {
		if p < t.share {
			ft = t
			break
		}
		p -= t.share
	}
	gang := []int{1, 1, 1, 1, 1, 1, 2, 2, 4, 4, 8, 16}[rng.IntN(12)]
	var req resource.Vector
	if ft.gpus > 0 {
		g := []int64{1, 1, 2, 4, 8}[rng.IntN(5)]
		g = min(g, ft.gpus)
		req = resource.Vector{MilliCPU: g * ft.cores * 1000 / ft.gpus / 2, Memory: g * (ft.memory << 30) / ft.gpus / 2, GPU: g}
	} else {
		c := []int64{1, 2, 4, 8, 16, 32}[rng.IntN(6)]
		req = resource.Vector{MilliCPU: c * 1000, Memory: c * 4 << 30}
	}
	prio := []int{1, 2, 3, 3, 4, 4, 5, 5, 5, 5, 6, 6, 7, 8, 9}[rng.IntN(15)]
	w := Workload{ID: fmt.Sprintf("dlc-%06d", j), Kind: "DLC", Quota: quota, Priority: prio,
		Submitted: SynthEpoch.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))}
	if gang > 1 && rng.IntN(2) == 0 {
		w.PodSets = []PodSet{{Name: "Master", Count: 1, Request: req, GPUType: ft.name}, {Name: "Worker", Count: gang - 1, Request: req, GPUType: ft.name}}
	} else {
		w.PodSets = []PodSet{{Name: "Worker", Count: gang, Request: req, GPUType: ft.name}}
	}
	return w
}
