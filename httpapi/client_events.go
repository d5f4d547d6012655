package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// --- Events ---

// ListEventsOptions filters ListEvents and FollowEvents.
type ListEventsOptions struct {
	Types      []string
	ResourceID string
	After      int64 // only events after this seq
	Limit      int   // ListEvents: items per page (server default 100)
	// Desc: ListEvents newest first (After is then an upper bound).
	Desc bool
}

func (o ListEventsOptions) query() url.Values {
	q := url.Values{}
	if len(o.Types) > 0 {
		q.Set("types", strings.Join(o.Types, ","))
	}
	if o.ResourceID != "" {
		q.Set("resourceId", o.ResourceID)
	}
	if o.After > 0 {
		q.Set("after", strconv.FormatInt(o.After, 10))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Desc {
		q.Set("order", "desc")
	}
	return q
}

// ListEvents reads one page of the workspace's events the caller may see,
// in outbox order; NextPageToken, when set, is the After of the next page.
func (c *Client) ListEvents(ctx context.Context, workspaceID string, opt ListEventsOptions) (*List[*EventView], error) {
	var out List[*EventView]
	return &out, c.do(ctx, "GET", wsPath(workspaceID)+"/events", opt.query(), nil, &out, nil)
}

// FollowEvents streams the workspace's events after opt.After, calling fn
// for each in order, until ctx ends (nil) or fn fails (its error). A
// broken stream or an unavailable server is retried with backoff, resuming
// with Last-Event-ID after the last event seen, so none is missed or
// repeated; a refusal (4xx) ends it with the problem.
func (c *Client) FollowEvents(ctx context.Context, workspaceID string, opt ListEventsOptions, fn func(*EventView) error) error {
	last := opt.After
	opt.After, opt.Limit = 0, 0
	backoff := 250 * time.Millisecond
	for {
		got, err := c.followOnce(ctx, workspaceID, opt, last, func(e *EventView) error {
			last = e.Seq
			return fn(e)
		})
		if ctx.Err() != nil {
			return nil
		}
		var fnErr *callbackError
		if errors.As(err, &fnErr) {
			return fnErr.err
		}
		var p *ProblemError
		if errors.As(err, &p) && p.Status < 500 {
			return err
		}
		if got {
			backoff = 250 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// followOnce reads one SSE connection; got says whether it delivered any
// event (so the next reconnect need not back off).
func (c *Client) followOnce(ctx context.Context, workspaceID string, opt ListEventsOptions, last int64, fn func(*EventView) error) (got bool, err error) {
	if c.BaseURL == "" {
		return false, errors.New("atrium client: no server URL")
	}
	q := opt.query()
	q.Set("follow", "true")
	u := strings.TrimRight(c.BaseURL, "/") + wsPath(workspaceID) + "/events?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream, application/problem+json")
	if last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(last, 10))
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTPClient
	}
	if hc.Timeout != 0 {
		cp := *hc
		cp.Timeout = 0
		hc = &cp
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return false, decodeProblem(resp, data)
	}
	err = readSSE(resp.Body, func(id, typ string, data []byte) error {
		var e EventView
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("event %s: cannot decode: %w", id, err)
		}
		got = true
		if err := fn(&e); err != nil {
			return &callbackError{err}
		}
		return nil
	})
	if err == nil {
		err = io.ErrUnexpectedEOF // the server never ends a stream itself
	}
	return got, err
}

// readSSE parses a text/event-stream, calling fn for each event with data.
func readSSE(r io.Reader, fn func(id, typ string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var id, typ string
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != nil {
				if err := fn(id, typ, data); err != nil {
					return err
				}
			}
			typ, data = "", nil
		case strings.HasPrefix(line, ":"):
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "id":
				id = v
			case "event":
				typ = v
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, v...)
			}
		}
	}
	return sc.Err()
}
