package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
	"atrium/resource"
)

func newQuotaCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "quota",
		Aliases: []string{"quotas"},
		Short:   "Carve quotas out of resource groups, bind them to workspaces, see their usage",
		Long: `Quotas form a tree. A root quota draws on resource groups; a child draws on
its parent. Each has, per gpuType, a min (guaranteed) and a max (cap);
unused min of siblings may be borrowed up to max, and a lending limit caps
how much of a quota's min others may borrow. Jobs queue per quota with a
strategy (StrictFIFO, RoundRobin, Intelligent) and may preempt within it
(--preemptor-priority / --preempted-priority).

ResourceAdmins create, change and delete quotas and offer them to
workspaces (--offer-to, --offer-to-all). WorkspaceOwners and Admins bind
offered quotas ('atrium quota bind'); every member sees the quotas their
workspace may use: 'atrium quota list -w WORKSPACE'. Without --workspace,
list and get show every quota (ResourceAdmin); for others they fall back to
the selected workspace.

Resources are given per gpuType as --min gpuType=A100,cpu=64,memory=512Gi,gpu=8
(repeat the flag for several gpuTypes; leave gpuType out for CPU-only
capacity). A QUOTA argument is a quota id (quota-…) or name.`,
	}
	cmd.AddCommand(newQuotaCreateCmd(c), newQuotaListCmd(c), newQuotaGetCmd(c), newQuotaUpdateCmd(c),
		newQuotaDeleteCmd(c), newQuotaBindCmd(c, true), newQuotaBindCmd(c, false))
	return c.addGlobalFlags(cmd)
}

// quotaWorkspace returns the workspace a quota command acts for: the
// selected one when --workspace is given (or force), else "" (all quotas).
func (s *session) quotaWorkspace(force bool) (string, error) {
	if force || s.cmd.Flags().Changed("workspace") {
		return s.workspaceID()
	}
	return "", s.needToken()
}

// asWorkspaceFallback: when the platform-wide call was forbidden, show the
// selected workspace's view instead, saying so.
func (s *session) asWorkspaceFallback(err error) (string, bool) {
	if !httpapi.IsProblem(err, atrium.EFORBIDDEN) || s.cmd.Flags().Changed("workspace") {
		return "", false
	}
	wsID, werr := s.workspaceID()
	if werr != nil {
		return "", false
	}
	fmt.Fprintf(s.cmd.ErrOrStderr(), "Note: all quotas are for ResourceAdmins; showing those of workspace %s\n", wsID)
	return wsID, true
}

// resolveQuota accepts a quota id (quota-…) or a name, looked up among all
// quotas, or, for a workspace, among those it may use or bind.
func (s *session) resolveQuota(ref, wsID string) (string, error) {
	if strings.HasPrefix(ref, atrium.PrefixQuota) {
		return ref, nil
	}
	var items []*httpapi.QuotaView
	if wsID == "" {
		l, err := s.client.ListQuotas(s.ctx, httpapi.ListQuotasOptions{})
		if err != nil {
			return "", err
		}
		items = l.Items
	} else {
		for _, offered := range []bool{false, true} {
			l, err := s.client.ListWorkspaceQuotas(s.ctx, wsID, offered)
			if err != nil {
				return "", err
			}
			items = append(items, l.Items...)
		}
	}
	for _, q := range items {
		if q.Name == ref {
			return q.ID, nil
		}
	}
	return "", &hintError{msg: fmt.Sprintf("no quota named %q", ref), hint: "see 'atrium quota list'"}
}

// bar draws used out of total in width cells: ██████░░.
func bar(used, total int64, width int) string {
	n := 0
	if total > 0 {
		n = int((used*int64(width) + total/2) / total)
		if used > 0 && n == 0 {
			n = 1
		}
		n = min(n, width)
	}
	return strings.Repeat("█", n) + strings.Repeat("░", width-n)
}

// quotaCap is the denominator of a usage bar: max when set, else what the
// quota could hold now (allocated + available).
func quotaCap(u httpapi.QuotaUsage) resource.Vector {
	if u.Max != nil {
		return u.Max.Vector()
	}
	return u.Allocated.Vector().Add(u.Available.Vector())
}

