package main

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"atrium"
	"atrium/cluster"
	"atrium/dispatch"
	"atrium/executor"
	"atrium/executor/local"
	"atrium/executor/slurm"
)

// jobRuntime wires the executors and the scheduling loop, and is what the
// API sees of them (httpapi.JobRuntime).
type jobRuntime struct {
	store     atrium.Store
	loop      *dispatch.Service
	executors map[string]executor.Executor
	// jobsChanged is called when the loop saw jobs end or change (set once
	// the pipeline controller exists; the loop may already run).
	jobsChanged atomic.Pointer[func()]
}

func (r *jobRuntime) Wake() { r.loop.Wake() }

func (r *jobRuntime) Executor(backend string) (executor.Executor, bool) {
	ex, ok := r.executors[backend]
	return ex, ok
}

func (r *jobRuntime) stop() { r.loop.Stop() }

// startJobs starts the executors this host can run — always the local one,
// Slurm when its client (sbatch) is installed — and prepares the
// scheduling loop.
func startJobs(ctx context.Context, db atrium.Store, dataDir string, logger *slog.Logger) (*jobRuntime, error) {
	lx, err := local.New(filepath.Join(dataDir, "pods"), logger.With("executor", "local"))
	if err != nil {
		return nil, err
	}
	exs := map[string]executor.Executor{atrium.BackendLocal: lx}
	if _, err := exec.LookPath("sbatch"); err == nil {
		// Slurm is optional: a problem with it must not keep Atrium down.
		if sx, err := slurm.New(slurm.Config{WorkDir: envOr("ATRIUM_SLURM_WORK_DIR", filepath.Join(dataDir, "slurm"))}, logger.With("executor", "slurm")); err != nil {
			logger.Warn("slurm executor disabled", "err", err)
		} else {
			exs[atrium.BackendSlurm] = sx
			logger.Info("slurm executor ready (sbatch found)")
		}
	}
	r := &jobRuntime{store: db, executors: exs}
	loop, err := dispatch.New(dispatch.Config{Store: db, Executors: exs, Policy: cluster.DefaultPolicy, Logger: logger.With("service", "dispatch"),
		JobsChanged: func() {
			if fn := r.jobsChanged.Load(); fn != nil {
				(*fn)()
			}
		}})
	if err != nil {
		return nil, err
	}
	r.loop = loop
	// A pod's end frees capacity: schedule again at once, not at the next tick.
	lx.OnExit = loop.Wake
	// serve starts the loop on the replica that leads (package leader).
	return r, nil
}

// ImportNodes records the nodes of a slurm group's partition; a Slurm node
// whose name another group already uses is recorded as <group>-<name>.
// Nodes of the group that Slurm no longer lists become NotReady.
func (r *jobRuntime) ImportNodes(ctx context.Context, g *atrium.ResourceGroup) ([]*atrium.Node, error) {
	sx, ok := r.executors[atrium.BackendSlurm].(*slurm.Executor)
	if !ok {
		return nil, atrium.Errorf(atrium.EUNAVAILABLE, "this server has no slurm executor")
	}
	infos, err := sx.ImportNodes(ctx)
	if err != nil {
		return nil, atrium.Errorf(atrium.EUNAVAILABLE, "cannot read nodes from Slurm: %v", err)
	}
	all, err := r.store.FindNodes(ctx, "")
	if err != nil {
		return nil, err
	}
	taken := map[string]string{} // node name → group
	for _, n := range all {
		taken[n.Name] = n.GroupID
	}
	seen := map[string]bool{}
	var out []*atrium.Node
	for _, in := range infos {
		if g.Partition != "" && !slices.Contains(in.Partitions, g.Partition) {
			continue
		}
		n := in.Node(g.ID)
		name := strings.ToLower(in.Name)
		if grp, ok := taken[name]; ok && grp != g.ID {
			name = g.Name + "-" + name
		}
		n.Name, n.Labels = name, map[string]string{"slurmNode": in.Name, "slurmState": in.SlurmState}
		if err := r.store.PutNode(ctx, &n); err != nil {
			return nil, err
		}
		seen[name] = true
		out = append(out, &n)
	}
	for _, n := range all {
		if n.GroupID == g.ID && !seen[n.Name] && n.State != atrium.NodeNotReady {
			n.State = atrium.NodeNotReady
			if err := r.store.PutNode(ctx, n); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
