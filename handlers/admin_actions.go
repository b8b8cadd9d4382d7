package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/submission"
)

// Every action goes through the submission life cycle (the record store's
// transitions), queues what it sends to delivery, is written to the audit
// log (ids, never field values), and answers a browser with a redirect to
// the page that shows the result (post/redirect/get).

// session is the signed-in admin of the request.
func session(c echo.Context) *adminSession {
	sess, _ := c.Get(ctxSession).(*adminSession)
	return sess
}

// refusedTransition shows the submission again, saying why the action is
// not allowed in its status (someone else acted first, say).
func (s *server) refusedTransition(c echo.Context, id string, te *submission.TransitionError) error {
	p, err := s.detail(c, id)
	if err != nil {
		return err
	}
	p.Problem = upperFirst(te.Error()) + "."
	return s.renderAdmin(c, http.StatusConflict, "detail.html", p)
}

// act runs one transition and queues the submission when it goes back to
// delivery.
func (s *server) act(c echo.Context, action string, do func(id string) (*submission.Record, error), queueIt bool, e audit.Entry) error {
	id, err := submissionParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rec, err := do(id)
	var te *submission.TransitionError
	switch {
	case errors.As(err, &te):
		return s.refusedTransition(c, id, te)
	case err != nil:
		return adminErr(err)
	}
	if queueIt {
		if err := s.Queue.Requeue(ctx, rec); err != nil {
			// The record is back to accepted: the worker's janitor queues
			// records that wait without a task, so it is not lost.
			s.Log.Warn("admin action stored but not queued; the janitor will queue it", "id", id, "action", action, "err", err)
		}
	}
	e.Action, e.Submission = action, id
	s.audit(c, session(c), e)
	s.Log.Info("admin action", "action", action, "id", id, "request_id", requestID(c))
	return c.Redirect(http.StatusSeeOther, "/admin/submissions/"+url.PathEscape(id)+"?done="+pastDone[action])
}

var pastDone = map[string]string{"retry": "retried", "edit": "edited", "discard": "discarded", "release": "released"}

// adminRetry is POST /admin/submissions/:id/retry.
func (s *server) adminRetry(c echo.Context) error {
	return s.act(c, "retry", func(id string) (*submission.Record, error) { return s.Store.Retry(c.Request().Context(), id) }, true, audit.Entry{})
}

// adminRelease is POST /admin/submissions/:id/release: spam to delivery.
func (s *server) adminRelease(c echo.Context) error {
	return s.act(c, "release", func(id string) (*submission.Record, error) { return s.Store.Release(c.Request().Context(), id) }, true, audit.Entry{})
}

// maxReason bounds a discard reason.
const maxReason = 500

// adminDiscard is POST /admin/submissions/:id/discard with a reason.
func (s *server) adminDiscard(c echo.Context) error {
	reason := strings.TrimSpace(c.FormValue("reason"))
	if reason == "" || utf8.RuneCountInString(reason) > maxReason || !utf8.ValidString(reason) {
		id, err := submissionParam(c)
		if err != nil {
			return err
		}
		p, err := s.detail(c, id)
		if err != nil {
			return err
		}
		p.Problem = fmt.Sprintf("Say why it is discarded (at most %d characters): the reason goes into the audit log.", maxReason)
		p.Reason = truncate(reason, 4*maxReason)
		return s.renderAdmin(c, http.StatusUnprocessableEntity, "detail.html", p)
	}
	return s.act(c, "discard", func(id string) (*submission.Record, error) {
		return s.Store.Discard(c.Request().Context(), id, reason)
	}, false, audit.Entry{Reason: reason})
}

