package httpapi

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"atrium"
	"atrium/dispatch"
	"atrium/executor"
	"atrium/executor/local"
	"atrium/pipeline"
	"atrium/resource"
	"atrium/sqlstore"
)

// pipeFixture is a workspace with a developer and a guest over a local
// CPU node, with the real scheduling loop, local executor and pipeline
// controller running.
type pipeFixture struct {
	*fixture
	ws         string // /api/v1/workspaces/ws-…
	dev, guest string
	ctl        *pipeline.Controller
}

func newPipeFixture(t *testing.T, engine string) *pipeFixture {
	t.Helper()
	f := setupOn(t, engine)
	ctx := context.Background()
	lead, _ := f.user(t, "lead")
	dev, devTok := f.user(t, "dev")
	guest, guestTok := f.user(t, "guest")
	ws := &atrium.Workspace{Name: "pipes", EnvTypes: []string{"prod"}, Creator: lead.ID}
	must(t, f.store.CreateWorkspace(ctx, ws))
	_, err := f.store.AddMembers(ctx, ws.ID, []atrium.MemberParams{{UserID: dev.ID, Roles: []string{atrium.RoleAlgoDeveloper}},
		{UserID: guest.ID, Roles: []string{atrium.RoleWorkspaceGuest}}})
	must(t, err)
	must(t, f.store.CreateResourceGroup(ctx, &atrium.ResourceGroup{ID: atrium.LocalResourceGroupID, Name: "local", Backend: atrium.BackendLocal}))
	must(t, f.store.PutNode(ctx, &atrium.Node{Name: "host", GroupID: atrium.LocalResourceGroupID,
		Capacity: resource.Vector{MilliCPU: 8000, Memory: 16 << 30}, State: atrium.NodeReady}))
	must(t, f.store.CreateQuota(ctx, &atrium.Quota{ID: atrium.PublicQuotaID, Name: "public", ResourceGroups: []string{atrium.LocalResourceGroupID},
		Max: resource.List{"": {MilliCPU: 8000, Memory: 16 << 30}}, QueueStrategy: atrium.RoundRobin, OfferedToAll: true}))

	dir := t.TempDir()
	ex, err := local.New(filepath.Join(dir, "pods"), nil)
	must(t, err)
	exs := map[string]executor.Executor{atrium.BackendLocal: ex}
	loop, err := dispatch.New(dispatch.Config{Store: f.store, Executors: exs, Grace: time.Second, Interval: 100 * time.Millisecond})
	must(t, err)
	ctl, err := pipeline.New(pipeline.Config{Store: f.store, RunDir: filepath.Join(dir, "runs"), Interval: 100 * time.Millisecond, WakeJobs: loop.Wake})
	must(t, err)
	lctx, cancel := context.WithCancel(ctx)
	loop.Start(lctx)
	ctl.Start(lctx)
	f.api.Jobs, f.api.Pipelines = testRuntime{loop: loop, exs: exs}, ctl
	t.Cleanup(func() {
		ctl.Stop()
		loop.Stop()
		cancel()
		jobs, _, _ := f.store.FindJobs(context.Background(), atrium.JobFilter{})
		for _, j := range jobs {
			for a := 1; a <= j.Attempt; a++ {
				_ = ex.Stop(context.Background(), executor.Handle{Backend: atrium.BackendLocal, JobID: j.ID, Attempt: a}, 0)
			}
		}
	})
	return &pipeFixture{fixture: f, ws: "/api/v1/workspaces/" + ws.ID, dev: devTok, guest: guestTok, ctl: ctl}
}

// createPipeline saves the YAML body and returns the pipeline.
func (pf *pipeFixture) createPipeline(t *testing.T, body string) *atrium.Pipeline {
	t.Helper()
	resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipelines", body)
	if resp.status != 201 {
		t.Fatalf("create pipeline: %d %s", resp.status, resp.body)
	}
	var p atrium.Pipeline
	resp.decode(t, &p)
	return &p
}

func (pf *pipeFixture) startRun(t *testing.T, pipelineID string, args map[string]any) *atrium.PipelineRun {
	t.Helper()
	resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipeline-runs", map[string]any{"pipelineId": pipelineID, "arguments": args})
	if resp.status != 201 {
		t.Fatalf("create run: %d %s", resp.status, resp.body)
	}
	var r atrium.PipelineRun
	resp.decode(t, &r)
	return &r
}

