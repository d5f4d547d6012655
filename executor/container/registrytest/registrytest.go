// Package registrytest runs a private OCI image registry on loopback for
// tests: the CNCF distribution registry (Debian's docker-registry, which
// scripts/registry-up.sh installs) with htpasswd sign-in, a random
// password and its own storage, stopped when the test ends.
//
// Tests that need it skip unless ATRIUM_TEST_REGISTRY is set: to the
// registry binary's path, or to 1 for docker-registry on PATH.
package registrytest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Env enables the tests that run a registry.
const Env = "ATRIUM_TEST_REGISTRY"

// Registry is a running registry.
type Registry struct {
	// Host is 127.0.0.1:port, as image names spell it.
	Host     string
	User     string
	Password string
}

// Start starts a registry for t, or skips t when Env is not set.
func Start(t testing.TB) *Registry {
	t.Helper()
	bin := os.Getenv(Env)
	if bin == "" {
		t.Skipf("set %s=1 (after scripts/registry-up.sh) to run a private image registry", Env)
	}
	if bin == "1" {
		bin = "docker-registry"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s=%s: %v (scripts/registry-up.sh installs it)", Env, bin, err)
	}
	r := &Registry{User: "puller", Password: "pw-" + randHex(12)}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(r.User+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for try := 0; ; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port, closed for the registry to take
		if err != nil {
			t.Fatal(err)
		}
		r.Host = ln.Addr().String()
		ln.Close()
		config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  secret: %s
auth:
  htpasswd:
    realm: atrium-test
    path: %s
`, filepath.Join(dir, "data"), r.Host, randHex(16), filepath.Join(dir, "htpasswd"))
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		logPath := filepath.Join(dir, "registry.log")
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(path, "serve", cfgPath)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
		if waitReady(r.Host, exited) {
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
			return r
		}
		_ = cmd.Process.Kill()
		<-exited
		if try == 2 {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("the registry did not start on %s:\n%s", r.Host, b)
		}
	}
}

// waitReady waits until the registry asks for sign-in at /v2/.
func waitReady(host string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Push copies the local image to the registry as repo (team/name:tag) and
// returns its name there, host/repo. The local store does not keep that
// name, now or after the test, so using it means pulling it.
func (r *Registry) Push(t testing.TB, local, repo string) string {
	t.Helper()
	name := r.Host + "/" + repo
	out, err := exec.Command("podman", "push", "--quiet", "--tls-verify=false", "--creds", r.User+":"+r.Password, local, name).CombinedOutput()
	if err != nil {
		t.Fatalf("podman push %s %s: %v\n%s", local, name, err, strings.ReplaceAll(string(out), r.Password, "[redacted]"))
	}
	Forget(name)
	t.Cleanup(func() { Forget(name) })
	return name
}

// Forget removes name from the local image store (the image stays under
// its other names).
func Forget(name string) {
	_ = exec.Command("podman", "rmi", "--ignore", name).Run()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
