package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"atrium"
	"atrium/resource"
	"atrium/sqlstore"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// atriumBinary builds cmd/atrium once per test run.
func atriumBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "atrium-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "atrium")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// server is one running `atrium serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs the binary with args and waits until /readyz answers.
func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	// The DSW origin on a free port too, so servers of parallel tests never meet.
	cmd := exec.Command(atriumBinary(t), append([]string{"serve", "--addr", addr, "--dsw-addr", "127.0.0.1:0"}, withPodDir(t, env, args)...)...)
	cmd.Env = append(os.Environ(), env...)
	s := &server{cmd: cmd, url: "http://" + addr, stderr: &lockedBuffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(s.url + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return s
			}
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server did not become ready; log:\n%s", s.stderr)
	return nil
}

var (
	podDirsMu sync.Mutex
	podDirs   = map[string]string{} // --data-dir → --pod-dir
)

// withPodDir adds a --pod-dir to serve's args unless they or the
// environment give one. The default, <data-dir>-pods, is below
// t.TempDir()'s parent, 0700, which the pod user cannot pass: a server
// running as root refuses it. Restarts and replicas on one data directory
// get the same pod directory.
func withPodDir(t *testing.T, env, args []string) []string {
	t.Helper()
	if slices.Contains(args, "--pod-dir") || os.Getenv("ATRIUM_POD_DIR") != "" ||
		slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "ATRIUM_POD_DIR=") }) {
		return args
	}
	dataDir := ""
	if i := slices.Index(args, "--data-dir"); i >= 0 && i+1 < len(args) {
		dataDir = args[i+1]
	}
	return append(slices.Clone(args), "--pod-dir", podDirFor(t, dataDir))
}

// podDirFor is the pod directory of tests' servers on dataDir.
func podDirFor(t *testing.T, dataDir string) string {
	t.Helper()
	podDirsMu.Lock()
	defer podDirsMu.Unlock()
	dir, ok := podDirs[dataDir]
	if !ok {
		var err error
		if dir, err = os.MkdirTemp("", "atrium-pods-"); err != nil {
			t.Fatal(err)
		}
		podDirs[dataDir] = dir
		t.Cleanup(func() {
			podDirsMu.Lock()
			delete(podDirs, dataDir)
			podDirsMu.Unlock()
			os.RemoveAll(dir)
		})
	}
	return dir
}

// podDirOf is the --pod-dir the server was started with.
func podDirOf(s *server) string {
	i := slices.Index(s.cmd.Args, "--pod-dir")
	if i < 0 || i+1 >= len(s.cmd.Args) {
		return ""
	}
	return s.cmd.Args[i+1]
}

func (s *server) kill9(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
}

func (s *server) call(t *testing.T, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	return send(t, req)
}

// send sends req and decodes the JSON answer.
func send(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestServeSurvivesKill is acceptance 1: serve starts, writes admin.token,
// a workspace is created with it, and after kill -9 and a restart
// everything is still there, on SQLite and (when configured) PostgreSQL.
func TestServeSurvivesKill(t *testing.T) {
	engines := map[string]func(t *testing.T) []string{
		"sqlite": func(t *testing.T) []string { return nil },
	}
	if base := os.Getenv("ATRIUM_TEST_POSTGRES"); base != "" {
		engines["postgres"] = func(t *testing.T) []string { return []string{"--database-url", freshPostgresDB(t, base)} }
	}
	for name, extra := range engines {
		t.Run(name, func(t *testing.T) {
			dataDir := t.TempDir()
			args := append([]string{"--data-dir", dataDir}, extra(t)...)
			s := startServer(t, nil, args...)

			tokenFile := filepath.Join(dataDir, "admin.token")
			fi, err := os.Stat(tokenFile)
			if err != nil {
				t.Fatalf("admin.token: %v\nlog:\n%s", err, s.stderr)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("admin.token mode %v, want 0600", fi.Mode().Perm())
			}
			raw, _ := os.ReadFile(tokenFile)
			token := strings.TrimSpace(string(raw))
			if !strings.Contains(s.stderr.String(), tokenFile) {
				t.Errorf("log does not name the token file:\n%s", s.stderr)
			}

			status, ws := s.call(t, token, "POST", "/api/v1/workspaces", map[string]any{"name": "team_" + name, "envTypes": []string{"prod"}})
			if status != 201 {
				t.Fatalf("create workspace: %d %v", status, ws)
			}
			status, u := s.call(t, token, "POST", "/api/v1/users", map[string]any{"name": "bob", "password": "bob's long password"})
			if status != 201 {
				t.Fatalf("create user: %d %v", status, u)
			}
			wsPath := "/api/v1/workspaces/" + ws["workspaceId"].(string)
			if status, out := s.call(t, token, "POST", wsPath+"/members", map[string]any{"members": []map[string]any{{"userId": u["userId"], "roles": []string{"AlgoDeveloper"}}}}); status != 201 {
				t.Fatalf("add member: %d %v", status, out)
			}
			s.kill9(t)

			s2 := startServer(t, nil, args...)
			raw2, _ := os.ReadFile(tokenFile)
			if string(raw2) != string(raw) {
				t.Fatal("admin.token was rewritten on restart")
			}
			if status, got := s2.call(t, token, "GET", wsPath, nil); status != 200 || got["name"] != "team_"+name {
				t.Fatalf("after kill -9: %d %v", status, got)
			}
			if status, got := s2.call(t, token, "GET", wsPath+"/members?role=AlgoDeveloper", nil); status != 200 || got["totalCount"] != float64(1) {
				t.Fatalf("members after kill -9: %d %v", status, got)
			}
			if status, got := s2.call(t, token, "GET", "/api/v1/users", nil); status != 200 || got["totalCount"] != float64(2) {
				t.Fatalf("users after kill -9 (want admin and bob only): %d %v", status, got)
			}
			for _, srv := range []*server{s, s2} {
				if strings.Contains(srv.stderr.String(), token) {
					t.Fatal("the admin token appears in the server log")
				}
			}
		})
	}
}

// freshPostgresDB creates an empty database next to the one in base and
// returns its URL; it is dropped when the test ends.
func freshPostgresDB(t *testing.T, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := strings.ReplaceAll(atrium.NewID("atrium_e2e_"), "-", "_")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func TestBootstrapOnlyOnce(t *testing.T) {
	dataDir := t.TempDir()
	s := startServer(t, nil, "--data-dir", dataDir)
	raw, _ := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	// Stop gracefully this time, and start again twice.
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, s.stderr)
	}
	for i := 0; i < 2; i++ {
		s = startServer(t, nil, "--data-dir", dataDir)
		if strings.Contains(s.stderr.String(), "created user admin") {
			t.Fatal("admin created again on restart")
		}
		s.kill9(t)
	}
	raw2, _ := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if string(raw) != string(raw2) {
		t.Fatal("token file changed")
	}
}

