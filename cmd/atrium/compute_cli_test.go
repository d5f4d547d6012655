package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"atrium/httpapi"
)

func TestResourceGroupCLI(t *testing.T) {
	e := newTestEnv(t)
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)

	contains(t, e.ok("resource-group", "create", "gpu", "--backend", "local", "--description", "GPU pool"), "Created resource group gpu (rg-gpu)")
	contains(t, e.fails("", "rg", "create", "hpc", "--backend", "nomad"), "400", "backend")
	contains(t, e.ok("rg", "node", "put", "gpu", "a100-1", "--capacity", "gpuType=A100,cpu=64,memory=512Gi,gpu=8", "--label", "rack=r1"),
		"a100-1", "Ready", "A100", "512Gi", "rack=r1")
	e.ok("rg", "node", "put", "rg-gpu", "cpu-1", "--capacity", "cpu=32,mem=128Gi")
	// Bad input names the field, from the server or the client.
	contains(t, e.fails("", "rg", "node", "put", "gpu", "a100-2", "--capacity", "gpuType=A100,cpu=64,memory=16GB,gpu=8"), "400", "capacity.memory", "16GB")
	contains(t, e.fails("", "rg", "node", "put", "gpu", "a100-2", "--capacity", "cores=64"), "--capacity", `unknown key "cores"`)
	contains(t, e.fails("", "rg", "node", "put", "gpu", "a100-2"), "--capacity is required")

	get := e.ok("rg", "get", "gpu")
	contains(t, get, "rg-gpu", "GPU pool", "A100: cpu=64,memory=512Gi,gpu=8", "cpu=32,memory=128Gi", "Nodes (2)", "a100-1", "cpu-1")
	contains(t, e.ok("rg", "list"), "ID", "BACKEND", "NODES", "rg-gpu", "local", "2")

	contains(t, e.ok("rg", "node", "drain", "gpu", "a100-1"), "Node a100-1 is Draining")
	list := e.ok("rg", "node", "list", "gpu")
	contains(t, list, "a100-1", "Draining", "rack=r1") // labels and capacity kept
	contains(t, e.ok("rg", "node", "undrain", "gpu", "a100-1"), "is Ready")
	contains(t, e.fails("", "rg", "node", "drain", "gpu", "nosuch"), `no node "nosuch"`)

	contains(t, e.ok("rg", "update", "gpu", "--description", "the GPUs"), "the GPUs")
	contains(t, e.fails("", "rg", "update", "gpu"), "nothing to change")
	contains(t, e.ok("rg", "node", "delete", "gpu", "cpu-1"), "Deleted node cpu-1")
	contains(t, e.fails("", "rg", "get", "nosuch"), `no resource group named "nosuch"`)
	contains(t, e.fails("", "rg", "delete", "gpu"), "--yes")
	contains(t, e.ok("rg", "delete", "gpu", "--yes"), "Deleted resource group gpu")
}

