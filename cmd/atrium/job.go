package main

// atrium job …: DLC training jobs. Submitting, listing and
// changing jobs are here; describe is in job_describe.go and the live
// progress of --wait in job_wait.go.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newJobCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "job",
		Aliases: []string{"jobs"},
		Short:   "Submit, watch, list and stop training jobs",
		Long: `DLC training jobs (PyTorchJob, TFJob, MPIJob, XGBoostJob, RayJob, CustomJob)
of the selected workspace. A job is written as YAML or JSON (see
examples/jobs/): its roles with pod counts, images and resources,
a command, the quota it runs under and its priority. Submitted jobs queue in
their quota; the scheduler starts each as a gang when the quota and the
nodes have room, and 'atrium job describe' says why a job is still waiting.

Jobs are named by their id (dlc-…), as 'atrium job list' shows it.`,
	}
	cmd.AddCommand(newJobSubmitCmd(c), newJobListCmd(c), newJobGetCmd(c), newJobDescribeCmd(c),
		newJobStopCmd(c), newJobDeleteCmd(c), newJobLogsCmd(c), newJobEventsCmd(c), newJobUpdateCmd(c))
	return c.addGlobalFlags(cmd)
}

// readSpec reads a job spec from a file, or from stdin for "-".
func readSpec(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "" {
		return nil, &hintError{msg: "-f is required", hint: "give the job spec file, e.g. 'atrium job submit -f job.yaml' (see examples/jobs/), or -f - to read it from stdin"}
	}
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), atrium.MaxSpecBytes+1))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("-f: %w", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, fmt.Errorf("-f %s: the job spec is empty", path)
	}
	return b, nil
}

func newJobSubmitCmd(c *cli) *cobra.Command {
	var (
		file      string
		dryRun    bool
		wait      bool
		pollEvery time.Duration
	)
	cmd := &cobra.Command{
		Use:   "submit -f FILE",
		Short: "Submit a training job from a YAML or JSON spec",
		Long: `Submit a training job. The spec is YAML or JSON (see examples/jobs/);
-f - reads it from stdin. The server checks it against the workspace's rules
(roles of the job type, quota bound to the workspace, your priority cap, the
running-time cap) and answers 400 naming the field when something is wrong.

--dry-run creates nothing: it says whether the job would start now, on which
nodes and preempting whom, or why and where in the queue it would wait.

--wait follows the job until it ends with a progress line (status, reason,
queue position, pods running), redrawn in place on a terminal and printed as
plain lines when it changes otherwise. The command then exits 0 if the job
Succeeded and 1 if it Failed or was Stopped, printing why. Ctrl-C stops
waiting, not the job.

With -o json or -o yaml the job is printed as the API returns it: the created
job, or with --wait the job as it ended (progress goes to stderr).`,
		Example: `  atrium job submit -f examples/jobs/gpu-gang.yaml
  atrium job submit -f job.yaml --dry-run
  atrium job submit -f job.yaml --wait
  cat job.json | atrium job submit -f - -o json`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			spec, err := readSpec(s.cmd, file)
			if err != nil {
				return err
			}
			if dryRun && wait {
				return errors.New("--dry-run and --wait exclude each other: a dry run creates no job to wait for")
			}
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			if dryRun {
				r, err := s.client.DryRunJob(s.ctx, ws, spec)
				if err != nil {
					return err
				}
				return s.print(r, func(w io.Writer) { fmt.Fprintln(w, dryRunText(r)) })
			}
			j, err := s.client.SubmitJob(s.ctx, ws, spec)
			if err != nil {
				return err
			}
			if !wait {
				return s.print(j, func(w io.Writer) { fmt.Fprintln(w, submittedText(j)) })
			}
			s.message("%s", submittedText(j))
			j, err = s.waitJob(ws, j, pollEvery)
			if err != nil {
				return err
			}
			if err := s.print(j, func(w io.Writer) { fmt.Fprintln(w, endedText(j)) }); err != nil {
				return err
			}
			return jobOutcome(j)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "job spec, YAML or JSON; - reads stdin")
	f.BoolVar(&dryRun, "dry-run", false, "only say whether and where the job would run now, or why it would wait")
	f.BoolVar(&wait, "wait", false, "follow the job until it ends; exit 1 unless it Succeeded")
	f.DurationVar(&pollEvery, "poll-interval", time.Second, "with --wait: how often to ask the server")
	_ = f.MarkHidden("poll-interval")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml", "json")
	return cmd
}

