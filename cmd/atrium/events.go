package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newEventsCmd(c *cli) *cobra.Command {
	var (
		types    []string
		resource string
		follow   bool
		after    int64
		limit    int
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Read the workspace's events (job and DSW status, model approvals, membership)",
		Long: `Read the events of the selected workspace that you may see, oldest first:
a job's or DSW instance's status changes (and timeouts, preemptions) if
you may read it, a model's approval changes if you may read the model,
and membership changes. ` + workspaceSelection + `

Without -f it prints one page (--limit, default 100; continue with
--after and the seq the hint names). With -f it follows the live stream,
reconnecting after a lost connection without missing or repeating an
event, until interrupted. -o json prints one event per line as JSON.`,
		Example: `  atrium events
  atrium events --type dlc.job.status.changed --resource dlc-abc123
  atrium events -f -o json`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			opt := httpapi.ListEventsOptions{ResourceID: resource, After: after, Limit: limit}
			for _, t := range types {
				for _, p := range strings.Split(t, ",") {
					if p = strings.TrimSpace(p); p != "" {
						opt.Types = append(opt.Types, p)
					}
				}
			}
			out := s.cmd.OutOrStdout()
			var tw *tabwriter.Writer
			header := false
			print := func(e *httpapi.EventView) error {
				switch s.output {
				case "json", "yaml":
					b, err := json.Marshal(e)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(out, "%s\n", b)
					return err
				}
				if tw == nil {
					tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				}
				if !header {
					header = true
					fmt.Fprintln(tw, "TIME\tTYPE\tSUBJECT\tSUMMARY")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.Type, orDash(e.Subject), orDash(eventSummary(e)))
				if follow {
					return tw.Flush()
				}
				return nil
			}
			if follow {
				return s.client.FollowEvents(s.ctx, ws, opt, print)
			}
			l, err := s.client.ListEvents(s.ctx, ws, opt)
			if err != nil {
				return err
			}
			for _, e := range l.Items {
				if err := print(e); err != nil {
					return err
				}
			}
			if tw != nil {
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if l.NextPageToken != "" {
				fmt.Fprintf(s.cmd.ErrOrStderr(), "More events: repeat with --after %s\n", l.NextPageToken)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringSliceVar(&types, "type", nil, "only events of this type (repeatable, or comma-separated)")
	f.StringVar(&resource, "resource", "", "only events about this resource (job, DSW instance, model or member id)")
	f.BoolVarP(&follow, "follow", "f", false, "follow the live stream until interrupted")
	f.Int64Var(&after, "after", 0, "only events after this seq")
	f.IntVar(&limit, "limit", 0, "events per page without -f (1–1000, default 100)")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{
		atrium.EventJobStatusChanged, atrium.EventJobTimeout, atrium.EventJobPreempted, atrium.EventDSWStatusChanged,
		atrium.EventModelApprovalChanged, atrium.EventWorkspaceMemberChange}, cobra.ShellCompDirectiveNoFileComp))
	return c.addGlobalFlags(cmd)
}

// eventSummary is one line about an event: "Queuing → Running (Started)",
// "model-… 1.0.0: Pending → Approved by alice", "added bob [AlgoDeveloper]".
func eventSummary(e *httpapi.EventView) string {
	var d map[string]any
	_ = json.Unmarshal(e.Data, &d)
	str := func(k string) string { s, _ := d[k].(string); return s }
	by := ""
	if a := str("actor"); a != "" {
		by = " by " + a
	}
	switch e.Type {
	case atrium.EventJobStatusChanged, atrium.EventDSWStatusChanged, atrium.EventJobTimeout, atrium.EventJobPreempted:
		s := orDash(str("from")) + " → " + str("to")
		if r := str("reasonCode"); r != "" {
			s += " (" + r + ")"
		}
		return s + by
	case atrium.EventModelApprovalChanged:
		return str("modelId") + " " + str("versionName") + ": " + orDash(str("from")) + " → " + str("to") + by
	case atrium.EventWorkspaceMemberChange:
		s := str("action") + " " + str("userName")
		if r := str("role"); r != "" {
			s += " " + r
		} else if rs, ok := d["roles"].([]any); ok {
			parts := make([]string, len(rs))
			for i, r := range rs {
				parts[i] = fmt.Sprint(r)
			}
			s += " [" + strings.Join(parts, ", ") + "]"
		}
		return s + by
	}
	return oneLine(string(e.Data))
}
