package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"atrium"
	"atrium/dispatch"
	"atrium/dswpage"
	"atrium/executor"
	"atrium/executor/local"
	"atrium/resource"
)

// TestMain lets this test binary play the server binary inside DSW pods:
// 'httpapi.test dsw-page' is the built-in page (as 'atrium dsw-page'), and
// 'httpapi.test dsw-echo' a server that echoes requests and WebSocket-ish
// upgrades, for checking what the proxy forwards.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		switch os.Args[1] {
		case "dsw-page":
			if err := dswpage.Serve(ctx); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		case "dsw-echo":
			os.Exit(echoServe(ctx))
		}
	}
	os.Exit(m.Run())
}

func echoServe(ctx context.Context) int {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			fmt.Fprint(brw, "echo:"+line)
			brw.Flush()
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// What an instance may answer, and the browser must never get:
		// cookies (one named like the console's session), clearing them.
		w.Header().Add("Set-Cookie", SessionCookie+"=from-the-instance; Path=/")
		w.Header().Add("Set-Cookie", "nb=1; Path=/")
		w.Header().Set("Clear-Site-Data", `"cookies"`)
		w.Header().Set("Content-Security-Policy", "img-src 'self'")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, Query: r.URL.RawQuery, Header: r.Header})
	})
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv(atrium.EnvDSWPort), Handler: mux}
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Println("echo listening on", srv.Addr, "PORT", os.Getenv("PORT"))
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type echoed struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
}

// dswFixture is the API with the scheduling loop and the real local
// executor behind it, as 'atrium serve' wires them: a workspace where
// alice and bob are AlgoDevelopers, on one local node.
type dswFixture struct {
	*fixture
	ws                *atrium.Workspace
	quota             string
	alice, bob, guest string // tokens
	ex                *local.Executor
	// dsw serves the DSW origin, apart from the API's srv.
	dsw *httptest.Server
}

type testRuntime struct {
	loop *dispatch.Service
	exs  map[string]executor.Executor
}

func (r testRuntime) Wake() { r.loop.Wake() }
func (r testRuntime) Executor(b string) (executor.Executor, bool) {
	ex, ok := r.exs[b]
	return ex, ok
}
func (r testRuntime) ImportNodes(context.Context, *atrium.ResourceGroup) ([]*atrium.Node, error) {
	return nil, atrium.Errorf(atrium.EUNAVAILABLE, "no slurm here")
}

