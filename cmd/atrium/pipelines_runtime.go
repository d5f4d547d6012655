package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"atrium"
	"atrium/pipeline"
)

// startPipelines starts the pipeline controller; node inputs and outputs
// live under <dataDir>/pipeline-runs/<runId>.
func startPipelines(ctx context.Context, db atrium.Store, dataDir string, jobs *jobRuntime, sql interface{ Wake() }, logger *slog.Logger) (*pipeline.Controller, error) {
	pc, err := pipeline.New(pipeline.Config{Store: db, RunDir: pipelineRunDir(dataDir),
		Logger: logger.With("service", "pipeline"), WakeJobs: jobs.Wake, WakeSQL: sql.Wake})
	if err != nil {
		return nil, err
	}
	pc.Start(ctx)
	return pc, nil
}

// pipelineRunDir holds the runs' node inputs and outputs.
func pipelineRunDir(dataDir string) string { return filepath.Join(dataDir, "pipeline-runs") }
