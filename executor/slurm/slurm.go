// Package slurm runs Atrium gangs on a Slurm cluster: each attempt is one
// batch job (sbatch) whose tasks are the pods, launched by srun through a
// generated wrapper that gives every task its pod's environment and records
// its exit code in a shared work directory. State comes from
// `scontrol show job` and, once Slurm has forgotten the job (MinJobAge), from
// those records; Stop is scancel; nodes are imported from
// `scontrol show node`.
//
// Every attempt runs as the Unix account of its Task.RunAs, never root:
// Atrium creates the attempt directory and its files owned by the account
// and runs sbatch as it (as root; a non-root Atrium can only submit as
// itself), so Slurm knows the job as the account's and its output files
// are the account's. scancel and scontrol stay Atrium's. Since the job's
// account owns the attempt directory, Atrium reads only its regular files
// there and follows no links. Images are refused: commands run on the
// nodes' hosts (atrium.HostImage).
//
// Layout of an attempt, under Config.WorkDir/<jobID>/<attempt>/:
//
//	job.sh          the sbatch script
//	wrapper.sh      run by srun for every task
//	env-N.sh        environment and command of task N's pod (0600)
//	task-N.log      the pod's stdout and stderr
//	task-N.start    "<unix time> <node>" when the pod started
//	task-N.exit     "<exit code> <unix time>" when it ended
//	work-N/         the pod's working directory
//	batch.log       output of the batch step (srun and Slurm messages)
//	stopped         written by Stop
//
// WorkDir must be on a filesystem that every node of the partition shares
// at the same path, and its parents must let the jobs' accounts pass
// (search permission); WorkDir and the <jobID> directories are made
// searchable, not listable, by everyone.
package slurm

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"atrium"
	"atrium/executor"
)

// Config configures the Slurm executor.
type Config struct {
	// Partition is used for tasks that name none (and filters
	// ImportNodes); empty means Slurm's default partition.
	Partition string
	// WorkDir holds the attempt directories; it must be shared by all
	// nodes at the same path, e.g. <data-dir>/slurm. Required.
	WorkDir string
	// PinNodes adds --nodelist with the nodes Atrium's scheduler chose;
	// by default Slurm places the tasks itself.
	PinNodes bool
	// Commands, looked up on PATH unless absolute; defaults are the plain
	// names.
	Sbatch, Scontrol, Scancel string
	// CommandTimeout bounds each Slurm command (default 30s).
	CommandTimeout time.Duration
	// PollInterval is how often Logs with follow and Stop look again
	// (default 500ms).
	PollInterval time.Duration
}

// Executor is the slurm backend.
type Executor struct {
	cfg    Config
	logger *slog.Logger
}

var _ executor.Executor = (*Executor)(nil)

// New returns a Slurm executor; it creates cfg.WorkDir.
func New(cfg Config, logger *slog.Logger) (*Executor, error) {
	if cfg.WorkDir == "" {
		return nil, errors.New("slurm: Config.WorkDir is required")
	}
	dir, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	if !plainPath.MatchString(dir) {
		return nil, fmt.Errorf("slurm: work directory %q must not contain spaces or shell characters", dir)
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if os.Geteuid() == 0 {
		// jobs run as other accounts, which must pass through (not list)
		if err := addSearch(dir); err != nil {
			return nil, err
		}
		if where := (&account{UID: 1<<32 - 2, GID: 1<<32 - 2}).searchBlocker(dir); where != "" {
			logger.Warn("slurm: jobs run as other Unix accounts, which cannot reach the work directory; they will fail to start until it moves "+
				"(a directory shared by all nodes whose parents others may search, e.g. ATRIUM_SLURM_WORK_DIR=/srv/atrium-slurm)",
				"workDir", dir, "blockedAt", where)
		}
	}
	cfg.WorkDir = dir
	cfg.Sbatch = cmp.Or(cfg.Sbatch, "sbatch")
	cfg.Scontrol = cmp.Or(cfg.Scontrol, "scontrol")
	cfg.Scancel = cmp.Or(cfg.Scancel, "scancel")
	cfg.CommandTimeout = cmp.Or(cfg.CommandTimeout, 30*time.Second)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 500*time.Millisecond)
	return &Executor{cfg: cfg, logger: logger}, nil
}

// Name returns "slurm".
func (e *Executor) Name() string { return atrium.BackendSlurm }

