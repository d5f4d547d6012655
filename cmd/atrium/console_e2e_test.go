package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"atrium/httpapi"
)

// chromiumPath is the browser the console tests drive: $ATRIUM_TEST_CHROMIUM
// (.ci/run sets it after installing Debian's chromium) or chromium on PATH.
func chromiumPath(t *testing.T) string {
	if p := os.Getenv("ATRIUM_TEST_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium: install it (apt-get install -y chromium) or set ATRIUM_TEST_CHROMIUM")
	}
	return p
}

// artifactsDir is where screenshots go: $ATRIUM_TEST_ARTIFACTS/console, or a
// directory under the system's temporary one.
func artifactsDir(t *testing.T) string {
	base := os.Getenv("ATRIUM_TEST_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "atrium-test-artifacts")
	}
	dir := filepath.Join(base, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one browser tab signed in as someone, recording what the page
// writes to the console.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shot  string // screenshot directory
	mu    sync.Mutex
	logs  []string
	close func()
}

// tab starts a browser of its own (its own profile, so its own cookies) and
// opens one tab in it.
func (s *server) tab(t *testing.T) *tab {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900),
	)
	alloc, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	tb := &tab{t: t, ctx: ctx, base: s.url, shot: artifactsDir(t), close: func() { cancelT(); cancel(); cancelA() }}
	t.Cleanup(tb.close)
	// Start the tab, then record its console: errors and exceptions fail the test.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				tb.mu.Lock()
				tb.logs = append(tb.logs, m.String()+" ("+m.URL+")")
				tb.mu.Unlock()
			}
		}
	}()
	return tb
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.screenshot("failed-" + what)
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls a JavaScript condition until it holds.
func (tb *tab) waitFor(what, js string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		tb.screenshot("failed-" + what)
		tb.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func (tb *tab) eval(js string) string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (tb *tab) screenshot(name string) {
	b, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(tb.shot, name+".png")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
	}
}

func (tb *tab) login(name, password string) {
	tb.t.Helper()
	tb.do("sign in as "+name,
		chromedp.Navigate(tb.base+"/login"),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)),
	)
}

func (tb *tab) logout() {
	tb.t.Helper()
	tb.do("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.ID("password")))
}

// unlabelled lists the form controls of the page a screen reader could not
// name (no <label for>, no aria-label).
func (tb *tab) unlabelled() string {
	return tb.eval(`[...document.querySelectorAll("input:not([type=hidden]),select,textarea")]
		.filter(e => !(e.id && document.querySelector('label[for="' + e.id + '"]')) && !e.getAttribute("aria-label"))
		.map(e => e.name || e.outerHTML).join(" ")`)
}

func (tb *tab) consoleClean() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.logs) > 0 {
		tb.t.Errorf("the browser console shows:\n%s", strings.Join(tb.logs, "\n"))
	}
}

// startAdminServer starts a server that runs jobs on this host and returns
// it with an API client of its bootstrap admin.
func startAdminServer(t *testing.T) (*server, *httpapi.Client) {
	t.Helper()
	dataDir := t.TempDir()
	s := startServer(t, nil, "--data-dir", dataDir, "--local-capacity", "cpu=4,memory=8Gi")
	raw, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return s, httpapi.NewClient(s.url, strings.TrimSpace(string(raw)))
}

