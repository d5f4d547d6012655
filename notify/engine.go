// Package notify is the alert delivery engine: a matcher that turns outbox
// events into queued deliveries exactly once per event, and workers that
// send those deliveries to webhooks, chat tools and email with retries.
package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"atrium"
	"atrium/secret"
)

// Store is what the engine needs of the database.
type Store interface {
	atrium.AlertService
	atrium.EventService
}

// PendingCounter is implemented by stores that can count Pending
// deliveries; the queue-depth gauge samples it when available.
type PendingCounter interface {
	CountPendingDeliveries(ctx context.Context) (int, error)
}

// Program is a compiled CEL filter (atrium/alertcel).
type Program interface {
	Eval(event map[string]any) (bool, error)
}

// CompileFunc compiles a rule's CEL expression.
type CompileFunc func(expr string) (Program, error)

// SMTPConfig says how to send email.
type SMTPConfig struct {
	Addr     string // host:port; email targets fail without it
	From     string
	User     string // AUTH PLAIN when set
	Password string
	// TLS overrides the STARTTLS client config (tests trust their own CA).
	TLS *tls.Config
	// RequireTLS refuses servers that do not offer STARTTLS.
	RequireTLS bool
}

// Config configures an Engine. Zero values take the documented defaults.
type Config struct {
	Store  Store
	Box    *secret.Box // opens target secrets; nil: targets are sent unsigned
	Logger *slog.Logger
	// Registry receives the metrics; nil: not registered.
	Registry prometheus.Registerer
	// CompileCEL compiles filter expressions; nil: rules with a CEL filter
	// never match.
	CompileCEL CompileFunc

	Workers int // default 4
	// PerTarget caps the deliveries of one target in flight at once, so a
	// slow receiver leaves workers for the others (default Workers-1, ≥ 1).
	PerTarget   int
	Lease       time.Duration // claim lease, default 30 s
	Timeout     time.Duration // per attempt, default 10 s
	MaxAttempts int           // default 20
	MaxAge      time.Duration // default 24 h
	BackoffBase time.Duration // default 1 s
	BackoffCap  time.Duration // default 10 min
	// MatchInterval is how often the matcher polls the outbox (default
	// 20 ms); PollInterval how often idle workers look for due retries
	// (default 250 ms). RuleRefresh is the rule cache's age (default 3 s).
	MatchInterval time.Duration
	PollInterval  time.Duration
	RuleRefresh   time.Duration
	BatchSize     int // outbox events per match batch, default 500

	// AllowCIDRs lists the non-public ranges HTTP targets may reach.
	AllowCIDRs []netip.Prefix
	SMTP       SMTPConfig

	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Resolver looks up target hosts; default net.DefaultResolver.
	Resolver *net.Resolver
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.PerTarget <= 0 || c.PerTarget > c.Workers {
		c.PerTarget = max(c.Workers-1, 1)
	}
	def(&c.Lease, 30*time.Second)
	def(&c.Timeout, 10*time.Second)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 20
	}
	def(&c.MaxAge, 24*time.Hour)
	def(&c.BackoffBase, time.Second)
	def(&c.BackoffCap, 10*time.Minute)
	def(&c.MatchInterval, 20*time.Millisecond)
	def(&c.PollInterval, 250*time.Millisecond)
	def(&c.RuleRefresh, 3*time.Second)
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
}

// Engine runs the matcher and the delivery workers.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	rules   *ruleCache
	senders map[string]Sender
	m       *metrics

	wake chan struct{} // the matcher enqueued something

	mu     sync.Mutex
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New returns an Engine; Start runs it.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("notify: Config.Store is required")
	}
	cfg.defaults()
	e := &Engine{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1)}
	e.rules = newRuleCache(cfg.Store, cfg.CompileCEL, cfg.RuleRefresh, cfg.Now, cfg.Logger)
	hc := newHTTPClient(cfg.Resolver, cfg.AllowCIDRs)
	e.senders = map[string]Sender{
		atrium.TargetWebhook:  &WebhookSender{Client: hc, Now: cfg.Now},
		atrium.TargetDingTalk: &DingTalkSender{Client: hc, Now: cfg.Now},
		atrium.TargetWeCom:    &WeComSender{Client: hc},
		atrium.TargetLark:     &LarkSender{Client: hc, Now: cfg.Now},
		atrium.TargetSlack:    &SlackSender{Client: hc},
		atrium.TargetEmail:    &EmailSender{Config: cfg.SMTP},
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	e.m = m
	return e, nil
}

// Start runs the matcher, the workers and the queue-depth sampler until
// ctx ends or Stop is called.
func (e *Engine) Start(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cancel != nil {
		return
	}
	ctx, e.cancel = context.WithCancel(ctx)
	e.done.Add(3)
	go func() { defer e.done.Done(); e.matchLoop(ctx) }()
	go func() { defer e.done.Done(); e.dispatchLoop(ctx) }()
	go func() { defer e.done.Done(); e.sampleLoop(ctx) }()
}

// Stop ends the engine and waits for its goroutines; attempts in flight
// are abandoned (their lease runs out and another worker retries them).
func (e *Engine) Stop() {
	e.mu.Lock()
	cancel := e.cancel
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.done.Wait()
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// sleep waits d or until ctx ends; false when it ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
