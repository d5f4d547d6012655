package httpapi

// Pipelines (issue 8): versioned DAGs (pipeline-…) of inline jobs,
// algorithm versions and SQL nodes, validated at save. Each save makes a
// new version; runs snapshot one.

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"atrium"
	"atrium/authz"
)

// PipelineRequest creates or replaces a pipeline, in YAML or JSON: name,
// description, accessibility, and the DAG (parameters, nodes).
type PipelineRequest struct {
	Name          string `json:"name"`
	Description   string `json:"description,omitempty"`
	Accessibility string `json:"accessibility,omitempty"`
	atrium.PipelineSpec
}

func pipelineRoutes(ws string) []*route {
	ps := ws + "/pipelines"
	one := ps + "/{pipelineId}"
	rs := ws + "/pipeline-runs"
	run := rs + "/{runId}"
	return []*route{
		{method: "POST", path: ps, code: "Pipeline:CreatePipeline", status: http.StatusCreated,
			summary: "Create a pipeline (version 1) from YAML or JSON: name, parameters and nodes (job, algorithm or sql) wired output → input. " +
				"Checked at save: acyclic, every input wired or defaulted, types match, params type-check; a 400 names the node and port",
			in: PipelineRequest{}, out: atrium.Pipeline{}, body: "application/yaml", h: createPipeline},
		{method: "GET", path: ps, code: "Pipeline:ListPipelines", status: http.StatusOK,
			summary: "List the workspace's pipelines (every member reads pipelines), by name",
			query:   params([]param{{"name", "only the pipeline of this name"}}, pageParams), out: List[*atrium.Pipeline]{}, h: listPipelines},
		{method: "GET", path: one, code: "Pipeline:GetPipeline", status: http.StatusOK, self: true,
			summary: "Read a pipeline with the spec of its latest version (or of version)",
			query:   []param{{"version", "a version number (default: the latest)"}}, out: atrium.Pipeline{}, h: getPipeline},
		{method: "GET", path: one + "/versions", code: "Pipeline:GetPipeline", status: http.StatusOK, self: true,
			summary: "List a pipeline's versions, newest first, each with its spec", out: List[*atrium.Pipeline]{}, h: listPipelineVersions},
		{method: "PUT", path: one, code: "Pipeline:UpdatePipeline", status: http.StatusOK, self: true,
			summary: "Save a new version of a pipeline (same body as create; the name cannot change); runs keep the version they ran",
			in:      PipelineRequest{}, out: atrium.Pipeline{}, body: "application/yaml", h: updatePipeline},
		{method: "DELETE", path: one, code: "Pipeline:DeletePipeline", status: http.StatusNoContent, self: true,
			summary: "Delete a pipeline and its versions (its runs stay)", h: deletePipeline},

		{method: "POST", path: rs, code: "Pipeline:CreateRun", status: http.StatusCreated,
			summary: "Run a pipeline version: arguments override its parameters' defaults. Each node becomes a job (quotas, priorities, max runtime apply) " +
				"once its inputs are ready; the run goes Initialized → Running → Succeeded | Failed",
			in: CreateRunRequest{}, out: atrium.PipelineRun{}, h: createRun},
		{method: "GET", path: rs, code: "Pipeline:ListRuns", status: http.StatusOK,
			summary: "List pipeline runs you may see (your own and PUBLIC ones; Operators and Admins all), newest first",
			query:   params([]param{{"pipelineId", "only runs of this pipeline"}, {"status", "comma-separated run statuses"}}, pageParams),
			out:     List[*atrium.PipelineRun]{}, h: listRuns},
		{method: "GET", path: run, code: "Pipeline:GetRun", status: http.StatusOK, self: true,
			summary: "Read a run: status, statusHistory and nodes (status, jobId — its logs are the job's —, startedAt, finishedAt, outputs)",
			out:     atrium.PipelineRun{}, h: getRun},
		{method: "POST", path: run + "/terminate", code: "Pipeline:StopRun", status: http.StatusOK, self: true,
			summary: "Terminate a run: Terminating while its node jobs stop, then Terminated", out: atrium.PipelineRun{}, h: terminateRun},
		{method: "POST", path: run + "/rerun", code: "Pipeline:RerunRun", status: http.StatusOK, self: true,
			summary: "Re-run a Failed or Terminated run: the nodes that did not succeed and every node downstream of them run again, " +
				"the others keep their jobs and outputs; arguments given here override the run's",
			in: RerunRequest{}, out: atrium.PipelineRun{}, h: rerunRun},
		{method: "DELETE", path: run, code: "Pipeline:DeleteRun", status: http.StatusNoContent, self: true,
			summary: "Delete a finished run (its node jobs stay)", h: deleteRun},
	}
}

