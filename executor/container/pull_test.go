package container

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"atrium/executor"
	"atrium/executor/container/registrytest"
)

func TestImageHost(t *testing.T) {
	for image, want := range map[string]string{
		"registry.example.com/team/img:1":   "registry.example.com",
		"Registry.Example.com:5000/img@sha": "registry.example.com:5000",
		"127.0.0.1:5000/atrium/busybox":     "127.0.0.1:5000",
		"localhost:5000/x":                  "localhost:5000",
		"localhost/atrium/busybox:latest":   "localhost",
		"busybox":                           "docker.io",
		"library/busybox:1.36":              "docker.io",
		"pytorch/pytorch:2.1-cuda":          "docker.io",
	} {
		if got := ImageHost(image); got != want {
			t.Errorf("ImageHost(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestAuthFileAndRedaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := writeAuthFile(path, "127.0.0.1:5000", "puller", "s3cret:pw"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	auth := base64.StdEncoding.EncodeToString([]byte("puller:s3cret:pw"))
	if string(b) != `{"auths":{"127.0.0.1:5000":{"auth":"`+auth+`"}}}` {
		t.Fatalf("auth file: %s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("auth file mode %v, want 0600", fi.Mode())
	}
	if err := writeAuthFile(path, "h", "u", "p"); err == nil {
		t.Fatal("an existing auth file was overwritten")
	}
	c := &Credential{Username: "puller", Password: "s3cret:pw"}
	if got := redact("denied for s3cret:pw ("+auth+")", c); got != "denied for [redacted] ([redacted])" {
		t.Fatalf("redact: %q", got)
	}
}

// recordingPodman is a podman wrapper that logs every argv, and for each
// --authfile the modes of the file and of its directory, then runs podman.
func recordingPodman(t *testing.T) (bin, argvLog string) {
	t.Helper()
	dir := t.TempDir()
	argvLog = filepath.Join(dir, "argv.log")
	real, err := exec.LookPath("podman")
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "podman")
	script := `#!/bin/sh
echo "argv: $*" >>` + argvLog + `
prev=
for a in "$@"; do
	if [ "$prev" = --authfile ]; then
		echo "authfile $(stat -c %a "$a") dir $(stat -c %a "$(dirname "$a")") $(dirname "$a")" >>` + argvLog + `
	fi
	prev=$a
done
exec ` + real + ` "$@"
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, argvLog
}

// TestPullFromPrivateRegistry pushes the busybox image to a registry with
// sign-in and runs a pod naming it there: with the registered credentials
// it is pulled (the password only in a 0600 auth file in a private
// directory, removed after the pull, never in argv) and runs; with a
// wrong password, none, or without insecure on a plain-HTTP registry,
// Start fails at once with an ImagePullError naming the image and the
// registry's answer, never the password.
func TestPullFromPrivateRegistry(t *testing.T) {
	setup(t) // skips without podman
	reg := registrytest.Start(t)
	image := reg.Push(t, busybox, "atrium/busybox:latest")
	bin, argvLog := recordingPodman(t)

	var mu sync.Mutex
	cred, registered, asked := Credential{}, false, []string{}
	e, err := New(Config{Dir: t.TempDir(), Podman: bin, Credentials: func(_ context.Context, host string) (Credential, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, host)
		return cred, registered, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	const wrong = "wrong-password-4711"
	for _, c := range []struct {
		name       string
		cred       Credential
		registered bool
		answer     string
	}{
		{"wrong password", Credential{Registry: "lab", Username: reg.User, Password: wrong, Insecure: true}, true, "unauthorized"},
		{"not registered", Credential{}, false, "HTTP response to HTTPS client"},
		{"not insecure", Credential{Registry: "lab", Username: reg.User, Password: reg.Password}, true, "HTTP response to HTTPS client"},
		{"no credentials", Credential{Registry: "lab", Insecure: true}, true, "unauthorized"},
	} {
		mu.Lock()
		cred, registered = c.cred, c.registered
		mu.Unlock()
		t0 := time.Now()
		_, err := e.Start(context.Background(), executor.Task{JobID: fmt.Sprintf("pull%d", os.Getpid()), Attempt: 1,
			Pods: []executor.PodTask{pod("worker-0", image, "true")}})
		var pe *executor.ImagePullError
		if !errors.As(err, &pe) || pe.Image != image || !strings.Contains(err.Error(), c.answer) {
			t.Fatalf("%s: Start = %v, want an ImagePullError naming %s and %q", c.name, err, image, c.answer)
		}
		if c.registered && !strings.Contains(err.Error(), `registry "lab" (`+reg.Host+`)`) {
			t.Errorf("%s: the error does not name the registry: %v", c.name, err)
		}
		if d := time.Since(t0); d > 30*time.Second {
			t.Errorf("%s: failing took %s", c.name, d)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), reg.Password) {
			t.Fatalf("%s: the error holds the password: %v", c.name, err)
		}
	}

	mu.Lock()
	cred, registered = Credential{Registry: "lab", Username: reg.User, Password: reg.Password, Insecure: true}, true
	mu.Unlock()
	h := start(t, e, executor.Task{Pods: []executor.PodTask{pod("worker-0", image, "grep ^ID= /etc/os-release")}})
	st := wait(t, e, h)
	if out := logs(t, e, h, "worker-0"); st[0].Phase != executor.PodSucceeded || !strings.Contains(out, "ID=atrium-busybox") {
		t.Fatalf("pod of the pulled image: %+v\n%s", st[0], out)
	}
	mu.Lock()
	if len(asked) == 0 || asked[len(asked)-1] != reg.Host {
		t.Errorf("credentials asked for %v, want %s", asked, reg.Host)
	}
	mu.Unlock()

	b, err := os.ReadFile(argvLog)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if strings.Contains(log, reg.Password) || strings.Contains(log, wrong) ||
		strings.Contains(log, base64.StdEncoding.EncodeToString([]byte(reg.User+":"+reg.Password))) {
		t.Fatalf("a password reached podman's argv:\n%s", log)
	}
	if !strings.Contains(log, "--tls-verify=false --authfile") || !strings.Contains(log, "authfile 600 dir 700 "+e.cfg.Dir+"/.pull-") {
		t.Fatalf("want pulls with a 0600 auth file in a 0700 directory under %s:\n%s", e.cfg.Dir, log)
	}
	if left, _ := filepath.Glob(filepath.Join(e.cfg.Dir, ".pull-*")); len(left) > 0 {
		t.Fatalf("auth files left after the pulls: %v", left)
	}
}

// TestPullTimeout: a registry that accepts connections and never answers
// fails the start after the pull timeout instead of blocking it.
func TestPullTimeout(t *testing.T) {
	setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	e, err := New(Config{Dir: t.TempDir(), PullTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	image := ln.Addr().String() + "/stuck/image:1"
	t0 := time.Now()
	_, err = e.Start(context.Background(), executor.Task{JobID: fmt.Sprintf("stuck%d", os.Getpid()), Attempt: 1,
		Pods: []executor.PodTask{pod("worker-0", image, "true")}})
	var pe *executor.ImagePullError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "did not finish within 2s") {
		t.Fatalf("Start = %v, want an ImagePullError after the 2s timeout", err)
	}
	if d := time.Since(t0); d > 20*time.Second {
		t.Fatalf("the stuck pull held Start for %s", d)
	}
}
