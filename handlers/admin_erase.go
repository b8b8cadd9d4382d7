package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/erase"
)

// The console's Erase page: a person's right to erasure, as `worker erase`
// does it (package erase). The address and number travel only in POST
// bodies — never in a URL, a log line or the audit log, which keeps the
// address's reference (submission.EmailRef) and the counts.

// eraseTimeout bounds one erasure: it reads every submission record, more
// than the console's per-request Redis deadline allows on a large store.
const eraseTimeout = 2 * time.Minute

// erasePage is the page's data.
type erasePage struct {
	adminPage
	Email, Phone string            // what was typed (shown again after a preview or a refusal)
	Errors       map[string]string // field → problem
	Report       *erase.Report     // a preview's or an erasure's counts
}

// adminErasePage is GET /admin/erase.
func (s *server) adminErasePage(c echo.Context) error {
	return s.renderAdmin(c, http.StatusOK, "erase.html", erasePage{adminPage: s.newAdminPage(c, "Erase a person", "erase")})
}

// adminErase is POST /admin/erase: with action=preview it counts what would
// be erased; with action=erase it erases, writes the audit log, and shows
// the counts.
func (s *server) adminErase(c echo.Context) error {
	p := erasePage{
		adminPage: s.newAdminPage(c, "Erase a person", "erase"),
		Email:     strings.TrimSpace(c.FormValue("email")),
		Phone:     strings.TrimSpace(c.FormValue("phone")),
	}
	dry := c.FormValue("action") != "erase"
	switch {
	case len(p.Email) > 320:
		p.Errors = map[string]string{"email": "is too long"}
	case len(p.Phone) > 40:
		p.Errors = map[string]string{"phone": "is too long"}
	}
	if p.Errors != nil {
		return s.renderAdmin(c, http.StatusUnprocessableEntity, "erase.html", p)
	}
	// The erasure runs to its end even if the browser goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), eraseTimeout)
	defer cancel()
	e := erase.New(s.Redis, s.Store, s.Queue)
	rep, err := e.Erase(ctx, erase.Person{Email: p.Email, Phone: p.Phone}, dry)
	var inv *erase.InvalidError
	switch {
	case errors.Is(err, erase.ErrNoPerson):
		p.Errors = map[string]string{"email": "or a phone number is needed"}
		return s.renderAdmin(c, http.StatusUnprocessableEntity, "erase.html", p)
	case errors.As(err, &inv):
		p.Errors = map[string]string{inv.Field: inv.Problem}
		return s.renderAdmin(c, http.StatusUnprocessableEntity, "erase.html", p)
	case err != nil:
		if !dry {
			// Part may be erased: say so in the audit log, by reference.
			s.audit(c, session(c), audit.Entry{Action: "erase", Detail: "interrupted by an error; run it again: " + rep.AuditDetail()})
		}
		return adminErr(err)
	}
	if !dry {
		s.audit(c, session(c), audit.Entry{Action: "erase", Detail: rep.AuditDetail()})
		p.Email, p.Phone = "", ""
	}
	s.Log.Info("admin action", "action", "erase", "dry_run", dry, "submissions", rep.Total(), "email_ref", rep.EmailRef, "request_id", requestID(c))
	p.Report = &rep
	return s.renderAdmin(c, http.StatusOK, "erase.html", p)
}
