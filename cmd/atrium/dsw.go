package main

// atrium dsw …: DSW instances, long-running interactive
// environments served on the DSW origin, apart from the console.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newDSWCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dsw",
		Aliases: []string{"dsws"},
		Short:   "Create, open, stop and start DSW instances",
		Long: `DSW instances of the selected workspace: long-running interactive
environments (a notebook, TensorBoard, a shell server) with an image,
resources and a command that listens on $ATRIUM_DSW_PORT. Without a command
the instance serves Atrium's built-in page. An instance queues in its quota
and is started by the scheduler like a job; 'atrium dsw open' prints a
one-time link that opens it in a browser. Instances are served on the
server's DSW origin (atrium serve --dsw-addr), never on the console's.

An instance with an idleTimeout stops by itself when nobody used it for
that long; 'atrium dsw start' brings a stopped one back.

Instances are named by their id (dsw-…), as 'atrium dsw list' shows it.`,
	}
	cmd.AddCommand(newDSWCreateCmd(c), newDSWListCmd(c), newDSWGetCmd(c), newDSWStopCmd(c), newDSWStartCmd(c),
		newDSWDeleteCmd(c), newDSWLogsCmd(c), newDSWOpenCmd(c))
	return c.addGlobalFlags(cmd)
}

func newDSWCreateCmd(c *cli) *cobra.Command {
	var (
		file, name, image, cpu, memory, gpuType, command, quota string
		idle, maxRun                                            string
		gpu, priority                                           int
		envs                                                    []string
		public, wait                                            bool
	)
	cmd := &cobra.Command{
		Use:   "create (-f FILE | --image IMAGE --cpu N --memory SIZE [flags])",
		Short: "Create a DSW instance from a spec file or flags",
		Long: `Create a DSW instance. The spec is YAML or JSON (-f, - for stdin) with
displayName, image, resources {cpu, memory, gpu, gpuType}, command, envs,
dataSources, quotaId, priority, accessibility, idleTimeout and
maxRunningTime; or give the common fields as flags. The command should
listen on $ATRIUM_DSW_PORT (also in $PORT) at $ATRIUM_DSW_HOST (127.0.0.1 for
a host process, 0.0.0.0 in a container); without one the instance serves
Atrium's built-in page (in a container: JupyterLab, python's http.server or
busybox httpd, whichever the image has).

--wait waits until the instance runs.`,
		Example: `  atrium dsw create --image localhost/atrium/pytorch:cpu --cpu 2 --memory 4Gi --idle-timeout 30m \
      --command 'python3 -m http.server $ATRIUM_DSW_PORT --bind $ATRIUM_DSW_HOST'
  atrium dsw create --image localhost/atrium/pytorch:cpu --cpu 1 --memory 1Gi --wait
  atrium dsw create -f notebook.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			var spec []byte
			if file != "" {
				if s.cmd.Flags().NFlag() > 0 && (image != "" || cpu != "" || memory != "" || command != "") {
					return errors.New("-f excludes --image, --cpu, --memory and --command: put them in the spec")
				}
				b, err := readSpec(s.cmd, file)
				if err != nil {
					return err
				}
				spec = b
			} else {
				if image == "" || cpu == "" || memory == "" {
					return &hintError{msg: "--image, --cpu and --memory are required without -f", hint: "e.g. atrium dsw create --image jupyter/base-notebook --cpu 2 --memory 4Gi"}
				}
				res := map[string]any{"cpu": cpu, "memory": memory}
				if gpu > 0 {
					res["gpu"] = gpu
				}
				if gpuType != "" {
					res["gpuType"] = gpuType
				}
				m := map[string]any{"image": image, "resources": res}
				for k, v := range map[string]string{"displayName": name, "command": command, "quotaId": quotaRef(quota), "idleTimeout": idle, "maxRunningTime": maxRun} {
					if v != "" {
						m[k] = v
					}
				}
				if priority > 0 {
					m["priority"] = priority
				}
				if public {
					m["accessibility"] = atrium.AccessPublic
				}
				if len(envs) > 0 {
					env := map[string]string{}
					for _, e := range envs {
						k, v, ok := strings.Cut(e, "=")
						if !ok || k == "" {
							return fmt.Errorf("--env %q: want KEY=VALUE", e)
						}
						env[k] = v
					}
					m["envs"] = env
				}
				spec, _ = json.Marshal(m)
			}
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			j, err := s.client.CreateDSW(s.ctx, ws, spec)
			if err != nil {
				return err
			}
			if wait {
				s.message("created DSW instance %s (%s); waiting for it to run…", j.ID, j.Status)
				if j, err = s.waitDSW(ws, j.ID); err != nil {
					return err
				}
			}
			return s.print(j, func(w io.Writer) {
				if j.Status == atrium.JobRunning {
					fmt.Fprintf(w, "DSW instance %s is Running; 'atrium dsw open %s' prints a one-time link to it\n", j.ID, j.ID)
					return
				}
				fmt.Fprintf(w, "created DSW instance %s (%s: %s); 'atrium dsw open %s' prints a link to it once it runs\n",
					j.ID, j.Status, reasonText(j), j.ID)
			})
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "instance spec, YAML or JSON; - reads stdin")
	f.StringVar(&name, "name", "", "display name")
	f.StringVar(&image, "image", "", "image (recorded by the local executor, which runs the command on the host)")
	f.StringVar(&cpu, "cpu", "", "CPU cores, e.g. 2 or 500m")
	f.StringVar(&memory, "memory", "", "memory, e.g. 4Gi")
	f.IntVar(&gpu, "gpu", 0, "GPUs")
	f.StringVar(&gpuType, "gpu-type", "", "GPU type, e.g. T4")
	f.StringVar(&command, "command", "", "command run by /bin/sh -c, listening on $ATRIUM_DSW_PORT (default: the built-in page)")
	f.StringArrayVar(&envs, "env", nil, "environment variable KEY=VALUE (repeatable)")
	f.StringVar(&quota, "quota", "", "quota (id or name; default: the workspace's)")
	f.IntVar(&priority, "priority", 0, "priority 1–9 (default: the workspace's)")
	f.StringVar(&idle, "idle-timeout", "", "stop when unused for this long, e.g. 30m")
	f.StringVar(&maxRun, "max-running-time", "", "stop after running this long, e.g. 8h")
	f.BoolVar(&public, "public", false, "make the instance PUBLIC (visible to every member; still usable only by you, Operators and Admins)")
	f.BoolVar(&wait, "wait", false, "wait until the instance runs")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml", "json")
	return cmd
}

// waitDSW polls until the instance runs or ends.
func (s *session) waitDSW(ws, id string) (*atrium.Job, error) {
	for {
		j, err := s.client.GetDSW(s.ctx, ws, id)
		if err != nil {
			return nil, err
		}
		switch {
		case j.Status == atrium.JobRunning:
			return j, nil
		case atrium.JobFinished(j.Status):
			return nil, fmt.Errorf("DSW instance %s ended %s: %s", j.ID, j.Status, reasonText(j))
		}
		select {
		case <-s.ctx.Done():
			return nil, s.ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

var dswStatusNames = []string{atrium.JobQueuing, atrium.JobEnvPreparing, atrium.JobRunning, atrium.JobStopping, atrium.JobStopped, atrium.JobFailed}

func newDSWListCmd(c *cli) *cobra.Command {
	var lf jobListFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List DSW instances, newest first",
		Long: `List the workspace's DSW instances you may see — your own and PUBLIC ones;
Operators and Admins see all — newest first.`,
		Example: `  atrium dsw list
  atrium dsw list --status Running --creator me -o json`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			return lf.list(s, dswStatusNames, dswTable, func(ws string, q jobQuery, p httpapi.PageOptions) (*httpapi.List[*atrium.Job], error) {
				return s.client.ListDSW(s.ctx, ws, httpapi.ListDSWOptions{Status: q.status, Creator: q.creator, QuotaID: q.quota, PageOptions: p})
			})
		}),
	}
	lf.register(cmd, "instances", "Running,Stopped,…", dswStatusNames)
	return cmd
}

func dswTable(w io.Writer, items []*atrium.Job, now time.Time) {
	fmt.Fprintln(w, "ID\tNAME\tSTATUS\tREASON\tIMAGE\tIDLE TIMEOUT\tCREATOR\tAGE")
	for _, j := range items {
		idle := "-"
		if j.Spec.IdleTimeout > 0 {
			idle = time.Duration(j.Spec.IdleTimeout).String()
		}
		image := "-"
		if len(j.Spec.JobSpecs) > 0 {
			image = j.Spec.JobSpecs[0].Image
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.DisplayName, j.Status, reasonCell(j), image, idle,
			orDash(cmp(j.CreatorName, j.Creator)), fmtAge(now.Sub(j.SubmittedAt)))
	}
}

// completeDSW completes instance ids of the selected workspace.
func (c *cli) completeDSW(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return c.completeJobIDs(cmd, toComplete, func(s *session, ws string, p httpapi.PageOptions) (*httpapi.List[*atrium.Job], error) {
		return s.client.ListDSW(s.ctx, ws, httpapi.ListDSWOptions{PageOptions: p})
	})
}

func newDSWGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a DSW instance",
		Long: `Show a DSW instance's status, reason, resources, idle timeout and last
use; -o json prints it as the API returns it. 'atrium dsw open' prints a
link that opens a running one.`,
		Example: `  atrium dsw get dsw-4kq2m7xw3a5bcdef
  atrium dsw get dsw-4kq2m7xw3a5bcdef -o json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeDSW,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			j, err := s.client.GetDSW(s.ctx, ws, args[0])
			if err != nil {
				return err
			}
			return s.print(j, func(w io.Writer) {
				jobSummary(w, j, time.Now())
				idle := "never"
				if j.Spec.IdleTimeout > 0 {
					idle = time.Duration(j.Spec.IdleTimeout).String()
				}
				kv(w, "Idle timeout", idle, "Last used", fmtClockPtr(j.LastActiveAt))
				if len(j.Spec.JobSpecs) > 0 {
					kv(w, "Image", j.Spec.JobSpecs[0].Image, "Command", orDash(j.Spec.Command))
				}
				if j.Status == atrium.JobRunning {
					kv(w, "Open", "atrium dsw open "+j.ID)
				}
			})
		}),
	}
}

