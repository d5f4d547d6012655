package httpapi

import (
	"context"
	"net/http"
	"testing"

	"atrium"
	"atrium/resource"
)

// jobWorld adds jobs to a matrix world: every caller's own PRIVATE job
// (queued and finished) and another member's PRIVATE and PUBLIC jobs.
func (f *fixture) jobWorld(t *testing.T, w *world, users map[string]*subject) {
	t.Helper()
	ctx := context.Background()
	mk := func(key string, creator *atrium.User, access, status string) {
		j := &atrium.Job{WorkspaceID: w.ws.ID, Kind: atrium.KindDLC, DisplayName: key, JobType: "CustomJob",
			Creator: creator.ID, CreatorName: creator.Name, QuotaID: w.quota.ID, Priority: 1, Accessibility: access,
			Spec: atrium.JobSpec{JobType: "CustomJob", Command: "true", JobSpecs: []atrium.RoleSpec{{Type: "Worker", PodCount: 1, Image: "busybox",
				Resources: resource.Spec{CPU: "1", Memory: "1Gi", GPU: 1, GPUType: "A100"}}}},
			Status: status, ReasonCode: atrium.ReasonSubmitted, Pods: []atrium.Pod{},
			StatusHistory: []atrium.StatusChange{{Status: status, ReasonCode: atrium.ReasonSubmitted}}}
		if err := f.store.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		w.jobs[key] = j
	}
	w.jobs = map[string]*atrium.Job{}
	other, _ := f.store.FindUserByID(ctx, w.victim.UserID)
	for _, s := range users {
		mk("own:"+s.name, s.user, atrium.AccessPrivate, atrium.JobQueuing)
		mk("ownDone:"+s.name, s.user, atrium.AccessPrivate, atrium.JobSucceeded)
	}
	mk("otherPrivate", other, atrium.AccessPrivate, atrium.JobQueuing)
	mk("otherPublic", other, atrium.AccessPublic, atrium.JobQueuing)
	mk("otherPublicDone", other, atrium.AccessPublic, atrium.JobSucceeded)
}

// Jobs: Admin, Developer and Operator create; creators see and
// stop their own; everyone sees PUBLIC jobs; Operator and Admin see, stop
// and re-prioritise all. Guest, LabelManager and MaxComputeDeveloper do
// not create DLC jobs and see only PUBLIC ones.
func jobCreator(s *subject) bool {
	return isWSAdmin(s) || s.role == atrium.RoleAlgoDeveloper || s.role == atrium.RoleAlgoOperator
}
func jobSeesAll(s *subject) bool { return isWSAdmin(s) || s.role == atrium.RoleAlgoOperator }

// jobWant gives the status for an action on one of the world's jobs.
func jobWant(key string, read bool, ok int) func(*subject) int {
	return func(s *subject) int {
		if !isMember(s) {
			return http.StatusNotFound // strangers; ResourceAdmin sees no team's jobs
		}
		own := key == "own" || key == "ownDone"
		public := key == "otherPublic" || key == "otherPublicDone"
		visible := jobSeesAll(s) || public || (own && jobCreator(s))
		switch {
		case !visible:
			return http.StatusNotFound
		case read, jobSeesAll(s), own && jobCreator(s):
			return ok
		}
		return http.StatusForbidden
	}
}

func jobMatrixCases() []matrixCase {
	job := func(key, suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string {
			k := key
			if k == "own" || k == "ownDone" {
				k += ":" + s.name
			}
			return "/api/v1/workspaces/" + w.ws.ID + "/jobs/" + w.jobs[k].ID + suffix
		}
	}
	jobs := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string { return "/api/v1/workspaces/" + w.ws.ID + "/jobs" + suffix }
	}
	spec := func(w *world, s *subject) any {
		return "jobType: CustomJob\ncommand: 'true'\nquotaId: " + w.quota.ID +
			"\njobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 1Gi}}]\n"
	}
	memberOK := func(ok int) func(*subject) int {
		return func(s *subject) int {
			switch {
			case isMember(s):
				return ok
			case isRA(s):
				return http.StatusForbidden
			}
			return http.StatusNotFound
		}
	}
	createWant := func(ok int) func(*subject) int {
		return func(s *subject) int {
			switch {
			case jobCreator(s):
				return ok
			case isMember(s), isRA(s):
				return http.StatusForbidden
			}
			return http.StatusNotFound
		}
	}
	const ws = "/api/v1/workspaces/{workspaceId}"
	cases := []matrixCase{
		// Importing needs a Slurm executor this test server lacks: 503 for
		// the one caller allowed to try.
		{method: "POST", path: "/api/v1/resource-groups/{resourceGroupId}/import-nodes",
			path_: func(w *world, s *subject) string { return "/api/v1/resource-groups/" + w.spareRG.ID + "/import-nodes" }, want: raOnly(503)},
		{method: "POST", path: ws + "/jobs", path_: jobs(""), body: spec, want: createWant(201)},
		{method: "POST", path: ws + "/jobs", name: "dry run", path_: jobs("?dryRun=true"), body: spec, want: createWant(200)},
		{method: "GET", path: ws + "/jobs", path_: jobs(""), want: memberOK(200)},
		// Usage: every member and ResourceAdmin read a workspace's; the
		// platform-wide view is ResourceAdmin's.
		{method: "GET", path: ws + "/usage", path_: func(w *world, s *subject) string {
			return "/api/v1/workspaces/" + w.ws.ID + "/usage?groupBy=quota"
		}, want: wsRead(200)},
		{method: "GET", path: "/api/v1/usage", path_: func(*world, *subject) string { return "/api/v1/usage?groupBy=workspace" }, want: platform(200)},
	}
	for _, key := range []string{"own", "otherPrivate", "otherPublic"} {
		cases = append(cases,
			matrixCase{method: "GET", path: ws + "/jobs/{jobId}", name: key, path_: job(key, ""), want: jobWant(key, true, 200)},
			matrixCase{method: "GET", path: ws + "/jobs/{jobId}/events", name: key, path_: job(key, "/events"), want: jobWant(key, true, 200)},
			// Not started yet: a reader is told so (409), others learn nothing.
			matrixCase{method: "GET", path: ws + "/jobs/{jobId}/logs", name: key, path_: job(key, "/logs"), want: jobWant(key, true, 409)},
			matrixCase{method: "POST", path: ws + "/jobs/{jobId}/stop", name: key, path_: job(key, "/stop"), want: jobWant(key, false, 200)},
			matrixCase{method: "PUT", path: ws + "/jobs/{jobId}", name: key, path_: job(key, ""),
				body: func(*world, *subject) any { return map[string]any{"description": "changed"} }, want: jobWant(key, false, 200)},
		)
	}
	for _, key := range []string{"ownDone", "otherPublicDone"} {
		cases = append(cases, matrixCase{method: "DELETE", path: ws + "/jobs/{jobId}", name: key, path_: job(key, ""), want: jobWant(key, false, 204)})
	}
	return cases
}