func pipelineResource(p *atrium.Pipeline) authz.Resource {
	return authz.Resource{WorkspaceID: p.WorkspaceID, Kind: "pipeline", ID: p.ID, OwnerID: p.Creator, Accessibility: p.Accessibility}
}

// readPipelineRequest reads and checks a pipeline body; the algorithm
// versions its nodes name are resolved and must be readable.
func (c *call) readPipelineRequest() (*PipelineRequest, error) {
	b, err := readBody(c.r)
	if err != nil {
		return nil, err
	}
	var req PipelineRequest
	if err := atrium.ParsePipelineSpec(b, &req); err != nil {
		if e := atrium.AsError(err); e != nil && strings.HasPrefix(e.Field, "PipelineSpec.") {
			// The DAG's fields are the document's own: no Go type names.
			field := strings.TrimPrefix(e.Field, "PipelineSpec.")
			return nil, &atrium.Error{Code: e.Code, Field: field, Message: strings.Replace(e.Message, e.Field, field, 1)}
		}
		return nil, err
	}
	if err := checkAssetName("name", req.Name); err != nil {
		return nil, err
	}
	if err := checkDescription("description", req.Description); err != nil {
		return nil, err
	}
	if err := checkAccessibility(&req.Accessibility); err != nil {
		return nil, err
	}
	if _, err := c.checkPipelineSpec(&req.PipelineSpec); err != nil {
		return nil, err
	}
	return &req, nil
}

// checkPipelineSpec resolves the spec's algorithm versions, validates the
// DAG and checks that SQL nodes name connections of this workspace. It
// returns the components by node name.
func (c *call) checkPipelineSpec(s *atrium.PipelineSpec) (map[string]*atrium.PipelineComponent, error) {
	comps := map[string]*atrium.PipelineComponent{}
	for _, n := range s.Nodes {
		if n.Algorithm == nil {
			continue
		}
		a, err := c.s.Store.FindAssetByID(c.ctx(), n.Algorithm.AlgorithmID)
		if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (a.WorkspaceID != c.ws.ID || a.Kind != atrium.AssetAlgorithm ||
			!c.allowed("Algorithm:GetAlgorithm", assetResource(algorithms, a)))) {
			continue // Validate names the node
		} else if err != nil {
			return nil, err
		}
		version := cmp.Or(n.Algorithm.Version, a.LatestVersion)
		v, err := c.s.Store.FindAssetVersion(c.ctx(), a.ID, version)
		if atrium.ErrorCode(err) == atrium.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		var comp atrium.PipelineComponent
		if err := json.Unmarshal(v.Spec, &comp); err != nil {
			return nil, err
		}
		comps[n.Name] = &comp
	}
	if err := s.Validate(comps); err != nil {
		return nil, err
	}
	for _, n := range s.Nodes {
		if n.SQL == nil {
			continue
		}
		a, err := c.s.Store.FindAssetByID(c.ctx(), n.SQL.ConnectionID)
		if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && (a.WorkspaceID != c.ws.ID || a.Kind != atrium.AssetConnection)) {
			return nil, atrium.FieldErrorf("nodes["+n.Name+"].sql.connectionId", "node %s: connection %q not found in this workspace", n.Name, n.SQL.ConnectionID)
		} else if err != nil {
			return nil, err
		}
	}
	return comps, nil
}

