package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"atrium"
	"atrium/cluster"
	"atrium/dispatch"
	"atrium/executor"
	"atrium/executor/container"
	"atrium/executor/local"
	"atrium/executor/slurm"
	"atrium/jobmount"
)

// jobRuntime wires the executors and the scheduling loop, and is what the
// API sees of them (httpapi.JobRuntime).
type jobRuntime struct {
	store     atrium.Store
	loop      *dispatch.Service
	executors map[string]executor.Executor
	// runtime is how local pods run: podman or process.
	runtime string
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

// runtimeConfig says how the local resource group runs pods.
type runtimeConfig struct {
	runtime       string // auto, podman or process
	containerUser string
	datasetRoots  []string
	// pullTimeout bounds one image pull (a Go duration).
	pullTimeout string
	// credentials answers which registry credentials pull an image.
	credentials container.CredentialsFunc
}

// Runtimes for the local resource group.
const (
	runtimeAuto    = "auto"
	runtimePodman  = "podman"
	runtimeProcess = "process"
)

// localExecutor picks the local resource group's executor: containers
// when podman works here (or is asked for), host processes otherwise. It
// returns the executor, the runtime chosen, and a function to call when a
// pod ends.
func localExecutor(ctx context.Context, dataDir string, pods *podLayout, rc runtimeConfig, logger *slog.Logger) (executor.Executor, string, func(func()), error) {
	if _, _, err := container.ParseUser(rc.containerUser); err != nil {
		return nil, "", nil, fmt.Errorf("--container-user: %w", err)
	}
	pullTimeout := container.DefaultPullTimeout
	if rc.pullTimeout != "" {
		d, err := time.ParseDuration(rc.pullTimeout)
		if err != nil || d <= 0 || d > 24*time.Hour {
			return nil, "", nil, fmt.Errorf("--image-pull-timeout: %q must be a duration from 1s to 24h, such as 10m", rc.pullTimeout)
		}
		pullTimeout = d
	}
	switch rc.runtime {
	case runtimeAuto, runtimePodman:
		rt, err := container.Detect(ctx, "")
		if err == nil {
			cx, err := container.New(container.Config{Dir: filepath.Join(dataDir, "containers"), User: rc.containerUser,
				Credentials: rc.credentials, PullTimeout: pullTimeout, Logger: logger.With("executor", "container")})
			if err != nil {
				return nil, "", nil, err
			}
			logger.Info("pods run in containers: each job gets its image, its own network and only its mounts",
				"runtime", rt.String(), "containerUser", rc.containerUser)
			return cx, runtimePodman, func(f func()) { cx.OnExit = f }, nil
		}
		if rc.runtime == runtimePodman {
			return nil, "", nil, fmt.Errorf("--runtime podman: %w", err)
		}
		logger.Info("no container runtime found; falling back to process mode", "reason", err.Error())
	case runtimeProcess:
	default:
		return nil, "", nil, fmt.Errorf("--runtime: must be auto, podman or process, not %q", rc.runtime)
	}
	// Records in the private data directory, working directories under
	// the pod directory (see podmode.go).
	lx, err := local.Open(local.Config{Dir: filepath.Join(dataDir, "pods"), WorkDir: pods.jobsDir(), User: pods.user,
		Logger: logger.With("executor", "local")})
	if err != nil {
		return nil, "", nil, err
	}
	warnNotIsolated(logger, pods)
	return lx, runtimeProcess, func(f func()) { lx.OnExit = f }, nil
}

// startJobs starts the executors this host can run — always the local one,
// Slurm when its client (sbatch) is installed — and prepares the
// scheduling loop.
func startJobs(ctx context.Context, db atrium.Store, dataDir string, pods *podLayout, rc runtimeConfig, secrets jobmount.Opener, logger *slog.Logger) (*jobRuntime, error) {
	lx, runtime, onExit, err := localExecutor(ctx, dataDir, pods, rc, logger)
	if err != nil {
		return nil, err
	}
	exs := map[string]executor.Executor{atrium.BackendLocal: lx}
	if _, err := exec.LookPath("sbatch"); err == nil {
		// Slurm is optional: a problem with it must not keep Atrium down.
		if sx, err := slurm.New(slurm.Config{WorkDir: envOr("ATRIUM_SLURM_WORK_DIR", pods.slurmDir())}, logger.With("executor", "slurm")); err != nil {
			logger.Warn("slurm executor disabled", "err", err)
		} else {
			exs[atrium.BackendSlurm] = sx
			logger.Info("slurm executor ready (sbatch found)")
		}
	}
	r := &jobRuntime{store: db, executors: exs, runtime: runtime}
	mounts := &jobmount.Resolver{Store: db, RunDir: pods.runsDir(), DatasetRoots: rc.datasetRoots, CodeDir: pods.codeDir(), Secrets: secrets}
	loop, err := dispatch.New(dispatch.Config{Store: db, Executors: exs, Policy: cluster.DefaultPolicy, Logger: logger.With("service", "dispatch"),
		DSWPageCommand: pods.dswPage, Mounts: mounts.Mounts, OutputDir: pods.outputsDir(),
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
	onExit(loop.Wake)
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
