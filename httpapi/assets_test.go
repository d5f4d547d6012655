package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"atrium"
	"atrium/resource"
	"atrium/secret"
	"atrium/sqlstore"
)

// assetFixture is a workspace with a member of each role that matters to
// assets, over a store whose file the test may read.
type assetFixture struct {
	*fixture
	dbPath                              string
	ws                                  *atrium.Workspace
	base                                string
	dev, guest, op, admin, label        string // tokens
	devUser, opUser, adminUser, labUser *atrium.User
}

func newAssetFixture(t *testing.T) *assetFixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "atrium.db")
	db, err := sqlstore.Open(ctx, path, sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			db.Close()
		}
	})
	logs := &syncBuffer{}
	api := NewServer(db, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	key := make([]byte, 32)
	rand.Read(key)
	if api.Secrets, err = secret.NewBox(key); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	af := &assetFixture{fixture: &fixture{srv: srv, api: api, store: db, logs: logs}, dbPath: path}
	lead, _ := af.user(t, "lead")
	var guest *atrium.User
	af.devUser, af.dev = af.user(t, "dev")
	guest, af.guest = af.user(t, "guest")
	af.opUser, af.op = af.user(t, "op")
	af.adminUser, af.admin = af.user(t, "wsadmin")
	af.labUser, af.label = af.user(t, "labeler")
	af.ws = &atrium.Workspace{Name: "assets", EnvTypes: []string{"prod"}, Creator: lead.ID}
	must(t, db.CreateWorkspace(ctx, af.ws))
	_, err = db.AddMembers(ctx, af.ws.ID, []atrium.MemberParams{
		{UserID: af.devUser.ID, Roles: []string{atrium.RoleAlgoDeveloper}},
		{UserID: guest.ID, Roles: []string{atrium.RoleWorkspaceGuest}},
		{UserID: af.opUser.ID, Roles: []string{atrium.RoleAlgoOperator}},
		{UserID: af.adminUser.ID, Roles: []string{atrium.RoleWorkspaceAdmin}},
		{UserID: af.labUser.ID, Roles: []string{atrium.RoleLabelManager}},
	})
	must(t, err)
	af.base = "/api/v1/workspaces/" + af.ws.ID
	return af
}

// ok sends a request and fails unless it answers want; it returns the JSON object.
func (af *assetFixture) ok(t *testing.T, tok, method, path string, body any, want int) map[string]any {
	t.Helper()
	r := af.do(t, tok, method, af.base+path, body)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	m := map[string]any{}
	if len(r.body) > 0 {
		r.decode(t, &m)
	}
	return m
}

// fails sends a request and checks the problem's status, field or permission.
func (af *assetFixture) fails(t *testing.T, tok, method, path string, body any, want int, fieldOrCode string) Problem {
	t.Helper()
	r := af.do(t, tok, method, af.base+path, body)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	p := r.problem(t)
	if fieldOrCode != "" && p.Field != fieldOrCode && p.Permission != fieldOrCode && !strings.Contains(p.Detail, fieldOrCode) {
		t.Fatalf("%s %s: problem %+v does not name %q", method, path, p, fieldOrCode)
	}
	return p
}

