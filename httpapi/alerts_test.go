package httpapi

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"atrium"
	"atrium/secret"
)

type alertFixture struct {
	*fixture
	ws                 *atrium.Workspace
	admin, dev, guest  string
	devUser, adminUser *atrium.User
	devJob, othersJob  *atrium.Job
}

func setupAlerts(t *testing.T) *alertFixture {
	t.Helper()
	ctx := context.Background()
	f := setup(t)
	key := make([]byte, 32)
	rand.Read(key)
	var err error
	if f.api.Secrets, err = secret.NewBox(key); err != nil {
		t.Fatal(err)
	}
	af := &alertFixture{fixture: f}
	lead, _ := f.user(t, "lead")
	af.adminUser, af.admin = f.user(t, "wsadmin")
	af.devUser, af.dev = f.user(t, "dev")
	guest, gtok := f.user(t, "guest")
	af.guest = gtok
	af.ws = &atrium.Workspace{Name: "alerts", EnvTypes: []string{"prod"}, Creator: lead.ID}
	must(t, f.store.CreateWorkspace(ctx, af.ws))
	_, err = f.store.AddMembers(ctx, af.ws.ID, []atrium.MemberParams{
		{UserID: af.adminUser.ID, Roles: []string{atrium.RoleWorkspaceAdmin}},
		{UserID: af.devUser.ID, Roles: []string{atrium.RoleAlgoDeveloper}},
		{UserID: guest.ID, Roles: []string{atrium.RoleWorkspaceGuest}},
	})
	must(t, err)
	mkJob := func(u *atrium.User) *atrium.Job {
		j := &atrium.Job{WorkspaceID: af.ws.ID, Kind: atrium.KindDLC, DisplayName: "j", JobType: "CustomJob", Creator: u.ID, CreatorName: u.Name,
			Priority: 1, Accessibility: atrium.AccessPrivate, Status: atrium.JobQueuing, Pods: []atrium.Pod{},
			Spec: atrium.JobSpec{JobType: "CustomJob", Command: "true"}}
		must(t, f.store.CreateJob(ctx, j))
		return j
	}
	af.devJob, af.othersJob = mkJob(af.devUser), mkJob(af.adminUser)
	return af
}

func (af *alertFixture) rules() string { return "/api/v1/workspaces/" + af.ws.ID + "/alert-rules" }

