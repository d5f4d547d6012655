package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"atrium"
	"atrium/httpapi"
)

func newWorkspaceConfigCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or change the workspace's scheduling configuration",
		Long: `A workspace's scheduling configuration: the default priority of each job kind
(DLC, DSW, Pipeline, SQL), the highest priority each role may ask for, the
maximum running time per job kind, an optional queue timeout, and the
default quota of jobs that name none (else quota-public). Priorities are
1–9, 9 highest. Every member reads it; WorkspaceOwner and WorkspaceAdmin
change it.`,
		Example: `  atrium workspace config get team_a
  atrium workspace config set team_a --default-priority DLC=3 --max-priority AlgoDeveloper=6 --queue-timeout 2h`,
	}
	cmd.AddCommand(newWorkspaceConfigGetCmd(c), newWorkspaceConfigSetCmd(c))
	return cmd
}

func configDetail(w io.Writer, cfg *httpapi.WorkspaceConfigView) {
	intMap := func(m map[string]int) string {
		keys := sortedKeys(m)
		if len(keys) == 0 {
			return "-"
		}
		for i, k := range keys {
			keys[i] = k + "=" + strconv.Itoa(m[k])
		}
		return strings.Join(keys, " ")
	}
	durMap := func(m map[string]string) string {
		keys := sortedKeys(m)
		if len(keys) == 0 {
			return "-"
		}
		for i, k := range keys {
			keys[i] = k + "=" + m[k]
		}
		return strings.Join(keys, " ")
	}
	timeout := cfg.QueueTimeout
	if timeout == "0s" {
		timeout = "none"
	}
	updated := "never (defaults)"
	if cfg.UpdatedAt != nil {
		updated = fmtTime(*cfg.UpdatedAt)
	}
	kv(w, "Workspace", cfg.WorkspaceID, "Default priority", intMap(cfg.DefaultPriority), "Max priority", intMap(cfg.MaxPriority),
		"Max running time", durMap(cfg.MaxRunningTime), "Queue timeout", timeout,
		"Default quota", cmp(cfg.DefaultQuotaID, atrium.PublicQuotaID+" (none set)"),
		"Separate approver", strconv.FormatBool(cfg.RequireSeparateApprover), "Updated", updated)
}

func newWorkspaceConfigGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:               "get [WORKSPACE]",
		Short:             "Show the scheduling configuration",
		Long:              "Show a workspace's scheduling configuration; without an argument, the selected workspace's.\n\n" + workspaceSelection,
		Example:           `  atrium workspace config get team_a -o yaml`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.workspaceArgCompletion,
		RunE: c.run(func(s *session, args []string) error {
			id, err := s.argWorkspace(args)
			if err != nil {
				return err
			}
			cfg, err := s.client.GetWorkspaceConfig(s.ctx, id)
			if err != nil {
				return err
			}
			return s.print(cfg, func(w io.Writer) { configDetail(w, cfg) })
		}),
	}
}

// mergePairs applies KEY=VALUE flags to m; "KEY=" removes KEY when remove
// is allowed.
func mergePairs[V any](flag string, m map[string]V, pairs []string, remove bool, parse func(string) (V, error)) error {
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return fmt.Errorf("--%s %q: want KEY=VALUE", flag, p)
		}
		if v == "" {
			if !remove {
				return fmt.Errorf("--%s %q: a value is required", flag, p)
			}
			delete(m, k)
			continue
		}
		x, err := parse(v)
		if err != nil {
			return fmt.Errorf("--%s %q: %v", flag, p, err)
		}
		m[k] = x
	}
	return nil
}

func newWorkspaceConfigSetCmd(c *cli) *cobra.Command {
	var (
		defPrio, maxPrio, maxRun []string
		queueTimeout, defQuota   string
		separate                 bool
	)
	cmd := &cobra.Command{
		Use:   "set [WORKSPACE]",
		Short: "Change the scheduling configuration (WorkspaceOwner, WorkspaceAdmin)",
		Long: `Change a workspace's scheduling configuration; settings not given stay.
--default-priority KIND=N and --max-priority ROLE=N (N from 1 to 9) and
--max-running-time KIND=DURATION change single entries; ROLE= or KIND=
removes one. Job kinds are DLC, DSW, Pipeline and SQL; roles are built-in
or the workspace's custom roles. --queue-timeout 0 turns the timeout off;
--default-quota "" falls back to quota-public. The server checks every
value and names the one it rejects.

` + workspaceSelection,
		Example: `  atrium workspace config set --default-priority DLC=3 --max-priority AlgoDeveloper=6 --max-running-time DLC=24h
  atrium workspace config set team_a --queue-timeout 2h --default-quota nlp`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.workspaceArgCompletion,
		RunE: c.run(func(s *session, args []string) error {
			ch := s.cmd.Flags().Changed
			if !ch("default-priority") && !ch("max-priority") && !ch("max-running-time") && !ch("queue-timeout") &&
				!ch("default-quota") && !ch("require-separate-approver") {
				return errors.New("nothing to change: give --default-priority, --max-priority, --max-running-time, --queue-timeout, --default-quota or --require-separate-approver")
			}
			id, err := s.argWorkspace(args)
			if err != nil {
				return err
			}
			cur, err := s.client.GetWorkspaceConfig(s.ctx, id)
			if err != nil {
				return err
			}
			var req httpapi.UpdateWorkspaceConfigRequest
			atoi := func(v string) (int, error) { return strconv.Atoi(v) }
			if ch("default-priority") {
				m := cur.DefaultPriority
				if err := mergePairs("default-priority", m, defPrio, false, atoi); err != nil {
					return err
				}
				req.DefaultPriority = &m
			}
			if ch("max-priority") {
				m := cur.MaxPriority
				if err := mergePairs("max-priority", m, maxPrio, true, atoi); err != nil {
					return err
				}
				req.MaxPriority = &m
			}
			if ch("max-running-time") {
				m := cur.MaxRunningTime
				if err := mergePairs("max-running-time", m, maxRun, true, func(v string) (string, error) { return v, nil }); err != nil {
					return err
				}
				req.MaxRunningTime = &m
			}
			if ch("queue-timeout") {
				if queueTimeout == "0" {
					queueTimeout = "0s"
				}
				req.QueueTimeout = &queueTimeout
			}
			if ch("default-quota") {
				if defQuota != "" {
					if defQuota, err = s.resolveQuota(defQuota, id); err != nil {
						return err
					}
				}
				req.DefaultQuotaID = &defQuota
			}
			if ch("require-separate-approver") {
				req.RequireSeparateApprover = &separate
			}
			cfg, err := s.client.UpdateWorkspaceConfig(s.ctx, id, req)
			if err != nil {
				return err
			}
			return s.print(cfg, func(w io.Writer) { configDetail(w, cfg) })
		}),
	}
	f := cmd.Flags()
	f.StringArrayVar(&defPrio, "default-priority", nil, "KIND=N: default priority of a job kind (repeatable)")
	f.StringArrayVar(&maxPrio, "max-priority", nil, "ROLE=N: highest priority a role may ask for; ROLE= removes (repeatable)")
	f.StringArrayVar(&maxRun, "max-running-time", nil, "KIND=DURATION, e.g. DLC=24h (0 for no cap); KIND= removes (repeatable)")
	f.StringVar(&queueTimeout, "queue-timeout", "", "stop jobs queued longer than this, e.g. 2h; 0 for never")
	f.StringVar(&defQuota, "default-quota", "", "quota (id or name) of jobs that name none; \"\" for quota-public")
	f.BoolVar(&separate, "require-separate-approver", true, "nobody approves a model version they created")
	return cmd
}
