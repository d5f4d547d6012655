package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

const workspaceSelection = `The workspace is --workspace (-w), else ATRIUM_WORKSPACE, else the one chosen
with 'atrium workspace use', else your default workspace on the server.`

func newMemberCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "member",
		Aliases: []string{"members"},
		Short:   "Manage a workspace's members and their roles",
		Long: `Members are users with one or more roles in a workspace: WorkspaceOwner,
WorkspaceAdmin, AlgoDeveloper, AlgoOperator, LabelManager, WorkspaceGuest,
MaxComputeDeveloper, or a custom role ('atrium role'). Every member may list
members; WorkspaceOwner and WorkspaceAdmin add and remove them and their
roles.

A MEMBER argument is a member id (mem-…), a user id (u-…) or a user name.

` + workspaceSelection,
	}
	cmd.AddCommand(newMemberAddCmd(c), newMemberListCmd(c), newMemberGetCmd(c), newMemberRemoveCmd(c),
		newMemberRoleCmd(c, true), newMemberRoleCmd(c, false))
	return c.addGlobalFlags(cmd)
}

func memberTable(w io.Writer, items []*atrium.Member) {
	fmt.Fprintln(w, "ID\tUSER\tDISPLAY NAME\tROLES\tSINCE")
	for _, m := range items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.UserName, orDash(m.DisplayName), joinOrDash(m.Roles), fmtTime(m.CreatedAt))
	}
}

func memberDetail(w io.Writer, m *atrium.Member) {
	kv(w, "ID", m.ID, "Workspace", m.WorkspaceID, "User", m.UserName, "User ID", m.UserID,
		"Display name", orDash(m.DisplayName), "Roles", joinOrDash(m.Roles), "Since", fmtTime(m.CreatedAt))
}

func newMemberAddCmd(c *cli) *cobra.Command {
	var roles []string
	cmd := &cobra.Command{
		Use:   "add USER... --role ROLE",
		Short: "Add users to the workspace with roles",
		Long: `Add one or more users as members holding the --role roles (all or none are
added). USER is a user id (u-…) or a user name.

` + workspaceSelection,
		Example: `  atrium member add alice --role AlgoDeveloper
  atrium member add u-abcdefghijklmnop bob --role AlgoOperator --role LabelManager -w team_a`,
		Args: cobra.MinimumNArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if len(roles) == 0 {
				return errors.New("--role is required: the roles to grant, e.g. --role AlgoDeveloper")
			}
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			params := make([]atrium.MemberParams, len(args))
			for i, a := range args {
				if a == "me" {
					return errors.New("'me' cannot be added; give a user id or name")
				}
				params[i] = atrium.MemberParams{Roles: roles}
				if userIDRE.MatchString(a) {
					params[i].UserID = a
				} else {
					params[i].UserName = a // the server resolves names
				}
			}
			res, err := s.client.AddMembers(s.ctx, wsID, params...)
			if err != nil {
				return err
			}
			return s.print(res, func(w io.Writer) { memberTable(w, res.Members) })
		}),
	}
	cmd.Flags().StringSliceVarP(&roles, "role", "r", nil, "role to grant (repeat or comma-separate for several)")
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions(atrium.BuiltinRoles, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newMemberListCmd(c *cli) *cobra.Command {
	var (
		opt       httpapi.ListMembersOptions
		pageSize  int
		pageToken string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the workspace's members",
		Long: `List the workspace's members ordered by user name, optionally only those
holding --role or whose user name or display name contains --name. All pages
are fetched unless --page-size is given.

` + workspaceSelection,
		Example: `  atrium member list
  atrium member list --role WorkspaceAdmin -w team_a -o yaml`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			l, err := collect(pageSize, pageToken, func(p httpapi.PageOptions) (*httpapi.List[*atrium.Member], error) {
				opt.PageOptions = p
				return s.client.ListMembers(s.ctx, wsID, opt)
			})
			if err != nil {
				return err
			}
			if err := s.print(l, func(w io.Writer) { memberTable(w, l.Items) }); err != nil {
				return err
			}
			s.moreHint(l.NextPageToken)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opt.Role, "role", "", "only members holding this role")
	f.StringVar(&opt.Name, "name", "", "only members whose user name or display name contains this")
	f.IntVar(&pageSize, "page-size", 0, "fetch one page of this many (1–500) instead of all")
	f.StringVar(&pageToken, "page-token", "", "continue a paged listing")
	return cmd
}

func newMemberGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "get MEMBER",
		Short:   "Show a member",
		Long:    "Show a member: MEMBER is a member id (mem-…), a user id (u-…) or a user name.\n\n" + workspaceSelection,
		Example: `  atrium member get alice`,
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			m, err := s.resolveMember(wsID, args[0])
			if err != nil {
				return err
			}
			if m.WorkspaceID == "" { // only the id is known
				if m, err = s.client.GetMember(s.ctx, wsID, m.ID); err != nil {
					return err
				}
			}
			return s.print(m, func(w io.Writer) { memberDetail(w, m) })
		}),
	}
}

func newMemberRemoveCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "remove MEMBER",
		Aliases: []string{"rm", "delete"},
		Short:   "Remove a member from the workspace",
		Long: `Remove a member from the workspace (WorkspaceOwner or WorkspaceAdmin). The
last WorkspaceOwner cannot be removed. MEMBER is a member id (mem-…), a user
id (u-…) or a user name.

` + workspaceSelection,
		Example: `  atrium member remove alice`,
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			m, err := s.resolveMember(wsID, args[0])
			if err != nil {
				return err
			}
			if err := s.client.DeleteMember(s.ctx, wsID, m.ID); err != nil {
				return err
			}
			s.message("Removed member %s from workspace %s", args[0], wsID)
			return nil
		}),
	}
}

// newMemberRoleCmd is add-role (add) or remove-role.
func newMemberRoleCmd(c *cli, add bool) *cobra.Command {
	use, short, long, example := "add-role MEMBER ROLE", "Grant a member a role",
		`Grant a member one more role (idempotent). ROLE is a built-in role or a
custom role of the workspace ('atrium role list').`,
		`  atrium member add-role alice AlgoOperator`
	if !add {
		use, short, long, example = "remove-role MEMBER ROLE", "Revoke a member's role",
			`Revoke one of a member's roles. A member keeps at least one role (remove
the member instead), and the workspace keeps at least one WorkspaceOwner.`,
			`  atrium member remove-role alice AlgoOperator`
	}
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long + "\n\nMEMBER is a member id (mem-…), a user id (u-…) or a user name.\n\n" + workspaceSelection,
		Example: example,
		Args:    cobra.ExactArgs(2),
		RunE: c.run(func(s *session, args []string) error {
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			m, err := s.resolveMember(wsID, args[0])
			if err != nil {
				return err
			}
			role := strings.TrimSpace(args[1])
			if add {
				m, err = s.client.AddMemberRole(s.ctx, wsID, m.ID, role)
			} else {
				m, err = s.client.RemoveMemberRole(s.ctx, wsID, m.ID, role)
			}
			if err != nil {
				return err
			}
			return s.print(m, func(w io.Writer) { memberTable(w, []*atrium.Member{m}) })
		}),
	}
}
