package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"atrium"
	"atrium/secret"
	"atrium/sqlrunner"
)

// SQL nodes run as SQL jobs of the run's creator against the CI
// PostgreSQL: the first creates and fills a table (its row count from a
// run argument), the next reads it, a job node runs after both. A
// Developer, who may not submit SQL jobs, cannot start such a run.
func TestPipelineSQLNodes(t *testing.T) {
	pgURL := os.Getenv("ATRIUM_TEST_POSTGRES")
	if pgURL == "" {
		t.Skip("ATRIUM_TEST_POSTGRES is not set")
	}
	pf := newPipeFixture(t, "sqlite")
	ctx := context.Background()
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, err := secret.NewBox(key)
	must(t, err)
	runner := sqlrunner.New(pf.store, box, slog.New(slog.NewTextHandler(pf.logs, nil)))
	runner.Poll = 100 * time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); runner.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	pf.api.Secrets, pf.api.SQL = box, runner

	u, err := url.Parse(pgURL)
	must(t, err)
	password, _ := u.User.Password()
	noPW := *u
	noPW.User = url.User(u.User.Username())
	var wsID string
	fmt.Sscanf(pf.ws, "/api/v1/workspaces/%s", &wsID)
	spec, _ := json.Marshal(atrium.ConnectionSpec{URL: noPW.String()})
	conn := &atrium.Asset{ID: atrium.NewID("conn-"), WorkspaceID: wsID, Kind: atrium.AssetConnection, Name: "ci",
		Accessibility: atrium.AccessPublic, Labels: map[string]string{}, Spec: spec}
	conn.Secret = box.Seal([]byte(password), []byte(conn.ID))
	must(t, pf.store.CreateAsset(ctx, conn))
	mc, mcTok := pf.user(t, "mcdev")
	_, err = pf.store.AddMembers(ctx, wsID, []atrium.MemberParams{{UserID: mc.ID, Roles: []string{atrium.RoleMaxComputeDeveloper}}})
	must(t, err)

	table := fmt.Sprintf("atrium_pipe_%d", time.Now().UnixNano())
	wh, err := pgx.Connect(ctx, pgURL)
	must(t, err)
	t.Cleanup(func() {
		_, _ = wh.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)
		wh.Close(context.Background())
	})
	doc := `name: warehouse
parameters: [{name: rows, type: int, default: 2}]
nodes:
  - {name: Load, params: {rows: "${rows}"}, sql: {connectionId: ` + conn.ID + `, sql: "CREATE TABLE ` + table + ` AS SELECT generate_series(1, {{.rows}}) AS n"}}
  - {name: Count, dependsOn: [Load], sql: {connectionId: ` + conn.ID + `, sql: "SELECT count(*) AS c FROM ` + table + `"}}
  - {name: After, dependsOn: [Count], job: {jobType: CustomJob, command: "true", jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 0.1, memory: 64Mi}}]}}
`
	p := pf.createPipeline(t, doc)
	if resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipeline-runs", map[string]any{"pipelineId": p.ID}); resp.status != 403 ||
		resp.problem(t).Permission != "MaxCompute:CreateSQLJob" {
		t.Fatalf("developer runs SQL nodes: %d %s", resp.status, resp.body)
	}
	resp := pf.do(t, mcTok, "POST", pf.ws+"/pipeline-runs", map[string]any{"pipelineId": p.ID, "arguments": map[string]any{"rows": 7}})
	if resp.status != 201 {
		t.Fatalf("run: %d %s", resp.status, resp.body)
	}
	var r atrium.PipelineRun
	resp.decode(t, &r)
	deadline := time.Now().Add(2 * time.Minute)
	for !atrium.RunFinished(r.Status) {
		if time.Now().After(deadline) {
			t.Fatalf("run still %s: %+v", r.Status, r.Nodes)
		}
		time.Sleep(100 * time.Millisecond)
		pf.do(t, mcTok, "GET", pf.ws+"/pipeline-runs/"+r.ID, nil).decode(t, &r)
	}
	if r.Status != atrium.RunSucceeded || r.Node("Count").JobKind != atrium.KindSQL {
		t.Fatalf("run %s (%s) nodes %+v", r.Status, r.ReasonMessage, r.Nodes)
	}
	j, err := pf.store.FindJobByID(ctx, r.Node("Count").JobID)
	must(t, err)
	if res := j.Spec.SQL.Result; res == nil || len(res.Rows) != 1 || res.Rows[0][0] != "7" || j.Creator != mc.ID {
		t.Fatalf("Count's SQL job: %+v result %+v", j, j.Spec.SQL.Result)
	}
}
