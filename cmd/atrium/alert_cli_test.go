package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"atrium"
)

// TestAlertRuleCLI: create from flags (a webhook with a secret from stdin,
// an email target) and from a YAML file, list, get, update, test,
// deliveries, delete; the secret never shows.
func TestAlertRuleCLI(t *testing.T) {
	e := newAssetEnv(t)
	e.ok("login", "--server", e.url, "--token-file", e.tokenFile)
	e.ok("workspace", "create", "team_a")
	e.ok("workspace", "use", "team_a")

	out, errOut, err := e.run("sig-TOPSECRET\n", "alert-rule", "create", "failures", "--event-type", atrium.EventJobStatusChanged,
		"--status", "Failed", "--job-type", "PyTorchJob", "--throttle", "5m", "--cel", `event.data.to == "Failed"`,
		"--webhook", "https://hooks.example.com/atrium", "--secret-stdin", "--email", "oncall@example.com", "--slack", "https://hooks.slack.com/services/x")
	if err != nil {
		t.Fatalf("create: %v\n%s\n%s", err, out, errOut)
	}
	id := regexp.MustCompile(`rule-[a-z0-9]+`).FindString(out)
	if id == "" {
		t.Fatalf("create printed %q", out)
	}
	contains(t, out, "failures", "Mine", "Failed", "PyTorchJob", "5m0s", "(secret set)", "oncall@example.com", "slack")

	yml := filepath.Join(t.TempDir(), "rule.yaml")
	must(t, os.WriteFile(yml, []byte(`name: approvals
eventTypes: [model.version.approval.changed]
scope: All
throttle: 1m
targets:
  - type: wecom
    url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x
`), 0o600))
	contains(t, e.ok("alert-rule", "create", "-f", yml), "approvals", "All", "wecom")
	contains(t, e.fails("", "alert-rule", "create", "bad", "--event-type", atrium.EventJobStatusChanged, "--cel", "event.data.to ==", "--slack", "https://h/x"),
		"filter.cel", "1:17")
	contains(t, e.fails("", "alert-rule", "create", "bad", "--event-type", "no.such", "--slack", "https://h/x"), "eventTypes[0]")
	contains(t, e.fails("", "alert-rule", "create", "bad", "--event-type", atrium.EventJobStatusChanged, "--webhook", "ftp://h/x"), "targets[0].url")

	list := e.ok("alert-rule", "list")
	contains(t, list, "NAME", "failures", "approvals", "webhook,slack,email")
	js := e.ok("alert-rule", "get", "failures", "-o", "json")
	var r atrium.AlertRule
	must(t, json.Unmarshal([]byte(js), &r))
	if r.ID != id || !r.Targets[0].HasSecret || r.Filter.CEL != `event.data.to == "Failed"` {
		t.Fatalf("get = %s", js)
	}

	// Flag updates keep the rest, the secret included.
	out = e.ok("alert-rule", "update", "failures", "--disabled", "--throttle", "10m")
	contains(t, out, "Enabled", "false", "10m0s", "(secret set)", "PyTorchJob")
	contains(t, e.ok("alert-rule", "update", id, "--enabled"), "true")

	contains(t, e.ok("alert-rule", "test", "failures"), "dlc.job.status.changed (test)", "0:webhook", "1:slack", "2:email", "Pending")
	contains(t, e.ok("alert-rule", "deliveries", "failures", "--limit", "2"), "ATTEMPTS", "(test)")

	for _, a := range [][]string{{"alert-rule", "list", "-o", "json"}, {"alert-rule", "get", id, "-o", "yaml"}, {"alert-rule", "deliveries", id, "-o", "json"}} {
		if out := e.ok(a...); strings.Contains(out, "TOPSECRET") {
			t.Fatalf("%v shows the secret: %s", a, out)
		}
	}
	contains(t, e.ok("alert-rule", "delete", "failures"), "Deleted alert rule "+id)
	contains(t, e.fails("", "alert-rule", "get", "failures"), "no alert rule named")
}
