package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookSender POSTs the CloudEvent JSON, signed when the target has a
// secret: X-Atrium-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">.
type WebhookSender struct {
	Client *http.Client
	Now    func() time.Time
}

// Sign returns the X-Atrium-Signature value for a timestamp and body.
func Sign(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks an X-Atrium-Signature header (which may list
// several comma-separated v1= values, e.g. during secret rotation) against
// the timestamp header and the raw body, in constant time. Receivers
// should also reject timestamps far from their clock.
func VerifySignature(secret []byte, ts string, body []byte, header string) bool {
	want := []byte(Sign(secret, ts, body))
	for _, part := range strings.Split(header, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(part)), want) {
			return true
		}
	}
	return false
}

func (s *WebhookSender) Send(ctx context.Context, m *Message) outcome {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	h := http.Header{}
	h.Set("X-Atrium-Event-Id", m.Event.ID)
	h.Set("X-Atrium-Event-Type", m.Event.Type)
	h.Set("X-Atrium-Timestamp", ts)
	if len(m.Secret) > 0 {
		h.Set("X-Atrium-Signature", Sign(m.Secret, ts, m.Payload))
	}
	h.Set("Content-Type", "application/cloudevents+json")
	return classify(post(ctx, s.Client, m.Target.URL, m.Payload, h))
}
