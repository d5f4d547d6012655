package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"atrium"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func sampleEvent() *atrium.Event {
	return &atrium.Event{ID: "evt-1", Type: atrium.EventJobStatusChanged, Source: "/workspaces/ws-1/jobs/dlc-1", Subject: "dlc-1",
		Time: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), WorkspaceID: "ws-1",
		Data: json.RawMessage(`{"jobId":"dlc-1","displayName":"mnist","jobType":"PyTorchJob","from":"Running","to":"Succeeded","creator":"user-1","reasonMessage":"done"}`)}
}

type captured struct {
	url    *url.URL
	header http.Header
	body   []byte
}

// TestSenders sends the sample event through each HTTP sender to a real
// loopback server and checks what arrived and how the answer is judged.
func TestSenders(t *testing.T) {
	fixed := time.Unix(1764417600, 0)
	now := func() time.Time { return fixed }
	hc := newHTTPClient(nil, loopback)
	secret := []byte("s3cret")
	ev := sampleEvent()
	title := "dlc.job.status.changed: mnist Running → Succeeded"
	for _, tc := range []struct {
		name      string
		sender    Sender
		status    int
		respBody  string
		header    map[string]string
		wantErr   bool
		permanent bool
		retry     time.Duration
		check     func(t *testing.T, c captured)
	}{
		{name: "webhook ok", sender: &WebhookSender{Client: hc, Now: now}, status: 204, check: func(t *testing.T, c captured) {
			ts := c.header.Get("X-Atrium-Timestamp")
			if ts != "1764417600" || c.header.Get("X-Atrium-Event-Id") != "evt-1" {
				t.Errorf("headers = %v", c.header)
			}
			if !VerifySignature(secret, ts, c.body, c.header.Get("X-Atrium-Signature")) {
				t.Errorf("signature %q does not verify", c.header.Get("X-Atrium-Signature"))
			}
			if VerifySignature([]byte("other"), ts, c.body, c.header.Get("X-Atrium-Signature")) || VerifySignature(secret, "1", c.body, c.header.Get("X-Atrium-Signature")) {
				t.Error("signature verifies with the wrong secret or timestamp")
			}
			var got map[string]any
			if err := json.Unmarshal(c.body, &got); err != nil || got["id"] != "evt-1" || got["specversion"] != "1.0" || got["data"].(map[string]any)["to"] != "Succeeded" {
				t.Errorf("body = %s (%v)", c.body, err)
			}
		}},
		{name: "webhook 500 retried", sender: &WebhookSender{Client: hc}, status: 500, wantErr: true},
		{name: "webhook 429 retry-after", sender: &WebhookSender{Client: hc}, status: 429, header: map[string]string{"Retry-After": "7"}, wantErr: true, retry: 7 * time.Second},
		{name: "webhook 404 permanent", sender: &WebhookSender{Client: hc}, status: 404, wantErr: true, permanent: true},
		{name: "webhook 302 permanent", sender: &WebhookSender{Client: hc}, status: 302, header: map[string]string{"Location": "http://127.0.0.1:1/"}, wantErr: true, permanent: true},
		{name: "dingtalk ok", sender: &DingTalkSender{Client: hc, Now: now}, status: 200, respBody: `{"errcode":0,"errmsg":"ok"}`, check: func(t *testing.T, c captured) {
			q := c.url.Query()
			if q.Get("access_token") != "tok" || q.Get("timestamp") != "1764417600000" {
				t.Errorf("query = %v", q)
			}
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte("1764417600000\n" + string(secret)))
			if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); q.Get("sign") != want {
				t.Errorf("sign = %q, want %q", q.Get("sign"), want)
			}
			var m struct {
				Msgtype  string `json:"msgtype"`
				Markdown struct{ Title, Text string }
			}
			if json.Unmarshal(c.body, &m) != nil || m.Msgtype != "markdown" || m.Markdown.Title != title || !strings.Contains(m.Markdown.Text, "done") {
				t.Errorf("body = %s", c.body)
			}
		}},
		{name: "dingtalk errcode", sender: &DingTalkSender{Client: hc}, status: 200, respBody: `{"errcode":310000,"errmsg":"sign not match"}`, wantErr: true, permanent: true},
		{name: "dingtalk too fast", sender: &DingTalkSender{Client: hc}, status: 200, respBody: `{"errcode":130101,"errmsg":"send too fast"}`, wantErr: true},
		{name: "wecom ok", sender: &WeComSender{Client: hc}, status: 200, respBody: `{"errcode":0}`, check: func(t *testing.T, c captured) {
			var m struct {
				Msgtype  string            `json:"msgtype"`
				Markdown map[string]string `json:"markdown"`
			}
			if json.Unmarshal(c.body, &m) != nil || m.Msgtype != "markdown" || !strings.Contains(m.Markdown["content"], title) {
				t.Errorf("body = %s", c.body)
			}
		}},
		{name: "lark ok", sender: &LarkSender{Client: hc, Now: now}, status: 200, respBody: `{"code":0,"msg":"success"}`, check: func(t *testing.T, c captured) {
			var m struct {
				MsgType string            `json:"msg_type"`
				Content map[string]string `json:"content"`
				Sign    string            `json:"sign"`
				TS      string            `json:"timestamp"`
			}
			if json.Unmarshal(c.body, &m) != nil || m.MsgType != "text" || !strings.HasPrefix(m.Content["text"], title) || m.TS != "1764417600" || m.Sign != LarkSign(secret, 1764417600) {
				t.Errorf("body = %s", c.body)
			}
		}},
		{name: "lark code", sender: &LarkSender{Client: hc}, status: 200, respBody: `{"code":19021,"msg":"sign match fail"}`, wantErr: true, permanent: true},
		{name: "slack ok", sender: &SlackSender{Client: hc}, status: 200, respBody: "ok", check: func(t *testing.T, c captured) {
			var m map[string]string
			if json.Unmarshal(c.body, &m) != nil || !strings.HasPrefix(m["text"], title) {
				t.Errorf("body = %s", c.body)
			}
		}},
		{name: "slack 400", sender: &SlackSender{Client: hc}, status: 400, respBody: "invalid_payload", wantErr: true, permanent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan captured, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- captured{url: r.URL, header: r.Header, body: b}
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.respBody+strings.Repeat(" ", 100<<10)) // over the cap
			}))
			defer srv.Close()
			out := tc.sender.Send(context.Background(), &Message{Event: ev, Payload: Payload(ev),
				Target: atrium.AlertTarget{URL: srv.URL + "/hook?access_token=tok"}, Secret: secret})
			if (out.Err != nil) != tc.wantErr || out.Permanent != tc.permanent || out.RetryAfter != tc.retry {
				t.Fatalf("outcome = %+v, want error %v permanent %v retry %v", out, tc.wantErr, tc.permanent, tc.retry)
			}
			if out.Code != tc.status {
				t.Errorf("code = %d, want %d", out.Code, tc.status)
			}
			c := <-got
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		allow []netip.Prefix
		want  bool
	}{
		{"8.8.8.8", nil, true},
		{"2606:4700::1111", nil, true},
		{"127.0.0.1", nil, false},
		{"127.0.0.1", loopback, true},
		{"::1", nil, false},
		{"::ffff:127.0.0.1", nil, false},
		{"::ffff:127.0.0.1", loopback, true},
		{"10.1.2.3", nil, false},
		{"10.1.2.3", []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, true},
		{"10.2.2.3", []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, false},
		{"172.16.0.1", nil, false},
		{"192.168.1.1", nil, false},
		{"169.254.169.254", nil, false},
		{"fe80::1", nil, false},
		{"fc00::1", nil, false},
		{"0.0.0.0", nil, false},
		{"::", nil, false},
		{"224.0.0.1", nil, false},
		{"ff02::1", nil, false},
		{"100.64.0.1", nil, false},
	} {
		if got := Allowed(netip.MustParseAddr(tc.addr), tc.allow); got != tc.want {
			t.Errorf("Allowed(%s, %v) = %v, want %v", tc.addr, tc.allow, got, tc.want)
		}
	}
}

