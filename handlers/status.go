package handlers

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/submission"
)

// requireToken guards the JSON API with the bearer LEADBRIDGE_API_TOKEN.
func (s *server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.APIToken == "" {
			return echo.NewHTTPError(http.StatusUnauthorized, "The status API is off: set LEADBRIDGE_API_TOKEN.")
		}
		got, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.APIToken)) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="leadbridge"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "A valid bearer token is required.")
		}
		return next(c)
	}
}

// getSubmission is GET /v1/submissions/:id.
func (s *server) getSubmission(c echo.Context) error {
	r, err := s.Store.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// listSubmissions is GET /v1/submissions?status=…&form=…&before=…&limit=…;
// no status lists every status.
func (s *server) listSubmissions(c echo.Context) error {
	status := c.QueryParam("status")
	if status != "" && !submission.ValidStatus(status) {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("status must be one of %s.", strings.Join(submission.Statuses, ", ")))
	}
	o := submission.ListOptions{Status: status, Form: c.QueryParam("form"), Limit: submission.DefaultListLimit}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return echo.NewHTTPError(http.StatusBadRequest, "limit must be a number from 1 to 500.")
		}
		o.Limit = n
	}
	if v := c.QueryParam("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "before must be a time like 2026-01-02T15:04:05Z.")
		}
		o.Before = t
	}
	recs, err := s.Store.List(c.Request().Context(), o)
	if err != nil {
		return err
	}
	counts, err := s.Store.Counts(c.Request().Context())
	if err != nil {
		return err
	}
	out := struct {
		Submissions []*submission.Record `json:"submissions"`
		Counts      map[string]int64     `json:"counts"`
		Next        string               `json:"next,omitempty"`
	}{Submissions: recs, Counts: counts}
	if len(recs) > 0 && len(recs) == o.Limit {
		out.Next = recs[len(recs)-1].UpdatedAt.Format(time.RFC3339Nano)
	}
	if out.Submissions == nil {
		out.Submissions = []*submission.Record{}
	}
	return c.JSON(http.StatusOK, out)
}

// retrySubmission is POST /v1/submissions/:id/retry: queue a failed (or
// discarded) submission again under the same id.
func (s *server) retrySubmission(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	r, err := s.Store.Retry(ctx, id)
	if err != nil {
		return err
	}
	if err := s.Queue.Requeue(ctx, r); err != nil {
		return &notDurable{err}
	}
	s.Log.Info("retry requested", "id", id)
	return c.JSON(http.StatusAccepted, r)
}

// releaseSubmission is POST /v1/submissions/:id/release: a submission intake
// held as spam goes to delivery after all, under the same id (409 if it is
// not held). Its spam verdict stays on the record, for the record.
func (s *server) releaseSubmission(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	r, err := s.Store.Release(ctx, id)
	if err != nil {
		return err
	}
	if err := s.Queue.Requeue(ctx, r); err != nil {
		return &notDurable{err}
	}
	s.Log.Info("release requested", "id", id, "form", r.Form)
	return c.JSON(http.StatusAccepted, r)
}

// discardSubmission is POST /v1/submissions/:id/discard with {"reason": "…"}.
func (s *server) discardSubmission(c echo.Context) error {
	var body struct {
		Reason string `json:"reason" form:"reason"`
	}
	if err := c.Bind(&body); err != nil {
		return err
	}
	body.Reason = strings.TrimSpace(body.Reason)
	if body.Reason == "" || len(body.Reason) > 500 {
		return &invalidInput{fields: map[string]string{"reason": "is required (at most 500 characters)"}}
	}
	r, err := s.Store.Discard(c.Request().Context(), c.Param("id"), body.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
