package httpapi

import (
	"context"
	"net/http"
	"testing"

	"atrium"
	"atrium/resource"
)

// every member reads pipelines; Admin, Developer, Operator and
// MaxComputeDeveloper create them and change or delete their own (Admin
// all). Runs are jobs: those four create them, creators see, terminate,
// re-run and delete their own, everyone sees PUBLIC ones, Operator and
// Admin all.
func pipelineCreator(s *subject) bool {
	return jobCreator(s) || s.role == atrium.RoleMaxComputeDeveloper
}

// matrixPipelineSpec is one job node in the world's bound quota.
func matrixPipelineSpec(w *world) atrium.PipelineSpec {
	return atrium.PipelineSpec{Nodes: []atrium.PipelineNodeSpec{{Name: "only", Job: &atrium.JobSpec{JobType: "CustomJob", Command: "true",
		QuotaID: w.quota.ID, JobSpecs: []atrium.RoleSpec{{Type: "Worker", PodCount: 1, Image: "busybox", Resources: resource.Spec{CPU: "1", Memory: "1Gi"}}}}}}}
}

// pipelineSetup makes, for caller s, a pipeline and a run under key
// (own*: the caller's; other*: the victim's); *Done runs have Failed.
func pipelineSetup(key string) func(t *testing.T, f *fixture, w *world, s *subject) {
	return func(t *testing.T, f *fixture, w *world, s *subject) {
		t.Helper()
		ctx := context.Background()
		creator, _ := f.store.FindUserByID(ctx, w.victim.UserID)
		if key == "own" || key == "ownDone" {
			creator = s.user
		}
		access, status := atrium.AccessPrivate, atrium.RunRunning
		if key == "otherPublic" || key == "otherPublicDone" {
			access = atrium.AccessPublic
		}
		if key == "ownDone" || key == "otherPublicDone" {
			status = atrium.RunFailed
		}
		p := &atrium.Pipeline{WorkspaceID: w.ws.ID, Name: "p-" + s.name + "-" + key, Creator: creator.ID, CreatorName: creator.Name,
			Accessibility: access, Spec: matrixPipelineSpec(w)}
		if err := f.store.CreatePipeline(ctx, p); err != nil {
			t.Fatal(err)
		}
		r := &atrium.PipelineRun{WorkspaceID: w.ws.ID, PipelineID: p.ID, PipelineVersion: 1, DisplayName: p.Name,
			Creator: creator.ID, CreatorName: creator.Name, Accessibility: access, Spec: p.Spec, Status: status,
			Nodes: []atrium.PipelineNode{{Name: "only", Status: atrium.NodeFailed}}}
		if err := f.store.CreatePipelineRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if w.pipelines == nil {
			w.pipelines, w.runs = map[string]*atrium.Pipeline{}, map[string]*atrium.PipelineRun{}
		}
		w.pipelines[s.name], w.runs[s.name] = p, r
	}
}

// runWant gives the status for an action on a run under key.
func runWant(key string, read bool, ok int) func(*subject) int {
	return ownedWant(pipelineCreator, key, read, ok)
}

// ownedWant gives the status for an action on a job-like target under
// key (own*, other*, *Public*) whose creators are those creator admits.
func ownedWant(creator func(*subject) bool, key string, read bool, ok int) func(*subject) int {
	return func(s *subject) int {
		if !isMember(s) {
			return http.StatusNotFound
		}
		own := key == "own" || key == "ownDone"
		public := key == "otherPublic" || key == "otherPublicDone"
		visible := jobSeesAll(s) || public || (own && creator(s))
		switch {
		case !visible:
			return http.StatusNotFound
		case read, jobSeesAll(s), own && creator(s):
			return ok
		}
		return http.StatusForbidden
	}
}

