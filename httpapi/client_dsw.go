package httpapi

import (
	"context"
	"io"
	"net/url"
	"strings"

	"atrium"
)

// --- DSW instances ---

func dswPath(workspaceID, instanceID string) string {
	return wsPath(workspaceID) + "/dsw-instances/" + pathEsc(instanceID)
}

// CreateDSW creates a DSW instance from its spec, YAML or JSON
// (atrium.DSWSpec), sent as is so the server's errors name its fields.
func (c *Client) CreateDSW(ctx context.Context, workspaceID string, spec []byte) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.doRaw(ctx, "POST", wsPath(workspaceID)+"/dsw-instances", nil, "application/yaml", spec, &out, nil)
}

// ListDSWOptions filters ListDSW.
type ListDSWOptions struct {
	Status  []string
	Creator string
	QuotaID string
	PageOptions
}

// ListDSW lists the DSW instances the caller may see, newest first.
func (c *Client) ListDSW(ctx context.Context, workspaceID string, opt ListDSWOptions) (*List[*atrium.Job], error) {
	q := url.Values{}
	if len(opt.Status) > 0 {
		q.Set("status", strings.Join(opt.Status, ","))
	}
	for k, v := range map[string]string{"creator": opt.Creator, "quotaId": opt.QuotaID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	opt.PageOptions.set(q)
	var out List[*atrium.Job]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/dsw-instances", q, nil, &out, nil)
}

// GetDSW reads a DSW instance.
func (c *Client) GetDSW(ctx context.Context, workspaceID, id string) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.do(ctx, "GET", dswPath(workspaceID, id), nil, nil, &out, nil)
}

// StopDSW stops a DSW instance.
func (c *Client) StopDSW(ctx context.Context, workspaceID, id string) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.do(ctx, "POST", dswPath(workspaceID, id)+"/stop", nil, nil, &out, nil)
}

// StartDSW queues a Stopped or Failed DSW instance again.
func (c *Client) StartDSW(ctx context.Context, workspaceID, id string) (*atrium.Job, error) {
	var out atrium.Job
	return &out, c.do(ctx, "POST", dswPath(workspaceID, id)+"/start", nil, nil, &out, nil)
}

// DeleteDSW deletes a Stopped or Failed DSW instance.
func (c *Client) DeleteDSW(ctx context.Context, workspaceID, id string) error {
	return c.do(ctx, "DELETE", dswPath(workspaceID, id), nil, nil, nil, nil)
}

// DSWEvents lists what happened to a DSW instance, oldest first.
func (c *Client) DSWEvents(ctx context.Context, workspaceID, id string) (*List[*atrium.JobEvent], error) {
	var out List[*atrium.JobEvent]
	return &out, c.do(ctx, "GET", dswPath(workspaceID, id)+"/events", nil, nil, &out, nil)
}

// DSWLogs copies a DSW instance's output to w; with follow until it ends.
func (c *Client) DSWLogs(ctx context.Context, workspaceID, id string, follow bool, w io.Writer) error {
	return c.logs(ctx, dswPath(workspaceID, id), "DSW instance", id, "", follow, w)
}

// OpenDSW mints a one-time link (valid 60 s) that opens the running
// instance in a browser, on the DSW origin.
func (c *Client) OpenDSW(ctx context.Context, workspaceID, id string) (*DSWHandoffView, error) {
	var out DSWHandoffView
	return &out, c.do(ctx, "POST", dswPath(workspaceID, id)+"/handoff", nil, nil, &out, nil)
}
