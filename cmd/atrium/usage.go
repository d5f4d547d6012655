package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"atrium/httpapi"
)

func newUsageCmd(c *cli) *cobra.Command {
	var (
		from, to, groupBy string
		platform          bool
	)
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show GPU-hours and CPU-core-hours used, by user, quota, gpuType or job type",
		Long: `Show how much was used in a window: GPU-hours, CPU-core-hours and the number
of jobs, per user (default), quota, gpuType or job type, with a total.

Every pod allocation counts from its admission to the end of its attempt,
so time spent by attempts that were later preempted or restarted counts
too; allocations still running count until now. Each is cut to the window.

The window is --from … --to, each an RFC 3339 time (2026-03-01T00:00:00Z),
a date (2026-03-01, midnight local time) or an age such as 36h or 30d
(that long ago). --to defaults to now, --from to 7 days before --to; the
window is at most 400 days.

Without --platform this is the selected workspace's usage, which every
member may read.
` + workspaceSelection + `

With --platform it is the whole platform's (ResourceAdmin), which may also
be grouped by workspace and narrowed to one with --workspace.`,
		Example: `  atrium usage
  atrium usage --from 30d --group-by quota
  atrium usage --from 2026-03-01 --to 2026-04-01 --group-by gpuType -o json
  atrium usage --platform --group-by workspace`,
		Args: cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			if err := s.needToken(); err != nil {
				return err
			}
			now := time.Now()
			opt := httpapi.UsageOptions{GroupBy: groupBy}
			var err error
			if opt.From, err = parseUsageTime("--from", from, now); err != nil {
				return err
			}
			if opt.To, err = parseUsageTime("--to", to, now); err != nil {
				return err
			}
			var r *httpapi.UsageReport
			scope := "the platform"
			if platform {
				if s.cmd.Flags().Changed("workspace") {
					ws, err := s.resolveWorkspace(s.cli.workspace)
					if err != nil {
						return err
					}
					opt.WorkspaceID, scope = ws.ID, "workspace "+ws.ID
				}
				r, err = s.client.PlatformUsage(s.ctx, opt)
			} else {
				wsID, werr := s.workspaceID()
				if werr != nil {
					return werr
				}
				scope = "workspace " + wsID
				r, err = s.client.WorkspaceUsage(s.ctx, wsID, opt)
			}
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) { usageTable(w, r, scope) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "start of the window: RFC 3339 time, date or age such as 30d (default: 7 days before --to)")
	f.StringVar(&to, "to", "", "end of the window: RFC 3339 time, date or age (default: now)")
	f.StringVar(&groupBy, "group-by", "", "user (default), quota, gpuType, jobType; with --platform also workspace")
	f.BoolVar(&platform, "platform", false, "the whole platform's usage (ResourceAdmin)")
	_ = cmd.RegisterFlagCompletionFunc("group-by", cobra.FixedCompletions(
		[]string{httpapi.UsageByUser, httpapi.UsageByQuota, httpapi.UsageByGPUType, httpapi.UsageByJobType, httpapi.UsageByWorkspace},
		cobra.ShellCompDirectiveNoFileComp))
	return c.addGlobalFlags(cmd)
}

// usageTable prints a report: the window, then KEY, GPU-HOURS,
// CPU-CORE-HOURS and JOBS per group, and a total row.
func usageTable(w io.Writer, r *httpapi.UsageReport, scope string) {
	fmt.Fprintf(w, "Usage of %s from %s to %s, by %s\n\n", scope, fmtTime(r.From), fmtTime(r.To), r.GroupBy)
	fmt.Fprintln(w, "KEY\tGPU-HOURS\tCPU-CORE-HOURS\tJOBS")
	row := func(key string, it httpapi.UsageItem) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", key, fmtHours(it.GPUHours), fmtHours(it.CPUCoreHours), it.Jobs)
	}
	for _, it := range r.Items {
		row(orDash(it.Key), it)
	}
	row("TOTAL", r.Total)
}

func fmtHours(h float64) string {
	return strconv.FormatFloat(h, 'f', 2, 64)
}

// parseUsageTime reads a --from/--to value: RFC 3339, a date (midnight
// local time), or an age such as 90m, 36h or 30d meaning that long before
// now. "" is the zero time (the server's default).
func parseUsageTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, time.Local); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.AddDate(0, 0, -days), nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time (2026-03-01T00:00:00Z), a date (2026-03-01) or an age such as 36h or 30d", flag, v)
}
