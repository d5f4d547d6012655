package httpapi

import (
	"context"
	"net/http"
	"testing"

	"atrium"
	"atrium/resource"
)

// dswWorld adds DSW instances to a matrix world, under w.jobs keys
// "dsw:"+key: every caller's own PRIVATE instance (queued and stopped) and
// another member's PRIVATE and PUBLIC ones.
func (f *fixture) dswWorld(t *testing.T, w *world, users map[string]*subject) {
	t.Helper()
	ctx := context.Background()
	mk := func(key string, creator *atrium.User, access, status string) {
		j := &atrium.Job{WorkspaceID: w.ws.ID, Kind: atrium.KindDSW, DisplayName: key, JobType: atrium.JobTypeDSW,
			Creator: creator.ID, CreatorName: creator.Name, QuotaID: w.quota.ID, Priority: 1, Accessibility: access,
			Spec: atrium.JobSpec{JobType: atrium.JobTypeDSW, JobSpecs: []atrium.RoleSpec{{Type: atrium.DSWRole, PodCount: 1, Image: "jupyter",
				Resources: resource.Spec{CPU: "1", Memory: "1Gi", GPU: 1, GPUType: "A100"}}}},
			Status: status, ReasonCode: atrium.ReasonSubmitted, Pods: []atrium.Pod{},
			StatusHistory: []atrium.StatusChange{{Status: status, ReasonCode: atrium.ReasonSubmitted}}}
		if err := f.store.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		w.jobs["dsw:"+key] = j
	}
	other, _ := f.store.FindUserByID(ctx, w.victim.UserID)
	for _, s := range users {
		mk("own:"+s.name, s.user, atrium.AccessPrivate, atrium.JobQueuing)
		mk("ownDone:"+s.name, s.user, atrium.AccessPrivate, atrium.JobStopped)
	}
	mk("otherPrivate", other, atrium.AccessPrivate, atrium.JobQueuing)
	mk("otherPublic", other, atrium.AccessPublic, atrium.JobQueuing)
	mk("otherPublicDone", other, atrium.AccessPublic, atrium.JobStopped)
}

// DSW instances follow the Jobs rules (jobWant), and ResourceAdmin
// may create them in any workspace and then use its own like any
// creator, seeing nobody else's. Opening one (a handoff to the DSW origin)
// takes what changing an instance takes (creator, Operator, Admin); on an
// instance that is not Running it answers 409 to them.
func dswWant(key string, read bool, ok int) func(*subject) int {
	jw := jobWant(key, read, ok)
	return func(s *subject) int {
		if isRA(s) {
			if key == "own" || key == "ownDone" {
				return ok
			}
			return http.StatusNotFound
		}
		return jw(s)
	}
}

func dswMatrixCases() []matrixCase {
	inst := func(key, suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string {
			k := key
			if k == "own" || k == "ownDone" {
				k += ":" + s.name
			}
			return "/api/v1/workspaces/" + w.ws.ID + "/dsw-instances/" + w.jobs["dsw:"+k].ID + suffix
		}
	}
	list := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string { return "/api/v1/workspaces/" + w.ws.ID + "/dsw-instances" + suffix }
	}
	spec := func(w *world, s *subject) any {
		return map[string]any{"image": "jupyter", "resources": map[string]any{"cpu": 1, "memory": "1Gi"}, "quotaId": w.quota.ID, "idleTimeout": "1h"}
	}
	createWant := func(s *subject) int {
		switch {
		case jobCreator(s), isRA(s):
			return http.StatusCreated
		case isMember(s):
			return http.StatusForbidden
		}
		return http.StatusNotFound
	}
	listWant := func(s *subject) int {
		if isMember(s) || isRA(s) {
			return http.StatusOK
		}
		return http.StatusNotFound
	}
	const d = "/api/v1/workspaces/{workspaceId}/dsw-instances"
	const one = d + "/{instanceId}"
	cases := []matrixCase{
		{method: "POST", path: d, path_: list(""), body: spec, want: createWant},
		{method: "GET", path: d, path_: list("?status=Queuing,Stopped"), want: listWant},
	}
	for _, key := range []string{"own", "otherPrivate", "otherPublic"} {
		cases = append(cases,
			matrixCase{method: "GET", path: one, name: key, path_: inst(key, ""), want: dswWant(key, true, 200)},
			matrixCase{method: "GET", path: one + "/events", name: key, path_: inst(key, "/events"), want: dswWant(key, true, 200)},
			matrixCase{method: "GET", path: one + "/logs", name: key, path_: inst(key, "/logs"), want: dswWant(key, true, 409)},
			matrixCase{method: "POST", path: one + "/stop", name: key, path_: inst(key, "/stop"), want: dswWant(key, false, 200)},
			matrixCase{method: "PUT", path: one, name: key, path_: inst(key, ""),
				body: func(*world, *subject) any { return map[string]any{"description": "changed"} }, want: dswWant(key, false, 200)},
			matrixCase{method: "POST", path: one + "/handoff", name: key, path_: inst(key, "/handoff"), want: dswWant(key, false, 409)},
		)
	}
	for _, key := range []string{"ownDone", "otherPublicDone"} {
		cases = append(cases,
			matrixCase{method: "POST", path: one + "/start", name: key, path_: inst(key, "/start"), want: dswWant(key, false, 200)},
			matrixCase{method: "DELETE", path: one, name: key, path_: inst(key, ""), want: dswWant(key, false, 204)})
	}
	return cases
}
