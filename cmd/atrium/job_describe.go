package main

// atrium job describe: everything a user needs to answer "why is my job
// pending?" (or why it failed): the spec, the status and its reason with
// the scheduler's numbers, the queue position and what it means, the
// status history as a timeline, the pods and the recent events.

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"atrium"
)

// describeEvents is how many of the latest events describe shows.
const describeEvents = 15

// jobDescription is describe's -o json/yaml document: the job and its events.
type jobDescription struct {
	*atrium.Job
	Events []*atrium.JobEvent `json:"events"`
}

func newJobDescribeCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "describe ID",
		Short: "Show everything about a job: why it waits, its timeline, pods and events",
		Long: `Show a job in full: its spec (roles, images, resources, command), its status
with the reason code and message — for a queued job the scheduler's
numbers, its place in the queue and what would let it start — the status
history as a timeline with how long each state lasted, its pods (role, rank,
node, GPUs, exit code) and its latest events.

-o json or -o yaml prints the job with all its events.`,
		Example:           `  atrium job describe dlc-4kq2m7xw3a5bcdef`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeJobs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			j, err := s.client.GetJob(s.ctx, ws, args[0])
			if err != nil {
				return err
			}
			evs, err := s.client.JobEvents(s.ctx, ws, j.ID)
			if err != nil {
				return err
			}
			d := jobDescription{Job: j, Events: evs.Items}
			return s.print(d, func(w io.Writer) { describeJob(w, j, evs.Items, time.Now()) })
		}),
	}
}

