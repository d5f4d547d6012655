package console

import (
	"cmp"
	"net/http"

	"atrium"
	"atrium/httpapi"
)

type pipelinesData struct {
	Pipelines []*atrium.Pipeline
	Runs      []*atrium.PipelineRun
}

func (c *Console) pipelines(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Pipelines", "pipelines")
	if err != nil {
		return err
	}
	ctx := r.Context()
	pl, err := s.client.ListPipelines(ctx, v.WS.ID, "")
	if err != nil {
		return err
	}
	rl, err := s.client.ListRuns(ctx, v.WS.ID, "")
	if err != nil {
		return err
	}
	v.Data = &pipelinesData{Pipelines: pl.Items, Runs: rl.Items}
	c.render(w, "pipelines", v)
	return nil
}

func (c *Console) pipelineRun(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Pipeline run", "pipelines")
	if err != nil {
		return err
	}
	run, err := s.client.GetRun(r.Context(), v.WS.ID, r.PathValue("run"))
	if err != nil {
		return err
	}
	v.Title = "Run " + cmp.Or(run.DisplayName, run.ID)
	v.Data = run
	if r.URL.Query().Get("partial") == "status" {
		if atrium.RunFinished(run.Status) {
			w.Header().Set("X-Atrium-Final", "1")
		}
		c.partial(w, "run", "status", v)
		return nil
	}
	c.render(w, "run", v)
	return nil
}

// runAction terminates a run or re-runs its failed nodes.
func (c *Console) runAction(w http.ResponseWriter, r *http.Request, s *session) error {
	ws, id := r.PathValue("ws"), r.PathValue("run")
	var err error
	switch r.PathValue("action") {
	case "terminate":
		_, err = s.client.TerminateRun(r.Context(), ws, id)
	case "rerun":
		_, err = s.client.RerunRun(r.Context(), ws, id, httpapi.RerunRequest{})
	default:
		http.NotFound(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/w/"+ws+"/runs/"+id, r.PathValue("action")+" requested.")
	return nil
}
