package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"atrium"
	"atrium/httpapi"
)

func newAlertRuleCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "alert-rule",
		Aliases: []string{"alert-rules", "alert"},
		Short:   "Manage alert rules: which events go to which webhooks, chats and mailboxes",
		Long: `An alert rule delivers a workspace's events (job, DSW and pipeline status
changes, model approvals, membership changes) to targets: webhook (signed),
dingtalk, wecom, lark, slack or email. Scope Mine covers your own resources,
All the whole workspace (Admin), or one named job or asset. Filters narrow
by status (data.to), job type or a CEL expression over 'event'.

Delivery is at least once and recorded: 'atrium alert-rule deliveries RULE'
shows every attempt. Secrets are write-only.

A RULE argument is a rule id (rule-…) or name.

` + workspaceSelection,
	}
	cmd.AddCommand(newAlertCreateCmd(c), newAlertListCmd(c), newAlertGetCmd(c), newAlertUpdateCmd(c),
		newAlertDeleteCmd(c), newAlertTestCmd(c), newAlertDeliveriesCmd(c))
	return c.addGlobalFlags(cmd)
}

func alertTable(w io.Writer, items []*atrium.AlertRule) {
	fmt.Fprintln(w, "ID\tNAME\tOWNER\tEVENTS\tSCOPE\tTARGETS\tENABLED")
	for _, r := range items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%t\n", r.ID, r.Name, orDash(r.OwnerName), joinOrDash(r.EventTypes), ruleScope(r), targetTypes(r), r.Enabled)
	}
}

func ruleScope(r *atrium.AlertRule) string {
	if r.ResourceID != "" {
		return r.ResourceID
	}
	return orDash(r.Scope)
}

func targetTypes(r *atrium.AlertRule) string {
	var ts []string
	for _, t := range r.Targets {
		ts = append(ts, t.Type)
	}
	return joinOrDash(ts)
}

func alertDetail(w io.Writer, r *atrium.AlertRule) {
	kv(w, "ID", r.ID, "Name", r.Name, "Workspace", r.WorkspaceID, "Owner", orDash(r.OwnerName),
		"Events", joinOrDash(r.EventTypes), "Scope", ruleScope(r), "Statuses", joinOrDash(r.Filter.Statuses),
		"Job types", joinOrDash(r.Filter.JobTypes), "CEL", orDash(r.Filter.CEL), "Throttle", time.Duration(r.Throttle).String(),
		"Enabled", strconv.FormatBool(r.Enabled), "Created", fmtTime(r.CreatedAt), "Updated", fmtTime(r.UpdatedAt))
	for i, t := range r.Targets {
		dest := t.URL
		if t.Type == atrium.TargetEmail {
			dest = strings.Join(t.To, ", ")
		}
		if t.HasSecret {
			dest += " (secret set)"
		}
		kv(w, fmt.Sprintf("Target %d", i), t.Type+" "+dest)
	}
}

func deliveryTable(w io.Writer, items []*atrium.Delivery) {
	fmt.Fprintln(w, "ID\tEVENT\tTYPE\tTARGET\tSTATUS\tATTEMPTS\tCODE\tLATENCY\tCREATED\tLAST ERROR")
	for _, d := range items {
		typ := d.EventType
		if d.Test {
			typ += " (test)"
		}
		code := "-"
		if d.ResponseCode != 0 {
			code = strconv.Itoa(d.ResponseCode)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d:%s\t%s\t%d\t%s\t%dms\t%s\t%s\n", d.ID, d.EventID, typ, d.TargetIndex, d.TargetType, d.Status,
			d.Attempts, code, d.LatencyMs, fmtTime(d.CreatedAt), orDash(d.LastError))
	}
}

// ruleFlags are the rule fields create and update take as flags.
type ruleFlags struct {
	file                               string
	eventTypes, statuses, jobTypes     []string
	scope, cel, throttle               string
	webhooks, dingtalks, wecoms, larks []string
	slacks, emails                     []string
	secretStdin, disabled              bool
}