// usageCells renders gpu, cpu and memory as "allocated/cap ████░░░░".
func usageCells(u httpapi.QuotaUsage) (gpu, cpu, mem string) {
	a, c := u.Allocated.Vector(), quotaCap(u)
	const w = 8
	gpu = "-"
	if c.GPU > 0 || a.GPU > 0 {
		gpu = fmt.Sprintf("%d/%d %s", a.GPU, c.GPU, bar(a.GPU, c.GPU, w))
	}
	cpu = fmt.Sprintf("%s/%s %s", resource.FormatCPU(a.MilliCPU), resource.FormatCPU(c.MilliCPU), bar(a.MilliCPU, c.MilliCPU, w))
	mem = fmt.Sprintf("%s/%s %s", resource.FormatMemory(a.Memory), resource.FormatMemory(c.Memory), bar(a.Memory, c.Memory, w))
	return gpu, cpu, mem
}

// flattenTree lists quotas depth-first with their depth.
func flattenTree(items []*httpapi.QuotaView, depth int, out *[]treeRow) {
	for _, q := range items {
		*out = append(*out, treeRow{q, depth})
		flattenTree(q.Children, depth+1, out)
	}
}

type treeRow struct {
	q     *httpapi.QuotaView
	depth int
}

// quotaTable prints one line per quota and gpuType with usage bars.
func quotaTable(w io.Writer, items []*httpapi.QuotaView, workspace bool) {
	var rows []treeRow
	flattenTree(items, 0, &rows)
	head := "ID\tNAME\tPARENT\tSTRATEGY\t"
	if workspace {
		head += "BOUND\t"
	} else {
		head += "OFFERED TO\t"
	}
	fmt.Fprintln(w, head+"GPU TYPE\tGPU\tCPU\tMEMORY")
	for _, r := range rows {
		q := r.q
		name := q.Name
		if r.depth > 0 {
			name = strings.Repeat("  ", r.depth-1) + "└ " + name
		}
		extra := "all"
		switch {
		case workspace && q.Bound != nil && *q.Bound:
			extra = "yes"
		case workspace && q.OfferedToAll:
			extra = "no (offered to all)"
		case workspace:
			extra = "no"
		case !q.OfferedToAll:
			extra = joinOrDash(q.OfferedTo)
		}
		lead := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t", q.ID, name, orDash(q.ParentID), q.QueueStrategy, extra)
		if len(q.Usage) == 0 {
			fmt.Fprintln(w, lead+"-\t-\t-\t-")
			continue
		}
		for i, u := range q.Usage {
			if i > 0 {
				lead = "\t\t\t\t\t"
			}
			gpu, cpu, mem := usageCells(u)
			fmt.Fprintf(w, "%s%s\t%s\t%s\t%s\n", lead, gpuTypeText(u.GPUType), gpu, cpu, mem)
		}
	}
}

func gpuTypeText(t string) string {
	if t == "" {
		return "(cpu only)"
	}
	return t
}

func vecText(v httpapi.UsageVector, what string) string {
	switch what {
	case "gpu":
		return fmt.Sprint(v.GPU)
	case "cpu":
		return v.CPU
	}
	return v.Memory
}

func quotaDetail(w io.Writer, q *httpapi.QuotaView) {
	kv(w, "ID", q.ID, "Name", q.Name, "Description", orDash(q.Description))
	if q.ParentID != "" {
		kv(w, "Parent", q.ParentID)
	} else {
		kv(w, "Resource groups", joinOrDash(q.ResourceGroupIDs))
	}
	offered := "all workspaces"
	if !q.OfferedToAll {
		offered = joinOrDash(q.OfferedTo)
	}
	preempt := "off"
	if q.PreemptorPriority > 0 {
		preempt = fmt.Sprintf("priority ≥%d preempts ≤%d", q.PreemptorPriority, q.PreemptedPriority)
	}
	kv(w, "Min", specsText(q.Min), "Max", specsText(q.Max), "Lending limit", specsText(q.LendingLimit),
		"Queue strategy", q.QueueStrategy, "Preemption", preempt, "Min runtime", q.MinRuntime, "Offered to", offered)
	if q.Bound != nil {
		kv(w, "Bound", fmt.Sprint(*q.Bound))
	}
	kv(w, "Created", fmtTime(q.CreatedAt), "Updated", fmtTime(q.UpdatedAt))
	fmt.Fprintln(w, "Usage:")
	if len(q.Usage) == 0 {
		fmt.Fprintln(w, "  (no limits and no work)")
		return
	}
	fmt.Fprintln(w, "GPU TYPE\tRESOURCE\tMIN\tMAX\tALLOCATED\tUSED\tREQUESTED\tBORROWED\tLENT\tAVAILABLE\tALLOCATED OF CAP")
	for _, u := range q.Usage {
		c := quotaCap(u)
		a := u.Allocated.Vector()
		for _, what := range []string{"gpu", "cpu", "memory"} {
			if what == "gpu" && u.GPUType == "" {
				continue // CPU-only capacity has no GPUs
			}
			mx := "-"
			if u.Max != nil {
				mx = vecText(*u.Max, what)
			}
			var b string
			switch what {
			case "gpu":
				b = bar(a.GPU, c.GPU, 10)
			case "cpu":
				b = bar(a.MilliCPU, c.MilliCPU, 10)
			default:
				b = bar(a.Memory, c.Memory, 10)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", gpuTypeText(u.GPUType), what, vecText(u.Min, what), mx,
				vecText(u.Allocated, what), vecText(u.Used, what), vecText(u.Requested, what), vecText(u.Borrowed, what),
				vecText(u.Lent, what), vecText(u.Available, what), b)
		}
	}
}