func TestServeEnvAndBadFlags(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	s := startServerAt(t, addr, []string{"ATRIUM_DATA_DIR=" + dataDir, "ATRIUM_ADDR=" + addr, "ATRIUM_POD_DIR=" + podDirFor(t, dataDir)})
	if _, err := os.Stat(filepath.Join(dataDir, "atrium.db")); err != nil {
		t.Fatalf("ATRIUM_DATA_DIR ignored: %v", err)
	}
	s.kill9(t)
	dataDir = t.TempDir()
	out, err := exec.Command(atriumBinary(t), "serve", "--data-dir", dataDir, "--pod-dir", podDirFor(t, dataDir), "--database-url", "mysql://x").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--database-url") {
		t.Fatalf("bad --database-url accepted: %v %s", err, out)
	}
}

// startServerAt runs serve with only env configuration, listening on addr.
func startServerAt(t *testing.T, addr string, env []string) *server {
	t.Helper()
	cmd := exec.Command(atriumBinary(t), "serve")
	cmd.Env = append(append(os.Environ(), "ATRIUM_DSW_ADDR=127.0.0.1:0"), env...)
	s := &server{cmd: cmd, url: "http://" + addr, stderr: &lockedBuffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 600; i++ {
		if r, err := http.Get(s.url + "/readyz"); err == nil {
			r.Body.Close()
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not ready:\n%s", s.stderr)
	return nil
}

// TestLocalGroupAndPublicPool: the first start registers this host as
// rg-local with the --local-capacity override and creates quota-public over
// it; later starts follow the capacity; a deleted pool stays deleted.
func TestLocalGroupAndPublicPool(t *testing.T) {
	dataDir := t.TempDir()
	open := func() *sqlstore.DB {
		db, err := sqlstore.Open(context.Background(), filepath.Join(dataDir, "atrium.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	check := func(gpus int64) {
		t.Helper()
		db := open()
		defer db.Close()
		ctx := context.Background()
		nodes, err := db.FindNodes(ctx, atrium.LocalResourceGroupID)
		if err != nil || len(nodes) != 1 {
			t.Fatalf("local nodes %v %v", nodes, err)
		}
		want := resource.Vector{MilliCPU: 8000, Memory: 32 << 30, GPU: gpus}
		if n := nodes[0]; n.Capacity != want || n.GPUType != "T4" || n.State != atrium.NodeReady {
			t.Fatalf("local node %+v", n)
		}
		q, err := db.FindQuotaByID(ctx, atrium.PublicQuotaID)
		if err != nil {
			t.Fatal(err)
		}
		if !q.OfferedToAll || q.Max["T4"] != want || len(q.Min) != 0 {
			t.Fatalf("public pool %+v", q)
		}
	}
	s := startServer(t, nil, "--data-dir", dataDir, "--local-capacity", "cpu=8,memory=32Gi,gpu=4,gpuType=T4")
	s.kill9(t)
	check(4)
	s = startServer(t, []string{"ATRIUM_LOCAL_CAPACITY=cpu=8,memory=32Gi,gpu=8,gpuType=T4"}, "--data-dir", dataDir)
	s.kill9(t)
	check(8)

	db := open()
	if err := db.DeleteQuota(context.Background(), atrium.PublicQuotaID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = startServer(t, nil, "--data-dir", dataDir, "--local-capacity", "cpu=8,memory=32Gi,gpu=8,gpuType=T4")
	s.kill9(t)
	db = open()
	defer db.Close()
	if _, err := db.FindQuotaByID(context.Background(), atrium.PublicQuotaID); atrium.ErrorCode(err) != atrium.ENOTFOUND {
		t.Fatalf("deleted public pool came back: %v", err)
	}
	out, err := exec.Command(atriumBinary(t), "serve", "--data-dir", t.TempDir(), "--local-capacity", "gpu=2").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "gpuType is required") {
		t.Fatalf("bad --local-capacity accepted: %v %s", err, out)
	}
}
