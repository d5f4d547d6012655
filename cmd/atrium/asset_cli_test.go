package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"atrium"
	"atrium/httpapi"
	"atrium/resource"
	"atrium/secret"
	"atrium/sqlstore"
)

// TestAssetCLI: the dataset and model flow — create, version, filter,
// publish, a model version from a finished job, approval by an Operator,
// lineage — and the shared commands on images, code sources, algorithms.
func TestAssetCLI(t *testing.T) {
	e := newAssetEnv(t)
	ctx := context.Background()
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	e.ok("workspace", "create", "team_a")
	e.ok("workspace", "use", "team_a")
	var ws atrium.Workspace
	if err := json.Unmarshal([]byte(e.ok("workspace", "get", "team_a", "-o", "json")), &ws); err != nil {
		t.Fatal(err)
	}
	// An Operator to approve what the admin registers.
	op := &atrium.User{Name: "oscar", DisplayName: "Oscar"}
	must(t, e.store.CreateUser(ctx, op))
	opTok := secret.NewToken()
	must(t, e.store.CreateToken(ctx, &atrium.Token{UserID: op.ID, Name: "t", Hash: secret.HashToken(opTok)}))
	_, err := e.store.AddMembers(ctx, ws.ID, []atrium.MemberParams{{UserID: op.ID, Roles: []string{atrium.RoleAlgoOperator}}})
	must(t, err)

	out := e.ok("dataset", "create", "corpus", "--uri", "oss://bucket/corpus/", "--data-type", "TEXT", "-l", "team=nlp")
	dsID := regexp.MustCompile(`d-[a-z0-9]+`).FindString(out)
	if dsID == "" {
		t.Fatalf("create printed %q", out)
	}
	contains(t, out, "dataSourceType:", "OSS", "PRIVATE", "team=nlp")
	contains(t, e.ok("dataset", "version", "create", dsID, "--uri", "oss://bucket/corpus/v1", "--data-count", "100"), "versionName:", "v1")
	contains(t, e.ok("dataset", "version", "create", dsID, "--uri", "oss://bucket/corpus/v2"), "v2")
	contains(t, e.ok("dataset", "version", "list", dsID), "VERSION", "v2", "v1", "oss://bucket/corpus/v1")
	contains(t, e.fails("", "dataset", "version", "create", dsID, "--uri", "nas://fs/x"), "uri")
	contains(t, e.ok("dataset", "list", "--filter", `labels.team = "nlp"`), dsID, "corpus", "TEXT")
	contains(t, e.fails("", "dataset", "list", "--filter", `name = `), "filter")
	contains(t, e.fails("", "dataset", "create", "x"), "--uri is required")
	contains(t, e.ok("dataset", "publish", dsID), "PUBLIC")
	contains(t, e.fails("", "dataset", "publish", dsID), "already PUBLIC")
	contains(t, e.ok("dataset", "update", dsID, "--description", "the corpus"), "the corpus")
	contains(t, e.ok("dataset", "get", dsID, "--token", opTok), "corpus")

	// A finished job that read the dataset's v1.
	admin, err := e.store.FindUserByName(ctx, "admin")
	must(t, err)
	job := &atrium.Job{WorkspaceID: ws.ID, Kind: atrium.KindDLC, DisplayName: "train", JobType: "PyTorchJob",
		Creator: admin.ID, CreatorName: admin.Name, QuotaID: atrium.PublicQuotaID, Priority: 1, Accessibility: atrium.AccessPrivate,
		Spec: atrium.JobSpec{JobType: "PyTorchJob", Command: "python train.py", DataSources: []atrium.DataSource{{DatasetID: dsID, Version: "v1", MountPath: "/data"}},
			JobSpecs: []atrium.RoleSpec{{Type: "Master", PodCount: 1, Image: "pytorch:2.4", Resources: resource.Spec{CPU: "1", Memory: "1Gi"}}}},
		Status: atrium.JobSucceeded, ReasonCode: atrium.ReasonSubmitted, Pods: []atrium.Pod{},
		StatusHistory: []atrium.StatusChange{{Status: atrium.JobSucceeded, ReasonCode: atrium.ReasonSubmitted}}}
	must(t, e.store.CreateJob(ctx, job))

	out = e.ok("model", "create", "bert", "--domain", "nlp", "--public")
	mID := regexp.MustCompile(`model-[a-z0-9]+`).FindString(out)
	out = e.ok("model", "version", "create", mID, "--name", "1.0.0", "--uri", "oss://bucket/bert/1.0.0", "--framework-type", "PyTorch",
		"--from-job", job.ID, "--metrics", `{"accuracy":0.93}`)
	contains(t, out, "1.0.0", "Pending", job.ID, `{"accuracy":0.93}`)
	contains(t, e.ok("model", "version", "create", mID, "--uri", "oss://bucket/bert/next"), "1.1.0")
	contains(t, e.ok("model", "version", "list", mID), "1.1.0", "1.0.0", "Pending")
	contains(t, e.ok("model", "lineage", mID, "1.0.0"), job.ID, "pytorch:2.4", dsID, "corpus", "v1", "oss://bucket/corpus/v1")
	// The admin created the version: a separate approver is required.
	contains(t, e.fails("", "model", "version", "approve", mID, "1.0.0"), "403", "Model:ApproveModelVersion", "requireSeparateApprover")
	contains(t, e.ok("model", "version", "approve", mID, "1.0.0", "--token", opTok), "Approved", "oscar")
	contains(t, e.fails("", "model", "version", "reject", mID, "1.0.0", "--token", opTok), "409", "Pending")
	contains(t, e.ok("model", "version", "reject", mID, "1.1.0", "--token", opTok), "Rejected")

	// The other kinds share the commands.
	out = e.ok("image", "create", "pt", "--image-uri", "registry.example.com/ai/pytorch:2.4", "-l", "framework=PyTorch")
	imgID := regexp.MustCompile(`image-[a-z0-9]+`).FindString(out)
	contains(t, e.ok("image", "list"), imgID, "registry.example.com/ai/pytorch:2.4")
	contains(t, e.ok("image", "label", imgID, "cudaVersion=12.1"), "cudaVersion=12.1", "framework=PyTorch")
	contains(t, e.ok("image", "unlabel", imgID, "framework"), "cudaVersion=12.1")
	e.ok("image", "delete", imgID)

	const token = "ghp_cliSecretToken0123456789"
	stdout, _, err := e.run(token+"\n", "code-source", "create", "repo", "--repo", "https://git.example.com/a.git", "--access-token-stdin")
	if err != nil {
		t.Fatal(err)
	}
	contains(t, stdout, "hasAccessToken:", "true")
	if regexp.MustCompile(token).MatchString(stdout + e.ok("code-source", "list", "-o", "json")) {
		t.Fatal("the token was printed")
	}

	out = e.ok("algorithm", "create", "trainer")
	algoID := regexp.MustCompile(`algo-[a-z0-9]+`).FindString(out)
	contains(t, e.ok("algorithm", "version", "create", algoID, "--image", "pytorch:2.4", "--command-template", "python t.py --lr {{.lr}}",
		"--param", "lr:float=0.01", "--input", "train:dataset"), "0.1.0", "commandTemplate")
	contains(t, e.fails("", "algorithm", "version", "create", algoID, "--image", "pytorch:2.4", "--command-template", "python {{.epochs}}"), "commandTemplate")
}