// Acceptance 1: a developer's private dataset with two versions; a Guest
// gets 404 until it is published, then sees it but cannot update it.
func TestDatasetLifecycle(t *testing.T) {
	af := newAssetFixture(t)
	d := af.ok(t, af.dev, "POST", "/datasets", map[string]any{"name": "imagenet", "dataType": "PIC", "property": "DIRECTORY",
		"uri": "oss://bucket/imagenet/", "labels": map[string]string{"team": "cv"}}, 201)
	id, _ := d["datasetId"].(string)
	if !strings.HasPrefix(id, "d-") || d["accessibility"] != "PRIVATE" || d["dataSourceType"] != "OSS" || d["sourceType"] != "USER" {
		t.Fatalf("created %v", d)
	}
	v1 := af.ok(t, af.dev, "POST", "/datasets/"+id+"/versions", map[string]any{"uri": "oss://bucket/imagenet/v1", "dataCount": 1000, "dataSize": 1 << 30}, 201)
	v2 := af.ok(t, af.dev, "POST", "/datasets/"+id+"/versions", map[string]any{"uri": "oss://bucket/imagenet/v2", "dataCount": 2000}, 201)
	if v1["versionName"] != "v1" || v2["versionName"] != "v2" || v2["dataSourceType"] != "OSS" {
		t.Fatalf("versions %v %v", v1, v2)
	}
	af.fails(t, af.dev, "POST", "/datasets/"+id+"/versions", map[string]any{"uri": "nas://fs/imagenet"}, 400, "uri")
	af.fails(t, af.dev, "POST", "/datasets/"+id+"/versions", map[string]any{"uri": "oss://b/x", "versionName": "v9"}, 400, "versionName")
	vl := af.ok(t, af.dev, "GET", "/datasets/"+id+"/versions", nil, 200)
	if items := vl["items"].([]any); len(items) != 2 || items[0].(map[string]any)["versionName"] != "v2" {
		t.Fatalf("versions list %v", vl)
	}
	if got := af.ok(t, af.dev, "GET", "/datasets/"+id, nil, 200); got["latestVersion"] != "v2" {
		t.Fatalf("latestVersion %v", got)
	}

	// Guest: 404 for a private dataset, and it is not listed.
	af.fails(t, af.guest, "GET", "/datasets/"+id, nil, 404, "")
	af.fails(t, af.guest, "GET", "/datasets/"+id+"/versions/v1", nil, 404, "")
	if l := af.ok(t, af.guest, "GET", "/datasets", nil, 200); l["totalCount"].(float64) != 0 {
		t.Fatalf("guest lists %v", l)
	}
	// Another developer's update of a private dataset is a 404 as well.
	af.fails(t, af.op, "PUT", "/datasets/"+id, map[string]any{"description": "x"}, 404, "")

	pub := af.ok(t, af.dev, "POST", "/datasets/"+id+"/publish", nil, 200)
	if pub["accessibility"] != "PUBLIC" {
		t.Fatalf("published %v", pub)
	}
	af.fails(t, af.dev, "POST", "/datasets/"+id+"/publish", nil, 409, "already PUBLIC")
	af.fails(t, af.dev, "PUT", "/datasets/"+id, map[string]any{"accessibility": "PRIVATE"}, 400, "accessibility")
	if g := af.ok(t, af.guest, "GET", "/datasets/"+id, nil, 200); g["name"] != "imagenet" {
		t.Fatalf("guest reads %v", g)
	}
	if l := af.ok(t, af.guest, "GET", "/datasets", nil, 200); l["totalCount"].(float64) != 1 {
		t.Fatalf("guest lists %v", l)
	}
	af.ok(t, af.guest, "GET", "/datasets/"+id+"/versions/v1", nil, 200)
	af.fails(t, af.guest, "PUT", "/datasets/"+id, map[string]any{"description": "mine now"}, 403, "Dataset:UpdateDataset")
	af.fails(t, af.guest, "POST", "/datasets/"+id+"/labels", map[string]any{"labels": map[string]string{"x": "y"}}, 403, "Dataset:UpdateDataset")
	af.fails(t, af.op, "DELETE", "/datasets/"+id, nil, 403, "Dataset:DeleteDataset")

	// The owner updates: the uri may change within its data source type.
	u := af.ok(t, af.dev, "PUT", "/datasets/"+id, map[string]any{"description": "ILSVRC", "uri": "oss://bucket/imagenet2/"}, 200)
	if u["description"] != "ILSVRC" || u["uri"] != "oss://bucket/imagenet2/" || u["dataType"] != "PIC" {
		t.Fatalf("updated %v", u)
	}
	af.fails(t, af.dev, "PUT", "/datasets/"+id, map[string]any{"uri": "s3://other/"}, 400, "uri")
	af.fails(t, af.dev, "PUT", "/datasets/"+id, map[string]any{"sourceType": "LABELING"}, 400, "sourceType")
	// Labels merge and go.
	l := af.ok(t, af.dev, "POST", "/datasets/"+id+"/labels", map[string]any{"labels": map[string]string{"stage": "gold"}}, 200)
	if lb := l["labels"].(map[string]any); lb["team"] != "cv" || lb["stage"] != "gold" {
		t.Fatalf("labels %v", l)
	}
	l = af.ok(t, af.dev, "DELETE", "/datasets/"+id+"/labels/team", nil, 200)
	if lb := l["labels"].(map[string]any); len(lb) != 1 {
		t.Fatalf("labels %v", l)
	}
	// Owner change: Admin only, to a member.
	af.fails(t, af.dev, "PUT", "/datasets/"+id+"/owner", map[string]any{"userId": af.opUser.ID}, 403, "Dataset:ChangeOwner")
	outsider, _ := af.user(t, "stranger")
	af.fails(t, af.admin, "PUT", "/datasets/"+id+"/owner", map[string]any{"userId": outsider.ID}, 400, "userId")
	if o := af.ok(t, af.admin, "PUT", "/datasets/"+id+"/owner", map[string]any{"userName": "op"}, 200); o["owner"] != af.opUser.ID {
		t.Fatalf("owner %v", o)
	}

	// Labeling datasets: LabelManager (or Admin), naming a source version that exists.
	lab := map[string]any{"name": "imagenet-labels", "uri": "oss://bucket/labels/", "sourceType": "LABELING",
		"sourceDatasetId": id, "sourceDatasetVersion": "v2"}
	af.fails(t, af.dev, "POST", "/datasets", lab, 403, "Dataset:CreateLabelingDataset")
	bad := map[string]any{}
	for k, v := range lab {
		bad[k] = v
	}
	bad["sourceDatasetVersion"] = "v7"
	af.fails(t, af.label, "POST", "/datasets", bad, 400, "sourceDatasetVersion")
	ld := af.ok(t, af.label, "POST", "/datasets", lab, 201)
	if ld["sourceDatasetVersion"] != "v2" || ld["sourceType"] != "LABELING" {
		t.Fatalf("labeling %v", ld)
	}
	if u := af.ok(t, af.label, "PUT", "/datasets/"+ld["datasetId"].(string), map[string]any{"description": "boxes"}, 200); u["description"] != "boxes" {
		t.Fatalf("labeling update %v", u)
	}
	af.fails(t, af.label, "PUT", "/datasets/"+ld["datasetId"].(string), map[string]any{"sourceDatasetVersion": "v1"}, 400, "sourceDatasetId")

	// Validation names the field.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"uri": "oss://b/x"}, "name"},
		{map[string]any{"name": "a b", "uri": "oss://b/x"}, "name"},
		{map[string]any{"name": "x1"}, "uri"},
		{map[string]any{"name": "x1", "uri": "ftp://b/x"}, "uri"},
		{map[string]any{"name": "x1", "uri": "oss://b/x", "dataType": "SMELL"}, "dataType"},
		{map[string]any{"name": "x1", "uri": "oss://b/x", "property": "LINK"}, "property"},
		{map[string]any{"name": "x1", "uri": "oss://b/x", "accessibility": "OPEN"}, "accessibility"},
		{map[string]any{"name": "x1", "uri": "oss://b/x", "color": "red"}, "color"},
		{map[string]any{"name": "x1", "uri": "oss://b/x", "accessToken": "t"}, "accessToken"},
		{map[string]any{"name": "x1", "uri": "oss://b/x", "labels": map[string]string{"bad key!": "v"}}, "labels.bad key!"},
	} {
		p := af.fails(t, af.dev, "POST", "/datasets", c.body, 400, "")
		if p.Field != c.field {
			t.Errorf("body %v: field %q, want %q (%s)", c.body, p.Field, c.field, p.Detail)
		}
	}
	af.fails(t, af.dev, "POST", "/datasets", map[string]any{"name": "imagenet", "uri": "oss://b/x"}, 409, "name")

	// Images share the handlers.
	img := af.ok(t, af.dev, "POST", "/images", map[string]any{"name": "pytorch", "imageUri": "registry.example.com/ai/pytorch:2.4-cuda12",
		"labels": map[string]string{"framework": "PyTorch", "cudaVersion": "12.1"}}, 201)
	if !strings.HasPrefix(img["imageId"].(string), "image-") {
		t.Fatalf("image %v", img)
	}
	af.fails(t, af.dev, "POST", "/images", map[string]any{"name": "bad", "imageUri": "Not An Image"}, 400, "imageUri")
	af.ok(t, af.dev, "DELETE", "/images/"+img["imageId"].(string), nil, 204)
	af.fails(t, af.dev, "GET", "/images/"+img["imageId"].(string), nil, 404, "")
	// An id of another kind is not found.
	af.fails(t, af.dev, "GET", "/images/"+id, nil, 404, "")
}

