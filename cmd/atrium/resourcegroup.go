package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
	"atrium/resource"
)

func newResourceGroupCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "resource-group",
		Aliases: []string{"resource-groups", "rg"},
		Short:   "Register resource groups and their nodes (ResourceAdmin)",
		Long: `A resource group is a pool of nodes behind one executor backend: local (this
host; 'atrium serve' registers it as rg-local), slurm or kubernetes. Nodes
have a capacity {cpu, memory, gpu, gpuType}, labels and a state: Ready,
NotReady or Draining (running work stays, nothing new is placed). Root
quotas draw on resource groups ('atrium quota'). A slurm group runs its jobs
as Unix accounts mapped per workspace or user, never as root ('atrium rg
account'), and only with image "host" (the command runs on the nodes).

A GROUP argument is a resource group id (rg-…) or name. Only ResourceAdmins
manage resource groups.`,
	}
	cmd.AddCommand(newRGCreateCmd(c), newRGListCmd(c), newRGGetCmd(c), newRGUpdateCmd(c), newRGDeleteCmd(c), newNodeCmd(c), newAccountCmd(c))
	return c.addGlobalFlags(cmd)
}

// resolveGroup accepts a resource group id (rg-…) or name.
func (s *session) resolveGroup(ref string) (string, error) {
	if err := s.needToken(); err != nil {
		return "", err
	}
	if strings.HasPrefix(ref, atrium.PrefixResourceGroup) {
		return ref, nil
	}
	l, err := s.client.ListResourceGroups(s.ctx)
	if err != nil {
		return "", err
	}
	for _, g := range l.Items {
		if g.Name == ref {
			return g.ID, nil
		}
	}
	return "", &hintError{msg: fmt.Sprintf("no resource group named %q", ref), hint: "see 'atrium resource-group list'"}
}

// specsText renders capacity per gpuType: "A100: cpu=128,memory=1Ti,gpu=16; cpu=32,memory=128Gi".
func specsText(specs []resource.Spec) string {
	if len(specs) == 0 {
		return "-"
	}
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = specText(s)
	}
	return strings.Join(parts, "; ")
}

func specText(s resource.Spec) string {
	v := fmt.Sprintf("cpu=%s,memory=%s", orDash(string(s.CPU)), orDash(string(s.Memory)))
	if s.GPUType != "" || s.GPU != 0 {
		v = fmt.Sprintf("%s: %s,gpu=%d", orDash(s.GPUType), v, s.GPU)
	}
	return v
}

func rgTable(w io.Writer, items []*httpapi.ResourceGroupView) {
	fmt.Fprintln(w, "ID\tNAME\tBACKEND\tNODES\tCAPACITY\tREADY CAPACITY")
	for _, g := range items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", g.ID, g.Name, g.Backend, g.NodeCount, specsText(g.Capacity), specsText(g.ReadyCapacity))
	}
}

func nodeTable(w io.Writer, nodes []*httpapi.NodeView) {
	fmt.Fprintln(w, "NAME\tSTATE\tGPU TYPE\tCPU\tMEMORY\tGPU\tLABELS")
	for _, n := range nodes {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", n.Name, n.State, orDash(n.Capacity.GPUType), n.Capacity.CPU, n.Capacity.Memory, n.Capacity.GPU, labelsText(n.Labels))
	}
}

func labelsText(m map[string]string) string {
	keys := sortedKeys(m)
	if len(keys) == 0 {
		return "-"
	}
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}

func rgDetail(w io.Writer, g *httpapi.ResourceGroupView) {
	kv(w, "ID", g.ID, "Name", g.Name, "Backend", g.Backend, "Description", orDash(g.Description))
	if g.Backend == atrium.BackendSlurm {
		kv(w, "Partition", orDash(g.Partition), "Default Unix account", orDash(g.DefaultUnixAccount))
	}
	kv(w, "Capacity", specsText(g.Capacity), "Ready capacity", specsText(g.ReadyCapacity),
		"Created", fmtTime(g.CreatedAt), "Updated", fmtTime(g.UpdatedAt))
	fmt.Fprintf(w, "Nodes (%d):\n", g.NodeCount)
	if len(g.Nodes) > 0 {
		nodeTable(w, g.Nodes)
	}
}

