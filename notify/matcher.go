package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"atrium"
)

// compiledRule is a rule with its CEL program.
type compiledRule struct {
	*atrium.AlertRule
	prog   Program
	celErr error
}

type wsRules struct {
	at    time.Time
	rules []*compiledRule
}

type idRule struct {
	at   time.Time
	rule *atrium.AlertRule
	err  error
}

// ruleCache holds each workspace's enabled rules, compiled, for refresh.
type ruleCache struct {
	store   Store
	compile CompileFunc
	refresh time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu   sync.Mutex
	ws   map[string]*wsRules
	byID map[string]*idRule
	// programs caches compiled CEL by expression.
	programs map[string]*compiledRule
}

func newRuleCache(s Store, c CompileFunc, refresh time.Duration, now func() time.Time, log *slog.Logger) *ruleCache {
	return &ruleCache{store: s, compile: c, refresh: refresh, now: now, log: log,
		ws: map[string]*wsRules{}, byID: map[string]*idRule{}, programs: map[string]*compiledRule{}}
}

// forWorkspace returns the enabled rules of a workspace, at most refresh old.
func (c *ruleCache) forWorkspace(ctx context.Context, ws string) ([]*compiledRule, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if w, ok := c.ws[ws]; ok && now.Sub(w.at) < c.refresh {
		return w.rules, nil
	}
	rs, err := c.store.FindAlertRules(ctx, ws, "")
	if err != nil {
		return nil, err
	}
	out := []*compiledRule{}
	for _, r := range rs {
		if !r.Enabled {
			continue
		}
		cr := &compiledRule{AlertRule: r}
		if expr := strings.TrimSpace(r.Filter.CEL); expr != "" {
			if p, ok := c.programs[expr]; ok {
				cr.prog, cr.celErr = p.prog, p.celErr
			} else {
				if c.compile == nil {
					cr.celErr = errNoCEL
				} else {
					cr.prog, cr.celErr = c.compile(expr)
				}
				c.programs[expr] = &compiledRule{prog: cr.prog, celErr: cr.celErr}
			}
			if cr.celErr != nil {
				c.log.Warn("alert rule filter does not compile; the rule matches nothing", "rule", r.ID, "err", cr.celErr)
			}
		}
		out = append(out, cr)
	}
	c.ws[ws] = &wsRules{at: now, rules: out}
	return out, nil
}

func (c *ruleCache) invalidate() {
	c.mu.Lock()
	clear(c.ws)
	clear(c.byID)
	c.mu.Unlock()
}

// rule returns a rule by id for a worker, at most refresh old.
func (c *ruleCache) rule(ctx context.Context, id string) (*atrium.AlertRule, error) {
	c.mu.Lock()
	now := c.now()
	if r, ok := c.byID[id]; ok && now.Sub(r.at) < c.refresh {
		c.mu.Unlock()
		return r.rule, r.err
	}
	c.mu.Unlock()
	r, err := c.store.FindAlertRuleByID(ctx, id)
	if err != nil && atrium.ErrorCode(err) != atrium.ENOTFOUND {
		return nil, err
	}
	c.mu.Lock()
	c.byID[id] = &idRule{at: now, rule: r, err: err}
	c.mu.Unlock()
	return r, err
}

type celError string

func (e celError) Error() string { return string(e) }

const errNoCEL = celError("CEL filters are not available in this server")

// eventView is an event with its data decoded once.
type eventView struct {
	*atrium.Event
	data map[string]any
	cel  map[string]any // lazily built
}

func newEventView(e *atrium.Event) *eventView {
	v := &eventView{Event: e, data: map[string]any{}}
	_ = json.Unmarshal(e.Data, &v.data)
	if v.data == nil {
		v.data = map[string]any{}
	}
	return v
}

