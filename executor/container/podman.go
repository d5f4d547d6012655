package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// podman runs the podman CLI with the global flags this host needs.
type podman struct {
	bin    string
	global []string
	init   string // a tiny init (catatonit) for --init, "" when none
}

// Runtime describes the container runtime found on this host.
type Runtime struct {
	Podman   string // path of the podman binary
	Version  string
	Rootless bool
	// OCIRuntime and CgroupManager are what podman will use here.
	OCIRuntime    string
	CgroupManager string
}

func (r Runtime) String() string {
	mode := "rootful"
	if r.Rootless {
		mode = "rootless"
	}
	return fmt.Sprintf("podman %s (%s, %s, cgroups by %s)", r.Version, mode, r.OCIRuntime, r.CgroupManager)
}

// Detect finds podman and checks that it answers; the error says why
// containers cannot be used, for the server's log.
func Detect(ctx context.Context, bin string) (Runtime, error) {
	p, err := newPodman(bin)
	if err != nil {
		return Runtime{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := p.run(ctx, "info", "--format", "json")
	if err != nil {
		return Runtime{}, fmt.Errorf("container: podman does not work here: %w", err)
	}
	var info struct {
		Host struct {
			OCIRuntime    struct{ Name string } `json:"ociRuntime"`
			CgroupManager string                `json:"cgroupManager"`
			Security      struct{ Rootless bool }
		}
		Version struct{ Version string }
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return Runtime{}, fmt.Errorf("container: podman info: %w", err)
	}
	return Runtime{Podman: p.bin, Version: info.Version.Version, Rootless: info.Host.Security.Rootless,
		OCIRuntime: info.Host.OCIRuntime.Name, CgroupManager: info.Host.CgroupManager}, nil
}

func newPodman(bin string) (*podman, error) {
	if bin == "" {
		bin = "podman"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("container: no podman: %w", err)
	}
	p := &podman{bin: path, global: hostFlags()}
	for _, c := range []string{"/usr/libexec/podman/catatonit", "/usr/libexec/catatonit/catatonit", "/usr/bin/catatonit"} {
		if fi, err := os.Stat(c); err == nil && fi.Mode()&0o111 != 0 {
			p.init = c
			break
		}
	}
	return p, nil
}

// hostFlags picks the OCI runtime and cgroup manager that work on this
// host: crun refuses hybrid cgroups (v1 controllers plus an empty v2
// hierarchy), runc does not; without systemd as init only cgroupfs works.
func hostFlags() []string {
	var flags []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		if _, err := exec.LookPath("runc"); err == nil {
			flags = append(flags, "--runtime", "runc")
		}
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		flags = append(flags, "--cgroup-manager", "cgroupfs")
	}
	return flags
}

// run runs podman with args and returns its stdout; the error carries
// stderr.
func (p *podman) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, p.bin, append(slices.Clone(p.global), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The container's processes are conmon's, not ours: killing podman on
	// ctx's end leaves them running, as it should.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return stdout.Bytes(), &podmanError{args: args, msg: lastLine(msg), err: err}
	}
	return stdout.Bytes(), nil
}

type podmanError struct {
	args []string
	msg  string
	err  error
}

func (e *podmanError) Error() string {
	return fmt.Sprintf("podman %s: %s", e.args[0], e.msg)
}

func (e *podmanError) Unwrap() error { return e.err }

// noSuchObject reports a podman error about a container, network or
// image that does not exist.
func noSuchObject(err error) bool {
	var pe *podmanError
	if !errors.As(err, &pe) {
		return false
	}
	m := strings.ToLower(pe.msg)
	return strings.Contains(m, "no such") || strings.Contains(m, "not found") || strings.Contains(m, "not known") || strings.Contains(m, "does not exist")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	// podman ends with "Error: …"; keep that, without the prefix.
	l := lines[len(lines)-1]
	return strings.TrimPrefix(l, "Error: ")
}

// inspected is what Atrium reads of `podman container inspect`.
type inspected struct {
	ID    string `json:"Id"`
	Name  string
	State struct {
		Status     string
		ExitCode   int
		OOMKilled  bool
		Error      string
		StartedAt  time.Time
		FinishedAt time.Time
	}
	NetworkSettings struct {
		Networks map[string]struct {
			IPAddress string
		}
	}
}

// inspect returns the containers of names that exist, by name.
func (p *podman) inspect(ctx context.Context, names []string) (map[string]inspected, error) {
	// podman prints the containers it found even when others are missing.
	out, err := p.run(ctx, append([]string{"container", "inspect"}, names...)...)
	if err != nil && !noSuchObject(err) {
		return nil, err
	}
	var list []inspected
	if len(bytes.TrimSpace(out)) > 0 {
		if jerr := json.Unmarshal(out, &list); jerr != nil {
			return nil, fmt.Errorf("container: podman inspect: %w", jerr)
		}
	}
	m := make(map[string]inspected, len(list))
	for _, c := range list {
		m[strings.TrimPrefix(c.Name, "/")] = c
	}
	return m, nil
}

// imageUser returns the image's configured user ("" when it runs as
// root); a missing image is a noSuchObject error.
func (p *podman) imageUser(ctx context.Context, image string) (string, error) {
	out, err := p.run(ctx, "image", "inspect", "--format", "{{.Config.User}}", image)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// rlimitFlags passes this process's own limits to the container: podman's
// defaults (nofile 1048576…) fail where the hard limits are lower.
func rlimitFlags() []string {
	var flags []string
	for _, l := range []struct {
		name string
		res  int
		cap  uint64
	}{
		{"nofile", syscall.RLIMIT_NOFILE, 1 << 20},
		// Counted per uid across containers; runc's own limit may be lower
		// than ours (seen: 96367 refused, 32768 taken).
		{"nproc", 6 /* RLIMIT_NPROC */, 1 << 15},
	} {
		var r syscall.Rlimit
		if err := syscall.Getrlimit(l.res, &r); err != nil {
			continue
		}
		max := min(r.Max, l.cap)
		cur := min(r.Cur, max)
		flags = append(flags, "--ulimit", l.name+"="+strconv.FormatUint(cur, 10)+":"+strconv.FormatUint(max, 10))
	}
	return flags
}