func (rf *ruleFlags) add(cmd *cobra.Command, create bool) {
	f := cmd.Flags()
	f.StringVarP(&rf.file, "file", "f", "", "the rule as YAML or JSON (the API's body; - for stdin)")
	f.StringArrayVar(&rf.eventTypes, "event-type", nil, "an event type, e.g. dlc.job.status.changed (repeatable)")
	f.StringVar(&rf.scope, "scope", "", "Mine (default), All (Admin) or a job or asset id")
	f.StringVar(&rf.cel, "cel", "", `a CEL filter over event, e.g. 'event.data.to == "Failed"'`)
	f.StringArrayVar(&rf.statuses, "status", nil, "only events whose data.to is this status (repeatable)")
	f.StringArrayVar(&rf.jobTypes, "job-type", nil, "only jobs of this type, e.g. PyTorchJob (repeatable)")
	f.StringVar(&rf.throttle, "throttle", "", "drop matches this long after a delivery for the same resource, e.g. 5m")
	f.BoolVar(&rf.disabled, "disabled", false, "save the rule disabled")
	if !create {
		return
	}
	f.StringArrayVar(&rf.webhooks, "webhook", nil, "a webhook URL (repeatable; signed with --secret-stdin)")
	f.StringArrayVar(&rf.dingtalks, "dingtalk", nil, "a DingTalk robot URL (repeatable; its secret with --secret-stdin)")
	f.StringArrayVar(&rf.wecoms, "wecom", nil, "a WeCom robot URL (repeatable)")
	f.StringArrayVar(&rf.larks, "lark", nil, "a Lark bot URL (repeatable)")
	f.StringArrayVar(&rf.slacks, "slack", nil, "a Slack incoming-webhook URL (repeatable)")
	f.StringArrayVar(&rf.emails, "email", nil, "an email recipient (repeatable; one email target for all)")
	f.BoolVar(&rf.secretStdin, "secret-stdin", false, "read the signing secret of the webhook and dingtalk targets from stdin (never shown)")
}