// adminEdit is POST /admin/submissions/:id/edit: corrected field values,
// checked with the form's rules, then delivered again.
func (s *server) adminEdit(c echo.Context) error {
	id, err := submissionParam(c)
	if err != nil {
		return err
	}
	p, err := s.detail(c, id)
	if err != nil {
		return err
	}
	if p.Form == nil {
		p.Problem = fmt.Sprintf("This submission's form %q is not configured any more, so its fields cannot be checked. Add the form back, or discard the submission.", p.R.Form)
		return s.renderAdmin(c, http.StatusConflict, "detail.html", p)
	}
	raw := map[string]string{}
	for _, fd := range p.Form.Fields {
		raw[fd.Name] = c.FormValue("f." + fd.Name)
	}
	values, problems := s.Validator.Clean(p.Form, raw)
	if problems != nil {
		p.Errors, p.Values = problems, raw
		p.Problem = "Some fields need attention; nothing was changed."
		return s.renderAdmin(c, http.StatusUnprocessableEntity, "detail.html", p)
	}
	var changed []string
	for _, fd := range p.Form.Fields {
		if values[fd.Name] != p.R.Fields[fd.Name] {
			changed = append(changed, fd.Name)
		}
	}
	detail := "no field changed"
	if len(changed) > 0 {
		detail = "changed " + strings.Join(changed, ", ") // names only: the values are personal data
	}
	user := session(c).User
	return s.act(c, "edit", func(id string) (*submission.Record, error) {
		return s.Store.Edit(c.Request().Context(), id, values, user)
	}, true, audit.Entry{Detail: detail})
}

// bulkMax bounds what one bulk retry changes; the page says when more
// match, and running it again takes the next ones.
const bulkMax = 1000

// adminBulkRetry is POST /admin/failed/retry: retry everything that matches
// the list's filter (at most bulkMax).
func (s *server) adminBulkRetry(c echo.Context) error {
	f := parseFilter(c.FormValue)
	f.Cursor = ""
	q, problem := f.query()
	if problem != "" {
		return echo.NewHTTPError(http.StatusBadRequest, problem)
	}
	ctx := c.Request().Context()
	var ids []string
	more := false
	q.Limit, q.MaxScan = submission.MaxLimit, submission.MaxScanLimit
	for {
		page, err := s.Store.Search(ctx, q)
		if err != nil {
			return adminErr(err)
		}
		for _, r := range page.Records {
			if r.Status == submission.StatusFailed || r.Status == submission.StatusDiscarded {
				ids = append(ids, r.ID)
			}
		}
		if page.Next == "" {
			break
		}
		if len(ids) >= bulkMax {
			more = true
			break
		}
		q.Cursor = page.Next
	}
	if len(ids) > bulkMax {
		ids, more = ids[:bulkMax], true
	}
	retried, skipped := 0, 0
	for _, id := range ids {
		rec, err := s.Store.Retry(ctx, id)
		if errors.Is(err, submission.ErrTransition) || errors.Is(err, submission.ErrNotFound) {
			skipped++ // retried or changed meanwhile
			continue
		}
		if err != nil {
			s.auditBulk(c, f, retried, skipped)
			return adminErr(err)
		}
		if err := s.Queue.Requeue(ctx, rec); err != nil {
			s.Log.Warn("bulk retry: stored but not queued; the janitor will queue it", "id", id, "err", err)
		}
		retried++
	}
	s.auditBulk(c, f, retried, skipped)
	v := f.values()
	v.Set("retried", strconv.Itoa(retried))
	v.Set("skipped", strconv.Itoa(skipped))
	if more {
		v.Set("more", "1")
	}
	return c.Redirect(http.StatusSeeOther, "/admin/failed?"+v.Encode())
}

func (s *server) auditBulk(c echo.Context, f listFilter, retried, skipped int) {
	s.audit(c, session(c), audit.Entry{Action: "bulk-retry",
		Detail: fmt.Sprintf("%d retried, %d skipped; filter: %s", retried, skipped, f.Describe())})
	s.Log.Info("admin action", "action", "bulk-retry", "retried", retried, "skipped", skipped, "request_id", requestID(c))
}

// adminPause is POST /admin/delivery/pause.
func (s *server) adminPause(c echo.Context) error {
	if err := s.Queue.Pause(c.Request().Context(), session(c).User); err != nil {
		return adminErr(err)
	}
	s.audit(c, session(c), audit.Entry{Action: "pause"})
	s.Log.Info("admin action", "action", "pause", "request_id", requestID(c))
	return c.Redirect(http.StatusSeeOther, "/admin?done=paused")
}

// adminResume is POST /admin/delivery/resume.
func (s *server) adminResume(c echo.Context) error {
	if err := s.Queue.Resume(c.Request().Context()); err != nil {
		return adminErr(err)
	}
	s.audit(c, session(c), audit.Entry{Action: "resume"})
	s.Log.Info("admin action", "action", "resume", "request_id", requestID(c))
	return c.Redirect(http.StatusSeeOther, "/admin?done=resumed")
}