// quotaFlags are the flags of create and update.
type quotaFlags struct {
	description, parent, strategy, minRuntime, name string
	groups, min, max, lending, offerTo              []string
	preemptor, preempted                            int
	offerToAll                                      bool
}

func (qf *quotaFlags) register(cmd *cobra.Command, update bool) {
	f := cmd.Flags()
	f.StringVar(&qf.description, "description", "", "description, up to 80 characters")
	f.StringVar(&qf.parent, "parent", "", "parent quota (id or name): makes a child quota")
	f.StringArrayVar(&qf.groups, "resource-group", nil, "resource group (id or name) a root quota draws on (repeatable)")
	f.StringArrayVar(&qf.min, "min", nil, "guaranteed resources of one gpuType: gpuType=A100,cpu=64,memory=512Gi,gpu=8 (repeatable)")
	f.StringArrayVar(&qf.max, "max", nil, "cap of one gpuType, same form as --min (repeatable)")
	f.StringArrayVar(&qf.lending, "lending-limit", nil, "how much of --min others may borrow, same form (repeatable)")
	f.StringVar(&qf.strategy, "strategy", "", "queue strategy: StrictFIFO, RoundRobin (default) or Intelligent")
	f.IntVar(&qf.preemptor, "preemptor-priority", 0, "jobs of this priority or more may preempt (0: no in-quota preemption)")
	f.IntVar(&qf.preempted, "preempted-priority", 0, "jobs of this priority or less may be preempted")
	f.StringVar(&qf.minRuntime, "min-runtime", "", "jobs younger than this are not preempted, e.g. 10m")
	f.StringArrayVar(&qf.offerTo, "offer-to", nil, "workspace (id or name) that may bind the quota (repeatable)")
	f.BoolVar(&qf.offerToAll, "offer-to-all", false, "offer the quota to every workspace (a public pool)")
	if update {
		f.StringVar(&qf.name, "name", "", "new name (the id stays)")
	}
	_ = cmd.RegisterFlagCompletionFunc("strategy", cobra.FixedCompletions([]string{"StrictFIFO", "RoundRobin", "Intelligent"}, cobra.ShellCompDirectiveNoFileComp))
}

