package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"atrium/httpapi"
)

const accountsLong = `Slurm jobs never run as root. A slurm resource group runs every job as a
Unix account: the one mapped for the job's creator (--user), else the one
mapped for its workspace (--workspace), else the group's default
(--default). A job to which none applies is refused when it is submitted
(and fails to start with StartFailed if its mapping was removed while it
waited).

The account must exist, with the same name and uid, on Atrium's host and on
every node of the cluster (a directory service such as LDAP does that):
Atrium (running as root) creates the job's work directory and output files
owned by the account and submits the job with sbatch as that account. An
Atrium that does not run as root can only submit as its own user, so the
mapped account must be that user. Root (uid 0) is refused everywhere.

These are Unix accounts, not Slurm's --account (the bank charged for fair
share). Only ResourceAdmins see and change them.`

func newAccountCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "account",
		Aliases: []string{"accounts"},
		Short:   "Map workspaces and users to the Unix accounts their Slurm jobs run as",
		Long:    accountsLong,
		Example: `  atrium rg account set hpc atrium-job --default
  atrium rg account set hpc vision-jobs --workspace vision
  atrium rg account set hpc alice --user alice
  atrium rg account list hpc
  atrium rg account delete hpc --user alice`,
	}
	cmd.AddCommand(newAccountSetCmd(c), newAccountListCmd(c), newAccountDeleteCmd(c))
	return cmd
}

// accountTarget is the --workspace, --user or --default of set and delete.
type accountTarget struct {
	workspace, user string
	isDefault       bool
}

func (a *accountTarget) flags(cmd *cobra.Command, verb string) {
	f := cmd.Flags()
	f.StringVar(&a.workspace, "workspace", "", verb+" the account of this workspace's jobs (id or name)")
	f.StringVar(&a.user, "user", "", verb+" the account of this user's jobs, in every workspace (id or name); wins over the workspace's")
	f.BoolVar(&a.isDefault, "default", false, verb+" the group's default account, for jobs no mapping covers")
}

// resolve returns the group's id and the mapping's kind ("workspaces" or
// "users") and subject id; kind "" is the default.
func (a *accountTarget) resolve(s *session, group string) (groupID, kind, id string, err error) {
	if groupID, err = s.resolveGroup(group); err != nil {
		return "", "", "", err
	}
	n := 0
	for _, set := range []bool{a.workspace != "", a.user != "", a.isDefault} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", "", "", errors.New("give exactly one of --workspace WS, --user USER and --default")
	}
	switch {
	case a.workspace != "":
		w, err := s.resolveWorkspace(a.workspace)
		if err != nil {
			return "", "", "", err
		}
		return groupID, "workspaces", w.ID, nil
	case a.user != "":
		id, err := s.resolveUser(a.user)
		return groupID, "users", id, err
	}
	return groupID, "", "", nil
}

func newAccountSetCmd(c *cli) *cobra.Command {
	var target accountTarget
	cmd := &cobra.Command{
		Use:   "set GROUP ACCOUNT (--workspace WS | --user USER | --default)",
		Short: "Run a workspace's, a user's or, by default, every job on a Slurm group as a Unix account",
		Long: `Set the Unix account that jobs on the slurm resource group GROUP run as:
those of a workspace (--workspace), those of one user in every workspace
(--user; wins over the workspace's), or every other job (--default). An
existing mapping is replaced; jobs already running keep their account.

` + accountsLong,
		Example: `  atrium rg account set hpc atrium-job --default
  atrium rg account set hpc vision-jobs --workspace vision
  atrium rg account set hpc alice --user alice`,
		Args: cobra.ExactArgs(2),
		RunE: c.run(func(s *session, args []string) error {
			id, kind, subject, err := target.resolve(s, args[0])
			if err != nil {
				return err
			}
			if kind == "" {
				g, err := s.client.UpdateResourceGroup(s.ctx, id, httpapi.UpdateResourceGroupRequest{DefaultUnixAccount: &args[1]})
				if err != nil {
					return err
				}
				return s.print(g, func(w io.Writer) {
					fmt.Fprintf(w, "Jobs on %s run as %s unless a workspace or user mapping says otherwise\n", g.Name, args[1])
				})
			}
			m, err := s.client.PutAccountMapping(s.ctx, id, kind, subject, args[1])
			if err != nil {
				return err
			}
			return s.print(m, func(w io.Writer) {
				fmt.Fprintf(w, "Jobs of %s %s on %s run as %s\n", mappingKind(m), mappingName(m), id, m.UnixAccount)
			})
		}),
	}
	target.flags(cmd, "set")
	return cmd
}

func mappingKind(m *httpapi.AccountMappingView) string {
	if m.WorkspaceID != "" {
		return "workspace"
	}
	return "user"
}

func mappingName(m *httpapi.AccountMappingView) string {
	if m.WorkspaceID != "" {
		return orDash(m.WorkspaceName) + " (" + m.WorkspaceID + ")"
	}
	return orDash(m.UserName) + " (" + m.UserID + ")"
}

func newAccountListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list GROUP",
		Aliases: []string{"ls"},
		Short:   "Show the Unix accounts a Slurm group's jobs run as",
		Long: `Show the default Unix account of the slurm resource group GROUP and the
accounts mapped for workspaces and users (a user's wins over the
workspace's, which wins over the default).`,
		Example: `  atrium rg account list hpc
  atrium rg account list hpc -o json`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			id, err := s.resolveGroup(args[0])
			if err != nil {
				return err
			}
			v, err := s.client.ListAccounts(s.ctx, id)
			if err != nil {
				return err
			}
			return s.print(v, func(w io.Writer) {
				def := v.DefaultUnixAccount
				if def == "" {
					def = "none: jobs no mapping covers are refused"
				}
				fmt.Fprintf(w, "Default Unix account:\t%s\n", def)
				if len(v.Mappings) == 0 {
					return
				}
				fmt.Fprintln(w, "FOR\tNAME\tID\tUNIX ACCOUNT\tUPDATED")
				for _, m := range v.Mappings {
					name, subject := m.WorkspaceName, m.WorkspaceID
					if m.UserID != "" {
						name, subject = m.UserName, m.UserID
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", mappingKind(m), orDash(name), subject, m.UnixAccount, fmtTime(m.UpdatedAt))
				}
			})
		}),
	}
}

func newAccountDeleteCmd(c *cli) *cobra.Command {
	var target accountTarget
	cmd := &cobra.Command{
		Use:     "delete GROUP (--workspace WS | --user USER | --default)",
		Aliases: []string{"rm"},
		Short:   "Remove a workspace's or user's Unix account, or the default, on a Slurm group",
		Long: `Remove a mapping: the jobs it covered fall back to the workspace's account
(for a user), then to the group's default. Removing the default (--default)
leaves jobs that no mapping covers without an account: they are refused.`,
		Example: `  atrium rg account delete hpc --user alice
  atrium rg account delete hpc --default`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			id, kind, subject, err := target.resolve(s, args[0])
			if err != nil {
				return err
			}
			if kind == "" {
				none := ""
				if _, err := s.client.UpdateResourceGroup(s.ctx, id, httpapi.UpdateResourceGroupRequest{DefaultUnixAccount: &none}); err != nil {
					return err
				}
				s.message("Resource group %s has no default Unix account: jobs no mapping covers are refused", args[0])
				return nil
			}
			if err := s.client.DeleteAccountMapping(s.ctx, id, kind, subject); err != nil {
				return err
			}
			s.message("Removed the Unix account of %s %s on %s", kind[:len(kind)-1], subject, args[0])
			return nil
		}),
	}
	target.flags(cmd, "remove")
	return cmd
}