// readRuleFile reads -f as JSON (YAML is converted).
func readRuleFile(cmd *cobra.Command, path string) (map[string]any, error) {
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("-f: %w", err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("-f %s: %w", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil || m == nil {
		return nil, fmt.Errorf("-f %s: want a rule object (name, eventTypes, scope, filter, throttle, enabled, targets)", path)
	}
	return m, nil
}

// apply sets the fields given as flags on body (a rule request as a map).
func (rf *ruleFlags) apply(cmd *cobra.Command, body map[string]any) error {
	fl := cmd.Flags()
	if fl.Changed("event-type") {
		body["eventTypes"] = rf.eventTypes
	}
	if fl.Changed("scope") {
		switch rf.scope {
		case atrium.ScopeAll, atrium.ScopeMine:
			body["scope"] = rf.scope
		default:
			body["scope"] = map[string]any{"resourceId": rf.scope}
		}
	}
	filter, _ := body["filter"].(map[string]any)
	if filter == nil {
		filter = map[string]any{}
	}
	if fl.Changed("cel") {
		filter["cel"] = rf.cel
	}
	if fl.Changed("status") {
		filter["statuses"] = rf.statuses
	}
	if fl.Changed("job-type") {
		filter["jobTypes"] = rf.jobTypes
	}
	body["filter"] = filter
	if fl.Changed("throttle") {
		body["throttle"] = rf.throttle
	}
	if fl.Changed("disabled") {
		body["enabled"] = !rf.disabled
	}
	var secret string
	if rf.secretStdin {
		if len(rf.webhooks)+len(rf.dingtalks) == 0 {
			return errors.New("--secret-stdin is for --webhook and --dingtalk targets")
		}
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if secret = strings.TrimRight(line, "\r\n"); secret == "" {
			return errors.New("--secret-stdin: stdin is empty")
		}
	}
	var targets []any
	if t, ok := body["targets"].([]any); ok {
		targets = t
	}
	for _, g := range []struct {
		typ  string
		urls []string
	}{{atrium.TargetWebhook, rf.webhooks}, {atrium.TargetDingTalk, rf.dingtalks}, {atrium.TargetWeCom, rf.wecoms},
		{atrium.TargetLark, rf.larks}, {atrium.TargetSlack, rf.slacks}} {
		for _, u := range g.urls {
			t := map[string]any{"type": g.typ, "url": u}
			if secret != "" && (g.typ == atrium.TargetWebhook || g.typ == atrium.TargetDingTalk) {
				t["secret"] = secret
			}
			targets = append(targets, t)
		}
	}
	if len(rf.emails) > 0 {
		targets = append(targets, map[string]any{"type": atrium.TargetEmail, "to": rf.emails})
	}
	if targets != nil {
		body["targets"] = targets
	}
	return nil
}

// resolveRule turns a rule id or name into its id.
// ruleRef resolves the selected workspace and a rule id or name in it.
func (s *session) ruleRef(ref string) (ws, id string, err error) {
	if ws, err = s.workspaceID(); err != nil {
		return "", "", err
	}
	id, err = s.resolveRule(ws, ref)
	return ws, id, err
}

func (s *session) resolveRule(wsID, ref string) (string, error) {
	if strings.HasPrefix(ref, atrium.PrefixRule) {
		return ref, nil
	}
	l, err := s.client.ListAlertRules(s.ctx, wsID)
	if err != nil {
		return "", err
	}
	for _, r := range l.Items {
		if r.Name == ref {
			return r.ID, nil
		}
	}
	return "", fmt.Errorf("no alert rule named %q that you may see in this workspace", ref)
}

func newAlertCreateCmd(c *cli) *cobra.Command {
	rf := &ruleFlags{}
	cmd := &cobra.Command{
		Use:   "create [NAME] [flags]",
		Short: "Create an alert rule from flags or -f rule.yaml",
		Long: `Create an alert rule. Give the rule as flags, or as a file (-f) in the API's
shape; flags given with -f override the file's fields. The scope is Mine
unless --scope says All (WorkspaceAdmin) or names a job or asset.

` + workspaceSelection,
		Example: `  atrium alert-rule create failures --event-type dlc.job.status.changed --status Failed \
      --webhook https://hooks.example.com/atrium --secret-stdin <<< "$SIGNING_SECRET"
  atrium alert-rule create approvals --event-type model.version.approval.changed --scope All --email ml-leads@example.com
  atrium alert-rule create slow --event-type dlc.job.timeout --cel 'event.data.jobType == "PyTorchJob"' --slack https://hooks.slack.com/services/T/B/X
  atrium alert-rule create -f rule.yaml`,
		Args: cobra.MaximumNArgs(1),
	}
	rf.add(cmd, true)
	cmd.RunE = c.run(func(s *session, args []string) error {
		body := map[string]any{}
		if rf.file != "" {
			var err error
			if body, err = readRuleFile(s.cmd, rf.file); err != nil {
				return err
			}
		}
		if len(args) == 1 {
			body["name"] = args[0]
		}
		if body["name"] == nil {
			return errors.New("a NAME is required (or name: in -f)")
		}
		if err := rf.apply(s.cmd, body); err != nil {
			return err
		}
		ws, err := s.workspaceID()
		if err != nil {
			return err
		}
		r, err := s.client.CreateAlertRule(s.ctx, ws, body)
		if err != nil {
			return err
		}
		return s.print(r, func(w io.Writer) { alertDetail(w, r) })
	})
	return cmd
}

func newAlertListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List alert rules (your own; Admins all)",
		Long:    "List the workspace's alert rules you may see, by name.\n\n" + workspaceSelection,
		Example: "  atrium alert-rule list\n  atrium alert-rule list -w team_a -o yaml",
		Args:    cobra.NoArgs,
		RunE: c.run(func(s *session, args []string) error {
			ws, err := s.workspaceID()
			if err != nil {
				return err
			}
			l, err := s.client.ListAlertRules(s.ctx, ws)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) { alertTable(w, l.Items) })
		}),
	}
}

func newAlertGetCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "get RULE",
		Short:   "Show an alert rule",
		Long:    "Show an alert rule: its events, scope, filter and targets (secrets show as \"secret set\" only).\n\n" + workspaceSelection,
		Example: "  atrium alert-rule get failures\n  atrium alert-rule get rule-abc -o json",
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, id, err := s.ruleRef(args[0])
			if err != nil {
				return err
			}
			r, err := s.client.GetAlertRule(s.ctx, ws, id)
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) { alertDetail(w, r) })
		}),
	}
}