// finishedJob puts a Succeeded job that read a dataset version straight into the store.
func (af *assetFixture) finishedJob(t *testing.T, creator *atrium.User, status string, ds []atrium.DataSource, cs *atrium.CodeSourceRef) *atrium.Job {
	t.Helper()
	j := &atrium.Job{WorkspaceID: af.ws.ID, Kind: atrium.KindDLC, DisplayName: "train-bert", JobType: "PyTorchJob",
		Creator: creator.ID, CreatorName: creator.Name, QuotaID: atrium.PublicQuotaID, Priority: 1, Accessibility: atrium.AccessPrivate,
		Spec: atrium.JobSpec{JobType: "PyTorchJob", Command: "python train.py", DataSources: ds, CodeSource: cs,
			JobSpecs: []atrium.RoleSpec{{Type: "Master", PodCount: 1, Image: "pytorch:2.4", Resources: resource.Spec{CPU: "1", Memory: "1Gi"}}}},
		Status: status, ReasonCode: atrium.ReasonSubmitted, Pods: []atrium.Pod{},
		StatusHistory: []atrium.StatusChange{{Status: status, ReasonCode: atrium.ReasonSubmitted}}}
	must(t, af.store.CreateJob(context.Background(), j))
	return j
}

// Acceptance 2: a model version from a finished job, its lineage, and the
// approval workflow with its single outbox event.
func TestModelVersionApprovalAndLineage(t *testing.T) {
	af := newAssetFixture(t)
	d := af.ok(t, af.dev, "POST", "/datasets", map[string]any{"name": "corpus", "dataType": "TEXT", "uri": "oss://b/corpus/"}, 201)
	dsID := d["datasetId"].(string)
	af.ok(t, af.dev, "POST", "/datasets/"+dsID+"/versions", map[string]any{"uri": "oss://b/corpus/v1"}, 201)
	cs := af.ok(t, af.dev, "POST", "/code-sources", map[string]any{"name": "bert-code", "repo": "https://git.example.com/nlp/bert.git",
		"branch": "main", "commit": "abc1234"}, 201)
	job := af.finishedJob(t, af.devUser, atrium.JobSucceeded, []atrium.DataSource{{DatasetID: dsID, Version: "v1", MountPath: "/data"}},
		&atrium.CodeSourceRef{CodeSourceID: cs["codeSourceId"].(string), MountPath: "/code"})
	running := af.finishedJob(t, af.devUser, atrium.JobRunning, nil, nil)

	m := af.ok(t, af.dev, "POST", "/models", map[string]any{"name": "bert", "domain": "nlp", "task": "classification"}, 201)
	mid := m["modelId"].(string)
	if !strings.HasPrefix(mid, "model-") || m["domain"] != "nlp" {
		t.Fatalf("model %v", m)
	}
	vpath := "/models/" + mid + "/versions"
	af.fails(t, af.dev, "POST", vpath, map[string]any{"versionName": "1.0.0", "uri": "oss://b/m", "sourceType": "Job", "sourceId": running.ID}, 400, "sourceId")
	af.fails(t, af.dev, "POST", vpath, map[string]any{"versionName": "1.0.0", "uri": "oss://b/m", "sourceType": "Job", "sourceId": "job-none"}, 400, "sourceId")
	af.fails(t, af.dev, "POST", vpath, map[string]any{"versionName": "1.0", "uri": "oss://b/m"}, 400, "versionName")
	af.fails(t, af.dev, "POST", vpath, map[string]any{"uri": "oss://b/m", "sourceType": "Magic"}, 400, "sourceType")
	af.fails(t, af.dev, "POST", vpath, map[string]any{"uri": "oss://b/m", "metrics": map[string]any{"blob": strings.Repeat("x", 9000)}}, 400, "metrics")
	af.fails(t, af.dev, "POST", vpath, map[string]any{"uri": "oss://b/m", "metrics": []int{1}}, 400, "metrics")
	af.fails(t, af.dev, "POST", vpath, map[string]any{"versionName": "1.0.0"}, 400, "uri")

	v := af.ok(t, af.dev, "POST", vpath, map[string]any{"versionName": "1.0.0", "uri": "oss://b/models/bert/1.0.0", "formatType": "SavedModel",
		"frameworkType": "PyTorch", "metrics": map[string]any{"accuracy": 0.93}, "sourceType": "Job", "sourceId": job.ID}, 201)
	if v["versionName"] != "1.0.0" || v["approvalStatus"] != "Pending" || v["sourceId"] != job.ID || v["metrics"].(map[string]any)["accuracy"] != 0.93 {
		t.Fatalf("version %v", v)
	}
	if n := af.ok(t, af.dev, "POST", vpath, map[string]any{"uri": "oss://b/m/next"}, 201); n["versionName"] != "1.1.0" {
		t.Fatalf("next version %v", n)
	}
	af.fails(t, af.dev, "POST", vpath, map[string]any{"versionName": "1.0.0", "uri": "oss://b/m"}, 409, "versionName")

	lin := af.ok(t, af.dev, "GET", vpath+"/1.0.0/lineage", nil, 200)
	lj, _ := lin["job"].(map[string]any)
	dsl, _ := lin["dataSources"].([]any)
	if lj == nil || lj["id"] != job.ID || lj["status"] != "Succeeded" || len(dsl) != 1 || lin["image"] != "pytorch:2.4" {
		t.Fatalf("lineage %v", lin)
	}
	if d0 := dsl[0].(map[string]any); d0["datasetId"] != dsID || d0["version"] != "v1" || d0["uri"] != "oss://b/corpus/v1" || d0["datasetName"] != "corpus" {
		t.Fatalf("lineage data source %v", d0)
	}
	if c := lin["codeSource"].(map[string]any); c["repo"] != "https://git.example.com/nlp/bert.git" || c["commit"] != "abc1234" {
		t.Fatalf("lineage code source %v", c)
	}

	// The developer may not approve (not an approver, and its creator).
	af.fails(t, af.dev, "PUT", vpath+"/1.0.0", map[string]any{"approvalStatus": "Approved"}, 403, "Model:ApproveModelVersion")
	// Operators see only PUBLIC models of others.
	af.fails(t, af.op, "PUT", vpath+"/1.0.0", map[string]any{"approvalStatus": "Approved"}, 404, "")
	af.ok(t, af.dev, "POST", "/models/"+mid+"/publish", nil, 200)
	af.fails(t, af.op, "PUT", vpath+"/1.0.0", map[string]any{"approvalStatus": "Maybe"}, 400, "approvalStatus")
	ap := af.ok(t, af.op, "PUT", vpath+"/1.0.0", map[string]any{"approvalStatus": "Approved"}, 200)
	if ap["approvalStatus"] != "Approved" || ap["approvedBy"] != "op" || ap["approvedAt"] == nil {
		t.Fatalf("approved %v", ap)
	}
	p := af.fails(t, af.op, "PUT", vpath+"/1.0.0", map[string]any{"approvalStatus": "Approved"}, 409, "")
	if !strings.Contains(p.Detail, "Pending → Approved or Pending → Rejected only") {
		t.Fatalf("409 does not name the rule: %s", p.Detail)
	}
	af.fails(t, af.admin, "PUT", vpath+"/1.0.0", map[string]any{"approvalStatus": "Rejected"}, 409, "Pending")

	// An operator approving a version they created is refused too.
	opModel := af.ok(t, af.op, "POST", "/models", map[string]any{"name": "ops-model"}, 201)
	opv := "/models/" + opModel["modelId"].(string) + "/versions"
	af.ok(t, af.op, "POST", opv, map[string]any{"uri": "oss://b/ops"}, 201)
	p = af.fails(t, af.op, "PUT", opv+"/0.1.0", map[string]any{"approvalStatus": "Approved"}, 403, "Model:ApproveModelVersion")
	if !strings.Contains(p.Detail, "requireSeparateApprover") {
		t.Fatalf("separate approver not named: %s", p.Detail)
	}

	evs, err := af.store.FindEvents(context.Background(), atrium.EventFilter{WorkspaceID: af.ws.ID, Types: []string{atrium.EventModelApprovalChanged}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %v %v", evs, err)
	}
	var data map[string]string
	_ = json.Unmarshal(evs[0].Data, &data)
	if evs[0].Source != "/workspaces/"+af.ws.ID+"/models/"+mid || evs[0].Subject != "1.0.0" ||
		data["from"] != "Pending" || data["to"] != "Approved" || data["actor"] != "op" || data["modelId"] != mid {
		t.Fatalf("event %+v %v", evs[0], data)
	}
}

// Acceptance 3: a code source's access token never appears in a response,
// in the server log or in the database file.
func TestCodeSourceTokenNeverLeaks(t *testing.T) {
	af := newAssetFixture(t)
	const tok1, tok2 = "ghp_FirstSecretTokenValue0123456789", "ghp_SecondSecretTokenValue987654321"
	var bodies [][]byte
	call := func(tk, method, path string, body any) map[string]any {
		r := af.do(t, tk, method, af.base+path, body)
		bodies = append(bodies, r.body)
		m := map[string]any{}
		_ = json.Unmarshal(r.body, &m)
		return m
	}
	cs := call(af.dev, "POST", "/code-sources", map[string]any{"name": "repo", "repo": "https://git.example.com/a/b.git",
		"branch": "main", "mountPath": "/code", "accessToken": tok1})
	id, _ := cs["codeSourceId"].(string)
	if !strings.HasPrefix(id, "code-") || cs["hasAccessToken"] != true {
		t.Fatalf("created %v", cs)
	}
	call(af.dev, "GET", "/code-sources/"+id, nil)
	call(af.dev, "GET", "/code-sources", nil)
	call(af.dev, "GET", "/code-sources?filter="+url.QueryEscape(`name = "repo"`), nil)
	up := call(af.dev, "PUT", "/code-sources/"+id, map[string]any{"accessToken": tok2, "branch": "dev"})
	if up["hasAccessToken"] != true || up["branch"] != "dev" {
		t.Fatalf("updated %v", up)
	}
	call(af.dev, "POST", "/code-sources", map[string]any{"name": "bad", "repo": "not a repo", "accessToken": tok1})
	call(af.dev, "POST", "/code-sources", map[string]any{"name": "repo", "repo": "https://git.example.com/a/b.git", "accessToken": tok2})
	call(af.guest, "PUT", "/code-sources/"+id, map[string]any{"accessToken": tok1})
	call(af.dev, "POST", "/code-sources/"+id+"/publish", nil)
	call(af.guest, "GET", "/code-sources/"+id, nil)

	// The store holds it sealed, and it opens with the asset id.
	a, err := af.store.FindAssetByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := af.api.Secrets.Open(a.Secret, []byte(id))
	if err != nil || string(plain) != tok2 {
		t.Fatalf("sealed token opens to %q, %v", plain, err)
	}
	if cl := call(af.dev, "PUT", "/code-sources/"+id, map[string]any{"accessToken": ""}); cl["hasAccessToken"] != false {
		t.Fatalf("cleared %v", cl)
	}
	call(af.dev, "PUT", "/code-sources/"+id, map[string]any{"accessToken": tok1})

	for i, b := range bodies {
		for _, s := range []string{tok1, tok2} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("response %d holds the token: %s", i, b)
			}
		}
	}
	logs := af.logs.String()
	for _, s := range []string{tok1, tok2} {
		if strings.Contains(logs, s) {
			t.Errorf("server log holds the token")
		}
	}
	oplogs, _, err := af.store.FindOperationLogs(context.Background(), atrium.OperationLogFilter{WorkspaceID: &af.ws.ID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range oplogs {
		if b, _ := json.Marshal(l); bytes.Contains(b, []byte(tok1)) || bytes.Contains(b, []byte(tok2)) {
			t.Errorf("operation log holds the token: %s", b)
		}
	}
	// The database file (after a checkpoint folds the WAL in) never holds it in plain.
	db, err := sql.Open("sqlite", af.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	db.Close()
	must(t, af.store.Close())
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(af.dbPath + suffix)
		if err != nil {
			continue
		}
		for _, s := range []string{tok1, tok2} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("database file %s holds the token in plain", filepath.Base(af.dbPath+suffix))
			}
		}
	}
}

