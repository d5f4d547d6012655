package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newWorkspaceCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "workspace",
		Aliases: []string{"workspaces", "ws"},
		Short:   "Create, list, change, delete and choose workspaces",
		Long: `A workspace is a team's shared space: members with roles, quotas, assets and
jobs. ResourceAdmins create and delete workspaces; the creator becomes the
workspace's WorkspaceOwner. Everyone lists the workspaces they belong to.

Wherever a workspace is asked for, give its id (ws-…) or its name.
'atrium workspace use' picks the workspace that member, role and oplog
commands act on when --workspace is not given.`,
	}
	cmd.AddCommand(newWorkspaceCreateCmd(c), newWorkspaceListCmd(c), newWorkspaceGetCmd(c),
		newWorkspaceUpdateCmd(c), newWorkspaceDeleteCmd(c), newWorkspaceUseCmd(c), newWorkspaceConfigCmd(c))
	return c.addGlobalFlags(cmd)
}

func workspaceTable(w io.Writer, items []*atrium.Workspace, current string) {
	fmt.Fprintln(w, "ID\tNAME\tDISPLAY NAME\tSTATUS\tENV TYPES\tCREATED")
	for _, ws := range items {
		id := ws.ID
		if id == current {
			id += " *"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", id, ws.Name, orDash(ws.DisplayName), ws.Status, joinOrDash(ws.EnvTypes), fmtTime(ws.CreatedAt))
	}
}

func workspaceDetail(w io.Writer, ws *atrium.Workspace) {
	kv(w, "ID", ws.ID, "Name", ws.Name, "Display name", orDash(ws.DisplayName), "Description", orDash(ws.Description),
		"Status", ws.Status, "Env types", joinOrDash(ws.EnvTypes), "Creator", orDash(ws.Creator),
		"Created", fmtTime(ws.CreatedAt), "Updated", fmtTime(ws.UpdatedAt))
}

func newWorkspaceCreateCmd(c *cli) *cobra.Command {
	var req httpapi.CreateWorkspaceRequest
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a workspace (ResourceAdmin)",
		Long: `Create a workspace; you become its WorkspaceOwner. NAME is 3–23 letters,
digits or '_', starting with a letter, and cannot change later; the display
name defaults to NAME. --env-types is prod (one environment) or dev,prod
(separate development and production), also fixed at creation.`,
		Example: `  atrium workspace create team_a
  atrium workspace create nlp --display-name "NLP research" --env-types dev,prod`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			req.Name = args[0]
			ws, err := s.client.CreateWorkspace(s.ctx, req)
			if err != nil {
				return err
			}
			return s.print(ws, func(w io.Writer) {
				fmt.Fprintf(w, "Created workspace %s (%s)\n", ws.Name, ws.ID)
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.DisplayName, "display-name", "", "display name (default NAME)")
	f.StringVar(&req.Description, "description", "", "description, up to 80 characters")
	f.StringSliceVar(&req.EnvTypes, "env-types", []string{"prod"}, "environments: prod, or dev,prod")
	return cmd
}

func newWorkspaceListCmd(c *cli) *cobra.Command {
	var (
		opt       httpapi.ListWorkspacesOptions
		all       bool
		pageSize  int
		pageToken string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the workspaces you belong to (ResourceAdmin: all)",
		Long: `List workspaces: those you are a member of, or every workspace for a
ResourceAdmin (--all=false shows a ResourceAdmin only their own). All pages
are fetched unless --page-size is given. The workspace that commands use by
default is marked with '*'.`,
		Example: `  atrium workspace list
  atrium workspace list --name team --sort-by createdAt --order desc
  atrium workspace list --page-size 20 -o json`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			if s.cmd.Flags().Changed("all") {
				opt.All = &all
			}
			l, err := collect(pageSize, pageToken, func(p httpapi.PageOptions) (*httpapi.List[*atrium.Workspace], error) {
				opt.PageOptions = p
				return s.client.ListWorkspaces(s.ctx, opt)
			})
			if err != nil {
				return err
			}
			current := ""
			if ref, _ := s.workspaceRef(); workspaceIDRE.MatchString(ref) {
				current = ref
			}
			if err := s.print(l, func(w io.Writer) { workspaceTable(w, l.Items, current) }); err != nil {
				return err
			}
			s.moreHint(l.NextPageToken)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opt.Name, "name", "", "only names or display names containing this (case-insensitive)")
	f.StringVar(&opt.Status, "status", "", "only workspaces in this status (e.g. ENABLED)")
	f.StringVar(&opt.SortBy, "sort-by", "", "name (default) or createdAt")
	f.StringVar(&opt.Order, "order", "", "asc (default) or desc")
	f.BoolVar(&all, "all", true, "ResourceAdmin: every workspace; --all=false lists only those you belong to")
	f.IntVar(&pageSize, "page-size", 0, "fetch one page of this many (1–500) instead of all")
	f.StringVar(&pageToken, "page-token", "", "continue a paged listing")
	_ = cmd.RegisterFlagCompletionFunc("sort-by", cobra.FixedCompletions([]string{"name", "createdAt"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("order", cobra.FixedCompletions([]string{"asc", "desc"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// argWorkspace resolves the optional workspace argument, falling back to
// the selected workspace.
func (s *session) argWorkspace(args []string) (string, error) {
	if len(args) > 0 {
		if err := s.needToken(); err != nil {
			return "", err
		}
		ws, err := s.resolveWorkspace(args[0])
		if err != nil {
			return "", err
		}
		return ws.ID, nil
	}
	return s.workspaceID()
}

func (c *cli) workspaceArgCompletion(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return c.completeWorkspaces(cmd, args, toComplete)
}

func newWorkspaceGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "get [WORKSPACE]",
		Short: "Show a workspace",
		Long:  `Show a workspace, by id or name; without an argument, the selected one (--workspace, ATRIUM_WORKSPACE, 'atrium workspace use', else your default).`,
		Example: `  atrium workspace get team_a
  atrium workspace get -o yaml`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.workspaceArgCompletion,
		RunE: c.run(func(s *session, args []string) error {
			id, err := s.argWorkspace(args)
			if err != nil {
				return err
			}
			ws, err := s.client.GetWorkspace(s.ctx, id)
			if err != nil {
				return err
			}
			return s.print(ws, func(w io.Writer) { workspaceDetail(w, ws) })
		}),
	}
}

func newWorkspaceUpdateCmd(c *cli) *cobra.Command {
	var displayName, description string
	cmd := &cobra.Command{
		Use:   "update [WORKSPACE]",
		Short: "Change a workspace's display name or description",
		Long: `Change a workspace's display name or description (WorkspaceOwner or
WorkspaceAdmin). The name and environment types are fixed at creation.
Without an argument the selected workspace is changed.`,
		Example:           `  atrium workspace update team_a --display-name "Team A" --description "vision models"`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.workspaceArgCompletion,
		RunE: c.run(func(s *session, args []string) error {
			var req httpapi.UpdateWorkspaceRequest
			if s.cmd.Flags().Changed("display-name") {
				req.DisplayName = &displayName
			}
			if s.cmd.Flags().Changed("description") {
				req.Description = &description
			}
			if req.DisplayName == nil && req.Description == nil {
				return errors.New("nothing to change: give --display-name and/or --description")
			}
			id, err := s.argWorkspace(args)
			if err != nil {
				return err
			}
			ws, err := s.client.UpdateWorkspace(s.ctx, id, req)
			if err != nil {
				return err
			}
			return s.print(ws, func(w io.Writer) { workspaceDetail(w, ws) })
		}),
	}
	cmd.Flags().StringVar(&displayName, "display-name", "", "new display name")
	cmd.Flags().StringVar(&description, "description", "", "new description, up to 80 characters")
	return cmd
}

func newWorkspaceDeleteCmd(c *cli) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "delete WORKSPACE",
		Aliases: []string{"rm"},
		Short:   "Delete a workspace with its members and roles (ResourceAdmin)",
		Long: `Delete a workspace, by id or name, together with its members and custom
roles; its operation log is kept. Asks for confirmation on a terminal;
scripts pass --yes.`,
		Example:           `  atrium workspace delete team_a --yes`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.workspaceArgCompletion,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			ws, err := s.resolveWorkspace(args[0])
			if err != nil {
				return err
			}
			if !yes {
				ok, err := confirm(s.cmd, fmt.Sprintf("Delete workspace %s with all its members and roles?", args[0]))
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("not deleted")
				}
			}
			if err := s.client.DeleteWorkspace(s.ctx, ws.ID); err != nil {
				return err
			}
			if s.cfg.Workspace == ws.ID || (ws.Name != "" && s.cfg.Workspace == ws.Name) {
				s.cfg.Workspace = ""
				if err := s.save(); err != nil {
					return err
				}
			}
			s.message("Deleted workspace %s", args[0])
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newWorkspaceUseCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "use WORKSPACE",
		Short: "Choose the workspace commands act on by default",
		Long: `Make WORKSPACE (id or name) your default: it is saved as your default
workspace on the server (PUT /api/v1/default-workspace, which the web console
also uses) and in the client config file. --workspace and ATRIUM_WORKSPACE
still override it for a single command.`,
		Example:           `  atrium workspace use team_a`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.workspaceArgCompletion,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			ws, err := s.resolveWorkspace(args[0])
			if err != nil {
				return err
			}
			d, err := s.client.SetDefaultWorkspace(s.ctx, ws.ID)
			if err != nil {
				return err
			}
			if s.configIsFor() {
				s.cfg.Server = s.server
				s.cfg.Workspace = d.WorkspaceID
				if err := s.save(); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(s.cmd.ErrOrStderr(), "Note: the config file is for %s, so only the server-side default was set\n", s.cfg.Server)
			}
			name := ws.ID
			if d.Workspace != nil {
				name = d.Workspace.Name
			}
			return s.print(d, func(w io.Writer) {
				fmt.Fprintf(w, "Now using workspace %s (%s)\n", name, d.WorkspaceID)
			})
		}),
	}
}