func submittedText(j *atrium.Job) string {
	return fmt.Sprintf("Submitted job %s (%s) to quota %s at priority %d: %s", j.ID, j.DisplayName, j.QuotaID, j.Priority, j.Status)
}

// dryRunText puts the what-if answer in plain words.
func dryRunText(r *httpapi.DryRunResult) string {
	if !r.Admitted {
		s := fmt.Sprintf("Would wait in quota %s at priority %d: %s", r.QuotaID, r.Priority, orDash(r.ReasonCode))
		if r.ReasonMessage != "" {
			s += " — " + r.ReasonMessage
		}
		if r.QueuePosition > 0 {
			s += fmt.Sprintf(", position %d in the queue", r.QueuePosition)
		}
		return s
	}
	// Group the pods by node, nodes in the order they first appear.
	var nodes []string
	byNode := map[string][]string{}
	for _, p := range r.Pods {
		if _, ok := byNode[p.Node]; !ok {
			nodes = append(nodes, p.Node)
		}
		byNode[p.Node] = append(byNode[p.Node], p.Name)
	}
	var where []string
	for _, n := range nodes {
		where = append(where, fmt.Sprintf("%s (%s)", orDash(n), strings.Join(byNode[n], ", ")))
	}
	s := fmt.Sprintf("Would start now in quota %s at priority %d", r.QuotaID, r.Priority)
	if len(where) > 0 {
		s += " on " + strings.Join(where, " and ")
	}
	if len(r.Preempts) > 0 {
		s += "; preempting " + strings.Join(r.Preempts, ", ") + " (they return to the queue)"
	}
	return s
}

// endedText is the one-line outcome of a finished job.
func endedText(j *atrium.Job) string {
	s := fmt.Sprintf("Job %s %s", j.ID, j.Status)
	if j.ReasonCode != "" {
		s += ": " + j.ReasonCode
		if j.ReasonMessage != "" {
			s += " — " + j.ReasonMessage
		}
	}
	if j.StartedAt != nil && j.FinishedAt != nil {
		s += fmt.Sprintf(" (ran %s)", fmtDuration(j.FinishedAt.Sub(*j.StartedAt)))
	}
	return s
}

// jobOutcome is the exit status of a waited-for job: nil when it
// Succeeded, else an error saying why it did not.
func jobOutcome(j *atrium.Job) error {
	if j.Status == atrium.JobSucceeded {
		return nil
	}
	msg := fmt.Sprintf("job %s ended %s", j.ID, j.Status)
	if j.ReasonCode != "" {
		msg += ": " + j.ReasonCode
		if j.ReasonMessage != "" {
			msg += " — " + j.ReasonMessage
		}
	}
	var failed []string
	for _, p := range j.Pods {
		if p.ExitCode != nil && *p.ExitCode != 0 {
			failed = append(failed, fmt.Sprintf("%s exited %d", p.Name, *p.ExitCode))
		}
	}
	hint := "'atrium job describe " + j.ID + "' shows its history and events"
	if len(failed) > 0 {
		msg += " (" + strings.Join(failed, ", ") + ")"
		hint = "'atrium job logs " + j.ID + "' shows the pods' output; 'atrium job describe " + j.ID + "' its history"
	}
	return &hintError{msg: msg, hint: hint}
}

// canonical returns the entry of list equal to s ignoring case.
func canonical(flag, s string, list []string) (string, error) {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return x, nil
		}
	}
	return "", fmt.Errorf("%s: %q is not one of %s", flag, s, strings.Join(list, ", "))
}

var jobStatusNames = []string{atrium.JobCreating, atrium.JobQueuing, atrium.JobEnvPreparing, atrium.JobRunning, atrium.JobSucceeded,
	atrium.JobFailed, atrium.JobStopping, atrium.JobStopped, atrium.JobRestarting}