func newRGCreateCmd(c *cli) *cobra.Command {
	var req httpapi.CreateResourceGroupRequest
	cmd := &cobra.Command{
		Use:   "create NAME --backend local|slurm|kubernetes",
		Short: "Register a resource group",
		Long: `Register a resource group; its id is rg-NAME. NAME is 2–63 lowercase letters,
digits or '-', starting with a letter. --partition is the Slurm partition
of a slurm group; --default-unix-account the Unix account its jobs run as
when no workspace or user mapping names one (never root; see 'atrium rg
account'). Add nodes with 'atrium resource-group node put' or import a
slurm group's with 'atrium resource-group node import'.`,
		Example: `  atrium resource-group create hpc --backend slurm --partition gpu --default-unix-account atrium-job
  atrium rg create k8s-a100 --backend kubernetes --description "A100 cluster"`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			req.Name = args[0]
			g, err := s.client.CreateResourceGroup(s.ctx, req)
			if err != nil {
				return err
			}
			return s.print(g, func(w io.Writer) { fmt.Fprintf(w, "Created resource group %s (%s)\n", g.Name, g.ID) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.Backend, "backend", "", "executor backend: local, slurm or kubernetes (required)")
	f.StringVar(&req.Description, "description", "", "description, up to 80 characters")
	f.StringVar(&req.Partition, "partition", "", "Slurm partition (slurm groups only)")
	f.StringVar(&req.DefaultUnixAccount, "default-unix-account", "", "Unix account the group's jobs run as when no mapping names one (slurm groups only; never root)")
	_ = cmd.RegisterFlagCompletionFunc("backend", cobra.FixedCompletions([]string{"local", "slurm", "kubernetes"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newRGListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List resource groups with their capacity",
		Long:    `List resource groups with their node count, total capacity per gpuType and the capacity of their Ready nodes.`,
		Example: `  atrium resource-group list
  atrium rg ls -o json`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			l, err := s.client.ListResourceGroups(s.ctx)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) { rgTable(w, l.Items) })
		}),
	}
}

func newRGGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "get GROUP",
		Short:   "Show a resource group with its nodes",
		Long:    `Show a resource group, by id or name, with its capacity per gpuType and its nodes.`,
		Example: `  atrium resource-group get local`,
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			id, err := s.resolveGroup(args[0])
			if err != nil {
				return err
			}
			g, err := s.client.GetResourceGroup(s.ctx, id)
			if err != nil {
				return err
			}
			return s.print(g, func(w io.Writer) { rgDetail(w, g) })
		}),
	}
}

func newRGUpdateCmd(c *cli) *cobra.Command {
	var name, description, partition, account string
	cmd := &cobra.Command{
		Use:   "update GROUP",
		Short: "Rename a resource group or change its description, partition or default Unix account",
		Long: `Change a resource group's name, description, (slurm) partition or (slurm)
default Unix account; flags not given stay, and --default-unix-account ""
removes the default. The backend is fixed at creation, and so is the id.
Workspace and user accounts are set with 'atrium rg account set'.`,
		Example: `  atrium resource-group update hpc --partition a100 --description "A100 partition"`,
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			var req httpapi.UpdateResourceGroupRequest
			fl := s.cmd.Flags()
			if fl.Changed("name") {
				req.Name = &name
			}
			if fl.Changed("description") {
				req.Description = &description
			}
			if fl.Changed("partition") {
				req.Partition = &partition
			}
			if fl.Changed("default-unix-account") {
				req.DefaultUnixAccount = &account
			}
			if req.Name == nil && req.Description == nil && req.Partition == nil && req.DefaultUnixAccount == nil {
				return errors.New("nothing to change: give --name, --description, --partition and/or --default-unix-account")
			}
			id, err := s.resolveGroup(args[0])
			if err != nil {
				return err
			}
			g, err := s.client.UpdateResourceGroup(s.ctx, id, req)
			if err != nil {
				return err
			}
			return s.print(g, func(w io.Writer) { rgDetail(w, g) })
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "new name")
	cmd.Flags().StringVar(&description, "description", "", "new description")
	cmd.Flags().StringVar(&partition, "partition", "", "new Slurm partition")
	cmd.Flags().StringVar(&account, "default-unix-account", "", `new default Unix account of a slurm group's jobs ("" removes it; never root)`)
	return cmd
}