// waitRun polls until the run has ended and returns it.
func (pf *pipeFixture) waitRun(t *testing.T, id string) *atrium.PipelineRun {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var r atrium.PipelineRun
		pf.do(t, pf.dev, "GET", pf.ws+"/pipeline-runs/"+id, nil).decode(t, &r)
		if atrium.RunFinished(r.Status) {
			return &r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is still %s: %+v", id, r.Status, r.Nodes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func diamondYAML(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../examples/pipelines/diamond.yaml")
	must(t, err)
	return string(b)
}

// interval reads the "start end" nanoseconds a node wrote itself.
func interval(t *testing.T, path string) (int64, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("%s holds %q, want start and end", path, b)
	}
	s, err1 := strconv.ParseInt(f[0], 10, 64)
	e, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s holds %q", path, b)
	}
	return s, e
}

// TestPipelineDiamond is issue 8 acceptance 1: the 4-node diamond passes
// A's file into B and C, which run concurrently (their own recorded
// intervals overlap), D sees both outputs, the run ends Succeeded and
// events arrive for the run and for each node.
func TestPipelineDiamond(t *testing.T) { forEngines(t, testPipelineDiamond) }

func testPipelineDiamond(t *testing.T, engine string) {
	pf := newPipeFixture(t, engine)
	p := pf.createPipeline(t, diamondYAML(t))
	r := pf.startRun(t, p.ID, nil)
	if r.Status != atrium.RunInitialized || len(r.Nodes) != 4 {
		t.Fatalf("new run: %s with %d nodes", r.Status, len(r.Nodes))
	}
	r = pf.waitRun(t, r.ID)
	if r.Status != atrium.RunSucceeded {
		t.Fatalf("run %s: %s (%s) nodes %+v", r.ID, r.Status, r.ReasonMessage, r.Nodes)
	}
	for _, n := range r.Nodes {
		if n.Status != atrium.NodeSucceeded || n.JobID == "" || n.StartedAt == nil || n.FinishedAt == nil {
			t.Fatalf("node %+v", n)
		}
	}
	bs, be := interval(t, r.Node("B").Outputs["interval"])
	cs, ce := interval(t, r.Node("C").Outputs["interval"])
	if bs >= ce || cs >= be {
		t.Fatalf("B [%d, %d] and C [%d, %d] did not overlap", bs, be, cs, ce)
	}
	report, err := os.ReadFile(r.Node("D").Outputs["report"])
	must(t, err)
	for _, want := range []string{"ROW-1", "ROW-3", "1:row-1", "3:row-3"} {
		if !strings.Contains(string(report), want) {
			t.Fatalf("D's report lacks %q:\n%s", want, report)
		}
	}
	// D started after both B and C finished.
	if d := r.Node("D"); d.StartedAt.Before(*r.Node("B").FinishedAt) || d.StartedAt.Before(*r.Node("C").FinishedAt) {
		t.Fatalf("D started before its inputs were ready: %+v", r.Nodes)
	}

	evs, err := pf.store.FindEvents(context.Background(), atrium.EventFilter{Types: []string{atrium.EventPipelineRunChanged, atrium.EventPipelineNodeChanged}, Limit: 1000})
	must(t, err)
	var runTo []string
	nodeDone := map[string]bool{}
	for _, e := range evs {
		v := decodeData(t, e)
		if e.Type == atrium.EventPipelineRunChanged {
			runTo = append(runTo, v["to"].(string))
		} else if v["to"] == atrium.NodeSucceeded {
			nodeDone[v["node"].(string)] = true
		}
	}
	if strings.Join(runTo, ",") != "Initialized,Running,Succeeded" || len(nodeDone) != 4 {
		t.Fatalf("run events %v, node Succeeded events %v", runTo, nodeDone)
	}
	// The API shows them too, to a reader of the run.
	resp := pf.do(t, pf.dev, "GET", pf.ws+"/events?types="+atrium.EventPipelineNodeChanged+"&resourceId="+r.ID, nil)
	var list List[*EventView]
	resp.decode(t, &list)
	if len(list.Items) < 8 {
		t.Fatalf("GET events: %d node events: %s", len(list.Items), resp.body)
	}
}