// quotaRef turns a quota name into its id (quota-<name>); ids stay.
func quotaRef(s string) string {
	if s == "" || strings.HasPrefix(s, "quota-") {
		return s
	}
	return "quota-" + s
}

func newJobListCmd(c *cli) *cobra.Command {
	var (
		lf      jobListFlags
		jobType string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List training jobs, newest first",
		Long: `List the workspace's training jobs you may see — your own and PUBLIC ones;
Operators and Admins see all — newest first. One page (--page-size, default
50) is fetched unless --all-pages is given.

REASON shows why a job is where it is; for a queued job it starts with its
place in the quota's queue, e.g. "#2 QuotaExhausted".`,
		Example: `  atrium job list
  atrium job list --status Queuing,Running --creator me
  atrium job list --type PyTorchJob --quota public --all-pages -o json`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			var opt httpapi.ListJobsOptions
			if jobType != "" {
				t, err := canonical("--type", jobType, atrium.JobTypes())
				if err != nil {
					return err
				}
				opt.JobType = t
			}
			return lf.list(s, jobStatusNames, jobTable, func(ws string, q jobQuery, p httpapi.PageOptions) (*httpapi.List[*atrium.Job], error) {
				opt.Status, opt.Creator, opt.QuotaID, opt.PageOptions = q.status, q.creator, q.quota, p
				return s.client.ListJobs(s.ctx, ws, opt)
			})
		}),
	}
	lf.register(cmd, "jobs", "Queuing,Running,…", jobStatusNames)
	cmd.Flags().StringVar(&jobType, "type", "", "only jobs of this type: "+strings.Join(atrium.JobTypes(), ", "))
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(atrium.JobTypes(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// jobListFlags are the filters and paging flags job and DSW lists share.
type jobListFlags struct {
	statuses       []string
	creator, quota string
	allPages       bool
	pageSize       int
	pageToken      string
}

// jobQuery is the resolved filter of a list call.
type jobQuery struct {
	status         []string
	creator, quota string
}

func (lf *jobListFlags) register(cmd *cobra.Command, noun, example string, statuses []string) {
	f := cmd.Flags()
	f.StringSliceVar(&lf.statuses, "status", nil, "only "+noun+" in these statuses (comma-separated: "+example+")")
	f.StringVar(&lf.creator, "creator", "", "only "+noun+" of this user: me, a user id (u-…) or, for a ResourceAdmin, a user name")
	f.StringVar(&lf.quota, "quota", "", "only "+noun+" in this quota (id or name)")
	f.BoolVar(&lf.allPages, "all-pages", false, "fetch every page")
	f.IntVar(&lf.pageSize, "page-size", 50, noun+" per page (1–500)")
	f.StringVar(&lf.pageToken, "page-token", "", "continue a paged listing")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(statuses, cobra.ShellCompDirectiveNoFileComp))
}

// list resolves the flags, fetches the page(s) and prints them.
func (lf *jobListFlags) list(s *session, statusNames []string, table func(io.Writer, []*atrium.Job, time.Time),
	fetch func(ws string, q jobQuery, p httpapi.PageOptions) (*httpapi.List[*atrium.Job], error)) error {
	var q jobQuery
	for _, st := range lf.statuses {
		for _, one := range strings.Split(st, ",") {
			if one = strings.TrimSpace(one); one == "" {
				continue
			}
			cs, err := canonical("--status", one, statusNames)
			if err != nil {
				return err
			}
			q.status = append(q.status, cs)
		}
	}
	q.quota = quotaRef(lf.quota)
	ws, err := s.workspaceID()
	if err != nil {
		return err
	}
	if lf.creator != "" {
		if q.creator, err = s.userID(lf.creator); err != nil {
			return err
		}
	}
	size := lf.pageSize
	if lf.allPages {
		size = 0
	}
	l, err := collect(size, lf.pageToken, func(p httpapi.PageOptions) (*httpapi.List[*atrium.Job], error) { return fetch(ws, q, p) })
	if err != nil {
		return err
	}
	if err := s.print(l, func(w io.Writer) { table(w, l.Items, time.Now()) }); err != nil {
		return err
	}
	s.moreHint(l.NextPageToken)
	return nil
}

// userID resolves "me", a user id or (for a ResourceAdmin) a user name to
// a user id.
func (s *session) userID(ref string) (string, error) {
	if ref == "me" {
		u, err := s.client.GetUser(s.ctx, "me")
		if err != nil {
			return "", err
		}
		return u.ID, nil
	}
	return s.resolveUser(ref)
}

// reasonCell is the REASON column: "#pos REASON" while queued.
func reasonCell(j *atrium.Job) string {
	r := orDash(j.ReasonCode)
	if j.Status == atrium.JobQueuing && j.QueuePosition > 0 {
		return fmt.Sprintf("#%d %s", j.QueuePosition, r)
	}
	return r
}

func jobTable(w io.Writer, jobs []*atrium.Job, now time.Time) {
	fmt.Fprintln(w, "ID\tNAME\tTYPE\tSTATUS\tREASON\tPRIORITY\tQUOTA\tCREATOR\tAGE")
	for _, j := range jobs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", j.ID, j.DisplayName, j.JobType, j.Status, reasonCell(j),
			j.Priority, j.QuotaID, orDash(cmp(j.CreatorName, j.Creator)), fmtAge(now.Sub(j.SubmittedAt)))
	}
}

