package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"atrium"
	"atrium/resource"
)

// Members read the workspace's events (filtered by what they may see);
// ResourceAdmin, not a member, may not; strangers learn nothing.
func eventMatrixCases() []matrixCase {
	const ws = "/api/v1/workspaces/{workspaceId}"
	want := func(s *subject) int {
		switch {
		case isMember(s):
			return http.StatusOK
		case isRA(s):
			return http.StatusForbidden
		}
		return http.StatusNotFound
	}
	return []matrixCase{
		{method: "GET", path: ws + "/events", path_: func(w *world, s *subject) string {
			return "/api/v1/workspaces/" + w.ws.ID + "/events"
		}, want: want},
		{method: "GET", path: ws + "/events", name: "filtered", path_: func(w *world, s *subject) string {
			return "/api/v1/workspaces/" + w.ws.ID + "/events?types=" + atrium.EventJobStatusChanged + "&resourceId=" + w.jobs["otherPublic"].ID + "&limit=5"
		}, want: want},
	}
}

// eventsWorld: a workspace owned by olga with developers dave and erin;
// erin has a PRIVATE and a PUBLIC job.
type eventsWorld struct {
	f                *fixture
	ws               *atrium.Workspace
	olga, dave, erin string // tokens
	erinU            *atrium.User
	private, public  *atrium.Job
}

func newEventsWorld(t *testing.T) *eventsWorld {
	t.Helper()
	f := setup(t)
	ctx := context.Background()
	olga, olgaTok := f.user(t, "olga")
	dave, daveTok := f.user(t, "dave")
	erin, erinTok := f.user(t, "erin")
	ws := &atrium.Workspace{Name: "events", DisplayName: "e", EnvTypes: []string{"prod"}, Status: atrium.WorkspaceEnabled, Creator: olga.ID}
	if err := f.store.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AddMembers(ctx, ws.ID, []atrium.MemberParams{
		{UserID: dave.ID, Roles: []string{atrium.RoleAlgoDeveloper}}, {UserID: erin.ID, Roles: []string{atrium.RoleAlgoDeveloper}}}); err != nil {
		t.Fatal(err)
	}
	w := &eventsWorld{f: f, ws: ws, olga: olgaTok, dave: daveTok, erin: erinTok, erinU: erin}
	w.private = w.job(t, "secret", atrium.AccessPrivate)
	w.public = w.job(t, "shared", atrium.AccessPublic)
	return w
}

func (w *eventsWorld) job(t *testing.T, name, access string) *atrium.Job {
	t.Helper()
	j := &atrium.Job{WorkspaceID: w.ws.ID, Kind: atrium.KindDLC, DisplayName: name, JobType: "CustomJob",
		Creator: w.erinU.ID, CreatorName: w.erinU.Name, QuotaID: "q-none", Priority: 1, Accessibility: access,
		Spec: atrium.JobSpec{JobType: "CustomJob", Command: "true", JobSpecs: []atrium.RoleSpec{{Type: "Worker", PodCount: 1, Image: "busybox",
			Resources: resource.Spec{CPU: "1", Memory: "1Gi"}}}},
		Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted, Pods: []atrium.Pod{},
		StatusHistory: []atrium.StatusChange{{Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted}}}
	if err := w.f.store.CreateJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return j
}

