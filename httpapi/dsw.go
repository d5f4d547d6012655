package httpapi

// DSW instances (SPEC §4): long-running interactive environments. An
// instance is a job of kind DSW with one pod (atrium.DSWSpec.JobSpec), so
// it queues, is admitted and runs through the same scheduling loop and
// executors as training jobs, and the job handlers serve it (jobKind
// dswInstances). Each running instance has an endpoint (host:port chosen
// at admission); …/proxy/ forwards HTTP and WebSocket traffic to it.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"atrium"
)

// dswProxyCode is the permission the proxy checks. Using an instance is
// acting inside it (running code in its notebook, changing its files), so
// the proxy takes what changing the instance takes: its creator, and
// Operators and Admins for every instance (DSW:UpdateInstance, the same
// grants as DSW:StopInstance). Members who may only see it — a PUBLIC
// instance of someone else — get 403; those who may not see it get 404.
const dswProxyCode = "DSW:UpdateInstance"

// proxyMethods are the methods the proxy forwards (HEAD goes with GET).
var proxyMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

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

// proxyInstance forwards the request to the running instance's endpoint:
// the path after …/proxy, the query, the body and WebSocket upgrades. The
// caller's Authorization header and Atrium cookies stay here; the instance
// learns the prefix it is served under from X-Forwarded-Prefix.
func proxyInstance(c *call) (any, error) {
	j, err := c.jobOf(dswInstances, dswProxyCode)
	if err != nil {
		return nil, err
	}
	ep := ""
	if j.Status == atrium.JobRunning && len(j.Pods) > 0 {
		ep = j.Pods[0].Endpoint
	}
	if ep == "" {
		return nil, atrium.Errorf(atrium.ECONFLICT, "DSW instance %s is %s: its proxy answers while it is Running", j.ID, j.Status)
	}
	c.touchInstance(j)

	prefix := "/api/v1/workspaces/" + c.ws.ID + "/dsw-instances/" + j.ID + "/proxy"
	rest, raw := "/"+c.r.PathValue("path"), ""
	if esc := c.r.URL.EscapedPath(); strings.HasPrefix(esc, prefix+"/") {
		raw = esc[len(prefix):]
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", ep
			pr.Out.URL.Path, pr.Out.URL.RawPath = rest, ""
			if raw != "" && raw != rest {
				pr.Out.URL.RawPath = raw
			}
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.Out.Host = pr.In.Host // servers that check Origin against Host (Jupyter) see the caller's
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Prefix", prefix)
			stripCredentials(pr.Out.Header)
		},
		FlushInterval: -1, // stream (server-sent events, long polls) as it comes
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller went away
			}
			writeProblem(w, atrium.Errorf(atrium.EUNAVAILABLE, "DSW instance %s does not answer on its port: %v", j.ID, err), c.reqID)
		},
	}
	rp.ServeHTTP(c.w, c.r)
	return nil, nil
}

// stripCredentials removes what authenticates the caller to Atrium from a
// request bound for an instance: the Authorization header and cookies
// whose name starts with "atrium".
func stripCredentials(h http.Header) {
	h.Del("Authorization")
	cookies := (&http.Request{Header: h}).Cookies()
	h.Del("Cookie")
	var keep []string
	for _, ck := range cookies {
		if !strings.HasPrefix(strings.ToLower(ck.Name), "atrium") {
			keep = append(keep, ck.Name+"="+ck.Value)
		}
	}
	if len(keep) > 0 {
		h.Set("Cookie", strings.Join(keep, "; "))
	}
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

// dswRoutes are the DSW instance routes, proxy included.
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
	}
	for _, m := range proxyMethods {
		rts = append(rts, &route{method: m, path: one + "/proxy/{path...}", code: dswProxyCode, status: http.StatusOK, self: true, stream: true, proxy: true,
			summary: fmt.Sprintf("Forward %s requests (and, for GET, WebSocket upgrades) to the running instance's port, path and query after /proxy; creator, Operators and Admins only; 409 unless Running", m),
			h:       proxyInstance})
	}
	return rts
}