// fmtAge is a coarse age: 45s, 12m, 5h, 3d.
func fmtAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// fmtDuration is a precise, short duration: 850ms, 12s, 3m05s, 2h04m, 3d02h.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d > 0 && d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// fmtClock is a time with seconds, for timelines and events.
func fmtClock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// podCounts counts a job's pods and those running.
func podCounts(j *atrium.Job) (running, total int) {
	for _, p := range j.Pods {
		if p.Status == atrium.PodRunning {
			running++
		}
	}
	return running, len(j.Pods)
}

func reasonText(j *atrium.Job) string {
	s := orDash(j.ReasonCode)
	if j.ReasonMessage != "" {
		s += ": " + j.ReasonMessage
	}
	return s
}

// jobSummary is 'job get': the job at a glance.
func jobSummary(w io.Writer, j *atrium.Job, now time.Time) {
	kv(w, "ID", j.ID, "Name", j.DisplayName, "Type", j.JobType, "Status", j.Status, "Reason", reasonText(j))
	if j.Status == atrium.JobQueuing && j.QueuePosition > 0 {
		kv(w, "Queue position", fmt.Sprintf("%d in quota %s", j.QueuePosition, j.QuotaID))
	}
	running, total := podCounts(j)
	pods := "-"
	if total > 0 {
		pods = fmt.Sprintf("%d (%d running)", total, running)
	}
	kv(w, "Quota", j.QuotaID, "Priority", strconv.Itoa(j.Priority), "Creator", orDash(cmp(j.CreatorName, j.Creator)),
		"Accessibility", j.Accessibility, "Pods", pods,
		"Submitted", fmtClock(j.SubmittedAt)+" ("+fmtAge(now.Sub(j.SubmittedAt))+" ago)", "Started", fmtClockPtr(j.StartedAt),
		"Finished", fmtClockPtr(j.FinishedAt))
	if j.StartedAt != nil {
		end := now
		if j.FinishedAt != nil {
			end = *j.FinishedAt
		}
		kv(w, "Running time", fmtDuration(end.Sub(*j.StartedAt)))
	}
}

func fmtClockPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtClock(*t)
}

// completeJobs completes job ids of the selected workspace.
func (c *cli) completeJobs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return c.completeJobIDs(cmd, toComplete, func(s *session, ws string, p httpapi.PageOptions) (*httpapi.List[*atrium.Job], error) {
		return s.client.ListJobs(s.ctx, ws, httpapi.ListJobsOptions{PageOptions: p})
	})
}