func validRule(name string) map[string]any {
	return map[string]any{"name": name, "eventTypes": []string{atrium.EventJobStatusChanged}, "scope": "Mine",
		"filter":   map[string]any{"statuses": []string{"Failed"}, "jobTypes": []string{"PyTorchJob"}, "cel": `event.data.to == "Failed"`},
		"throttle": "1m", "enabled": true,
		"targets": []map[string]any{
			{"type": "webhook", "url": "https://hooks.example.com/atrium", "secret": "whsec-TOPSECRET-1"},
			{"type": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=x", "secret": "ding-TOPSECRET-2"},
			{"type": "email", "to": []string{"oncall@example.com"}},
		}}
}

func TestAlertRuleValidation(t *testing.T) {
	af := setupAlerts(t)
	for _, tc := range []struct {
		name, field, detail string
		mut                 func(m map[string]any)
	}{
		{"no name", "name", "required", func(m map[string]any) { m["name"] = "" }},
		{"no event types", "eventTypes", "at least one", func(m map[string]any) { m["eventTypes"] = []string{} }},
		{"unknown event type", "eventTypes[1]", "not an event type", func(m map[string]any) {
			m["eventTypes"] = []string{atrium.EventJobStatusChanged, "job.exploded"}
		}},
		{"bad scope", "scope", "Mine", func(m map[string]any) { m["scope"] = 7 }},
		{"unknown resource", "scope.resourceId", "no job", func(m map[string]any) { m["scope"] = map[string]any{"resourceId": "dlc-nope"} }},
		{"cel syntax", "filter.cel", "2:19", func(m map[string]any) {
			m["filter"] = map[string]any{"cel": "event.type == \"a\" &&\n  event.data.to ==== 1"}
		}},
		{"cel not bool", "filter.cel", "want bool", func(m map[string]any) { m["filter"] = map[string]any{"cel": "event.type"} }},
		{"cel undeclared", "filter.cel", "1:1", func(m map[string]any) { m["filter"] = map[string]any{"cel": `evt.type == "x"`} }},
		{"bad throttle", "throttle", "", func(m map[string]any) { m["throttle"] = "soon" }},
		{"no targets", "targets", "at least one", func(m map[string]any) { m["targets"] = []any{} }},
		{"bad target type", "targets[0].type", "not a target type", func(m map[string]any) { m["targets"] = []any{map[string]any{"type": "pager"}} }},
		{"ftp url", "targets[0].url", "http", func(m map[string]any) {
			m["targets"] = []any{map[string]any{"type": "webhook", "url": "ftp://files.example.com/x"}}
		}},
		{"relative url", "targets[0].url", "absolute", func(m map[string]any) { m["targets"] = []any{map[string]any{"type": "slack", "url": "/hooks"}} }},
		{"bad email", "targets[0].to[1]", "not an email", func(m map[string]any) {
			m["targets"] = []any{map[string]any{"type": "email", "to": []string{"a@example.com", "not an address"}}}
		}},
		{"secret on slack", "targets[0].secret", "only webhook", func(m map[string]any) {
			m["targets"] = []any{map[string]any{"type": "slack", "url": "https://hooks.slack.com/x", "secret": "s"}}
		}},
	} {
		m := validRule("r")
		tc.mut(m)
		resp := af.do(t, af.dev, "POST", af.rules(), m)
		if resp.status != 400 {
			t.Errorf("%s: status %d, want 400; %s", tc.name, resp.status, resp.body)
			continue
		}
		p := resp.problem(t)
		if p.Field != tc.field || !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%s: field %q detail %q, want field %q with %q", tc.name, p.Field, p.Detail, tc.field, tc.detail)
		}
	}
	// A taken name is 409 naming the field.
	if resp := af.do(t, af.dev, "POST", af.rules(), validRule("dup")); resp.status != 201 {
		t.Fatalf("create: %d %s", resp.status, resp.body)
	}
	resp := af.do(t, af.dev, "POST", af.rules(), validRule("dup"))
	if p := resp.problem(t); resp.status != 409 || p.Field != "name" {
		t.Fatalf("duplicate: %d %s", resp.status, resp.body)
	}
}

