package console

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"atrium"
	"atrium/httpapi"
	"atrium/secret"
	"atrium/sqlstore"
)

// world is a real API over a real SQLite store with the console in front,
// a workspace and members of several roles (all with passwords).
type world struct {
	srv   *httptest.Server
	ui    *Console
	db    *sqlstore.DB
	ws    *atrium.Workspace
	users map[string]*atrium.User
	// seeded by seed
	jobID, modelID string
}

const testPassword = "correct horse battery"

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "atrium.db"), sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	api := httpapi.NewServer(db, nil)
	if api.Secrets, err = secret.NewBox(make([]byte, secret.KeySize)); err != nil {
		t.Fatal(err)
	}
	ui, err := New(api, []byte("0123456789abcdef0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	api.Console = ui
	w := &world{srv: httptest.NewServer(api), ui: ui, db: db, users: map[string]*atrium.User{}}
	t.Cleanup(w.srv.Close)
	hash, err := secret.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"olga", "dave", "gina", "opal"} {
		u := &atrium.User{Name: name, DisplayName: name, PasswordHash: hash}
		if name == "olga" {
			u.PlatformRoles = []string{atrium.RoleResourceAdmin}
		}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		w.users[name] = u
	}
	w.ws = &atrium.Workspace{Name: "vision", DisplayName: "Vision", EnvTypes: []string{"dev", "prod"}, Creator: w.users["olga"].ID}
	if err := db.CreateWorkspace(ctx, w.ws); err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]string{"dave": atrium.RoleAlgoDeveloper, "gina": atrium.RoleWorkspaceGuest, "opal": atrium.RoleAlgoOperator} {
		if _, err := db.AddMembers(ctx, w.ws.ID, []atrium.MemberParams{{UserID: w.users[name].ID, Roles: []string{role}}}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (w *world) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: w.srv.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (b *browser) get(path string) page { return b.do("GET", path, nil) }

var hiddenCSRF = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := hiddenCSRF.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF field on the page (%d):\n%.500s", p.status, p.body)
	}
	return m[1]
}

