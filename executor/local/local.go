// Package local is the executor that runs every pod of a gang as a process
// on this host, in its own session and process group, with its own working
// directory and log file.
//
// Pods outlive the Atrium server. Each pod is run by a supervisor — this
// same binary re-executed (see supervisor.go) — that leads the pod's process
// group, waits for the command and writes its exit code to disk atomically.
// A restarted server needs nothing but the files: it re-adopts a pod by the
// supervisor's pid and start time (so a recycled pid is never taken for it)
// and reads the exit file once it is gone.
//
// On-disk layout, under Config.Dir (directories 0700, files 0600: only
// the server reads them):
//
//	<jobID>/<attempt>/task.json        the Task as started
//	<jobID>/<attempt>/<pod>/pod.json   the PodTask and the environment it runs with
//	<jobID>/<attempt>/<pod>/output.log stdout and stderr, interleaved as written
//	<jobID>/<attempt>/<pod>/proc       "pid:starttime" of the supervisor
//	<jobID>/<attempt>/<pod>/exit       exit code (128+N after signal N), once ended
//	<jobID>/<attempt>/<pod>/stopped    present when Stop ended the pod
//
// and each pod's working directory and HOME (removed by Cleanup), under
// Config.WorkDir when set, so that a pod reaches it without reaching Dir:
//
//	<WorkDir>/<jobID>/<attempt>/<pod>/ mode 0700, owned by Config.User
//
// (WorkDir and the job and attempt directories are 0711: a pod passes
// through them but cannot list them), else in Dir:
//
//	<jobID>/<attempt>/<pod>/work/
//
// With Config.User set (the server runs as root) the supervisor stays root
// and the command runs as that user, with no supplementary groups, and
// every pod has no_new_privs set (no set-user-ID binary raises it).
package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"atrium/executor"
	"atrium/executor/internal/statefile"
)

// Name is the backend name in handles and resource groups.
const Name = "local"

// File names inside an attempt directory.
const (
	taskFile    = "task.json"
	podFile     = "pod.json"
	workDir     = "work"
	outputFile  = "output.log"
	procFile    = "proc"
	exitFile    = "exit"
	stoppedFile = "stopped"
)

const (
	defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// pollEvery paces Stop's wait for a group to empty and Logs' follow.
	pollEvery = 50 * time.Millisecond
	// killWait bounds how long Stop waits for SIGKILLed processes to vanish
	// (a process in uninterruptible sleep dies only when the I/O ends).
	killWait = 10 * time.Second
)

// Executor runs gangs as local processes. It keeps no state in memory that
// matters: everything is on disk, so any process (a restarted server) with
// the same directory sees the same pods.
type Executor struct {
	dir     string
	workDir string // "" keeps working directories in dir
	user    *User
	logger  *slog.Logger
	// OnExit, when set before the first Start, is called when a pod this
	// process started ends, so the scheduling loop can notice at once
	// instead of at its next pass.
	OnExit func()
}

var _ executor.Executor = (*Executor)(nil)

// Config configures Open.
type Config struct {
	// Dir keeps the attempts' records (the server passes <data-dir>/pods).
	// It is made, or made again, mode 0700.
	Dir string
	// WorkDir, when set, holds the pods' working directories apart from
	// Dir; it is made, or made again, mode 0711. Needed with User, who must
	// be able to walk down to it.
	WorkDir string
	// User, when set, is who the pods' commands run as; it needs this
	// process to be root. Nil runs them as this process's user.
	User *User
	// Logger may be nil (discard).
	Logger *slog.Logger
}

// New returns an executor keeping attempts, working directories included,
// under dir and running pods as this process's user; see Open for more.
func New(dir string, logger *slog.Logger) (*Executor, error) {
	return Open(Config{Dir: dir, Logger: logger})
}

