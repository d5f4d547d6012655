package httpapi

// DLC jobs: submit from YAML or JSON, list, read, stop,
// re-prioritise, delete, logs and events. The scheduling loop (package
// dispatch) admits, starts and follows them; handlers only record intent
// (a new job, a stop) and wake it.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"atrium"
	"atrium/authz"
	"atrium/cluster"
	"atrium/executor"
	"atrium/scheduler"
)

// JobRuntime is what the API needs from the scheduling side of the server.
type JobRuntime interface {
	// Wake asks the scheduling loop for a pass soon.
	Wake()
	// Executor returns the executor of a backend on this server.
	Executor(backend string) (executor.Executor, bool)
	// ImportNodes reads the nodes of a resource group from its backend
	// (a Slurm partition) and records them.
	ImportNodes(ctx context.Context, g *atrium.ResourceGroup) ([]*atrium.Node, error)
}

// DryRunResult is the what-if answer for a job that is not submitted.
type DryRunResult struct {
	// Admitted: the job would start now.
	Admitted bool   `json:"admitted"`
	QuotaID  string `json:"quotaId"`
	Priority int    `json:"priority"`
	// Pods: where each pod would run (when admitted).
	Pods []atrium.Pod `json:"pods,omitempty"`
	// Preempts lists the running jobs it would preempt.
	Preempts []string `json:"preempts,omitempty"`
	// ReasonCode and ReasonMessage say why it would wait (when not admitted).
	ReasonCode    string `json:"reasonCode,omitempty"`
	ReasonMessage string `json:"reasonMessage,omitempty"`
	QueuePosition int    `json:"queuePosition,omitempty"`
}

// jobResource describes a job to the authorizer.
func jobResource(j *atrium.Job) authz.Resource {
	return authz.Resource{WorkspaceID: j.WorkspaceID, Kind: "job", ID: j.ID, OwnerID: j.Creator, Accessibility: j.Accessibility}
}

// readSpecBody reads a YAML or JSON job spec from the request body.
func readSpecBody(r *http.Request) (*atrium.JobSpec, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return atrium.ParseJobSpec(b)
}

// readBody reads a spec's bytes, at most atrium.MaxSpecBytes.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, atrium.MaxSpecBytes+1))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, atrium.FieldErrorf("body", "must be at most %d bytes", atrium.MaxSpecBytes)
	}
	return b, err
}

// prepareJob validates a spec against the workspace's rules and builds the
// job it would become.
func (c *call) prepareJob(spec *atrium.JobSpec, kind string) (*atrium.Job, error) {
	return cluster.PrepareJob(c.ctx(), c.s.Store, c.submitter(), spec, kind, kind, c.s.Now())
}

// submitter is the caller as a job's submitter.
func (c *call) submitter() cluster.Submitter {
	return cluster.Submitter{WorkspaceID: c.ws.ID, UserID: c.user.ID, UserName: c.user.Name, Roles: c.sub.Roles}
}

func createJob(c *call) (any, error) {
	dry, err := boolQuery(c.r.URL.Query(), "dryRun")
	if err != nil {
		return nil, err
	}
	spec, err := readSpecBody(c.r)
	if err != nil {
		return nil, err
	}
	j, err := c.prepareJob(spec, atrium.KindDLC)
	if err != nil {
		return nil, err
	}
	if dry != nil && *dry {
		c.status = http.StatusOK
		return c.dryRun(j)
	}
	if err := c.s.Store.CreateJob(c.ctx(), j); err != nil {
		return nil, err
	}
	if c.s.Jobs != nil {
		c.s.Jobs.Wake()
	}
	return j, nil
}

// dryRun asks the scheduler what would happen to j now, changing nothing.
func (c *call) dryRun(j *atrium.Job) (*DryRunResult, error) {
	v, err := cluster.Load(c.ctx(), c.s.Store, c.s.Now(), cluster.DefaultPolicy)
	if err != nil {
		return nil, err
	}
	st, err := scheduler.New(v.Snapshot)
	if err != nil {
		return nil, err
	}
	j.ID = "dry-run"
	w, err := cluster.Workload(j)
	if err != nil {
		return nil, err
	}
	a, p, err := st.WhatIf(w, c.s.Now())
	if err != nil {
		return nil, err
	}
	out := &DryRunResult{QuotaID: j.QuotaID, Priority: j.Priority}
	if a == nil {
		out.ReasonCode, out.ReasonMessage, out.QueuePosition = string(p.Reason.Code), p.Reason.Message(), p.Position
		return out, nil
	}
	out.Admitted, out.Preempts = true, a.Preempts
	idx := map[string]int{}
	for _, pl := range a.Placements {
		out.Pods = append(out.Pods, atrium.Pod{Name: cluster.PodName(pl.PodSet, idx[pl.PodSet]), Role: pl.PodSet, Node: pl.Node, GPUs: []int{}})
		idx[pl.PodSet]++
	}
	return out, nil
}

