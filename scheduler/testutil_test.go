package scheduler

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"atrium/resource"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const gi = int64(1) << 30

// vec is cores, GiB, gpus.
func vec(cores, memGi, gpu int64) resource.Vector {
	return resource.Vector{MilliCPU: cores * 1000, Memory: memGi * gi, GPU: gpu}
}

func gpuNode(name, group, typ string, gpus int64) Node {
	return Node{Name: name, Group: group, GPUType: typ, Capacity: vec(32, 256, gpus), State: NodeReady}
}

func cpuNode(name, group string, cores int64) Node {
	return Node{Name: name, Group: group, Capacity: vec(cores, cores*4, 0), State: NodeReady}
}

// pods is a pod set of n pods of cores, GiB, gpus of gpuType typ.
func pods(name string, n int, cores, memGi, gpu int64, typ string) PodSet {
	return PodSet{Name: name, Count: n, Request: vec(cores, memGi, gpu), GPUType: typ}
}

// job is a workload submitted at minute min.
func job(id, quota string, prio, min int, sets ...PodSet) Workload {
	return Workload{ID: id, Kind: "DLC", Quota: quota, Priority: prio, Submitted: t0.Add(time.Duration(min) * time.Minute), PodSets: sets}
}

// run makes w running since minute min with its pods on nodes, in order.
func run(w Workload, min int, nodes ...string) Workload {
	w.Started = t0.Add(time.Duration(min) * time.Minute)
	i := 0
	for _, ps := range w.PodSets {
		for p := 0; p < ps.Count; p++ {
			w.Placements = append(w.Placements, Placement{PodSet: ps.Name, Pod: p, Node: nodes[i%len(nodes)]})
			i++
		}
	}
	return w
}

func gpuList(typ string, cores, memGi, gpu int64) resource.List {
	return resource.List{typ: vec(cores, memGi, gpu)}
}

func root(id string, groups ...string) Quota {
	return Quota{ID: id, ResourceGroups: groups}
}

func child(id, parent string, min, max resource.List) Quota {
	return Quota{ID: id, Parent: parent, Min: min, Max: max}
}

func schedule(t *testing.T, snap Snapshot) Decisions {
	t.Helper()
	if snap.Now.IsZero() {
		snap.Now = t0.Add(24 * time.Hour)
	}
	d, err := Schedule(snap)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func admitted(d Decisions) []string {
	var out []string
	for _, a := range d.Admitted {
		out = append(out, a.Workload)
	}
	slices.Sort(out)
	return out
}

func preempted(d Decisions) []string {
	var out []string
	for _, p := range d.Preempted {
		out = append(out, p.Workload)
	}
	slices.Sort(out)
	return out
}

func pending(t *testing.T, d Decisions, id string) Pending {
	t.Helper()
	for _, p := range d.Queued {
		if p.Workload == id {
			return p
		}
	}
	t.Fatalf("%s is not queued; decisions %s", id, dump(d))
	return Pending{}
}

func admission(t *testing.T, d Decisions, id string) Admission {
	t.Helper()
	for _, a := range d.Admitted {
		if a.Workload == id {
			return a
		}
	}
	t.Fatalf("%s is not admitted; decisions %s", id, dump(d))
	return Admission{}
}

func dump(d Decisions) string {
	s := fmt.Sprintf("admitted %v preempted %v queued:", admitted(d), preempted(d))
	for _, p := range d.Queued {
		s += fmt.Sprintf(" %s@%d=%s(%s)", p.Workload, p.Position, p.Reason.Code, p.Reason.Message())
	}
	return s
}

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(want) == 0 {
		want = nil
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
