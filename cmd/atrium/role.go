package main

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"atrium/httpapi"
)

func newRoleCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "role",
		Aliases: []string{"roles"},
		Short:   "List workspace roles and manage custom roles",
		Long: `Roles are named sets of permission codes. The seven built-in roles are the
same in every workspace; a workspace may add custom roles, each a list of
permission grants 'Module:Action', optionally scoped with '@Own', '@Public'
or '@OwnOrPublic' (default: all targets). 'atrium permissions' lists the
codes. Every member may read roles; WorkspaceOwner and WorkspaceAdmin manage
custom roles.

` + workspaceSelection,
	}
	cmd.AddCommand(newRoleListCmd(c), newRoleGetCmd(c), newRoleCreateCmd(c), newRoleUpdateCmd(c), newRoleDeleteCmd(c))
	return c.addGlobalFlags(cmd)
}

func newRoleListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List built-in and custom roles",
		Long:    "List the built-in roles and the workspace's custom roles with their number of permission grants.\n\n" + workspaceSelection,
		Example: `  atrium role list -w team_a`,
		Args:    cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			l, err := s.client.ListRoles(s.ctx, wsID)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tTYPE\tPERMISSIONS\tDESCRIPTION")
				for _, r := range l.Items {
					typ := "custom"
					if r.BuiltIn {
						typ = "built-in"
					}
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", r.Name, typ, len(r.Permissions), orDash(r.Description))
				}
			})
		}),
	}
}

func roleDetail(w io.Writer, r *httpapi.RoleInfo) {
	typ := "custom"
	if r.BuiltIn {
		typ = "built-in"
	}
	kv(w, "Name", r.Name, "Type", typ, "Description", orDash(r.Description))
	if !r.BuiltIn {
		kv(w, "Created", fmtTimePtr(r.CreatedAt), "Updated", fmtTimePtr(r.UpdatedAt))
	}
	fmt.Fprintln(w, "Permissions:")
	for _, p := range r.Permissions {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

func newRoleGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "get ROLE",
		Short:   "Show a role and its permission grants",
		Long:    "Show a built-in or custom role with every permission grant it holds.\n\n" + workspaceSelection,
		Example: `  atrium role get AlgoDeveloper`,
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			r, err := s.client.GetRole(s.ctx, wsID, args[0])
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) { roleDetail(w, r) })
		}),
	}
}

func newRoleCreateCmd(c *cli) *cobra.Command {
	var req httpapi.RoleRequest
	cmd := &cobra.Command{
		Use:   "create NAME --permission CODE...",
		Short: "Create a custom role",
		Long: `Create a custom role in the workspace. NAME is 2–48 letters, digits, '_' or
'-' starting with a letter, and may not be a built-in role's name. Each
--permission is 'Module:Action' (all targets) or 'Module:Action@Own',
'@Public' or '@OwnOrPublic'.

` + workspaceSelection,
		Example: `  atrium role create Auditor --permission Workspace:ListOperationLogs --permission Workspace:ListMembers
  atrium role create Reader --permission Dataset:ListDatasets@OwnOrPublic,Dataset:GetDataset@OwnOrPublic --description "reads datasets"`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if len(req.Permissions) == 0 {
				return errors.New("--permission is required: at least one permission code (see 'atrium permissions')")
			}
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			req.Name = args[0]
			r, err := s.client.CreateRole(s.ctx, wsID, req)
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) { roleDetail(w, r) })
		}),
	}
	cmd.Flags().StringSliceVarP(&req.Permissions, "permission", "p", nil, "permission grant (repeat or comma-separate for several)")
	cmd.Flags().StringVar(&req.Description, "description", "", "what the role is for")
	return cmd
}

func newRoleUpdateCmd(c *cli) *cobra.Command {
	var (
		description  string
		perms, plus  []string
		minus        []string
		setPerms     bool
		setDescribed bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a custom role's description or permissions",
		Long: `Change a custom role. --permission replaces the whole list;
--add-permission and --remove-permission edit the current one. Built-in
roles cannot be changed.

` + workspaceSelection,
		Example: `  atrium role update Auditor --add-permission Workspace:GetMember
  atrium role update Auditor --description "reads the log" --permission Workspace:ListOperationLogs`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			setPerms = s.cmd.Flags().Changed("permission")
			setDescribed = s.cmd.Flags().Changed("description")
			if !setPerms && !setDescribed && len(plus) == 0 && len(minus) == 0 {
				return errors.New("nothing to change: give --description, --permission, --add-permission or --remove-permission")
			}
			if setPerms && (len(plus) > 0 || len(minus) > 0) {
				return errors.New("--permission replaces the list; do not combine it with --add-permission or --remove-permission")
			}
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			// Absent fields stay on the server; adding or removing single
			// codes starts from the current list.
			var req httpapi.UpdateRoleRequest
			if setDescribed {
				req.Description = &description
			}
			if setPerms {
				req.Permissions = &perms
			}
			if len(plus) > 0 || len(minus) > 0 {
				cur, err := s.client.GetRole(s.ctx, wsID, args[0])
				if err != nil {
					return err
				}
				list := cur.Permissions
				for _, p := range plus {
					if !slices.Contains(list, p) {
						list = append(list, p)
					}
				}
				for _, p := range minus {
					i := slices.Index(list, p)
					if i < 0 {
						return fmt.Errorf("--remove-permission: role %s does not hold %s", args[0], p)
					}
					list = slices.Delete(list, i, i+1)
				}
				req.Permissions = &list
			}
			r, err := s.client.UpdateRole(s.ctx, wsID, args[0], req)
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) { roleDetail(w, r) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&description, "description", "", "new description")
	f.StringSliceVarP(&perms, "permission", "p", nil, "the new permission list (repeat or comma-separate)")
	f.StringSliceVar(&plus, "add-permission", nil, "grant to add")
	f.StringSliceVar(&minus, "remove-permission", nil, "grant to remove")
	return cmd
}

func newRoleDeleteCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a custom role",
		Long:    "Delete a custom role that no member holds (revoke it first with 'atrium member remove-role').\n\n" + workspaceSelection,
		Example: `  atrium role delete Auditor`,
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			wsID, err := s.workspaceID()
			if err != nil {
				return err
			}
			if err := s.client.DeleteRole(s.ctx, wsID, args[0]); err != nil {
				return err
			}
			s.message("Deleted role %s", args[0])
			return nil
		}),
	}
}