// completeJobIDs completes the ids (with name and status) of the first
// page that list returns in the selected workspace: jobs or DSW instances.
func (c *cli) completeJobIDs(cmd *cobra.Command, toComplete string,
	list func(s *session, ws string, p httpapi.PageOptions) (*httpapi.List[*atrium.Job], error)) ([]cobra.Completion, cobra.ShellCompDirective) {
	s, err := c.newSession(cmd)
	if err != nil || s.token == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ws, err := s.workspaceID()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	l, err := list(s, ws, httpapi.PageOptions{PageSize: 100})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, j := range l.Items {
		if strings.HasPrefix(j.ID, toComplete) {
			out = append(out, cobra.CompletionWithDesc(j.ID, j.DisplayName+" "+j.Status))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func newJobGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a job's status at a glance",
		Long: `Show a job's status, reason, queue position, quota, priority and pods at a
glance; 'atrium job describe' shows everything, -o json the job as the API
returns it.`,
		Example: `  atrium job get dlc-4kq2m7xw3a5bcdef
  atrium job get dlc-4kq2m7xw3a5bcdef -o json`,
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
			return s.print(j, func(w io.Writer) { jobSummary(w, j, time.Now()) })
		}),
	}
}

// eachJob runs fn for every id, reporting failures as they happen and
// failing at the end if any did.
func (s *session) eachJob(verb string, ids []string, fn func(id string) error) error {
	failed := 0
	for _, id := range ids {
		if err := fn(id); err != nil {
			if len(ids) == 1 {
				return err
			}
			reportError(s.cmd.ErrOrStderr(), err, s.server)
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d jobs not %s", failed, len(ids), verb)
	}
	return nil
}

func newJobStopCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "stop ID...",
		Short: "Stop jobs",
		Long: `Stop jobs. A queued job is Stopped at once; a running one goes Stopping while
its pods get SIGTERM (then SIGKILL after a grace period), then Stopped. You
may stop your own jobs; Operators and Admins any job.`,
		Example:           `  atrium job stop dlc-4kq2m7xw3a5bcdef dlc-7pz3n4vx2a6bcdef`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: c.completeJobs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			var stopped []*atrium.Job
			err = s.eachJob("stopped", args, func(id string) error {
				j, err := s.client.StopJob(s.ctx, ws, id)
				if err != nil {
					return err
				}
				stopped = append(stopped, j)
				if s.output == "table" {
					s.message("Job %s is %s", j.ID, j.Status)
				}
				return nil
			})
			if s.output != "table" && len(stopped) > 0 {
				if perr := s.print(stopped, nil); perr != nil {
					return perr
				}
			}
			return err
		}),
	}
}

func newJobDeleteCmd(c *cli) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "delete ID...",
		Aliases: []string{"rm"},
		Short:   "Delete finished jobs",
		Long: `Delete finished jobs (Succeeded, Failed or Stopped) with their history, events
and logs; stop a running job first. Asks for confirmation on a terminal;
scripts pass --yes.`,
		Example:           `  atrium job delete dlc-4kq2m7xw3a5bcdef --yes`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: c.completeJobs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			if !yes {
				q := "Delete job " + args[0] + "?"
				if len(args) > 1 {
					q = fmt.Sprintf("Delete %d jobs (%s)?", len(args), strings.Join(args, ", "))
				}
				ok, err := confirm(s.cmd, q)
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("not deleted")
				}
			}
			return s.eachJob("deleted", args, func(id string) error {
				if err := s.client.DeleteJob(s.ctx, ws, id); err != nil {
					return err
				}
				s.message("Deleted job %s", id)
				return nil
			})
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newJobLogsCmd(c *cli) *cobra.Command {
	var (
		follow bool
		pod    string
	)
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a job's pod output",
		Long: `Print the output (stdout and stderr) of a job's pods: of one pod with --pod,
else of every pod, each line prefixed by its pod name ("[worker-1] …").
-f follows the output as it is written until the pods end; when the job has
not started yet it first waits for it to start. Ctrl-C stops following.`,
		Example: `  atrium job logs dlc-4kq2m7xw3a5bcdef
  atrium job logs dlc-4kq2m7xw3a5bcdef -f --pod master-0`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeJobs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			if follow {
				if err := s.waitStarted(ws, args[0]); err != nil {
					if s.ctx.Err() != nil {
						return nil
					}
					return err
				}
			}
			err = s.client.JobLogs(s.ctx, ws, args[0], pod, follow, s.cmd.OutOrStdout())
			if err != nil && s.ctx.Err() != nil {
				return nil // Ctrl-C ends following
			}
			return err
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output as it is written, until the pods end")
	cmd.Flags().StringVar(&pod, "pod", "", "only this pod, e.g. worker-1")
	return cmd
}

