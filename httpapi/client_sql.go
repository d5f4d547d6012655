package httpapi

import (
	"context"

	"atrium"
)

// --- Warehouse connections and SQL jobs ---

// CreateConnection registers a warehouse connection.
func (c *Client) CreateConnection(ctx context.Context, workspaceID string, req ConnectionRequest) (*ConnectionView, error) {
	var out ConnectionView
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/connections", nil, req, &out, nil)
}

// ListConnections lists the workspace's warehouse connections.
func (c *Client) ListConnections(ctx context.Context, workspaceID string) (*List[*ConnectionView], error) {
	var out List[*ConnectionView]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/connections", nil, nil, &out, nil)
}

// GetConnection reads a warehouse connection.
func (c *Client) GetConnection(ctx context.Context, workspaceID, id string) (*ConnectionView, error) {
	var out ConnectionView
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/connections/"+pathEsc(id), nil, nil, &out, nil)
}

// DeleteConnection deletes a warehouse connection.
func (c *Client) DeleteConnection(ctx context.Context, workspaceID, id string) error {
	return c.do(ctx, "DELETE", wsPath(workspaceID)+"/connections/"+pathEsc(id), nil, nil, nil, nil)
}

// CreateSQLJob submits a SQL job.
func (c *Client) CreateSQLJob(ctx context.Context, workspaceID string, req SQLJobRequest) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/sql-jobs", nil, req, &out, nil)
}

// ListSQLJobs lists the SQL jobs the caller may see, newest first.
func (c *Client) ListSQLJobs(ctx context.Context, workspaceID string) (*List[*atrium.Job], error) {
	var out List[*atrium.Job]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/sql-jobs", nil, nil, &out, nil)
}

// GetSQLJob reads a SQL job.
func (c *Client) GetSQLJob(ctx context.Context, workspaceID, id string) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/sql-jobs/"+pathEsc(id), nil, nil, &out, nil)
}

// StopSQLJob stops a SQL job (cancelling its query).
func (c *Client) StopSQLJob(ctx context.Context, workspaceID, id string) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.do(ctx, "POST", wsPath(workspaceID)+"/sql-jobs/"+pathEsc(id)+"/stop", nil, nil, &out, nil)
}
