package main

import (
	"regexp"
	"strings"
	"testing"

	"atrium"
)

// TestDSWCLI: create --wait, list, get, open, logs, stop, start, delete
// against a server that runs instances on the local executor.
func TestDSWCLI(t *testing.T) {
	e := newJobEnv(t)
	out := e.ok("dsw", "create", "--image", "python:3.12", "--cpu", "1", "--memory", "1Gi", "--name", "nb",
		"--command", "echo hello-dsw port=$ATRIUM_DSW_PORT; sleep 60", "--idle-timeout", "1h", "--wait")
	contains(t, out, "is Running: "+e.url+"/api/v1/workspaces/", "/proxy/")
	id := regexp.MustCompile(`dsw-[a-z0-9]+`).FindString(out)
	if id == "" {
		t.Fatalf("create printed %q", out)
	}
	contains(t, e.ok("dsw", "list"), id, "nb", "Running", "python:3.12", "1h0m0s")
	contains(t, e.ok("dsw", "get", id), "Idle timeout", "1h0m0s", "Proxy", "/dsw-instances/"+id+"/proxy/")
	contains(t, e.ok("dsw", "open", id), e.url+"/api/v1/workspaces/", "/dsw-instances/"+id+"/proxy/")
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
