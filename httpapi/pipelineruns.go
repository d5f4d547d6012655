package httpapi

// Pipeline runs (run-…): handlers record intent (a new run, a terminate,
// a rerun) and wake the pipeline controller (package pipeline), which
// submits the node jobs and follows them.

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"atrium"
	"atrium/authz"
	"atrium/cluster"
)

// CreateRunRequest runs a pipeline version.
type CreateRunRequest struct {
	PipelineID string `json:"pipelineId"`
	// PipelineVersion defaults to the latest.
	PipelineVersion int    `json:"pipelineVersion,omitempty"`
	DisplayName     string `json:"displayName,omitempty"`
	// Arguments override the pipeline's parameter defaults.
	Arguments     map[string]any `json:"arguments,omitempty"`
	Accessibility string         `json:"accessibility,omitempty"`
}

// RerunRequest re-runs the failed part of a run, optionally with changed
// arguments.
type RerunRequest struct {
	Arguments map[string]any `json:"arguments,omitempty"`
}

func runResource(r *atrium.PipelineRun) authz.Resource {
	return authz.Resource{WorkspaceID: r.WorkspaceID, Kind: "pipeline run", ID: r.ID, OwnerID: r.Creator, Accessibility: r.Accessibility}
}

var runStatuses = []string{atrium.RunInitialized, atrium.RunRunning, atrium.RunSucceeded, atrium.RunFailed, atrium.RunTerminating, atrium.RunTerminated}

func createRun(c *call) (any, error) {
	var req CreateRunRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if req.PipelineID == "" {
		return nil, atrium.FieldErrorf("pipelineId", "is required")
	}
	if req.PipelineVersion < 0 {
		return nil, atrium.FieldErrorf("pipelineVersion", "must be a version number (1, 2…)")
	}
	p, err := c.s.Store.FindPipelineByID(c.ctx(), req.PipelineID, req.PipelineVersion)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && p.WorkspaceID != c.ws.ID) {
		return nil, atrium.FieldErrorf("pipelineId", "pipeline %q (version %d) not found in this workspace", req.PipelineID, req.PipelineVersion)
	} else if err != nil {
		return nil, err
	}
	if err := checkAccessibility(&req.Accessibility); err != nil {
		return nil, err
	}
	name := cmp.Or(strings.TrimSpace(req.DisplayName), p.Name)
	if len([]rune(name)) > 100 {
		return nil, atrium.FieldErrorf("displayName", "must be at most 100 characters")
	}
	args, err := p.Spec.Arguments(req.Arguments)
	if err != nil {
		return nil, err
	}
	comps, err := c.checkPipelineSpec(&p.Spec)
	if err != nil {
		return nil, err
	}
	now := c.s.Now().UTC()
	r := &atrium.PipelineRun{WorkspaceID: c.ws.ID, PipelineID: p.ID, PipelineVersion: p.Version, DisplayName: name,
		Creator: c.user.ID, CreatorName: c.user.Name, Accessibility: req.Accessibility, Arguments: args,
		Spec: p.Spec, Components: comps, Status: atrium.RunInitialized, ReasonCode: atrium.ReasonRunCreated,
		ReasonMessage: "created by " + c.user.Name, Nodes: atrium.NewPipelineNodes(&p.Spec),
		StatusHistory: []atrium.StatusChange{{Status: atrium.RunInitialized, ReasonCode: atrium.ReasonRunCreated, ReasonMessage: "created by " + c.user.Name, Time: now}}}
	if err := c.checkNodeJobs(r, nil); err != nil {
		return nil, err
	}
	if err := c.s.Store.CreatePipelineRun(c.ctx(), r); err != nil {
		return nil, err
	}
	c.wakePipelines()
	return r, nil
}