func TestAlertRulePermissionsAndSecrets(t *testing.T) {
	af := setupAlerts(t)
	ctx := context.Background()

	// A developer creates Mine rules and rules on their own job, not All
	// or on another member's job; an admin creates All.
	resp := af.do(t, af.dev, "POST", af.rules(), validRule("mine"))
	if resp.status != 201 {
		t.Fatalf("dev Mine: %d %s", resp.status, resp.body)
	}
	var r atrium.AlertRule
	resp.decode(t, &r)
	all := validRule("all")
	all["scope"] = "All"
	resp = af.do(t, af.dev, "POST", af.rules(), all)
	if p := resp.problem(t); resp.status != 403 || p.Permission != "Alert:CreateRule" || !strings.Contains(p.Detail, "Alert:CreateRule") {
		t.Fatalf("dev All: %d %s", resp.status, resp.body)
	}
	own := validRule("on-my-job")
	own["scope"] = map[string]any{"resourceId": af.devJob.ID}
	if resp := af.do(t, af.dev, "POST", af.rules(), own); resp.status != 201 {
		t.Fatalf("dev on own job: %d %s", resp.status, resp.body)
	}
	theirs := validRule("on-their-job")
	theirs["scope"] = map[string]any{"resourceId": af.othersJob.ID}
	if resp := af.do(t, af.dev, "POST", af.rules(), theirs); resp.status != 400 {
		t.Fatalf("dev on another's private job: %d %s", resp.status, resp.body)
	}
	if resp := af.do(t, af.admin, "POST", af.rules(), theirs); resp.status != 201 {
		t.Fatalf("admin on a job: %d %s", resp.status, resp.body)
	}
	if resp := af.do(t, af.admin, "POST", af.rules(), all); resp.status != 201 {
		t.Fatalf("admin All: %d %s", resp.status, resp.body)
	}
	if resp := af.do(t, af.guest, "POST", af.rules(), validRule("guest")); resp.status != 403 {
		t.Fatalf("guest: %d %s", resp.status, resp.body)
	}
	// A developer cannot widen their rule to All.
	if resp := af.do(t, af.dev, "PUT", af.rules()+"/"+r.ID, all); resp.status != 403 {
		t.Fatalf("dev widening to All: %d %s", resp.status, resp.body)
	}
	// The developer lists their own rules; the admin all.
	var l List[*atrium.AlertRule]
	af.do(t, af.dev, "GET", af.rules(), nil).decode(t, &l)
	if len(l.Items) != 2 {
		t.Fatalf("dev sees %d rules", len(l.Items))
	}
	af.do(t, af.admin, "GET", af.rules(), nil).decode(t, &l)
	if len(l.Items) != 4 {
		t.Fatalf("admin sees %d rules", len(l.Items))
	}

	// Secrets are sealed with rule id and target index, shown as hasSecret.
	if !r.Targets[0].HasSecret || !r.Targets[1].HasSecret || r.Targets[2].HasSecret {
		t.Fatalf("view targets = %+v", r.Targets)
	}
	stored, err := af.store.FindAlertRuleByID(ctx, r.ID)
	must(t, err)
	for i, want := range []string{"whsec-TOPSECRET-1", "ding-TOPSECRET-2"} {
		plain, err := af.api.Secrets.Open(stored.Targets[i].Secret, []byte(r.ID+":"+itoa(i)))
		if err != nil || string(plain) != want {
			t.Fatalf("secret %d opens to %q, %v", i, plain, err)
		}
	}
	// A replace without secrets keeps them where the target is unchanged.
	upd := validRule("mine")
	ts := upd["targets"].([]map[string]any)
	delete(ts[0], "secret")
	ts[1]["url"] = "https://oapi.dingtalk.com/robot/send?access_token=y"
	delete(ts[1], "secret")
	resp = af.do(t, af.dev, "PUT", af.rules()+"/"+r.ID, upd)
	if resp.status != 200 {
		t.Fatalf("update: %d %s", resp.status, resp.body)
	}
	var r2 atrium.AlertRule
	resp.decode(t, &r2)
	if !r2.Targets[0].HasSecret || r2.Targets[1].HasSecret {
		t.Fatalf("after update: %+v", r2.Targets)
	}

	// Test send: one Test delivery per target with a sample payload.
	resp = af.do(t, af.dev, "POST", af.rules()+"/"+r.ID+"/test", nil)
	if resp.status != 202 {
		t.Fatalf("test: %d %s", resp.status, resp.body)
	}
	var dl List[*atrium.Delivery]
	resp.decode(t, &dl)
	if len(dl.Items) != 3 || !dl.Items[0].Test || dl.Items[0].ID == 0 || dl.Items[2].TargetType != "email" {
		t.Fatalf("test deliveries = %s", resp.body)
	}
	ds, err := af.store.FindDeliveries(ctx, r.ID, 0)
	must(t, err)
	if len(ds) != 3 || !strings.Contains(string(ds[0].Payload), `"type":"dlc.job.status.changed"`) {
		t.Fatalf("queued = %d, payload %s", len(ds), ds[0].Payload)
	}
	af.do(t, af.dev, "GET", af.rules()+"/"+r.ID+"/deliveries?limit=2", nil).decode(t, &dl)
	if len(dl.Items) != 2 {
		t.Fatalf("deliveries limit 2: %d", len(dl.Items))
	}

	// Nothing ever shows a secret: responses or logs.
	for _, path := range []string{af.rules(), af.rules() + "/" + r.ID, af.rules() + "/" + r.ID + "/deliveries"} {
		body := string(af.do(t, af.admin, "GET", path, nil).body)
		if strings.Contains(body, "TOPSECRET") || strings.Contains(body, `"secret"`) {
			t.Fatalf("GET %s shows a secret: %s", path, body)
		}
	}
	if strings.Contains(af.logs.String(), "TOPSECRET") {
		t.Fatal("logs hold a secret")
	}
}