func parseSpecs(flag string, vals []string) ([]resource.Spec, error) {
	out := []resource.Spec{}
	for _, v := range vals {
		sp, err := parseSpec(flag, v)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// apply sets the changed flags on req; all of them for a new quota.
func (qf *quotaFlags) apply(s *session, req *httpapi.QuotaRequest) error {
	fl := s.cmd.Flags()
	ch := fl.Changed
	var err error
	if ch("name") {
		req.Name = qf.name
	}
	if ch("description") {
		req.Description = qf.description
	}
	if ch("parent") {
		req.ParentID = ""
		if qf.parent != "" {
			if req.ParentID, err = s.resolveQuota(qf.parent, ""); err != nil {
				return err
			}
			if !ch("resource-group") {
				req.ResourceGroupIDs = nil // a child draws on its parent
			}
		}
	}
	if ch("resource-group") {
		req.ResourceGroupIDs = nil
		for _, g := range qf.groups {
			id, err := s.resolveGroup(g)
			if err != nil {
				return err
			}
			req.ResourceGroupIDs = append(req.ResourceGroupIDs, id)
		}
		if !ch("parent") {
			req.ParentID = "" // a root draws on groups
		}
	}
	for _, x := range []struct {
		flag string
		vals []string
		dst  *[]resource.Spec
	}{{"min", qf.min, &req.Min}, {"max", qf.max, &req.Max}, {"lending-limit", qf.lending, &req.LendingLimit}} {
		if ch(x.flag) {
			if *x.dst, err = parseSpecs("--"+x.flag, x.vals); err != nil {
				return err
			}
		}
	}
	if ch("strategy") {
		req.QueueStrategy = qf.strategy
	}
	if ch("preemptor-priority") {
		req.PreemptorPriority = qf.preemptor
	}
	if ch("preempted-priority") {
		req.PreemptedPriority = qf.preempted
	}
	if ch("min-runtime") {
		req.MinRuntime = qf.minRuntime
	}
	if ch("offer-to-all") {
		req.OfferedToAll = qf.offerToAll
	}
	if ch("offer-to") {
		req.OfferedTo = nil
		for _, ref := range qf.offerTo {
			ws, err := s.resolveWorkspace(ref)
			if err != nil {
				return err
			}
			req.OfferedTo = append(req.OfferedTo, ws.ID)
		}
	}
	return nil
}

func newQuotaCreateCmd(c *cli) *cobra.Command {
	var qf quotaFlags
	cmd := &cobra.Command{
		Use:   "create NAME (--resource-group GROUP... | --parent QUOTA)",
		Short: "Create a quota (ResourceAdmin)",
		Long: `Create a quota; its id is quota-NAME. A root quota draws on resource groups
(--resource-group); a child draws on its parent (--parent). The server
checks the whole tree: gpuTypes the nodes offer, min within max, a child's
max within its parent's, children's min within the parent's min, roots'
min backed by the groups' Ready capacity, no cycles.`,
		Example: `  atrium quota create research --resource-group local --min gpuType=A100,cpu=64,memory=512Gi,gpu=8 --max gpuType=A100,cpu=128,memory=1Ti,gpu=16
  atrium quota create nlp --parent research --min gpuType=A100,cpu=32,memory=256Gi,gpu=4 --strategy Intelligent --offer-to team_a
  atrium quota create shared --resource-group local --max cpu=16,memory=64Gi --offer-to-all`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			req := httpapi.QuotaRequest{Name: args[0]}
			if err := qf.apply(s, &req); err != nil {
				return err
			}
			q, err := s.client.CreateQuota(s.ctx, req)
			if err != nil {
				return err
			}
			return s.print(q, func(w io.Writer) {
				fmt.Fprintf(w, "Created quota %s (%s)\n", q.Name, q.ID)
			})
		}),
	}
	qf.register(cmd, false)
	return cmd
}

func newQuotaListCmd(c *cli) *cobra.Command {
	var tree, offered bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List quotas with usage bars",
		Long: `List quotas with their usage per gpuType: allocated out of max (or, without a
max, out of what the quota could hold now), as numbers and a bar.

Without --workspace: every quota (ResourceAdmin); --tree shows the tree.
With --workspace (-w): the quotas the workspace may use, bound or offered to
all (any member); --offered instead lists those offered to it and not yet
bound, the candidates for 'atrium quota bind'.`,
		Example: `  atrium quota list --tree
  atrium quota list -w team_a
  atrium quota list -w team_a --offered`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			wsID, err := s.quotaWorkspace(offered)
			if err != nil {
				return err
			}
			var l *httpapi.List[*httpapi.QuotaView]
			if wsID == "" {
				l, err = s.client.ListQuotas(s.ctx, httpapi.ListQuotasOptions{Tree: tree})
				if fb, ok := s.asWorkspaceFallback(err); ok {
					wsID = fb
				}
			}
			if wsID != "" {
				l, err = s.client.ListWorkspaceQuotas(s.ctx, wsID, offered)
			}
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) { quotaTable(w, l.Items, wsID != "") })
		}),
	}
	cmd.Flags().BoolVar(&tree, "tree", false, "all quotas as a tree (roots with their children)")
	cmd.Flags().BoolVar(&offered, "offered", false, "the quotas offered to the workspace and not yet bound")
	return cmd
}

