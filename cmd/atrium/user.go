package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newUserCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users"},
		Short:   "Manage users (ResourceAdmin)",
		Long: `Users log in with a name and password and call the API with tokens. Creating,
listing and changing users needs the ResourceAdmin platform role; everyone
may read themselves ('atrium user get me', or 'atrium whoami').

A USER argument is a user id (u-…), a user name, or 'me'.`,
	}
	cmd.AddCommand(newUserCreateCmd(c), newUserListCmd(c), newUserGetCmd(c), newUserUpdateCmd(c))
	return c.addGlobalFlags(cmd)
}

func userTable(w io.Writer, items []*atrium.User) {
	fmt.Fprintln(w, "ID\tNAME\tDISPLAY NAME\tEMAIL\tPLATFORM ROLES\tSTATUS\tCREATED")
	for _, u := range items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Name, orDash(u.DisplayName), orDash(u.Email),
			joinOrDash(u.PlatformRoles), userStatus(u), fmtTime(u.CreatedAt))
	}
}

func userStatus(u *atrium.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}

func userDetail(w io.Writer, u *atrium.User) {
	kv(w, "ID", u.ID, "Name", u.Name, "Display name", orDash(u.DisplayName), "Email", orDash(u.Email),
		"Platform roles", joinOrDash(u.PlatformRoles), "Status", userStatus(u),
		"Default workspace", orDash(u.DefaultWorkspaceID), "Created", fmtTime(u.CreatedAt), "Updated", fmtTime(u.UpdatedAt))
}

// newPassword reads a new password: one stdin line with --password-stdin,
// else twice, hidden, from the terminal.
func newPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	if fromStdin {
		return readPasswordLine(newLineReader(cmd))
	}
	fd, ok := stdinTerminal(cmd)
	if !ok {
		return "", &hintError{msg: "stdin is not a terminal, so the password cannot be asked for", hint: "pipe it with --password-stdin"}
	}
	pw, err := readPassword(cmd, fd, "Password: ")
	if err != nil {
		return "", err
	}
	again, err := readPassword(cmd, fd, "Password (again): ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords do not match")
	}
	return pw, nil
}

func newUserCreateCmd(c *cli) *cobra.Command {
	var (
		req           httpapi.CreateUserRequest
		resourceAdmin bool
		passwordStdin bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user",
		Long: `Create a user (ResourceAdmin). NAME is 2–63 lowercase letters, digits, '.',
'_' or '-', starting with a letter. The password (8–256 characters) is asked
twice on a terminal, or read as one line from stdin with --password-stdin.
--resource-admin grants the platform role ResourceAdmin.`,
		Example: `  atrium user create alice --display-name "Alice Liddell" --email alice@example.com
  printf '%s\n' "$PW" | atrium user create ci-bot --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			pw, err := newPassword(s.cmd, passwordStdin)
			if err != nil {
				return err
			}
			req.Name, req.Password = args[0], pw
			if resourceAdmin {
				req.PlatformRoles = []string{atrium.RoleResourceAdmin}
			}
			u, err := s.client.CreateUser(s.ctx, req)
			if err != nil {
				return err
			}
			return s.print(u, func(w io.Writer) { fmt.Fprintf(w, "Created user %s (%s)\n", u.Name, u.ID) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.DisplayName, "display-name", "", "display name (default NAME)")
	f.StringVar(&req.Email, "email", "", "email address")
	f.BoolVar(&resourceAdmin, "resource-admin", false, "grant the ResourceAdmin platform role")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password as one line from stdin")
	return cmd
}

func newUserListCmd(c *cli) *cobra.Command {
	var (
		opt       httpapi.ListUsersOptions
		pageSize  int
		pageToken string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users",
		Long:    "List users ordered by name (ResourceAdmin). All pages are fetched unless --page-size is given.",
		Example: `  atrium user list --name ali`,
		Args:    cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			l, err := collect(pageSize, pageToken, func(p httpapi.PageOptions) (*httpapi.List[*atrium.User], error) {
				opt.PageOptions = p
				return s.client.ListUsers(s.ctx, opt)
			})
			if err != nil {
				return err
			}
			if err := s.print(l, func(w io.Writer) { userTable(w, l.Items) }); err != nil {
				return err
			}
			s.moreHint(l.NextPageToken)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opt.Name, "name", "", "only names or display names containing this (case-insensitive)")
	f.IntVar(&pageSize, "page-size", 0, "fetch one page of this many (1–500) instead of all")
	f.StringVar(&pageToken, "page-token", "", "continue a paged listing")
	return cmd
}

func newUserGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "get [USER]",
		Short: "Show a user (default: yourself)",
		Long: `Show a user by id, name or 'me' (the default). Reading other users needs
ResourceAdmin; so does looking a user up by name.`,
		Example: `  atrium user get
  atrium user get alice -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			ref := "me"
			if len(args) > 0 {
				ref = args[0]
			}
			id, err := s.resolveUser(ref)
			if err != nil {
				return err
			}
			u, err := s.client.GetUser(s.ctx, id)
			if err != nil {
				return err
			}
			return s.print(u, func(w io.Writer) { userDetail(w, u) })
		}),
	}
}

func newUserUpdateCmd(c *cli) *cobra.Command {
	var (
		displayName, email              string
		disable, enable, passwordStdins bool
	)
	cmd := &cobra.Command{
		Use:   "update USER",
		Short: "Change a user's display name, email, password or status",
		Long: `Change a user (ResourceAdmin): display name, email, password (asked twice on a
terminal with --password, or one stdin line with --password-stdin), or
disable / enable the account. A disabled user's tokens and password stop
working until enabled again; you cannot disable yourself.`,
		Example: `  atrium user update alice --email alice@corp.example.com
  atrium user update bob --disable
  printf '%s\n' "$NEWPW" | atrium user update alice --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			var req httpapi.UpdateUserRequest
			fl := s.cmd.Flags()
			if fl.Changed("display-name") {
				req.DisplayName = &displayName
			}
			if fl.Changed("email") {
				req.Email = &email
			}
			switch {
			case disable:
				req.Disabled = &disable
			case enable:
				f := false
				req.Disabled = &f
			}
			askPassword, _ := fl.GetBool("password")
			if passwordStdins || askPassword {
				pw, err := newPassword(s.cmd, passwordStdins)
				if err != nil {
					return err
				}
				req.Password = &pw
			}
			if req == (httpapi.UpdateUserRequest{}) {
				return errors.New("nothing to change: give --display-name, --email, --disable, --enable, --password or --password-stdin")
			}
			id, err := s.resolveUser(args[0])
			if err != nil {
				return err
			}
			u, err := s.client.UpdateUser(s.ctx, id, req)
			if err != nil {
				return err
			}
			return s.print(u, func(w io.Writer) { userDetail(w, u) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&displayName, "display-name", "", "new display name")
	f.StringVar(&email, "email", "", "new email address ('' to clear)")
	f.BoolVar(&disable, "disable", false, "disable the account")
	f.BoolVar(&enable, "enable", false, "enable the account again")
	f.Bool("password", false, "set a new password, asked twice on the terminal")
	f.BoolVar(&passwordStdins, "password-stdin", false, "set a new password read as one line from stdin")
	cmd.MarkFlagsMutuallyExclusive("disable", "enable")
	cmd.MarkFlagsMutuallyExclusive("password", "password-stdin")
	return cmd
}
