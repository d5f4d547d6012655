package pipeline

import (
	"context"
	"time"

	"atrium"
	"atrium/cluster"
)

// submitReady walks the nodes in topological order: a Pending node whose
// upstream nodes all succeeded (or failed while optional) gets its job,
// added to upd.Jobs; one with an upstream node that cannot succeed any
// more is Skipped. It reports whether any job was added.
func (c *Controller) submitReady(ctx context.Context, r *atrium.PipelineRun, nodes []atrium.PipelineNode, upd *atrium.PipelineRunUpdate) (bool, error) {
	order, err := r.Spec.Order()
	if err != nil {
		return false, err
	}
	idx := map[string]int{}
	for i, n := range nodes {
		idx[n.Name] = i
	}
	var by *cluster.Submitter
	for _, name := range order {
		i, ok := idx[name]
		if !ok || nodes[i].Status != atrium.NodePending {
			continue
		}
		n := &nodes[i]
		blocked, waiting := "", false
		for _, u := range r.Spec.Node(name).Upstream() {
			un := nodes[idx[u]]
			switch {
			case un.Status == atrium.NodeSucceeded, un.Status == atrium.NodeFailed && un.Optional:
			case atrium.NodeFinished(un.Status):
				blocked = u
			default:
				waiting = true
			}
		}
		switch {
		case blocked != "":
			n.Status, n.ReasonMessage = atrium.NodeSkipped, "upstream node "+blocked+" did not succeed"
			continue
		case waiting:
			continue
		}
		if by == nil {
			if by, err = c.submitter(ctx, r); err != nil {
				return false, err
			}
		}
		j, err := c.nodeJob(ctx, r, name, by)
		if e := atrium.AsError(err); e != nil && e.Code != atrium.EINTERNAL {
			// The node cannot become a job (policy changed since the run
			// was created): it fails with the reason, the run goes on.
			n.Status, n.ReasonMessage = atrium.NodeFailed, "cannot submit: "+e.Message
			continue
		} else if err != nil {
			return false, err
		}
		n.Status, n.ReasonMessage, n.JobID, n.JobKind = atrium.NodeQueuing, "", j.ID, j.Kind
		n.Attempt++
		upd.Jobs = append(upd.Jobs, j)
	}
	return len(upd.Jobs) > 0, nil
}

// submitter is the run's creator with their current roles, whose
// priority cap applies to the node jobs.
func (c *Controller) submitter(ctx context.Context, r *atrium.PipelineRun) (*cluster.Submitter, error) {
	by := &cluster.Submitter{WorkspaceID: r.WorkspaceID, UserID: r.Creator, UserName: r.CreatorName}
	m, err := c.cfg.Store.FindMemberByUser(ctx, r.WorkspaceID, r.Creator)
	switch {
	case atrium.ErrorCode(err) == atrium.ENOTFOUND:
		// No longer a member: the lowest cap (RoleCap of no roles).
	case err != nil:
		return nil, err
	default:
		by.Roles = m.Roles
	}
	return by, nil
}

// nodeJob builds node name's job with a fresh id, and makes its output
// directory.
func (c *Controller) nodeJob(ctx context.Context, r *atrium.PipelineRun, name string, by *cluster.Submitter) (*atrium.Job, error) {
	now := c.cfg.Now().UTC()
	spec := r.Spec.Node(name)
	if spec.SQL != nil {
		script, err := r.NodeSQLScript(name)
		if err != nil {
			return nil, err
		}
		timeout := time.Duration(spec.SQL.Timeout)
		if timeout == 0 {
			timeout = 5 * time.Minute
		}
		js := atrium.JobSpec{DisplayName: r.DisplayName + "/" + name, Description: atrium.NodeJobDescription(r, name), JobType: "SQL", JobSpecs: []atrium.RoleSpec{},
			Accessibility: r.Accessibility, MaxRunningTime: atrium.Duration(timeout),
			SQL: &atrium.SQLJobSpec{ConnectionID: spec.SQL.ConnectionID, Script: script, Timeout: atrium.Duration(timeout)}}
		j := atrium.NewSQLJob(r.WorkspaceID, r.Creator, r.CreatorName, js, now)
		j.ID = atrium.NewID(atrium.PrefixSQLJob)
		return j, nil
	}
	dir := c.runDir(r)
	js, err := r.NodeJobSpec(name, dir)
	if err != nil {
		return nil, err
	}
	j, err := cluster.PrepareJob(ctx, c.cfg.Store, *by, js, atrium.KindDLC, atrium.KindPipeline, now)
	if err != nil {
		return nil, err
	}
	if err := c.mkdirNode(dir, name); err != nil {
		return nil, err
	}
	j.ID = atrium.NewID(atrium.PrefixDLCJob)
	return j, nil
}
