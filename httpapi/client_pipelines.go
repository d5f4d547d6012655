package httpapi

import (
	"context"
	"net/url"
	"strconv"

	"atrium"
)

// --- Pipelines and their runs ---

// CreatePipeline saves a pipeline from its YAML or JSON document.
func (c *Client) CreatePipeline(ctx context.Context, workspaceID string, doc []byte) (*atrium.Pipeline, error) {
	var out atrium.Pipeline
	return &out, c.doRaw(ctx, "POST", wsPath(workspaceID)+"/pipelines", nil, "application/yaml", doc, &out, nil)
}

// UpdatePipeline saves a new version of a pipeline.
func (c *Client) UpdatePipeline(ctx context.Context, workspaceID, id string, doc []byte) (*atrium.Pipeline, error) {
	var out atrium.Pipeline
	return &out, c.doRaw(ctx, "PUT", wsPath(workspaceID)+"/pipelines/"+pathEsc(id), nil, "application/yaml", doc, &out, nil)
}

// ListPipelines lists the workspace's pipelines; name "" lists all.
func (c *Client) ListPipelines(ctx context.Context, workspaceID, name string) (*List[*atrium.Pipeline], error) {
	var out List[*atrium.Pipeline]
	q := url.Values{"pageSize": {"500"}}
	if name != "" {
		q.Set("name", name)
	}
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/pipelines", q, nil, &out, nil)
}

// GetPipeline reads a pipeline at version (0: the latest).
func (c *Client) GetPipeline(ctx context.Context, workspaceID, id string, version int) (*atrium.Pipeline, error) {
	var out atrium.Pipeline
	var q url.Values
	if version > 0 {
		q = url.Values{"version": {strconv.Itoa(version)}}
	}
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/pipelines/"+pathEsc(id), q, nil, &out, nil)
}

// ListPipelineVersions lists a pipeline's versions, newest first.
func (c *Client) ListPipelineVersions(ctx context.Context, workspaceID, id string) (*List[*atrium.Pipeline], error) {
	var out List[*atrium.Pipeline]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/pipelines/"+pathEsc(id)+"/versions", nil, nil, &out, nil)
}

// DeletePipeline deletes a pipeline and its versions.
func (c *Client) DeletePipeline(ctx context.Context, workspaceID, id string) error {
	return c.do(ctx, "DELETE", wsPath(workspaceID)+"/pipelines/"+pathEsc(id), nil, nil, nil, nil)
}

// CreateRun runs a pipeline.
func (c *Client) CreateRun(ctx context.Context, workspaceID string, req CreateRunRequest) (*atrium.PipelineRun, error) {
	var out atrium.PipelineRun
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/pipeline-runs", nil, req, &out, nil)
}

// ListRuns lists the runs the caller may see, newest first; pipelineID ""
// lists all.
func (c *Client) ListRuns(ctx context.Context, workspaceID, pipelineID string) (*List[*atrium.PipelineRun], error) {
	var out List[*atrium.PipelineRun]
	var q url.Values
	if pipelineID != "" {
		q = url.Values{"pipelineId": {pipelineID}}
	}
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/pipeline-runs", q, nil, &out, nil)
}

// GetRun reads a run with its nodes.
func (c *Client) GetRun(ctx context.Context, workspaceID, id string) (*atrium.PipelineRun, error) {
	var out atrium.PipelineRun
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/pipeline-runs/"+pathEsc(id), nil, nil, &out, nil)
}

// TerminateRun terminates a live run.
func (c *Client) TerminateRun(ctx context.Context, workspaceID, id string) (*atrium.PipelineRun, error) {
	var out atrium.PipelineRun
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/pipeline-runs/"+pathEsc(id)+"/terminate", nil, nil, &out, nil)
}

// RerunRun re-runs the failed part of a run.
func (c *Client) RerunRun(ctx context.Context, workspaceID, id string, req RerunRequest) (*atrium.PipelineRun, error) {
	var out atrium.PipelineRun
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/pipeline-runs/"+pathEsc(id)+"/rerun", nil, req, &out, nil)
}