// Capabilities of the slurm backend: jobs outlive Atrium, logs are files,
// commands run on the nodes' hosts (no images: Start refuses any but
// atrium.HostImage), Slurm enforces --time.
func (e *Executor) Capabilities() executor.Capabilities {
	return executor.Capabilities{Recover: true, Logs: true, RunsImages: false, EnforcesTime: true}
}

var safeID = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// attemptDir is where an attempt's files live.
func (e *Executor) attemptDir(jobID string, attempt int) (string, error) {
	if !safeID.MatchString(jobID) || jobID == "." || jobID == ".." {
		return "", fmt.Errorf("slurm: invalid job id %q", jobID)
	}
	return filepath.Join(e.cfg.WorkDir, jobID, strconv.Itoa(attempt)), nil
}

// Start writes the scripts of t and submits them with sbatch. A job Slurm
// cannot run (unknown partition, GRES the cluster lacks, more memory than a
// node has) fails here with sbatch's message.
func (e *Executor) Start(ctx context.Context, t executor.Task) (executor.Handle, error) {
	dir, err := e.attemptDir(t.JobID, t.Attempt)
	if err != nil {
		return executor.Handle{}, err
	}
	s, err := buildScript(t, dir, cmp.Or(t.Partition, e.cfg.Partition), e.cfg.PinNodes)
	if err != nil {
		return executor.Handle{}, err
	}
	if err := checkImages(t); err != nil {
		return executor.Handle{}, err
	}
	acct, err := lookupAccount(t)
	if err != nil {
		return executor.Handle{}, err
	}
	if _, err := os.Lstat(dir); err == nil {
		return executor.Handle{}, fmt.Errorf("slurm: attempt %d of job %s (%s): %w", t.Attempt, t.JobID, dir, executor.ErrAlreadyStarted)
	}
	// <WorkDir>/<job> is Atrium's and only passed through; the attempt
	// directory and its files become the account's last, once written.
	jobDir := filepath.Dir(dir)
	if err := os.MkdirAll(jobDir, 0o711); err != nil {
		return executor.Handle{}, fmt.Errorf("slurm: %w", err)
	}
	if !acct.Self {
		if err := addSearch(jobDir); err != nil {
			return executor.Handle{}, err
		}
		if where := acct.searchBlocker(jobDir); where != "" {
			return executor.Handle{}, fmt.Errorf("slurm: the Unix account %s cannot reach the work directory %s: %s is in the way; "+
				"give the Slurm executor a work directory, shared by all nodes, whose parents others may search (o+x), "+
				"e.g. ATRIUM_SLURM_WORK_DIR=/srv/atrium-slurm for atrium serve", acct.Name, e.cfg.WorkDir, where)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return executor.Handle{}, fmt.Errorf("slurm: %w", err)
	}
	fail := func(err error) (executor.Handle, error) {
		os.RemoveAll(dir)
		return executor.Handle{}, err
	}
	files := map[string]string{batchFile: s.Batch, wrapperFile: s.Wrapper}
	for i, env := range s.Env {
		files[envFile(i)] = env
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			return fail(fmt.Errorf("slurm: %w", err))
		}
		if err := acct.give(path); err != nil {
			return fail(err)
		}
	}
	if err := acct.give(dir); err != nil {
		return fail(err)
	}
	out, err := e.runAs(ctx, acct, dir, e.cfg.Sbatch, "--parsable", filepath.Join(dir, batchFile))
	if err != nil {
		return fail(err)
	}
	// --parsable prints "id" or "id;cluster"
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return fail(fmt.Errorf("slurm: unexpected sbatch output %q", out))
	}
	h := executor.Handle{Backend: atrium.BackendSlurm, JobID: t.JobID, Attempt: t.Attempt, Ref: id, Pods: map[string]string{}}
	for i, p := range s.Pods {
		h.Pods[p.Name] = taskIndex(i)
	}
	e.logger.Info("slurm job submitted", "job", t.JobID, "attempt", t.Attempt, "slurmJob", id, "tasks", len(s.Pods), "account", acct.Name)
	return h, nil
}

// pods returns the pod names of h by task index.
func podNames(h executor.Handle) ([]string, error) {
	names := make([]string, len(h.Pods))
	for name, ref := range h.Pods {
		i, err := strconv.Atoi(ref)
		if err != nil || i < 0 || i >= len(names) || names[i] != "" {
			return nil, fmt.Errorf("slurm: bad task index %q for pod %s in handle", ref, name)
		}
		names[i] = name
	}
	return names, nil
}