func newRGDeleteCmd(c *cli) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "delete GROUP",
		Aliases: []string{"rm"},
		Short:   "Delete a resource group and its nodes",
		Long: `Delete a resource group with all its nodes. Refused while a quota draws on
it. Asks for confirmation on a terminal; scripts pass --yes.`,
		Example: `  atrium resource-group delete hpc --yes`,
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			id, err := s.resolveGroup(args[0])
			if err != nil {
				return err
			}
			if !yes {
				ok, err := confirm(s.cmd, fmt.Sprintf("Delete resource group %s with all its nodes?", args[0]))
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("not deleted")
				}
			}
			if err := s.client.DeleteResourceGroup(s.ctx, id); err != nil {
				return err
			}
			s.message("Deleted resource group %s", args[0])
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newNodeCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "node",
		Aliases: []string{"nodes"},
		Short:   "Add, change, drain and remove the nodes of a resource group",
		Long: `Nodes are the machines of a resource group. 'put' creates or replaces a node;
'drain' stops new work from being placed on it (running work stays) and
'undrain' makes it Ready again. Node names are unique across all groups.`,
		Example: `  atrium resource-group node put hpc gpu-01 --capacity cpu=64,memory=512Gi,gpu=8,gpuType=A100 --label rack=r1
  atrium resource-group node drain hpc gpu-01`,
	}
	cmd.AddCommand(newNodePutCmd(c), newNodeListCmd(c), newNodeImportCmd(c), newNodeDeleteCmd(c), newNodeStateCmd(c, true), newNodeStateCmd(c, false))
	return cmd
}

func newNodePutCmd(c *cli) *cobra.Command {
	var (
		capacity, state string
		labels          []string
	)
	cmd := &cobra.Command{
		Use:   "put GROUP NODE --capacity cpu=N,memory=Q[,gpu=N,gpuType=T]",
		Short: "Create or replace a node",
		Long: `Create a node in GROUP, or replace it: capacity, labels and state are all
set from the flags (state defaults to Ready). --capacity takes cpu (cores or
millicores, e.g. 64 or 500m), memory (e.g. 512Gi), gpu and gpuType.`,
		Example: `  atrium resource-group node put hpc gpu-01 --capacity cpu=64,memory=512Gi,gpu=8,gpuType=A100
  atrium rg node put local cpu-02 --capacity cpu=32,memory=128Gi --label zone=a --state NotReady`,
		Args: cobra.ExactArgs(2),
		RunE: c.run(func(s *session, args []string) error {
			if capacity == "" {
				return errors.New("--capacity is required, e.g. --capacity cpu=64,memory=512Gi,gpu=8,gpuType=A100")
			}
			spec, err := parseSpec("--capacity", capacity)
			if err != nil {
				return err
			}
			req := httpapi.PutNodeRequest{Capacity: spec, State: state, Labels: map[string]string{}}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return fmt.Errorf("--label %q: want KEY=VALUE", l)
				}
				req.Labels[k] = v
			}
			id, err := s.resolveGroup(args[0])
			if err != nil {
				return err
			}
			n, err := s.client.PutNode(s.ctx, id, args[1], req)
			if err != nil {
				return err
			}
			return s.print(n, func(w io.Writer) { nodeTable(w, []*httpapi.NodeView{n}) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&capacity, "capacity", "", "cpu=N,memory=Q[,gpu=N,gpuType=T] (required)")
	f.StringArrayVar(&labels, "label", nil, "label KEY=VALUE (repeatable)")
	f.StringVar(&state, "state", "", "Ready (default), NotReady or Draining")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{"Ready", "NotReady", "Draining"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newNodeListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list GROUP",
		Aliases: []string{"ls"},
		Short:   "List a resource group's nodes",
		Long:    `List the nodes of a resource group with their state, capacity and labels.`,
		Example: `  atrium resource-group node list local`,
		Args:    cobra.ExactArgs(1),
		RunE:    c.run(groupNodes((*httpapi.Client).ListNodes)),
	}
}

// groupNodes runs a call on the GROUP argument's nodes and prints them.
func groupNodes(call func(*httpapi.Client, context.Context, string) (*httpapi.List[*httpapi.NodeView], error)) func(s *session, args []string) error {
	return func(s *session, args []string) error {
		id, err := s.resolveGroup(args[0])
		if err != nil {
			return err
		}
		l, err := call(s.client, s.ctx, id)
		if err != nil {
			return err
		}
		return s.print(l, func(w io.Writer) { nodeTable(w, l.Items) })
	}
}

func newNodeImportCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "import GROUP",
		Short: "Record a slurm group's nodes as Slurm reports them",
		Long: `Read the nodes of a slurm resource group's partition from Slurm on the
server (scontrol show node) with their CPUs, memory, GPUs and state, and
record them. Nodes Slurm no longer lists become NotReady. Run it again after
the cluster changes.`,
		Example: `  atrium resource-group node import hpc`,
		Args:    cobra.ExactArgs(1),
		RunE:    c.run(groupNodes((*httpapi.Client).ImportNodes)),
	}
}

func newNodeDeleteCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "delete GROUP NODE",
		Aliases: []string{"rm"},
		Short:   "Remove a node from a resource group",
		Long:    `Remove a node from a resource group. To stop placing work on it first, drain it.`,
		Example: `  atrium resource-group node delete hpc gpu-01`,
		Args:    cobra.ExactArgs(2),
		RunE: c.run(func(s *session, args []string) error {
			id, err := s.resolveGroup(args[0])
			if err != nil {
				return err
			}
			if err := s.client.DeleteNode(s.ctx, id, args[1]); err != nil {
				return err
			}
			s.message("Deleted node %s from %s", args[1], id)
			return nil
		}),
	}
}

// newNodeStateCmd is 'drain' (to Draining) or 'undrain' (to Ready).
func newNodeStateCmd(c *cli, drain bool) *cobra.Command {
	use, state, short, long := "undrain", atrium.NodeReady, "Make a node Ready again",
		`Set a node's state back to Ready, so new work may be placed on it.`
	if drain {
		use, state, short, long = "drain", atrium.NodeDraining, "Stop placing new work on a node",
			`Set a node's state to Draining: running work stays, nothing new is placed on it.`
	}
	return &cobra.Command{
		Use:     use + " GROUP NODE",
		Short:   short,
		Long:    long,
		Example: "  atrium resource-group node " + use + " hpc gpu-01",
		Args:    cobra.ExactArgs(2),
		RunE: c.run(func(s *session, args []string) error {
			id, err := s.resolveGroup(args[0])
			if err != nil {
				return err
			}
			l, err := s.client.ListNodes(s.ctx, id)
			if err != nil {
				return err
			}
			for _, n := range l.Items {
				if n.Name != args[1] {
					continue
				}
				out, err := s.client.PutNode(s.ctx, id, n.Name, httpapi.PutNodeRequest{Capacity: n.Capacity, Labels: n.Labels, State: state})
				if err != nil {
					return err
				}
				return s.print(out, func(w io.Writer) { fmt.Fprintf(w, "Node %s is %s\n", out.Name, out.State) })
			}
			return &hintError{msg: fmt.Sprintf("no node %q in resource group %s", args[1], id), hint: "see 'atrium resource-group node list " + args[0] + "'"}
		}),
	}
}

// parseSpec reads "gpuType=A100,cpu=64,memory=512Gi,gpu=8" (any order;
// mem and type are accepted for memory and gpuType). Quantities are checked
// by the server, whose errors name the field.
func parseSpec(flag, s string) (resource.Spec, error) {
	var spec resource.Spec
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			return spec, fmt.Errorf("%s %q: want KEY=VALUE pairs of cpu, memory, gpu and gpuType, e.g. gpuType=A100,cpu=64,memory=512Gi,gpu=8", flag, s)
		}
		switch strings.ToLower(k) {
		case "cpu":
			k, spec.CPU = "cpu", resource.Quantity(v)
		case "memory", "mem":
			k, spec.Memory = "memory", resource.Quantity(v)
		case "gpu":
			k = "gpu"
			if _, err := fmt.Sscan(v, &spec.GPU); err != nil || fmt.Sprint(spec.GPU) != v {
				return spec, fmt.Errorf("%s: gpu=%q is not a whole number", flag, v)
			}
		case "gputype", "type", "gpu-type":
			k, spec.GPUType = "gpuType", v
		default:
			return spec, fmt.Errorf("%s: unknown key %q (use cpu, memory, gpu, gpuType)", flag, k)
		}
		if seen[k] {
			return spec, fmt.Errorf("%s: %s is given twice", flag, k)
		}
		seen[k] = true
	}
	return spec, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
