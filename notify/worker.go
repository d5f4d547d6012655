package notify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"atrium"
)

// claimed is a delivery a worker holds, with its event decoded.
type claimed struct {
	d       *atrium.Delivery
	ev      *atrium.Event
	err     error // the payload does not decode
	target  targetKey
	subject string
	at      time.Time // when claimed
}

// targetKey is one target of one rule.
type targetKey struct {
	rule  string
	index int
}

// targetState is what a target has in flight and waiting.
type targetState struct {
	inflight map[string]time.Time // subject → attempt start
	waiting  []*claimed
}

// scheduler decides which claimed delivery a worker sends: deliveries of
// one target about one subject (e.g. one job's status changes) go one
// after the other in queue order, so a receiver that stays up sees a job's
// life in order; and one target has at most limit deliveries in flight, so
// a slow receiver leaves workers for the others.
type scheduler struct {
	mu      sync.Mutex
	limit   int
	maxWait time.Duration // a waiting delivery older than this has a lease about to end
	slow    time.Duration // a target with an attempt running longer is slow
	now     func() time.Time
	targets map[targetKey]*targetState
}

func (s *scheduler) state(k targetKey) *targetState {
	t := s.targets[k]
	if t == nil {
		t = &targetState{inflight: map[string]time.Time{}}
		s.targets[k] = t
	}
	return t
}

// Admission of a claimed delivery.
const (
	admitSend  = iota // send now
	admitWait         // wait for a worker done with its target
	admitDefer        // the target is slow: put back for later
)

// admit decides about c; admitSend marks it in flight.
func (s *scheduler) admit(c *claimed) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.state(c.target)
	_, busy := t.inflight[c.subject]
	if !busy && len(t.inflight) < s.limit {
		t.inflight[c.subject] = s.now()
		return admitSend
	}
	now := s.now()
	for _, started := range t.inflight {
		if now.Sub(started) > s.slow {
			if len(t.waiting) == 0 && len(t.inflight) == 0 {
				delete(s.targets, c.target)
			}
			return admitDefer
		}
	}
	t.waiting = append(t.waiting, c)
	return admitWait
}

// done ends c and returns the next delivery of its target to send, if any.
func (s *scheduler) done(c *claimed) *claimed {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.state(c.target)
	delete(t.inflight, c.subject)
	now := s.now()
	keep := t.waiting[:0]
	var next *claimed
	blocked := map[string]bool{} // subjects with an earlier delivery still waiting
	for _, w := range t.waiting {
		switch {
		case now.Sub(w.at) >= s.maxWait:
			// dropped: its lease ends soon and it is claimed again
		case next == nil && t.inflight[w.subject].IsZero() && !blocked[w.subject] && len(t.inflight) < s.limit:
			next = w
			t.inflight[w.subject] = now
		default:
			blocked[w.subject] = true
			keep = append(keep, w)
		}
	}
	clear(t.waiting[len(keep):])
	t.waiting = keep
	if len(t.inflight) == 0 && len(t.waiting) == 0 {
		delete(s.targets, c.target)
	}
	return next
}