// checkNodeJobs builds the job of every job or algorithm node in names
// (nil: all) as the controller will, so a spec the workspace's policy
// refuses (priority cap, quota, runtime cap) is a 400 naming the node now
// rather than a failed node later, and checks that the caller may submit
// SQL jobs when a SQL node is among them. Nothing is written.
func (c *call) checkNodeJobs(r *atrium.PipelineRun, names []string) error {
	for _, n := range r.Spec.Nodes {
		if names != nil && !slices.Contains(names, n.Name) {
			continue
		}
		if n.SQL != nil && names == nil {
			// A SQL node is a SQL job of the run's creator: only those who
			// may submit SQL jobs start runs holding one; a rerun
			// submits it again as the same creator.
			if err := c.authorize("MaxCompute:CreateSQLJob", authz.Resource{Kind: "workspace", WorkspaceID: c.ws.ID, ID: c.ws.ID}); err != nil {
				return err
			}
		}
		if n.SQL != nil {
			continue
		}
		spec, err := r.NodeJobSpec(n.Name, "/run")
		if err == nil {
			_, err = cluster.PrepareJob(c.ctx(), c.s.Store, c.submitter(), spec, atrium.KindDLC, atrium.KindPipeline, c.s.Now())
		}
		if e := atrium.AsError(err); e != nil && e.Code == atrium.EINVALID {
			if strings.HasPrefix(e.Field, "nodes[") || strings.HasPrefix(e.Field, "arguments.") {
				return e
			}
			return atrium.FieldErrorf("nodes["+n.Name+"]."+e.Field, "node %s: %s", n.Name, strings.TrimPrefix(e.Message, e.Field+": "))
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (c *call) wakePipelines() {
	if c.s.Pipelines != nil {
		c.s.Pipelines.Wake()
	}
}

func listRuns(c *call) (any, error) {
	q := c.r.URL.Query()
	p, err := readPage(q)
	if err != nil {
		return nil, err
	}
	f := atrium.PipelineRunFilter{WorkspaceID: c.ws.ID, PipelineID: q.Get("pipelineId"), Offset: p.offset, Limit: p.limit}
	if s := q.Get("status"); s != "" {
		for _, st := range strings.Split(s, ",") {
			if !slices.Contains(runStatuses, st) {
				return nil, atrium.FieldErrorf("status", "%q is not a run status (%s)", st, strings.Join(runStatuses, ", "))
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	f.VisibleTo = c.visibleTo("Pipeline:GetRun")
	items, total, err := c.s.Store.FindPipelineRuns(c.ctx(), f)
	if err != nil {
		return nil, err
	}
	return newList(items, total, p), nil
}

// runOf loads the run the path names and authorizes code on it; runs of
// other workspaces are 404.
func (c *call) runOf(code string) (*atrium.PipelineRun, error) {
	id := c.r.PathValue("runId")
	r, err := c.s.Store.FindPipelineRunByID(c.ctx(), id)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && r.WorkspaceID != c.ws.ID) {
		c.authorized = true
		return nil, atrium.Errorf(atrium.ENOTFOUND, "pipeline run %q not found", id)
	} else if err != nil {
		return nil, err
	}
	if err := c.authorize(code, runResource(r)); err != nil {
		return nil, err
	}
	return r, nil
}

func getRun(c *call) (any, error) { return c.runOf("Pipeline:GetRun") }

func terminateRun(c *call) (any, error) {
	r, err := c.runOf("Pipeline:StopRun")
	if err != nil {
		return nil, err
	}
	for range 5 { // the controller may be writing the run too
		switch {
		case atrium.RunFinished(r.Status):
			return nil, atrium.Errorf(atrium.ECONFLICT, "pipeline run %s has already ended (%s)", r.ID, r.Status)
		case r.Status == atrium.RunTerminating:
			return r, nil
		}
		st, code, msg := atrium.RunTerminating, atrium.ReasonTerminated, "terminated by "+c.user.Name
		r2, err := c.s.Store.UpdatePipelineRun(c.ctx(), r.ID, r.Version, atrium.PipelineRunUpdate{Status: &st, ReasonCode: &code, ReasonMessage: &msg})
		if atrium.ErrorCode(err) == atrium.ECONFLICT {
			if r, err = c.s.Store.FindPipelineRunByID(c.ctx(), r.ID); err != nil {
				return nil, err
			}
			continue
		} else if err != nil {
			return nil, err
		}
		c.wakePipelines()
		return r2, nil
	}
	return nil, atrium.Errorf(atrium.EUNAVAILABLE, "pipeline run %s is changing too fast; try again", r.ID)
}

func rerunRun(c *call) (any, error) {
	var req RerunRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	r, err := c.runOf("Pipeline:RerunRun")
	if err != nil {
		return nil, err
	}
	if r.Status != atrium.RunFailed && r.Status != atrium.RunTerminated {
		return nil, atrium.Errorf(atrium.ECONFLICT, "pipeline run %s is %s; only Failed or Terminated runs are re-run", r.ID, r.Status)
	}
	merged := maps.Clone(r.Arguments)
	maps.Copy(merged, req.Arguments)
	args, err := r.Spec.Arguments(merged)
	if err != nil {
		return nil, err
	}
	r.Arguments = args
	reset := r.RerunNodes()
	if err := c.checkNodeJobs(r, reset); err != nil {
		return nil, err
	}
	st, code, msg := atrium.RunRunning, atrium.ReasonRerun, "re-running "+strings.Join(reset, ", ")+" (by "+c.user.Name+")"
	r2, err := c.s.Store.UpdatePipelineRun(c.ctx(), r.ID, r.Version, atrium.PipelineRunUpdate{Status: &st, ReasonCode: &code,
		ReasonMessage: &msg, Nodes: r.Nodes, Arguments: args, Attempt: ptr(r.Attempt + 1), FinishedAt: ptr[*time.Time](nil)})
	if err != nil {
		return nil, err
	}
	c.wakePipelines()
	return r2, nil
}

func deleteRun(c *call) (any, error) {
	r, err := c.runOf("Pipeline:DeleteRun")
	if err != nil {
		return nil, err
	}
	return nil, c.s.Store.DeletePipelineRun(c.ctx(), r.ID)
}
