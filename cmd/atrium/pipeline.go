package main

// atrium pipeline …: pipelines (versioned DAGs of jobs, algorithm versions
// and SQL) and their runs.

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"atrium"
)

func newPipelineCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "pipeline",
		Aliases: []string{"pipelines"},
		Short:   "Create pipelines and run them",
		Long: `Pipelines of the selected workspace: a DAG of nodes — inline jobs (the
same spec as 'atrium job submit'), algorithm versions, or SQL scripts —
with typed parameters, and outputs of one node wired to inputs of the
next (paths a node reads in $ATRIUM_INPUT_<name> and writes in
$ATRIUM_OUTPUT_<name>). Every save is a new version. A run turns each
node into a job as soon as its inputs are ready. See
examples/pipelines/diamond.yaml.`,
	}
	cmd.AddCommand(
		withHelp(newPipelineCreateCmd(c), "Create a pipeline from a YAML or JSON file (-f, - for stdin); it is checked before it is saved.",
			"  atrium pipeline create -f examples/pipelines/diamond.yaml"),
		withHelp(newPipelineListCmd(c), "List the workspace's pipelines.", "  atrium pipeline list"),
		withHelp(newPipelineGetCmd(c), "Show a pipeline's latest version (or --version N); -o yaml prints its spec.",
			"  atrium pipeline get diamond -o yaml"),
		withHelp(newPipelineVersionsCmd(c), "List a pipeline's versions, newest first (every save is one); 'get --version N' shows one.",
			"  atrium pipeline versions diamond"),
		withHelp(newPipelineRunCmd(c), `Run a pipeline, named by id or name, or given as a file with -f: the file's
pipeline is created if the workspace has none of that name, and saved as a
new version if it changed. --arg NAME=VALUE overrides a parameter. --wait
waits until the run ends, prints it with its nodes and exits non-zero
unless it Succeeded.`,
			"  atrium pipeline run -f examples/pipelines/diamond.yaml --wait -o json\n  atrium pipeline run diamond --arg failC=true --wait"),
		withHelp(newPipelineRunsCmd(c), "List the runs you may see, newest first; --pipeline narrows to one pipeline.",
			"  atrium pipeline runs\n  atrium pipeline runs --pipeline diamond"),
		withHelp(newPipelineRerunCmd(c), `Re-run a Failed or Terminated run: nodes that did not succeed and every node
downstream of them run again; the others keep their jobs and outputs.
--arg NAME=VALUE changes an argument first.`,
			"  atrium pipeline rerun run-4kq2m7xw3a5bcdef --arg failC=false --wait"),
		withHelp(newPipelineLogsCmd(c), "Print a node's output: its job's pod logs (every attempt's job id is on the run), or a SQL node's result preview.",
			"  atrium pipeline logs run-4kq2m7xw3a5bcdef D"),
		withHelp(newPipelineTerminateCmd(c), "Terminate a run: its node jobs are stopped and the run ends Terminated.",
			"  atrium pipeline terminate run-4kq2m7xw3a5bcdef"),
		withHelp(newPipelineDeleteCmd(c), "Delete a pipeline and its versions; its runs stay.", "  atrium pipeline delete diamond"))
	return c.addGlobalFlags(cmd)
}

func newPipelineCreateCmd(c *cli) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use: "create -f FILE", Short: "Create a pipeline from a file", Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			b, err := readSpec(s.cmd, file)
			if err != nil {
				return err
			}
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			p, err := s.client.CreatePipeline(s.ctx, ws, b)
			if err != nil {
				return err
			}
			return s.print(p, func(w io.Writer) { pipelineText(w, p) })
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "pipeline file (YAML or JSON); - reads stdin")
	return cmd
}

func pipelineText(w io.Writer, p *atrium.Pipeline) {
	fmt.Fprintf(w, "pipeline %s (%s) version %d, %d nodes, %d parameters\n", p.ID, p.Name, p.Version, len(p.Spec.Nodes), len(p.Spec.Parameters))
	fmt.Fprintln(w, "NODE\tKIND\tWAITS FOR")
	for _, n := range p.Spec.Nodes {
		kind := "job"
		if n.Algorithm != nil {
			kind = "algorithm " + n.Algorithm.AlgorithmID
		} else if n.SQL != nil {
			kind = "sql " + n.SQL.ConnectionID
		}
		fmt.Fprintf(w, "%s\t%s\t%v\n", n.Name, kind, n.Upstream())
	}
}

func newPipelineListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List pipelines", Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			l, err := s.client.ListPipelines(s.ctx, ws, "")
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tVERSION\tNODES\tCREATOR\tUPDATED")
				for _, p := range l.Items {
					fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", p.ID, p.Name, p.Version, len(p.Spec.Nodes), p.CreatorName, p.UpdatedAt.Local().Format(time.DateTime))
				}
			})
		}),
	}
}

// pipelineArg finds a pipeline of the selected workspace by id or name,
// and returns the workspace id with it.
func (s *session) pipelineArg(ref string, version int) (string, *atrium.Pipeline, error) {
	ws, err := s.workspaceID()
	if err != nil {
		return "", nil, err
	}
	p, err := s.pipelineByRef(ws, ref, version)
	return ws, p, err
}

// pipelineByRef finds a pipeline by id or by name.
func (s *session) pipelineByRef(ws, ref string, version int) (*atrium.Pipeline, error) {
	if atrium.HasPrefix(ref, atrium.PrefixPipeline) {
		return s.client.GetPipeline(s.ctx, ws, ref, version)
	}
	l, err := s.client.ListPipelines(s.ctx, ws, ref)
	if err != nil {
		return nil, err
	}
	if len(l.Items) == 0 {
		return nil, &hintError{msg: fmt.Sprintf("no pipeline named %q", ref), hint: "'atrium pipeline list' shows the workspace's pipelines"}
	}
	if version > 0 {
		return s.client.GetPipeline(s.ctx, ws, l.Items[0].ID, version)
	}
	return l.Items[0], nil
}

func newPipelineGetCmd(c *cli) *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use: "get ID|NAME", Short: "Show a pipeline", Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			_, p, err := s.pipelineArg(args[0], version)
			if err != nil {
				return err
			}
			return s.print(p, func(w io.Writer) { pipelineText(w, p) })
		}),
	}
	cmd.Flags().IntVar(&version, "version", 0, "a version number (default: the latest)")
	return cmd
}

func newPipelineVersionsCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "versions ID|NAME", Short: "List a pipeline's versions", Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, p, err := s.pipelineArg(args[0], 0)
			if err != nil {
				return err
			}
			l, err := s.client.ListPipelineVersions(s.ctx, ws, p.ID)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) {
				fmt.Fprintln(w, "VERSION\tNODES\tPARAMETERS\tSAVED")
				for _, v := range l.Items {
					fmt.Fprintf(w, "%d\t%d\t%d\t%s\n", v.Version, len(v.Spec.Nodes), len(v.Spec.Parameters), v.CreatedAt.Local().Format(time.DateTime))
				}
			})
		}),
	}
}

func newPipelineDeleteCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "delete ID|NAME", Short: "Delete a pipeline", Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, p, err := s.pipelineArg(args[0], 0)
			if err != nil {
				return err
			}
			if err := s.client.DeletePipeline(s.ctx, ws, p.ID); err != nil {
				return err
			}
			s.message("deleted pipeline %s (%s)", p.ID, p.Name)
			return nil
		}),
	}
}

// parseArgs turns --arg NAME=VALUE flags into run arguments typed by the
// pipeline's parameters (unknown names stay strings; the API names them).
func parseArgs(spec *atrium.PipelineSpec, flags []string) (map[string]any, error) {
	types := map[string]string{}
	for _, p := range spec.Parameters {
		types[p.Name] = p.Type
	}
	out := map[string]any{}
	for _, f := range flags {
		name, val, ok := cutEq(f)
		if !ok {
			return nil, fmt.Errorf("--arg %q: want NAME=VALUE", f)
		}
		var err error
		switch types[name] {
		case "int", "float":
			var n float64
			n, err = strconv.ParseFloat(val, 64)
			out[name] = n
		case "bool":
			var b bool
			b, err = strconv.ParseBool(val)
			out[name] = b
		default:
			out[name] = val
		}
		if err != nil {
			return nil, fmt.Errorf("--arg %s: %q is not a %s", name, val, types[name])
		}
	}
	return out, nil
}

func cutEq(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], i > 0
		}
	}
	return s, "", false
}