func TestQuotaCLI(t *testing.T) {
	e := newTestEnv(t)
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	e.ok("workspace", "create", "team_a")
	e.ok("rg", "create", "gpu", "--backend", "local")
	e.ok("rg", "node", "put", "gpu", "a100-1", "--capacity", "gpuType=A100,cpu=64,memory=512Gi,gpu=8")
	e.ok("rg", "node", "put", "gpu", "a100-2", "--capacity", "gpuType=A100,cpu=64,memory=512Gi,gpu=8")

	contains(t, e.ok("quota", "create", "research", "--resource-group", "gpu",
		"--min", "gpuType=A100,cpu=64,memory=512Gi,gpu=8", "--max", "gpuType=A100,cpu=128,memory=1Ti,gpu=16", "--description", "all research"),
		"Created quota research (quota-research)")
	e.ok("quota", "create", "nlp", "--parent", "research", "--min", "gpuType=A100,cpu=32,memory=256Gi,gpu=4",
		"--max", "gpuType=A100,cpu=64,memory=512Gi,gpu=8", "--strategy", "Intelligent", "--offer-to", "team_a")
	e.ok("quota", "create", "public", "--resource-group", "gpu", "--max", "gpuType=A100,cpu=16,memory=64Gi,gpu=2", "--offer-to-all")

	// The tree rules come back as problem details naming the field.
	contains(t, e.fails("", "quota", "create", "cv", "--parent", "research", "--min", "gpuType=A100,cpu=64,memory=512Gi,gpu=12"),
		"400", "min: children of quota-research")
	contains(t, e.fails("", "quota", "update", "research", "--parent", "nlp"), "400", "parentId:", "cycle")
	contains(t, e.fails("", "quota", "create", "h100", "--resource-group", "gpu", "--max", "gpuType=H100,cpu=8,memory=64Gi,gpu=1"),
		"400", `gpuType "H100"`)
	contains(t, e.fails("", "quota", "create", "big", "--resource-group", "gpu", "--max", "gpuType=A100,cpu=8,memory=64G,gpu=1", "--min", "gpuType=A100,cpu=16,memory=64Gi,gpu=1"),
		"400", "above max")

	tree := e.ok("quota", "list", "--tree")
	contains(t, tree, "ID", "NAME", "GPU TYPE", "quota-research", "└ nlp", "A100", "0/16 ░░░░░░░░", "0/1Ti", "0/8 ░░░░░░░░", "all")
	if strings.Index(tree, "└ nlp") < strings.Index(tree, "research") {
		t.Errorf("child before parent:\n%s", tree)
	}
	get := e.ok("quota", "get", "research", "--tree")
	contains(t, get, "quota-research", "all research", "Resource groups:", "rg-gpu", "RoundRobin", "ALLOCATED", "BORROWED", "AVAILABLE", "gpu", "16", "Tree:", "└ nlp")
	var q httpapi.QuotaView
	if err := json.Unmarshal([]byte(e.ok("quota", "get", "quota-nlp", "-o", "json")), &q); err != nil {
		t.Fatal(err)
	}
	if q.QueueStrategy != "Intelligent" || q.ParentID != "quota-research" || len(q.Usage) != 1 || q.Usage[0].Max.GPU != 8 {
		t.Fatalf("nlp = %+v", q)
	}
	contains(t, e.ok("quota", "update", "nlp", "--max", "gpuType=A100,cpu=64,memory=512Gi,gpu=6", "--preemptor-priority", "7", "--preempted-priority", "3"),
		"gpu=6", "priority ≥7 preempts ≤3", "Intelligent") // the rest stays

	// The workspace side: offered, bind, usable.
	contains(t, e.ok("quota", "list", "-w", "team_a", "--offered"), "BOUND", "quota-nlp")
	contains(t, e.ok("quota", "bind", "nlp", "-w", "team_a"), "Bound quota quota-nlp to workspace ws-")
	contains(t, e.fails("", "quota", "bind", "research", "-w", "team_a"), `no quota named "research"`)
	usable := e.ok("quota", "list", "-w", "team_a")
	contains(t, usable, "quota-nlp", "yes", "quota-public", "no (offered to all)")
	contains(t, e.ok("quota", "get", "nlp", "-w", "team_a"), "Bound:", "true")

	// Workspace config.
	cfg := e.ok("workspace", "config", "get", "team_a")
	contains(t, cfg, "Default priority:", "DLC=1", "AlgoDeveloper=6", "quota-public (none set)", "never (defaults)")
	set := e.ok("workspace", "config", "set", "team_a", "--default-priority", "DLC=3", "--max-priority", "AlgoDeveloper=5",
		"--max-priority", "LabelManager=", "--max-running-time", "DLC=24h", "--queue-timeout", "2h", "--default-quota", "nlp")
	contains(t, set, "DLC=3", "AlgoDeveloper=5", "DLC=24h0m0s", "2h0m0s", "quota-nlp")
	if strings.Contains(set, "LabelManager") {
		t.Errorf("LabelManager= did not remove the entry:\n%s", set)
	}
	contains(t, e.fails("", "workspace", "config", "set", "team_a", "--max-priority", "Wizard=5"), "400", "maxPriority.Wizard", "unknown role")
	contains(t, e.fails("", "workspace", "config", "set", "team_a", "--default-priority", "DLC=10"), "400", "defaultPriority.DLC", "1 to 9")
	contains(t, e.fails("", "workspace", "config", "set", "team_a"), "nothing to change")
	var view httpapi.WorkspaceConfigView
	if err := json.Unmarshal([]byte(e.ok("workspace", "config", "get", "-w", "team_a", "-o", "json")), &view); err != nil {
		t.Fatal(err)
	}
	if view.DefaultPriority["DLC"] != 3 || view.DefaultPriority["DSW"] != 1 || view.QueueTimeout != "2h0m0s" {
		t.Fatalf("config = %+v", view)
	}

	// Unbinding the default quota waits for the default to change.
	contains(t, e.fails("", "quota", "unbind", "nlp", "-w", "team_a"), "409", "defaultQuotaId")
	e.ok("workspace", "config", "set", "team_a", "--default-quota", "")
	contains(t, e.ok("quota", "unbind", "nlp", "-w", "team_a"), "Unbound quota quota-nlp")

	// A member who is not a ResourceAdmin sees their workspace's quotas.
	if _, errOut, err := e.run("alice password\n", "user", "create", "alice", "--password-stdin"); err != nil {
		t.Fatalf("user create: %v\n%s", err, errOut)
	}
	e.ok("member", "add", "alice", "--role", "AlgoDeveloper", "-w", "team_a")
	alice, err := (&httpapi.Client{BaseURL: e.url}).CreateTokenWithPassword(context.Background(), "alice", "alice password", httpapi.CreateTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := e.run("", "quota", "list", "--token", alice.Token, "--workspace", "team_a")
	if err != nil {
		t.Fatalf("alice quota list: %v\n%s", err, errOut)
	}
	contains(t, out, "quota-public")
	if strings.Contains(out, "quota-research") {
		t.Errorf("alice sees quotas of other workspaces:\n%s", out)
	}
	contains(t, e.fails("", "quota", "create", "mine", "--resource-group", "rg-gpu", "--token", alice.Token), "403", "Quota:CreateQuota")
	contains(t, e.fails("", "quota", "bind", "quota-nlp", "--token", alice.Token, "-w", "team_a"), "403", "Workspace:BindQuota")
	contains(t, e.fails("", "workspace", "config", "set", "team_a", "--queue-timeout", "1h", "--token", alice.Token), "403", "Workspace:UpdateConfig")

	contains(t, e.fails("", "quota", "delete", "research"), "409")
	contains(t, e.ok("quota", "delete", "nlp"), "Deleted quota quota-nlp")
}

func TestParseSpec(t *testing.T) {
	s, err := parseSpec("--min", "gpuType=A100, cpu=500m,memory=16Gi,gpu=2")
	if err != nil || s.GPUType != "A100" || s.CPU != "500m" || s.Memory != "16Gi" || s.GPU != 2 {
		t.Fatalf("parseSpec = %+v, %v", s, err)
	}
	for _, bad := range []string{"cpu", "cpu=1,cpu=2", "gpu=1.5", "gpu=x", "disk=1Ti", ""} {
		if _, err := parseSpec("--min", bad); err == nil {
			t.Errorf("parseSpec(%q) accepted", bad)
		}
	}
	if got := bar(6, 8, 8); got != "██████░░" {
		t.Errorf("bar(6, 8) = %q", got)
	}
	if got := bar(1, 1000, 8); got != "█░░░░░░░" {
		t.Errorf("bar(1, 1000) = %q", got)
	}
	if got := bar(0, 0, 4); got != "░░░░" {
		t.Errorf("bar(0, 0) = %q", got)
	}
}
