package console

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"atrium"
	"atrium/httpapi"
)

const jobPageSize = 50

type jobsData struct {
	Items []*atrium.Job
	Total int
	Next  string // query of the next page, "" on the last
	Poll  string // the rows fragment of this very page, for live updates
	// Filter echoes the filter form.
	Status, Creator, JobType string
	Members                  []*atrium.Member
	Statuses, JobTypes       []string
}

func (c *Console) jobs(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Jobs", "jobs")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := &jobsData{Status: q.Get("status"), Creator: q.Get("creator"), JobType: q.Get("jobType"),
		Statuses: []string{atrium.JobQueuing, atrium.JobRunning, atrium.JobRestarting, atrium.JobStopping, atrium.JobSucceeded, atrium.JobFailed, atrium.JobStopped},
		JobTypes: atrium.JobTypes()}
	opt := httpapi.ListJobsOptions{Creator: d.Creator, JobType: d.JobType,
		PageOptions: httpapi.PageOptions{PageSize: jobPageSize, PageToken: q.Get("pageToken")}}
	if d.Status != "" {
		opt.Status = []string{d.Status}
	}
	ctx := r.Context()
	l, err := s.client.ListJobs(ctx, v.WS.ID, opt)
	if err != nil {
		return err
	}
	d.Items, d.Total = l.Items, l.TotalCount
	nq := url.Values{}
	for k, vs := range q {
		if k != "partial" {
			nq[k] = vs
		}
	}
	nq.Set("partial", "rows")
	d.Poll = "/w/" + v.WS.ID + "/jobs?" + nq.Encode()
	nq.Del("partial")
	if l.NextPageToken != "" {
		nq.Set("pageToken", l.NextPageToken)
		d.Next = nq.Encode()
	}
	v.Data = d
	if q.Get("partial") == "rows" {
		c.partial(w, "jobs", "rows", v)
		return nil
	}
	ml, err := s.client.ListMembers(ctx, v.WS.ID, httpapi.ListMembersOptions{PageOptions: httpapi.PageOptions{PageSize: 500}})
	if err != nil {
		return err
	}
	d.Members = ml.Items
	c.render(w, "jobs", v)
	return nil
}

type newJobData struct {
	Spec   string
	DryRun *httpapi.DryRunResult
}

// exampleSpec is what the submit form starts with: it runs on the local
// executor with the quota every workspace may use.
const exampleSpec = `displayName: hello
jobType: CustomJob
command: echo "hello from rank $RANK of $WORLD_SIZE"
jobSpecs:
  - type: Worker
    podCount: 1
    image: python:3.12-slim
    resources: {cpu: 1, memory: 512Mi}
`

func (c *Console) newJob(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Submit a job", "jobs")
	if err != nil {
		return err
	}
	v.Data = &newJobData{Spec: exampleSpec}
	c.render(w, "jobnew", v)
	return nil
}

// submitJob submits the YAML, or with action=dryrun asks the scheduler
// what it would do; refusals stay on the form with the field they name.
func (c *Console) submitJob(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Submit a job", "jobs")
	if err != nil {
		return err
	}
	d := &newJobData{Spec: r.PostFormValue("spec")}
	v.Data = d
	ctx, spec := r.Context(), []byte(d.Spec)
	if r.PostFormValue("action") == "dryrun" {
		d.DryRun, err = s.client.DryRunJob(ctx, v.WS.ID, spec)
	} else {
		var j *atrium.Job
		if j, err = s.client.SubmitJob(ctx, v.WS.ID, spec); err == nil {
			redirect(w, r, "/w/"+v.WS.ID+"/jobs/"+j.ID, "Job submitted.")
			return nil
		}
	}
	if err != nil {
		if err := formError(w, v, err); err != nil {
			return err
		}
	}
	c.render(w, "jobnew", v)
	return nil
}

type jobData struct {
	Job  *atrium.Job
	Spec string
	Pod  string // the pod whose log is shown, "" for all

}

func (c *Console) job(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Job", "jobs")
	if err != nil {
		return err
	}
	j, err := s.client.GetJob(r.Context(), v.WS.ID, r.PathValue("job"))
	if err != nil {
		return err
	}
	v.Title = cmp.Or(j.DisplayName, j.ID)
	v.Data = &jobData{Job: j, Spec: specText(j), Pod: r.URL.Query().Get("pod")}
	if r.URL.Query().Get("partial") == "status" {
		if atrium.JobFinished(j.Status) {
			w.Header().Set("X-Atrium-Final", "1")
		}
		c.partial(w, "job", "status", v)
		return nil
	}
	c.render(w, "job", v)
	return nil
}

