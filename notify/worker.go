package notify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"atrium"
)

// dispatchLoop claims due deliveries for the idle workers and hands them
// over; each worker sends one delivery at a time, so a slow receiver holds
// one worker for at most one attempt timeout and never the others.
func (e *Engine) dispatchLoop(ctx context.Context) {
	jobs := make(chan *atrium.Delivery)
	var idle atomic.Int64
	freed := make(chan struct{}, e.cfg.Workers)
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				idle.Add(1)
				select {
				case <-ctx.Done():
					return
				case d := <-jobs:
					idle.Add(-1)
					e.attempt(ctx, d)
					select {
					case freed <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	defer wg.Wait()
	for ctx.Err() == nil {
		n := int(idle.Load())
		if n == 0 {
			select {
			case <-ctx.Done():
				return
			case <-freed:
			}
			continue
		}
		now := e.cfg.Now()
		ds, err := e.cfg.Store.ClaimDeliveries(ctx, n, now, now.Add(e.cfg.Lease))
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("claim deliveries", "err", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		for _, d := range ds {
			select {
			case <-ctx.Done():
				return
			case jobs <- d:
			}
		}
		if len(ds) == n {
			continue // maybe more are due
		}
		t := time.NewTimer(e.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-e.wake:
		case <-freed:
			// a worker came free: only worth a claim when more was due
			if len(ds) > 0 {
				break
			}
			select {
			case <-ctx.Done():
			case <-e.wake:
			case <-t.C:
			}
		case <-t.C:
		}
		t.Stop()
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
func (e *Engine) attempt(ctx context.Context, d *atrium.Delivery) {
	start := e.cfg.Now()
	ev, err := parsePayload(d.Payload)
	var out outcome
	if err != nil {
		out = permanent("bad payload: %v", err)
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
		delay = min(out.RetryAfter, e.cfg.BackoffCap)
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