func describeJob(w io.Writer, j *atrium.Job, evs []*atrium.JobEvent, now time.Time) {
	kv(w, "ID", j.ID, "Name", j.DisplayName, "Description", orDash(j.Description), "Type", j.JobType,
		"Workspace", j.WorkspaceID, "Creator", orDash(cmp(j.CreatorName, j.Creator)), "Accessibility", j.Accessibility,
		"Quota", j.QuotaID, "Priority", strconv.Itoa(j.Priority), "Max running time", maxRunText(j))
	fmt.Fprintln(w)

	// Status and why.
	kv(w, "Status", j.Status, "Reason", orDash(j.ReasonCode), "Message", orDash(j.ReasonMessage))
	if j.Status == atrium.JobQueuing && j.QueuePosition > 0 {
		kv(w, "Queue position", fmt.Sprintf("%d in quota %s (1 = next to be considered)", j.QueuePosition, j.QuotaID))
	}
	if why := whyWaiting(j); why != "" {
		kv(w, "What it waits for", why)
	}
	kv(w, "Submitted", fmtClock(j.SubmittedAt)+" ("+fmtAge(now.Sub(j.SubmittedAt))+" ago)",
		"Started", fmtClockPtr(j.StartedAt), "Finished", fmtClockPtr(j.FinishedAt))
	if j.StartedAt != nil {
		end, note := now, " so far"
		if j.FinishedAt != nil {
			end, note = *j.FinishedAt, ""
		}
		kv(w, "Running time", fmtDuration(end.Sub(*j.StartedAt))+note)
	}
	if j.Attempt > 1 {
		kv(w, "Attempt", fmt.Sprintf("%d (restarted or preempted %d times)", j.Attempt, j.Attempt-1))
	}
	if j.ResourceGroupID != "" {
		kv(w, "Runs on", fmt.Sprintf("resource group %s (%s executor)", j.ResourceGroupID, orDash(j.Backend)))
	}
	fmt.Fprintln(w)

	// Spec.
	sp := j.Spec
	fmt.Fprintln(w, "Spec:")
	if sp.Command != "" {
		fmt.Fprintf(w, "  Command:\t%s\n", cell(sp.Command))
	}
	if len(sp.Envs) > 0 {
		var envs []string
		for _, k := range sortedKeys(sp.Envs) {
			envs = append(envs, k+"="+sp.Envs[k])
		}
		fmt.Fprintf(w, "  Envs:\t%s\n", strings.Join(envs, " "))
	}
	for _, d := range sp.DataSources {
		src := cmp(d.DatasetID, d.URI)
		if d.Version != "" {
			src += "@" + d.Version
		}
		fmt.Fprintf(w, "  Data:\t%s at %s\n", src, d.MountPath)
	}
	if cs := sp.CodeSource; cs != nil {
		fmt.Fprintf(w, "  Code:\t%s %s at %s\n", cs.CodeSourceID, cmp(cs.Branch, cs.Commit), cs.MountPath)
	}
	if sp.RestartPolicy != "" && sp.RestartPolicy != "Never" {
		fmt.Fprintf(w, "  Restart policy:\t%s (max %d restarts)\n", sp.RestartPolicy, sp.MaxRestarts)
	}
	fmt.Fprintln(w, "  ROLE\tPODS\tIMAGE\tCPU\tMEMORY\tGPU\tGPU TYPE\tCOMMAND")
	for _, r := range sp.JobSpecs {
		gpu := "-"
		if r.Resources.GPU > 0 {
			gpu = strconv.FormatInt(r.Resources.GPU, 10)
		}
		cmd := "(job's)"
		if r.Command != "" {
			cmd = cell(r.Command)
		}
		fmt.Fprintf(w, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Type, r.PodCount, r.Image, orDash(string(r.Resources.CPU)),
			orDash(string(r.Resources.Memory)), gpu, orDash(r.Resources.GPUType), cmd)
	}
	fmt.Fprintln(w)

	// Timeline.
	fmt.Fprintln(w, "Status history:")
	fmt.Fprintln(w, "  TIME\tSTATUS\tFOR\tREASON\tMESSAGE")
	for i, h := range j.StatusHistory {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", fmtClock(h.Time), h.Status, stateDuration(j, i, now), orDash(h.ReasonCode), orDash(h.ReasonMessage))
	}
	fmt.Fprintln(w)

	// Pods.
	if len(j.Pods) == 0 {
		fmt.Fprintln(w, "Pods: none yet (pods are placed when the scheduler admits the job)")
	} else {
		running, total := podCounts(j)
		fmt.Fprintf(w, "Pods (%d, %d running):\n", total, running)
		fmt.Fprintln(w, "  NAME\tROLE\tRANK\tSTATUS\tNODE\tGPUS\tEXIT")
		for _, p := range j.Pods {
			exit := "-"
			if p.ExitCode != nil {
				exit = strconv.Itoa(*p.ExitCode)
			}
			fmt.Fprintf(w, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\n", p.Name, p.Role, p.Rank, p.Status, orDash(p.Node), gpuList(p.GPUs), exit)
		}
	}
	fmt.Fprintln(w)

	// Events.
	shown := evs
	if len(shown) > describeEvents {
		shown = shown[len(shown)-describeEvents:]
		fmt.Fprintf(w, "Events (latest %d of %d; 'atrium job events %s' lists all):\n", len(shown), len(evs), j.ID)
	} else {
		fmt.Fprintf(w, "Events (%d):\n", len(evs))
	}
	if len(shown) > 0 {
		fmt.Fprintln(w, "  TIME\tTYPE\tREASON\tMESSAGE")
	}
	for _, e := range shown {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", fmtClock(e.Time), e.Type, e.Reason, e.Message)
	}
}

func maxRunText(j *atrium.Job) string {
	if j.MaxRunningTime <= 0 {
		return "none"
	}
	return time.Duration(j.MaxRunningTime).String()
}

// stateDuration says how long the i-th statusHistory entry lasted: until
// the next one, or until now while it is the current state of a live job.
func stateDuration(j *atrium.Job, i int, now time.Time) string {
	h := j.StatusHistory
	switch {
	case i+1 < len(h):
		return fmtDuration(h[i+1].Time.Sub(h[i].Time))
	case atrium.JobFinished(h[i].Status):
		return "-"
	}
	return fmtDuration(now.Sub(h[i].Time)) + " so far"
}

func gpuList(gpus []int) string {
	if len(gpus) == 0 {
		return "-"
	}
	s := make([]string, len(gpus))
	for i, g := range gpus {
		s[i] = strconv.Itoa(g)
	}
	return strings.Join(s, ",")
}

// cell shortens a command or message for a table cell or progress line.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:99]) + "…"
	}
	return s
}

// whyWaiting explains a queued job's reason code in words: what has to
// change for it to start.
func whyWaiting(j *atrium.Job) string {
	if j.Status != atrium.JobQueuing {
		return ""
	}
	switch j.ReasonCode {
	case "QuotaExhausted":
		return fmt.Sprintf("room in the quota: the jobs running under it (or a parent quota) use what it may give. It starts when they end or are stopped ('atrium job list --quota %s --status Running'), or when its max is raised.", j.QuotaID)
	case "ExceedsQuotaMax":
		return "nothing: the job asks for more than the quota's max and can never start there. Submit it with fewer resources or to a larger quota."
	case "InsufficientNodeCapacity":
		return "free nodes: the quota allows the job, but the Ready nodes cannot hold the whole gang at once now. It starts when pods on them end."
	case "NoMatchingGPUType":
		return "a node of the requested gpuType: none is Ready in the quota's resource groups. Check gpuType in the spec against 'atrium rg get'."
	case "WaitingBehindHigherPriority", "StrictFIFOBlocked":
		return "the job ahead of it in the queue (see the message), which must start first."
	case atrium.ReasonPreempted:
		return "its turn again: it was preempted and returned to the queue."
	case "NotEvaluated", atrium.ReasonSubmitted:
		return "the scheduler, which looks at new jobs within a second or two."
	case "InvalidWorkload":
		return "nothing: the scheduler cannot place it as written (see the message); stop it and fix the spec."
	}
	return ""
}
