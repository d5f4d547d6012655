package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"atrium"
	"atrium/httpapi"
	"atrium/resource"
)

// TestDSWOpen: the Notebooks page offers Open to who may use an instance;
// Open (a CSRF-checked POST) sends the browser to a one-time link on the
// DSW origin, which the page's form-action allows; the console itself
// never serves the instance.
func TestDSWOpen(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	api := w.srv.Config.Handler.(*httpapi.Server)
	o, err := httpapi.NewDSWOrigin(api, httpapi.DSWOriginConfig{URL: "http://dsw.test:8081", Key: []byte("0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	api.Console.(*Console).DSWOrigin = o.URL()
	dave := w.users["dave"]
	j := &atrium.Job{WorkspaceID: w.ws.ID, Kind: atrium.KindDSW, DisplayName: "nb", JobType: atrium.JobTypeDSW, Creator: dave.ID, CreatorName: dave.Name,
		Priority: 1, Accessibility: atrium.AccessPrivate, Status: atrium.JobRunning, ReasonCode: atrium.ReasonSubmitted,
		Spec:          atrium.JobSpec{JobType: atrium.JobTypeDSW, JobSpecs: []atrium.RoleSpec{{Type: atrium.DSWRole, PodCount: 1, Image: "jupyter", Resources: resource.Spec{CPU: "1", Memory: "1Gi"}}}},
		Pods:          []atrium.Pod{{Name: "instance-0", Role: atrium.DSWRole, Endpoint: "127.0.0.1:1"}},
		StatusHistory: []atrium.StatusChange{{Status: atrium.JobRunning, ReasonCode: atrium.ReasonSubmitted}}}
	if err := w.db.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	open := "/w/" + w.ws.ID + "/dsw/" + j.ID + "/open"

	b := w.browser(t)
	b.login("dave")
	p := b.get("/w/" + w.ws.ID + "/dsw")
	if p.status != http.StatusOK || !strings.Contains(p.body, `action="`+open+`"`) || strings.Contains(p.body, "/proxy/") {
		t.Fatalf("the Notebooks page: %d %.2000s", p.status, p.body)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://dsw.test:8081;") {
		t.Errorf("the page's policy does not let Open reach the DSW origin: %s", csp)
	}
	csrf := csrfOf(t, p)
	if p = b.do("POST", open, url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("Open without the CSRF token: %d", p.status)
	}
	p = b.do("POST", open, url.Values{"_csrf": {csrf}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "http://dsw.test:8081/handoff?token=atr_") {
		t.Fatalf("Open: %d %s %.300s", p.status, p.header.Get("Location"), p.body)
	}

	// The guest sees no Open, and Open by hand is the API's 404.
	g := w.browser(t)
	gcsrf := g.login("gina")
	if p = g.get("/w/" + w.ws.ID + "/dsw"); strings.Contains(p.body, open) {
		t.Errorf("the guest is offered Open")
	}
	if p = g.do("POST", open, url.Values{"_csrf": {gcsrf}}); p.status != http.StatusNotFound || p.header.Get("Location") != "" {
		t.Errorf("the guest's Open: %d %s", p.status, p.header.Get("Location"))
	}
}
