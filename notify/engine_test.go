package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"atrium"
	"atrium/alertcel"
	"atrium/secret"
	"atrium/sqlstore"
)

var ctx = context.Background()

func openDB(t testing.TB, path string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(ctx, path, sqlstore.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func testBox(t testing.TB) *secret.Box {
	t.Helper()
	b, err := secret.NewBox(make([]byte, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// CompileCEL adapts alertcel to the engine.
func compileCEL(expr string) (Program, error) {
	p, err := alertcel.Compile(expr)
	if err != nil {
		return nil, err
	}
	return p, nil
}

type fixture struct {
	db    *sqlstore.DB
	path  string
	box   *secret.Box
	alice *atrium.User
	ws    *atrium.Workspace
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "atrium.db")
	f := &fixture{db: openDB(t, path), path: path, box: testBox(t)}
	t.Cleanup(func() { f.db.Close() })
	f.alice = &atrium.User{Name: "alice", DisplayName: "Alice", Email: "alice@example.com"}
	if err := f.db.CreateUser(ctx, f.alice); err != nil {
		t.Fatal(err)
	}
	f.ws = f.workspace(t, "vision")
	return f
}

func (f *fixture) workspace(t *testing.T, name string) *atrium.Workspace {
	t.Helper()
	w := &atrium.Workspace{Name: name, DisplayName: name, Creator: f.alice.ID}
	if err := f.db.CreateWorkspace(ctx, w); err != nil {
		t.Fatal(err)
	}
	return w
}

// rule creates an enabled rule with one webhook target per URL, each
// signed with secret.
func (f *fixture) rule(t *testing.T, r *atrium.AlertRule, secret string, urls ...string) *atrium.AlertRule {
	t.Helper()
	r.ID = atrium.NewID(atrium.PrefixRule)
	if r.WorkspaceID == "" {
		r.WorkspaceID = f.ws.ID
	}
	if r.Name == "" {
		r.Name = "rule " + r.ID
	}
	if r.Scope == "" && r.ResourceID == "" {
		r.Scope = atrium.ScopeAll
	}
	if r.Owner == "" {
		r.Owner = f.alice.ID
	}
	if len(r.EventTypes) == 0 {
		r.EventTypes = []string{atrium.EventJobStatusChanged}
	}
	r.Enabled = true
	for i, u := range urls {
		tg := atrium.AlertTarget{Type: atrium.TargetWebhook, URL: u}
		if secret != "" {
			tg.Secret, tg.HasSecret = f.box.Seal([]byte(secret), []byte(r.ID+":"+strconv.Itoa(i))), true
		}
		r.Targets = append(r.Targets, tg)
	}
	if err := f.db.CreateAlertRule(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) job(t testing.TB, ws *atrium.Workspace, name, creator string) *atrium.Job {
	t.Helper()
	j := &atrium.Job{WorkspaceID: ws.ID, Kind: atrium.KindDLC, DisplayName: name, JobType: "PyTorchJob", Creator: creator,
		Accessibility: atrium.AccessPrivate, Status: atrium.JobQueuing, ReasonCode: atrium.ReasonSubmitted,
		Spec: atrium.JobSpec{DisplayName: name, JobType: "PyTorchJob", Command: "true"}}
	if err := f.db.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	return j
}

func (f *fixture) setStatus(t testing.TB, j *atrium.Job, status string) {
	t.Helper()
	got, err := f.db.UpdateJob(ctx, j.ID, j.Version, atrium.JobUpdate{Status: &status})
	if err != nil {
		t.Fatal(err)
	}
	*j = *got
}

func (f *fixture) engine(t testing.TB, mod func(*Config)) *Engine {
	t.Helper()
	cfg := Config{Store: f.db, Box: f.box, CompileCEL: compileCEL, Workers: 4, Lease: 3 * time.Second,
		Timeout: time.Second, BackoffBase: 10 * time.Millisecond, BackoffCap: 100 * time.Millisecond,
		MatchInterval: 5 * time.Millisecond, PollInterval: 20 * time.Millisecond, RuleRefresh: 20 * time.Millisecond,
		AllowCIDRs: loopback, Registry: prometheus.NewRegistry()}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Start(ctx)
	t.Cleanup(e.Stop)
	return e
}

type got struct {
	ID, Subject, From, To string
	Time                  time.Time
}

// receiver is a webhook endpoint on loopback that verifies signatures and
// records what arrived.
type receiver struct {
	t      testing.TB
	secret []byte
	addr   string
	status atomic.Int32 // answer; 0: 200
	delay  atomic.Int64 // ns slept before answering
	mu     sync.Mutex
	seen   map[string]int // event id → deliveries
	order  []got
	badSig int
	srv    *http.Server
	notify chan struct{}
}

func newReceiver(t testing.TB, secret string) *receiver {
	r := &receiver{t: t, secret: []byte(secret), seen: map[string]int{}, notify: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) URL() string { return "http://" + r.addr + "/hook" }

func (r *receiver) serve(ln net.Listener) {
	r.srv = &http.Server{Handler: r}
	go r.srv.Serve(ln)
}

func (r *receiver) stop() {
	if r.srv != nil {
		r.srv.Close()
	}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if d := r.delay.Load(); d > 0 {
		select {
		case <-time.After(time.Duration(d)):
		case <-req.Context().Done():
			return
		}
	}
	var ev struct {
		ID      string    `json:"id"`
		Subject string    `json:"subject"`
		Time    time.Time `json:"time"`
		Data    struct{ From, To string }
	}
	_ = json.Unmarshal(body, &ev)
	st := int(r.status.Load())
	r.mu.Lock()
	if len(r.secret) > 0 && !VerifySignature(r.secret, req.Header.Get("X-Atrium-Timestamp"), body, req.Header.Get("X-Atrium-Signature")) {
		r.badSig++
	}
	if req.Header.Get("X-Atrium-Event-Id") != ev.ID {
		r.badSig++
	}
	if st == 0 || st/100 == 2 {
		r.seen[ev.ID]++
		r.order = append(r.order, got{ev.ID, ev.Subject, ev.Data.From, ev.Data.To, ev.Time})
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	if st != 0 {
		w.WriteHeader(st)
	}
}

// waitFor waits until cond holds on the receiver's state.
func (r *receiver) waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s: %d distinct events received", what, len(r.seen))
		}
		select {
		case <-r.notify:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestJobLifeDelivered (acceptance 1): a rule on dlc.job.status.changed
// delivers a job's whole life, signed, in order, with no gaps; Mine scope,
// status and CEL filters narrow a second rule; other workspaces' events
// and disabled rules deliver nothing.
func TestJobLifeDelivered(t *testing.T) {
	f := newFixture(t)
	all, mine, other := newReceiver(t, "topsecret"), newReceiver(t, "s2"), newReceiver(t, "")
	f.rule(t, &atrium.AlertRule{}, "topsecret", all.URL())
	f.rule(t, &atrium.AlertRule{Scope: atrium.ScopeMine, Filter: atrium.AlertFilter{
		Statuses: []string{atrium.JobSucceeded, atrium.JobFailed}, JobTypes: []string{"PyTorchJob"},
		CEL: `event.data.displayName.startsWith("mn")`}}, "s2", mine.URL())
	elsewhere := f.workspace(t, "speech")
	f.rule(t, &atrium.AlertRule{WorkspaceID: elsewhere.ID, EventTypes: []string{atrium.EventJobTimeout}}, "", other.URL())
	reg := prometheus.NewRegistry()
	f.engine(t, func(c *Config) { c.Registry = reg })

	j := f.job(t, f.ws, "mnist", f.alice.ID)
	bob := f.job(t, f.ws, "mnist-bob", "user-bob")
	f.job(t, elsewhere, "speechy", f.alice.ID)
	life := []string{atrium.JobRunning, atrium.JobQueuing, atrium.JobRunning, atrium.JobSucceeded}
	for _, st := range life {
		f.setStatus(t, j, st)
		f.setStatus(t, bob, st)
	}
	all.waitFor(t, 10*time.Second, "the job's life", func() bool { return len(all.seen) == 2*(1+len(life)) })
	mine.waitFor(t, 10*time.Second, "alice's success", func() bool { return len(mine.seen) == 1 })
	time.Sleep(200 * time.Millisecond) // nothing more arrives

	all.mu.Lock()
	defer all.mu.Unlock()
	if all.badSig != 0 {
		t.Errorf("%d deliveries with a bad signature", all.badSig)
	}
	var jl []got
	for _, g := range all.order {
		if g.Subject == j.ID {
			jl = append(jl, g)
		}
	}
	want := append([]string{atrium.JobQueuing}, life...)
	if len(jl) != len(want) {
		t.Fatalf("job events = %+v", jl)
	}
	for i, g := range jl {
		if g.To != want[i] || (i > 0 && (g.From != jl[i-1].To || g.Time.Before(jl[i-1].Time))) {
			t.Fatalf("job events out of order or with gaps at %d: %+v", i, jl)
		}
	}
	for id, n := range all.seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	mine.mu.Lock()
	if g := mine.order[0]; g.Subject != j.ID || g.To != atrium.JobSucceeded || mine.badSig != 0 {
		t.Errorf("mine got %+v (bad signatures %d)", mine.order, mine.badSig)
	}
	mine.mu.Unlock()
	other.mu.Lock()
	if len(other.seen) != 0 {
		t.Errorf("other workspace's rule got %v", other.seen)
	}
	other.mu.Unlock()
	if n := counterValue(t, reg, "delivered"); n != 11 {
		t.Errorf("atrium_deliveries_total{result=delivered} = %v, want 11", n)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "atrium_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no atrium_deliveries_total{result=%s}", result)
	return 0
}

// TestReceiverDownThenUp (acceptance 2): connections are refused for a
// while, then the receiver comes up: every event arrives, once.
func TestReceiverDownThenUp(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, "k")
	r.stop() // refuses connections on its address
	f.rule(t, &atrium.AlertRule{}, "k", r.URL())
	f.engine(t, nil)
	const n = 40
	for i := range n {
		f.job(t, f.ws, fmt.Sprintf("job-%d", i), f.alice.ID)
	}
	time.Sleep(700 * time.Millisecond) // several failed attempts each
	ds, err := f.db.FindDeliveries(ctx, rulesOf(t, f)[0], 100)
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	for _, d := range ds {
		if d.Status == atrium.DeliveryPending && d.Attempts > 1 && d.LastError != "" {
			retried++
		}
	}
	if len(ds) != n || retried == 0 {
		t.Fatalf("while down: %d deliveries, %d retried", len(ds), retried)
	}
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	r.serve(ln)
	r.waitFor(t, 10*time.Second, "all events", func() bool { return len(r.seen) == n })
	time.Sleep(300 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, c := range r.seen {
		if c != 1 {
			t.Errorf("event %s delivered %d times", id, c)
		}
	}
	if r.badSig != 0 {
		t.Errorf("%d bad signatures", r.badSig)
	}
}

func rulesOf(t *testing.T, f *fixture) []string {
	t.Helper()
	rs, err := f.db.FindAlertRules(ctx, f.ws.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestCrashRestart (acceptance 3): 1,000 undelivered events; the engine
// stops abruptly mid-way and the database is closed; a fresh engine over
// the same file delivers the rest: the receiver, deduplicating by event
// id, counts all 1,000.
func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := newFixture(t)
	r := newReceiver(t, "k")
	f.rule(t, &atrium.AlertRule{}, "k", r.URL())
	const n = 1000
	for i := range n {
		f.job(t, f.ws, fmt.Sprintf("job-%d", i), f.alice.ID)
	}
	e1 := f.engine(t, func(c *Config) { c.BatchSize = 50; c.Lease = time.Second })
	r.waitFor(t, 30*time.Second, "a third", func() bool { return len(r.seen) >= n/3 })
	e1.Stop() // the crash: attempts in flight are abandoned, leases held
	f.db.Close()
	r.mu.Lock()
	before := len(r.seen)
	r.mu.Unlock()

	f.db = openDB(t, f.path)
	f.engine(t, func(c *Config) { c.Lease = time.Second })
	r.waitFor(t, 60*time.Second, "all 1,000", func() bool { return len(r.seen) == n })
	r.mu.Lock()
	dups := 0
	for _, c := range r.seen {
		dups += c - 1
	}
	r.mu.Unlock()
	t.Logf("before the crash %d, after %d distinct; %d duplicates", before, n, dups)
	if before >= n {
		t.Fatalf("the crash came after everything was delivered")
	}
	if dups > 8 { // at most what was in flight at the crash
		t.Errorf("%d duplicate deliveries", dups)
	}
}

// TestRetryAfter: a 429 with Retry-After: 1 delays the next attempt by
// about a second, although the backoff alone would retry at once.
func TestRetryAfter(t *testing.T) {
	f := newFixture(t)
	var times []time.Time
	var mu sync.Mutex
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		first := len(times) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	f.rule(t, &atrium.AlertRule{}, "", "http://"+ln.Addr().String()+"/")
	f.engine(t, nil)
	f.job(t, f.ws, "mnist", f.alice.ID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(times)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no retry")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if gap := times[1].Sub(times[0]); gap < 900*time.Millisecond || gap > 3*time.Second {
		t.Errorf("retry after %v, want about 1 s", gap)
	}
	// The receiver has answered; the engine records the outcome a moment later.
	var ds []*atrium.Delivery
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ds, _ = f.db.FindDeliveries(ctx, rulesOf(t, f)[0], 10)
		if len(ds) == 1 && ds[0].Status != atrium.DeliveryPending || time.Now().After(end) {
			break
		}
	}
	if len(ds) != 1 || ds[0].Status != atrium.DeliveryDelivered || ds[0].Attempts != 2 {
		t.Errorf("delivery = %+v", ds)
	}
}

// TestPermanentAndLimits: a 404 fails at once; a receiver failing with 500
// fails after MaxAttempts; an unallowed private address fails at once.
func TestPermanentAndLimits(t *testing.T) {
	f := newFixture(t)
	gone, broken := newReceiver(t, ""), newReceiver(t, "")
	gone.status.Store(404)
	broken.status.Store(503)
	f.rule(t, &atrium.AlertRule{Name: "gone"}, "", gone.URL())
	f.rule(t, &atrium.AlertRule{Name: "broken"}, "", broken.URL())
	f.engine(t, func(c *Config) { c.MaxAttempts = 3; c.AllowCIDRs = nil })
	f.job(t, f.ws, "mnist", f.alice.ID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ds := []*atrium.Delivery{}
		for _, id := range rulesOf(t, f) {
			d, _ := f.db.FindDeliveries(ctx, id, 10)
			ds = append(ds, d...)
		}
		failed := 0
		for _, d := range ds {
			if d.Status == atrium.DeliveryFailed {
				failed++
				if d.Attempts != 1 {
					t.Errorf("refused delivery tried %d times", d.Attempts)
				}
			}
		}
		if failed == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries = %+v", ds)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gone.mu.Lock()
	contacted := gone.badSig + len(gone.order)
	gone.mu.Unlock()
	if contacted != 0 {
		t.Error("a refused (loopback, not allowed) receiver was contacted")
	}

	// Allowed: 404 fails at once, 503 after 3 attempts.
	f2 := newFixture(t)
	f2.rule(t, &atrium.AlertRule{Name: "gone"}, "", gone.URL())
	f2.rule(t, &atrium.AlertRule{Name: "broken"}, "", broken.URL())
	f2.engine(t, func(c *Config) { c.MaxAttempts = 3 })
	f2.job(t, f2.ws, "mnist", f2.alice.ID)
	attempts := map[string]int{}
	deadline = time.Now().Add(5 * time.Second)
	for len(attempts) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("not failed: %v", attempts)
		}
		time.Sleep(20 * time.Millisecond)
		rs, _ := f2.db.FindAlertRules(ctx, f2.ws.ID, "")
		for _, r := range rs {
			ds, _ := f2.db.FindDeliveries(ctx, r.ID, 10)
			if len(ds) == 1 && ds[0].Status == atrium.DeliveryFailed {
				attempts[r.Name] = ds[0].Attempts
			}
		}
	}
	if attempts["gone"] != 1 || attempts["broken"] != 3 {
		t.Errorf("attempts = %v, want gone 1, broken 3", attempts)
	}
}

// TestSlowReceiver: a receiver that never answers in time does not hold
// up a fast one.
func TestSlowReceiver(t *testing.T) {
	f := newFixture(t)
	slow, fast := newReceiver(t, ""), newReceiver(t, "")
	slow.delay.Store(int64(10 * time.Second))
	f.rule(t, &atrium.AlertRule{Name: "slow"}, "", slow.URL())
	f.rule(t, &atrium.AlertRule{Name: "fast"}, "", fast.URL())
	f.engine(t, func(c *Config) { c.Timeout = 2 * time.Second; c.Lease = 10 * time.Second })
	const n = 30
	start := time.Now()
	for i := range n {
		f.job(t, f.ws, fmt.Sprintf("job-%d", i), f.alice.ID)
	}
	fast.waitFor(t, 5*time.Second, "the fast receiver's events", func() bool { return len(fast.seen) == n })
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("fast receiver got everything after %v", d)
	}
}

func TestQueueOrderHelper(t *testing.T) {
	// scheduler: one subject at a time per target, in order; limit per target.
	s := &scheduler{limit: 2, maxWait: time.Hour, slow: time.Hour, now: time.Now, targets: map[targetKey]*targetState{}}
	k := targetKey{"r", 0}
	mk := func(id int64, subj string) *claimed {
		return &claimed{d: &atrium.Delivery{ID: id}, target: k, subject: subj, at: time.Now()}
	}
	a1, a2, b1, c1, a3 := mk(1, "a"), mk(2, "a"), mk(3, "b"), mk(4, "c"), mk(5, "a")
	if s.admit(a1) != admitSend || s.admit(a2) != admitWait || s.admit(b1) != admitSend || s.admit(c1) != admitWait || s.admit(a3) != admitWait {
		t.Fatal("admit")
	}
	var order []int64
	for _, c := range []*claimed{a1, b1} {
		for c != nil {
			order = append(order, c.d.ID)
			c = s.done(c)
		}
	}
	// a1 done → a2 (same subject, next in line); a2 done → c1 (a3 would
	// be a second "a"… it is, but c1 comes first in line); c1 → a3; b1 alone.
	if fmt.Sprint(order) != "[1 2 4 5 3]" || len(s.targets) != 0 {
		t.Errorf("order %v, state %v", order, s.targets)
	}
}

// TestModelApproval (acceptance 5): approving a model version produces
// exactly one model.version.approval.changed delivery.
func TestModelApproval(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, "")
	rule := f.rule(t, &atrium.AlertRule{EventTypes: []string{atrium.EventModelApprovalChanged}}, "", r.URL())
	f.engine(t, nil)
	m := &atrium.Asset{WorkspaceID: f.ws.ID, Kind: atrium.AssetModel, Name: "resnet", Owner: f.alice.ID,
		Accessibility: atrium.AccessPrivate, Spec: json.RawMessage(`{}`)}
	if err := f.db.CreateAsset(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateAssetVersion(ctx, &atrium.AssetVersion{AssetID: m.ID, Name: "1.0.0", ApprovalStatus: atrium.ApprovalPending}); err != nil {
		t.Fatal(err)
	}
	approved, pending := atrium.ApprovalApproved, atrium.ApprovalPending
	_, err := f.db.UpdateAssetVersion(ctx, m.ID, "1.0.0", atrium.AssetVersionUpdate{ApprovalStatus: &approved, FromApproval: &pending,
		Event: &atrium.Event{Type: atrium.EventModelApprovalChanged, Source: "/workspaces/" + f.ws.ID + "/models/" + m.ID, Subject: "1.0.0",
			Data: json.RawMessage(`{"from":"Pending","to":"Approved","name":"resnet"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	f.job(t, f.ws, "unrelated", f.alice.ID) // another type: not delivered
	r.waitFor(t, 5*time.Second, "the approval", func() bool { return len(r.seen) == 1 })
	time.Sleep(200 * time.Millisecond)
	ds, err := f.db.FindDeliveries(ctx, rule.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(ds) != 1 || ds[0].EventType != atrium.EventModelApprovalChanged || ds[0].Status != atrium.DeliveryDelivered || len(r.order) != 1 || r.order[0].To != "Approved" {
		t.Fatalf("deliveries %+v, received %+v", ds, r.order)
	}
}

// TestThrottle: a rule with a throttle window delivers the first match of
// a resource and drops the next ones within the window; other resources
// are throttled apart.
func TestThrottle(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, "")
	f.rule(t, &atrium.AlertRule{Throttle: atrium.Duration(time.Hour)}, "", r.URL())
	f.engine(t, nil)
	a := f.job(t, f.ws, "a", f.alice.ID)
	f.setStatus(t, a, atrium.JobRunning)
	f.setStatus(t, a, atrium.JobSucceeded)
	f.job(t, f.ws, "b", f.alice.ID)
	r.waitFor(t, 5*time.Second, "two", func() bool { return len(r.seen) == 2 })
	time.Sleep(300 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.order) != 2 || r.order[0].To != atrium.JobQueuing {
		t.Fatalf("received %+v", r.order)
	}
}

// TestEmailThroughEngine (acceptance 4, end to end): a rule with an email
// target sends the job's change to the in-test SMTP server over STARTTLS.
func TestEmailThroughEngine(t *testing.T) {
	f := newFixture(t)
	srv := newSMTPServer(t)
	rule := &atrium.AlertRule{ID: atrium.NewID(atrium.PrefixRule), WorkspaceID: f.ws.ID, Name: "mail", Owner: f.alice.ID,
		EventTypes: []string{atrium.EventJobStatusChanged}, Scope: atrium.ScopeAll, Enabled: true,
		Filter:  atrium.AlertFilter{Statuses: []string{atrium.JobSucceeded}},
		Targets: []atrium.AlertTarget{{Type: atrium.TargetEmail, To: []string{"bob@example.com"}}}}
	if err := f.db.CreateAlertRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	f.engine(t, func(c *Config) {
		c.SMTP = SMTPConfig{Addr: srv.ln.Addr().String(), From: "atrium@example.com", TLS: &tls.Config{RootCAs: srv.pool}, RequireTLS: true}
	})
	j := f.job(t, f.ws, "mnist", f.alice.ID)
	f.setStatus(t, j, atrium.JobRunning)
	f.setStatus(t, j, atrium.JobSucceeded)
	select {
	case m := <-srv.got:
		msg, err := mail.ReadMessage(strings.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if want := "[Atrium] dlc.job.status.changed: mnist Running → Succeeded"; !m.TLS || subj != want || m.To[0] != "bob@example.com" {
			t.Errorf("message over TLS %v to %v, subject %q, want %q", m.TLS, m.To, subj, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no email")
	}
}
