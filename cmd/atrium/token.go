package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newTokenCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Create, list and revoke your API tokens",
		Long: `API tokens authenticate API calls ('Authorization: Bearer …'), for scripts,
CI and this CLI. Each belongs to the user who created it and acts with all
of that user's rights. The server keeps only a hash: a token is shown once,
when created.`,
	}
	cmd.AddCommand(newTokenCreateCmd(c), newTokenListCmd(c), newTokenRevokeCmd(c))
	return c.addGlobalFlags(cmd)
}

func tokenStatus(t *atrium.Token, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	}
	return "active"
}

func newTokenCreateCmd(c *cli) *cobra.Command {
	var req httpapi.CreateTokenRequest
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token (shown only once)",
		Long: `Create an API token for yourself. The token is printed once and cannot be
shown again; store it somewhere safe (a secret store, a file of mode 0600).
--expires-in takes a duration such as 24h or 720h (at most 5 years);
'never' makes a token that does not expire.`,
		Example: `  atrium token create --name ci --expires-in 720h
  atrium token create --name ci -o json | jq -r .token > ci.token`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			if req.ExpiresIn == "never" || req.ExpiresIn == "0" {
				req.ExpiresIn = ""
			}
			t, err := s.client.CreateToken(s.ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(s.cmd.ErrOrStderr(), "Warning: this token is shown only once; store it now, it cannot be retrieved later.")
			return s.print(t, func(w io.Writer) {
				kv(w, "ID", t.ID, "Name", t.Name, "Expires", fmtTimePtr(t.ExpiresAt), "Token", t.Token)
			})
		}),
	}
	cmd.Flags().StringVar(&req.Name, "name", "token", "a name to recognise the token by")
	cmd.Flags().StringVar(&req.ExpiresIn, "expires-in", "720h", "lifetime such as 24h or 720h; 'never' for no expiry")
	return cmd
}

func newTokenListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your tokens (never their secrets)",
		Long:    "List your API tokens, newest first, with expiry, last use and status. The token saved by 'atrium login' is marked '*'.",
		Example: `  atrium token list`,
		Args:    cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			l, err := s.client.ListTokens(s.ctx)
			if err != nil {
				return err
			}
			now := time.Now()
			return s.print(l, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tSTATUS\tCREATED\tEXPIRES\tLAST USED")
				for _, t := range l.Items {
					id := t.ID
					if t.ID == s.cfg.TokenID && s.token == s.cfg.Token {
						id += " *"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", id, t.Name, tokenStatus(t, now), fmtTime(t.CreatedAt), fmtTimePtr(t.ExpiresAt), fmtTimePtr(t.LastUsedAt))
				}
			})
		}),
	}
}

func newTokenRevokeCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke TOKEN-ID...",
		Aliases: []string{"rm", "delete"},
		Short:   "Revoke tokens",
		Long:    "Revoke one or more of your tokens by id (tok-…, see 'atrium token list'); they stop working at once.",
		Example: `  atrium token revoke tok-abcdefghijklmnop`,
		Args:    cobra.MinimumNArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			var revoked []*atrium.Token
			for _, id := range args {
				t, err := s.client.RevokeToken(s.ctx, id)
				if err != nil {
					return err
				}
				revoked = append(revoked, t)
			}
			var v any = revoked
			if len(revoked) == 1 {
				v = revoked[0]
			}
			return s.print(v, func(w io.Writer) {
				for _, t := range revoked {
					fmt.Fprintf(w, "Revoked token %s (%s)\n", t.ID, t.Name)
				}
			})
		}),
	}
}
