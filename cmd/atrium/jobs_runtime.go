package main

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"

	"atrium"
	"atrium/dispatch"
	"atrium/executor"
	"atrium/executor/local"
	"atrium/executor/slurm"
)

// jobRuntime wires the executors and the scheduling loop, and is what the
// API sees of them (httpapi.JobRuntime).
type jobRuntime struct {
	loop      *dispatch.Service
	executors map[string]executor.Executor
}

func (r *jobRuntime) Wake() { r.loop.Wake() }

func (r *jobRuntime) Executor(backend string) (executor.Executor, bool) {
	ex, ok := r.executors[backend]
	return ex, ok
}

func (r *jobRuntime) stop() { r.loop.Stop() }

// startJobs starts the executors this host can run — always the local one,
// Slurm when its client (sbatch) is installed — and the scheduling loop.
func startJobs(ctx context.Context, db atrium.Store, dataDir string, logger *slog.Logger) (*jobRuntime, error) {
	lx, err := local.New(filepath.Join(dataDir, "pods"), logger.With("executor", "local"))
	if err != nil {
		return nil, err
	}
	exs := map[string]executor.Executor{atrium.BackendLocal: lx}
	if _, err := exec.LookPath("sbatch"); err == nil {
		sx, err := slurm.New(slurm.Config{WorkDir: filepath.Join(dataDir, "slurm")}, logger.With("executor", "slurm"))
		if err != nil {
			return nil, err
		}
		exs[atrium.BackendSlurm] = sx
		logger.Info("slurm executor ready (sbatch found)")
	}
	loop, err := dispatch.New(dispatch.Config{Store: db, Executors: exs, Logger: logger.With("service", "dispatch")})
	if err != nil {
		return nil, err
	}
	loop.Start(ctx)
	return &jobRuntime{loop: loop, executors: exs}, nil
}