func newDSWFixture(t *testing.T) *dswFixture {
	t.Helper()
	f := setup(t)
	ctx := context.Background()
	df := &dswFixture{fixture: f, quota: "quota-dsw"}
	owner, _ := f.user(t, "owner")
	alice, aliceTok := f.user(t, "alice")
	bob, bobTok := f.user(t, "bob")
	guest, guestTok := f.user(t, "guest")
	df.alice, df.bob, df.guest = aliceTok, bobTok, guestTok
	df.ws = &atrium.Workspace{Name: "dsw_team", DisplayName: "d", EnvTypes: []string{"prod"}, Status: atrium.WorkspaceEnabled, Creator: owner.ID}
	must(t, f.store.CreateWorkspace(ctx, df.ws))
	_, err := f.store.AddMembers(ctx, df.ws.ID, []atrium.MemberParams{{UserID: alice.ID, Roles: []string{atrium.RoleAlgoDeveloper}},
		{UserID: bob.ID, Roles: []string{atrium.RoleAlgoDeveloper}}, {UserID: guest.ID, Roles: []string{atrium.RoleWorkspaceGuest}}})
	must(t, err)
	df.dsw = httptest.NewUnstartedServer(nil)
	_, err = NewDSWOrigin(f.api, DSWOriginConfig{URL: "http://" + df.dsw.Listener.Addr().String(), Key: []byte("0123456789abcdef0123456789abcdef")})
	must(t, err)
	df.dsw.Config.Handler = f.api.DSW
	df.dsw.Start()
	t.Cleanup(df.dsw.Close)
	must(t, f.store.CreateResourceGroup(ctx, &atrium.ResourceGroup{ID: "rg-dsw", Name: "dsw", Backend: atrium.BackendLocal}))
	must(t, f.store.PutNode(ctx, &atrium.Node{Name: "host", GroupID: "rg-dsw", GPUType: "T4",
		Capacity: resource.Vector{MilliCPU: 8000, Memory: 16 << 30, GPU: 4}, State: atrium.NodeReady, Labels: map[string]string{}}))
	must(t, f.store.CreateQuota(ctx, &atrium.Quota{ID: df.quota, Name: "dsw", ResourceGroups: []string{"rg-dsw"},
		Max: resource.List{"T4": {MilliCPU: 8000, Memory: 16 << 30, GPU: 4}}, QueueStrategy: atrium.RoundRobin, OfferedTo: []string{df.ws.ID}}))
	_, err = f.store.BindQuota(ctx, df.ws.ID, df.quota)
	must(t, err)

	dir := t.TempDir()
	df.ex, err = local.New(filepath.Join(dir, "pods"), nil)
	must(t, err)
	exs := map[string]executor.Executor{atrium.BackendLocal: df.ex}
	loop, err := dispatch.New(dispatch.Config{Store: f.store, Executors: exs, Grace: time.Second, Interval: 100 * time.Millisecond})
	must(t, err)
	lctx, cancel := context.WithCancel(ctx)
	loop.Start(lctx)
	f.api.Jobs = testRuntime{loop: loop, exs: exs}
	t.Cleanup(func() {
		loop.Stop()
		cancel()
		jobs, _, _ := f.store.FindJobs(context.Background(), atrium.JobFilter{})
		for _, j := range jobs {
			for a := 1; a <= j.Attempt; a++ {
				_ = df.ex.Stop(context.Background(), executor.Handle{Backend: atrium.BackendLocal, JobID: j.ID, Attempt: a}, 0)
			}
		}
	})
	return df
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (df *dswFixture) path(suffix string) string {
	return "/api/v1/workspaces/" + df.ws.ID + "/dsw-instances" + suffix
}

func (df *dswFixture) create(t *testing.T, tok string, spec map[string]any) *atrium.Job {
	t.Helper()
	spec["quotaId"] = df.quota
	if spec["image"] == nil {
		spec["image"] = "jupyter/base-notebook"
	}
	if spec["resources"] == nil {
		spec["resources"] = map[string]any{"cpu": 1, "memory": "1Gi"}
	}
	resp := df.do(t, tok, "POST", df.path(""), spec)
	if resp.status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.status, resp.body)
	}
	var j atrium.Job
	resp.decode(t, &j)
	if !strings.HasPrefix(j.ID, atrium.PrefixDSW) || j.Kind != atrium.KindDSW || j.JobType != atrium.JobTypeDSW || j.Status != atrium.JobQueuing {
		t.Fatalf("created %+v", j)
	}
	return &j
}

func (df *dswFixture) get(t *testing.T, tok, id string) *atrium.Job {
	t.Helper()
	resp := df.do(t, tok, "GET", df.path("/"+id), nil)
	if resp.status != http.StatusOK {
		t.Fatalf("get %s: %d %s", id, resp.status, resp.body)
	}
	var j atrium.Job
	resp.decode(t, &j)
	return &j
}