// Open returns an executor as cfg says, creating its directories if needed.
func Open(cfg Config) (*Executor, error) {
	if cfg.Dir == "" {
		return nil, errors.New("local: no directory for pods")
	}
	e := &Executor{user: cfg.User, logger: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))}
	var err error
	if e.dir, err = makeDir(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if cfg.WorkDir != "" {
		if e.workDir, err = makeDir(cfg.WorkDir, 0o711); err != nil {
			return nil, err
		}
	}
	if u := cfg.User; u != nil {
		if os.Geteuid() != 0 {
			return nil, fmt.Errorf("local: running pods as uid %d needs root", u.UID)
		}
		if e.workDir == "" {
			return nil, errors.New("local: a pod user needs a WorkDir outside Dir")
		}
		if err := u.CheckReach(e.workDir); err != nil {
			return nil, fmt.Errorf("local: %w", err)
		}
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return nil, fmt.Errorf("local: needs /proc to follow processes: %w", err)
	}
	return e, nil
}

// makeDir makes dir with perm, or gives an existing one perm, and returns
// its absolute path.
func makeDir(dir string, perm os.FileMode) (string, error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(abs, perm)
	}
	if err == nil {
		err = os.Chmod(abs, perm)
	}
	if err != nil {
		return "", fmt.Errorf("local: %w", err)
	}
	return abs, nil
}

// Name returns "local".
func (e *Executor) Name() string { return Name }

// Capabilities: pods survive restarts and have logs; images are recorded,
// not run; Atrium itself enforces the maximum running time.
func (e *Executor) Capabilities() executor.Capabilities {
	return executor.Capabilities{Recover: true, Logs: true}
}

// podSpec is pod.json: what the supervisor runs.
type podSpec struct {
	executor.PodTask
	JobID       string   `json:"jobId"`
	WorkspaceID string   `json:"workspaceId"`
	Attempt     int      `json:"attempt"`
	Environ     []string `json:"environ"` // the exact environment of the command
	// Work is the working directory; "" (older pods) is work/ beside pod.json.
	Work string `json:"work,omitempty"`
	// User is who the command runs as; nil is the supervisor's user.
	User *User `json:"user,omitempty"`
}

// work is the pod's working directory.
func (s podSpec) work(podDir string) string { return cmp.Or(s.Work, filepath.Join(podDir, workDir)) }

// workPath is where the pod's working directory goes.
func (e *Executor) workPath(attemptDir string, t executor.Task, pod string) string {
	if e.workDir == "" {
		return filepath.Join(attemptDir, pod, workDir)
	}
	return filepath.Join(e.workDir, t.JobID, strconv.Itoa(t.Attempt), pod)
}

