package main

// atrium pipeline run|runs|rerun|terminate.

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newPipelineRunCmd(c *cli) *cobra.Command {
	var file, name string
	var argFlags []string
	var public, wait bool
	cmd := &cobra.Command{
		Use: "run [ID|NAME] [-f FILE] [--arg NAME=VALUE]… [--wait]", Short: "Run a pipeline", Args: cobra.MaximumNArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if (file == "") == (len(args) == 0) {
				return &hintError{msg: "give a pipeline id or name, or -f FILE", hint: "e.g. 'atrium pipeline run -f examples/pipelines/diamond.yaml --wait'"}
			}
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			var p *atrium.Pipeline
			if file != "" {
				p, err = s.ensurePipeline(ws, file)
			} else {
				p, err = s.pipelineByRef(ws, args[0], 0)
			}
			if err != nil {
				return err
			}
			arguments, err := parseArgs(&p.Spec, argFlags)
			if err != nil {
				return err
			}
			req := httpapi.CreateRunRequest{PipelineID: p.ID, PipelineVersion: p.Version, DisplayName: name, Arguments: arguments}
			if public {
				req.Accessibility = atrium.AccessPublic
			}
			r, err := s.client.CreateRun(s.ctx, ws, req)
			if err != nil {
				return err
			}
			return s.finishRun(ws, r, wait)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "pipeline file: created, or saved as a new version if it changed, then run")
	f.StringArrayVar(&argFlags, "arg", nil, "NAME=VALUE overriding a parameter (repeatable)")
	f.StringVar(&name, "name", "", "the run's display name (default: the pipeline's name)")
	f.BoolVar(&public, "public", false, "make the run PUBLIC")
	f.BoolVar(&wait, "wait", false, "wait until the run ends and print it")
	return cmd
}

// ensurePipeline makes the workspace's pipeline of the file's name hold
// the file's spec: created when absent, a new version when it changed.
func (s *session) ensurePipeline(ws, file string) (*atrium.Pipeline, error) {
	b, err := readSpec(s.cmd, file)
	if err != nil {
		return nil, err
	}
	var doc httpapi.PipelineRequest
	if err := atrium.ParsePipelineSpec(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	l, err := s.client.ListPipelines(s.ctx, ws, doc.Name)
	if err != nil {
		return nil, err
	}
	if len(l.Items) == 0 || doc.Name == "" {
		p, err := s.client.CreatePipeline(s.ctx, ws, b)
		if err == nil {
			s.message("created pipeline %s (%s)", p.ID, p.Name)
		}
		return p, err
	}
	p := l.Items[0]
	was, _ := json.Marshal(p.Spec)
	now, _ := json.Marshal(doc.PipelineSpec)
	if string(was) == string(now) && p.Description == doc.Description {
		return p, nil
	}
	p, err = s.client.UpdatePipeline(s.ctx, ws, p.ID, b)
	if err == nil {
		s.message("saved pipeline %s (%s) as version %d", p.ID, p.Name, p.Version)
	}
	return p, err
}

// finishRun waits for the run to end when asked, prints it, and fails
// the command unless a waited-for run Succeeded.
func (s *session) finishRun(ws string, r *atrium.PipelineRun, wait bool) error {
	var err error
	if wait {
		s.message("run %s: waiting for it to end…", r.ID)
		if err := s.pollUntil(atrium.RunFinished(r.Status), func() (bool, error) {
			r, err = s.client.GetRun(s.ctx, ws, r.ID)
			return err == nil && atrium.RunFinished(r.Status), err
		}); err != nil {
			return err
		}
	}
	if err := s.print(r, func(w io.Writer) { runText(w, r) }); err != nil {
		return err
	}
	if wait && r.Status != atrium.RunSucceeded {
		return exitError(1)
	}
	return nil
}

func runText(w io.Writer, r *atrium.PipelineRun) {
	fmt.Fprintf(w, "run %s of %s v%d: %s (%s)\n", r.ID, r.PipelineID, r.PipelineVersion, r.Status, r.ReasonMessage)
	fmt.Fprintln(w, "NODE\tSTATUS\tJOB\tSTARTED\tFINISHED\tREASON")
	for _, n := range r.Nodes {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Status, n.JobID, clock(n.StartedAt), clock(n.FinishedAt), n.ReasonMessage)
	}
}