// TestConsoleInChromium drives the console in headless Chromium against the
// real binary: a ResourceAdmin signs in, creates a workspace, adds members,
// dry-runs and submits a job from YAML and watches it succeed with its log
// line; an Operator approves a model version; a Guest is offered no button
// that writes. Screenshots land in the artifacts directory.
func TestConsoleInChromium(t *testing.T) {
	s, admin := startAdminServer(t)
	ctx := context.Background()
	const pw = "console-e2e-password"
	for name, roles := range map[string][]string{"lead": {"ResourceAdmin"}, "dana": nil, "otto": nil, "gus": nil} {
		if _, err := admin.CreateUser(ctx, httpapi.CreateUserRequest{Name: name, Password: pw, PlatformRoles: roles}); err != nil {
			t.Fatal(err)
		}
	}

	lead := s.tab(t)
	lead.login("lead", pw)
	lead.do("create a workspace",
		chromedp.Navigate(lead.base+"/workspaces"),
		chromedp.SendKeys(chromedp.ID("ws-name"), "vision"),
		chromedp.SendKeys(chromedp.ID("ws-display"), "Vision team"),
		chromedp.Click(chromedp.CSS(`form[action="/workspaces"] button`)),
		chromedp.WaitVisible(chromedp.ID("q-h")),
	)
	wsURL := lead.eval(`location.pathname`)
	if !strings.HasPrefix(wsURL, "/w/ws-") {
		t.Fatalf("after creating the workspace the browser is at %s", wsURL)
	}
	wsID := strings.TrimPrefix(wsURL, "/w/")
	for _, m := range []struct{ name, role string }{{"dana", "AlgoDeveloper"}, {"otto", "AlgoOperator"}, {"gus", "WorkspaceGuest"}} {
		lead.do("add "+m.name,
			chromedp.Navigate(lead.base+wsURL+"/members"),
			chromedp.SendKeys(chromedp.ID("m-user"), m.name),
			chromedp.SetValue(chromedp.ID("m-role"), m.role),
			chromedp.Click(chromedp.CSS(`form[action="`+wsURL+`/members"] button`)),
			chromedp.WaitVisible(chromedp.CSS(".flash")),
		)
		if got := lead.eval(`document.querySelector(".flash").textContent`); !strings.Contains(got, m.name+" added as "+m.role) {
			t.Fatalf("adding %s: %q", m.name, got)
		}
	}
	lead.screenshot("01-members")

	// A job from YAML: dry run first, then submit and watch it.
	spec := "displayName: console-e2e\njobType: CustomJob\naccessibility: PUBLIC\ncommand: echo \"console-e2e-marker rank $RANK\"\n" +
		"jobSpecs:\n  - {type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 256Mi}}\n"
	lead.do("dry run",
		chromedp.Navigate(lead.base+wsURL+"/jobs/new"),
		chromedp.SetValue(chromedp.ID("spec"), spec),
		chromedp.Click(chromedp.CSS(`button[value="dryrun"]`)),
		chromedp.WaitVisible(chromedp.ID("dry-run")),
	)
	if got := lead.eval(`document.querySelector("#dry-run").textContent`); !strings.Contains(got, "Would start now") {
		t.Errorf("dry run says: %s", got)
	}
	lead.screenshot("02-dry-run")
	// A bad spec stays on the form and names the field.
	lead.do("bad spec",
		chromedp.SetValue(chromedp.ID("spec"), strings.Replace(spec, "memory: 256Mi", "memory: -1Gi", 1)),
		chromedp.Click(chromedp.CSS(`button[value="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("spec-error")),
	)
	if got := lead.eval(`document.querySelector("#form-error").textContent`); !strings.Contains(got, "memory") {
		t.Errorf("the refusal does not name the field: %s", got)
	}
	lead.do("submit",
		chromedp.SetValue(chromedp.ID("spec"), spec),
		chromedp.Click(chromedp.CSS(`button[value="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("job-status")),
	)
	lead.waitFor("the job to succeed", `(document.querySelector("#status-word")||{}).textContent === "Succeeded"`)
	lead.waitFor("the log line", `document.querySelector("#log").textContent.includes("console-e2e-marker rank 0")`)
	lead.screenshot("03-job-succeeded")
	jobURL := lead.eval(`location.pathname`)
	lead.do("jobs list", chromedp.Navigate(lead.base+wsURL+"/jobs"), chromedp.WaitVisible(chromedp.CSS(`tr[data-job]`)))
	if got := lead.eval(`document.querySelector("tr[data-job] .status").textContent`); got != "Succeeded" {
		t.Errorf("the jobs list shows %q", got)
	}
	lead.do("overview", chromedp.Navigate(lead.base+wsURL), chromedp.WaitVisible(chromedp.ID("u-h")))
	lead.screenshot("04-overview")
	for _, p := range []string{wsURL, wsURL + "/members", wsURL + "/jobs", wsURL + "/jobs/new", jobURL, wsURL + "/alerts",
		wsURL + "/assets/datasets", wsURL + "/oplog", "/workspaces", "/quotas"} {
		lead.do("open "+p, chromedp.Navigate(lead.base+p), chromedp.WaitVisible(chromedp.ID("main")))
		if u := lead.unlabelled(); u != "" {
			t.Errorf("%s: controls without a label: %s", p, u)
		}
	}
	// The diamond pipeline, run through the API, followed on its run page.
	leadTok, err := httpapi.NewClient(s.url, "").CreateTokenWithPassword(ctx, "lead", pw, httpapi.CreateTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	leadAPI := httpapi.NewClient(s.url, leadTok.Token)
	doc, err := os.ReadFile("../../examples/pipelines/diamond.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := leadAPI.CreatePipeline(ctx, wsID, doc)
	if err != nil {
		t.Fatal(err)
	}
	run, err := leadAPI.CreateRun(ctx, wsID, httpapi.CreateRunRequest{PipelineID: pl.ID})
	if err != nil {
		t.Fatal(err)
	}
	lead.do("run page", chromedp.Navigate(lead.base+wsURL+"/runs/"+run.ID), chromedp.WaitVisible(chromedp.ID("run-word")))
	lead.waitFor("the run to succeed", `document.querySelector("#run-word").textContent === "Succeeded"`)
	if got := lead.eval(`[...document.querySelectorAll("svg.chart g title")].map(e => e.textContent).join(",")`); got != "A: Succeeded,B: Succeeded,C: Succeeded,D: Succeeded" {
		t.Errorf("the run's graph shows %q", got)
	}
	lead.screenshot("05-pipeline-run")
	lead.do("pipelines", chromedp.Navigate(lead.base+wsURL+"/pipelines"), chromedp.WaitVisible(chromedp.CSS(`a[href$="/runs/`+run.ID+`"]`)))
	lead.consoleClean()
	lead.logout()
	lead.close()

	// Dana registers a model version from the job (through the API, as a
	// training script would); Otto approves it in the console.
	danaTok, err := httpapi.NewClient(s.url, "").CreateTokenWithPassword(ctx, "dana", pw, httpapi.CreateTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	dana := httpapi.NewClient(s.url, danaTok.Token)
	m, err := dana.CreateAsset(ctx, wsID, httpapi.KindModels, map[string]any{"name": "resnet"})
	if err != nil {
		t.Fatal(err)
	}
	modelID := m.String("modelId")
	jobID := jobURL[strings.LastIndex(jobURL, "/")+1:]
	if _, err := dana.CreateAssetVersion(ctx, wsID, httpapi.KindModels, modelID,
		map[string]any{"versionName": "1.0.0", "uri": "file:///models/resnet/1", "sourceType": "Job", "sourceId": jobID}); err != nil {
		t.Fatal(err)
	}
	if _, err := dana.PublishAsset(ctx, wsID, httpapi.KindModels, modelID); err != nil {
		t.Fatal(err)
	}

	otto := s.tab(t)
	otto.login("otto", pw)
	otto.do("approve",
		chromedp.Navigate(otto.base+wsURL+"/models/"+modelID),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Approve version 1.0.0"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Approve version 1.0.0"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	otto.waitFor("Approved in the table", `[...document.querySelectorAll("td .status")].some(e => e.textContent === "Approved")`)
	if got := otto.eval(`document.querySelector("svg.chart title").textContent`); !strings.Contains(got, "1.0.0") {
		t.Errorf("no lineage graph: %q", got)
	}
	otto.screenshot("06-model-approved")
	v, err := dana.GetAssetVersion(ctx, wsID, httpapi.KindModels, modelID, "1.0.0")
	if err != nil || v.String("approvalStatus") != "Approved" || v.String("approvedBy") != "otto" {
		t.Errorf("after the click the API says %v %v", v, err)
	}
	otto.consoleClean()
	otto.close()

	// Gus the guest: every page he can open offers no write but signing out.
	gus := s.tab(t)
	gus.login("gus", pw)
	for i, path := range []string{wsURL, wsURL + "/members", wsURL + "/jobs", jobURL, wsURL + "/assets/models", wsURL + "/models/" + modelID, wsURL + "/dsw",
		wsURL + "/pipelines"} {
		gus.do("guest opens "+path, chromedp.Navigate(gus.base+path), chromedp.WaitVisible(chromedp.ID("main")))
		writes := gus.eval(`[...document.querySelectorAll("form")].filter(f => f.method === "post" && f.getAttribute("action") !== "/logout").map(f => f.getAttribute("action")).join(" ")`)
		if writes != "" {
			t.Errorf("the guest is offered writes on %s: %s", path, writes)
		}
		if strings.Contains(path, "/jobs/") && gus.eval(`document.querySelector("#status-word").textContent`) != "Succeeded" {
			t.Errorf("the guest cannot see the public job's status")
		}
		gus.screenshot(fmt.Sprintf("07-guest-%d", i))
	}
	gus.consoleClean()
	t.Logf("screenshots in %s", lead.shot)
}
