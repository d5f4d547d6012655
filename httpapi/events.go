package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"atrium"
	"atrium/authz"
)

// EventView is an outbox event as the API shows it: the CloudEvents-shaped
// record and its seq, the cursor for after= and Last-Event-ID.
type EventView struct {
	Seq         int64           `json:"seq"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Source      string          `json:"source"`
	Subject     string          `json:"subject"`
	Time        time.Time       `json:"time"`
	WorkspaceID string          `json:"workspaceId"`
	Data        json.RawMessage `json:"data"`
}

func eventView(e *atrium.Event) *EventView {
	return &EventView{Seq: e.Seq, ID: e.ID, Type: e.Type, Source: e.Source, Subject: e.Subject,
		Time: e.Time, WorkspaceID: e.WorkspaceID, Data: e.Data}
}

// Stream timing; tests shorten them.
var (
	eventPollInterval = 200 * time.Millisecond
	eventHeartbeat    = 15 * time.Second
)

const (
	eventDefaultLimit = 100
	eventMaxLimit     = 1000
	// eventScanMax bounds the outbox rows one list call reads: a caller
	// who may see few events gets a short page and a nextPageToken rather
	// than a call that reads the whole outbox.
	eventScanMax = 10000
	eventBatch   = 500
)

func eventRoutes(ws string) []*route {
	return []*route{
		{method: "GET", path: ws + "/events", code: "Event:ListEvents", status: http.StatusOK,
			summary: "The workspace's events (outbox order) that the caller may see: a job's or DSW instance's to whoever may read it, " +
				"a model's approvals to whoever may read the model, a pipeline run's and its nodes' to whoever may read the run, membership changes to every member. " +
				"follow=true streams them as server-sent events (text/event-stream: id is the seq, event the type, data the event JSON; " +
				"resume with Last-Event-ID or after; a comment line every 15 s keeps the connection alive)",
			query: []param{{"types", "comma-separated event types"}, {"resourceId", "only events about this resource (job, instance, model or member id)"},
				{"after", "only events after this seq (the cursor); with order=desc, before it"}, {"order", "asc (oldest first, default) or desc (newest first)"}, {"limit", "items per page, 1–1000 (default 100)"},
				{"pageToken", "nextPageToken of the previous page (same as after)"}, {"follow", "true: stream as server-sent events"}},
			out: List[*EventView]{}, h: listEvents},
	}
}

// eventQuery is a parsed events request.
type eventQuery struct {
	types      []string
	resourceID string
	after      int64
	limit      int
	desc       bool // newest first; after is then an upper bound
}

func parseEventQuery(c *call) (*eventQuery, error) {
	q := c.r.URL.Query()
	eq := &eventQuery{resourceID: q.Get("resourceId"), limit: eventDefaultLimit}
	for _, t := range strings.Split(q.Get("types"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			eq.types = append(eq.types, t)
		}
	}
	for _, name := range []string{"after", "pageToken"} {
		if s := q.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return nil, atrium.FieldErrorf(name, "must be an event seq (a non-negative integer), not %q", s)
			}
			eq.after = n
		}
	}
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		eq.desc = true
	default:
		return nil, atrium.FieldErrorf("order", "must be asc (oldest first, the default) or desc (newest first)")
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > eventMaxLimit {
			return nil, atrium.FieldErrorf("limit", "must be 1–%d, not %q", eventMaxLimit, s)
		}
		eq.limit = n
	}
	return eq, nil
}

// matches applies the filters the store does not: the resource.
func (eq *eventQuery) matches(e *atrium.Event) bool {
	id := eq.resourceID
	return id == "" || e.Subject == id || strings.HasSuffix(e.Source, "/"+id)
}

// eventVisibility decides which events a caller may see, loading each
// model an approval event names once per request.
type eventVisibility struct {
	c      *call
	models map[string]*atrium.Asset // nil: gone or unreadable
}

func newEventVisibility(c *call) *eventVisibility {
	return &eventVisibility{c: c, models: map[string]*atrium.Asset{}}
}

// visible: job and DSW events by the same rule as reading the job (from
// the creator and accessibility the event carries, as they were when it
// was written); model approvals by Model:GetModel on the model as it is
// now; membership changes to every member. Other types are not shown.
func (v *eventVisibility) visible(ctx context.Context, e *atrium.Event) bool {
	switch e.Type {
	case atrium.EventJobStatusChanged, atrium.EventJobTimeout, atrium.EventJobPreempted, atrium.EventDSWStatusChanged:
		var d struct {
			JobID, Kind, Creator, Accessibility string
		}
		if json.Unmarshal(e.Data, &d) != nil {
			return false
		}
		code := "DLC:GetJob"
		switch d.Kind {
		case atrium.KindDSW:
			code = "DSW:GetInstance"
		case atrium.KindSQL:
			code = sqlJobs.get
		}
		return v.c.allowed(code, authz.Resource{WorkspaceID: e.WorkspaceID, Kind: "job", ID: d.JobID,
			OwnerID: d.Creator, Accessibility: d.Accessibility})
	case atrium.EventModelApprovalChanged:
		var d struct {
			ModelID string `json:"modelId"`
		}
		if json.Unmarshal(e.Data, &d) != nil || d.ModelID == "" {
			return false
		}
		a, ok := v.models[d.ModelID]
		if !ok {
			a, _ = v.c.s.Store.FindAssetByID(ctx, d.ModelID)
			if a != nil && (a.WorkspaceID != e.WorkspaceID || a.Kind != atrium.AssetModel) {
				a = nil
			}
			v.models[d.ModelID] = a
		}
		return a != nil && v.c.allowed("Model:GetModel", assetResource(models, a))
	case atrium.EventWorkspaceMemberChange:
		return true
	case atrium.EventPipelineRunChanged, atrium.EventPipelineNodeChanged:
		var d struct {
			RunID, Creator, Accessibility string
		}
		if json.Unmarshal(e.Data, &d) != nil {
			return false
		}
		return v.c.allowed("Pipeline:GetRun", authz.Resource{WorkspaceID: e.WorkspaceID, Kind: "pipeline run", ID: d.RunID,
			OwnerID: d.Creator, Accessibility: d.Accessibility})
	}
	return false
}

// scan reads events after eq.after and calls emit for each one that
// matches and is visible, until emit returns false, max rows were read or
// the outbox ends. It returns the seq of the last row read and whether
// the outbox ended.
func (v *eventVisibility) scan(ctx context.Context, eq *eventQuery, after int64, max int, emit func(*atrium.Event) bool) (int64, bool, error) {
	read := 0
	for read < max {
		n := min(eventBatch, max-read)
		es, err := v.c.s.Store.FindEvents(ctx, atrium.EventFilter{WorkspaceID: v.c.ws.ID, Types: eq.types, AfterSeq: after, Limit: n, Desc: eq.desc})
		if err != nil {
			return after, false, err
		}
		for _, e := range es {
			after = e.Seq
			read++
			if eq.matches(e) && v.visible(ctx, e) && !emit(e) {
				return after, false, nil
			}
		}
		if len(es) < n {
			return after, true, nil
		}
	}
	return after, false, nil
}

func listEvents(c *call) (any, error) {
	eq, err := parseEventQuery(c)
	if err != nil {
		return nil, err
	}
	follow, err := boolQuery(c.r.URL.Query(), "follow")
	if err != nil {
		return nil, err
	}
	if follow != nil && *follow {
		if eq.desc {
			return nil, atrium.FieldErrorf("order", "a followed stream is oldest first; order=desc is for listing")
		}
		if id := c.r.Header.Get("Last-Event-ID"); id != "" {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || n < 0 {
				return nil, atrium.FieldErrorf("Last-Event-ID", "must be an event seq (a non-negative integer), not %q", id)
			}
			eq.after = max(eq.after, n)
		}
		c.streamed = true
		return nil, c.streamEvents(eq)
	}
	v := newEventVisibility(c)
	items := []*EventView{}
	last, ended, err := v.scan(c.ctx(), eq, eq.after, eventScanMax, func(e *atrium.Event) bool {
		items = append(items, eventView(e))
		return len(items) < eq.limit
	})
	if err != nil {
		return nil, err
	}
	l := List[*EventView]{Items: items, TotalCount: len(items)}
	if !ended {
		l.NextPageToken = strconv.FormatInt(last, 10)
	}
	return l, nil
}

// streamEvents writes the caller's events after eq.after as server-sent
// events until the client goes, polling the outbox. The outbox commits in
// seq order, so following the seq never skips nor repeats an event.
func (c *call) streamEvents(eq *eventQuery) error {
	ctx := c.ctx()
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(c.w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives any server write timeout
	if _, err := fmt.Fprint(c.w, ": atrium events\n\n"); err != nil {
		return nil
	}
	_ = rc.Flush()

	v := newEventVisibility(c)
	poll := time.NewTicker(eventPollInterval)
	defer poll.Stop()
	beat := time.NewTicker(eventHeartbeat)
	defer beat.Stop()
	after := eq.after
	var werr error
	for {
		var ended bool
		var err error
		after, ended, err = v.scan(ctx, eq, after, eventBatch, func(e *atrium.Event) bool {
			b, err := json.Marshal(eventView(e))
			if err == nil {
				_, werr = fmt.Fprintf(c.w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, b)
			}
			return werr == nil
		})
		if werr != nil || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			c.s.Logger.Warn("event stream: reading the outbox failed", "requestId", c.reqID, "err", err)
			fmt.Fprintf(c.w, ": error reading events: %s\n\n", atrium.ErrorMessage(err))
			_ = rc.Flush()
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		if !ended {
			continue // more to read now
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-beat.C:
			if _, err := fmt.Fprint(c.w, ": heartbeat\n\n"); err != nil {
				return nil
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
		}
	}
}

// registerEventMetrics exports atrium_events_total: the number of events
// ever written to the outbox, read on scrape as the outbox's highest seq
// (seqs count from 1 and are never reused, so it only grows). The store
// package has no registry, so it cannot count at write time; reading the
// seq costs one indexed max() per scrape.
func (s *Server) registerEventMetrics() {
	st, ok := s.Store.(interface {
		LastEventSeq(context.Context) (int64, error)
	})
	if !ok {
		return
	}
	s.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "atrium_events_total",
		Help: "Events written to the outbox (all types), read on scrape as the highest outbox seq.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := st.LastEventSeq(ctx)
		if err != nil {
			s.Logger.Warn("atrium_events_total: reading the outbox failed", "err", err)
		}
		return float64(n)
	}))
}