func (e *Executor) checkHandle(h executor.Handle) (dir string, err error) {
	if h.Backend != atrium.BackendSlurm {
		return "", fmt.Errorf("slurm: handle of backend %q", h.Backend)
	}
	if _, err := strconv.ParseUint(h.Ref, 10, 64); err != nil {
		return "", fmt.Errorf("slurm: bad job id %q in handle", h.Ref)
	}
	return e.attemptDir(h.JobID, h.Attempt)
}

// query asks Slurm about job id; Found is false when Slurm does not know it.
func (e *Executor) query(ctx context.Context, id string) (jobInfo, error) {
	out, err := e.run(ctx, e.cfg.Scontrol, "show", "job", "-o", id)
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return jobInfo{}, nil
		}
		return jobInfo{}, err
	}
	return parseJob(out)
}

// records reads the wrapper's start and exit files of n tasks.
func readRecords(dir string, n int) []taskRecord {
	recs := make([]taskRecord, n)
	for i := range recs {
		if b, err := readJobFile(dir, startFile(i), recordLimit); err == nil {
			parseStart(string(b), &recs[i])
		}
		if b, err := readJobFile(dir, exitFile(i), recordLimit); err == nil {
			parseExit(string(b), &recs[i])
		}
	}
	return recs
}

// recordLimit bounds what is read of a start or exit record.
const recordLimit = 4 << 10

// exists reports whether path is there (a symbolic link counts; it is not
// followed: the attempt directory is the job account's).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// addSearch lets everyone pass through dir (search, not list).
func addSearch(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("slurm: %w", err)
	}
	if fi.Mode().Perm()&0o011 != 0o011 {
		if err := os.Chmod(dir, fi.Mode().Perm()|0o011); err != nil {
			return fmt.Errorf("slurm: %w", err)
		}
	}
	return nil
}

// Inspect reports every pod of the attempt: Slurm's job state while Slurm
// knows the job, the wrapper's exit records after; ErrNotFound when neither
// exists.
func (e *Executor) Inspect(ctx context.Context, h executor.Handle) ([]executor.PodStatus, error) {
	dir, err := e.checkHandle(h)
	if err != nil {
		return nil, err
	}
	names, err := podNames(h)
	if err != nil {
		return nil, err
	}
	ji, err := e.query(ctx, h.Ref)
	if err != nil {
		return nil, err
	}
	if !ji.Found && !exists(dir) {
		return nil, executor.ErrNotFound
	}
	recs := readRecords(dir, len(names))
	return podStatuses(h.Ref, names, ji, recs, exists(filepath.Join(dir, stopFile))), nil
}

// Stop cancels the Slurm job: scancel sends SIGTERM to every task (and
// SIGKILL after the cluster's KillWait); if anything still runs after grace,
// scancel --signal=KILL follows. The job ends CANCELLED. Stopping an ended
// job does nothing.
func (e *Executor) Stop(ctx context.Context, h executor.Handle, grace time.Duration) error {
	dir, err := e.checkHandle(h)
	if err != nil {
		return err
	}
	ji, err := e.query(ctx, h.Ref)
	if err != nil {
		return err
	}
	if !ji.active() {
		return nil
	}
	if err := writeMarker(filepath.Join(dir, stopFile), []byte(time.Now().UTC().Format(time.RFC3339)+"\n")); err != nil {
		e.logger.Warn("slurm: cannot record stop", "dir", dir, "err", err)
	}
	if _, err := e.run(ctx, e.cfg.Scancel, h.Ref); err != nil && !ignorableCancel(err) {
		return err
	}
	e.logger.Info("slurm job cancelled", "job", h.JobID, "attempt", h.Attempt, "slurmJob", h.Ref)
	deadline := time.Now().Add(grace)
	killed := false
	for {
		ji, err := e.query(ctx, h.Ref)
		if err != nil {
			return err
		}
		if !ji.active() {
			return nil
		}
		if !killed && !time.Now().Before(deadline) {
			killed = true
			if _, err := e.run(ctx, e.cfg.Scancel, "--signal=KILL", "--full", h.Ref); err != nil && !ignorableCancel(err) {
				return err
			}
			// Slurm needs a moment to collect the killed tasks
			deadline = time.Now().Add(15 * time.Second)
		} else if killed && !time.Now().Before(deadline) {
			return fmt.Errorf("slurm: job %s still %s after SIGKILL", h.Ref, ji.State)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(e.cfg.PollInterval, 250*time.Millisecond)):
		}
	}
}

