package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"

	"atrium/executor/internal/statefile"
)

// supervisorEnv marks a re-executed binary as a pod supervisor. Its value
// is the pod directory.
const supervisorEnv = "ATRIUM_LOCAL_SUPERVISOR"

// A binary that links this package turns into a pod supervisor when started
// with supervisorEnv set: the Atrium server and test binaries alike, with no
// help from their main. It runs before main so nothing else starts.
func init() {
	if dir := os.Getenv(supervisorEnv); dir != "" {
		os.Exit(supervise(dir))
	}
}

// supervise runs one pod's command and records how it ended. It is the
// leader of the pod's session and process group and outlives the server, so
// the exit code is written even when nobody waits for it.
func supervise(dir string) int {
	// Stop signals the whole group; the supervisor stays to record the
	// command's exit. Caught (not ignored) signals reset to default in the
	// command, so it still gets them.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

	// The server records us too, but it may die between our start and
	// that write; then this copy is what lets a restarted server find us.
	if st, err := readStat(os.Getpid()); err == nil {
		ref := procRef{PID: os.Getpid(), Start: st.Start}
		if err := statefile.Write(filepath.Join(dir, procFile), []byte(ref.String()+"\n")); err != nil {
			fmt.Fprintf(os.Stderr, "atrium: recording the pod's process: %v\n", err)
		}
	}

	code := runPod(dir)
	if err := statefile.Write(filepath.Join(dir, exitFile), fmt.Appendf(nil, "%d\n", code)); err != nil {
		fmt.Fprintf(os.Stderr, "atrium: recording exit code %d: %v\n", code, err)
	}
	// The pod ends with its command, as a container ends with its first
	// process: whatever it left running goes too (this process included,
	// hence the exit file first). Only when we really lead the group.
	if syscall.Getpgrp() == os.Getpid() {
		_ = syscall.Kill(0, syscall.SIGKILL)
	}
	return code
}

// runPod runs the pod's command and returns its exit code, 128+N when
// killed by signal N (as shells report it), 127 when it could not start.
func runPod(dir string) int {
	spec, err := readPodSpec(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "atrium: %v\n", err)
		return 127
	}
	cmd := exec.Command("/bin/sh", "-c", spec.Command)
	cmd.Dir = spec.work(dir)
	cmd.Env = spec.Environ
	// Stdout and stderr of the supervisor are the pod's output.log, open
	// already: the command writes it whoever it runs as.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if u := spec.User; u != nil {
		// Setgroups to none, then setgid and setuid, in the child before
		// exec: the command keeps no capability and no group of ours.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}}
	}
	// no_new_privs is per thread and inherited by the child: set it on the
	// thread that starts the command.
	runtime.LockOSThread()
	if err := noNewPrivs(); err != nil {
		fmt.Fprintf(os.Stderr, "atrium: %v\n", err)
		return 127
	}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "atrium: starting the command: %v\n", err)
		return 127
	}
}
