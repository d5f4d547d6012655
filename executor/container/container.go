// Package container is the executor that runs every pod of a gang as an
// OCI container through podman, isolated from Atrium and from other jobs:
// the job's image, cgroup limits equal to the pod's cpu and memory
// request, a non-root user with no capabilities, one internal network per
// attempt (the gang's pods reach each other by pod name; nothing outside
// it is routed), and only the mounts the job is given.
//
// Podman's conmon keeps the containers running when Atrium stops, and
// every container carries labels naming its job, attempt and pod, so a
// restarted server re-adopts them by name. Atrium keeps only what podman
// does not: the attempt as started, a marker per pod that Stop ended, the
// pods' working directories and their logs, which outlive the containers.
//
// On-disk layout, under the directory given to New:
//
//	<jobID>/<attempt>/task.json        the Task as started
//	<jobID>/<attempt>/started          present once every container started
//	<jobID>/<attempt>/<pod>/work/      /workspace in the container (removed by Cleanup)
//	<jobID>/<attempt>/<pod>/output.log the container's output (podman's k8s-file format)
//	<jobID>/<attempt>/<pod>/stopped    present when Stop ended the pod
package container

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"atrium"
	"atrium/executor"
	"atrium/executor/internal/statefile"
)

// Name is the backend the executor serves: the local resource group.
const Name = "local"

// RuntimeName marks handles made by this executor.
const RuntimeName = "podman"

const (
	taskFile    = "task.json"
	startedFile = "started"
	workDir     = "work"
	outputFile  = "output.log"
	stoppedFile = "stopped"

	// workMount is the pod's working directory and HOME inside the container.
	workMount = "/workspace"
	// DefaultUser runs images whose own user is root.
	DefaultUser = "1000:1000"

	pollEvery = 200 * time.Millisecond
)

// Config configures the executor.
type Config struct {
	// Dir keeps the attempts (the server passes <data-dir>/containers).
	Dir string
	// Podman is the podman binary (default: podman on PATH).
	Podman string
	// User is uid:gid for images that would run as root (default
	// DefaultUser). Images whose user is a non-root uid run as that uid.
	User string
	// CDIDirs hold Container Device Interface specs; when one names
	// nvidia.com/gpu, assigned GPUs are passed as CDI devices (default
	// /etc/cdi and /var/run/cdi).
	CDIDirs []string
	// Credentials, when set, is asked for the registry host of every image
	// that must be pulled; the server answers from its registered
	// registries. Without it, or for hosts it does not know, images are
	// pulled without credentials.
	Credentials CredentialsFunc
	// PullTimeout bounds one image pull (default DefaultPullTimeout): a
	// stuck registry fails the job instead of blocking Start.
	PullTimeout time.Duration
	Logger      *slog.Logger
}

// Executor runs gangs as podman containers. Like the process executor it
// keeps nothing in memory that matters.
type Executor struct {
	cfg    Config
	pm     *podman
	fw     *firewall // nil: the host could not be cut off (see firewall.go)
	logger *slog.Logger
	// OnExit, when set before the first Start, is called when a container
	// this process started or re-adopted ends.
	OnExit func()

	mu       sync.Mutex
	starting map[string]bool      // attempt dirs whose Start is under way
	watching map[string]bool      // containers a goroutine waits for
	ooms     map[string]bool      // container id → the kernel log's verdict
	cleaning sync.WaitGroup       // background clean-ups (Cleanup)
	snap     *snapshot            // see state.go
	last     map[string]inspected // container name → its last full inspect
}

// oomKilled reads the kernel log once per container.
func (e *Executor) oomKilled(id string) bool {
	e.mu.Lock()
	v, ok := e.ooms[id]
	e.mu.Unlock()
	if ok {
		return v
	}
	v = oomInKernelLog(id)
	e.mu.Lock()
	e.ooms[id] = v
	e.mu.Unlock()
	return v
}

var _ executor.Executor = (*Executor)(nil)

