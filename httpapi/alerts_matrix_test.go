package httpapi

import (
	"context"
	"net/http"
	"testing"

	"atrium"
)

// worldRules holds each world's rules (the matrix runs its cases in turn).
var worldRules = map[*world]map[string]*atrium.AlertRule{}

// alertSetup gives each caller, in a world the case's callers share, a
// rule of their own (scope Mine) and one of another member, both with a
// queued delivery.
func alertSetup(t *testing.T, f *fixture, w *world, s *subject) {
	t.Helper()
	ctx := context.Background()
	other, err := f.store.FindUserByID(ctx, w.victim.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if worldRules[w] == nil {
		worldRules[w] = map[string]*atrium.AlertRule{}
	}
	mk := func(key string, owner *atrium.User) {
		r := &atrium.AlertRule{WorkspaceID: w.ws.ID, Name: key + "-" + s.name, Owner: owner.ID, OwnerName: owner.Name,
			EventTypes: []string{atrium.EventJobStatusChanged}, Scope: atrium.ScopeMine, Enabled: true,
			Targets: []atrium.AlertTarget{{Type: atrium.TargetWebhook, URL: "https://hooks.example.com/x"}}}
		must(t, f.store.CreateAlertRule(ctx, r))
		must(t, f.store.EnqueueDeliveries(ctx, []*atrium.Delivery{{RuleID: r.ID, WorkspaceID: w.ws.ID, TargetType: atrium.TargetWebhook,
			EventID: atrium.NewID(atrium.PrefixEvent), EventType: atrium.EventJobStatusChanged}}, 0))
		worldRules[w][key] = r
	}
	mk("own", s.user)
	mk("other", other)
}

// Alert rules: Admin manages all; Developer, Operator and
// MaxComputeDeveloper create rules scoped to their own resources and
// manage their own rules; LabelManager and Guest have none.
func alertCreator(s *subject) bool {
	return isWSAdmin(s) || s.role == atrium.RoleAlgoDeveloper || s.role == atrium.RoleAlgoOperator || s.role == atrium.RoleMaxComputeDeveloper
}

func alertMatrixCases() []matrixCase {
	const ws = "/api/v1/workspaces/{workspaceId}"
	rules := func(w *world, s *subject) string { return "/api/v1/workspaces/" + w.ws.ID + "/alert-rules" }
	rule := func(key, suffix string) func(w *world, s *subject) string {
		return func(w *world, s *subject) string {
			return "/api/v1/workspaces/" + w.ws.ID + "/alert-rules/" + worldRules[w][key].ID + suffix
		}
	}
	body := func(scope string) func(w *world, s *subject) any {
		return func(w *world, s *subject) any {
			return map[string]any{"name": "new-" + scope + "-" + s.name, "eventTypes": []string{atrium.EventJobStatusChanged},
				"scope": scope, "filter": map[string]any{"cel": `event.data.to == "Failed"`}, "throttle": "1m",
				"targets": []map[string]any{{"type": "slack", "url": "https://hooks.slack.com/services/x"}, {"type": "email", "to": []string{"a@example.com"}}}}
		}
	}
	want := func(ok int, allScope bool) func(*subject) int {
		return func(s *subject) int {
			switch {
			case isWSAdmin(s), alertCreator(s) && !allScope:
				return ok
			case isMember(s), isRA(s):
				return http.StatusForbidden
			}
			return http.StatusNotFound
		}
	}
	ruleWant := func(key string, ok int) func(*subject) int {
		return func(s *subject) int {
			if isMember(s) && (isWSAdmin(s) || (key == "own" && alertCreator(s))) {
				return ok
			}
			return http.StatusNotFound
		}
	}
	return []matrixCase{
		{method: "POST", path: ws + "/alert-rules", name: "scope Mine", path_: rules, body: body("Mine"), setup: alertSetup, want: want(201, false)},
		{method: "POST", path: ws + "/alert-rules", name: "scope All", path_: rules, body: body("All"), setup: alertSetup, want: want(201, true)},
		{method: "GET", path: ws + "/alert-rules", path_: rules, want: want(200, false)},
		{method: "GET", path: ws + "/alert-rules/{ruleId}", name: "own", path_: rule("own", ""), setup: alertSetup, want: ruleWant("own", 200)},
		{method: "GET", path: ws + "/alert-rules/{ruleId}", name: "other", path_: rule("other", ""), setup: alertSetup, want: ruleWant("other", 200)},
		{method: "PUT", path: ws + "/alert-rules/{ruleId}", name: "own", path_: rule("own", ""), body: body("Mine"), setup: alertSetup, want: ruleWant("own", 200)},
		{method: "PUT", path: ws + "/alert-rules/{ruleId}", name: "other", path_: rule("other", ""), body: body("Mine"), setup: alertSetup, want: ruleWant("other", 200)},
		{method: "DELETE", path: ws + "/alert-rules/{ruleId}", name: "own", path_: rule("own", ""), setup: alertSetup, want: ruleWant("own", 204)},
		{method: "DELETE", path: ws + "/alert-rules/{ruleId}", name: "other", path_: rule("other", ""), setup: alertSetup, want: ruleWant("other", 204)},
		{method: "GET", path: ws + "/alert-rules/{ruleId}/deliveries", name: "own", path_: rule("own", "/deliveries"), setup: alertSetup, want: ruleWant("own", 200)},
		{method: "GET", path: ws + "/alert-rules/{ruleId}/deliveries", name: "other", path_: rule("other", "/deliveries"), setup: alertSetup, want: ruleWant("other", 200)},
		{method: "POST", path: ws + "/alert-rules/{ruleId}/test", name: "own", path_: rule("own", "/test"), setup: alertSetup, want: ruleWant("own", 202)},
		{method: "POST", path: ws + "/alert-rules/{ruleId}/test", name: "other", path_: rule("other", "/test"), setup: alertSetup, want: ruleWant("other", 202)},
	}
}