func newAlertUpdateCmd(c *cli) *cobra.Command {
	rf := &ruleFlags{}
	var enable bool
	cmd := &cobra.Command{
		Use:   "update RULE [flags]",
		Short: "Change an alert rule: -f replaces it; flags change single fields",
		Long: `Change an alert rule. With -f the file replaces the rule (targets given
without secret keep theirs when type and url are unchanged); otherwise the
flags given change those fields and the rest stays.`,
		Example: `  atrium alert-rule update failures --disabled
  atrium alert-rule update failures --enabled --throttle 10m
  atrium alert-rule update rule-abc -f rule.yaml`,
		Args: cobra.ExactArgs(1),
	}
	rf.add(cmd, false)
	cmd.Flags().BoolVar(&enable, "enabled", false, "enable the rule")
	cmd.RunE = c.run(func(s *session, args []string) error {
		ws, id, err := s.ruleRef(args[0])
		if err != nil {
			return err
		}
		var body map[string]any
		if rf.file != "" {
			if body, err = readRuleFile(s.cmd, rf.file); err != nil {
				return err
			}
		} else {
			old, err := s.client.GetAlertRule(s.ctx, ws, id)
			if err != nil {
				return err
			}
			b, err := json.Marshal(httpapi.RequestOf(old))
			if err != nil {
				return err
			}
			if err := json.Unmarshal(b, &body); err != nil {
				return err
			}
		}
		if err := rf.apply(s.cmd, body); err != nil {
			return err
		}
		if s.cmd.Flags().Changed("enabled") {
			if s.cmd.Flags().Changed("disabled") {
				return errors.New("give --enabled or --disabled, not both")
			}
			body["enabled"] = enable
		}
		r, err := s.client.UpdateAlertRule(s.ctx, ws, id, body)
		if err != nil {
			return err
		}
		return s.print(r, func(w io.Writer) { alertDetail(w, r) })
	})
	return cmd
}

func newAlertDeleteCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "delete RULE",
		Short:   "Delete an alert rule and its delivery history",
		Long:    "Delete an alert rule; its queued and past deliveries go with it.\n\n" + workspaceSelection,
		Example: "  atrium alert-rule delete failures",
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, id, err := s.ruleRef(args[0])
			if err != nil {
				return err
			}
			if err := s.client.DeleteAlertRule(s.ctx, ws, id); err != nil {
				return err
			}
			s.message("Deleted alert rule %s", id)
			return nil
		}),
	}
}

func newAlertTestCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "test RULE",
		Short: "Send a sample event through each of a rule's targets",
		Long: `Queue a test delivery of a sample event (of the rule's first event type) to
every target of the rule; see how it went with 'atrium alert-rule deliveries'.`,
		Example: "  atrium alert-rule test failures && atrium alert-rule deliveries failures",
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, id, err := s.ruleRef(args[0])
			if err != nil {
				return err
			}
			l, err := s.client.TestAlertRule(s.ctx, ws, id)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) { deliveryTable(w, l.Items) })
		}),
	}
}

func newAlertDeliveriesCmd(c *cli) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:     "deliveries RULE",
		Short:   "Show a rule's deliveries, newest first: status, attempts, response code, latency, last error",
		Long:    "Show a rule's deliveries, newest first: every event (and test) on its way to each target, with its\nstatus (Pending, Delivered, Failed), attempts, last response code, latency and last error.\n\n" + workspaceSelection,
		Example: "  atrium alert-rule deliveries failures --limit 20",
		Args:    cobra.ExactArgs(1),
		RunE: c.run(func(s *session, args []string) error {
			ws, id, err := s.ruleRef(args[0])
			if err != nil {
				return err
			}
			l, err := s.client.ListDeliveries(s.ctx, ws, id, limit)
			if err != nil {
				return err
			}
			return s.print(l, func(w io.Writer) { deliveryTable(w, l.Items) })
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (1–500; default 50)")
	return cmd
}
