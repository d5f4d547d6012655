package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"atrium"
)

// Message is one event for one target.
type Message struct {
	Event   *atrium.Event
	Payload []byte // the CloudEvent JSON
	Target  atrium.AlertTarget
	Secret  []byte // opened; nil when the target has none
	Rule    *atrium.AlertRule
}

// Sender delivers a message to one kind of target.
type Sender interface {
	Send(ctx context.Context, m *Message) outcome
}

// httpResponse is what post read of a response.
type httpResponse struct {
	code       int
	body       []byte // at most maxResponse bytes
	retryAfter time.Duration
}

// post sends body to url and reads at most maxResponse bytes back.
func post(ctx context.Context, c *http.Client, url string, body []byte, header http.Header) (*httpResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "Atrium-Notify/1")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	r := &httpResponse{code: resp.StatusCode, body: b, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	if err != nil && resp.StatusCode/100 == 2 {
		return r, err
	}
	return r, nil
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// classify turns an HTTP exchange into an outcome: 2xx delivered;
// timeouts, connection errors, 429 and 5xx retried; other codes failed.
func classify(r *httpResponse, err error) outcome {
	if err != nil {
		var ref *RefusedError
		if errors.As(err, &ref) {
			return outcome{Err: ref, Permanent: true}
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return outcome{Err: fmt.Errorf("timeout: %w", err)}
		}
		if r == nil {
			return outcome{Err: err}
		}
	}
	out := outcome{Code: r.code, RetryAfter: r.retryAfter}
	switch {
	case r.code/100 == 2:
		return out
	case r.code == http.StatusTooManyRequests || r.code/100 == 5:
		out.Err = fmt.Errorf("HTTP %d%s", r.code, snippet(r.body))
	default:
		out.Err, out.Permanent = fmt.Errorf("HTTP %d%s", r.code, snippet(r.body)), true
	}
	return out
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return ": " + truncate(s, 200)
}
