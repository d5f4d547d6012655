package slurm

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"atrium/executor"
)

// jobInfo is what `scontrol show job -o` says about a job.
type jobInfo struct {
	Found    bool   // false: Slurm does not know the job (any more)
	State    string // JobState: PENDING, RUNNING, COMPLETED…
	Reason   string
	ExitCode int // of the batch script (srun: the highest task code)
	Signal   int
	NodeList string
	Start    time.Time
	End      time.Time
}

// parseKV splits a one-line scontrol record (Key=Value Key=Value …) into a
// map; a word without "=" belongs to the value before it (values may hold
// spaces).
func parseKV(line string) map[string]string {
	m := map[string]string{}
	last := ""
	for _, w := range strings.Fields(line) {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			if last != "" {
				m[last] += " " + w
			}
			continue
		}
		m[k] = v
		last = k
	}
	return m
}

// parseJob parses the output of `scontrol show job -o ID`.
func parseJob(out string) (jobInfo, error) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "JobId=") {
			continue
		}
		m := parseKV(line)
		ji := jobInfo{Found: true, State: m["JobState"], Reason: m["Reason"], NodeList: m["NodeList"]}
		if ji.State == "" {
			return jobInfo{}, fmt.Errorf("slurm: no JobState in %q", line)
		}
		if c, s, ok := strings.Cut(m["ExitCode"], ":"); ok {
			ji.ExitCode, _ = strconv.Atoi(c)
			ji.Signal, _ = strconv.Atoi(s)
		}
		ji.Start = parseTime(m["StartTime"])
		ji.End = parseTime(m["EndTime"])
		if ji.NodeList == "(null)" {
			ji.NodeList = ""
		}
		return ji, nil
	}
	return jobInfo{}, fmt.Errorf("slurm: no job in scontrol output %q", strings.TrimSpace(out))
}

// parseTime reads scontrol's local times (2026-11-29T19:38:15); Unknown,
// None and N/A are zero.
func parseTime(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local)
	if err != nil {
		return time.Time{}
	}
	return t
}

// stateClass groups Slurm job states by what they mean for the pods.
type stateClass int

const (
	classPending stateClass = iota
	classRunning
	classSucceeded
	classFailed
	classStopped
)

// classify maps a Slurm job state (JobState of scontrol, %T of squeue, with
// or without flags such as "CANCELLED by 0") to a class.
func classify(state string) stateClass {
	s, _, _ := strings.Cut(strings.TrimSpace(state), " ")
	switch strings.ToUpper(s) {
	case "PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "RESV_DEL_HOLD":
		return classPending
	case "RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "UPDATE_DB":
		return classRunning
	case "COMPLETED":
		return classSucceeded
	case "CANCELLED":
		return classStopped
	default: // FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL, DEADLINE, PREEMPTED, SPECIAL_EXIT, REVOKED
		return classFailed
	}
}

// active reports whether a job in this state may still have processes.
func (ji jobInfo) active() bool {
	if !ji.Found {
		return false
	}
	c := classify(ji.State)
	return c == classPending || c == classRunning
}

// taskRecord is what the wrapper left in the attempt directory for a task.
type taskRecord struct {
	Started  time.Time
	Node     string
	Exited   bool
	ExitCode int
	Finished time.Time
}

// parseStart reads a task-N.start file: "<unix seconds> <node>".
func parseStart(s string, r *taskRecord) {
	f := strings.Fields(s)
	if len(f) >= 1 {
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			r.Started = time.Unix(n, 0)
		}
	}
	if len(f) >= 2 {
		r.Node = f[1]
	}
}

// parseExit reads a task-N.exit file: "<exit code> <unix seconds>".
func parseExit(s string, r *taskRecord) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return
	}
	c, err := strconv.Atoi(f[0])
	if err != nil {
		return
	}
	r.Exited, r.ExitCode = true, c
	if len(f) >= 2 {
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			r.Finished = time.Unix(n, 0)
		}
	}
}

// podStatuses combines Slurm's view of the job with the wrapper's records
// into one status per pod (names[i] runs as task i). stopped says Stop was
// called for the attempt. A task that exited 0 has succeeded; any other task
// takes its phase from the job state once Slurm has ended the job, or from
// its exit record (and the stop mark) once Slurm has forgotten it.
func podStatuses(jobID string, names []string, ji jobInfo, recs []taskRecord, stopped bool) []executor.PodStatus {
	out := make([]executor.PodStatus, len(names))
	class := classify(ji.State)
	for i, name := range names {
		r := recs[i]
		st := executor.PodStatus{Name: name, Node: r.Node, StartedAt: r.Started, FinishedAt: r.Finished}
		if st.Node == "" && ji.Found && !strings.ContainsAny(ji.NodeList, "[,") {
			st.Node = ji.NodeList
		}
		if r.Exited {
			st.ExitCode = intPtr(r.ExitCode)
		}
		switch {
		case r.Exited && r.ExitCode == 0:
			st.Phase = executor.PodSucceeded
		case !ji.Found:
			switch {
			case stopped:
				st.Phase, st.Message = executor.PodStopped, "stopped"
			case r.Exited:
				st.Phase, st.Message = executor.PodFailed, fmt.Sprintf("exited with code %d", r.ExitCode)
			default:
				st.Phase = executor.PodLost
				st.Message = fmt.Sprintf("Slurm no longer knows job %s and the task left no exit record", jobID)
			}
		case class == classPending:
			st.Phase = executor.PodPending
			if ji.Reason != "" && ji.Reason != "None" {
				st.Message = "Slurm: " + ji.Reason
			}
		case class == classRunning:
			// a task that failed is reported when Slurm has ended the job
			// (kill-on-bad-exit ends it within seconds): only then is it
			// known whether it was a failure, a time limit or a cancel
			st.Phase = executor.PodRunning
			if r.Exited {
				st.Message = fmt.Sprintf("exited with code %d, Slurm job %s", r.ExitCode, ji.State)
			}
		case class == classSucceeded:
			st.Phase = executor.PodSucceeded
			st.ExitCode = intPtr(0)
		case class == classStopped:
			st.Phase, st.Message = executor.PodStopped, "Slurm job "+ji.State
		default:
			st.Phase = executor.PodFailed
			st.Message = "Slurm job " + ji.State
			if ji.Reason != "" && ji.Reason != "None" {
				st.Message += " (" + ji.Reason + ")"
			}
			if r.Exited {
				st.Message += fmt.Sprintf(", exited with code %d", r.ExitCode)
			} else if len(names) == 1 && (ji.ExitCode != 0 || ji.Signal != 0) {
				// the batch exit code is the only task's
				code := ji.ExitCode
				if ji.Signal != 0 {
					code = 128 + ji.Signal
				}
				st.ExitCode = intPtr(code)
			}
		}
		if st.Phase.Done() && st.FinishedAt.IsZero() && ji.Found {
			st.FinishedAt = ji.End
		}
		if st.StartedAt.IsZero() && ji.Found && class != classPending {
			st.StartedAt = ji.Start
		}
		out[i] = st
	}
	return out
}

func intPtr(i int) *int { return &i }
