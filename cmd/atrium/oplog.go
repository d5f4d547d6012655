package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newOplogCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "oplog",
		Aliases: []string{"operation-log"},
		Short:   "Read the operation log",
		Long: `The operation log records every change made through the API and every
denied call: who, what (the permission code), on which target, the result
and the request id. Every member may read their workspace's log; the
platform-wide log (--platform) is for ResourceAdmins.`,
	}
	cmd.AddCommand(newOplogListCmd(c))
	return c.addGlobalFlags(cmd)
}

func newOplogListCmd(c *cli) *cobra.Command {
	var (
		platform  bool
		actor     string
		opt       httpapi.ListOperationLogsOptions
		pageSize  int
		pageToken string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List operation log entries, newest first",
		Long: `List operation log entries, newest first, one page at a time (--page-size,
default 50; the next page with --page-token).

Without --platform this is the log of the selected workspace. ` + workspaceSelection + `
With --platform it is the whole platform's log (ResourceAdmin), narrowed to
one workspace when --workspace is given.

--actor is a user id (u-…) or a user name; --action a permission code such
as Workspace:CreateMember; --result Succeeded, Denied or Failed.`,
		Example: `  atrium oplog list
  atrium oplog list --result Denied --action Workspace:CreateMember
  atrium oplog list --platform --actor alice -o json`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			opt.PageOptions = httpapi.PageOptions{PageSize: pageSize, PageToken: pageToken}
			l, err := s.listOperationLogs(platform, actor, opt)
			if err != nil {
				return err
			}
			if err := s.print(l, func(w io.Writer) {
				head := "TIME\tACTOR\tACTION\tRESULT\tSTATUS\tTARGET\tDETAIL"
				if platform {
					head = "TIME\tWORKSPACE\tACTOR\tACTION\tRESULT\tSTATUS\tTARGET\tDETAIL"
				}
				fmt.Fprintln(w, head)
				for _, e := range l.Items {
					cols := []string{fmtTime(e.Time), orDash(e.ActorName), e.Action, e.Result, fmt.Sprint(e.StatusCode), orDash(e.Target), orDash(oneLine(e.Detail))}
					if platform {
						cols = append(cols[:1], append([]string{orDash(e.WorkspaceID)}, cols[1:]...)...)
					}
					fmt.Fprintln(w, strings.Join(cols, "\t"))
				}
			}); err != nil {
				return err
			}
			s.moreHint(l.NextPageToken)
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&platform, "platform", false, "the platform-wide log (ResourceAdmin)")
	f.StringVar(&actor, "actor", "", "only calls by this user (id or name)")
	f.StringVar(&opt.Action, "action", "", "only this permission code")
	f.StringVar(&opt.Result, "result", "", "only Succeeded, Denied or Failed")
	f.IntVar(&pageSize, "page-size", 50, "entries per page (1–500)")
	f.StringVar(&pageToken, "page-token", "", "continue with the next page")
	_ = cmd.RegisterFlagCompletionFunc("result", cobra.FixedCompletions([]string{atrium.ResultSucceeded, atrium.ResultDenied, atrium.ResultFailed}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// listOperationLogs reads the platform log or the selected workspace's,
// resolving --workspace and --actor names to ids first.
func (s *session) listOperationLogs(platform bool, actor string, opt httpapi.ListOperationLogsOptions) (*httpapi.List[*atrium.OperationLog], error) {
	var err error
	if platform {
		if ref, _ := s.workspaceRef(); ref != "" {
			ws, err := s.resolveWorkspace(ref)
			if err != nil {
				return nil, err
			}
			opt.WorkspaceID = ws.ID
		}
		if actor != "" {
			if opt.ActorID, err = s.resolveUser(actor); err != nil {
				return nil, err
			}
		}
		return s.client.ListPlatformOperationLogs(s.ctx, opt)
	}
	wsID, err := s.workspaceID()
	if err != nil {
		return nil, err
	}
	if actor != "" {
		if opt.ActorID, err = s.resolveActor(wsID, actor); err != nil {
			return nil, err
		}
	}
	return s.client.ListOperationLogs(s.ctx, wsID, opt)
}

// resolveActor finds a user id among the workspace's members, which every
// member may list; a user id is taken as is (former members included).
func (s *session) resolveActor(wsID, ref string) (string, error) {
	if userIDRE.MatchString(ref) {
		return ref, nil
	}
	m, err := s.resolveMember(wsID, ref)
	if err != nil {
		return "", fmt.Errorf("--actor: %w (former members: give their user id)", err)
	}
	if m.UserID == "" { // a member id was given
		if m, err = s.client.GetMember(s.ctx, wsID, m.ID); err != nil {
			return "", err
		}
	}
	return m.UserID, nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:77]) + "..."
	}
	return s
}