// dispatchLoop claims due deliveries a few at a time (up to twice the
// workers, so claims are batched) and hands them to the workers; each
// worker sends one delivery at a time, so a slow receiver holds a worker
// for at most one attempt timeout, and at most PerTarget workers.
func (e *Engine) dispatchLoop(ctx context.Context) {
	jobs := make(chan *claimed)
	freed := make(chan struct{}, 1)
	// A claimed delivery not sent within maxWait is left to be claimed
	// again: it could not be sent before its lease ends.
	maxWait := max(e.cfg.Lease-e.cfg.Timeout-time.Second, e.cfg.Lease/2)
	sch := &scheduler{limit: e.cfg.PerTarget, maxWait: maxWait, now: e.cfg.Now,
		slow: min(time.Second, e.cfg.Timeout/2), targets: map[targetKey]*targetState{}}
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case c := <-jobs:
					for c != nil && ctx.Err() == nil {
						e.attempt(ctx, c)
						c = sch.done(c)
					}
					select {
					case freed <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	defer wg.Wait()
	var ready []*claimed // admitted, not yet taken by a worker
	batch := 2 * e.cfg.Workers
	for ctx.Err() == nil {
		more := false
		if len(ready) < e.cfg.Workers {
			now := e.cfg.Now()
			n := batch - len(ready)
			ds, err := e.cfg.Store.ClaimDeliveries(ctx, n, now, now.Add(e.cfg.Lease))
			if err != nil {
				if ctx.Err() == nil {
					e.log.Warn("claim deliveries", "err", err)
				}
				sleep(ctx, time.Second)
				continue
			}
			more = len(ds) == n
			for _, d := range ds {
				c := &claimed{d: d, at: now, target: targetKey{d.RuleID, d.TargetIndex}, subject: d.EventID}
				c.ev, c.err = parsePayload(d.Payload)
				if c.err == nil {
					c.subject = c.ev.Source + "\x00" + c.ev.Subject
				}
				switch sch.admit(c) {
				case admitSend:
					ready = append(ready, c)
				case admitDefer:
					// Not sent: due again when the slow target's attempts
					// have timed out.
					e.release(ctx, d, now.Add(e.cfg.Timeout))
				}
			}
		}
		// Hand out what is ready; wait for a worker, new work or the poll.
		t := time.NewTimer(e.cfg.PollInterval)
		for ctx.Err() == nil {
			var out chan *claimed
			var head *claimed
			if len(ready) > 0 {
				head = ready[0]
				if e.cfg.Now().Sub(head.at) >= maxWait {
					// Its lease is about to end: leave it to a new claim.
					ready = ready[1:]
					if next := sch.done(head); next != nil {
						ready = append(ready, next)
					}
					continue
				}
				out = jobs
			} else if more {
				break
			}
			select {
			case out <- head:
				ready = ready[1:]
				if len(ready) < e.cfg.Workers && more {
					break
				}
				continue
			case <-ctx.Done():
			case <-e.wake:
			case <-freed:
			case <-t.C:
			}
			break
		}
		t.Stop()
	}
}

// release puts a claimed delivery back unsent, due at next.
func (e *Engine) release(ctx context.Context, d *atrium.Delivery, next time.Time) {
	err := e.cfg.Store.FinishDelivery(ctx, d.ID, atrium.DeliveryResult{Status: atrium.DeliveryPending, Next: next,
		Error: d.LastError, ResponseCode: d.ResponseCode, LatencyMs: d.LatencyMs})
	if err != nil && ctx.Err() == nil {
		e.log.Warn("put back delivery", "delivery", d.ID, "err", err)
	}
}

// outcome is what a sender saw of one attempt.
type outcome struct {
	Code       int
	RetryAfter time.Duration
	Err        error
	// Permanent failures are not retried (4xx other than 429, refused
	// addresses, bad targets).
	Permanent bool
}

func permanent(format string, args ...any) outcome {
	return outcome{Err: fmt.Errorf(format, args...), Permanent: true}
}

// attempt sends one claimed delivery and records the result.
func (e *Engine) attempt(ctx context.Context, c *claimed) {
	d, ev := c.d, c.ev
	start := e.cfg.Now()
	var out outcome
	if c.err != nil {
		out = permanent("bad payload: %v", c.err)
	} else {
		out = e.send(ctx, d, ev)
	}
	if ctx.Err() != nil && out.Err != nil {
		return // shutting down: the lease runs out and the attempt is retried
	}
	end := e.cfg.Now()
	res := e.result(d, out, end)
	res.LatencyMs = end.Sub(start).Milliseconds()
	// Record even when ctx ended meanwhile: the send happened.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := e.cfg.Store.FinishDelivery(fctx, d.ID, res); err != nil {
		e.log.Warn("record delivery attempt", "delivery", d.ID, "err", err)
		return
	}
	switch res.Status {
	case atrium.DeliveryDelivered:
		e.m.deliveries.WithLabelValues("delivered").Inc()
		if ev != nil && !ev.Time.IsZero() {
			e.m.latency.Observe(end.Sub(ev.Time).Seconds())
		}
		e.m.depthAdd(-1)
	case atrium.DeliveryFailed:
		e.m.deliveries.WithLabelValues("failed").Inc()
		e.m.depthAdd(-1)
		e.log.Info("delivery failed", "delivery", d.ID, "rule", d.RuleID, "event", d.EventID, "err", res.Error)
	default:
		e.m.deliveries.WithLabelValues("retry").Inc()
	}
}