func createPipeline(c *call) (any, error) {
	req, err := c.readPipelineRequest()
	if err != nil {
		return nil, err
	}
	p := &atrium.Pipeline{WorkspaceID: c.ws.ID, Name: req.Name, Description: req.Description, Creator: c.user.ID,
		CreatorName: c.user.Name, Accessibility: req.Accessibility, Spec: req.PipelineSpec}
	if err := c.s.Store.CreatePipeline(c.ctx(), p); err != nil {
		return nil, err
	}
	return p, nil
}

func listPipelines(c *call) (any, error) {
	q := c.r.URL.Query()
	p, err := readPage(q)
	if err != nil {
		return nil, err
	}
	f := atrium.PipelineFilter{WorkspaceID: c.ws.ID, Name: q.Get("name"), Offset: p.offset, Limit: p.limit}
	items, total, err := c.s.Store.FindPipelines(c.ctx(), f)
	if err != nil {
		return nil, err
	}
	return newList(items, total, p), nil
}

// pipelineOf loads the pipeline the path names (at version, 0: latest)
// and authorizes code on it; other workspaces' pipelines are 404.
func (c *call) pipelineOf(id string, version int, code string) (*atrium.Pipeline, error) {
	p, err := c.s.Store.FindPipelineByID(c.ctx(), id, version)
	if atrium.ErrorCode(err) == atrium.ENOTFOUND || (err == nil && p.WorkspaceID != c.ws.ID) {
		c.authorized = true
		return nil, atrium.Errorf(atrium.ENOTFOUND, "pipeline %q not found", id)
	} else if err != nil {
		return nil, err
	}
	if err := c.authorize(code, pipelineResource(p)); err != nil {
		return nil, err
	}
	return p, nil
}

func getPipeline(c *call) (any, error) {
	version := 0
	if s := c.r.URL.Query().Get("version"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, atrium.FieldErrorf("version", "must be a version number (1, 2…), not %q", s)
		}
		version = n
	}
	return c.pipelineOf(c.r.PathValue("pipelineId"), version, "Pipeline:GetPipeline")
}

func listPipelineVersions(c *call) (any, error) {
	p, err := c.pipelineOf(c.r.PathValue("pipelineId"), 0, "Pipeline:GetPipeline")
	if err != nil {
		return nil, err
	}
	vs, err := c.s.Store.FindPipelineVersions(c.ctx(), p.ID)
	if err != nil {
		return nil, err
	}
	return newList(vs, len(vs), page{}), nil
}

func updatePipeline(c *call) (any, error) {
	p, err := c.pipelineOf(c.r.PathValue("pipelineId"), 0, "Pipeline:UpdatePipeline")
	if err != nil {
		return nil, err
	}
	req, err := c.readPipelineRequest()
	if err != nil {
		return nil, err
	}
	if req.Name != p.Name {
		return nil, atrium.FieldErrorf("name", "cannot change (it is %q)", p.Name)
	}
	return c.s.Store.UpdatePipeline(c.ctx(), p.ID, req.Description, req.PipelineSpec)
}

func deletePipeline(c *call) (any, error) {
	p, err := c.pipelineOf(c.r.PathValue("pipelineId"), 0, "Pipeline:DeletePipeline")
	if err != nil {
		return nil, err
	}
	return nil, c.s.Store.DeletePipeline(c.ctx(), p.ID)
}

// checkAccessibility defaults an empty accessibility to PRIVATE and
// refuses anything but PRIVATE or PUBLIC.
func checkAccessibility(a *string) error {
	switch *a {
	case "":
		*a = atrium.AccessPrivate
	case atrium.AccessPrivate, atrium.AccessPublic:
	default:
		return atrium.FieldErrorf("accessibility", "must be PRIVATE or PUBLIC")
	}
	return nil
}
