package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The gauges below are read from Redis at scrape time, like
// leadbridge_submissions: they are the stores' truth, shared by every
// process, not counters of one process that restart at zero. Each read
// waits at most statusReadTimeout; a read that fails or takes longer leaves
// its gauges out of that scrape (and sets leadbridge_redis_up to 0).

// BacklogFunc reports how many submissions wait for delivery and since
// when the longest-waiting one has (zero: none).
type BacklogFunc func(ctx context.Context) (waiting int64, oldest time.Time, err error)

// DataverseState is what the workers last learned about Dataverse
// (package crmhealth), as times; zero: never.
type DataverseState struct {
	LastOK          time.Time // the last call Dataverse answered
	LastAuthFailure time.Time // the last time no token could be had, or one was refused
	ThrottledUntil  time.Time // the end of Dataverse's last Retry-After
}

// DataverseFunc reads the DataverseState.
type DataverseFunc func(ctx context.Context) (DataverseState, error)

// RegisterRedisUp adds leadbridge_redis_up: 1 when ping answered within the
// scrape's read timeout, else 0.
func RegisterRedisUp(r prometheus.Registerer, ping func(context.Context) error) {
	desc := prometheus.NewDesc("leadbridge_redis_up",
		"1 when Redis answered this process's ping at scrape time (within 1 s), else 0.", nil, nil)
	r.MustRegister(&readCollector{descs: []*prometheus.Desc{desc}, collect: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		up := 1.0
		if err := within(ctx, ping); err != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, up)
		return nil
	}})
}

// RegisterBacklog adds leadbridge_waiting_submissions and
// leadbridge_oldest_waiting_seconds.
func RegisterBacklog(r prometheus.Registerer, read BacklogFunc) {
	waiting := prometheus.NewDesc("leadbridge_waiting_submissions",
		"Submissions waiting for delivery (accepted, delivering, retrying), in every queue.", nil, nil)
	age := prometheus.NewDesc("leadbridge_oldest_waiting_seconds",
		"How long the longest-waiting submission has waited for delivery (since receipt, or a person's retry); 0 when none waits.", nil, nil)
	r.MustRegister(&readCollector{descs: []*prometheus.Desc{waiting, age}, collect: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		var n int64
		var oldest time.Time
		err := within(ctx, func(ctx context.Context) error {
			var err error
			n, oldest, err = read(ctx)
			return err
		})
		if err != nil {
			return err
		}
		secs := 0.0
		if !oldest.IsZero() {
			secs = max(time.Since(oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(waiting, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(age, prometheus.GaugeValue, secs)
		return nil
	}})
}

// RegisterDataverse adds leadbridge_dataverse_last_ok_timestamp_seconds,
// leadbridge_dataverse_last_auth_failure_timestamp_seconds and
// leadbridge_dataverse_throttled_until_timestamp_seconds (0: never).
func RegisterDataverse(r prometheus.Registerer, read DataverseFunc) {
	ok := prometheus.NewDesc("leadbridge_dataverse_last_ok_timestamp_seconds",
		"Unix time of the last Dataverse call that was answered (a token was valid then), as the workers report it; 0: none yet.", nil, nil)
	auth := prometheus.NewDesc("leadbridge_dataverse_last_auth_failure_timestamp_seconds",
		"Unix time of the last time no Dataverse token could be had, or one was refused; 0: never.", nil, nil)
	throttled := prometheus.NewDesc("leadbridge_dataverse_throttled_until_timestamp_seconds",
		"Unix time until which Dataverse last asked every caller to wait (Retry-After of a 429); 0: never.", nil, nil)
	r.MustRegister(&readCollector{descs: []*prometheus.Desc{ok, auth, throttled}, collect: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		var st DataverseState
		err := within(ctx, func(ctx context.Context) error {
			var err error
			st, err = read(ctx)
			return err
		})
		if err != nil {
			return err
		}
		ch <- prometheus.MustNewConstMetric(ok, prometheus.GaugeValue, unix(st.LastOK))
		ch <- prometheus.MustNewConstMetric(auth, prometheus.GaugeValue, unix(st.LastAuthFailure))
		ch <- prometheus.MustNewConstMetric(throttled, prometheus.GaugeValue, unix(st.ThrottledUntil))
		return nil
	}})
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// readCollector emits what collect reads at scrape time; an error leaves
// its metrics out of the scrape.
type readCollector struct {
	descs   []*prometheus.Desc
	collect func(context.Context, chan<- prometheus.Metric) error
}

func (c *readCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *readCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statusReadTimeout)
	defer cancel()
	_ = c.collect(ctx, ch)
}

// within runs fn and waits at most until ctx ends, even if fn does not
// honour ctx.
func within(ctx context.Context, fn func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
