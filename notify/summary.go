package notify

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"atrium"
)

// Summary is the human form of an event shared by chat and email targets.
type Summary struct {
	Title string   // e.g. "dlc.job.status.changed: train-resnet Running → Succeeded"
	Lines []string // "key: value" facts
}

// Text is the summary as plain text (title, blank line, facts).
func (s Summary) Text() string {
	return s.Title + "\n\n" + strings.Join(s.Lines, "\n") + "\n"
}

// Markdown is the summary as markdown (dingtalk, wecom).
func (s Summary) Markdown() string {
	var b strings.Builder
	b.WriteString("### " + s.Title + "\n\n")
	for _, l := range s.Lines {
		b.WriteString("- " + l + "\n")
	}
	return b.String()
}

// Summarize describes an event for people.
func Summarize(e *atrium.Event) Summary {
	data := map[string]any{}
	_ = json.Unmarshal(e.Data, &data)
	str := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := data[k]; ok && v != nil {
				if s := fmt.Sprint(v); s != "" {
					return s
				}
			}
		}
		return ""
	}
	name := str("displayName", "name", "jobName", "resourceName")
	if name == "" {
		name = e.Subject
	}
	if name == "" {
		name = e.Source
	}
	title := e.Type + ": " + name
	from, to := str("from", "fromStatus"), str("to", "toStatus", "status", "approvalStatus")
	switch {
	case from != "" && to != "":
		title += " " + from + " → " + to
	case to != "":
		title += " → " + to
	}
	lines := []string{}
	add := func(k, v string) {
		if v != "" {
			lines = append(lines, k+": "+v)
		}
	}
	add("Event", e.Type)
	add("Resource", name)
	add("Subject", e.Subject)
	add("Source", e.Source)
	add("Workspace", e.WorkspaceID)
	if from != "" || to != "" {
		add("Status", strings.TrimSpace(from+" → "+to))
	}
	add("Reason", str("reasonMessage", "reason", "reasonCode"))
	add("Actor", str("actor"))
	if !e.Time.IsZero() {
		add("Time", e.Time.UTC().Format(time.RFC3339))
	}
	add("Event ID", e.ID)
	skip := map[string]bool{"displayName": true, "name": true, "from": true, "to": true, "reason": true, "reasonMessage": true, "actor": true}
	keys := []string{}
	for k := range data {
		if !skip[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := data[k].(type) {
		case string, float64, bool:
			add(k, fmt.Sprint(v))
		}
	}
	return Summary{Title: title, Lines: lines}
}
