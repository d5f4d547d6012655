package notify

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	deliveries *prometheus.CounterVec
	latency    prometheus.Histogram
	depth      prometheus.Gauge
	// local approximates the queue depth when the store cannot count it.
	local atomic.Int64
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_deliveries_total",
			Help: "Alert delivery attempts by result: delivered, retry or failed.",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "atrium_delivery_latency_seconds",
			Help:    "Time from an event to its successful delivery.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 18), // 5 ms … ~11 min
		}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "atrium_delivery_queue_depth",
			Help: "Pending alert deliveries (sampled).",
		}),
	}
	for _, r := range []string{"delivered", "retry", "failed"} {
		m.deliveries.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.deliveries, m.latency, m.depth} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
			}
		}
	}
	return m, nil
}

func (m *metrics) depthAdd(n int) { m.local.Add(int64(n)) }

// sampleLoop sets the queue-depth gauge every few seconds.
func (e *Engine) sampleLoop(ctx context.Context) {
	pc, counts := e.cfg.Store.(PendingCounter)
	for {
		if counts {
			if n, err := pc.CountPendingDeliveries(ctx); err == nil {
				e.m.depth.Set(float64(n))
			}
		} else {
			e.m.depth.Set(float64(max(e.m.local.Load(), 0)))
		}
		if !sleep(ctx, 5*time.Second) {
			return
		}
	}
}