// waitStatus polls until the instance has status st.
func (df *dswFixture) waitStatus(t *testing.T, id, st string, within time.Duration) *atrium.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := df.get(t, df.alice, id)
		if j.Status == st {
			return j
		}
		if time.Now().After(deadline) {
			evs := df.do(t, df.alice, "GET", df.path("/"+id+"/events"), nil)
			t.Fatalf("%s is %s (%s: %s), want %s; events %s", id, j.Status, j.ReasonCode, j.ReasonMessage, st, evs.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// handoff mints a one-time link to instance id as tok.
func (df *dswFixture) handoff(t *testing.T, tok, id string) *DSWHandoffView {
	t.Helper()
	resp := df.do(t, tok, "POST", df.path("/"+id+"/handoff"), nil)
	if resp.status != http.StatusCreated {
		t.Fatalf("handoff to %s: %d %s", id, resp.status, resp.body)
	}
	df.checkSchema(t, "handoff", "POST", "/api/v1/workspaces/{workspaceId}/dsw-instances/{instanceId}/handoff", resp.status, resp.body)
	var h DSWHandoffView
	resp.decode(t, &h)
	return &h
}

// browser is a client of the DSW origin with a cookie jar of its own, as a
// browser has; it does not follow redirects, so tests see each answer.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get sends a GET with c and reads the answer.
func get(t *testing.T, c *http.Client, url string) response {
	t.Helper()
	resp, err := c.Get(url)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return response{status: resp.StatusCode, body: b, header: resp.Header}
}

// open signs a new browser in to instance id through a handoff minted by
// tok and returns it.
func (df *dswFixture) open(t *testing.T, tok, id string) *http.Client {
	t.Helper()
	b := browser()
	h := df.handoff(t, tok, id)
	resp := get(t, b, h.URL)
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/i/"+id+"/" {
		t.Fatalf("redeeming the handoff: %d %v %s", resp.status, resp.header, resp.body)
	}
	return b
}

// instanceGet GETs a path of the instance on the DSW origin with b,
// retrying while the instance's server is not listening yet (503).
func (df *dswFixture) instanceGet(t *testing.T, b *http.Client, id, rest string) response {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp := get(t, b, df.dsw.URL+"/i/"+id+"/"+rest)
		if resp.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return resp
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDSWBuiltinPageLifecycle: an instance without a command runs the
// built-in page, served on the DSW origin to its creator only; it stops,
// starts again as a new attempt, and is deleted.
func TestDSWBuiltinPageLifecycle(t *testing.T) {
	df := newDSWFixture(t)
	j := df.create(t, df.alice, map[string]any{"displayName": "notebook"})
	j = df.waitStatus(t, j.ID, atrium.JobRunning, 20*time.Second)
	if len(j.Pods) != 1 || j.Pods[0].Role != atrium.DSWRole || !strings.HasPrefix(j.Pods[0].Endpoint, "127.0.0.1:") || j.Attempt != 1 {
		t.Fatalf("running instance: pods %+v attempt %d", j.Pods, j.Attempt)
	}
	if j.LastActiveAt != nil {
		t.Fatalf("lastActiveAt before any use: %v", j.LastActiveAt)
	}

	b := df.open(t, df.alice, j.ID)
	resp := df.instanceGet(t, b, j.ID, "")
	if resp.status != http.StatusOK || !strings.Contains(string(resp.body), "DSW instance "+j.ID) || !strings.Contains(string(resp.body), "built-in page") ||
		!strings.Contains(string(resp.body), "ATRIUM_DSW_PORT") {
		t.Fatalf("instance /: %d %s", resp.status, resp.body)
	}
	if resp = df.instanceGet(t, b, j.ID, "healthz"); resp.status != 200 || !strings.Contains(string(resp.body), `"instanceId":"`+j.ID+`"`) {
		t.Fatalf("instance /healthz: %d %s", resp.status, resp.body)
	}
	if got := df.get(t, df.alice, j.ID); got.LastActiveAt == nil {
		t.Fatal("lastActiveAt not recorded by a forwarded call")
	}
	// Nothing of the instance is served on the API's origin any more, and
	// the console's cookie opens no API route.
	resp = df.do(t, df.alice, "GET", df.path("/"+j.ID+"/proxy/"), nil)
	if resp.status != http.StatusNotFound || !strings.Contains(resp.problem(t).Detail, "/handoff") {
		t.Fatalf("the old proxy path: %d %s", resp.status, resp.body)
	}
	for _, path := range []string{df.path("/" + j.ID + "/proxy/healthz"), df.path("/" + j.ID), df.path("/" + j.ID + "/handoff")} {
		req, _ := http.NewRequest("GET", df.srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: "tok-id." + df.alice})
		r, err := http.DefaultClient.Do(req)
		must(t, err)
		r.Body.Close()
		if r.StatusCode == http.StatusOK {
			t.Errorf("GET %s with only the console's cookie: %d", path, r.StatusCode)
		}
	}

	// Another developer: a PRIVATE instance does not exist for them.
	if resp = df.do(t, df.bob, "POST", df.path("/"+j.ID+"/handoff"), nil); resp.status != http.StatusNotFound {
		t.Fatalf("bob's handoff: %d %s", resp.status, resp.body)
	}
	// PUBLIC: bob sees it but may not use it.
	if resp = df.do(t, df.alice, "PUT", df.path("/"+j.ID), map[string]any{"accessibility": "PUBLIC"}); resp.status != 200 {
		t.Fatalf("publish: %d %s", resp.status, resp.body)
	}
	if resp = df.do(t, df.bob, "POST", df.path("/"+j.ID+"/handoff"), nil); resp.status != http.StatusForbidden || resp.problem(t).Permission != dswOpenCode {
		t.Fatalf("bob's handoff to a PUBLIC instance: %d %s", resp.status, resp.body)
	}
	// DLC routes do not serve DSW instances, nor the other way round.
	if resp = df.do(t, df.alice, "GET", "/api/v1/workspaces/"+df.ws.ID+"/jobs/"+j.ID, nil); resp.status != http.StatusNotFound {
		t.Fatalf("DSW instance through the jobs route: %d", resp.status)
	}
	resp = df.do(t, df.alice, "GET", df.path("/"+j.ID+"/logs"), nil)
	if resp.status != 200 || !strings.Contains(string(resp.body), "dsw-page: serving instance "+j.ID) {
		t.Fatalf("logs: %d %s", resp.status, resp.body)
	}

	// Stop, then start again: a new attempt on a new port.
	if resp = df.do(t, df.alice, "POST", df.path("/"+j.ID+"/stop"), nil); resp.status != 200 {
		t.Fatalf("stop: %d %s", resp.status, resp.body)
	}
	stopped := df.waitStatus(t, j.ID, atrium.JobStopped, 20*time.Second)
	if stopped.ReasonCode != atrium.ReasonStoppedByUser || stopped.FinishedAt == nil {
		t.Fatalf("stopped: %s %s", stopped.ReasonCode, stopped.ReasonMessage)
	}
	if resp = df.do(t, df.alice, "POST", df.path("/"+j.ID+"/handoff"), nil); resp.status != http.StatusConflict {
		t.Fatalf("handoff to a stopped instance: %d %s", resp.status, resp.body)
	}
	if resp = get(t, b, df.dsw.URL+"/i/"+j.ID+"/"); resp.status != http.StatusConflict || !strings.Contains(string(resp.body), "Stopped") {
		t.Fatalf("a session on a stopped instance: %d %s", resp.status, resp.body)
	}
	if resp = df.do(t, df.alice, "DELETE", df.path("/"+j.ID), nil); resp.status != 204 {
		t.Fatalf("delete stopped: %d %s", resp.status, resp.body)
	}
	if resp = get(t, b, df.dsw.URL+"/i/"+j.ID+"/"); resp.status != http.StatusNotFound {
		t.Fatalf("a session on a deleted instance: %d %s", resp.status, resp.body)
	}

	j = df.create(t, df.alice, map[string]any{})
	df.waitStatus(t, j.ID, atrium.JobRunning, 20*time.Second)
	if resp = df.do(t, df.alice, "POST", df.path("/"+j.ID+"/start"), nil); resp.status != http.StatusConflict {
		t.Fatalf("start a running instance: %d %s", resp.status, resp.body)
	}
	b = df.open(t, df.alice, j.ID)
	if resp = df.do(t, df.alice, "POST", df.path("/"+j.ID+"/stop"), nil); resp.status != 200 {
		t.Fatalf("stop: %d %s", resp.status, resp.body)
	}
	first := df.waitStatus(t, j.ID, atrium.JobStopped, 20*time.Second)
	resp = df.do(t, df.alice, "POST", df.path("/"+j.ID+"/start"), nil)
	var queued atrium.Job
	resp.decode(t, &queued)
	if resp.status != 200 || queued.Status != atrium.JobQueuing || queued.ReasonCode != atrium.ReasonStartedByUser || queued.FinishedAt != nil || len(queued.Pods) != 0 {
		t.Fatalf("start: %d %s", resp.status, resp.body)
	}
	again := df.waitStatus(t, j.ID, atrium.JobRunning, 20*time.Second)
	if again.Attempt != 2 || again.Pods[0].Endpoint == "" || again.StartedAt == nil || !again.StartedAt.After(*first.StartedAt) {
		t.Fatalf("restarted: attempt %d pods %+v startedAt %v (first %v)", again.Attempt, again.Pods, again.StartedAt, first.StartedAt)
	}
	// The session outlives a restart: it is the user's, not the process's.
	if resp = df.instanceGet(t, b, j.ID, ""); resp.status != 200 || !strings.Contains(string(resp.body), j.ID) {
		t.Fatalf("instance after restart: %d %s", resp.status, resp.body)
	}
	if resp = df.do(t, df.alice, "DELETE", df.path("/"+j.ID), nil); resp.status != http.StatusConflict {
		t.Fatalf("delete a running instance: %d %s", resp.status, resp.body)
	}
	list := df.do(t, df.alice, "GET", df.path("?status=Running"), nil)
	var l List[*atrium.Job]
	list.decode(t, &l)
	if list.status != 200 || len(l.Items) != 1 || l.Items[0].ID != j.ID {
		t.Fatalf("list: %d %s", list.status, list.body)
	}
}

// TestDSWProxyForwarding: path, query and method reach the instance; the
// browser's Atrium credentials do not; what the instance answers reaches
// the browser without cookies and under a sandbox; an upgrade becomes a
// two-way stream.
func TestDSWProxyForwarding(t *testing.T) {
	df := newDSWFixture(t)
	j := df.create(t, df.alice, map[string]any{"command": dispatch.ShellQuote(os.Args[0]) + " dsw-echo", "envs": map[string]string{"MODE": "echo"}})
	df.waitStatus(t, j.ID, atrium.JobRunning, 20*time.Second)
	b := df.open(t, df.alice, j.ID)
	session := sessionValue(t, b, df.dsw.URL, j.ID)

	prefix := "/i/" + j.ID
	var got echoed
	var resp *http.Response
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest("POST", df.dsw.URL+prefix+"/api/contents/a%2Fb?type=file&token=abc", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+df.alice)
		// The console's cookies reach this origin when it is another port
		// of the console's host: the browser sends them along.
		req.Header.Set("Cookie", SessionCookie+"=tok-id."+df.alice+"; _xsrf=keep; "+dswCookie+"="+session)
		var err error
		resp, err = http.DefaultClient.Do(req)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if resp.StatusCode != 200 {
			t.Fatalf("forwarded POST: %d %s", resp.StatusCode, body)
		}
		must(t, json.Unmarshal(body, &got))
		break
	}
	if got.Method != "POST" || got.Path != "/api/contents/a/b" || got.RawPath != "/api/contents/a%2Fb" || got.Query != "type=file&token=abc" {
		t.Errorf("forwarded %+v", got)
	}
	if got.Header.Get("Authorization") != "" || got.Header.Get("Cookie") != "_xsrf=keep" {
		t.Errorf("credentials forwarded: Authorization %q, Cookie %q", got.Header.Get("Authorization"), got.Header.Get("Cookie"))
	}
	if got.Header.Get("X-Forwarded-Prefix") != prefix || got.Header.Get("X-Forwarded-For") == "" {
		t.Errorf("forwarding headers: %v", got.Header)
	}
	// The answer: no cookie and no clearing of them; a sandbox without
	// allow-same-origin (an opaque origin), next to the instance's own policy.
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 || resp.Header.Get("Clear-Site-Data") != "" {
		t.Errorf("the instance's cookies reach the browser: Set-Cookie %q, Clear-Site-Data %q", sc, resp.Header.Get("Clear-Site-Data"))
	}
	csp := resp.Header.Values("Content-Security-Policy")
	if len(csp) != 2 || csp[0] != "img-src 'self'" || !strings.HasPrefix(csp[1], "sandbox allow-scripts allow-forms") ||
		strings.Contains(csp[1], "allow-same-origin") || !strings.Contains(csp[1], "frame-ancestors 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "SAMEORIGIN" {
		t.Errorf("X-Frame-Options %q", xfo)
	}
	// Proxied calls are not operations of their own.
	logs, _, err := df.store.FindOperationLogs(context.Background(), atrium.OperationLogFilter{WorkspaceID: &df.ws.ID, Action: dswOpenCode})
	must(t, err)
	if len(logs) != 1 || !strings.Contains(logs[0].Target, j.ID) {
		t.Errorf("the operation log has %d lines for %s, want the one handoff: %+v", len(logs), dswOpenCode, logs)
	}

	// An upgrade through the DSW origin with the session: raw HTTP/1.1,
	// then lines both ways.
	conn, err := net.Dial("tcp", df.dsw.Listener.Addr().String())
	must(t, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s/ws HTTP/1.1\r\nHost: %s\r\nCookie: %s=%s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		prefix, df.dsw.Listener.Addr(), dswCookie, session)
	br := bufio.NewReader(conn)
	up, err := http.ReadResponse(br, nil)
	must(t, err)
	if up.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(up.Body)
		t.Fatalf("upgrade: %d %s", up.StatusCode, body)
	}
	for _, msg := range []string{"hello", "again"} {
		fmt.Fprintf(conn, "%s\n", msg)
		line, err := br.ReadString('\n')
		must(t, err)
		if line != "echo:"+msg+"\n" {
			t.Fatalf("through the upgraded connection: %q", line)
		}
	}
	out := df.do(t, df.alice, "GET", df.path("/"+j.ID+"/logs"), nil)
	if !strings.Contains(string(out.body), "echo listening on 127.0.0.1:") {
		t.Errorf("logs: %s", out.body)
	}
	if port := strings.TrimPrefix(df.get(t, df.alice, j.ID).Pods[0].Endpoint, "127.0.0.1:"); !strings.Contains(string(out.body), "PORT "+port) {
		t.Errorf("PORT is not the endpoint's port %s: %s", port, out.body)
	}
}