// TestPipelineRerun is issue 8 acceptance 2: a failing C fails the run
// (B still finishes, D is skipped); rerun with the parameter fixed by run
// arguments re-executes only C and D — A's and B's jobs are not re-run.
func TestPipelineRerun(t *testing.T) { forEngines(t, testPipelineRerun) }

func testPipelineRerun(t *testing.T, engine string) {
	pf := newPipeFixture(t, engine)
	p := pf.createPipeline(t, diamondYAML(t))
	r := pf.waitRun(t, pf.startRun(t, p.ID, map[string]any{"failC": true}).ID)
	if r.Status != atrium.RunFailed || r.Node("C").Status != atrium.NodeFailed || r.Node("D").Status != atrium.NodeSkipped ||
		r.Node("A").Status != atrium.NodeSucceeded || r.Node("B").Status != atrium.NodeSucceeded {
		t.Fatalf("run %s (%s) nodes %+v", r.Status, r.ReasonMessage, r.Nodes)
	}
	before := map[string]string{}
	for _, n := range r.Nodes {
		before[n.Name] = n.JobID
	}

	// A guest may not rerun; a rerun of a live or succeeded run conflicts.
	if resp := pf.do(t, pf.guest, "POST", pf.ws+"/pipeline-runs/"+r.ID+"/rerun", map[string]any{}); resp.status != 404 && resp.status != 403 {
		t.Fatalf("guest rerun: %d %s", resp.status, resp.body)
	}
	if resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipeline-runs/"+r.ID+"/rerun", map[string]any{"arguments": map[string]any{"failC": "no"}}); resp.status != 400 ||
		resp.problem(t).Field != "arguments.failC" {
		t.Fatalf("bad argument: %d %s", resp.status, resp.body)
	}
	resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipeline-runs/"+r.ID+"/rerun", map[string]any{"arguments": map[string]any{"failC": false}})
	if resp.status != 200 {
		t.Fatalf("rerun: %d %s", resp.status, resp.body)
	}
	r = pf.waitRun(t, r.ID)
	if r.Status != atrium.RunSucceeded || r.Attempt != 2 {
		t.Fatalf("rerun: %s attempt %d (%s) nodes %+v", r.Status, r.Attempt, r.ReasonMessage, r.Nodes)
	}
	for _, name := range []string{"A", "B"} {
		if n := r.Node(name); n.JobID != before[name] || len(n.PreviousJobIDs) != 0 || n.Attempt != 1 {
			t.Fatalf("node %s was re-run: %+v (before: job %s)", name, n, before[name])
		}
	}
	if c := r.Node("C"); c.JobID == before["C"] || len(c.PreviousJobIDs) != 1 || c.PreviousJobIDs[0] != before["C"] || c.Attempt != 2 {
		t.Fatalf("node C: %+v", c)
	}
	jobs, total, err := pf.store.FindJobs(context.Background(), atrium.JobFilter{Limit: 100})
	must(t, err)
	perNode := map[string]int{}
	for _, j := range jobs {
		perNode[j.DisplayName[strings.LastIndex(j.DisplayName, "/")+1:]]++
		if j.Attempt != 1 {
			t.Fatalf("job %s (%s) was admitted %d times", j.ID, j.DisplayName, j.Attempt)
		}
	}
	if total != 5 || perNode["A"] != 1 || perNode["B"] != 1 || perNode["C"] != 2 || perNode["D"] != 1 {
		t.Fatalf("%d jobs, per node %v", total, perNode)
	}
	// The rerun's D read C's new output and B's old one.
	report, err := os.ReadFile(r.Node("D").Outputs["report"])
	must(t, err)
	if !strings.Contains(string(report), "ROW-2") || !strings.Contains(string(report), "2:row-2") {
		t.Fatalf("report:\n%s", report)
	}
}

func decodeData(t *testing.T, e *atrium.Event) map[string]any {
	t.Helper()
	var m map[string]any
	must(t, json.Unmarshal(e.Data, &m))
	return m
}