func (v *eventView) str(keys ...string) string {
	for _, k := range keys {
		if s, ok := v.data[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// celInput is the CloudEvent as a map, the variable `event` of filters.
func (v *eventView) celInput() map[string]any {
	if v.cel == nil {
		v.cel = map[string]any{
			"specversion": "1.0", "id": v.ID, "type": v.Type, "source": v.Source, "subject": v.Subject,
			"time": v.Time.UTC().Format(time.RFC3339Nano), "workspaceId": v.WorkspaceID, "data": v.data,
		}
	}
	return v.cel
}

// matches says whether an enabled rule wants the event (throttle aside).
func (r *compiledRule) matches(v *eventView) bool {
	if len(r.EventTypes) > 0 && !slices.Contains(r.EventTypes, v.Type) {
		return false
	}
	switch {
	case r.Scope == atrium.ScopeAll:
	case r.Scope == atrium.ScopeMine:
		owner := v.str("creator", "owner")
		if owner == "" || owner != r.Owner {
			return false
		}
	case r.ResourceID != "":
		if v.Subject != r.ResourceID && v.str("resourceId", "jobId", "id") != r.ResourceID &&
			!strings.HasSuffix(v.Source, "/"+r.ResourceID) {
			return false
		}
	default:
		return false
	}
	if len(r.Filter.Statuses) > 0 && !slices.Contains(r.Filter.Statuses, v.str("to")) {
		return false
	}
	if len(r.Filter.JobTypes) > 0 && !slices.Contains(r.Filter.JobTypes, v.str("jobType")) {
		return false
	}
	if strings.TrimSpace(r.Filter.CEL) != "" {
		if r.prog == nil {
			return false
		}
		ok, err := r.prog.Eval(v.celInput())
		if err != nil || !ok {
			return false
		}
	}
	return true
}

// resourceKey names the resource an event is about, for throttling.
func (v *eventView) resourceKey() string {
	if id := v.str("resourceId", "jobId"); id != "" {
		return id
	}
	return v.Source + "\x00" + v.Subject
}

// cloudEvent is the JSON delivered to webhooks.
type cloudEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Source      string          `json:"source"`
	Subject     string          `json:"subject,omitempty"`
	Time        time.Time       `json:"time"`
	WorkspaceID string          `json:"workspaceId"`
	Data        json.RawMessage `json:"data"`
}

// Payload is the CloudEvent JSON of e, as delivered.
func Payload(e *atrium.Event) []byte {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	b, _ := json.Marshal(cloudEvent{SpecVersion: "1.0", ID: e.ID, Type: e.Type, Source: e.Source, Subject: e.Subject,
		Time: e.Time.UTC(), WorkspaceID: e.WorkspaceID, Data: data})
	return b
}

// parsePayload reads a delivery's payload back into an event.
func parsePayload(p []byte) (*atrium.Event, error) {
	var ce cloudEvent
	if err := json.Unmarshal(p, &ce); err != nil {
		return nil, err
	}
	return &atrium.Event{ID: ce.ID, Type: ce.Type, Source: ce.Source, Subject: ce.Subject, Time: ce.Time,
		WorkspaceID: ce.WorkspaceID, Data: ce.Data}, nil
}

// matchLoop reads the outbox after the cursor and enqueues the matches.
func (e *Engine) matchLoop(ctx context.Context) {
	throttle := map[string]time.Time{} // rule id + resource → last match (event time)
	cursor := int64(-1)
	for ctx.Err() == nil {
		if cursor < 0 {
			c, err := e.cfg.Store.MatchCursor(ctx)
			if err != nil {
				if ctx.Err() == nil {
					e.log.Warn("read alert match cursor", "err", err)
				}
				sleep(ctx, time.Second)
				continue
			}
			cursor = c
		}
		n, last, err := e.matchBatch(ctx, cursor, throttle)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("match events", "err", err)
			}
			cursor = -1 // re-read: another replica may have moved it
			sleep(ctx, time.Second)
			continue
		}
		cursor = last
		if n < e.cfg.BatchSize {
			sleep(ctx, e.cfg.MatchInterval)
		}
	}
}

// matchBatch matches one batch of events after cursor; it returns how many
// events it read and the new cursor.
func (e *Engine) matchBatch(ctx context.Context, cursor int64, throttle map[string]time.Time) (int, int64, error) {
	evs, err := e.cfg.Store.FindEvents(ctx, atrium.EventFilter{AfterSeq: cursor, Limit: e.cfg.BatchSize})
	if err != nil || len(evs) == 0 {
		return 0, cursor, err
	}
	now := e.cfg.Now()
	ds := []*atrium.Delivery{}
	for _, ev := range evs {
		rules, err := e.rules.forWorkspace(ctx, ev.WorkspaceID)
		if err != nil {
			return 0, cursor, err
		}
		var v *eventView
		var payload []byte
		for _, r := range rules {
			if v == nil {
				v = newEventView(ev)
			}
			if !r.matches(v) {
				continue
			}
			if w := time.Duration(r.Throttle); w > 0 {
				key := r.ID + "\x00" + v.resourceKey()
				if t, ok := throttle[key]; ok && ev.Time.Sub(t) < w && !ev.Time.Before(t) {
					continue
				}
				throttle[key] = ev.Time
			}
			if payload == nil {
				payload = Payload(ev)
			}
			for i, t := range r.Targets {
				ds = append(ds, &atrium.Delivery{RuleID: r.ID, WorkspaceID: ev.WorkspaceID, TargetIndex: i, TargetType: t.Type,
					EventID: ev.ID, EventType: ev.Type, Status: atrium.DeliveryPending, NextAttempt: now, CreatedAt: now,
					Payload: payload})
			}
		}
	}
	last := evs[len(evs)-1].Seq
	if err := e.cfg.Store.EnqueueDeliveries(ctx, ds, last); err != nil {
		e.rules.invalidate() // e.g. a rule deleted meanwhile
		return 0, cursor, err
	}
	if len(ds) > 0 {
		e.m.depthAdd(len(ds))
		e.signal()
	}
	if len(throttle) > 100000 {
		clear(throttle)
	}
	return len(evs), last, nil
}