// ignorableCancel: the job ended or Slurm forgot it meanwhile.
func ignorableCancel(err error) bool {
	s := err.Error()
	return strings.Contains(s, "already completing or completed") || strings.Contains(s, "Invalid job id") ||
		strings.Contains(s, "Job/step already completing")
}

// Recover re-adopts an attempt: nil while Slurm knows the job or the wrapper
// left records of it, else ErrNotFound. Nothing has to be reattached; later
// calls read Slurm and the attempt directory again.
func (e *Executor) Recover(ctx context.Context, h executor.Handle) error {
	dir, err := e.checkHandle(h)
	if err != nil {
		return err
	}
	ji, err := e.query(ctx, h.Ref)
	if err != nil {
		return err
	}
	if ji.Found {
		return nil
	}
	names, err := podNames(h)
	if err != nil {
		return err
	}
	if exists(filepath.Join(dir, stopFile)) {
		return nil
	}
	for i := range names {
		if exists(filepath.Join(dir, exitFile(i))) {
			return nil
		}
	}
	return executor.ErrNotFound
}

// Logs copies the pod's output file to w; with follow it keeps copying
// until the pod has ended (its exit record appears or Slurm says the job is
// over) or ctx is done.
func (e *Executor) Logs(ctx context.Context, h executor.Handle, pod string, follow bool, w io.Writer) error {
	dir, err := e.checkHandle(h)
	if err != nil {
		return err
	}
	ref, ok := h.Pods[pod]
	if !ok {
		return fmt.Errorf("slurm: no pod %q in job %s: %w", pod, h.JobID, executor.ErrNotFound)
	}
	i, err := strconv.Atoi(ref)
	if err != nil {
		return fmt.Errorf("slurm: bad task index %q", ref)
	}
	var off int64
	copyNew := func() error {
		f, err := openJobFile(dir, logFile(i))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err
		}
		n, err := io.Copy(w, f)
		off += n
		return err
	}
	if !follow {
		if !exists(dir) {
			return executor.ErrNotFound
		}
		return copyNew()
	}
	for poll := 0; ; poll++ {
		if err := copyNew(); err != nil {
			return err
		}
		ended := exists(filepath.Join(dir, exitFile(i)))
		if !ended && poll%4 == 0 { // ask Slurm now and then: killed tasks leave no record
			ji, err := e.query(ctx, h.Ref)
			if err != nil {
				return err
			}
			ended = !ji.active()
		}
		if ended {
			return copyNew()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(e.cfg.PollInterval):
		}
	}
}

// Cleanup removes the generated scripts, env files (they may hold secrets)
// and working directories of an attempt whose pods have all ended (an
// error while any may still run); logs and exit records stay
// until the job is deleted.
func (e *Executor) Cleanup(ctx context.Context, h executor.Handle) error {
	dir, err := e.checkHandle(h)
	if err != nil {
		return err
	}
	ji, err := e.query(ctx, h.Ref)
	if err != nil {
		return err
	}
	if ji.active() {
		// the tasks may all have ended while Slurm winds the job down
		names, err := podNames(h)
		if err != nil {
			return err
		}
		for _, r := range readRecords(dir, len(names)) {
			if !r.Exited {
				return fmt.Errorf("slurm: job %s is still %s", h.Ref, ji.State)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, ent := range entries {
		n := ent.Name()
		if strings.HasPrefix(n, "env-") || strings.HasPrefix(n, "work-") || n == wrapperFile {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// run runs a Slurm command and returns its stdout; the error carries its
// stderr.
func (e *Executor) run(ctx context.Context, name string, args ...string) (string, error) {
	return e.runAs(ctx, &account{Self: true}, "", name, args...)
}

// runAs is run as the account a, in dir ("" for Atrium's own).
func (e *Executor) runAs(ctx context.Context, a *account, dir, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.CommandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Dir, cmd.Env, cmd.SysProcAttr = dir, a.env(), a.credential()
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return "", fmt.Errorf("slurm: %s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}