// move changes a job's status through the store, as the scheduler does.
func (w *eventsWorld) move(t *testing.T, j *atrium.Job, status, reason string) {
	t.Helper()
	cur, err := w.f.store.FindJobByID(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.f.store.UpdateJob(context.Background(), j.ID, cur.Version, atrium.JobUpdate{Status: &status, ReasonCode: &reason}); err != nil {
		t.Fatal(err)
	}
}

func (w *eventsWorld) list(t *testing.T, token, query string) List[*EventView] {
	t.Helper()
	resp := w.f.do(t, token, "GET", "/api/v1/workspaces/"+w.ws.ID+"/events"+query, nil)
	if resp.status != 200 {
		t.Fatalf("list events %s: %d %s", query, resp.status, resp.body)
	}
	var l List[*EventView]
	resp.decode(t, &l)
	return l
}

func summaries(es []*EventView) []string {
	out := []string{}
	for _, e := range es {
		var d map[string]any
		_ = json.Unmarshal(e.Data, &d)
		switch e.Type {
		case atrium.EventWorkspaceMemberChange:
			out = append(out, fmt.Sprintf("member %v %v", d["action"], d["userName"]))
		default:
			out = append(out, fmt.Sprintf("%s %v %v→%v", e.Type, d["displayName"], d["from"], d["to"]))
		}
	}
	return out
}

func TestEventsList(t *testing.T) {
	w := newEventsWorld(t)
	w.move(t, w.private, atrium.JobRunning, atrium.ReasonStarted)
	w.move(t, w.public, atrium.JobRunning, atrium.ReasonStarted)
	w.move(t, w.public, atrium.JobQueuing, atrium.ReasonPreempted)
	w.move(t, w.private, atrium.JobSucceeded, atrium.ReasonCompleted)

	all := []string{
		"member added dave", "member added erin",
		"dlc.job.status.changed secret →Queuing", "dlc.job.status.changed shared →Queuing",
		"dlc.job.status.changed secret Queuing→Running", "dlc.job.status.changed shared Queuing→Running",
		"dlc.job.status.changed shared Running→Queuing", "dlc.job.preempted shared Running→Queuing",
		"dlc.job.status.changed secret Running→Succeeded",
	}
	for _, tc := range []struct {
		who, token string
		want       []string
	}{
		{"owner", w.olga, all},
		{"creator", w.erin, all},
		{"other developer", w.dave, []string{all[0], all[1], all[3], all[5], all[6], all[7]}},
	} {
		l := w.list(t, tc.token, "")
		if got := summaries(l.Items); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s sees:\n%s\nwant:\n%s", tc.who, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
		if l.TotalCount != len(l.Items) || l.NextPageToken != "" {
			t.Errorf("%s: totalCount %d, next %q", tc.who, l.TotalCount, l.NextPageToken)
		}
		for i := 1; i < len(l.Items); i++ {
			if l.Items[i].Seq <= l.Items[i-1].Seq || l.Items[i].Time.Before(l.Items[i-1].Time) {
				t.Errorf("%s: out of order: %+v then %+v", tc.who, l.Items[i-1], l.Items[i])
			}
		}
	}

	// Filters: a resource, types; pages by the seq cursor.
	l := w.list(t, w.dave, "?resourceId="+w.private.ID)
	if len(l.Items) != 0 {
		t.Errorf("dave reads the private job's events by id: %s", summaries(l.Items))
	}
	l = w.list(t, w.olga, "?resourceId="+w.private.ID+"&types="+atrium.EventJobStatusChanged)
	if got := summaries(l.Items); strings.Join(got, "\n") != strings.Join([]string{all[2], all[4], all[8]}, "\n") {
		t.Errorf("private job's events: %s", got)
	}
	l = w.list(t, w.olga, "?types="+atrium.EventJobPreempted+","+atrium.EventWorkspaceMemberChange)
	if got := summaries(l.Items); strings.Join(got, "\n") != strings.Join([]string{all[0], all[1], all[7]}, "\n") {
		t.Errorf("by types: %s", got)
	}
	var paged []*EventView
	q := "?limit=2"
	for range 10 {
		l := w.list(t, w.dave, q)
		paged = append(paged, l.Items...)
		if l.NextPageToken == "" {
			break
		}
		q = "?limit=2&pageToken=" + l.NextPageToken
	}
	if got := summaries(paged); len(got) != 6 || got[5] != all[7] {
		t.Errorf("paged: %s", got)
	}
	after := w.list(t, w.olga, "?after="+strconv.FormatInt(w.list(t, w.olga, "").Items[6].Seq, 10))
	if got := summaries(after.Items); strings.Join(got, "\n") != strings.Join(all[7:], "\n") {
		t.Errorf("after: %s", got)
	}
	// Newest first, paged backwards by the same cursor.
	var back []string
	q = "?order=desc&limit=2"
	for range 10 {
		l := w.list(t, w.dave, q)
		back = append(back, summaries(l.Items)...)
		if l.NextPageToken == "" {
			break
		}
		q = "?order=desc&limit=2&pageToken=" + l.NextPageToken
	}
	if want := []string{all[7], all[6], all[5], all[3], all[1], all[0]}; strings.Join(back, "\n") != strings.Join(want, "\n") {
		t.Errorf("newest first:\n%s\nwant:\n%s", strings.Join(back, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{"?after=x", "?limit=0", "?limit=1001", "?follow=maybe", "?bogus=1", "?order=up", "?order=desc&follow=true"} {
		if resp := w.f.do(t, w.olga, "GET", "/api/v1/workspaces/"+w.ws.ID+"/events"+bad, nil); resp.status != 400 {
			t.Errorf("%s: %d %s", bad, resp.status, resp.body)
		}
	}

	// The metric counts every event written.
	resp := w.f.do(t, "", "GET", "/metrics", nil)
	if !strings.Contains(string(resp.body), "atrium_events_total 9\n") {
		t.Errorf("metrics lack atrium_events_total 9")
	}
}

// sseStream reads a followed event stream.
type sseStream struct {
	cancel context.CancelFunc
	events chan *EventView
}

func (w *eventsWorld) follow(t *testing.T, token, lastID, query string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", w.f.srv.URL+"/api/v1/workspaces/"+w.ws.ID+"/events?follow=true"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("follow: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{cancel: cancel, events: make(chan *EventView, 100)}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		_ = readSSE(bufio.NewReader(resp.Body), func(id, typ string, data []byte) error {
			var e EventView
			if err := json.Unmarshal(data, &e); err != nil || strconv.FormatInt(e.Seq, 10) != id || e.Type != typ {
				return fmt.Errorf("bad event %s %s %s", id, typ, data)
			}
			s.events <- &e
			return nil
		})
	}()
	t.Cleanup(cancel)
	return s
}

func (s *sseStream) next(t *testing.T, n int) []*EventView {
	t.Helper()
	var out []*EventView
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended after %d of %d events", len(out), n)
			}
			out = append(out, e)
		case <-timeout:
			t.Fatalf("got %d of %d events: %s", len(out), n, summaries(out))
		}
	}
	return out
}