func newQuotaGetCmd(c *cli) *cobra.Command {
	var tree bool
	cmd := &cobra.Command{
		Use:   "get QUOTA",
		Short: "Show a quota and its usage",
		Long: `Show a quota with its usage per gpuType: min, max, allocated, used,
requested, borrowed, lent and available for gpu, cpu and memory. --tree
adds its subtree with usage bars. With --workspace only a quota the
workspace may use is shown.`,
		Example: `  atrium quota get research --tree
  atrium quota get quota-public -w team_a`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			wsID, err := s.quotaWorkspace(false)
			if err != nil {
				return err
			}
			var q *httpapi.QuotaView
			if wsID == "" {
				var id string
				if id, err = s.resolveQuota(args[0], ""); err == nil {
					q, err = s.client.GetQuota(s.ctx, id, tree)
				}
				if fb, ok := s.asWorkspaceFallback(err); ok {
					wsID = fb
				}
			}
			if wsID != "" {
				var id string
				if id, err = s.resolveQuota(args[0], wsID); err == nil {
					q, err = s.client.GetWorkspaceQuota(s.ctx, wsID, id, tree)
				}
			}
			if err != nil {
				return err
			}
			return s.print(q, func(w io.Writer) {
				quotaDetail(w, q)
				if tree && len(q.Children) > 0 {
					fmt.Fprintln(w, "Tree:")
					quotaTable(w, []*httpapi.QuotaView{q}, false)
				}
			})
		}),
	}
	cmd.Flags().BoolVar(&tree, "tree", false, "include the quota's subtree")
	return cmd
}

func newQuotaUpdateCmd(c *cli) *cobra.Command {
	var qf quotaFlags
	cmd := &cobra.Command{
		Use:   "update QUOTA",
		Short: "Change a quota (ResourceAdmin)",
		Long: `Change a quota: flags given replace those settings (--min, --max,
--lending-limit and --offer-to replace the whole list), the rest stay.
--parent moves a quota in the tree (the server refuses cycles and limits
that no longer fit); --offer-to-all=false withdraws a public pool.`,
		Example: `  atrium quota update nlp --max gpuType=A100,cpu=64,memory=512Gi,gpu=8
  atrium quota update public --offer-to-all=false --offer-to team_a
  atrium quota update intern --parent cv`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			id, err := s.resolveQuota(args[0], "")
			if err != nil {
				return err
			}
			cur, err := s.client.GetQuota(s.ctx, id, false)
			if err != nil {
				return err
			}
			req := cur.Request()
			if err := qf.apply(s, &req); err != nil {
				return err
			}
			q, err := s.client.UpdateQuota(s.ctx, id, req)
			if err != nil {
				return err
			}
			return s.print(q, func(w io.Writer) { quotaDetail(w, q) })
		}),
	}
	qf.register(cmd, true)
	return cmd
}

func newQuotaDeleteCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "delete QUOTA",
		Aliases: []string{"rm"},
		Short:   "Delete a quota (ResourceAdmin)",
		Long:    `Delete a quota that has no children and is bound to no workspace.`,
		Example: `  atrium quota delete nlp-intern`,
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			id, err := s.resolveQuota(args[0], "")
			if err != nil {
				return err
			}
			if err := s.client.DeleteQuota(s.ctx, id); err != nil {
				return err
			}
			s.message("Deleted quota %s", id)
			return nil
		}),
	}
}

// newQuotaBindCmd is 'bind' or 'unbind'.
func newQuotaBindCmd(c *cli, bind bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bind QUOTA",
		Short: "Bind a quota offered to the workspace (WorkspaceOwner, WorkspaceAdmin)",
		Long: `Bind a quota that a ResourceAdmin offered to the workspace, so its jobs may
use it ('atrium quota list -w WS --offered' lists the candidates).

` + workspaceSelection,
		Example: `  atrium quota bind nlp -w team_a`,
		Args:    cobra.ExactArgs(1),
	}
	if !bind {
		cmd.Use, cmd.Short = "unbind QUOTA", "Unbind a quota from the workspace (WorkspaceOwner, WorkspaceAdmin)"
		cmd.Long = `Unbind a quota from the workspace. Refused while it is the workspace's
default quota ('atrium workspace config set --default-quota').

` + workspaceSelection
		cmd.Example = `  atrium quota unbind nlp -w team_a`
	}
	cmd.RunE = c.run(func(s *session, args []string) error {
		wsID, err := s.workspaceID()
		if err != nil {
			return err
		}
		id, err := s.resolveQuota(args[0], wsID)
		if err != nil {
			return err
		}
		if !bind {
			if err := s.client.UnbindQuota(s.ctx, wsID, id); err != nil {
				return err
			}
			s.message("Unbound quota %s from workspace %s", id, wsID)
			return nil
		}
		b, err := s.client.BindQuota(s.ctx, wsID, id)
		if err != nil {
			return err
		}
		return s.print(b, func(w io.Writer) { fmt.Fprintf(w, "Bound quota %s to workspace %s\n", b.QuotaID, b.WorkspaceID) })
	})
	return cmd
}
