package main

// atrium sql …: SQL jobs (the MaxCompute analogue) against a warehouse
// connection; atrium connection …: the connections.

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newSQLCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "Run SQL jobs against a warehouse connection",
		Long: `SQL jobs of the selected workspace: a script run against a warehouse
connection (see 'atrium connection') with a timeout. A job records the rows
its statements affected and a preview of the first 100 rows of the last
statement that returned rows. MaxComputeDeveloper and Admin submit them.`,
	}
	cmd.AddCommand(
		withHelp(newSQLRunCmd(c), `Submit a SQL script (-f FILE, - for stdin) as a SQL job against a warehouse
connection. The script may hold several statements; they run in one
session. --wait waits until the job ends, prints its result preview and
exits non-zero unless it Succeeded.`, ""),
		withHelp(newSQLListCmd(c), "List the SQL jobs you may see (your own and PUBLIC ones; Operators and Admins all), newest first.",
			"  atrium sql list\n  atrium sql list -o json"),
		withHelp(newSQLGetCmd(c), "Show a SQL job's status, reason, rows affected and result preview; -o json prints it as the API returns it.",
			"  atrium sql get sql-4kq2m7xw3a5bcdef"),
		withHelp(newSQLStopCmd(c), "Stop a SQL job: a queued one is Stopped at once; a running one's query is cancelled in the warehouse and the job ends Stopped.",
			"  atrium sql stop sql-4kq2m7xw3a5bcdef"))
	return c.addGlobalFlags(cmd)
}

func newSQLRunCmd(c *cli) *cobra.Command {
	var file, conn, name, timeout string
	var public, wait bool
	cmd := &cobra.Command{
		Use:     "run --connection ID -f FILE [--wait]",
		Short:   "Submit a SQL script as a SQL job",
		Example: "  atrium sql run --connection conn-4kq2m7xw3a5bcdef -f query.sql --wait",
		Args:    cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if conn == "" {
				return &hintError{msg: "--connection is required", hint: "'atrium connection list' shows the workspace's connections"}
			}
			if file == "" {
				return &hintError{msg: "-f is required", hint: "give the SQL file, or -f - to read it from stdin"}
			}
			b, err := readSpec(s.cmd, file)
			if err != nil {
				return err
			}
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			if name == "" {
				name = "sql"
			}
			req := httpapi.SQLJobRequest{DisplayName: name, ConnectionID: conn, SQL: string(b)}
			if timeout != "" {
				d, err := time.ParseDuration(timeout)
				if err != nil {
					return fmt.Errorf("--timeout: %w", err)
				}
				req.Timeout = atrium.Duration(d)
			}
			if public {
				req.Accessibility = atrium.AccessPublic
			}
			j, err := s.client.CreateSQLJob(s.ctx, ws, req)
			if err != nil {
				return err
			}
			if wait {
				s.message("submitted SQL job %s; waiting for it to end…", j.ID)
				if err := s.pollUntil(atrium.JobFinished(j.Status), func() (bool, error) {
					j, err = s.client.GetSQLJob(s.ctx, ws, j.ID)
					return err == nil && atrium.JobFinished(j.Status), err
				}); err != nil {
					return err
				}
			}
			if err := s.print(j, func(w io.Writer) { sqlJobText(w, j) }); err != nil {
				return err
			}
			if wait && j.Status != atrium.JobSucceeded {
				return exitError(1)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&conn, "connection", "", "warehouse connection id (conn-…)")
	f.StringVarP(&file, "file", "f", "", "SQL script; - reads stdin")
	f.StringVar(&name, "name", "", "display name (default sql)")
	f.StringVar(&timeout, "timeout", "", "cancel the query after this long (default 5m, at most 24h)")
	f.BoolVar(&public, "public", false, "make the job PUBLIC")
	f.BoolVar(&wait, "wait", false, "wait until the job ends and print its result")
	return cmd
}

func sqlJobText(w io.Writer, j *atrium.Job) {
	fmt.Fprintf(w, "SQL job %s: %s (%s)\n", j.ID, j.Status, j.ReasonMessage)
	if j.Spec.SQL == nil || j.Spec.SQL.Result == nil {
		return
	}
	r := j.Spec.SQL.Result
	fmt.Fprintf(w, "rows affected: %d\n", r.RowsAffected)
	if len(r.Columns) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(r.Columns, "\t"))
	for _, row := range r.Rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	if r.Truncated {
		fmt.Fprintf(w, "(first %d rows)\n", atrium.SQLPreviewRows)
	}
}

func newSQLListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List SQL jobs, newest first", Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			l, err := s.client.ListSQLJobs(s.ctx, ws)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tCREATOR\tSUBMITTED")
				for _, j := range l.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.ID, j.DisplayName, j.Status, j.CreatorName, j.SubmittedAt.Local().Format(time.DateTime))
				}
				tw.Flush()
			})
		}),
	}
}

func newSQLGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "get ID", Short: "Show a SQL job and its result preview", Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			j, err := s.client.GetSQLJob(s.ctx, ws, args[0])
			if err != nil {
				return err
			}
			return s.print(j, func(w io.Writer) { sqlJobText(w, j) })
		}),
	}
}

func newSQLStopCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "stop ID", Short: "Stop a SQL job, cancelling its query", Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			j, err := s.client.StopSQLJob(s.ctx, ws, args[0])
			if err != nil {
				return err
			}
			return s.print(j, func(w io.Writer) { sqlJobText(w, j) })
		}),
	}
}

func newConnectionCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "connection",
		Aliases: []string{"connections"},
		Short:   "Register and list warehouse connections for SQL jobs",
		Long: `Warehouse connections (conn-…) of the selected workspace: a PostgreSQL URL
without password, and a password that is write-only (stored encrypted,
never shown again). Admins register and delete them.`,
	}
	cmd.AddCommand(
		withHelp(newConnectionCreateCmd(c), `Register a warehouse connection: --name, --url (a PostgreSQL URL without
password) and, with --password-stdin, the password from the first line of
stdin. The password is stored encrypted and never shown again.`, ""),
		withHelp(newConnectionListCmd(c), "List the workspace's warehouse connections; passwords are never shown, only whether one is set.",
			"  atrium connection list"),
		withHelp(newConnectionGetCmd(c), "Show a warehouse connection: its URL and whether a password is set (never the password).",
			"  atrium connection get conn-4kq2m7xw3a5bcdef"),
		withHelp(newConnectionDeleteCmd(c), "Delete a warehouse connection; SQL jobs that still use it fail when they run.",
			"  atrium connection delete conn-4kq2m7xw3a5bcdef"))
	return c.addGlobalFlags(cmd)
}

func connectionText(w io.Writer, v *httpapi.ConnectionView) {
	fmt.Fprintf(w, "connection %s (%s): %s, password set: %t\n", v.ConnectionID, v.Name, v.URL, v.HasPassword)
}

func newConnectionCreateCmd(c *cli) *cobra.Command {
	var name, url, desc string
	var pwStdin bool
	cmd := &cobra.Command{
		Use:     "create --name NAME --url URL [--password-stdin]",
		Short:   "Register a warehouse connection",
		Example: "  echo \"$PGPASSWORD\" | atrium connection create --name dw --url 'postgres://etl@db:5432/dw?sslmode=disable' --password-stdin",
		Args:    cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			req := httpapi.ConnectionRequest{Name: name, URL: url, Description: desc}
			if pwStdin {
				line, err := bufio.NewReader(s.cmd.InOrStdin()).ReadString('\n')
				if err != nil && err != io.EOF {
					return fmt.Errorf("--password-stdin: %w", err)
				}
				req.Password = strings.TrimRight(line, "\r\n")
			}
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			v, err := s.client.CreateConnection(s.ctx, ws, req)
			if err != nil {
				return err
			}
			return s.print(v, func(w io.Writer) { connectionText(w, v) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "connection name")
	f.StringVar(&url, "url", "", "PostgreSQL URL without password")
	f.StringVar(&desc, "description", "", "description")
	f.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

func newConnectionListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List warehouse connections", Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			l, err := s.client.ListConnections(s.ctx, ws)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tURL\tPASSWORD")
				for _, v := range l.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%t\n", v.ConnectionID, v.Name, v.URL, v.HasPassword)
				}
				tw.Flush()
			})
		}),
	}
}

func newConnectionGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "get ID", Short: "Show a warehouse connection (never its password)", Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			v, err := s.client.GetConnection(s.ctx, ws, args[0])
			if err != nil {
				return err
			}
			return s.print(v, func(w io.Writer) { connectionText(w, v) })
		}),
	}
}

func newConnectionDeleteCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use: "delete ID", Short: "Delete a warehouse connection", Args: cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			if err := s.client.DeleteConnection(s.ctx, ws, args[0]); err != nil {
				return err
			}
			s.message("deleted connection %s", args[0])
			return nil
		}),
	}
}

// withHelp fills a command's Long and Example.
func withHelp(cmd *cobra.Command, long, example string) *cobra.Command {
	cmd.Long = long
	if example != "" {
		cmd.Example = example
	}
	return cmd
}
