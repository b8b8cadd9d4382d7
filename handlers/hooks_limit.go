package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/webhook"
)

// limitHook is where issue 8's flood defence joins webhook intake: Redis's
// memory cap and the waiting cap of the source's own origin (hook:<source
// id>, whose deliveries queue in deliver:hook:<source id>), answering 503
// with Retry-After through handleError; platforms retry on it. It runs
// after Verify, so that unauthenticated posts cannot use up a platform's
// allowance. A source's own rate limit (rate_limit:, 429 with Retry-After)
// is off unless configured: a platform replaying its backlog after an
// outage is a burst of real leads, which the waiting cap bounds and the
// per-origin queues keep from delaying anyone else; the limit is for a
// sender that misbehaves.
func (s *server) limitHook(c echo.Context, src *webhook.Source) error {
	ctx := c.Request().Context()
	check := func(d flood.Decision, err error) error {
		if err != nil {
			s.Log.Warn("flood check not made; let through", "source", src.ID, "err", err, "request_id", requestID(c))
		}
		if d.Allowed {
			return nil
		}
		s.refused(c, src, "overloaded", &refused{d})
		return &refused{d}
	}
	if !src.RateLimit.IsZero() && s.Limiter != nil {
		d, err := s.Limiter.Allow(ctx, flood.Request{Form: "hook:" + src.ID}, flood.Limits{Form: src.RateLimit})
		if err != nil {
			s.Log.Warn("flood check not made; let through", "source", src.ID, "err", err, "request_id", requestID(c))
		}
		if !d.Allowed {
			s.refused(c, src, "rate_limited", &refused{d})
			return &refused{d}
		}
	}
	if s.Memory != nil {
		if err := check(s.Memory.Check(ctx)); err != nil {
			return err
		}
	}
	return check(flood.WaitingCap{Counter: s.Store}.Check(ctx, "hook:"+src.ID, s.WaitingCap))
}
