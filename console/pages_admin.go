package console

import (
	"encoding/json"
	"net/http"
	"strings"

	"atrium"
	"atrium/httpapi"
)

type alertsData struct {
	Items      []*atrium.AlertRule
	EventTypes []string
	Targets    []string
	Form       alertForm
}

// alertForm is the create form: one target, filters by status.
type alertForm struct {
	Name, EventType, Statuses, CEL, TargetType, URL string
}

var alertEventTypes = []string{atrium.EventJobStatusChanged, atrium.EventJobTimeout, atrium.EventJobPreempted,
	atrium.EventDSWStatusChanged, atrium.EventPipelineRunChanged, atrium.EventPipelineNodeChanged, atrium.EventModelApprovalChanged, atrium.EventWorkspaceMemberChange}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.showAlerts(w, r, s, nil, alertForm{EventType: atrium.EventJobStatusChanged, Statuses: "Failed", TargetType: atrium.TargetWebhook})
}

func (c *Console) showAlerts(w http.ResponseWriter, r *http.Request, s *session, formErr error, f alertForm) error {
	v, err := c.wsView(r, s, "Alert rules", "alerts")
	if err != nil {
		return err
	}
	if formErr != nil {
		if err := formError(w, v, formErr); err != nil {
			return err
		}
	}
	l, err := s.client.ListAlertRules(r.Context(), v.WS.ID)
	if err != nil {
		return err
	}
	v.Data = &alertsData{Items: l.Items, EventTypes: alertEventTypes, Form: f,
		Targets: []string{atrium.TargetWebhook, "dingtalk", "wecom", atrium.TargetLark, atrium.TargetSlack, atrium.TargetEmail}}
	c.render(w, "alerts", v)
	return nil
}

func (c *Console) createAlert(w http.ResponseWriter, r *http.Request, s *session) error {
	f := alertForm{Name: strings.TrimSpace(r.PostFormValue("name")), EventType: r.PostFormValue("eventType"),
		Statuses: r.PostFormValue("statuses"), CEL: r.PostFormValue("cel"), TargetType: r.PostFormValue("targetType"),
		URL: strings.TrimSpace(r.PostFormValue("url"))}
	req := httpapi.AlertRuleRequest{Name: f.Name, EventTypes: []string{f.EventType}, Scope: json.RawMessage(`"Mine"`),
		Filter: atrium.AlertFilter{CEL: f.CEL}}
	if r.PostFormValue("scope") == "All" {
		req.Scope = json.RawMessage(`"All"`)
	}
	for _, st := range strings.Split(f.Statuses, ",") {
		if st = strings.TrimSpace(st); st != "" {
			req.Filter.Statuses = append(req.Filter.Statuses, st)
		}
	}
	t := httpapi.AlertTargetRequest{Type: f.TargetType}
	if f.TargetType == atrium.TargetEmail {
		t.To = []string{f.URL}
	} else {
		t.URL = f.URL
	}
	if sec := r.PostFormValue("secret"); sec != "" {
		t.Secret = &sec
	}
	req.Targets = []httpapi.AlertTargetRequest{t}
	rule, err := s.client.CreateAlertRule(r.Context(), r.PathValue("ws"), req)
	if err != nil {
		return c.showAlerts(w, r, s, err, f)
	}
	redirect(w, r, "/w/"+r.PathValue("ws")+"/alerts/"+rule.ID, "Rule created.")
	return nil
}

type alertData struct {
	Rule       *atrium.AlertRule
	Deliveries []*atrium.Delivery
}

func (c *Console) alert(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Alert rule", "alerts")
	if err != nil {
		return err
	}
	ctx, id := r.Context(), r.PathValue("rule")
	rule, err := s.client.GetAlertRule(ctx, v.WS.ID, id)
	if err != nil {
		return err
	}
	dl, err := s.client.ListDeliveries(ctx, v.WS.ID, id, 100)
	if err != nil {
		return err
	}
	v.Title = "Alert rule " + rule.Name
	v.Data = &alertData{Rule: rule, Deliveries: dl.Items}
	c.render(w, "alert", v)
	return nil
}

func (c *Console) testAlert(w http.ResponseWriter, r *http.Request, s *session) error {
	ws, id := r.PathValue("ws"), r.PathValue("rule")
	if _, err := s.client.TestAlertRule(r.Context(), ws, id); err != nil {
		return err
	}
	redirect(w, r, "/w/"+ws+"/alerts/"+id, "Test notification queued; its delivery shows below.")
	return nil
}

type oplogData struct {
	Items  []*atrium.OperationLog
	Next   string
	Result string
}

func (c *Console) oplog(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.wsView(r, s, "Operation log", "oplog")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := &oplogData{Result: q.Get("result")}
	l, err := s.client.ListOperationLogs(r.Context(), v.WS.ID, httpapi.ListOperationLogsOptions{Result: d.Result,
		PageOptions: httpapi.PageOptions{PageSize: 100, PageToken: q.Get("pageToken")}})
	if err != nil {
		return err
	}
	d.Items = l.Items
	if l.NextPageToken != "" {
		d.Next = "result=" + d.Result + "&pageToken=" + l.NextPageToken
	}
	v.Data = d
	c.render(w, "oplog", v)
	return nil
}

type quotasData struct {
	Roots []*httpapi.QuotaView
}

// quotas shows the whole quota tree with usage per node (ResourceAdmin;
// the API refuses others).
func (c *Console) quotas(w http.ResponseWriter, r *http.Request, s *session) error {
	v := c.newView(r, s, "Quota tree")
	v.Nav = "quotas"
	if err := c.loadSwitcher(r, s, v); err != nil {
		return err
	}
	l, err := s.client.ListQuotas(r.Context(), httpapi.ListQuotasOptions{Tree: true})
	if err != nil {
		return err
	}
	v.Data = &quotasData{Roots: l.Items}
	c.render(w, "quotas", v)
	return nil
}