// New returns an executor keeping attempts under cfg.Dir.
func New(cfg Config) (*Executor, error) {
	if cfg.Dir == "" {
		return nil, errors.New("container: no directory for attempts")
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	cfg.Dir = abs
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	cfg.User = cmp.Or(cfg.User, DefaultUser)
	if _, _, err := ParseUser(cfg.User); err != nil {
		return nil, err
	}
	if cfg.CDIDirs == nil {
		cfg.CDIDirs = []string{"/etc/cdi", "/var/run/cdi"}
	}
	pm, err := newPodman(cfg.Podman)
	if err != nil {
		return nil, err
	}
	removeStalePullDirs(abs)
	e := &Executor{cfg: cfg, pm: pm, logger: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		starting: map[string]bool{}, watching: map[string]bool{}, ooms: map[string]bool{}, last: map[string]inspected{}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if e.fw, err = newFirewall(ctx); err != nil {
		e.logger.Warn("jobs can reach services that listen on all of this host's addresses (through their network's gateway); "+
			"only its loopback is out of reach", "reason", err.Error())
	} else if err := e.refreshFirewall(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// refreshFirewall rebuilds the chain for the job networks that exist, so
// rules a crash left behind go and running jobs keep theirs.
func (e *Executor) refreshFirewall(ctx context.Context) error {
	return e.fw.locked(func() error {
		out, err := e.pm.run(ctx, "network", "ls", "--filter", "label=atrium.job", "--format", "{{.NetworkInterface}}")
		if err != nil {
			return fmt.Errorf("container: %w", err)
		}
		if err := e.fw.run(ctx, "-w", "-F", firewallChain); err != nil {
			return err
		}
		for _, iface := range strings.Fields(string(out)) {
			if err := e.fw.close(ctx, iface); err != nil {
				return err
			}
		}
		return nil
	})
}

// createNetwork creates the attempt's internal network and, with the
// firewall, cuts it off from the host before any pod joins it.
func (e *Executor) createNetwork(ctx context.Context, jobID, net string) error {
	create := func() error {
		if _, err := e.pm.run(ctx, "network", "create", "--internal", "--label", "atrium.job="+jobID, "--label", dirLabel+"="+e.cfg.Dir, net); err != nil {
			return fmt.Errorf("container: creating network %s: %w", net, err)
		}
		if e.fw == nil {
			return nil
		}
		iface, err := e.networkInterface(ctx, net)
		if err == nil {
			err = e.fw.close(ctx, iface)
		}
		if err != nil {
			return fmt.Errorf("container: cutting network %s off from the host: %w", net, err)
		}
		return nil
	}
	if e.fw == nil {
		return create()
	}
	return e.fw.locked(create)
}

// removeNetwork removes net and its firewall rules.
func (e *Executor) removeNetwork(ctx context.Context, net string) error {
	remove := func() error {
		iface := ""
		if e.fw != nil {
			iface, _ = e.networkInterface(ctx, net) // gone already: nothing to open
		}
		if _, err := e.pm.run(ctx, "network", "rm", "--force", net); err != nil && !noSuchObject(err) {
			return err
		}
		if iface != "" {
			e.fw.open(ctx, iface)
		}
		return nil
	}
	if e.fw == nil {
		return remove()
	}
	return e.fw.locked(remove)
}

// networkInterface is the host's bridge of network net.
func (e *Executor) networkInterface(ctx context.Context, net string) (string, error) {
	out, err := e.pm.run(ctx, "network", "inspect", "--format", "{{.NetworkInterface}}", net)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// ParseUser checks a uid:gid for pods: numeric, and never root.
func ParseUser(s string) (uid, gid int, err error) {
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("container user %q: must be uid:gid, numbers such as 1000:1000", s)
	}
	if uid == 0 || gid == 0 {
		return 0, 0, fmt.Errorf("container user %q: pods never run as root (uid or gid 0)", s)
	}
	return uid, gid, nil
}

// Name returns "local": this executor runs the local resource group.
func (e *Executor) Name() string { return Name }

// Capabilities: containers survive restarts, have logs and run the image;
// Atrium enforces the maximum running time.
func (e *Executor) Capabilities() executor.Capabilities {
	return executor.Capabilities{Recover: true, Logs: true, RunsImages: true}
}

func containerName(jobID string, attempt int, pod string) string {
	return "atrium-" + jobID + "-" + strconv.Itoa(attempt) + "-" + pod
}

func networkName(jobID string, attempt int) string {
	return "atrium-" + jobID + "-" + strconv.Itoa(attempt)
}

// Start creates the attempt's network and every pod's container, then
// starts them all: an image that is missing or a container that cannot be
// created fails the whole gang before any pod runs.
func (e *Executor) Start(ctx context.Context, t executor.Task) (executor.Handle, error) {
	if err := ctx.Err(); err != nil {
		return executor.Handle{}, err
	}
	if err := validateTask(t); err != nil {
		return executor.Handle{}, err
	}
	final := filepath.Join(e.cfg.Dir, t.JobID, strconv.Itoa(t.Attempt))
	if !e.claim(final) {
		return executor.Handle{}, fmt.Errorf("container: attempt %d of job %s: %w", t.Attempt, t.JobID, executor.ErrAlreadyStarted)
	}
	defer e.release(final)
	h := executor.Handle{Backend: Name, JobID: t.JobID, Attempt: t.Attempt, Ref: final, Pods: map[string]string{}}
	for _, p := range t.Pods {
		h.Pods[p.Name] = containerName(t.JobID, t.Attempt, p.Name)
	}

	// Images first: nothing is created for a gang that cannot run.
	users := map[string]string{}
	for _, p := range t.Pods {
		img := cmp.Or(p.Image, t.Image)
		if _, ok := users[img]; ok {
			continue
		}
		if img == "" {
			return executor.Handle{}, &executor.ImagePullError{Image: "(none)", Err: fmt.Errorf("pod %s names no image", p.Name)}
		}
		if !atrium.ValidImageRef(img) {
			// Checked at submission too; here it is podman's argument.
			return executor.Handle{}, &executor.ImagePullError{Image: img, Err: errors.New("not an image reference")}
		}
		u, err := e.ensureImage(ctx, img)
		if err != nil {
			return executor.Handle{}, &executor.ImagePullError{Image: img, Err: err}
		}
		users[img] = e.podUser(u)
	}

	// Mkdir is the claim across processes: an attempt starts at most once.
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return executor.Handle{}, fmt.Errorf("container: %w", err)
	}
	if err := os.Mkdir(final, 0o700); errors.Is(err, fs.ErrExist) {
		return executor.Handle{}, fmt.Errorf("container: attempt %d of job %s: %w", t.Attempt, t.JobID, executor.ErrAlreadyStarted)
	} else if err != nil {
		return executor.Handle{}, fmt.Errorf("container: %w", err)
	}
	if err := e.prepare(final, t, users); err != nil {
		os.RemoveAll(final)
		return executor.Handle{}, err
	}
	fail := func(err error) (executor.Handle, error) {
		// Nothing may keep running when Start fails.
		cctx := context.WithoutCancel(ctx)
		e.removeAll(cctx, h)
		os.RemoveAll(final)
		return executor.Handle{}, err
	}
	net := networkName(t.JobID, t.Attempt)
	if err := e.createNetwork(ctx, t.JobID, net); err != nil {
		return fail(err)
	}
	for _, p := range t.Pods {
		args := e.createArgs(t, p, final, users[cmp.Or(p.Image, t.Image)])
		if _, err := e.pm.run(ctx, args...); err != nil {
			return fail(fmt.Errorf("container: creating pod %s: %w", p.Name, err))
		}
	}
	// One podman call starts the gang (each call costs a process start).
	names := make([]string, len(t.Pods))
	for i, p := range t.Pods {
		names[i] = h.Pods[p.Name]
	}
	if _, err := e.pm.run(ctx, append([]string{"start"}, names...)...); err != nil {
		return fail(fmt.Errorf("container: starting the gang: %w", err))
	}
	e.changed()
	for _, n := range names {
		e.watch(n)
	}
	if err := statefile.Stamp(filepath.Join(final, startedFile)); err != nil {
		return fail(err)
	}
	e.logger.Info("started gang", "job", t.JobID, "attempt", t.Attempt, "pods", len(t.Pods), "network", net)
	return h, nil
}

// claim marks an attempt's Start as under way in this process.
func (e *Executor) claim(dir string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.starting[dir] {
		return false
	}
	e.starting[dir] = true
	return true
}

func (e *Executor) release(dir string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.starting, dir)
}

func (e *Executor) isStarting(dir string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.starting[dir]
}

// podUser is the user a pod runs as given its image's user: the image's
// own when it names a non-root uid (and gid) by number, else the
// configured one. A name is resolved in the image's /etc/passwd, which
// the image's author writes: "jovyan" may well be uid 0 there.
func (e *Executor) podUser(imageUser string) string {
	name, group, hasGroup := strings.Cut(imageUser, ":")
	uid, err := strconv.Atoi(name)
	if err != nil || uid <= 0 {
		return e.cfg.User
	}
	if hasGroup {
		if gid, err := strconv.Atoi(group); err != nil || gid <= 0 {
			return e.cfg.User
		}
	}
	return imageUser
}

func validateTask(t executor.Task) error {
	if err := t.Check(safeName); err != nil {
		return fmt.Errorf("container: %w", err)
	}
	for _, m := range t.Mounts {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) || strings.ContainsAny(m.Source+m.Target, ",:\x00") {
			return fmt.Errorf("container: mount %s → %s: paths must be absolute, without commas or colons", m.Source, m.Target)
		}
		if filepath.Clean(m.Target) == workMount || filepath.Clean(m.Target) == "/" {
			return fmt.Errorf("container: mount %s → %s: the target is reserved", m.Source, m.Target)
		}
	}
	return nil
}

// safeName: letters, digits, '-', '_' and '.', as podman allows in names.
func safeName(s string) bool {
	if s == "" || len(s) > 100 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// prepare writes the attempt directory: the task, and per pod a working
// directory owned by the pod's user and the log file.
func (e *Executor) prepare(final string, t executor.Task, users map[string]string) error {
	if err := statefile.WriteJSON(filepath.Join(final, taskFile), t); err != nil {
		return err
	}
	for _, p := range t.Pods {
		work := filepath.Join(final, p.Name, workDir)
		if err := os.MkdirAll(work, 0o700); err != nil {
			return fmt.Errorf("container: %w", err)
		}
		if err := giveTo(work, users[cmp.Or(p.Image, t.Image)]); err != nil {
			return err
		}
	}
	for _, m := range t.Mounts {
		if !m.Owned {
			continue
		}
		if err := os.MkdirAll(m.Source, 0o700); err != nil {
			return fmt.Errorf("container: %w", err)
		}
		// Every pod of the gang writes owned mounts; they share one user
		// unless their images differ.
		if err := giveTo(m.Source, users[cmp.Or(t.Pods[0].Image, t.Image)]); err != nil {
			return err
		}
	}
	return nil
}

// giveTo hands dir to user (uid or uid:gid, numbers: see podUser).
func giveTo(dir, user string) error {
	u, g, hasGroup := strings.Cut(user, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		return fmt.Errorf("container: user %q is not numeric", user)
	}
	gid := uid
	if hasGroup {
		if gid, err = strconv.Atoi(g); err != nil {
			return fmt.Errorf("container: user %q is not numeric", user)
		}
	}
	if os.Geteuid() != 0 {
		// Rootless podman maps our user to the container's; nothing to do.
		return nil
	}
	return os.Chown(dir, uid, gid)
}

// createArgs builds `podman create` for one pod.
func (e *Executor) createArgs(t executor.Task, p executor.PodTask, final, user string) []string {
	podDir := filepath.Join(final, p.Name)
	name := containerName(t.JobID, t.Attempt, p.Name)
	args := []string{"create", "--name", name,
		"--label", "atrium.job=" + t.JobID, "--label", "atrium.attempt=" + strconv.Itoa(t.Attempt),
		"--label", "atrium.pod=" + p.Name, "--label", "atrium.workspace=" + t.WorkspaceID, "--label", dirLabel + "=" + e.cfg.Dir,
		"--hostname", p.Name, "--network", networkName(t.JobID, t.Attempt), "--network-alias", p.Name,
		"--user", user, "--cap-drop", "all", "--security-opt", "no-new-privileges",
		"--pull", "never", "--pids-limit", "4096",
		"--log-driver", "k8s-file", "--log-opt", "path=" + filepath.Join(podDir, outputFile),
		"--workdir", workMount, "--volume", filepath.Join(podDir, workDir) + ":" + workMount + ":rw",
	}
	args = append(args, rlimitFlags()...)
	if e.pm.init != "" {
		// The command is not PID 1, which ignores SIGTERM without a
		// handler: Stop's SIGTERM reaches it as it does a host process.
		args = append(args, "--init", "--init-path", e.pm.init)
	}
	if p.CPU > 0 {
		args = append(args, "--cpus", strconv.FormatFloat(float64(p.CPU)/1000, 'f', 3, 64))
	}
	if p.Memory > 0 {
		// Swap equal to memory: the limit is the limit.
		m := strconv.FormatInt(p.Memory, 10)
		args = append(args, "--memory", m, "--memory-swap", m)
	}
	if len(p.GPUs) > 0 && e.cdiGPUs() {
		for _, g := range p.GPUs {
			args = append(args, "--device", "nvidia.com/gpu="+strconv.Itoa(g))
		}
	}
	for _, m := range t.Mounts {
		opt := "rw"
		if m.ReadOnly {
			opt = "ro"
		}
		args = append(args, "--volume", m.Source+":"+m.Target+":"+opt)
	}
	for _, kv := range podEnv(t, p) {
		args = append(args, "--env", kv)
	}
	// The command runs through the image's shell, as on every backend.
	args = append(args, "--entrypoint", `["/bin/sh","-c"]`, cmp.Or(p.Image, t.Image), p.Command)
	return args
}

// podEnv is the pod's variables plus HOME and the devices; nothing of the
// server's environment. MASTER_ADDR names the rank-0 pod, which resolves
// on the attempt's network.
func podEnv(t executor.Task, p executor.PodTask) []string {
	m := map[string]string{
		"HOME":                workMount,
		"LANG":                "C.UTF-8",
		"ATRIUM_JOB_ID":       t.JobID,
		"ATRIUM_WORKSPACE_ID": t.WorkspaceID,
		"ATRIUM_POD_NAME":     p.Name,
	}
	maps.Copy(m, p.Env)
	for _, mt := range t.Mounts {
		if mt.Env != "" {
			m[mt.Env] = mt.Target
		}
	}
	if _, ok := m["ATRIUM_DSW_PORT"]; ok {
		// Reached from the host through the pod's own address; the
		// network is the attempt's alone.
		m["ATRIUM_DSW_LISTEN_ALL"], m["ATRIUM_DSW_HOST"] = "1", "0.0.0.0"
	}
	if _, ok := m["MASTER_ADDR"]; ok {
		for _, q := range t.Pods {
			if q.Rank == 0 {
				m["MASTER_ADDR"] = q.Name
			}
		}
	}
	if len(p.GPUs) > 0 {
		ids := make([]string, len(p.GPUs))
		for i, g := range p.GPUs {
			ids[i] = strconv.Itoa(g)
		}
		m["CUDA_VISIBLE_DEVICES"] = strings.Join(ids, ",")
		m["NVIDIA_VISIBLE_DEVICES"] = m["CUDA_VISIBLE_DEVICES"]
	}
	env := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		env = append(env, k+"="+m[k])
	}
	return env
}

// DefaultDSWCommand is what a notebook instance without a command runs:
// JupyterLab when the image has it, else a file browser on /workspace
// (Python's, or busybox httpd). Authentication is Atrium's proxy's, which
// alone can reach the instance's network.
func (e *Executor) DefaultDSWCommand() string {
	return `port="$ATRIUM_DSW_PORT"
if command -v jupyter-lab >/dev/null 2>&1; then exec jupyter-lab --ip=0.0.0.0 --port="$port" --no-browser --ServerApp.token= --ServerApp.password= --notebook-dir=/workspace
elif command -v python3 >/dev/null 2>&1; then exec python3 -m http.server "$port" --bind 0.0.0.0 --directory /workspace
elif command -v httpd >/dev/null 2>&1; then exec httpd -f -p "$port" -h /workspace
else echo "this image has no Jupyter, python3 or httpd: give the instance a command that listens on \$ATRIUM_DSW_PORT" >&2; exit 1; fi`
}

// cdiGPUs reports whether a CDI spec on this host names nvidia.com/gpu.
func (e *Executor) cdiGPUs() bool {
	for _, d := range e.cfg.CDIDirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, ent := range ents {
			b, err := os.ReadFile(filepath.Join(d, ent.Name()))
			if err == nil && strings.Contains(string(b), "nvidia.com/gpu") {
				return true
			}
		}
	}
	return false
}

