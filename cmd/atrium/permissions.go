package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

// roleShort names roles compactly in the permission table.
var roleShort = map[string]string{
	atrium.RoleResourceAdmin:       "RA",
	atrium.RoleWorkspaceOwner:      "Owner",
	atrium.RoleWorkspaceAdmin:      "Admin",
	atrium.RoleAlgoDeveloper:       "Dev",
	atrium.RoleAlgoOperator:        "Op",
	atrium.RoleLabelManager:        "Label",
	atrium.RoleWorkspaceGuest:      "Guest",
	atrium.RoleMaxComputeDeveloper: "MC",
}

// roleOrder sorts ResourceAdmin, then the built-in roles in display
// order, then anything else by name.
func roleOrder(name string) int {
	if name == atrium.RoleResourceAdmin {
		return -1
	}
	if i := slices.Index(atrium.BuiltinRoles, name); i >= 0 {
		return i
	}
	return len(atrium.BuiltinRoles)
}

// compactGrants renders role → scope as "Owner Admin Dev:OwnOrPublic":
// a bare role holds the permission on all targets.
func compactGrants(g map[string]string) string {
	roles := make([]string, 0, len(g))
	for r := range g {
		roles = append(roles, r)
	}
	slices.SortFunc(roles, func(a, b string) int {
		if d := roleOrder(a) - roleOrder(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(roles))
	for i, r := range roles {
		name := r
		if s, ok := roleShort[r]; ok {
			name = s
		}
		if sc := g[r]; sc != "All" {
			name += ":" + sc
		}
		parts[i] = name
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func newPermissionsCmd(c *cli) *cobra.Command {
	var module string
	cmd := &cobra.Command{
		Use:     "permissions",
		Aliases: []string{"permission", "perms"},
		Short:   "Print the permission table",
		Long: `Print the permission table (GET /api/v1/permissions): every permission code
'Module:Action', whether it is decided platform-wide or inside a workspace,
and which roles hold it on which targets.

GRANTS lists roles by short name: RA=ResourceAdmin, Owner=WorkspaceOwner,
Admin=WorkspaceAdmin, Dev=AlgoDeveloper, Op=AlgoOperator, Label=LabelManager,
Guest=WorkspaceGuest, MC=MaxComputeDeveloper (other names as they are). A
bare role holds the permission on all targets; 'Dev:OwnOrPublic' only on
targets the caller owns or that are PUBLIC. -o json / -o yaml give the full
table with descriptions.`,
		Example: `  atrium permissions
  atrium permissions --module Workspace
  atrium permissions -o yaml`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			l, err := s.client.ListPermissions(s.ctx)
			if err != nil {
				return err
			}
			if module != "" {
				var keep []httpapi.PermissionInfo
				for _, p := range l.Items {
					if strings.EqualFold(p.Module, module) {
						keep = append(keep, p)
					}
				}
				if len(keep) == 0 {
					var mods []string
					for _, p := range l.Items {
						if !slices.Contains(mods, p.Module) {
							mods = append(mods, p.Module)
						}
					}
					return &hintError{msg: fmt.Sprintf("no permissions in module %q", module), hint: "modules: " + strings.Join(mods, ", ")}
				}
				l = &httpapi.List[httpapi.PermissionInfo]{Items: keep, TotalCount: len(keep)}
			}
			return s.print(l, func(w io.Writer) {
				fmt.Fprintln(w, "CODE\tLEVEL\tGRANTS")
				for _, p := range l.Items {
					fmt.Fprintf(w, "%s\t%s\t%s\n", p.Code, p.Level, compactGrants(p.Grants))
				}
			})
		}),
	}
	cmd.Flags().StringVarP(&module, "module", "m", "", "only this module (e.g. Workspace, DLC, Dataset)")
	return c.addGlobalFlags(cmd)
}
