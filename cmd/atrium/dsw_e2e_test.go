package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"atrium"
	"atrium/dispatch"
	"atrium/httpapi"
)

// TestMain lets this test binary play a DSW instance's server: 'atrium.test
// dsw-evil' serves the malicious notebook page of TestDSWOriginInChromium.

// evilPage is what an instance's author could serve to whoever opens it:
// it tries every way the console's origin was reachable from an instance
// page and writes what each try got into #log.
var evilPage = template.Must(template.New("evil").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>innocent notebook</title></head><body>
<h1>Notebook</h1><pre id="log"></pre>
<form id="f" method="post" action="{{.Console}}/w/{{.WS}}/members" target="sink">
<input name="userName" value="{{.Victim}}"><input name="role" value="WorkspaceAdmin"><input name="_csrf" id="csrf"></form>
<iframe name="sink"></iframe>
<script>
const CONSOLE = {{.Console}}, WS = {{.WS}}, WHO = {{.Victim}};
const out = {};
function note(k, v) { out[k] = String(v); document.getElementById("log").textContent = JSON.stringify(out); }
(async () => {
  try { note("cookie", "read: " + document.cookie) } catch (e) { note("cookie", "error: " + e.name) }
  try { document.cookie = "atrium_session=planted; path=/"; document.cookie = "atrium_session=planted; path=/w"; note("plant", "set: " + document.cookie) }
  catch (e) { note("plant", "error: " + e.name) }
  let csrf = "";
  try {
    const r = await fetch(CONSOLE + "/w/" + WS + "/members", {credentials: "include"});
    const m = (await r.text()).match(/name="_csrf" value="([^"]+)"/);
    csrf = m ? m[1] : "";
    note("scrape", r.status + (csrf ? " csrf=" + csrf : " no csrf"));
  } catch (e) { note("scrape", "error: " + e) }
  try {
    const r = await fetch(CONSOLE + "/api/v1/workspaces/" + WS + "/members", {method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({members: [{userName: WHO, roles: ["WorkspaceAdmin"]}]})});
    note("api", r.status);
  } catch (e) { note("api", "error: " + e) }
  try {
    const r = await fetch(CONSOLE + "/w/" + WS + "/members", {method: "POST", credentials: "include",
      body: new URLSearchParams({userName: WHO, role: "WorkspaceAdmin", _csrf: csrf})});
    note("form-fetch", r.status);
  } catch (e) { note("form-fetch", "error: " + e) }
  document.getElementById("csrf").value = csrf;
  document.getElementById("f").submit();
  await new Promise(r => setTimeout(r, 1500)); // the framed POST goes out
  note("done", "yes");
})();
</script></body></html>
`))

// serveEvilNotebook serves evilPage on $ATRIUM_DSW_PORT and prints the
// Atrium credentials each request brought, so the test can see what
// reached the instance.
func serveEvilNotebook() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var page bytes.Buffer
	if err := evilPage.Execute(&page, map[string]string{"Console": os.Getenv("EVIL_CONSOLE"), "WS": os.Getenv("EVIL_WS"), "Victim": os.Getenv("EVIL_ADD")}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv(atrium.EnvDSWPort), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("evil got %s %s cookie=%q authorization=%q\n", r.Method, r.URL.Path, r.Header.Get("Cookie"), r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// The server's own try: a cookie named like the console's session.
		http.SetCookie(w, &http.Cookie{Name: httpapi.SessionCookie, Value: "from-the-instance", Path: "/"})
		w.Write(page.Bytes())
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Println("evil notebook listening on", srv.Addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestDSWOriginInChromium: a WorkspaceAdmin signed in to the console opens,
// through the console's Open button and the real handoff, a notebook whose
// page attacks the console: it reads document.cookie, scrapes the members
// page for the CSRF token, adds a WorkspaceAdmin through the API and the
// console's form, and plants a cookie named like the console's session
// (in script and from its server). The DSW origin is another port of the
// console's host, where cookies are shared, as by default. Nothing of it
// works: the members are the same, the console's cookies are the same and
// still sign the admin in, the page read no cookie, and the instance saw
// none of Atrium's credentials.
func TestDSWOriginInChromium(t *testing.T) {
	s, admin := startAdminServer(t)
	ctx := context.Background()
	const pw = "dsw-e2e-password"
	for _, name := range []string{"wanda", "mallory", "eve"} {
		if _, err := admin.CreateUser(ctx, httpapi.CreateUserRequest{Name: name, Password: pw}); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := admin.CreateWorkspace(ctx, httpapi.CreateWorkspaceRequest{Name: "notebooks", EnvTypes: []string{"prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddMembers(ctx, ws.ID, atrium.MemberParams{UserName: "wanda", Roles: []string{atrium.RoleWorkspaceAdmin}},
		atrium.MemberParams{UserName: "mallory", Roles: []string{atrium.RoleAlgoDeveloper}}); err != nil {
		t.Fatal(err)
	}
	malTok, err := httpapi.NewClient(s.url, "").CreateTokenWithPassword(ctx, "mallory", pw, httpapi.CreateTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	mallory := httpapi.NewClient(s.url, malTok.Token)
	spec, _ := json.Marshal(map[string]any{"displayName": "evil", "image": "python:3.12", "resources": map[string]any{"cpu": 1, "memory": "256Mi"},
		"command": dispatch.ShellQuote(podReachable(t, os.Args[0])) + " dsw-evil", "envs": map[string]string{"EVIL_CONSOLE": s.url, "EVIL_WS": ws.ID, "EVIL_ADD": "eve"}})
	inst, err := mallory.CreateDSW(ctx, ws.ID, spec)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for inst.Status != atrium.JobRunning {
		if time.Now().After(deadline) || atrium.JobFinished(inst.Status) {
			t.Fatalf("the instance is %s (%s)", inst.Status, inst.ReasonMessage)
		}
		time.Sleep(200 * time.Millisecond)
		if inst, err = mallory.GetDSW(ctx, ws.ID, inst.ID); err != nil {
			t.Fatal(err)
		}
	}
	members := func() string {
		l, err := admin.ListMembers(ctx, ws.ID, httpapi.ListMembersOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range l.Items {
			names = append(names, m.UserName+":"+strings.Join(m.Roles, "+"))
		}
		slices.Sort(names)
		return strings.Join(names, ",")
	}
	before := members()

	wanda := s.tab(t)
	wanda.login("wanda", pw)
	consoleURLs := []string{s.url + "/", s.url + "/w/" + ws.ID + "/members", s.url + "/login"}
	cookies := func() []string {
		t.Helper()
		res, err := chromedp.Run(wanda.ctx, func(ctx context.Context, tg *chromedp.Target) (*network.GetCookiesResult, error) {
			r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: consoleURLs})
			return &r, err
		})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range res.Cookies {
			out = append(out, fmt.Sprintf("%s=%s path=%s httpOnly=%v", c.Name, c.Value, c.Path, c.HTTPOnly))
		}
		slices.Sort(out)
		return out
	}
	consoleCookies := cookies()
	if len(consoleCookies) != 1 || !strings.HasPrefix(consoleCookies[0], httpapi.SessionCookie+"=") {
		t.Fatalf("after sign-in the console's cookies are %q", consoleCookies)
	}
	session := strings.TrimPrefix(strings.Fields(consoleCookies[0])[0], httpapi.SessionCookie+"=")

	wanda.do("open the notebook",
		chromedp.Navigate(wanda.base+"/w/"+ws.ID+"/dsw"),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Open evil"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Open evil"]`)),
	)
	// The click leaves for another origin through two redirects: the tab's
	// document is swapped meanwhile, so poll until the notebook page says done.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		done, err := chromedp.Run(wanda.ctx, chromedp.Evaluate[bool](`(document.getElementById("log")||{textContent:""}).textContent.includes('"done"')`))
		if err == nil && done {
			break
		}
		if time.Now().After(deadline) {
			wanda.screenshot("failed-dsw-open")
			t.Fatalf("the notebook page did not finish its attacks: %v", err)
		}
	}
	wanda.screenshot("dsw-01-evil-notebook")
	where := wanda.eval(`location.href`)
	if !strings.HasPrefix(where, "http://127.0.0.1:") || strings.HasPrefix(where, s.url) || !strings.HasSuffix(where, "/i/"+inst.ID+"/") {
		t.Errorf("the notebook is at %s, not on the DSW origin apart from the console (%s)", where, s.url)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(wanda.eval(`document.getElementById("log").textContent`)), &got); err != nil {
		t.Fatal(err)
	}
	t.Logf("the page's attacks got: %v", got)
	if got["cookie"] != "error: SecurityError" || got["plant"] != "error: SecurityError" {
		t.Errorf("the page could use document.cookie: read %q, plant %q", got["cookie"], got["plant"])
	}
	for k, v := range got {
		if strings.Contains(v, session) || strings.Contains(v, "csrf=") {
			t.Errorf("the page got the console's secrets (%s: %s)", k, v)
		}
	}

	if after := members(); after != before {
		t.Errorf("the members changed: %s → %s", before, after)
	}
	if after := cookies(); !slices.Equal(after, consoleCookies) {
		t.Errorf("the console's cookies changed:\n before %q\n after  %q", consoleCookies, after)
	}
	wanda.do("back to the console", chromedp.Navigate(wanda.base+"/w/"+ws.ID+"/members"), chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)))
	if who := wanda.eval(`document.body.textContent`); !strings.Contains(who, "Signed in as wanda") {
		t.Errorf("after the notebook the console does not sign wanda in any more: %.300s", who)
	}
	wanda.screenshot("dsw-02-console-after")

	var logs bytes.Buffer
	if err := mallory.DSWLogs(ctx, ws.ID, inst.ID, false, &logs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "evil got GET /") {
		t.Errorf("the instance served nothing: %s", logs.String())
	}
	if strings.Contains(logs.String(), httpapi.SessionCookie) || strings.Contains(logs.String(), "atrium_dsw") || !strings.Contains(logs.String(), `authorization=""`) {
		t.Errorf("Atrium's credentials reached the instance:\n%s", logs.String())
	}
}
