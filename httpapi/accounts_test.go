package httpapi

import (
	"strings"
	"testing"
)

// wantProblem fails unless r is a 400 naming field with a detail that
// holds every part of want.
func wantProblem(t *testing.T, what string, r response, field string, want ...string) {
	t.Helper()
	if r.status != 400 {
		t.Fatalf("%s: status %d, want 400; body %s", what, r.status, r.body)
	}
	p := r.problem(t)
	if p.Field != field {
		t.Errorf("%s: field %q, want %q (%s)", what, p.Field, field, p.Detail)
	}
	for _, w := range want {
		if !strings.Contains(p.Detail, w) {
			t.Errorf("%s: detail %q lacks %q", what, p.Detail, w)
		}
	}
}

// TestSlurmAccountsAPI: a ResourceAdmin sets a slurm group's default Unix
// account and maps workspaces and users; root is refused everywhere with a
// 400 naming the field; every write is in the operation log.
func TestSlurmAccountsAPI(t *testing.T) {
	cf := newComputeFixture(t)
	const rgs = "/api/v1/resource-groups"
	wantProblem(t, "create with root", cf.do(t, cf.ra, "POST", rgs, map[string]any{"name": "hpc", "backend": "slurm", "defaultUnixAccount": "root"}),
		"defaultUnixAccount", "must not be root (uid 0)")
	wantProblem(t, "local group with an account", cf.do(t, cf.ra, "POST", rgs, map[string]any{"name": "pool", "backend": "local", "defaultUnixAccount": "atrium-job"}),
		"defaultUnixAccount", "only a slurm resource group")
	var g ResourceGroupView
	cf.must(t, cf.ra, "POST", rgs, map[string]any{"name": "hpc", "backend": "slurm", "defaultUnixAccount": "atrium-job"}, 201).decode(t, &g)
	if g.DefaultUnixAccount != "atrium-job" {
		t.Fatalf("created %+v", g.ResourceGroup)
	}
	hpc := rgs + "/rg-hpc"
	wantProblem(t, "update to root", cf.do(t, cf.ra, "PUT", hpc, map[string]any{"defaultUnixAccount": "root"}), "defaultUnixAccount", "root (uid 0)")
	wantProblem(t, "update to uid 0", cf.do(t, cf.ra, "PUT", hpc, map[string]any{"defaultUnixAccount": "0"}), "defaultUnixAccount", "root (uid 0)")
	wantProblem(t, "update to a bad name", cf.do(t, cf.ra, "PUT", hpc, map[string]any{"defaultUnixAccount": "a b"}), "defaultUnixAccount", "Unix account name")
	if r := cf.do(t, cf.dev, "PUT", hpc, map[string]any{"defaultUnixAccount": "atrium-job2"}); r.status != 403 {
		t.Errorf("developer sets the default: %d %s", r.status, r.body)
	}

	ws := hpc + "/accounts/workspaces/" + cf.ws.ID
	wantProblem(t, "map root", cf.do(t, cf.ra, "PUT", ws, map[string]any{"unixAccount": "root"}), "unixAccount", "must not be root (uid 0)", "never runs jobs as root")
	wantProblem(t, "map nothing", cf.do(t, cf.ra, "PUT", ws, map[string]any{}), "unixAccount", "is required")
	wantProblem(t, "map a local group", cf.do(t, cf.ra, "PUT", rgs+"/rg-gpu/accounts/workspaces/"+cf.ws.ID, map[string]any{"unixAccount": "x"}),
		"resourceGroupId", "only slurm groups")
	if r := cf.do(t, cf.ra, "PUT", hpc+"/accounts/workspaces/ws-nosuch", map[string]any{"unixAccount": "x"}); r.status != 404 {
		t.Errorf("unknown workspace: %d %s", r.status, r.body)
	}
	if r := cf.do(t, cf.ra, "PUT", hpc+"/accounts/users/u-nosuch", map[string]any{"unixAccount": "x"}); r.status != 404 {
		t.Errorf("unknown user: %d %s", r.status, r.body)
	}
	var m AccountMappingView
	cf.must(t, cf.ra, "PUT", ws, map[string]any{"unixAccount": "vision"}, 200).decode(t, &m)
	if m.WorkspaceID != cf.ws.ID || m.WorkspaceName != "vision" || m.UnixAccount != "vision" {
		t.Errorf("workspace mapping %+v", m)
	}
	var users struct {
		Items []struct {
			ID   string `json:"userId"`
			Name string `json:"name"`
		}
	}
	cf.must(t, cf.ra, "GET", "/api/v1/users?name=dev", nil, 200).decode(t, &users)
	devID := users.Items[0].ID
	cf.must(t, cf.ra, "PUT", hpc+"/accounts/users/"+devID, map[string]any{"unixAccount": "dev.one"}, 200).decode(t, &m)
	if m.UserID != devID || m.UserName != "dev" || m.UnixAccount != "dev.one" {
		t.Errorf("user mapping %+v", m)
	}
	var all AccountsView
	cf.must(t, cf.ra, "GET", hpc+"/accounts", nil, 200).decode(t, &all)
	if all.DefaultUnixAccount != "atrium-job" || len(all.Mappings) != 2 || all.Mappings[0].WorkspaceName != "vision" || all.Mappings[1].UserName != "dev" {
		t.Errorf("accounts %+v", all)
	}

	// Writes are in the operation log, the workspace's one in its log too.
	var logs struct {
		Items []struct{ Action, Target, WorkspaceID string }
	}
	cf.must(t, cf.ra, "GET", "/api/v1/operation-logs?action=ResourceGroup:UpdateAccounts&result=Succeeded", nil, 200).decode(t, &logs)
	if len(logs.Items) != 2 || logs.Items[0].Target != "rg-hpc/accounts/users/"+devID || logs.Items[1].WorkspaceID != cf.ws.ID {
		t.Errorf("operation log %+v", logs.Items)
	}

	cf.must(t, cf.ra, "DELETE", hpc+"/accounts/users/"+devID, nil, 204)
	if r := cf.do(t, cf.ra, "DELETE", hpc+"/accounts/users/"+devID, nil); r.status != 404 {
		t.Errorf("second delete: %d", r.status)
	}
	var cleared ResourceGroupView
	cf.must(t, cf.ra, "PUT", hpc, map[string]any{"defaultUnixAccount": ""}, 200).decode(t, &cleared)
	if cleared.DefaultUnixAccount != "" || cleared.Name != "hpc" {
		t.Errorf("default not cleared: %+v", cleared.ResourceGroup)
	}
}

