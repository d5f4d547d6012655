package httpapi

// DSW instances: long-running interactive environments. An
// instance is a job of kind DSW with one pod (atrium.DSWSpec.JobSpec), so
// it queues, is admitted and runs through the same scheduling loop and
// executors as training jobs, and the job handlers serve it (jobKind
// dswInstances). Each running instance has an endpoint (host:port chosen
// at admission). Browsers reach it on the DSW origin (dsworigin.go), never
// on the API's: …/handoff mints the one-time link that gets them there.

import (
	"context"
	"net/http"
	"time"

	"atrium"
	"atrium/secret"
)

// dswOpenCode is the permission using an instance takes, checked when a
// handoff is minted and again on every request the DSW origin forwards.
// Using an instance is acting inside it (running code in its notebook,
// changing its files), so it takes what changing the instance takes: its
// creator, and Operators and Admins for every instance (DSW:UpdateInstance,
// the same grants as DSW:StopInstance). Members who may only see it — a
// PUBLIC instance of someone else — get 403; those who may not see it get
// 404 (the authorizer reads DSW:GetInstance first).
const dswOpenCode = "DSW:UpdateInstance"

// DSWHandoffView is a one-time link to a running instance on the DSW
// origin: it works once, until expiresAt, in a browser.
type DSWHandoffView struct {
	InstanceID string    `json:"instanceId"`
	URL        string    `json:"url"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// handoffInstance mints a handoff for the caller to the instance: only
// after the authorizer allowed dswOpenCode, and only while it runs.
func handoffInstance(c *call) (any, error) {
	j, err := c.jobOf(dswInstances, dswOpenCode)
	if err != nil {
		return nil, err
	}
	if _, err := instanceEndpoint(j); err != nil {
		return nil, err
	}
	if c.s.DSW == nil {
		return nil, atrium.Errorf(atrium.EUNAVAILABLE, "this server serves no DSW instances: start it with --dsw-addr")
	}
	tok := secret.NewToken()
	h := &atrium.DSWHandoff{Hash: secret.HashToken(tok), InstanceID: j.ID, WorkspaceID: j.WorkspaceID, UserID: c.user.ID,
		ExpiresAt: c.s.Now().Add(dswHandoffTTL)}
	if err := c.s.Store.CreateDSWHandoff(c.ctx(), h); err != nil {
		return nil, err
	}
	return &DSWHandoffView{InstanceID: j.ID, URL: c.s.DSW.handoffURL(tok), ExpiresAt: h.ExpiresAt}, nil
}

// instanceEndpoint is where a Running instance's server listens; ECONFLICT
// while it is not Running.
func instanceEndpoint(j *atrium.Job) (string, error) {
	if j.Status == atrium.JobRunning && len(j.Pods) > 0 && j.Pods[0].Endpoint != "" {
		return j.Pods[0].Endpoint, nil
	}
	return "", atrium.Errorf(atrium.ECONFLICT, "DSW instance %s is %s: it is served while it is Running", j.ID, j.Status)
}

func createInstance(c *call) (any, error) {
	b, err := readBody(c.r)
	if err != nil {
		return nil, err
	}
	d, err := atrium.ParseDSWSpec(b)
	if err != nil {
		return nil, err
	}
	j, err := c.prepareJob(d.JobSpec(), atrium.KindDSW)
	if err != nil {
		return nil, atrium.NormalizeDSWError(err)
	}
	if err := c.s.Store.CreateJob(c.ctx(), j); err != nil {
		return nil, err
	}
	if c.s.Jobs != nil {
		c.s.Jobs.Wake()
	}
	return j, nil
}

// startInstance queues a Stopped or Failed instance again; its next
// admission is a new attempt (new pod, new port).
func startInstance(c *call) (any, error) {
	k := dswInstances
	j, err := c.jobOf(k, k.start)
	if err != nil {
		return nil, err
	}
	for range 5 {
		if !atrium.JobFinished(j.Status) {
			return nil, atrium.Errorf(atrium.ECONFLICT, "DSW instance %s is %s; only a Stopped or Failed instance starts again", j.ID, j.Status)
		}
		upd := jobStatus(atrium.JobQueuing, atrium.ReasonStartedByUser, "started again by "+c.user.Name)
		var none *time.Time
		upd.StartedAt, upd.FinishedAt = &none, &none
		upd.Pods, upd.ExecutorHandle = &[]atrium.Pod{}, ptr("")
		upd.ResourceGroupID, upd.Backend, upd.QueuePosition = ptr(""), ptr(""), ptr(0)
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
		return j2, err
	}
	return nil, atrium.Errorf(atrium.EUNAVAILABLE, "DSW instance %s is changing too fast; try again", j.ID)
}

// touchInstance records that the instance was used, at most once a minute
// (more often for idle timeouts under two minutes: every half timeout), so
// idle auto-stop counts from the last use. Best effort: a concurrent write
// that already recorded a recent use is enough.
func (c *call) touchInstance(j *atrium.Job) {
	now := c.s.Now().UTC()
	every := time.Minute
	if idle := time.Duration(j.Spec.IdleTimeout); idle > 0 && idle/2 < every {
		every = idle / 2
	}
	// Not an operation of its own: no operation log line per proxied call.
	ctx := atrium.WithAudit(context.WithoutCancel(c.ctx()), nil)
	for range 3 {
		if j.LastActiveAt != nil && now.Sub(*j.LastActiveAt) < every {
			return
		}
		_, err := c.s.Store.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{LastActiveAt: &now})
		if atrium.ErrorCode(err) != atrium.ECONFLICT {
			if err != nil {
				c.s.Logger.Warn("cannot record DSW instance use", "instance", j.ID, "err", err)
			}
			return
		}
		if j, err = c.s.Store.FindJobByID(ctx, j.ID); err != nil {
			return
		}
	}
}

// dswRoutes are the DSW instance routes.
func dswRoutes(ws string) []*route {
	const statuses = "comma-separated statuses (Queuing, EnvPreparing, Running, Stopping, Stopped, Failed)"
	d := ws + "/dsw-instances"
	one := d + "/{instanceId}"
	k := dswInstances
	rts := []*route{
		{method: "POST", path: d, code: "DSW:CreateInstance", status: http.StatusCreated,
			summary: "Create a DSW instance (YAML or JSON): image, resources, optional command listening on $ATRIUM_DSW_PORT (none: Atrium's built-in page), envs, dataSources, quotaId, priority, accessibility, idleTimeout, maxRunningTime. It queues and starts like a job",
			in:      atrium.DSWSpec{}, out: atrium.Job{}, body: "application/yaml", h: createInstance},
		{method: "GET", path: d, code: "DSW:ListInstances", status: http.StatusOK,
			summary: "List DSW instances you may see (your own and PUBLIC ones; Operators and Admins all), newest first",
			query:   params([]param{{"status", statuses}, {"creator", "creator's user id"}, {"quotaId", "only this quota"}}, pageParams),
			out:     List[*atrium.Job]{}, h: k.list},
		{method: "GET", path: one, code: "DSW:GetInstance", status: http.StatusOK, self: true,
			summary: "Read a DSW instance: status, reason, statusHistory, its pod and endpoint, lastActiveAt", out: atrium.Job{}, h: k.getOne},
		{method: "PUT", path: one, code: "DSW:UpdateInstance", status: http.StatusOK, self: true,
			summary: "Change a DSW instance's priority (within your role's cap), make it PUBLIC, or change its description",
			in:      UpdateJobRequest{}, out: atrium.Job{}, h: k.updateOne},
		{method: "DELETE", path: one, code: "DSW:DeleteInstance", status: http.StatusNoContent, self: true,
			summary: "Delete a Stopped or Failed DSW instance", h: k.deleteOne},
		{method: "POST", path: one + "/stop", code: "DSW:StopInstance", status: http.StatusOK, self: true,
			summary: "Stop a DSW instance: a queued one is Stopped at once, a running one goes Stopping → Stopped", out: atrium.Job{}, h: k.stopOne},
		{method: "POST", path: one + "/start", code: "DSW:StartInstance", status: http.StatusOK, self: true,
			summary: "Start a Stopped or Failed DSW instance again: it is Queuing, and its next admission is a new attempt", out: atrium.Job{}, h: startInstance},
		{method: "GET", path: one + "/events", code: "DSW:GetInstance", status: http.StatusOK, self: true,
			summary: "What happened to a DSW instance, oldest first", out: List[*atrium.JobEvent]{}, h: k.events},
		{method: "GET", path: one + "/logs", code: "DSW:GetInstance", status: http.StatusOK, self: true, stream: true,
			summary: "A DSW instance's output as text/plain; follow=true streams until it ends",
			query:   []param{{"pod", "the pod (instance-0)"}, {"follow", "true: keep streaming"}}, h: k.logs},
		{method: "POST", path: one + "/handoff", code: dswOpenCode, status: http.StatusCreated, self: true,
			summary: "A one-time link (valid 60 s) that opens the running instance in a browser on the DSW origin, where it is served apart from the console and this API; creator, Operators and Admins only; 409 unless Running",
			out:     DSWHandoffView{}, h: handoffInstance},
	}
	return rts
}
