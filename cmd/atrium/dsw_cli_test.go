package main

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"

	"atrium"
	"atrium/httpapi"
)

// TestDSWCLI: create --wait, list, get, open, logs, stop, start, delete
// against a server that runs instances on the local executor.
func TestDSWCLI(t *testing.T) {
	e := newJobEnv(t)
	out := e.ok("dsw", "create", "--image", "python:3.12", "--cpu", "1", "--memory", "1Gi", "--name", "nb",
		"--command", "echo hello-dsw port=$ATRIUM_DSW_PORT; sleep 60", "--idle-timeout", "1h", "--wait")
	id := regexp.MustCompile(`dsw-[a-z0-9]+`).FindString(out)
	if id == "" {
		t.Fatalf("create printed %q", out)
	}
	contains(t, out, "is Running; 'atrium dsw open "+id+"' prints a one-time link")
	contains(t, e.ok("dsw", "list"), id, "nb", "Running", "python:3.12", "1h0m0s")
	contains(t, e.ok("dsw", "get", id), "Idle timeout", "1h0m0s", "Open", "atrium dsw open "+id)

	// open prints a link to the DSW origin, not to the API; it works once.
	link := strings.TrimSpace(e.ok("dsw", "open", id))
	if !strings.HasPrefix(link, "http://") || strings.HasPrefix(link, e.url) || !strings.Contains(link, "/handoff?token=") {
		t.Fatalf("dsw open printed %q", link)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	for i, want := range []int{http.StatusServiceUnavailable, http.StatusUnauthorized} {
		// Signed in, the browser reaches the instance, whose command
		// listens on no port (503); the link's second use is refused.
		resp, err := browser.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("use %d of the link: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	var h httpapi.DSWHandoffView
	if err := json.Unmarshal([]byte(e.ok("dsw", "open", id, "-o", "json")), &h); err != nil || h.InstanceID != id || h.URL == link || h.ExpiresAt.IsZero() {
		t.Errorf("dsw open -o json: %+v %v", h, err)
	}
	e.until(id, "its output", func(*atrium.Job) bool { return strings.Contains(e.ok("dsw", "logs", id), "hello-dsw port=") })

	contains(t, e.ok("dsw", "stop", id), id)
	e.until(id, "Stopped", func(j *atrium.Job) bool { return j.Status == atrium.JobStopped })
	contains(t, e.fails("", "dsw", "open", id), "Stopped", "atrium dsw start")
	contains(t, e.ok("dsw", "start", id), id, "Queuing")
	e.until(id, "Running again", func(j *atrium.Job) bool { return j.Status == atrium.JobRunning && j.Attempt == 2 })
	contains(t, e.fails("", "dsw", "delete", id), "stop it before deleting")
	e.ok("dsw", "stop", id)
	e.until(id, "Stopped", func(j *atrium.Job) bool { return j.Status == atrium.JobStopped })
	e.ok("dsw", "delete", id)
	contains(t, e.fails("", "dsw", "get", id), "not found")

	contains(t, e.fails("", "dsw", "create", "--image", "x"), "--cpu")
	contains(t, e.fails("", "dsw", "create", "-f", "-", "--cpu", "1"), "-f excludes")
}
