package httpapi

import (
	"context"
	"net/http"
	"testing"

	"atrium"
)

// Admin (and Owner) and MaxComputeDeveloper submit SQL jobs;
// creators see and stop their own; everyone sees PUBLIC ones; Operator and
// Admin see and stop all. Connections: Admin registers and deletes them;
// MaxComputeDeveloper, Developer and Operator read them (never the password).
func sqlCreator(s *subject) bool {
	return isWSAdmin(s) || s.role == atrium.RoleMaxComputeDeveloper
}

func sqlJobWant(key string, read bool, ok int) func(*subject) int {
	return ownedWant(sqlCreator, key, read, ok)
}

// sqlSetup makes, for caller s, a connection and a SQL job under key
// (own*: the caller's; other*: the victim's).
func sqlSetup(key string) func(t *testing.T, f *fixture, w *world, s *subject) {
	return func(t *testing.T, f *fixture, w *world, s *subject) {
		t.Helper()
		ctx := context.Background()
		if w.assets == nil {
			w.assets = map[string]*atrium.Asset{}
		}
		conn := &atrium.Asset{WorkspaceID: w.ws.ID, Kind: atrium.AssetConnection, Name: "wh-" + s.name + "-" + key,
			Owner: w.victim.UserID, Accessibility: atrium.AccessPublic, Labels: map[string]string{},
			Spec: []byte(`{"url":"postgres://u@127.0.0.1:1/db"}`)}
		if err := f.store.CreateAsset(ctx, conn); err != nil {
			t.Fatal(err)
		}
		w.assets["conn:"+s.name] = conn
		creator, _ := f.store.FindUserByID(ctx, w.victim.UserID)
		if key == "own" || key == "ownDone" {
			creator = s.user
		}
		access, status := atrium.AccessPrivate, atrium.JobQueuing
		if key == "otherPublic" || key == "otherPublicDone" {
			access = atrium.AccessPublic
		}
		if key == "ownDone" || key == "otherPublicDone" {
			status = atrium.JobSucceeded
		}
		j := &atrium.Job{WorkspaceID: w.ws.ID, Kind: atrium.KindSQL, DisplayName: key, JobType: "SQL",
			Creator: creator.ID, CreatorName: creator.Name, Priority: 1, Accessibility: access,
			Spec:   atrium.JobSpec{JobType: "SQL", SQL: &atrium.SQLJobSpec{ConnectionID: conn.ID, Script: "select 1"}},
			Status: status, ReasonCode: atrium.ReasonSubmitted, Pods: []atrium.Pod{},
			StatusHistory: []atrium.StatusChange{{Status: status, ReasonCode: atrium.ReasonSubmitted}}}
		if err := f.store.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		w.jobs["sql:"+s.name] = j
	}
}

func sqlMatrixCases() []matrixCase {
	const ws = "/api/v1/workspaces/{workspaceId}"
	job := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string {
			return "/api/v1/workspaces/" + w.ws.ID + "/sql-jobs/" + w.jobs["sql:"+s.name].ID + suffix
		}
	}
	conn := func(w *world, s *subject) string {
		return "/api/v1/workspaces/" + w.ws.ID + "/connections/" + w.assets["conn:"+s.name].ID
	}
	under := func(suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string { return "/api/v1/workspaces/" + w.ws.ID + suffix }
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
	connReader := func(s *subject) bool {
		return isWSAdmin(s) || s.role == atrium.RoleMaxComputeDeveloper || s.role == atrium.RoleAlgoDeveloper || s.role == atrium.RoleAlgoOperator
	}
	self := func(allowed func(*subject) bool, ok int) func(*subject) int {
		return func(s *subject) int {
			switch {
			case !isMember(s) || !connReader(s): // who may not read it learns nothing
				return http.StatusNotFound
			case allowed(s):
				return ok
			}
			return http.StatusForbidden
		}
	}
	cases := []matrixCase{
		{method: "POST", path: ws + "/connections", path_: under("/connections"),
			body: func(w *world, s *subject) any {
				return map[string]any{"name": "wh", "url": "postgres://u@127.0.0.1:1/db"}
			}, want: gate(isWSAdmin, 201)},
		{method: "GET", path: ws + "/connections", path_: under("/connections"), setup: sqlSetup("own"), want: gate(connReader, 200)},
		{method: "GET", path: ws + "/connections/{connectionId}", path_: conn, setup: sqlSetup("own"), want: self(connReader, 200)},
		{method: "PUT", path: ws + "/connections/{connectionId}", path_: conn, setup: sqlSetup("own"),
			body: func(w *world, s *subject) any { return map[string]any{"description": "changed"} }, want: self(isWSAdmin, 200)},
		{method: "DELETE", path: ws + "/connections/{connectionId}", path_: conn, setup: sqlSetup("own"), want: self(isWSAdmin, 204)},
		{method: "POST", path: ws + "/sql-jobs", path_: under("/sql-jobs"), setup: sqlSetup("own"),
			body: func(w *world, s *subject) any {
				return map[string]any{"displayName": "q", "connectionId": w.assets["conn:"+s.name].ID, "sql": "select 1"}
			}, want: gate(sqlCreator, 201)},
		{method: "GET", path: ws + "/sql-jobs", path_: under("/sql-jobs"), want: gate(isMember, 200)},
	}
	for _, key := range []string{"own", "otherPrivate", "otherPublic"} {
		cases = append(cases,
			matrixCase{method: "GET", path: ws + "/sql-jobs/{sqlJobId}", name: key, path_: job(""), setup: sqlSetup(key), want: sqlJobWant(key, true, 200)},
			matrixCase{method: "GET", path: ws + "/sql-jobs/{sqlJobId}/events", name: key, path_: job("/events"), setup: sqlSetup(key), want: sqlJobWant(key, true, 200)},
			matrixCase{method: "POST", path: ws + "/sql-jobs/{sqlJobId}/stop", name: key, path_: job("/stop"), setup: sqlSetup(key), want: sqlJobWant(key, false, 200)},
		)
	}
	for _, key := range []string{"ownDone", "otherPublicDone"} {
		cases = append(cases, matrixCase{method: "DELETE", path: ws + "/sql-jobs/{sqlJobId}", name: key, path_: job(""), setup: sqlSetup(key), want: sqlJobWant(key, false, 204)})
	}
	return cases
}