// TestPrivateRefused: without an allow-list a loopback receiver is never
// contacted, also through a name that resolves to it, and the failure is
// permanent.
func TestPrivateRefused(t *testing.T) {
	hit := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- struct{}{} }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ev := sampleEvent()
	for _, target := range []string{srv.URL, "http://localhost:" + u.Port() + "/"} {
		out := (&WebhookSender{Client: newHTTPClient(nil, nil)}).Send(context.Background(), &Message{Event: ev, Payload: Payload(ev), Target: atrium.AlertTarget{URL: target}})
		var ref *RefusedError
		if !errors.As(out.Err, &ref) || !out.Permanent {
			t.Errorf("%s: outcome = %+v, want a permanent RefusedError", target, out)
		}
	}
	other := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if out := (&WebhookSender{Client: newHTTPClient(nil, other)}).Send(context.Background(), &Message{Event: ev, Payload: Payload(ev), Target: atrium.AlertTarget{URL: srv.URL}}); out.Err == nil {
		t.Error("loopback reached with only 10/8 allowed")
	}
	select {
	case <-hit:
		t.Fatal("the receiver was contacted")
	default:
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	base, cap := time.Second, 10*time.Minute
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 30: cap, 200: cap} {
		for range 50 {
			if got := Backoff(attempt, base, cap); got < want/2 || got > want {
				t.Fatalf("Backoff(%d) = %v, want in [%v, %v]", attempt, got, want/2, want)
			}
		}
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize(sampleEvent())
	if s.Title != "dlc.job.status.changed: mnist Running → Succeeded" {
		t.Errorf("title = %q", s.Title)
	}
	txt := s.Text()
	for _, want := range []string{"Status: Running → Succeeded", "Reason: done", "Event ID: evt-1", "jobType: PyTorchJob", "Workspace: ws-1"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	m := Summarize(&atrium.Event{ID: "evt-2", Type: atrium.EventModelApprovalChanged, Subject: "1.0.0", Data: json.RawMessage(`{"approvalStatus":"Approved"}`)})
	if m.Title != "model.version.approval.changed: 1.0.0 → Approved" {
		t.Errorf("title = %q", m.Title)
	}
}