// Start prepares the attempt directory and launches one supervised process
// per pod. An attempt starts at most once: a second Start of the same job
// and attempt fails.
func (e *Executor) Start(ctx context.Context, t executor.Task) (executor.Handle, error) {
	if err := ctx.Err(); err != nil {
		return executor.Handle{}, err
	}
	if err := validateTask(t); err != nil {
		return executor.Handle{}, err
	}
	jobDir := filepath.Join(e.dir, t.JobID)
	final := filepath.Join(jobDir, strconv.Itoa(t.Attempt))
	if _, err := os.Lstat(final); err == nil {
		return executor.Handle{}, fmt.Errorf("local: attempt %d of job %s: %w", t.Attempt, t.JobID, executor.ErrAlreadyStarted)
	}
	if err := os.MkdirAll(jobDir, 0o700); err != nil {
		return executor.Handle{}, fmt.Errorf("local: %w", err)
	}
	// Prepared aside and renamed into place, so an attempt directory is
	// always complete: a crash while preparing leaves only a dot directory
	// (and maybe empty working directories, which the next Start takes).
	tmp, err := os.MkdirTemp(jobDir, ".start-")
	if err != nil {
		return executor.Handle{}, fmt.Errorf("local: %w", err)
	}
	if err := e.prepare(tmp, final, t); err != nil {
		os.RemoveAll(tmp)
		return executor.Handle{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		if errors.Is(err, fs.ErrExist) {
			err = executor.ErrAlreadyStarted // a concurrent Start won the rename
		}
		return executor.Handle{}, fmt.Errorf("local: attempt %d of job %s: %w", t.Attempt, t.JobID, err)
	}

	h := executor.Handle{Backend: Name, JobID: t.JobID, Attempt: t.Attempt, Ref: final, Pods: map[string]string{}}
	for _, p := range t.Pods {
		ref, err := launch(filepath.Join(final, p.Name), e.OnExit)
		if err != nil {
			// Nothing may keep running when Start fails.
			if serr := e.Stop(context.WithoutCancel(ctx), h, 0); serr != nil {
				return executor.Handle{}, fmt.Errorf("local: starting pod %s: %w (and stopping the others: %v)", p.Name, err, serr)
			}
			os.RemoveAll(final)
			e.removeWork(t.JobID, t.Attempt)
			return executor.Handle{}, fmt.Errorf("local: starting pod %s: %w", p.Name, err)
		}
		h.Pods[p.Name] = ref.String()
	}
	e.logger.Info("started gang", "job", t.JobID, "attempt", t.Attempt, "pods", len(t.Pods), "dir", final)
	return h, nil
}

func validateTask(t executor.Task) error {
	// taskFile sits beside the pods' directories.
	if err := t.Check(func(s string) bool { return safeName(s) && s != taskFile }); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

func safeName(s string) bool {
	return s != "" && len(s) <= 255 && !strings.HasPrefix(s, ".") && !strings.ContainsAny(s, "/\x00")
}

// prepare fills dir, which will be renamed to final, with the attempt's
// files, and makes the pods' working directories.
func (e *Executor) prepare(dir, final string, t executor.Task) error {
	if err := statefile.WriteJSON(filepath.Join(dir, taskFile), t); err != nil {
		return err
	}
	if e.workDir != "" {
		for _, d := range []string{filepath.Join(e.workDir, t.JobID), filepath.Join(e.workDir, t.JobID, strconv.Itoa(t.Attempt))} {
			if err := os.Mkdir(d, 0o711); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("local: %w", err)
			}
		}
	}
	// Host processes see the host's files; only directories the job
	// writes (its outputs) need to exist, the pod user's.
	for _, m := range t.Mounts {
		if m.Owned {
			if err := MakePodDir(m.Source, e.user); err != nil {
				return fmt.Errorf("local: %w", err)
			}
		}
	}
	for _, p := range t.Pods {
		pd := filepath.Join(dir, p.Name)
		if err := os.Mkdir(pd, 0o700); err != nil {
			return fmt.Errorf("local: %w", err)
		}
		work := e.workPath(final, t, p.Name)
		mk := work
		if e.workDir == "" {
			mk = filepath.Join(pd, workDir) // renamed to work with dir
		}
		if err := MakePodDir(mk, e.user); err != nil {
			return fmt.Errorf("local: %w", err)
		}
		spec := podSpec{PodTask: p, JobID: t.JobID, WorkspaceID: t.WorkspaceID, Attempt: t.Attempt,
			Environ: podEnv(t, p, work), User: e.user}
		if e.workDir != "" {
			spec.Work = work
		}
		if err := statefile.WriteJSON(filepath.Join(pd, podFile), spec); err != nil {
			return err
		}
	}
	return nil
}

// removeWork removes the working directories of an attempt kept apart,
// and the job's directory when no attempt is left in it.
func (e *Executor) removeWork(jobID string, attempt int) {
	if e.workDir == "" {
		return
	}
	os.RemoveAll(filepath.Join(e.workDir, jobID, strconv.Itoa(attempt)))
	os.Remove(filepath.Join(e.workDir, jobID)) // fails while not empty
}

// podEnv is a clean base plus the pod's own variables, which win. Nothing
// of the server's environment leaks in but PATH and LANG.
func podEnv(t executor.Task, p executor.PodTask, work string) []string {
	m := map[string]string{
		"PATH":                cmp.Or(os.Getenv("PATH"), defaultPath),
		"LANG":                cmp.Or(os.Getenv("LANG"), "C.UTF-8"),
		"HOME":                work,
		"ATRIUM_JOB_ID":       t.JobID,
		"ATRIUM_WORKSPACE_ID": t.WorkspaceID,
		"ATRIUM_POD_NAME":     p.Name,
	}
	if len(p.GPUs) > 0 {
		ids := make([]string, len(p.GPUs))
		for i, g := range p.GPUs {
			ids[i] = strconv.Itoa(g)
		}
		m["CUDA_VISIBLE_DEVICES"] = strings.Join(ids, ",")
	}
	maps.Copy(m, p.Env)
	for _, mt := range t.Mounts {
		if mt.Env != "" {
			m[mt.Env] = mt.Source // host processes see the host's path
		}
	}
	env := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		env = append(env, k+"="+m[k])
	}
	return env
}

