package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"atrium/httpapi"
)

func newLoginCmd(c *cli) *cobra.Command {
	var (
		user, tokenFile, expiresIn string
		passwordStdin              bool
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to an Atrium server and save the token",
		Long: `Log in to an Atrium server and save the server URL and an API token in the
client config file ($ATRIUM_CONFIG, else ~/.config/atrium/config.json; mode
0600), so later commands need neither.

With a name and password, login mints a new API token (POST
/api/v1/auth/tokens with HTTP Basic) named after this host, expiring after
--expires-in. The password is read without echo from the terminal, or as one
line from stdin with --password-stdin (for scripts).

With --token-file, login checks an existing token instead (for example the
admin token that the first 'atrium serve' writes to atrium-data/admin.token)
and saves it. '--token-file -' reads the token from stdin.

Logging in again replaces the saved token; a token that login minted is
revoked on the server first.`,
		Example: `  # Interactive
  atrium login --server http://atrium.example.com:8080

  # The admin token of a fresh server
  atrium login --server http://127.0.0.1:8080 --token-file atrium-data/admin.token

  # Scripts
  printf '%s\n' "$PASSWORD" | atrium login --user alice --password-stdin`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			lr := newLineReader(s.cmd)
			var (
				token, tokenID string
				name           string
			)
			switch {
			case tokenFile != "":
				if passwordStdin || user != "" {
					return errors.New("--token-file cannot be combined with --user or --password-stdin")
				}
				var data []byte
				var err error
				if tokenFile == "-" {
					data, err = io.ReadAll(s.cmd.InOrStdin())
				} else {
					data, err = os.ReadFile(tokenFile)
				}
				if err != nil {
					return fmt.Errorf("--token-file: %w", err)
				}
				token = strings.TrimSpace(string(data))
				if token == "" {
					return fmt.Errorf("--token-file: %s is empty", tokenFile)
				}
				me, err := (&httpapi.Client{BaseURL: s.server, Token: token, UserAgent: s.client.UserAgent}).GetUser(s.ctx, "me")
				if err != nil {
					return err
				}
				name = me.Name
			default:
				name = user
				term, isTerm := stdinTerminal(s.cmd)
				if name == "" {
					if passwordStdin || !isTerm {
						return errors.New("--user is required when the password comes from stdin or stdin is not a terminal")
					}
					var err error
					if name, err = prompt(s.cmd, lr, "User: "); err != nil {
						return err
					}
					if name == "" {
						return errors.New("no user name given")
					}
				}
				var pw string
				var err error
				switch {
				case passwordStdin:
					pw, err = readPasswordLine(lr)
				case isTerm:
					pw, err = readPassword(s.cmd, term, "Password: ")
				default:
					return &hintError{msg: "stdin is not a terminal, so the password cannot be asked for",
						hint: "pipe it with --password-stdin, or log in with --token-file"}
				}
				if err != nil {
					return err
				}
				exp := expiresIn
				if exp == "never" || exp == "0" {
					exp = ""
				}
				created, err := s.client.CreateTokenWithPassword(s.ctx, name, pw, httpapi.CreateTokenRequest{Name: loginTokenName(), ExpiresIn: exp})
				if err != nil {
					return err
				}
				token, tokenID = created.Token, created.ID
			}

			// Revoke the token a previous login minted on this server.
			if s.cfg.TokenID != "" && s.cfg.Token != "" && s.configIsFor() && s.cfg.Token != token {
				old := &httpapi.Client{BaseURL: s.server, Token: s.cfg.Token, UserAgent: s.client.UserAgent}
				_, _ = old.RevokeToken(s.ctx, s.cfg.TokenID)
			}
			if !s.configIsFor() {
				s.cfg.Workspace = "" // workspaces belong to the old server
			}
			s.cfg.Server, s.cfg.Token, s.cfg.TokenID, s.cfg.User = s.server, token, tokenID, name
			if err := s.save(); err != nil {
				return err
			}
			fmt.Fprintf(s.cmd.OutOrStdout(), "Logged in to %s as %s\n", s.server, name)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&user, "user", "u", "", "user name (asked for when stdin is a terminal)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password as one line from stdin")
	f.StringVar(&tokenFile, "token-file", "", "log in with the existing API token in this file ('-' for stdin) instead of a password")
	f.StringVar(&expiresIn, "expires-in", "720h", "lifetime of the minted token, e.g. 24h or 720h; 'never' for no expiry")
	return c.addGlobalFlags(cmd)
}

// loginTokenName names the tokens login mints after the host, so that
// 'atrium token list' tells them apart.
func loginTokenName() string {
	host, _ := os.Hostname()
	name := "atrium-cli"
	if host != "" {
		name += "@" + host
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

func newLogoutCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Forget the saved token (and revoke it if login minted it)",
		Long: `Remove the saved API token from the client config file. When 'atrium login'
minted the token with a password, it is also revoked on the server, so a
copy of the config file is useless afterwards. A token given to login with
--token-file is only forgotten, never revoked: it belongs to whoever wrote
the file. The server URL and workspace stay in the config file.`,
		Example: `  atrium logout`,
		Args:    cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if s.cfg.Token == "" {
				fmt.Fprintln(s.cmd.OutOrStdout(), "Not logged in")
				return nil
			}
			server := cmp(s.cfg.Server, defaultServer)
			if s.cfg.TokenID != "" {
				cl := &httpapi.Client{BaseURL: normalizeServer(server), Token: s.cfg.Token, UserAgent: s.client.UserAgent}
				if _, err := cl.RevokeToken(s.ctx, s.cfg.TokenID); err != nil {
					fmt.Fprintf(s.cmd.ErrOrStderr(), "Warning: could not revoke token %s on the server: %v\n", s.cfg.TokenID, err)
				}
			}
			s.cfg.Token, s.cfg.TokenID, s.cfg.User = "", "", ""
			if err := s.save(); err != nil {
				return err
			}
			fmt.Fprintf(s.cmd.OutOrStdout(), "Logged out of %s\n", server)
			return nil
		}),
	}
	return c.addGlobalFlags(cmd)
}

func newWhoamiCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the user the token belongs to",
		Long: `Show the user the current credentials belong to (GET /api/v1/users/me), with
their id, platform roles and default workspace, the server asked, and what
that server runs jobs in (GET /api/v1/server): "process" jobs are plain host
processes, not isolated from the host.`,
		Example: `  atrium whoami
  atrium whoami -o json`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			u, err := s.client.GetUser(s.ctx, "me")
			if err != nil {
				return err
			}
			return s.print(u, func(w io.Writer) {
				kv(w, "Server", s.server, "Name", u.Name, "User ID", u.ID, "Display name", orDash(u.DisplayName),
					"Email", orDash(u.Email), "Platform roles", joinOrDash(u.PlatformRoles),
					"Default workspace", orDash(u.DefaultWorkspaceID), "Jobs run as", serverRuntime(s))
			})
		}),
	}
	return c.addGlobalFlags(cmd)
}

// serverRuntime says what the server runs jobs in, "-" when it does not say.
func serverRuntime(s *session) string {
	info, err := s.client.ServerInfo(s.ctx)
	switch {
	case err != nil || info.Runtime == "":
		return "-"
	case info.Isolated:
		return info.Runtime
	}
	return info.Runtime + " (not isolated: " + info.Notice + ")"
}