// Code sources, algorithms and filters: validation and search.
func TestAssetFilterAndAlgorithms(t *testing.T) {
	af := newAssetFixture(t)
	for _, m := range []map[string]any{
		{"name": "bert-base", "labels": map[string]string{"team": "nlp"}, "domain": "nlp"},
		{"name": "bert-large", "labels": map[string]string{"team": "nlp"}, "domain": "nlp", "accessibility": "PUBLIC"},
		{"name": "resnet", "labels": map[string]string{"team": "cv"}, "domain": "cv"},
	} {
		af.ok(t, af.dev, "POST", "/models", m, 201)
	}
	q := func(expr string) string {
		return "/models?filter=" + url.QueryEscape(expr)
	}
	names := func(l map[string]any) []string {
		var out []string
		for _, it := range l["items"].([]any) {
			out = append(out, it.(map[string]any)["name"].(string))
		}
		return out
	}
	if got := names(af.ok(t, af.dev, "GET", q(`labels.team = "nlp"`)+"&sortBy=name", nil, 200)); strings.Join(got, ",") != "bert-base,bert-large" {
		t.Fatalf("labels filter: %v", got)
	}
	if got := names(af.ok(t, af.dev, "GET", q(`name LIKE "bert%" AND (domain = "cv" OR accessibility = "PUBLIC")`), nil, 200)); strings.Join(got, ",") != "bert-large" {
		t.Fatalf("filter: %v", got)
	}
	if got := names(af.ok(t, af.guest, "GET", q(`domain = "nlp"`), nil, 200)); strings.Join(got, ",") != "bert-large" {
		t.Fatalf("guest filter: %v", got)
	}
	p := af.fails(t, af.dev, "GET", q(`name = "x" AND (`), nil, 400, "filter")
	if p.Field != "filter" || !strings.ContainsAny(p.Detail, "0123456789") {
		t.Fatalf("syntax error %+v", p)
	}
	af.fails(t, af.dev, "GET", "/models?sortBy=size", nil, 400, "sortBy")
	if l := af.ok(t, af.dev, "GET", "/models?pageSize=2&sortBy=name&order=desc", nil, 200); l["totalCount"].(float64) != 3 || l["nextPageToken"] == nil ||
		strings.Join(names(l), ",") != "resnet,bert-large" {
		t.Fatalf("page %v", l)
	}

	// Code sources: validation.
	af.fails(t, af.dev, "POST", "/code-sources", map[string]any{"name": "c", "repo": "https://x/y.git", "commit": "zzz"}, 400, "commit")
	af.fails(t, af.dev, "POST", "/code-sources", map[string]any{"name": "c", "repo": "https://u:pw@x/y.git"}, 400, "repo")
	af.fails(t, af.dev, "POST", "/code-sources", map[string]any{"name": "c", "repo": "https://x/y.git", "mountPath": "rel"}, 400, "mountPath")

	// Algorithms: versions hold a component spec.
	a := af.ok(t, af.dev, "POST", "/algorithms", map[string]any{"name": "trainer"}, 201)
	ap := "/algorithms/" + a["algorithmId"].(string) + "/versions"
	spec := func(cmd string, params ...map[string]any) map[string]any {
		return map[string]any{"image": "pytorch:2.4", "commandTemplate": cmd, "params": params,
			"inputs": []map[string]any{{"name": "train", "type": "dataset"}}, "outputs": []map[string]any{{"name": "model", "type": "model"}}}
	}
	lr := map[string]any{"name": "lr", "type": "float", "default": 0.001}
	af.fails(t, af.dev, "POST", ap, spec("python train.py --lr {{.lr}} --epochs {{.epochs}}", lr), 400, "commandTemplate")
	af.fails(t, af.dev, "POST", ap, spec("python train.py {{.lr", lr), 400, "commandTemplate")
	af.fails(t, af.dev, "POST", ap, spec("python train.py", map[string]any{"name": "lr", "type": "double"}), 400, "params[0].type")
	af.fails(t, af.dev, "POST", ap, spec("python train.py", map[string]any{"name": "n", "type": "int", "default": 1.5}), 400, "params[0].default")
	av := af.ok(t, af.dev, "POST", ap, spec("python train.py --lr {{.lr}} --epochs {{.epochs}}", lr,
		map[string]any{"name": "epochs", "type": "int", "default": 3, "required": true}), 201)
	if av["versionName"] != "0.1.0" || len(av["params"].([]any)) != 2 {
		t.Fatalf("algorithm version %v", av)
	}
	af.ok(t, af.dev, "GET", ap+"/0.1.0", nil, 200)
	af.ok(t, af.dev, "DELETE", ap+"/0.1.0", nil, 204)
	af.fails(t, af.dev, "GET", ap+"/0.1.0", nil, 404, "")
}
