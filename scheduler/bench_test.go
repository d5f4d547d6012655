package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

var benchCfg = SynthConfig{Nodes: 10000, Quotas: 1000, Jobs: 100000, Seed: 1}

// BenchmarkFullPass is one pass over 100k queued jobs on an empty cluster of
// 10k nodes and 1k quotas: it admits until the cluster is full.
func BenchmarkFullPass(b *testing.B) {
	snap := Synth(benchCfg)
	b.ReportAllocs()
	admittedTotal := 0
	for b.Loop() {
		b.StopTimer()
		s, err := New(snap)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		d := s.Pass(snap.Now)
		admittedTotal += len(d.Admitted)
	}
	b.ReportMetric(float64(admittedTotal)/float64(b.N), "admitted/op")
}

// BenchmarkSaturatedPass is a full pass over the queue at the fixed point:
// every queued job is re-evaluated and nothing fits.
func BenchmarkSaturatedPass(b *testing.B) {
	snap := Synth(benchCfg)
	s, err := New(snap)
	if err != nil {
		b.Fatal(err)
	}
	for len(s.Pass(snap.Now).Admitted) > 0 {
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Pass(snap.Now)
	}
}

// BenchmarkIncremental is the steady state at the fixed point: one running
// job finishes, one job is submitted, and Refresh re-evaluates what changed.
func BenchmarkIncremental(b *testing.B) {
	snap := Synth(benchCfg)
	s, err := New(snap)
	if err != nil {
		b.Fatal(err)
	}
	for len(s.Pass(snap.Now).Admitted) > 0 {
	}
	var running []string
	for id, e := range s.byID { // sorted below
		if e.running {
			running = append(running, id)
		}
	}
	slices.Sort(running)
	rng := rand.New(rand.NewPCG(2, 2))
	leaves := []string{}
	for _, q := range snap.Quotas {
		if len(q.ID) > 7 && q.ID[:7] == "quota-t" {
			leaves = append(leaves, q.ID)
		}
	}
	admittedTotal, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		k := rng.IntN(len(running))
		s.Remove(running[k])
		running[k] = running[len(running)-1]
		running = running[:len(running)-1]
		w := synthJob(rng, 0, leaves[rng.IntN(len(leaves))])
		w.ID = fmt.Sprintf("inc-%d", i)
		i++
		if err := s.Submit(w); err != nil {
			b.Fatal(err)
		}
		d := s.Refresh(snap.Now)
		for _, a := range d.Admitted {
			running = append(running, a.Workload)
		}
		admittedTotal += len(d.Admitted)
	}
	b.ReportMetric(float64(admittedTotal)/float64(b.N), "admitted/op")
}