// Bad pipelines are 400 naming the node and port (or parameter), and
// nothing is saved.
func TestPipelineValidation(t *testing.T) {
	pf := newPipeFixture(t, "sqlite")
	job := `{jobType: CustomJob, command: "true", jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 0.1, memory: 64Mi}}]}`
	doc := func(params, nodes string) string {
		return "name: bad\nparameters: [" + params + "]\nnodes:\n" + nodes
	}
	a := "  - {name: A, job: " + job + ", outputs: [{name: data, type: file}]}\n"
	tests := []struct {
		name, body, field, says string
	}{
		{"cycle", doc("", "  - {name: A, job: "+job+", inputs: [{name: x, type: file, from: B.out}], outputs: [{name: out, type: file}]}\n"+
			"  - {name: B, job: "+job+", inputs: [{name: x, type: file, from: A.out}], outputs: [{name: out, type: file}]}\n"), "nodes[A]", "cycle"},
		{"unwired input", doc("", a+"  - {name: B, job: "+job+", inputs: [{name: data, type: file}]}\n"), "nodes[B].inputs[data]", "neither wired"},
		{"unknown source", doc("", a+"  - {name: B, job: "+job+", inputs: [{name: data, type: file, from: Z.data}]}\n"), "nodes[B].inputs[data].from", "not another node"},
		{"unknown port", doc("", a+"  - {name: B, job: "+job+", inputs: [{name: data, type: file, from: A.nope}]}\n"), "nodes[B].inputs[data].from", `no output "nope"`},
		{"type mismatch", doc("", a+"  - {name: B, job: "+job+", inputs: [{name: data, type: model, from: A.data}]}\n"), "nodes[B].inputs[data].from", "type model is wired to A.data of type file"},
		{"bad default", doc("{name: count, type: int, default: x}", a), "parameters[0].default", "must be a int"},
		{"unknown parameter", doc("", "  - {name: A, job: "+job+", params: {count: \"${nope}\"}}\n"), "nodes[A].params.count", "not a pipeline parameter"},
		{"two bodies", doc("", "  - {name: A, job: "+job+", sql: {connectionId: conn-x, sql: select 1}}\n"), "nodes[A]", "exactly one of"},
		{"bad job", doc("", "  - {name: A, job: {jobType: CustomJob, jobSpecs: []}}\n"), "nodes[A].job.jobSpecs", "at least one role"},
		{"duplicate node", doc("", a+a), "nodes[1].name", "declared twice"},
		{"missing algorithm", doc("", "  - {name: A, algorithm: {algorithmId: algo-none, version: 0.1.0}}\n"), "nodes[A].algorithm", "not found"},
		{"unknown connection", doc("", "  - {name: Q, sql: {connectionId: conn-none, sql: select 1}}\n"), "nodes[Q].sql.connectionId", "not found"},
		{"unknown field", "name: bad\nnodes: []\nextra: 1\n", "extra", "not a known field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipelines", tt.body)
			p := resp.problem(t)
			if resp.status != 400 || p.Field != tt.field || !strings.Contains(p.Detail, tt.says) {
				t.Fatalf("status %d field %q detail %q; want 400 %q …%s…", resp.status, p.Field, p.Detail, tt.field, tt.says)
			}
		})
	}
	var list List[*atrium.Pipeline]
	pf.do(t, pf.dev, "GET", pf.ws+"/pipelines", nil).decode(t, &list)
	if list.TotalCount != 0 {
		t.Fatalf("a bad pipeline was saved: %+v", list.Items)
	}

	// Run arguments are checked against the parameters' types; a guest
	// reads pipelines but neither creates nor runs them.
	p := pf.createPipeline(t, diamondYAML(t))
	for args, field := range map[string]string{`{"rows": "three"}`: "arguments.rows", `{"nope": 1}`: "arguments.nope", `{"rows": 1.5}`: "arguments.rows"} {
		resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipeline-runs", `{"pipelineId": "`+p.ID+`", "arguments": `+args+`}`)
		if resp.status != 400 || resp.problem(t).Field != field {
			t.Fatalf("arguments %s: %d %s", args, resp.status, resp.body)
		}
	}
	// The workspace's policy applies to node jobs: a priority above the
	// developer's cap (6) is refused when the run is created, naming the node.
	greedy := pf.createPipeline(t, "name: greedy\nnodes:\n  - {name: A, job: {jobType: CustomJob, command: 'true', priority: 9, "+
		"jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 0.1, memory: 64Mi}}]}}\n")
	if resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipeline-runs", map[string]any{"pipelineId": greedy.ID}); resp.status != 400 ||
		resp.problem(t).Field != "nodes[A].priority" || !strings.Contains(resp.problem(t).Detail, "cap of 6") {
		t.Fatalf("priority above the cap: %d %s", resp.status, resp.body)
	}
	if resp := pf.do(t, pf.guest, "GET", pf.ws+"/pipelines/"+p.ID, nil); resp.status != 200 {
		t.Fatalf("guest reads pipeline: %d", resp.status)
	}
	if resp := pf.do(t, pf.guest, "POST", pf.ws+"/pipeline-runs", map[string]any{"pipelineId": p.ID}); resp.status != 403 {
		t.Fatalf("guest runs pipeline: %d %s", resp.status, resp.body)
	}
	runs, _, err := pf.store.FindPipelineRuns(context.Background(), atrium.PipelineRunFilter{})
	must(t, err)
	if len(runs) != 0 {
		t.Fatalf("refused runs were created: %d", len(runs))
	}
}