// TestDSWIdleAutoStopAndEnds: idle instances stop with IdleTimeout; an
// instance whose process exits 0 is Stopped, non-zero Failed.
func TestDSWIdleAutoStopAndEnds(t *testing.T) {
	df := newDSWFixture(t)
	idle := df.create(t, df.alice, map[string]any{"idleTimeout": "2s"})
	ok := df.create(t, df.alice, map[string]any{"command": "echo port=$ATRIUM_DSW_PORT; sleep 0.3"})
	bad := df.create(t, df.alice, map[string]any{"command": "exit 3"})

	j := df.waitStatus(t, ok.ID, atrium.JobStopped, 20*time.Second)
	if j.ReasonCode != atrium.ReasonProcessEnded {
		t.Errorf("exit 0: %s %s", j.ReasonCode, j.ReasonMessage)
	}
	j = df.waitStatus(t, bad.ID, atrium.JobFailed, 20*time.Second)
	if j.ReasonCode != atrium.ReasonPodFailed || !strings.Contains(j.ReasonMessage, "code 3") {
		t.Errorf("exit 3: %s %s", j.ReasonCode, j.ReasonMessage)
	}

	df.waitStatus(t, idle.ID, atrium.JobRunning, 20*time.Second)
	start := time.Now()
	j = df.waitStatus(t, idle.ID, atrium.JobStopped, 20*time.Second)
	if j.ReasonCode != atrium.ReasonIdleTimeout || time.Since(start) > 15*time.Second {
		t.Fatalf("idle: %s %s after %s", j.ReasonCode, j.ReasonMessage, time.Since(start))
	}
	var sawStopping bool
	for _, h := range j.StatusHistory {
		sawStopping = sawStopping || (h.Status == atrium.JobStopping && h.ReasonCode == atrium.ReasonIdleTimeout)
	}
	if !sawStopping {
		t.Errorf("history: %+v", j.StatusHistory)
	}
}