// dswAction is stop and start: one verb on each id.
func dswAction(c *cli, use, short, long, example, verb string, call func(s *session, ws, id string) (*atrium.Job, error)) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: c.completeDSW,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			var done []*atrium.Job
			err = s.eachJob(verb, args, func(id string) error {
				j, err := call(s, ws, id)
				if err == nil {
					done = append(done, j)
				}
				return err
			})
			if perr := s.print(done, func(w io.Writer) {
				for _, j := range done {
					fmt.Fprintf(w, "DSW instance %s: %s\n", j.ID, j.Status)
				}
			}); perr != nil {
				return perr
			}
			return err
		}),
	}
}

func newDSWStopCmd(c *cli) *cobra.Command {
	return dswAction(c, "stop ID...", "Stop DSW instances",
		`Stop DSW instances: a queued one is Stopped at once, a running one goes
Stopping → Stopped. 'atrium dsw start' brings it back.`,
		`  atrium dsw stop dsw-4kq2m7xw3a5bcdef`, "stopped",
		func(s *session, ws, id string) (*atrium.Job, error) { return s.client.StopDSW(s.ctx, ws, id) })
}

func newDSWStartCmd(c *cli) *cobra.Command {
	return dswAction(c, "start ID...", "Start stopped DSW instances again",
		`Start Stopped or Failed DSW instances again: each queues in its quota and,
once admitted, runs as a new attempt on a new port.`,
		`  atrium dsw start dsw-4kq2m7xw3a5bcdef`, "started",
		func(s *session, ws, id string) (*atrium.Job, error) { return s.client.StartDSW(s.ctx, ws, id) })
}

func newDSWDeleteCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete stopped DSW instances",
		Long:  `Delete Stopped or Failed DSW instances with their events and logs; stop a live one first.`,
		Example: `  atrium dsw delete dsw-4kq2m7xw3a5bcdef
  atrium dsw stop dsw-4kq2m7xw3a5bcdef && atrium dsw delete dsw-4kq2m7xw3a5bcdef`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: c.completeDSW,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			return s.eachJob("deleted", args, func(id string) error {
				if err := s.client.DeleteDSW(s.ctx, ws, id); err != nil {
					return err
				}
				s.message("deleted DSW instance %s", id)
				return nil
			})
		}),
	}
}

func newDSWLogsCmd(c *cli) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a DSW instance's output",
		Long:  `Print what the instance's command wrote to stdout and stderr; -f keeps following until it ends.`,
		Example: `  atrium dsw logs dsw-4kq2m7xw3a5bcdef
  atrium dsw logs -f dsw-4kq2m7xw3a5bcdef`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeDSW,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			return s.client.DSWLogs(s.ctx, ws, args[0], follow, s.cmd.OutOrStdout())
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep streaming until the instance ends")
	return cmd
}

func newDSWOpenCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "open ID",
		Short: "Print a one-time link that opens a running DSW instance in a browser",
		Long: `Print a link that opens the instance in a browser, on the server's DSW
origin (where instances are served, apart from the console and the API).
The link works once, within 60 seconds: opening it signs that browser in
to this one instance for 8 hours. Only the instance's creator, Operators
and Admins may open it, and it must be Running.

Scripts can follow the link with a cookie jar, e.g.
  curl -c jar -b jar -L "$(atrium dsw open ID)"`,
		Example: `  atrium dsw open dsw-4kq2m7xw3a5bcdef
  xdg-open "$(atrium dsw open dsw-4kq2m7xw3a5bcdef)"`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeDSW,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			h, err := s.client.OpenDSW(s.ctx, ws, args[0])
			if httpapi.IsProblem(err, atrium.ECONFLICT) {
				return &hintError{msg: err.Error(), hint: "an instance opens while it is Running; 'atrium dsw start " + args[0] + "' starts a stopped one"}
			} else if err != nil {
				return err
			}
			return s.print(h, func(w io.Writer) { fmt.Fprintln(w, h.URL) })
		}),
	}
}