func pipelineMatrixCases() []matrixCase {
	const ws = "/api/v1/workspaces/{workspaceId}"
	under := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string { return "/api/v1/workspaces/" + w.ws.ID + suffix }
	}
	pipe := func(w *world, s *subject) string {
		return "/api/v1/workspaces/" + w.ws.ID + "/pipelines/" + w.pipelines[s.name].ID
	}
	run := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string {
			return "/api/v1/workspaces/" + w.ws.ID + "/pipeline-runs/" + w.runs[s.name].ID + suffix
		}
	}
	gate := func(allowed func(*subject) bool, ok int) func(*subject) int {
		return func(s *subject) int {
			switch {
			case allowed(s):
				return ok
			case isMember(s), isRA(s):
				return http.StatusForbidden
			}
			return http.StatusNotFound
		}
	}
	// Pipelines: members read all; writers change their own (Admin all).
	self := func(key string, write bool, ok int) func(*subject) int {
		return func(s *subject) int {
			switch {
			case !isMember(s):
				return http.StatusNotFound
			case !write, isWSAdmin(s), key == "own" && pipelineCreator(s):
				return ok
			}
			return http.StatusForbidden
		}
	}
	body := func(w *world, s *subject) any {
		return map[string]any{"name": "new-" + s.name, "nodes": matrixPipelineSpec(w).Nodes}
	}
	cases := []matrixCase{
		{method: "POST", path: ws + "/pipelines", path_: under("/pipelines"), body: body, want: gate(pipelineCreator, 201)},
		{method: "GET", path: ws + "/pipelines", path_: under("/pipelines"), want: gate(isMember, 200)},
		{method: "POST", path: ws + "/pipeline-runs", path_: under("/pipeline-runs"), setup: pipelineSetup("otherPublic"),
			body: func(w *world, s *subject) any { return map[string]any{"pipelineId": w.pipelines[s.name].ID} }, want: gate(pipelineCreator, 201)},
		{method: "GET", path: ws + "/pipeline-runs", path_: under("/pipeline-runs"), want: gate(isMember, 200)},
	}
	for _, key := range []string{"own", "otherPrivate"} {
		cases = append(cases,
			matrixCase{method: "GET", path: ws + "/pipelines/{pipelineId}", name: key, path_: pipe, setup: pipelineSetup(key), want: self(key, false, 200)},
			matrixCase{method: "GET", path: ws + "/pipelines/{pipelineId}/versions", name: key,
				path_: func(w *world, s *subject) string { return pipe(w, s) + "/versions" }, setup: pipelineSetup(key), want: self(key, false, 200)},
			matrixCase{method: "PUT", path: ws + "/pipelines/{pipelineId}", name: key, path_: pipe, setup: pipelineSetup(key),
				body: func(w *world, s *subject) any {
					return map[string]any{"name": w.pipelines[s.name].Name, "nodes": matrixPipelineSpec(w).Nodes}
				}, want: self(key, true, 200)},
			matrixCase{method: "DELETE", path: ws + "/pipelines/{pipelineId}", name: key, path_: pipe, setup: pipelineSetup(key), want: self(key, true, 204)},
		)
	}
	for _, key := range []string{"own", "otherPrivate", "otherPublic"} {
		cases = append(cases,
			matrixCase{method: "GET", path: ws + "/pipeline-runs/{runId}", name: key, path_: run(""), setup: pipelineSetup(key), want: runWant(key, true, 200)},
			matrixCase{method: "POST", path: ws + "/pipeline-runs/{runId}/terminate", name: key, path_: run("/terminate"), setup: pipelineSetup(key), want: runWant(key, false, 200)},
		)
	}
	for _, key := range []string{"ownDone", "otherPublicDone"} {
		cases = append(cases,
			matrixCase{method: "POST", path: ws + "/pipeline-runs/{runId}/rerun", name: key, path_: run("/rerun"), setup: pipelineSetup(key),
				body: func(w *world, s *subject) any { return map[string]any{} }, want: runWant(key, false, 200)},
			matrixCase{method: "DELETE", path: ws + "/pipeline-runs/{runId}", name: key, path_: run(""), setup: pipelineSetup(key), want: runWant(key, false, 204)},
		)
	}
	return cases
}