// TestSlurmSubmissionRefused: a job whose quota runs on a slurm group is
// refused at submission when it asks for an image or when no Unix account
// applies to its submitter; with image "host" and an account it is taken.
func TestSlurmSubmissionRefused(t *testing.T) {
	cf := newComputeFixture(t)
	cf.must(t, cf.ra, "POST", "/api/v1/resource-groups", map[string]any{"name": "hpc", "backend": "slurm"}, 201)
	cf.must(t, cf.ra, "PUT", "/api/v1/resource-groups/rg-hpc/nodes/hpc-1", map[string]any{"capacity": map[string]any{"cpu": 8, "memory": "16Gi"}}, 200)
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "hpc", "resourceGroupIds": []string{"rg-hpc"},
		"max": []map[string]any{{"cpu": 8, "memory": "16Gi"}}, "offeredTo": []string{cf.ws.ID}}, 201)
	cf.must(t, cf.lead, "POST", cf.wsPath+"/quotas", map[string]any{"quotaId": "quota-hpc"}, 201)
	spec := func(master, worker string) map[string]any {
		return map[string]any{"jobType": "PyTorchJob", "command": "id -un", "quotaId": "quota-hpc", "jobSpecs": []map[string]any{
			{"type": "Master", "podCount": 1, "image": master, "resources": map[string]any{"cpu": 1, "memory": "1Gi"}},
			{"type": "Worker", "podCount": 1, "image": worker, "resources": map[string]any{"cpu": 1, "memory": "1Gi"}},
		}}
	}
	jobs := cf.wsPath + "/jobs"
	wantProblem(t, "no account", cf.do(t, cf.dev, "POST", jobs, spec("host", "host")), "quotaId",
		"no Unix account is mapped for workspace "+cf.ws.ID, "atrium rg account set hpc ACCOUNT --workspace "+cf.ws.ID)
	cf.must(t, cf.ra, "PUT", "/api/v1/resource-groups/rg-hpc/accounts/workspaces/"+cf.ws.ID, map[string]any{"unixAccount": "atrium-job"}, 200)
	wantProblem(t, "an image", cf.do(t, cf.dev, "POST", jobs, spec("host", "busybox:1.36")), "jobSpecs[1].image",
		`"busybox:1.36" cannot run`, "slurm resource group hpc", "cannot run images", `set image to "host"`)
	wantProblem(t, "an image, dry run", cf.do(t, cf.dev, "POST", jobs+"?dryRun=true", spec("pytorch:2.4", "host")), "jobSpecs[0].image", "cannot run images")
	cf.must(t, cf.dev, "POST", jobs, spec("host", "host"), 201)
	// a quota on the local group still takes images (recorded, not pulled)
	local := spec("busybox:1.36", "busybox:1.36")
	delete(local, "quotaId")
	cf.must(t, cf.ra, "POST", "/api/v1/quotas", map[string]any{"name": "gpu", "resourceGroupIds": []string{"rg-gpu"},
		"max": []map[string]any{{"cpu": 8, "memory": "16Gi"}}, "offeredTo": []string{cf.ws.ID}}, 201)
	cf.must(t, cf.lead, "POST", cf.wsPath+"/quotas", map[string]any{"quotaId": "quota-gpu"}, 201)
	local["quotaId"] = "quota-gpu"
	cf.must(t, cf.dev, "POST", jobs, local, 201)
}
