package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// postChat sends a chat message and, when the HTTP exchange succeeded,
// checks the API's own error code in the body (code(body) != 0 fails;
// retry lists codes that mean "slow down").
func postChat(ctx context.Context, c *http.Client, u string, msg any, code func([]byte) (int, string, bool), retry ...int) outcome {
	body, err := json.Marshal(msg)
	if err != nil {
		return permanent("encode message: %v", err)
	}
	r, err := post(ctx, c, u, body, nil)
	out := classify(r, err)
	if out.Err != nil || code == nil {
		return out
	}
	if n, msg, ok := code(r.body); ok && n != 0 {
		out.Err = fmt.Errorf("API error %d: %s", n, truncate(msg, 200))
		out.Permanent = true
		for _, rc := range retry {
			if n == rc {
				out.Permanent = false
			}
		}
	}
	return out
}

// errcode reads {"errcode": n, "errmsg": "…"} (DingTalk, WeCom).
func errcode(b []byte) (int, string, bool) {
	var v struct {
		Errcode *int   `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if json.Unmarshal(b, &v) != nil || v.Errcode == nil {
		return 0, "", false
	}
	return *v.Errcode, v.Errmsg, true
}

// DingTalkSender posts a markdown message to a DingTalk robot; with a
// secret it signs the URL: sign = urlencode(base64(HMAC-SHA256(secret,
// timestampMs + "\n" + secret))).
type DingTalkSender struct {
	Client *http.Client
	Now    func() time.Time
}

// DingTalkSignedURL appends DingTalk's timestamp and sign parameters.
func DingTalkSignedURL(raw string, secret []byte, now time.Time) string {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "\n" + string(secret)))
	sign := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	sep := "&"
	if !strings.Contains(raw, "?") {
		sep = "?"
	}
	return raw + sep + "timestamp=" + ts + "&sign=" + sign
}

func (s *DingTalkSender) Send(ctx context.Context, m *Message) outcome {
	u := m.Target.URL
	if len(m.Secret) > 0 {
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		u = DingTalkSignedURL(u, m.Secret, now())
	}
	sum := Summarize(m.Event)
	msg := map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": sum.Title, "text": sum.Markdown()}}
	return postChat(ctx, s.Client, u, msg, errcode, 130101) // 130101: sending too fast
}

// WeComSender posts a markdown message to a WeCom group robot.
type WeComSender struct{ Client *http.Client }

func (s *WeComSender) Send(ctx context.Context, m *Message) outcome {
	msg := map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": Summarize(m.Event).Markdown()}}
	return postChat(ctx, s.Client, m.Target.URL, msg, errcode, 45009) // 45009: API frequency limit
}

// LarkSender posts a text message to a Lark (Feishu) custom bot; with a
// secret it adds timestamp and sign = base64(HMAC-SHA256(key:
// timestamp + "\n" + secret, message: "")).
type LarkSender struct {
	Client *http.Client
	Now    func() time.Time
}

// LarkSign returns the sign field of a Lark bot message.
func LarkSign(secret []byte, ts int64) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(ts, 10)+"\n"+string(secret)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func larkCode(b []byte) (int, string, bool) {
	var v struct {
		Code *int   `json:"code"`
		Msg  string `json:"msg"`
		// Older endpoints answer StatusCode/StatusMessage.
		StatusCode *int `json:"StatusCode"`
	}
	if json.Unmarshal(b, &v) != nil {
		return 0, "", false
	}
	if v.Code != nil {
		return *v.Code, v.Msg, true
	}
	if v.StatusCode != nil {
		return *v.StatusCode, v.Msg, true
	}
	return 0, "", false
}

func (s *LarkSender) Send(ctx context.Context, m *Message) outcome {
	msg := map[string]any{"msg_type": "text", "content": map[string]string{"text": Summarize(m.Event).Text()}}
	if len(m.Secret) > 0 {
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		ts := now().Unix()
		msg["timestamp"] = strconv.FormatInt(ts, 10)
		msg["sign"] = LarkSign(m.Secret, ts)
	}
	return postChat(ctx, s.Client, m.Target.URL, msg, larkCode, 11232) // 11232: frequency limited
}

// SlackSender posts {text} to a Slack incoming webhook (which answers
// 200 "ok" or an error status).
type SlackSender struct{ Client *http.Client }

func (s *SlackSender) Send(ctx context.Context, m *Message) outcome {
	return postChat(ctx, s.Client, m.Target.URL, map[string]string{"text": Summarize(m.Event).Text()}, nil)
}