// specText shows the stored spec as indented JSON (the API accepts it
// back as a job spec, JSON being YAML).
func specText(j *atrium.Job) string {
	b, err := json.MarshalIndent(&j.Spec, "", "  ")
	if err != nil {
		return fmt.Sprintf("# cannot show the spec: %v", err)
	}
	return string(b)
}

func (c *Console) stopJob(w http.ResponseWriter, r *http.Request, s *session) error {
	ws, id := r.PathValue("ws"), r.PathValue("job")
	if _, err := s.client.StopJob(r.Context(), ws, id); err != nil {
		return err
	}
	redirect(w, r, "/w/"+ws+"/jobs/"+id, "Stop requested.")
	return nil
}

// jobLogs streams a pod's log as server-sent events, one line per event;
// an "end" event says the pod finished, an "failure" event carries the API's
// refusal (not started yet, gone…).
func (c *Console) jobLogs(w http.ResponseWriter, r *http.Request, s *session) error {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a tail outlives the server write timeout
	sw := &sseLines{w: w, flush: func() { _ = rc.Flush() }}
	ws, id := r.PathValue("ws"), r.PathValue("job")
	err := c.waitStarted(r.Context(), s, ws, id, func() { fmt.Fprint(w, ": waiting for the job to start\n\n"); _ = rc.Flush() })
	if err == nil {
		err = s.client.JobLogs(r.Context(), ws, id, r.URL.Query().Get("pod"), true, sw)
	}
	sw.end()
	if err != nil && r.Context().Err() == nil {
		fmt.Fprintf(w, "event: failure\ndata: %s\n\n", oneLine(err.Error()))
	} else {
		fmt.Fprint(w, "event: end\ndata: \n\n")
	}
	_ = rc.Flush()
	return nil
}

// waitStarted returns once the job has started or finished: the API has no
// log to follow before, and a tail opened on a queued job should show the
// first lines when they come rather than end at once.
func (c *Console) waitStarted(ctx context.Context, s *session, ws, id string, beat func()) error {
	for {
		j, err := s.client.GetJob(ctx, ws, id)
		if err != nil {
			return err
		}
		if j.StartedAt != nil || atrium.JobFinished(j.Status) {
			return nil
		}
		beat()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(logWaitPoll):
		}
	}
}

// logWaitPoll is how often a tail checks whether its job has started.
const logWaitPoll = time.Second

// sseLines turns a byte stream into one SSE data event per line.
type sseLines struct {
	w     http.ResponseWriter
	flush func()
	buf   bytes.Buffer
}

func (s *sseLines) Write(p []byte) (int, error) {
	s.buf.Write(p)
	for {
		line, err := s.buf.ReadString('\n')
		if err != nil { // no full line yet: keep it
			s.buf.Reset()
			s.buf.WriteString(line)
			break
		}
		if _, err := fmt.Fprintf(s.w, "data: %s\n\n", oneLine(strings.TrimSuffix(line, "\n"))); err != nil {
			return 0, err
		}
	}
	s.flush()
	return len(p), nil
}

func (s *sseLines) end() {
	if s.buf.Len() > 0 {
		fmt.Fprintf(s.w, "data: %s\n\n", oneLine(s.buf.String()))
		s.buf.Reset()
	}
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", "", "\n", " ").Replace(s)
}

type dswData struct {
	Items []*atrium.Job
}

func (c *Console) dsw(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Notebooks (DSW)", "dsw")
	if err != nil {
		return err
	}
	l, err := s.client.ListDSW(r.Context(), v.WS.ID, httpapi.ListDSWOptions{PageOptions: httpapi.PageOptions{PageSize: 100}})
	if err != nil {
		return err
	}
	v.Data = &dswData{Items: l.Items}
	c.render(w, "dsw", v)
	return nil
}

func (c *Console) dswAction(w http.ResponseWriter, r *http.Request, s *session) error {
	ws, id := r.PathValue("ws"), r.PathValue("job")
	var err error
	switch r.PathValue("action") {
	case "stop":
		_, err = s.client.StopDSW(r.Context(), ws, id)
	case "start":
		_, err = s.client.StartDSW(r.Context(), ws, id)
	case "open":
		// The instance is served on the DSW origin, never here: the API
		// asks the authorizer and mints a one-time link to it.
		var h *httpapi.DSWHandoffView
		if h, err = s.client.OpenDSW(r.Context(), ws, id); err == nil {
			w.Header().Set("Referrer-Policy", "no-referrer")
			http.Redirect(w, r, h.URL, http.StatusSeeOther)
			return nil
		}
	default:
		http.NotFound(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/w/"+ws+"/dsw", "Instance "+id+": "+r.PathValue("action")+" requested.")
	return nil
}