func clock(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.TimeOnly)
}

func newPipelineRunsCmd(c *cli) *cobra.Command {
	var pipeline string
	cmd := &cobra.Command{
		Use: "runs [--pipeline ID|NAME]", Short: "List pipeline runs", Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			id := ""
			if pipeline != "" {
				p, err := s.pipelineByRef(ws, pipeline, 0)
				if err != nil {
					return err
				}
				id = p.ID
			}
			l, err := s.client.ListRuns(s.ctx, ws, id)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tSTATUS\tNODES\tCREATOR\tCREATED")
				for _, r := range l.Items {
					done := 0
					for _, n := range r.Nodes {
						if n.Status == atrium.NodeSucceeded {
							done++
						}
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.ID, r.DisplayName, r.Status, done, len(r.Nodes), r.CreatorName, r.CreatedAt.Local().Format(time.DateTime))
				}
			})
		}),
	}
	cmd.Flags().StringVar(&pipeline, "pipeline", "", "only runs of this pipeline")
	return cmd
}

func newPipelineRerunCmd(c *cli) *cobra.Command {
	var argFlags []string
	var wait bool
	cmd := &cobra.Command{
		Use: "rerun RUN_ID [--arg NAME=VALUE]… [--wait]", Short: "Re-run the failed part of a run", Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			r, err := s.client.GetRun(s.ctx, ws, args[0])
			if err != nil {
				return err
			}
			arguments, err := parseArgs(&r.Spec, argFlags)
			if err != nil {
				return err
			}
			if r, err = s.client.RerunRun(s.ctx, ws, r.ID, httpapi.RerunRequest{Arguments: arguments}); err != nil {
				return err
			}
			return s.finishRun(ws, r, wait)
		}),
	}
	cmd.Flags().StringArrayVar(&argFlags, "arg", nil, "NAME=VALUE changing an argument (repeatable)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the run ends and print it")
	return cmd
}

func newPipelineTerminateCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "terminate RUN_ID", Short: "Terminate a run", Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			r, err := s.client.TerminateRun(s.ctx, ws, args[0])
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) { runText(w, r) })
		}),
	}
}

// pollUntil calls step every half second until it reports done or fails,
// or the command is interrupted; done says it is done already.
func (s *session) pollUntil(done bool, step func() (bool, error)) error {
	for !done {
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		var err error
		if done, err = step(); err != nil {
			return err
		}
	}
	return nil
}

func newPipelineLogsCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "logs RUN_ID NODE", Short: "Print a node's output (its job's logs; a SQL node's result)", Args: cobra.ExactArgs(2),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			r, err := s.client.GetRun(s.ctx, ws, args[0])
			if err != nil {
				return err
			}
			n := r.Node(args[1])
			switch {
			case n == nil:
				return &hintError{msg: fmt.Sprintf("run %s has no node %q", r.ID, args[1]), hint: "'atrium pipeline runs' and 'atrium pipeline get' show the nodes"}
			case n.JobID == "":
				return fmt.Errorf("node %s has no job yet (%s)", n.Name, n.Status)
			case n.JobKind == atrium.KindSQL:
				j, err := s.client.GetSQLJob(s.ctx, ws, n.JobID)
				if err != nil {
					return err
				}
				sqlJobText(s.cmd.OutOrStdout(), j)
				return nil
			}
			return s.client.JobLogs(s.ctx, ws, n.JobID, "", false, s.cmd.OutOrStdout())
		}),
	}
}