// watch calls OnExit when the container ends (podman wait), once per
// container and process.
func (e *Executor) watch(name string) {
	if e.OnExit == nil {
		return
	}
	e.mu.Lock()
	if e.watching[name] {
		e.mu.Unlock()
		return
	}
	e.watching[name] = true
	e.mu.Unlock()
	go func() {
		_, _ = e.pm.run(context.Background(), "wait", name)
		e.mu.Lock()
		delete(e.watching, name)
		e.mu.Unlock()
		e.changed()
		e.OnExit()
	}()
}

// attempt reads the started attempt of h.
func (e *Executor) attempt(h executor.Handle) (executor.Task, error) {
	if !safeName(h.JobID) {
		return executor.Task{}, fmt.Errorf("container: job id %q: %w", h.JobID, executor.ErrNotFound)
	}
	dir := filepath.Join(e.cfg.Dir, h.JobID, strconv.Itoa(h.Attempt))
	var t executor.Task
	if err := statefile.ReadJSON(filepath.Join(dir, taskFile), &t); errors.Is(err, fs.ErrNotExist) {
		return t, fmt.Errorf("container: attempt %d of job %s: %w", h.Attempt, h.JobID, executor.ErrNotFound)
	} else if err != nil {
		return t, err
	}
	return t, nil
}