var jobStatuses = []string{atrium.JobCreating, atrium.JobQueuing, atrium.JobEnvPreparing, atrium.JobRunning, atrium.JobSucceeded,
	atrium.JobFailed, atrium.JobStopping, atrium.JobStopped, atrium.JobRestarting}

// jobKind is what tells the job handlers a DLC job from a DSW instance:
// the path parameter of the id, the noun in messages and the permission
// codes.
type jobKind struct {
	kind, param, noun                string
	get, stop, update, delete, start string
}

var (
	dlcJobs = jobKind{kind: atrium.KindDLC, param: "jobId", noun: "job",
		get: "DLC:GetJob", stop: "DLC:StopJob", update: "DLC:UpdateJob", delete: "DLC:DeleteJob"}
	dswInstances = jobKind{kind: atrium.KindDSW, param: "instanceId", noun: "DSW instance",
		get: "DSW:GetInstance", stop: "DSW:StopInstance", update: "DSW:UpdateInstance", delete: "DSW:DeleteInstance", start: "DSW:StartInstance"}
)

func listJobs(c *call) (any, error) { return dlcJobs.list(c) }

func (k jobKind) list(c *call) (any, error) {
	q := c.r.URL.Query()
	p, err := readPage(q)
	if err != nil {
		return nil, err
	}
	f := atrium.JobFilter{WorkspaceID: c.ws.ID, Kind: k.kind, Creator: q.Get("creator"), JobType: q.Get("jobType"),
		QuotaID: q.Get("quotaId"), Offset: p.offset, Limit: p.limit}
	if s := q.Get("status"); s != "" {
		for _, st := range strings.Split(s, ",") {
			if !slices.Contains(jobStatuses, st) {
				return nil, atrium.FieldErrorf("status", "%q is not a job status (%s)", st, strings.Join(jobStatuses, ", "))
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	f.VisibleTo = c.visibleTo(k.get)
	items, total, err := c.s.Store.FindJobs(c.ctx(), f)
	if err != nil {
		return nil, err
	}
	return newList(items, total, p), nil
}

// visibleTo is the creator filter of a list whose items the caller reads
// with code: "" for all (Operators and Admins), the caller's id for their
// own and PUBLIC ones, "-" (no creator) for PUBLIC ones only.
func (c *call) visibleTo(code string) string {
	switch sc := c.s.Authz.ScopeOf(c.sub, code); {
	case sc&authz.All != 0:
		return ""
	case sc&authz.Own != 0:
		return c.user.ID
	}
	return "-"
}

// jobOf loads the job of kind k named by the path and authorizes code on
// it; jobs of other workspaces or another kind and jobs the caller may not
// see are 404.
func (c *call) jobOf(k jobKind, code string) (*atrium.Job, error) {
	id := c.r.PathValue(k.param)
	j, err := c.s.Store.FindJobByID(c.ctx(), id)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (j.WorkspaceID != c.ws.ID || j.Kind != k.kind)) {
		c.authorized = true
		return nil, atrium.Errorf(atrium.ENOTFOUND, "%s %q not found", k.noun, id)
	} else if err != nil {
		return nil, err
	}
	if err := c.authorize(code, jobResource(j)); err != nil {
		return nil, err
	}
	return j, nil
}

func getJob(c *call) (any, error) { return dlcJobs.getOne(c) }

func (k jobKind) getOne(c *call) (any, error) { return c.jobOf(k, k.get) }

func stopJob(c *call) (any, error) { return dlcJobs.stopOne(c) }

func (k jobKind) stopOne(c *call) (any, error) {
	j, err := c.jobOf(k, k.stop)
	if err != nil {
		return nil, err
	}
	msg := "stopped by " + c.user.Name
	for range 5 { // the scheduling loop may be writing the job too
		var upd atrium.JobUpdate
		switch {
		case atrium.JobFinished(j.Status):
			return nil, atrium.Errorf(atrium.ECONFLICT, "%s %s has already ended (%s)", k.noun, j.ID, j.Status)
		case j.Status == atrium.JobStopping:
			return j, nil
		case j.Status == atrium.JobQueuing || j.Status == atrium.JobCreating:
			now := c.s.Now().UTC()
			upd = jobStatus(atrium.JobStopped, atrium.ReasonStoppedByUser, msg)
			upd.FinishedAt, upd.QueuePosition = ptr(&now), ptr(0)
		default:
			upd = jobStatus(atrium.JobStopping, atrium.ReasonStoppedByUser, msg)
		}
		j2, err := c.s.Store.UpdateJob(c.ctx(), j.ID, j.Version, upd)
		if atrium.ErrorCode(err) == atrium.ECONFLICT {
			if j, err = c.s.Store.FindJobByID(c.ctx(), j.ID); err != nil {
				return nil, err
			}
			continue
		}
		if err == nil && c.s.Jobs != nil {
			c.s.Jobs.Wake()
		}
		if err == nil && k.kind == atrium.KindSQL && c.s.SQL != nil {
			c.s.SQL.Wake()
		}
		return j2, err
	}
	return nil, atrium.Errorf(atrium.EUNAVAILABLE, "%s %s is changing too fast; try again", k.noun, j.ID)
}

func jobStatus(st, code, msg string) atrium.JobUpdate {
	return atrium.JobUpdate{Status: &st, ReasonCode: &code, ReasonMessage: &msg,
		Events: []atrium.JobEvent{{Type: "Normal", Reason: code, Message: msg}}}
}

func ptr[T any](v T) *T { return &v }

// UpdateJobRequest changes a job: priority (within your role's cap),
// accessibility (PRIVATE → PUBLIC only), description.
type UpdateJobRequest struct {
	Priority      *int    `json:"priority,omitempty"`
	Accessibility *string `json:"accessibility,omitempty"`
	Description   *string `json:"description,omitempty"`
}

func updateJob(c *call) (any, error) { return dlcJobs.updateOne(c) }

func (k jobKind) updateOne(c *call) (any, error) {
	var req UpdateJobRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	j, err := c.jobOf(k, k.update)
	if err != nil {
		return nil, err
	}
	upd := atrium.JobUpdate{Description: req.Description}
	if req.Description != nil && len([]rune(*req.Description)) > 1024 {
		return nil, atrium.FieldErrorf("description", "must be at most 1024 characters")
	}
	if req.Accessibility != nil {
		switch {
		case *req.Accessibility == j.Accessibility:
		case *req.Accessibility == atrium.AccessPublic:
			upd.Accessibility = req.Accessibility
		case *req.Accessibility == atrium.AccessPrivate:
			return nil, atrium.FieldErrorf("accessibility", "a PUBLIC %s cannot become PRIVATE again", k.noun)
		default:
			return nil, atrium.FieldErrorf("accessibility", "must be PUBLIC")
		}
	}
	if req.Priority != nil {
		if *req.Priority < 1 || *req.Priority > 9 {
			return nil, atrium.FieldErrorf("priority", "must be 1–9 (9 highest)")
		}
		cfg, err := c.s.Store.FindWorkspaceConfig(c.ctx(), c.ws.ID)
		if err != nil {
			return nil, err
		}
		if limit, by := atrium.RoleCap(cfg, c.sub.Roles); *req.Priority > limit {
			return nil, atrium.FieldErrorf("priority", "%d is above the cap of %d for your role %s (workspace config maxPriority)", *req.Priority, limit, cmp.Or(by, "(none)"))
		}
		if atrium.JobFinished(j.Status) {
			return nil, atrium.Errorf(atrium.ECONFLICT, "%s %s has ended; its priority no longer matters", k.noun, j.ID)
		}
		upd.Priority = req.Priority
		upd.Events = []atrium.JobEvent{{Type: "Normal", Reason: "PriorityChanged", Message: fmt.Sprintf("priority %d → %d by %s", j.Priority, *req.Priority, c.user.Name)}}
	}
	j2, err := c.s.Store.UpdateJob(c.ctx(), j.ID, j.Version, upd)
	if atrium.ErrorCode(err) == atrium.ECONFLICT {
		return nil, atrium.Errorf(atrium.ECONFLICT, "%s %s changed while you edited it; read it again and retry", k.noun, j.ID)
	}
	if err == nil && upd.Priority != nil && c.s.Jobs != nil {
		c.s.Jobs.Wake()
	}
	return j2, err
}

func deleteJob(c *call) (any, error) { return dlcJobs.deleteOne(c) }

func (k jobKind) deleteOne(c *call) (any, error) {
	j, err := c.jobOf(k, k.delete)
	if err != nil {
		return nil, err
	}
	if !atrium.JobFinished(j.Status) {
		return nil, atrium.Errorf(atrium.ECONFLICT, "%s %s is %s; stop it before deleting", k.noun, j.ID, j.Status)
	}
	return nil, c.s.Store.DeleteJob(c.ctx(), j.ID)
}

func jobEvents(c *call) (any, error) { return dlcJobs.events(c) }

func (k jobKind) events(c *call) (any, error) {
	j, err := c.jobOf(k, k.get)
	if err != nil {
		return nil, err
	}
	evs, err := c.s.Store.FindJobEvents(c.ctx(), j.ID)
	if err != nil {
		return nil, err
	}
	return newList(evs, len(evs), page{}), nil
}

// jobLogs streams a pod's output as text/plain; follow keeps the response
// open until the pod ends or the client goes.
func jobLogs(c *call) (any, error) { return dlcJobs.logs(c) }

func (k jobKind) logs(c *call) (any, error) {
	q := c.r.URL.Query()
	follow, err := boolQuery(q, "follow")
	if err != nil {
		return nil, err
	}
	j, err := c.jobOf(k, k.get)
	if err != nil {
		return nil, err
	}
	pod := q.Get("pod")
	var pods []string
	for _, p := range j.Pods {
		if pod == "" || p.Name == pod {
			pods = append(pods, p.Name)
		}
	}
	if pod != "" && len(pods) == 0 {
		return nil, atrium.FieldErrorf("pod", "%s %s has no pod %q (pods: %s)", k.noun, j.ID, pod, podNames(j))
	}
	if j.Backend == "" || len(pods) == 0 {
		return nil, atrium.Errorf(atrium.ECONFLICT, "%s %s has not started yet (%s): no logs", k.noun, j.ID, j.Status)
	}
	var ex executor.Executor
	if c.s.Jobs != nil {
		ex, _ = c.s.Jobs.Executor(j.Backend)
	}
	if ex == nil {
		return nil, atrium.Errorf(atrium.EUNAVAILABLE, "this server has no %s executor to read logs from", j.Backend)
	}
	h := executor.Handle{Backend: j.Backend, JobID: j.ID, Attempt: j.Attempt}
	if j.ExecutorHandle != "" {
		_ = jsonUnmarshal(j.ExecutorHandle, &h)
	}
	// The answer starts with the first byte of output, so a pod whose files
	// do not exist yet is still a clean 409, not a broken 200.
	fw := &flushWriter{w: c.w, header: func(h http.Header) {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
	}}
	ctx := c.ctx()
	if pod != "" {
		err = ex.Logs(ctx, h, pod, follow != nil && *follow, fw)
	} else {
		err = prefixedLogs(ctx, ex, h, pods, follow != nil && *follow, fw)
	}
	switch {
	case err == nil, ctx.Err() != nil:
	case !fw.started && errors.Is(err, executor.ErrNotFound):
		return nil, atrium.Errorf(atrium.ECONFLICT, "%s %s is starting (%s): no logs yet", k.noun, j.ID, j.Status)
	case !fw.started:
		return nil, err
	default:
		fmt.Fprintf(fw, "\n[atrium: log stream ended: %v]\n", atrium.ErrorMessage(err))
	}
	fw.begin() // an empty log is still a 200
	return nil, nil
}

func podNames(j *atrium.Job) string {
	names := make([]string, len(j.Pods))
	for i, p := range j.Pods {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// prefixedLogs writes every pod's lines, each prefixed by its pod name; when
// following, the pods are read concurrently and lines interleave as they come.
func prefixedLogs(ctx context.Context, ex executor.Executor, h executor.Handle, pods []string, follow bool, w io.Writer) error {
	lw := &lockedWriter{w: w}
	errs := make(chan error, len(pods))
	for _, p := range pods {
		pw := &linePrefixer{prefix: "[" + p + "] ", w: lw}
		if !follow {
			err := ex.Logs(ctx, h, p, false, pw)
			pw.Flush()
			if err != nil {
				return err
			}
			continue
		}
		go func() {
			err := ex.Logs(ctx, h, p, true, pw)
			pw.Flush()
			errs <- err
		}()
	}
	if !follow {
		return nil
	}
	var first error
	for range pods {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
