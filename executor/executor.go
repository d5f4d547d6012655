// Package executor defines how Atrium runs an admitted job's gang on a
// backend, shaped by the job lifecycle as in Nomad's driver plugins: Start,
// Inspect, Stop, Recover (re-adopt after an Atrium restart), Logs,
// Capabilities. Backends live in subpackages (local, slurm).
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Task is one attempt of a job's gang, everything a backend needs to run it.
type Task struct {
	JobID       string
	WorkspaceID string
	Attempt     int // 1 for the first admission; part of names so attempts never clash
	Image       string
	// MaxRunningTime, when set, is passed to backends that enforce it
	// themselves (Slurm --time); Atrium enforces it too.
	MaxRunningTime time.Duration
	// Partition is the Slurm partition of the resource group.
	Partition string
	// Mounts are the host paths every pod sees (data sources, pipeline
	// inputs and outputs). Backends that run containers bind them; the
	// process backend shares the host's file system anyway.
	Mounts []Mount
	Pods   []PodTask

	// RunAs is the Unix account the pods run as (slurm: mapped for the
	// job's creator and workspace; never root); "" on other backends.
	RunAs string
}

// Check refuses a task no backend can run as given: a job id or pod name
// that nameOK (the backend's naming rule) refuses, an attempt below 1, no
// pods, a pod name twice, an environment variable that cannot be set.
func (t Task) Check(nameOK func(string) bool) error {
	if !nameOK(t.JobID) {
		return fmt.Errorf("job id %q cannot name an attempt here", t.JobID)
	}
	if t.Attempt < 1 {
		return fmt.Errorf("attempt %d of job %s: attempts count from 1", t.Attempt, t.JobID)
	}
	if len(t.Pods) == 0 {
		return fmt.Errorf("job %s has no pods", t.JobID)
	}
	seen := map[string]bool{}
	for _, p := range t.Pods {
		if !nameOK(p.Name) || seen[p.Name] {
			return fmt.Errorf("pod name %q cannot name a pod here or appears twice", p.Name)
		}
		seen[p.Name] = true
		for k, v := range p.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
				return fmt.Errorf("pod %s: environment variable %q cannot be set", p.Name, k)
			}
		}
	}
	return nil
}

// Mount binds a host path into a pod at Target.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
	// Owned: the pod's user must be able to write it (job outputs); the
	// backend hands the directory to that user.
	Owned bool `json:"owned,omitempty"`
	// Env, when set, names a variable that tells the pod where the mount
	// is: Target in a container, Source for a host process.
	Env string `json:"env,omitempty"`
}

// PodTask is one pod of the gang.
type PodTask struct {
	Name    string            // unique in the job, e.g. master-0, worker-2
	Role    string            // Master, Worker…
	Rank    int               // RANK; 0 is the coordinator
	Node    string            // node the scheduler placed it on
	GPUs    []int             // device indices on that node → CUDA_VISIBLE_DEVICES
	Command string            // run by /bin/sh -c
	Image   string            // run by container backends; recorded by the process backend
	Env     map[string]string // user envs plus RANK, WORLD_SIZE, MASTER_ADDR…
	CPU     int64             // milli-cores, for backends that reserve them
	Memory  int64             // bytes
	GPU     int64
	GPUType string
}

// Handle is the backend's reference to a started attempt, stored with the
// job (opaque JSON) so a restarted Atrium can find it again.
type Handle struct {
	Backend string `json:"backend"`
	JobID   string `json:"jobId"`
	Attempt int    `json:"attempt"`
	// Ref is backend-specific: the local backend's attempt directory, the
	// Slurm job id.
	Ref string `json:"ref"`
	// Pods maps pod name to a backend reference (pid and start time…).
	Pods map[string]string `json:"pods,omitempty"`
}

// PodPhase is a pod's state as the backend sees it.
type PodPhase string

// Pod phases.
const (
	PodPending   PodPhase = "Pending"   // accepted, not started yet (Slurm PENDING)
	PodRunning   PodPhase = "Running"   // executing
	PodSucceeded PodPhase = "Succeeded" // exited 0
	PodFailed    PodPhase = "Failed"    // exited non-zero, or killed by a signal
	PodStopped   PodPhase = "Stopped"   // ended by Stop
	PodLost      PodPhase = "Lost"      // gone without a recorded end (machine reboot…)
)

// Done reports whether the phase is final.
func (p PodPhase) Done() bool {
	return p == PodSucceeded || p == PodFailed || p == PodStopped || p == PodLost
}

// PodStatus is what Inspect reports for one pod.
type PodStatus struct {
	Name       string
	Phase      PodPhase
	ExitCode   *int
	Node       string
	StartedAt  time.Time
	FinishedAt time.Time
	Message    string // why it failed or was lost, for the job's events
	// Reason is a machine-readable cause of a failure the backend knows,
	// such as ReasonOOMKilled; the job's reason becomes it.
	Reason string
	// Address is where the pod's own network can be reached from Atrium's
	// host (a container's IP), empty when the pod shares the host's.
	Address string
}

// Failure reasons a backend reports for a pod or a start.
const (
	ReasonOOMKilled       = "OOMKilled"
	ReasonImagePullFailed = "ImagePullFailed"
)

// Capabilities says what a backend can do.
type Capabilities struct {
	// Recover: running pods survive an Atrium restart and are re-adopted.
	Recover bool
	// Logs: pod logs can be read (and followed) through Atrium.
	Logs bool
	// RunsImages: the image is pulled and run; false means the command runs
	// on the host and the image is only recorded.
	RunsImages bool
	// EnforcesTime: the backend itself ends pods after MaxRunningTime.
	EnforcesTime bool
}

// ErrAlreadyStarted is returned by Start for an attempt that exists: an
// attempt runs at most once, whoever asks twice.
var ErrAlreadyStarted = errors.New("executor: attempt already started")

// ErrNotFound is returned when a handle no longer names anything the backend
// knows (for instance after the attempt directory was removed).
var ErrNotFound = errors.New("executor: attempt not found")

// ImagePullError is returned by Start when the image of a pod cannot be
// found or pulled; nothing of the gang was started.
type ImagePullError struct {
	Image string
	Err   error
}

func (e *ImagePullError) Error() string {
	return fmt.Sprintf("image %s cannot be pulled: %v", e.Image, e.Err)
}

func (e *ImagePullError) Unwrap() error { return e.Err }

// Executor runs gangs on one backend. Every method is safe for concurrent use.
type Executor interface {
	// Name is the backend name: local, slurm, kubernetes.
	Name() string
	Capabilities() Capabilities
	// Start launches all pods of t and returns the handle at once; it does
	// not wait for them. On error nothing keeps running.
	Start(ctx context.Context, t Task) (Handle, error)
	// Inspect reports every pod of the attempt.
	Inspect(ctx context.Context, h Handle) ([]PodStatus, error)
	// Stop ends every pod of the attempt (gracefully, then by force after
	// grace); stopping an ended attempt is not an error.
	Stop(ctx context.Context, h Handle, grace time.Duration) error
	// Recover re-adopts an attempt after Atrium restarted; ErrNotFound when
	// it is gone without trace.
	Recover(ctx context.Context, h Handle) error
	// Logs writes the pod's output to w; with follow it keeps writing until
	// the pod ends or ctx is done.
	Logs(ctx context.Context, h Handle, pod string, follow bool, w io.Writer) error
	// Cleanup removes what the attempt left behind (work directories, log
	// files are kept until the job is deleted).
	Cleanup(ctx context.Context, h Handle) error
}
