package console

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"atrium"
)

var funcs = template.FuncMap{
	"usageBar":    usageBar,
	"memberChart": memberChart,
	"dailyChart":  dailyChart,
	"lineage":     lineageGraph,
	"when":        when,
	"ago":         ago,
	"join":        strings.Join,
	"has":         slices.Contains[[]string],
	"statusClass": statusClass,
	"finished":    atrium.JobFinished,
	"waiting":     waiting,
	"pretty":      pretty,
	"took":        took,
	"eventLine":   eventLine,
	"list":        func(s ...string) []string { return s },
	"runFinished": atrium.RunFinished,
	"dag":         dagGraph,
}

func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04:05")
	case *time.Time:
		if v == nil {
			return ""
		}
		return when(*v)
	case string:
		return v
	}
	return ""
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// took is how long a job ran (or has run).
func took(j *atrium.Job) string {
	if j.StartedAt == nil {
		return ""
	}
	end := time.Now()
	if j.FinishedAt != nil {
		end = *j.FinishedAt
	}
	return end.Sub(*j.StartedAt).Round(time.Second).String()
}

// statusClass maps a status to a colour class; the word is always shown
// too, so colour is never the only signal.
func statusClass(s string) string {
	switch s {
	case atrium.JobSucceeded, atrium.ApprovalApproved, "Delivered", "Running":
		return "ok"
	case atrium.JobFailed, atrium.ApprovalRejected, "Dead":
		return "bad"
	case atrium.JobQueuing, atrium.JobRestarting, atrium.ApprovalPending:
		return "wait"
	}
	return "neutral"
}

// waiting explains in words why a job is not running yet.
func waiting(j *atrium.Job) string {
	if j.Status != atrium.JobQueuing && j.Status != atrium.JobCreating && j.Status != atrium.JobRestarting {
		return ""
	}
	var b strings.Builder
	b.WriteString("Waiting")
	if j.QueuePosition > 0 {
		fmt.Fprintf(&b, ": number %d in the queue of quota %s", j.QueuePosition, j.QuotaID)
	}
	if j.ReasonMessage != "" {
		fmt.Fprintf(&b, ". The scheduler says: %s", j.ReasonMessage)
	} else if j.ReasonCode != "" {
		fmt.Fprintf(&b, " (%s)", j.ReasonCode)
	}
	return b.String()
}

func pretty(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// eventLine summarises an event for the overview.
func eventLine(typ string, data json.RawMessage) string {
	var d map[string]any
	_ = json.Unmarshal(data, &d)
	s := func(k string) string {
		if v, ok := d[k]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	switch typ {
	case atrium.EventJobStatusChanged, atrium.EventDSWStatusChanged, atrium.EventJobTimeout, atrium.EventJobPreempted:
		return strings.TrimSpace(fmt.Sprintf("%s %s: %s → %s %s", s("kind"), cmp.Or(s("displayName"), s("jobId")), s("from"), s("to"), s("reasonCode")))
	case atrium.EventPipelineRunChanged:
		return fmt.Sprintf("pipeline run %s: %s → %s", cmp.Or(s("displayName"), s("runId")), s("from"), s("to"))
	case atrium.EventPipelineNodeChanged:
		return fmt.Sprintf("pipeline run %s node %s: %s → %s", cmp.Or(s("displayName"), s("runId")), s("node"), s("from"), s("to"))
	case atrium.EventModelApprovalChanged:
		return fmt.Sprintf("model %s version %s: %s → %s by %s", s("modelId"), s("versionName"), s("from"), s("to"), s("actor"))
	case atrium.EventWorkspaceMemberChange:
		return strings.TrimSpace(fmt.Sprintf("member %s %s %s", cmp.Or(s("userName"), s("userId")), s("action"), s("role")))
	}
	return typ
}
