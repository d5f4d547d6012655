package dispatch_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"atrium"
)

// podPID reads the supervisor pid of the job's first pod from the local
// executor's files (proc holds "pid:starttime").
func podPID(t *testing.T, e *env, j *atrium.Job) int {
	t.Helper()
	path := filepath.Join(e.dir, "pods", j.ID, strconv.Itoa(j.Attempt), j.Pods[0].Name, "proc")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			pid, _ := strconv.Atoi(strings.SplitN(strings.TrimSpace(string(b)), ":", 2)[0])
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no proc file %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (and is not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] != 'Z'
}
