// Package metrics defines leadbridge's Prometheus metrics. Each program
// builds the set it needs on its own registry and passes it down; nothing
// here is global.
package metrics

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Intake counts what the API does with submissions.
type Intake struct {
	Submissions *prometheus.CounterVec // form, outcome: accepted | duplicate | key_reused | invalid | unavailable | spam | rate_limited | overloaded | unchecked
	Webhooks    *prometheus.CounterVec // source, outcome: see NewIntake
}

// Delivery counts what workers do with submissions.
type Delivery struct {
	Attempts *prometheus.CounterVec   // form, outcome: delivered | retrying | failed; category
	Duration *prometheus.HistogramVec // outcome
}

// Registry is a Prometheus registry with the Go and process collectors.
func Registry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// NewIntake registers the intake metrics on r.
func NewIntake(r prometheus.Registerer) *Intake {
	m := &Intake{
		Submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_submissions_total",
			Help: "Form submissions received, by form and outcome (accepted, duplicate, key_reused, invalid, unavailable; spam: held by a spam check; rate_limited: 429; overloaded: 503 past a waiting or memory cap; unchecked: a flood check Redis did not answer, let through).",
		}, []string{"form", "outcome"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_webhooks_total",
			Help: "Webhook leads and refused deliveries, by source and outcome (accepted, duplicate, invalid, test, ignored, " +
				"unauthorized, unparsable, too_large, unreadable, unavailable; unknown_source with an empty source).",
		}, []string{"source", "outcome"}),
	}
	r.MustRegister(m.Submissions, m.Webhooks)
	return m
}

// NewDelivery registers the delivery metrics on r.
func NewDelivery(r prometheus.Registerer) *Delivery {
	m := &Delivery{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadbridge_delivery_attempts_total",
			Help: "Delivery attempts into Dataverse, by form, outcome (delivered, retrying, failed) and error category.",
		}, []string{"form", "outcome", "category"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "leadbridge_delivery_duration_seconds",
			Help:    "Time one delivery attempt took, leases and throttle waits included.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"outcome"}),
	}
	r.MustRegister(m.Attempts, m.Duration)
	return m
}

// StatusCounter reports how many submission records each status holds.
type StatusCounter interface {
	Counts(ctx context.Context) (map[string]int64, error)
}

// statusReadTimeout bounds how long a scrape waits for the record counts.
// A Redis that does not answer within it leaves the counts out of that
// scrape instead of failing the whole page: /metrics always answers.
const statusReadTimeout = time.Second

// statusCollector reads the counts at scrape time, so the gauge is the
// records' truth rather than a counter that drifts across restarts.
type statusCollector struct {
	src      StatusCounter
	desc     *prometheus.Desc
	lastDesc *prometheus.Desc
	lastRead atomic.Int64 // Unix nanoseconds of the last scrape that read the counts
}

// RegisterStatuses adds the leadbridge_submissions gauge, by status, and
// leadbridge_submissions_last_read_timestamp_seconds: when the counts were
// last read. A scrape that cannot read them within statusReadTimeout omits
// leadbridge_submissions; alert on the timestamp falling behind.
func RegisterStatuses(r prometheus.Registerer, src StatusCounter) {
	r.MustRegister(&statusCollector{
		src: src,
		desc: prometheus.NewDesc("leadbridge_submissions",
			"Submission records held, by status (failed ones need a person). Absent from a scrape that could not read Redis in time.",
			[]string{"status"}, nil),
		lastDesc: prometheus.NewDesc("leadbridge_submissions_last_read_timestamp_seconds",
			"Unix time at which leadbridge_submissions was last read from Redis by this process (0: never).", nil, nil),
	})
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.lastDesc
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	if counts, ok := c.read(); ok {
		c.lastRead.Store(time.Now().UnixNano())
		for status, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), status)
		}
	}
	var last float64
	if ns := c.lastRead.Load(); ns != 0 {
		last = float64(ns) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(c.lastDesc, prometheus.GaugeValue, last)
}

// read asks for the counts and waits at most statusReadTimeout, even if the
// source does not honour its context.
func (c *statusCollector) read() (map[string]int64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), statusReadTimeout)
	defer cancel()
	var counts map[string]int64
	err := within(ctx, func(ctx context.Context) error {
		var err error
		counts, err = c.src.Counts(ctx)
		return err
	})
	if err != nil {
		return nil, false // counts is not to be read: a late fn may still write it
	}
	return counts, true
}

// Handler serves r in the Prometheus text format.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{})
}