// launch starts the supervisor of the pod in podDir and returns its
// reference, also recorded in the proc file; onExit (if any) runs when the
// supervisor ends.
func launch(podDir string, onExit func()) (procRef, error) {
	out, err := os.OpenFile(filepath.Join(podDir, outputFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return procRef{}, err
	}
	defer out.Close()
	cmd := &exec.Cmd{
		// /proc/self/exe is this very binary even if its file was replaced
		// or removed since the server started.
		Path:   "/proc/self/exe",
		Args:   []string{"atrium-pod"},
		Env:    []string{supervisorEnv + "=" + podDir},
		Dir:    podDir,
		Stdout: out,
		Stderr: out,
		// A new session and process group: signals to the server's group
		// (Ctrl-C in its terminal) miss the pod, Stop reaches all of it. No
		// Pdeathsig: the pod outlives the server.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return procRef{}, err
	}
	// Until Wait below the supervisor is our unreaped child, so its stat
	// stays readable even if it has already exited.
	st, err := readStat(cmd.Process.Pid)
	if err == nil {
		ref := procRef{PID: cmd.Process.Pid, Start: st.Start}
		if err = statefile.Write(filepath.Join(podDir, procFile), []byte(ref.String()+"\n")); err == nil {
			// Reap it when it ends, so no zombie stays while we run.
			go func() {
				_ = cmd.Wait()
				if onExit != nil {
					onExit()
				}
			}()
			return ref, nil
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	return procRef{}, err
}

// pod is one pod of an attempt as found on disk.
type pod struct {
	name    string
	node    string
	dir     string
	ref     procRef
	started bool // ref is set
}

// attempt finds the pods of h. The directory comes from the job id and
// attempt under our own dir (h.Ref only records it for people), so a
// minimal handle {Backend, JobID, Attempt} is enough; pod references come
// from h.Pods, else from the proc files.
func (e *Executor) attempt(h executor.Handle) (string, []pod, error) {
	if !safeName(h.JobID) || h.Attempt < 1 {
		return "", nil, fmt.Errorf("local: handle names no attempt (job %q, attempt %d): %w", h.JobID, h.Attempt, executor.ErrNotFound)
	}
	if h.Backend != "" && h.Backend != Name {
		return "", nil, fmt.Errorf("local: handle of backend %q", h.Backend)
	}
	dir := filepath.Join(e.dir, h.JobID, strconv.Itoa(h.Attempt))
	var t executor.Task
	if err := statefile.ReadJSON(filepath.Join(dir, taskFile), &t); errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("local: attempt %d of job %s: %w", h.Attempt, h.JobID, executor.ErrNotFound)
	} else if err != nil {
		return "", nil, err
	}
	pods := make([]pod, 0, len(t.Pods))
	for _, tp := range t.Pods {
		p := pod{name: tp.Name, node: tp.Node, dir: filepath.Join(dir, tp.Name)}
		s := h.Pods[tp.Name]
		if s == "" {
			b, err := os.ReadFile(filepath.Join(p.dir, procFile))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", nil, err
			}
			s = string(b)
		}
		if s != "" {
			ref, err := parseRef(s)
			if err != nil {
				return "", nil, fmt.Errorf("pod %s: %w", tp.Name, err)
			}
			p.ref, p.started = ref, true
		}
		pods = append(pods, p)
	}
	return dir, pods, nil
}

func (p pod) running() bool { return p.started && p.ref.alive() }

// Inspect reports every pod: Running while its supervisor lives; after,
// Stopped if Stop ended it, Succeeded or Failed by the recorded exit code,
// Lost when it vanished without one. ErrNotFound when the attempt is gone.
func (e *Executor) Inspect(ctx context.Context, h executor.Handle) ([]executor.PodStatus, error) {
	_, pods, err := e.attempt(h)
	if err != nil {
		return nil, err
	}
	out := make([]executor.PodStatus, 0, len(pods))
	for _, p := range pods {
		s, err := p.status()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p pod) status() (executor.PodStatus, error) {
	s := executor.PodStatus{Name: p.name, Node: p.node}
	if !p.started {
		s.Phase = executor.PodLost
		s.Message = "the pod was never started (Atrium stopped while starting the gang)"
		return s, nil
	}
	s.StartedAt = statefile.ModTime(filepath.Join(p.dir, procFile))
	// Checked before the files: the supervisor writes the exit file before
	// it dies, so once it is dead the file is there or never will be.
	if p.ref.alive() {
		s.Phase = executor.PodRunning
		return s, nil
	}
	code, hasCode, err := readExit(p.dir)
	if err != nil {
		return s, err
	}
	if hasCode {
		s.ExitCode = &code
		s.FinishedAt = statefile.ModTime(filepath.Join(p.dir, exitFile))
	}
	stoppedAt := statefile.ModTime(filepath.Join(p.dir, stoppedFile))
	switch {
	case !stoppedAt.IsZero():
		s.Phase = executor.PodStopped
		s.Message = "stopped"
		if s.FinishedAt.IsZero() {
			s.FinishedAt = stoppedAt
		}
	case hasCode && code == 0:
		s.Phase = executor.PodSucceeded
	case hasCode:
		s.Phase = executor.PodFailed
		s.Message = describeExit(code)
	default:
		s.Phase = executor.PodLost
		if st, err := readStat(p.ref.PID); err == nil && st.Start != p.ref.Start {
			s.Message = fmt.Sprintf("process %d ended without recording an exit code (its pid now belongs to another process)", p.ref.PID)
		} else {
			s.Message = fmt.Sprintf("process %d ended without recording an exit code (killed outside Atrium, or the host restarted)", p.ref.PID)
		}
	}
	return s, nil
}

func describeExit(code int) string {
	if n := code - 128; n > 0 && n < 65 {
		return fmt.Sprintf("exited with code %d (killed by signal %d, %s)", code, n, syscall.Signal(n))
	}
	return fmt.Sprintf("exited with code %d", code)
}

func readExit(dir string) (code int, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, exitFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	code, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false, fmt.Errorf("local: %s: %w", filepath.Join(dir, exitFile), err)
	}
	return code, true, nil
}

// Stop sends SIGTERM to the process group of every running pod, waits up
// to grace (or until ctx is done) for the groups to empty, then sends
// SIGKILL and waits until no process of the groups remains. Pods it ends
// are marked stopped first, so Inspect reports Stopped rather than the exit
// code of the signal. Stopping an ended or unknown attempt does nothing.
func (e *Executor) Stop(ctx context.Context, h executor.Handle, grace time.Duration) error {
	_, pods, err := e.attempt(h)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var groups []procRef
	for _, p := range pods {
		if !p.started || !p.ref.ownsGroup() {
			continue
		}
		if p.ref.alive() {
			if err := statefile.Stamp(filepath.Join(p.dir, stoppedFile)); err != nil {
				return err
			}
		}
		groups = append(groups, p.ref) // the supervisor may be gone and stragglers left
	}
	groups = liveGroups(groups)
	if len(groups) == 0 {
		return nil
	}
	e.logger.Info("stopping gang", "job", h.JobID, "attempt", h.Attempt, "groups", len(groups), "grace", grace)
	signalGroups(groups, syscall.SIGTERM)
	groups = waitGroups(ctx, groups, grace)
	if len(groups) == 0 {
		return nil
	}
	signalGroups(groups, syscall.SIGKILL)
	// SIGKILL cannot be refused; wait for the kernel even if ctx is done, so
	// a nil return means nothing of the pods runs.
	if groups = waitGroups(context.Background(), groups, killWait); len(groups) > 0 {
		left := make([]int, 0, len(groups))
		for _, g := range groups {
			left = append(left, groupMembers(g.PID)...)
		}
		return fmt.Errorf("local: job %s: processes %v still present after SIGKILL", h.JobID, left)
	}
	return nil
}

func signalGroups(groups []procRef, sig syscall.Signal) {
	for _, g := range groups {
		// Checked again right before the signal: the leader may have ended
		// and its pid gone to a stranger's new group.
		if g.PID > 1 && g.ownsGroup() {
			_ = syscall.Kill(-g.PID, sig)
		}
	}
}

// liveGroups keeps the groups that still have a live process.
func liveGroups(groups []procRef) []procRef {
	var live []procRef
	for _, g := range groups {
		if len(groupMembers(g.PID)) > 0 {
			live = append(live, g)
		}
	}
	return live
}

// waitGroups polls until every group is empty, d passes or ctx is done, and
// returns the groups left.
func waitGroups(ctx context.Context, groups []procRef, d time.Duration) []procRef {
	deadline := time.Now().Add(d)
	for {
		if groups = liveGroups(groups); len(groups) == 0 || !time.Now().Before(deadline) {
			return groups
		}
		select {
		case <-ctx.Done():
			return groups
		case <-time.After(pollEvery):
		}
	}
}

// Recover re-adopts an attempt after a restart: it checks the attempt is on
// disk (ErrNotFound if not). Nothing else needs resuming: each pod's
// supervisor records its exit code whether or not a server waits for it,
// and the server's own children are reaped by the process that started them.
func (e *Executor) Recover(ctx context.Context, h executor.Handle) error {
	_, pods, err := e.attempt(h)
	if err != nil {
		return err
	}
	running := 0
	for _, p := range pods {
		if p.running() {
			running++
		}
	}
	e.logger.Info("re-adopted gang", "job", h.JobID, "attempt", h.Attempt, "pods", len(pods), "running", running)
	return nil
}

// Logs copies the pod's output (stdout and stderr as interleaved when
// written) to w. With follow it keeps copying until the pod ends, then
// drains the rest, or until ctx is done (returning ctx's error).
func (e *Executor) Logs(ctx context.Context, h executor.Handle, name string, follow bool, w io.Writer) error {
	_, pods, err := e.attempt(h)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(pods, func(p pod) bool { return p.name == name })
	if i < 0 {
		return fmt.Errorf("local: job %s has no pod %q: %w", h.JobID, name, executor.ErrNotFound)
	}
	p := pods[i]
	f, err := os.Open(filepath.Join(p.dir, outputFile))
	if errors.Is(err, fs.ErrNotExist) && !p.started {
		return nil // never started, never wrote
	}
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		// Liveness before the copy: output written before the end is
		// always copied after it.
		done := !follow || !p.running()
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(4 * pollEvery):
		}
	}
}

// Cleanup removes the pods' working directories and keeps pod.json,
// output.log and the exit files until the job is deleted. It refuses while
// a pod still runs.
func (e *Executor) Cleanup(ctx context.Context, h executor.Handle) error {
	_, pods, err := e.attempt(h)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if p.running() {
			return fmt.Errorf("local: job %s: pod %s still runs; stop it before cleaning up", h.JobID, p.name)
		}
	}
	for _, p := range pods {
		spec, err := readPodSpec(p.dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.RemoveAll(spec.work(p.dir)); err != nil {
			return fmt.Errorf("local: %w", err)
		}
	}
	e.removeWork(h.JobID, h.Attempt)
	return nil
}

func readPodSpec(dir string) (podSpec, error) {
	var s podSpec
	err := statefile.ReadJSON(filepath.Join(dir, podFile), &s)
	return s, err
}
