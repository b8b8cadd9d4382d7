package crmhealth

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/metrics"
)

// MetricsState reads the published state for the Prometheus gauges of
// metrics.RegisterDataverse.
func MetricsState(rdb redis.UniversalClient) metrics.DataverseFunc {
	return func(ctx context.Context) (metrics.DataverseState, error) {
		r, err := Read(ctx, rdb)
		if err != nil {
			return metrics.DataverseState{}, err
		}
		st := metrics.DataverseState{LastOK: r.OKAt, ThrottledUntil: r.ThrottledUntil}
		if r.Auth != nil {
			st.LastAuthFailure = r.Auth.At
		}
		return st, nil
	}
}