func (e *Executor) attemptDir(jobID string, attempt int) string {
	return filepath.Join(e.cfg.Dir, jobID, strconv.Itoa(attempt))
}

// Inspect reports every pod from its container's state.
func (e *Executor) Inspect(ctx context.Context, h executor.Handle) ([]executor.PodStatus, error) {
	t, err := e.attempt(h)
	if err != nil {
		return nil, err
	}
	dir := e.attemptDir(t.JobID, t.Attempt)
	names := make([]string, len(t.Pods))
	for i, p := range t.Pods {
		names[i] = containerName(t.JobID, t.Attempt, p.Name)
	}
	found, err := e.containers(ctx, names)
	if err != nil {
		return nil, err
	}
	started := exists(filepath.Join(dir, startedFile))
	out := make([]executor.PodStatus, 0, len(t.Pods))
	for i, p := range t.Pods {
		c, ok := found[names[i]]
		s := executor.PodStatus{Name: p.Name, Node: p.Node}
		podDir := filepath.Join(dir, p.Name)
		stopped := statefile.ModTime(filepath.Join(podDir, stoppedFile))
		switch {
		case !ok:
			s.Phase = executor.PodLost
			s.Message = fmt.Sprintf("container %s is gone (removed outside Atrium)", names[i])
			if !stopped.IsZero() {
				s.Phase, s.Message, s.FinishedAt = executor.PodStopped, "stopped", stopped
			}
		case c.State.Status == "running" || c.State.Status == "paused" || c.State.Status == "stopping":
			s.Phase, s.StartedAt = executor.PodRunning, c.State.StartedAt
		case c.State.Status == "created" || c.State.Status == "configured" || c.State.Status == "initialized":
			s.Phase = executor.PodPending
			if !started && !e.isStarting(dir) {
				s.Phase = executor.PodLost
				s.Message = "the pod was never started (Atrium stopped while starting the gang)"
			}
		default: // exited, stopped
			code := c.State.ExitCode
			s.ExitCode, s.StartedAt, s.FinishedAt = &code, c.State.StartedAt, c.State.FinishedAt
			switch {
			case !stopped.IsZero():
				s.Phase, s.Message = executor.PodStopped, "stopped"
			case c.State.OOMKilled || code == 137 && p.Memory > 0 && e.oomKilled(c.ID):
				s.Phase, s.Reason = executor.PodFailed, executor.ReasonOOMKilled
				s.Message = fmt.Sprintf("killed for using more than its memory limit of %s (OOMKilled)", formatBytes(p.Memory))
			case code == 0:
				s.Phase = executor.PodSucceeded
			default:
				s.Phase, s.Message = executor.PodFailed, describeExit(code)
			}
		}
		if ok {
			for _, n := range c.NetworkSettings.Networks {
				s.Address = cmp.Or(s.Address, n.IPAddress)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func describeExit(code int) string {
	if n := code - 128; n > 0 && n < 65 {
		return fmt.Sprintf("exited with code %d (killed by signal %d)", code, n)
	}
	return fmt.Sprintf("exited with code %d", code)
}

func formatBytes(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return strconv.FormatInt(b>>30, 10) + "Gi"
	case b >= 1<<20 && b%(1<<20) == 0:
		return strconv.FormatInt(b>>20, 10) + "Mi"
	}
	return strconv.FormatInt(b, 10) + " bytes"
}

// Stop marks the running pods stopped, then stops their containers: SIGTERM,
// and SIGKILL after grace. Stopping an ended or unknown attempt does
// nothing.
func (e *Executor) Stop(ctx context.Context, h executor.Handle, grace time.Duration) error {
	t, err := e.attempt(h)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	pods, err := e.Inspect(ctx, h)
	if err != nil {
		return err
	}
	dir := e.attemptDir(t.JobID, t.Attempt)
	var names []string
	for _, p := range pods {
		if p.Phase.Done() {
			continue
		}
		if err := statefile.Stamp(filepath.Join(dir, p.Name, stoppedFile)); err != nil {
			return err
		}
		names = append(names, containerName(t.JobID, t.Attempt, p.Name))
	}
	if len(names) == 0 {
		return nil
	}
	secs := int((grace + time.Second - 1) / time.Second)
	e.logger.Info("stopping gang", "job", h.JobID, "attempt", h.Attempt, "pods", len(names), "grace", grace)
	// SIGKILL cannot be refused: wait for podman even if ctx is done, so a
	// nil return means nothing of the pods runs.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+time.Minute)
	defer cancel()
	_, err = e.pm.run(sctx, append([]string{"stop", "--ignore", "--time", strconv.Itoa(secs)}, names...)...)
	e.changed()
	if err != nil && !noSuchObject(err) {
		return fmt.Errorf("container: job %s: %w", h.JobID, err)
	}
	return nil
}

// Recover re-adopts an attempt after a restart: the attempt must be on
// disk; its containers, run by conmon, went on without Atrium.
func (e *Executor) Recover(ctx context.Context, h executor.Handle) error {
	t, err := e.attempt(h)
	if err != nil {
		return err
	}
	pods, err := e.Inspect(ctx, h)
	if err != nil {
		return err
	}
	running := 0
	for _, p := range pods {
		if !p.Phase.Done() {
			running++
			e.watch(containerName(t.JobID, t.Attempt, p.Name))
		}
	}
	e.logger.Info("re-adopted gang", "job", h.JobID, "attempt", h.Attempt, "pods", len(pods), "running", running)
	return nil
}

// Logs copies the pod's output to w. With follow it keeps copying until the
// pod ends, then drains the rest, or until ctx is done.
func (e *Executor) Logs(ctx context.Context, h executor.Handle, name string, follow bool, w io.Writer) error {
	t, err := e.attempt(h)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(t.Pods, func(p executor.PodTask) bool { return p.Name == name }) {
		return fmt.Errorf("container: job %s has no pod %q: %w", h.JobID, name, executor.ErrNotFound)
	}
	path := filepath.Join(e.attemptDir(t.JobID, t.Attempt), name, outputFile)
	lr := &logReader{w: w}
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		done := !follow || !e.running(ctx, h, name)
		if f == nil {
			if f, err = os.Open(path); errors.Is(err, fs.ErrNotExist) {
				f = nil // not started yet
			} else if err != nil {
				return err
			}
		}
		if f != nil {
			if err := lr.copy(f); err != nil {
				return err
			}
		}
		if done {
			return lr.flush()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// running reports whether pod name of h may still write output.
func (e *Executor) running(ctx context.Context, h executor.Handle, name string) bool {
	pods, err := e.Inspect(ctx, h)
	if err != nil {
		return false
	}
	for _, p := range pods {
		if p.Name == name {
			return !p.Phase.Done()
		}
	}
	return false
}

// dirLabel names the executor directory a container or network belongs
// to: several servers (or tests) may share one podman, and each sweeps
// only its own.
const dirLabel = "atrium.dir"

// Sweep removes the containers, networks and working directories of
// attempts that keep says are over: those of jobs that ended while Atrium
// was down, before it could clean up. Only this executor's (by Dir).
func (e *Executor) Sweep(ctx context.Context, keep func(jobID string, attempt int) bool) error {
	out, err := e.pm.run(ctx, "ps", "--all", "--filter", "label="+dirLabel+"="+e.cfg.Dir, "--format", "json")
	if err != nil {
		return fmt.Errorf("container: %w", err)
	}
	var list []struct {
		Names  []string
		Labels map[string]string
		State  string
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return fmt.Errorf("container: podman ps: %w", err)
	}
	type attempt struct {
		job string
		n   int
	}
	stale := map[attempt]executor.Handle{}
	for _, c := range list {
		n, err := strconv.Atoi(c.Labels["atrium.attempt"])
		job := c.Labels["atrium.job"]
		if err != nil || job == "" || keep(job, n) || c.State == "running" {
			continue // a running container of an ended job waits for Stop
		}
		a := attempt{job, n}
		h, ok := stale[a]
		if !ok {
			h = executor.Handle{Backend: Name, JobID: job, Attempt: n, Pods: map[string]string{}}
		}
		for _, name := range c.Names {
			h.Pods[c.Labels["atrium.pod"]] = name
		}
		stale[a] = h
	}
	nets, err := e.pm.run(ctx, "network", "ls", "--filter", "label="+dirLabel+"="+e.cfg.Dir, "--format", "{{.Name}}")
	if err != nil {
		return fmt.Errorf("container: %w", err)
	}
	for _, name := range strings.Fields(string(nets)) {
		i := strings.LastIndexByte(name, '-')
		n, err := strconv.Atoi(name[i+1:])
		job := strings.TrimPrefix(name[:max(i, 0)], "atrium-")
		if err != nil || keep(job, n) {
			continue
		}
		if _, ok := stale[attempt{job, n}]; !ok {
			stale[attempt{job, n}] = executor.Handle{Backend: Name, JobID: job, Attempt: n}
		}
	}
	for _, h := range stale {
		if err := e.removeAll(ctx, h); err != nil {
			return err
		}
		if safeName(h.JobID) {
			for pod := range h.Pods {
				os.RemoveAll(filepath.Join(e.attemptDir(h.JobID, h.Attempt), pod, workDir))
			}
		}
		e.logger.Info("removed what an ended attempt left behind", "job", h.JobID, "attempt", h.Attempt, "containers", len(h.Pods))
	}
	return nil
}

// Cleanup removes the attempt's containers, network and working
// directories, keeping task.json and the logs until the job is deleted. It
// refuses while a pod still runs. The removal runs in the background: it
// is several podman processes the scheduling loop need not wait for, and
// should Atrium die first, Sweep finishes it at the next start.
func (e *Executor) Cleanup(ctx context.Context, h executor.Handle) error {
	t, err := e.attempt(h)
	if err != nil {
		return err
	}
	pods, err := e.Inspect(ctx, h)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if !p.Phase.Done() {
			return fmt.Errorf("container: job %s: pod %s still runs; stop it before cleaning up", h.JobID, p.Name)
		}
	}
	// Names from the attempt as started: a handle may lack them.
	h = executor.Handle{Backend: Name, JobID: t.JobID, Attempt: t.Attempt, Pods: map[string]string{}}
	for _, p := range t.Pods {
		h.Pods[p.Name] = containerName(t.JobID, t.Attempt, p.Name)
	}
	e.cleaning.Add(1)
	go func() {
		defer e.cleaning.Done()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		err := e.removeAll(cctx, h)
		for _, p := range t.Pods {
			err = errors.Join(err, os.RemoveAll(filepath.Join(e.attemptDir(t.JobID, t.Attempt), p.Name, workDir)))
		}
		if err != nil {
			e.logger.Warn("cleaning up an ended attempt (the next sweep retries)", "job", t.JobID, "attempt", t.Attempt, "err", err)
		}
	}()
	return nil
}

// WaitCleanups waits for the background clean-ups Cleanup started.
func (e *Executor) WaitCleanups() { e.cleaning.Wait() }

// removeAll removes the containers and the network of h, whatever state
// they are in.
func (e *Executor) removeAll(ctx context.Context, h executor.Handle) error {
	names := slices.Sorted(maps.Values(h.Pods))
	if len(names) > 0 {
		_, err := e.pm.run(ctx, append([]string{"rm", "--force", "--ignore", "--time", "0"}, names...)...)
		e.forget(names)
		if err != nil {
			return fmt.Errorf("container: job %s: %w", h.JobID, err)
		}
	}
	if err := e.removeNetwork(ctx, networkName(h.JobID, h.Attempt)); err != nil {
		return fmt.Errorf("container: job %s: %w", h.JobID, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