func (e *Engine) send(ctx context.Context, d *atrium.Delivery, ev *atrium.Event) outcome {
	var r *atrium.AlertRule
	var err error
	if d.Test {
		r, err = e.cfg.Store.FindAlertRuleByID(ctx, d.RuleID)
	} else {
		r, err = e.rules.rule(ctx, d.RuleID)
	}
	if atrium.ErrorCode(err) == atrium.ENOTFOUND {
		return permanent("rule %s no longer exists", d.RuleID)
	} else if err != nil {
		return outcome{Err: err}
	}
	if !r.Enabled && !d.Test {
		return permanent("rule %s is disabled", d.RuleID)
	}
	if d.TargetIndex < 0 || d.TargetIndex >= len(r.Targets) {
		return permanent("rule %s has no target %d", d.RuleID, d.TargetIndex)
	}
	t := r.Targets[d.TargetIndex]
	s, ok := e.senders[t.Type]
	if !ok {
		return permanent("unknown target type %q", t.Type)
	}
	var sec []byte
	if len(t.Secret) > 0 {
		if e.cfg.Box == nil {
			return permanent("target secret cannot be opened: no secret key")
		}
		sec, err = e.cfg.Box.Open(t.Secret, []byte(r.ID+":"+strconv.Itoa(d.TargetIndex)))
		if err != nil {
			return permanent("target secret: %v", err)
		}
	}
	actx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	return s.Send(actx, &Message{Event: ev, Payload: d.Payload, Target: t, Secret: sec, Rule: r})
}

// result turns an outcome into the recorded result: retries get the next
// time by exponential backoff with jitter (or Retry-After) until the retry
// limit or the maximum age.
func (e *Engine) result(d *atrium.Delivery, out outcome, now time.Time) atrium.DeliveryResult {
	res := atrium.DeliveryResult{ResponseCode: out.Code}
	if out.Err == nil {
		res.Status = atrium.DeliveryDelivered
		return res
	}
	res.Error = truncate(out.Err.Error(), 1000)
	if out.Permanent {
		res.Status = atrium.DeliveryFailed
		return res
	}
	attempts := max(d.Attempts, 1) // ClaimDeliveries counted this one
	if attempts >= e.cfg.MaxAttempts {
		res.Status = atrium.DeliveryFailed
		res.Error = fmt.Sprintf("gave up after %d attempts: %s", attempts, res.Error)
		return res
	}
	delay := Backoff(attempts, e.cfg.BackoffBase, e.cfg.BackoffCap)
	if out.RetryAfter > 0 {
		delay = out.RetryAfter // bounded by MaxAge below
	}
	res.Next = now.Add(delay)
	if !d.CreatedAt.IsZero() && res.Next.Sub(d.CreatedAt) > e.cfg.MaxAge {
		res.Status = atrium.DeliveryFailed
		res.Error = fmt.Sprintf("gave up after %s: %s", e.cfg.MaxAge, res.Error)
		return res
	}
	res.Status = atrium.DeliveryPending
	return res
}

// Backoff is the delay before retry number attempt (1 = after the first
// failure): base·2^(attempt-1) capped at max, with "equal jitter" — half
// fixed, half random — so retries of many deliveries spread out.
func Backoff(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	half := d / 2
	return half + rand.N(d-half+1)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