// waitStarted polls until the job has pods with output (or has ended),
// saying once on stderr that it waits.
func (s *session) waitStarted(ws, id string) error {
	said := false
	for {
		j, err := s.client.GetJob(s.ctx, ws, id)
		if err != nil {
			return err
		}
		if started(j) {
			return nil
		}
		if !said {
			fmt.Fprintf(s.cmd.ErrOrStderr(), "Waiting for job %s to start (%s, %s)…\n", j.ID, j.Status, reasonCell(j))
			said = true
		}
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// started reports whether a job's pods have output to read: the executor
// started them (a pod left Pending) or the job ended. A job admitted a
// moment ago has pods and a backend on record before the executor starts
// them (the loop records before it acts); reading logs then fails.
func started(j *atrium.Job) bool {
	if atrium.JobFinished(j.Status) || j.Status == atrium.JobRunning {
		return true
	}
	for _, p := range j.Pods {
		if p.Status != atrium.PodPending {
			return true
		}
	}
	return false
}

func newJobEventsCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "events ID",
		Short: "List what happened to a job",
		Long: `List a job's events, oldest first: submission, admission, starts, image
notes, preemptions, stops and how it ended.`,
		Example:           `  atrium job events dlc-4kq2m7xw3a5bcdef`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeJobs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			l, err := s.client.JobEvents(s.ctx, ws, args[0])
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) { eventTable(w, l.Items) })
		}),
	}
}

func eventTable(w io.Writer, evs []*atrium.JobEvent) {
	fmt.Fprintln(w, "TIME\tTYPE\tREASON\tMESSAGE")
	for _, e := range evs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", fmtClock(e.Time), e.Type, e.Reason, e.Message)
	}
}

func newJobUpdateCmd(c *cli) *cobra.Command {
	var (
		priority    int
		public      bool
		description string
	)
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change a job's priority, make it public, or change its description",
		Long: `Change a job: --priority (1–9, within your role's cap in the workspace
config; a queued job moves in its queue), --public (PRIVATE → PUBLIC, so
every member sees it; there is no way back) or --description.`,
		Example: `  atrium job update dlc-4kq2m7xw3a5bcdef --priority 5
  atrium job update dlc-4kq2m7xw3a5bcdef --public --description "baseline run"`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeJobs,
		RunE: c.run(func(s *session, args []string) error {
			var req httpapi.UpdateJobRequest
			fl := s.cmd.Flags()
			if fl.Changed("priority") {
				req.Priority = &priority
			}
			if fl.Changed("public") {
				if !public {
					return errors.New("--public=false: a PUBLIC job cannot become PRIVATE again")
				}
				req.Accessibility = ptrTo(atrium.AccessPublic)
			}
			if fl.Changed("description") {
				req.Description = &description
			}
			if req.Priority == nil && req.Accessibility == nil && req.Description == nil {
				return errors.New("nothing to change: give --priority, --public and/or --description")
			}
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			j, err := s.client.UpdateJob(s.ctx, ws, args[0], req)
			if err != nil {
				return err
			}
			return s.print(j, func(w io.Writer) { jobSummary(w, j, time.Now()) })
		}),
	}
	f := cmd.Flags()
	f.IntVar(&priority, "priority", 0, "new priority, 1–9 (9 highest)")
	f.BoolVar(&public, "public", false, "make the job PUBLIC")
	f.StringVar(&description, "description", "", "new description")
	return cmd
}

func ptrTo[T any](v T) *T { return &v }