// newAssetEnv is newTestEnv with a server that holds a secret box, as
// 'atrium serve' does.
func newAssetEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, filepath.Join(dir, "a.db"), sqlstore.WithoutSync())
	must(t, err)
	t.Cleanup(func() { store.Close() })
	tok := secret.NewToken()
	if ok, err := store.BootstrapAdmin(ctx, &atrium.User{Name: "admin", PlatformRoles: []string{atrium.RoleResourceAdmin}},
		&atrium.Token{Name: "t", Hash: secret.HashToken(tok)}); err != nil || !ok {
		t.Fatalf("BootstrapAdmin = %v, %v", ok, err)
	}
	api := httpapi.NewServer(store, nil)
	key, err := secret.LoadKey(dir)
	must(t, err)
	api.Secrets, err = secret.NewBox(key)
	must(t, err)
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	e := &testEnv{t: t, url: ts.URL, token: tok, tokenFile: filepath.Join(dir, "admin.token"),
		cfgPath: filepath.Join(dir, "cfg", "atrium", "config.json"), store: store}
	must(t, os.WriteFile(e.tokenFile, []byte(tok+"\n"), 0o600))
	t.Setenv("ATRIUM_CONFIG", e.cfgPath)
	for _, v := range []string{"ATRIUM_SERVER", "ATRIUM_TOKEN", "ATRIUM_WORKSPACE"} {
		t.Setenv(v, "")
	}
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
