package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis timeouts. go-redis ignores context deadlines unless told to honour
// them, and its own defaults (5 s per read, retried) outlast every bound
// leadbridge sets: intake's 5 s to make a submission durable, readiness's
// 2 s, a scrape's 1 s. With ContextTimeoutEnabled a caller's deadline holds;
// the socket timeouts bound the calls made without one (asynq's own).
const (
	redisDialTimeout = 2 * time.Second
	redisIOTimeout   = 3 * time.Second
)

// Bounds of LEADBRIDGE_REDIS_WAIT_TIMEOUT. The longest keeps a WAIT within
// the socket read timeout and leaves intake's 5 s to make a submission
// durable room for the writes before it.
const (
	defaultWaitTimeout = time.Second
	minWaitTimeout     = 10 * time.Millisecond
	maxWaitTimeout     = 2 * time.Second
)

// loadRedisWait reads LEADBRIDGE_REDIS_WAIT_REPLICAS and _TIMEOUT into r.
func loadRedisWait(getenv Getenv, r *Redis) error {
	r.WaitTimeout = defaultWaitTimeout
	errs := []error{
		intVar(getenv, "LEADBRIDGE_REDIS_WAIT_REPLICAS", &r.WaitReplicas, 0, 16),
		durationVar(getenv, "LEADBRIDGE_REDIS_WAIT_TIMEOUT", &r.WaitTimeout, minWaitTimeout),
	}
	if v := getenv("LEADBRIDGE_REDIS_WAIT_TIMEOUT"); v != "" {
		if r.WaitTimeout > maxWaitTimeout {
			errs = append(errs, fmt.Errorf("LEADBRIDGE_REDIS_WAIT_TIMEOUT: %q is longer than %s", v, maxWaitTimeout))
		}
		if r.WaitReplicas == 0 {
			errs = append(errs, errors.New("LEADBRIDGE_REDIS_WAIT_TIMEOUT: has no effect without LEADBRIDGE_REDIS_WAIT_REPLICAS"))
		}
	}
	return errors.Join(errs...)
}

// options turns the Redis settings into go-redis universal options: one
// address for a URL, a master name with Sentinel addresses, or cluster seeds.
//
// Every command goes to a primary: RouteByLatency, RouteRandomly and
// ReplicaOnly stay off, so that Sentinel gives a plain failover client
// (not the cluster-style one that reads from replicas) and Cluster reads
// from the slot's primary (ReadOnly off). leadbridge reads what it has just
// written — a record, a lease, a task — and a replica may not have it yet.
// The failover client asks the sentinels for the primary on every new
// connection and drops the connections to a demoted one when they announce
// a switch (+switch-master); a connection that still meets a READONLY
// error is closed and the command retried, so writes follow the primary.
func (r Redis) options() (*redis.UniversalOptions, error) {
	o, err := redis.ParseURL(r.URL)
	if err != nil {
		return nil, err
	}
	u := &redis.UniversalOptions{
		Addrs:     []string{o.Addr},
		DB:        o.DB,
		Username:  o.Username,
		Password:  o.Password,
		TLSConfig: o.TLSConfig,

		ContextTimeoutEnabled: true,
		DialTimeout:           redisDialTimeout,
		ReadTimeout:           redisIOTimeout,
		WriteTimeout:          redisIOTimeout,
	}
	switch {
	case len(r.Sentinels) > 0:
		u.Addrs = r.Sentinels
		u.MasterName = r.Master
	case len(r.Cluster) > 0:
		u.Addrs = r.Cluster
		u.IsClusterMode = true
		u.DB = 0
	}
	return u, nil
}

// Client connects to Redis as configured. The same client serves leadbridge's
// own records and asynq, so one connection pool and one failover story.
func (r Redis) Client() (redis.UniversalClient, error) {
	o, err := r.options()
	if err != nil {
		return nil, err
	}
	return redis.NewUniversalClient(o), nil
}

// Display is the Redis target for logs, without credentials.
func (r Redis) Display() string {
	switch {
	case len(r.Sentinels) > 0:
		return "sentinel " + r.Master
	case len(r.Cluster) > 0:
		return "cluster"
	}
	o, err := redis.ParseURL(r.URL)
	if err != nil {
		return "invalid"
	}
	return o.Addr
}