// login signs in through the form and returns the session's CSRF token.
func (b *browser) login(name string) string {
	b.t.Helper()
	nonce := csrfOf(b.t, b.get("/login"))
	p := b.do("POST", "/login", url.Values{"_csrf": {nonce}, "name": {name}, "password": {testPassword}, "next": {"/workspaces"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/workspaces" {
		b.t.Fatalf("login %s: %d %s\n%.500s", name, p.status, p.header.Get("Location"), p.body)
	}
	ck := p.header.Get("Set-Cookie")
	for _, want := range []string{sessionCookie + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(strings.Join(p.header.Values("Set-Cookie"), "\n"), want) {
			b.t.Errorf("session cookie lacks %s: %s", want, ck)
		}
	}
	return csrfOf(b.t, b.get("/workspaces"))
}

func (w *world) memberNames(t *testing.T) string {
	ms, _, err := w.db.FindMembers(context.Background(), atrium.MemberFilter{WorkspaceID: w.ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.UserName+":"+strings.Join(m.Roles, "+"))
	}
	return strings.Join(names, ",")
}

func TestLoginCSRFAndRefusals(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	extra := &atrium.User{Name: "erin", DisplayName: "erin"}
	if err := w.db.CreateUser(ctx, extra); err != nil {
		t.Fatal(err)
	}
	addErin := func(csrf string) url.Values {
		v := url.Values{"userName": {"erin"}, "role": {atrium.RoleAlgoDeveloper}}
		if csrf != "" {
			v.Set("_csrf", csrf)
		}
		return v
	}
	members := w.memberNames(t)

	// Anonymous: pages redirect to the login, writes are refused.
	anon := w.browser(t)
	if p := anon.get("/w/" + w.ws.ID + "/jobs"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login?next=") {
		t.Errorf("anonymous page: %d %s", p.status, p.header.Get("Location"))
	}
	if p := anon.do("POST", "/w/"+w.ws.ID+"/members", addErin("x")); p.status != http.StatusUnauthorized {
		t.Errorf("anonymous POST: %d", p.status)
	}
	// A login without the form's nonce (cross-site login) is refused.
	if p := anon.do("POST", "/login", url.Values{"name": {"olga"}, "password": {testPassword}}); p.status != http.StatusForbidden {
		t.Errorf("login without nonce: %d", p.status)
	}
	// A wrong password says so on the form.
	nonce := csrfOf(t, anon.get("/login"))
	if p := anon.do("POST", "/login", url.Values{"_csrf": {nonce}, "name": {"olga"}, "password": {"nope"}}); p.status != http.StatusOK || !strings.Contains(p.body, "invalid user name or password") || strings.Contains(p.body, `action="/logout"`) {
		t.Errorf("wrong password: %d %.300s", p.status, p.body)
	}

	// The owner: without the CSRF token, or with another session's, nothing happens.
	owner := w.browser(t)
	csrf := owner.login("olga")
	guest := w.browser(t)
	guestCSRF := guest.login("gina")
	for _, tok := range []string{"", guestCSRF, "forged"} {
		if p := owner.do("POST", "/w/"+w.ws.ID+"/members", addErin(tok)); p.status != http.StatusForbidden || !strings.Contains(p.body, "CSRF") {
			t.Errorf("owner POST with CSRF %q: %d %.300s", tok, p.status, p.body)
		}
	}
	if got := w.memberNames(t); got != members {
		t.Fatalf("members changed by refused posts: %s", got)
	}

	// A guest's hand-crafted POST with a valid token reaches the API, which refuses it.
	p := guest.do("POST", "/w/"+w.ws.ID+"/members", addErin(guestCSRF))
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "Workspace:CreateMember") {
		t.Errorf("guest POST: %d %.500s", p.status, p.body)
	}
	jobs, _, err := w.db.FindJobs(ctx, atrium.JobFilter{WorkspaceID: w.ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	spec := "jobType: CustomJob\ncommand: 'true'\njobSpecs: [{type: Worker, podCount: 1, image: x, resources: {cpu: 1, memory: 1Gi}}]\n"
	if p := guest.do("POST", "/w/"+w.ws.ID+"/jobs/new", url.Values{"_csrf": {guestCSRF}, "spec": {spec}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "DLC:CreateJob") {
		t.Errorf("guest job submit: %d %.300s", p.status, p.body)
	}
	if after, _, _ := w.db.FindJobs(ctx, atrium.JobFilter{WorkspaceID: w.ws.ID}); len(after) != len(jobs) {
		t.Errorf("a refused submit wrote a job")
	}
	if got := w.memberNames(t); got != members {
		t.Fatalf("members changed by the guest: %s", got)
	}

	// The owner with the right token succeeds.
	if p := owner.do("POST", "/w/"+w.ws.ID+"/members", addErin(csrf)); p.status != http.StatusSeeOther {
		t.Fatalf("owner add member: %d %.500s", p.status, p.body)
	}
	if got := w.memberNames(t); !strings.Contains(got, "erin:AlgoDeveloper") {
		t.Errorf("erin not added: %s", got)
	}

	// Sign-out revokes the session's token: the cookie stops working.
	cookies := owner.c.Jar.Cookies(mustURL(t, w.srv.URL))
	if p := owner.do("POST", "/logout", url.Values{"_csrf": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.status)
	}
	replay := w.browser(t)
	replay.c.Jar.SetCookies(mustURL(t, w.srv.URL), cookies)
	if p := replay.get("/workspaces"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login") {
		t.Errorf("a signed-out cookie still works: %d", p.status)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestGuestIsOfferedNoWrites: every page a guest can open offers no form
// that writes, except signing out; the owner's pages do offer them. Every
// menu page opens for every role.
func TestGuestIsOfferedNoWrites(t *testing.T) {
	w := newWorld(t)
	w.seed(t)
	postForm := regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	for _, who := range []string{"gina", "olga", "dave", "opal"} {
		b := w.browser(t)
		b.login(who)
		var writes []string
		for _, path := range w.pages(t, b) {
			p := b.get(path)
			if p.status != http.StatusOK {
				t.Errorf("%s %s: %d %.300s", who, path, p.status, p.body)
				continue
			}
			if len(p.body) > 100<<10 {
				t.Errorf("%s %s: %d bytes, over 100 KB", who, path, len(p.body))
			}
			if strings.Contains(p.body, " style=") {
				t.Errorf("%s %s: an inline style attribute (the CSP forbids it)", who, path)
			}
			for _, m := range postForm.FindAllStringSubmatch(p.body, -1) {
				if m[1] != "/logout" {
					writes = append(writes, path+" → "+m[1])
				}
			}
		}
		switch {
		case who == "gina" && len(writes) > 0:
			t.Errorf("the guest is offered writes:\n%s", strings.Join(writes, "\n"))
		case who == "olga" && len(writes) < 5:
			t.Errorf("the owner is offered too few writes: %s", writes)
		}
	}
}

// seed adds a job, a model with a version and an alert rule.
func (w *world) seed(t *testing.T) {
	ctx := context.Background()
	dave := w.users["dave"]
	j := &atrium.Job{WorkspaceID: w.ws.ID, Kind: atrium.KindDLC, DisplayName: "train", JobType: "PyTorchJob",
		Creator: dave.ID, Accessibility: atrium.AccessPublic, Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted,
		Spec: atrium.JobSpec{DisplayName: "train", JobType: "PyTorchJob", Command: "true"}}
	if err := w.db.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	w.jobID = j.ID
	// The model goes through the API, as a user would register it.
	tok := secret.NewToken()
	if err := w.db.CreateToken(ctx, &atrium.Token{UserID: dave.ID, Name: "seed", Hash: secret.HashToken(tok)}); err != nil {
		t.Fatal(err)
	}
	cl := httpapi.NewClient(w.srv.URL, tok)
	m, err := cl.CreateAsset(ctx, w.ws.ID, httpapi.KindModels, map[string]any{"name": "resnet"})
	if err != nil {
		t.Fatal(err)
	}
	w.modelID = m.String("modelId")
	if _, err := cl.PublishAsset(ctx, w.ws.ID, httpapi.KindModels, w.modelID); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateAssetVersion(ctx, w.ws.ID, httpapi.KindModels, w.modelID, map[string]any{"versionName": "1.0.0", "uri": "oss://models/resnet/1"}); err != nil {
		t.Fatal(err)
	}
}

var navLink = regexp.MustCompile(`<li><a href="(/[^"]*)"`)

// pages are the menu's entries as b sees them, plus the seeded details.
func (w *world) pages(t *testing.T, b *browser) []string {
	ws := "/w/" + w.ws.ID
	out := []string{ws + "/jobs?partial=rows"}
	for _, m := range navLink.FindAllStringSubmatch(b.get(ws).body, -1) {
		out = append(out, m[1])
	}
	if len(out) < 10 {
		t.Fatalf("the menu has only %v", out)
	}
	if w.jobID != "" {
		out = append(out, ws+"/jobs/"+w.jobID, ws+"/jobs/"+w.jobID+"?partial=status")
	}
	if w.modelID != "" {
		out = append(out, ws+"/models/"+w.modelID)
	}
	return out
}

// TestJobsPageQueryCount: the jobs page runs the same number of SQL
// statements with 1,000 jobs as with 10 (no query per row).
func TestJobsPageQueryCount(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	b.login("olga")
	ctx := context.Background()
	add := func(n int) {
		for i := range n {
			j := &atrium.Job{WorkspaceID: w.ws.ID, Kind: atrium.KindDLC, DisplayName: fmt.Sprintf("job-%d", i), JobType: "PyTorchJob",
				Creator: w.users[[]string{"dave", "opal", "olga"}[i%3]].ID, Accessibility: atrium.AccessPublic,
				Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted,
				Spec: atrium.JobSpec{DisplayName: "j", JobType: "PyTorchJob", Command: "true"}}
			if err := w.db.CreateJob(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() (int64, page) {
		before := w.db.Queries()
		p := b.get("/w/" + w.ws.ID + "/jobs")
		if p.status != http.StatusOK {
			t.Fatalf("jobs page: %d %.300s", p.status, p.body)
		}
		return w.db.Queries() - before, p
	}
	add(10)
	small, _ := count()
	add(990)
	large, p := count()
	t.Logf("jobs page: %d statements with 10 jobs, %d with 1,000", small, large)
	if large != small {
		t.Errorf("the jobs page runs %d statements with 1,000 jobs but %d with 10: a query per row", large, small)
	}
	if rows := strings.Count(p.body, "<tr data-job="); rows != jobPageSize {
		t.Errorf("%d rows on the page, want %d", rows, jobPageSize)
	}
	if !strings.Contains(p.body, "1000 job(s) match") || !strings.Contains(p.body, "Older jobs") {
		t.Errorf("the page does not say how many jobs there are or link to the next page")
	}
}

// TestAlertRuleForms: a bad CEL condition stays on the form with the
// API's words and creates nothing; a good rule is created, and "send a
// test" queues a delivery that the rule's page lists.
func TestAlertRuleForms(t *testing.T) {
	w := newWorld(t)
	b := w.browser(t)
	csrf := b.login("dave")
	ws := "/w/" + w.ws.ID
	form := url.Values{"_csrf": {csrf}, "name": {"failures"}, "eventType": {atrium.EventJobStatusChanged},
		"scope": {"Mine"}, "statuses": {"Failed"}, "cel": {`event.data.jobType ==`}, "targetType": {atrium.TargetWebhook},
		"url": {"https://hooks.example.com/atrium"}, "secret": {"s3cret-signing-key"}}
	p := b.do("POST", ws+"/alerts", form)
	if p.status != http.StatusOK || !strings.Contains(p.body, "filter.cel") || !strings.Contains(p.body, `value="failures"`) {
		t.Fatalf("bad CEL: %d %s", p.status, p.body[strings.Index(p.body, "<main"):])
	}
	rules, err := w.db.FindAlertRules(context.Background(), w.ws.ID, "")
	if err != nil || len(rules) != 0 {
		t.Fatalf("a refused rule was stored: %v %v", rules, err)
	}
	form.Set("cel", `event.data.jobType == "PyTorchJob"`)
	p = b.do("POST", ws+"/alerts", form)
	if p.status != http.StatusSeeOther {
		t.Fatalf("create rule: %d %s", p.status, p.body[strings.Index(p.body, "<main"):])
	}
	rulePage := strings.Split(p.header.Get("Location"), "?")[0]
	p = b.do("POST", rulePage+"/test", url.Values{"_csrf": {csrf}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("test-send: %d %.1000s", p.status, p.body)
	}
	p = b.get(rulePage)
	if p.status != http.StatusOK || !strings.Contains(p.body, "(test)") || !strings.Contains(p.body, "(signed)") {
		t.Errorf("rule page after a test-send: %d %.3000s", p.status, p.body)
	}
	if strings.Contains(p.body, "s3cret-signing-key") {
		t.Errorf("the rule page shows the signing secret")
	}
}

// TestIsolationBanner: in process mode every page a signed-in user sees,
// error pages too, says in a banner that jobs are not isolated; the
// sign-in page (nobody signed in) does not, and in container mode no page
// does.
func TestIsolationBanner(t *testing.T) {
	w := newWorld(t)
	w.seed(t)
	notice := template.HTMLEscapeString(httpapi.NotIsolatedNotice)
	if p := w.browser(t).get("/login"); p.status != http.StatusOK || strings.Contains(p.body, notice) {
		t.Errorf("sign-in page: %d, banner shown: %v", p.status, strings.Contains(p.body, notice))
	}
	dev := w.browser(t)
	dev.login("dave")
	var paths []string
	for _, p := range append(w.pages(t, dev), "/workspaces", "/w/"+w.ws.ID+"/jobs/dlc-nope") {
		if !strings.Contains(p, "partial=") { // fragments have no header
			paths = append(paths, p)
		}
	}
	for _, path := range paths {
		if p := dev.get(path); !strings.Contains(p.body, `<p class="banner" role="note" id="isolation-notice">`+notice+`</p>`) {
			t.Errorf("%s (%d) has no banner:\n%.600s", path, p.status, p.body)
		}
	}
	w.ui.Runtime = httpapi.RuntimeContainer
	for _, path := range paths {
		if p := dev.get(path); strings.Contains(p.body, "isolation-notice") {
			t.Errorf("%s shows the banner in container mode", path)
		}
	}
}
