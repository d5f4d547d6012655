package main

import (
	"context"
	"log/slog"

	"atrium"
	"atrium/pipeline"
)

// startPipelines starts the pipeline controller; node inputs and outputs
// live under <pod-dir>/pipeline-runs/<runId>, which the pods own.
func startPipelines(ctx context.Context, db atrium.Store, pods *podLayout, jobs *jobRuntime, sql interface{ Wake() }, logger *slog.Logger) (*pipeline.Controller, error) {
	pc, err := pipeline.New(pipeline.Config{Store: db, RunDir: pods.runsDir(), MakeDir: pods.makeDir,
		Logger: logger.With("service", "pipeline"), WakeJobs: jobs.Wake, WakeSQL: sql.Wake})
	if err != nil {
		return nil, err
	}
	pc.Start(ctx)
	return pc, nil
}
