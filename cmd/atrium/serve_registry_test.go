package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atrium/executor/container/registrytest"
)

// TestPrivateRegistryJobs runs jobs whose image is only in a private
// registry with sign-in, on a server with --runtime podman. Registered
// with a wrong password, the job fails ImagePullFailed within seconds,
// naming the image and the registry's answer; with the right one it runs
// and succeeds. The registry's answers never show the password, and
// neither password appears in the jobs, their events and logs, the
// operation log or the server's log.
func TestPrivateRegistryJobs(t *testing.T) {
	if os.Getenv("ATRIUM_TEST_PODMAN") == "" {
		t.Skip("set ATRIUM_TEST_PODMAN=1 (after scripts/images-up.sh) to run jobs in containers")
	}
	reg := registrytest.Start(t)
	image := reg.Push(t, busyboxImage, "atrium/busybox:latest")
	dataDir := t.TempDir()
	s, admin, dev, wsPath := containerServer(t, dataDir)
	const wrong = "wrong-registry-password-0815"
	seen := []any{}
	call := func(token, method, path string, body any, want int) map[string]any {
		t.Helper()
		st, out := s.call(t, token, method, path, body)
		if st != want {
			t.Fatalf("%s %s: %d %v, want %d", method, path, st, out, want)
		}
		seen = append(seen, out)
		return out
	}

	r := call(admin, "POST", "/api/v1/registries", map[string]any{"name": "lab", "host": reg.Host, "username": reg.User,
		"password": wrong, "insecure": true}, 201)
	regPath := "/api/v1/registries/" + r["registryId"].(string)
	spec := `
jobType: CustomJob
command: grep ^ID= /etc/os-release
jobSpecs: [{type: Worker, podCount: 1, image: ` + image + `, resources: {cpu: 1, memory: 128Mi}}]
`
	t0 := time.Now()
	failed := s.submit(t, dev, wsPath, spec)
	j := s.waitJob(t, dev, failed, "ended", isDone)
	msg, _ := j["reasonMessage"].(string)
	if j["status"] != "Failed" || j["reasonCode"] != "ImagePullFailed" || !strings.Contains(msg, image) ||
		!strings.Contains(msg, "unauthorized") || !strings.Contains(msg, `registry "lab"`) {
		t.Fatalf("with a wrong password: %v %v %q", j["status"], j["reasonCode"], msg)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("the failing pull took %s", d)
	}
	t.Logf("with a wrong password, after %s: %s", time.Since(t0).Round(time.Millisecond), msg)
	seen = append(seen, j, call(dev, "GET", failed+"/events", nil, 200))

	call(admin, "PUT", regPath, map[string]any{"password": reg.Password}, 200)
	ok := s.submit(t, dev, wsPath, spec)
	j = s.waitJob(t, dev, ok, "ended", isDone)
	out := s.jobLogs(t, dev, ok)
	if j["status"] != "Succeeded" || !strings.Contains(out, "ID=atrium-busybox") {
		t.Fatalf("with the right password: %v %v\n%s\nserver log:\n%s", j["status"], j["reasonMessage"], out, s.stderr)
	}
	seen = append(seen, j, out, call(dev, "GET", ok+"/events", nil, 200))

	// The registry reads back without its password, for everyone.
	if got := call(admin, "GET", regPath, nil, 200); got["hasPassword"] != true || got["username"] != reg.User {
		t.Fatalf("registry: %v", got)
	}
	if l := call(dev, "GET", "/api/v1/registries", nil, 200); l["totalCount"] != float64(1) {
		t.Fatalf("developer's list: %v", l)
	}
	seen = append(seen, call(admin, "GET", "/api/v1/operation-logs?pageSize=100", nil, 200))
	b, _ := json.Marshal(seen)
	all := string(b) + s.stderr.String()
	for _, pw := range []string{wrong, reg.Password} {
		if strings.Contains(all, pw) {
			t.Fatalf("a registry password appears in an answer or the server log")
		}
	}
	if !strings.Contains(s.stderr.String(), "pulled image") {
		t.Errorf("the server log does not tell of the pull:\n%s", s.stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(dataDir, "containers", ".pull-*")); len(left) > 0 {
		t.Errorf("auth files left behind: %v", left)
	}
}