func (s *sseStream) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-s.events:
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(d):
	}
}

func TestEventsFollow(t *testing.T) {
	w := newEventsWorld(t)
	jobTypes := "&types=" + atrium.EventJobStatusChanged

	// dave follows: the past visible job events, then new ones as written;
	// never the private job's.
	s := w.follow(t, w.dave, "", jobTypes)
	got := s.next(t, 1)
	w.move(t, w.private, atrium.JobRunning, atrium.ReasonStarted)
	w.move(t, w.public, atrium.JobRunning, atrium.ReasonStarted)
	got = append(got, s.next(t, 1)...)
	s.none(t, 500*time.Millisecond)
	if g := summaries(got); strings.Join(g, "|") != "dlc.job.status.changed shared →Queuing|dlc.job.status.changed shared Queuing→Running" {
		t.Fatalf("dave follows: %s", g)
	}
	s.cancel()

	// olga follows everything, leaves, events happen, she resumes with
	// Last-Event-ID: the whole outbox, in order, no gaps, no repeats.
	s = w.follow(t, w.olga, "", "")
	seen := s.next(t, 6) // 2 members, 2 creations, 2 runs
	s.cancel()
	w.move(t, w.public, atrium.JobSucceeded, atrium.ReasonCompleted)
	w.move(t, w.private, atrium.JobFailed, atrium.ReasonMaxRunningTimeExceeded)
	s = w.follow(t, w.olga, strconv.FormatInt(seen[len(seen)-1].Seq, 10), "")
	seen = append(seen, s.next(t, 3)...)
	w.move(t, w.public, atrium.JobStopped, atrium.ReasonStoppedByUser) // (not a real transition; the store records it)
	seen = append(seen, s.next(t, 1)...)
	s.none(t, 500*time.Millisecond)
	es, err := w.f.store.FindEvents(context.Background(), atrium.EventFilter{WorkspaceID: w.ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(seen) {
		t.Fatalf("followed %d events, outbox has %d: %s", len(seen), len(es), summaries(seen))
	}
	for i, e := range es {
		if seen[i].ID != e.ID || seen[i].Seq != e.Seq {
			t.Fatalf("event %d: followed %+v, outbox %+v", i, seen[i], e)
		}
	}

	// after= works like Last-Event-ID.
	s = w.follow(t, w.olga, "", "&after="+strconv.FormatInt(es[len(es)-2].Seq, 10))
	if g := s.next(t, 1); g[0].ID != es[len(es)-1].ID {
		t.Fatalf("after: %+v", g[0])
	}
	s.cancel()

	// A stranger is refused before any stream starts.
	stranger, tok := w.f.user(t, "stranger")
	_ = stranger
	if resp := w.f.do(t, tok, "GET", "/api/v1/workspaces/"+w.ws.ID+"/events?follow=true", nil); resp.status != 404 {
		t.Fatalf("stranger follows: %d %s", resp.status, resp.body)
	}
}

// The client follows with reconnects and Last-Event-ID.
func TestEventsClientFollow(t *testing.T) {
	w := newEventsWorld(t)
	c := NewClient(w.f.srv.URL, w.olga)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []*EventView
	done := make(chan error, 1)
	go func() {
		done <- c.FollowEvents(ctx, w.ws.ID, ListEventsOptions{Types: []string{atrium.EventJobStatusChanged}}, func(e *EventView) error {
			got = append(got, e)
			if len(got) == 4 {
				cancel()
			}
			return nil
		})
	}()
	time.Sleep(300 * time.Millisecond)
	w.move(t, w.public, atrium.JobRunning, atrium.ReasonStarted)
	w.f.srv.CloseClientConnections() // the stream breaks; the client resumes
	w.move(t, w.private, atrium.JobRunning, atrium.ReasonStarted)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("FollowEvents did not finish")
	}
	if g := summaries(got); len(g) != 4 || g[2] != "dlc.job.status.changed shared Queuing→Running" || g[3] != "dlc.job.status.changed secret Queuing→Running" {
		t.Fatalf("followed: %s", g)
	}
	l, err := c.ListEvents(context.Background(), w.ws.ID, ListEventsOptions{ResourceID: w.public.ID})
	if err != nil || len(l.Items) != 2 {
		t.Fatalf("ListEvents: %v %+v", err, l)
	}
}