// forEngines runs fn on SQLite, and on PostgreSQL when ATRIUM_TEST_POSTGRES
// is set.
func forEngines(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "postgres" && os.Getenv("ATRIUM_TEST_POSTGRES") == "" {
				t.Skip("ATRIUM_TEST_POSTGRES is not set")
			}
			fn(t, engine)
		})
	}
}

// setupOn is setup on engine: SQLite, or a fresh schema of the
// ATRIUM_TEST_POSTGRES database, dropped when the test ends.
func setupOn(t *testing.T, engine string) *fixture {
	t.Helper()
	if engine == "sqlite" {
		return setup(t)
	}
	base := os.Getenv("ATRIUM_TEST_POSTGRES")
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	must(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	schema := "test_" + strings.TrimPrefix(atrium.NewID("x-"), "x-")
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	must(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	must(t, err)
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown url parameters as runtime parameters
	u.RawQuery = q.Encode()
	db, err := sqlstore.Open(ctx, u.String())
	must(t, err)
	t.Cleanup(func() { db.Close() })
	return setupWith(t, db)
}

// An algorithm node runs its version's command template with the node's
// params (from a run argument) and its input wired from an inline job; an
// optional node's failure does not fail the run, and nodes after it
// (dependsOn) still run.
func TestPipelineAlgorithmAndOptionalNodes(t *testing.T) {
	pf := newPipeFixture(t, "sqlite")
	resp := pf.do(t, pf.dev, "POST", pf.ws+"/algorithms", map[string]any{"name": "counter"})
	if resp.status != 201 {
		t.Fatalf("algorithm: %d %s", resp.status, resp.body)
	}
	var algo map[string]any
	resp.decode(t, &algo)
	algoID := algo["algorithmId"].(string)
	resp = pf.do(t, pf.dev, "POST", pf.ws+"/algorithms/"+algoID+"/versions", map[string]any{
		"image":           "busybox:1.36",
		"commandTemplate": `n=0; while read -r l; do n=$((n+1)); done < "$ATRIUM_INPUT_rows"; echo "{{.label}}=$n" > "$ATRIUM_OUTPUT_count"`,
		"params":          []map[string]any{{"name": "label", "type": "string", "default": "rows"}},
		"inputs":          []map[string]any{{"name": "rows", "type": "file"}},
		"outputs":         []map[string]any{{"name": "count", "type": "file"}}})
	if resp.status != 201 {
		t.Fatalf("algorithm version: %d %s", resp.status, resp.body)
	}
	job := func(cmd string) string {
		return `{jobType: CustomJob, command: '` + cmd + `', jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 0.1, memory: 64Mi}}]}`
	}
	doc := func(labelParam string) string {
		return `name: counting
parameters: [{name: what, type: string, default: lines}]
nodes:
  - {name: A, outputs: [{name: data, type: file}], job: ` + job(`printf "x\ny\nz\n" > "$ATRIUM_OUTPUT_data"`) + `}
  - {name: Count, algorithm: {algorithmId: ` + algoID + `, version: 0.1.0}, params: {label: ` + labelParam + `}, inputs: [{name: rows, from: A.data}]}
  - {name: Flaky, optional: true, dependsOn: [A], job: ` + job(`exit 1`) + `}
  - {name: Last, dependsOn: [Count, Flaky], inputs: [{name: counted, type: file, from: Count.count}], outputs: [{name: copy, type: file}], job: ` + job(`cp "$ATRIUM_INPUT_counted" "$ATRIUM_OUTPUT_copy"`) + `}
`
	}
	bad := pf.do(t, pf.dev, "POST", pf.ws+"/pipelines", doc("3"))
	if p := bad.problem(t); bad.status != 400 || p.Field != "nodes[Count].params.label" {
		t.Fatalf("int for a string param: %d %s", bad.status, bad.body)
	}
	p := pf.createPipeline(t, doc(`"${what}"`))
	r := pf.waitRun(t, pf.startRun(t, p.ID, map[string]any{"what": "letters"}).ID)
	if r.Status != atrium.RunSucceeded || r.Node("Flaky").Status != atrium.NodeFailed || r.Node("Last").Status != atrium.NodeSucceeded {
		t.Fatalf("run %s (%s) nodes %+v", r.Status, r.ReasonMessage, r.Nodes)
	}
	got, err := os.ReadFile(r.Node("Last").Outputs["copy"])
	must(t, err)
	if strings.TrimSpace(string(got)) != "letters=3" {
		t.Fatalf("Last copied %q", got)
	}
	j, err := pf.store.FindJobByID(context.Background(), r.Node("Count").JobID)
	must(t, err)
	if j.Spec.JobSpecs[0].Image != "busybox:1.36" || j.Kind != atrium.KindDLC || j.QuotaID != atrium.PublicQuotaID {
		t.Fatalf("algorithm node job %+v", j)
	}
}

// Terminate stops the running node's job and skips the rest: the run ends
// Terminated; terminating it again conflicts.
func TestPipelineTerminate(t *testing.T) {
	pf := newPipeFixture(t, "sqlite")
	job := `{jobType: CustomJob, command: "sleep 600", jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 0.1, memory: 64Mi}}]}`
	p := pf.createPipeline(t, "name: long\nnodes:\n  - {name: Hold, job: "+job+"}\n  - {name: Next, dependsOn: [Hold], job: "+job+"}\n")
	r := pf.startRun(t, p.ID, nil)
	deadline := time.Now().Add(time.Minute)
	for r.Node("Hold").Status != atrium.NodeRunning {
		if time.Now().After(deadline) {
			t.Fatalf("Hold never ran: %+v", r.Nodes)
		}
		time.Sleep(50 * time.Millisecond)
		pf.do(t, pf.dev, "GET", pf.ws+"/pipeline-runs/"+r.ID, nil).decode(t, r)
	}
	if resp := pf.do(t, pf.guest, "POST", pf.ws+"/pipeline-runs/"+r.ID+"/terminate", nil); resp.status != 404 {
		t.Fatalf("guest terminate: %d %s", resp.status, resp.body)
	}
	resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipeline-runs/"+r.ID+"/terminate", nil)
	if resp.status != 200 {
		t.Fatalf("terminate: %d %s", resp.status, resp.body)
	}
	r = pf.waitRun(t, r.ID)
	if r.Status != atrium.RunTerminated || r.Node("Hold").Status != atrium.NodeTerminated || r.Node("Next").Status != atrium.NodeTerminated || r.Node("Next").JobID != "" {
		t.Fatalf("run %s nodes %+v", r.Status, r.Nodes)
	}
	j, err := pf.store.FindJobByID(context.Background(), r.Node("Hold").JobID)
	must(t, err)
	if j.Status != atrium.JobStopped {
		t.Fatalf("Hold's job is %s", j.Status)
	}
	if resp := pf.do(t, pf.dev, "POST", pf.ws+"/pipeline-runs/"+r.ID+"/terminate", nil); resp.status != 409 {
		t.Fatalf("terminate again: %d %s", resp.status, resp.body)
	}
	if resp := pf.do(t, pf.dev, "DELETE", pf.ws+"/pipeline-runs/"+r.ID, nil); resp.status != 204 {
		t.Fatalf("delete: %d %s", resp.status, resp.body)
	}
}
