package main

import (
	"encoding/json"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"atrium/httpapi"
)

// TestServeProcessMode: after `atrium serve` starts, the data directory is
// 0700 and every file in it 0600 (a pod's log an older version left 0644
// in 0755 directories is fixed); the log warns that jobs are not isolated; an
// AlgoDeveloper's job that reads <data-dir>/admin.token fails, without
// the token in its log (it runs as the pod user, who cannot enter the
// data directory); GET /api/v1/server and every console page the
// developer sees say jobs are not isolated.
func TestServeProcessMode(t *testing.T) {
	dataDir := t.TempDir()
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dataDir, "pods", "dlc-old", "1", "worker-0")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "output.log"), []byte("an older version's log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, nil, "--data-dir", dataDir, "--local-capacity", "cpu=4,memory=8Gi")
	raw, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(raw))

	// The warning, at start.
	log := s.stderr.String()
	if !regexp.MustCompile(`level=WARN msg="jobs are not isolated: they run as host processes as uid \d+[^"]*can reach everything on this host's network, including Atrium's API`).MatchString(log) {
		t.Errorf("no warning that jobs are not isolated in the log:\n%s", log)
	}

	// An AlgoDeveloper with a password (for the console) and a token.
	st, ws := s.call(t, admin, "POST", "/api/v1/workspaces", map[string]any{"name": "procmode", "envTypes": []string{"prod"}})
	if st != 201 {
		t.Fatalf("workspace: %d %v", st, ws)
	}
	wsPath := "/api/v1/workspaces/" + ws["workspaceId"].(string)
	const password = "eve's long password"
	st, u := s.call(t, admin, "POST", "/api/v1/users", map[string]any{"name": "eve", "password": password})
	if st != 201 {
		t.Fatalf("user: %d %v", st, u)
	}
	if st, out := s.call(t, admin, "POST", wsPath+"/members", map[string]any{"members": []map[string]any{{"userId": u["userId"], "roles": []string{"AlgoDeveloper"}}}}); st != 201 {
		t.Fatalf("member: %d %v", st, out)
	}
	req, _ := http.NewRequest("POST", s.url+"/api/v1/auth/tokens", strings.NewReader(`{"name":"cli"}`))
	req.SetBasicAuth("eve", password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var minted httpapi.CreatedToken
	_ = json.NewDecoder(resp.Body).Decode(&minted)
	resp.Body.Close()
	if resp.StatusCode != 201 || minted.Token == "" {
		t.Fatalf("mint eve's token: %d", resp.StatusCode)
	}
	eve := minted.Token

	// The API says it too, to any signed-in user.
	if st, info := s.call(t, eve, "GET", "/api/v1/server", nil); st != 200 || info["runtime"] != "process" || info["isolated"] != false || info["notice"] != httpapi.NotIsolatedNotice {
		t.Errorf("GET /api/v1/server: %d %v", st, info)
	}

	t.Run("jobCannotReadAdminToken", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root: only a root server runs jobs as another user; as Atrium's own user a job can read the data directory")
		}
		spec := "jobType: CustomJob\ncommand: 'echo \"uid=$(id -u) work=$(stat -c %a:%u .) home=$HOME\"; ls \"" + dataDir + "\"; cat \"" + dataDir + "/admin.token\"'\n" +
			"jobSpecs: [{type: Worker, podCount: 1, image: busybox, resources: {cpu: 1, memory: 1Gi}}]\n"
		st, j := s.callRaw(t, eve, "POST", wsPath+"/jobs", spec)
		if st != 201 {
			t.Fatalf("submit: %d %v", st, j)
		}
		jobPath := wsPath + "/jobs/" + j["jobId"].(string)
		j = s.waitJob(t, eve, jobPath, "ended", func(j map[string]any) bool { return j["status"] == "Succeeded" || j["status"] == "Failed" })
		st, logs := s.callRaw(t, eve, "GET", jobPath+"/logs", "")
		text, _ := logs["raw"].(string)
		if st != 200 || j["status"] != "Failed" || strings.Contains(text, admin) || strings.Contains(text, "admin.token\n") {
			t.Fatalf("the job %s (%v); log (%d):\n%s", j["status"], j["reasonMessage"], st, text)
		}
		// It ran as the pod user, in a working directory (its HOME) of its
		// own under the pod directory.
		home := regexp.MustCompile(`uid=65534 work=700:65534 home=(\S+)\n`).FindStringSubmatch(text)
		if home == nil || !strings.HasPrefix(home[1], filepath.Join(podDirOf(s), "jobs", j["jobId"].(string))+"/") || !strings.Contains(text, "Permission denied") {
			t.Errorf("the job did not run as the pod user 65534 in its own directory, or was not denied:\n%s", text)
		}
	})

	t.Run("notebookPageRunsAsPodUser", func(t *testing.T) {
		// A DSW instance without a command runs this binary's built-in
		// page as the pod user; the test binary lives in a 0700 directory,
		// like one `go run` builds, which the pod user cannot enter.
		st, j := s.callRaw(t, eve, "POST", wsPath+"/dsw-instances", "displayName: nb\nimage: python:3.12\nresources: {cpu: 1, memory: 1Gi}\n")
		if st != 201 {
			t.Fatalf("create: %d %v", st, j)
		}
		path := wsPath + "/dsw-instances/" + j["jobId"].(string)
		j = s.waitJob(t, eve, path, "running or ended", func(j map[string]any) bool {
			return j["status"] == "Running" || j["status"] == "Failed" || j["status"] == "Stopped"
		})
		if j["status"] != "Running" {
			_, logs := s.callRaw(t, eve, "GET", path+"/logs", "")
			t.Fatalf("instance %s (%v):\n%v", j["status"], j["reasonMessage"], logs["raw"])
		}
		// Through the DSW origin, entered with a one-time link.
		st, h := s.call(t, eve, "POST", path+"/handoff", nil)
		link, _ := h["url"].(string)
		if st >= 300 || link == "" {
			t.Fatalf("handoff: %d %v", st, h)
		}
		jar, _ := cookiejar.New(nil)
		nb := &http.Client{Jar: jar}
		resp, err := nb.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		base := strings.TrimSuffix(resp.Request.URL.String(), "/") // the instance's root, after the redirect
		var st2 int
		var body map[string]any
		for range 100 {
			if resp, err := nb.Get(base + "/healthz"); err == nil {
				st2 = resp.StatusCode
				body = nil
				_ = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if st2 == 200 {
					break
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if st2 != 200 || body["instanceId"] != j["jobId"] {
			t.Fatalf("the page through the DSW origin: %d %v", st2, body)
		}
		if st, out := s.call(t, eve, "POST", path+"/stop", nil); st >= 300 {
			t.Errorf("stop: %d %v", st, out)
		}
	})

	// Every page of the console shows the banner to the signed-in developer.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	get := func(path string) string {
		t.Helper()
		resp, err := browser.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	nonce := regexp.MustCompile(`name="_csrf" value="([^"]*)"`).FindStringSubmatch(get("/login"))
	if nonce == nil {
		t.Fatal("no nonce on the sign-in page")
	}
	resp, err = browser.PostForm(s.url+"/login", url.Values{"_csrf": {nonce[1]}, "name": {"eve"}, "password": {password}, "next": {"/workspaces"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	banner := `id="isolation-notice">` + template.HTMLEscapeString(httpapi.NotIsolatedNotice) + `</p>`
	for _, path := range []string{"/workspaces", "/w/" + ws["workspaceId"].(string) + "/jobs"} {
		if page := get(path); !strings.Contains(page, banner) {
			t.Errorf("%s has no banner:\n%.800s", path, page)
		}
	}

	// The data directory is private, with everything serve wrote (and what
	// was there before) in it.
	fi, err := os.Stat(dataDir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory %v %v, want 0700", fi.Mode(), err)
	}
	files := 0
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		switch {
		case err != nil:
			return err
		case d.IsDir() && fi.Mode().Perm() != 0o700:
			t.Errorf("directory %s is %04o, want 0700", path, fi.Mode().Perm())
		case fi.Mode().IsRegular():
			files++
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("file %s is %04o, want 0600", path, fi.Mode().Perm())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 6 { // the database and its -wal and -shm, admin.token, the secret key, the old log, the jobs' records
		t.Errorf("only %d files in the data directory", files)
	}
	if fi, err := os.Stat(podDirOf(s)); err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("pod directory %v %v, want 0711", fi.Mode(), err)
	}
}

// TestServeRefusesPodFlags: a root --pod-user (flag or environment), a
// --pod-dir inside --data-dir, a directory everyone may write (such as
// /tmp, whose mode serve would otherwise change) and (as root) a pod
// directory the pod user cannot reach are refused at start with an error
// naming the flag.
func TestServeRefusesPodFlags(t *testing.T) {
	dataDir := t.TempDir()
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o1777); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"rootUser", nil, []string{"--pod-user", "0:0"}, "--pod-user: \"0:0\": pods never run as root"},
		{"rootUserByEnv", []string{"ATRIUM_POD_USER=0:65534"}, nil, "--pod-user: \"0:65534\": pods never run as root"},
		{"rootGroup", nil, []string{"--pod-user", "1000:0"}, "--pod-user"},
		{"notNumbers", nil, []string{"--pod-user", "nobody"}, "--pod-user: \"nobody\" is not uid:gid"},
		{"podDirInDataDir", nil, []string{"--pod-dir", filepath.Join(dataDir, "pods")}, "--pod-dir " + filepath.Join(dataDir, "pods") + ": must be outside --data-dir"},
		{"sharedPodDir", nil, []string{"--pod-dir", shared}, "--pod-dir: " + shared + " is writable by everyone (mode 0777)"},
	}
	if os.Geteuid() == 0 {
		// The default <data-dir>-pods is below t.TempDir()'s parent, 0700.
		cases = append(cases, struct {
			name string
			env  []string
			args []string
			want string
		}{"unreachablePodDir", nil, nil, "--pod-dir: uid 65534 cannot reach " + dataDir + "-pods: " + filepath.Dir(dataDir) + " is mode 0700"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(atriumBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, tc.args...)...)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "Error: "+tc.want) {
				t.Fatalf("serve: %v, want an error with %q:\n%s", err, tc.want, out)
			}
		})
	}
}