// TestDSWInvalid: DSW specs are checked field by field, and the DLC route
// refuses jobType DSW.
func TestDSWInvalid(t *testing.T) {
	df := newDSWFixture(t)
	for _, c := range []struct {
		name  string
		spec  string
		field string
	}{
		{"no image", `{"resources": {"cpu": 1, "memory": "1Gi"}, "quotaId": "quota-dsw"}`, "image"},
		{"negative memory", `{"image": "x", "resources": {"cpu": 1, "memory": "-1Gi"}, "quotaId": "quota-dsw"}`, "resources.memory"},
		{"unknown field", `{"image": "x", "jobType": "PyTorchJob"}`, "jobType"},
		{"reserved env", `{"image": "x", "resources": {"cpu": 1, "memory": "1Gi"}, "envs": {"PORT": "1"}, "quotaId": "quota-dsw"}`, "envs.PORT"},
	} {
		resp := df.do(t, df.alice, "POST", df.path(""), c.spec)
		if resp.status != 400 || !strings.HasPrefix(resp.problem(t).Field, c.field) {
			t.Errorf("%s: %d %s, want 400 naming %s", c.name, resp.status, resp.body, c.field)
		}
	}
	resp := df.do(t, df.alice, "POST", "/api/v1/workspaces/"+df.ws.ID+"/jobs",
		"jobType: DSW\ncommand: 'true'\nquotaId: quota-dsw\njobSpecs: [{type: Instance, podCount: 1, image: x, resources: {cpu: 1, memory: 1Gi}}]\n")
	if resp.status != 400 || resp.problem(t).Field != "jobType" {
		t.Errorf("DLC job of type DSW: %d %s", resp.status, resp.body)
	}
	resp = df.do(t, df.alice, "POST", "/api/v1/workspaces/"+df.ws.ID+"/jobs",
		"jobType: CustomJob\nidleTimeout: 1h\ncommand: 'true'\nquotaId: quota-dsw\njobSpecs: [{type: Worker, podCount: 1, image: x, resources: {cpu: 1, memory: 1Gi}}]\n")
	if resp.status != 400 || resp.problem(t).Field != "idleTimeout" {
		t.Errorf("DLC job with idleTimeout: %d %s", resp.status, resp.body)
	}
}
