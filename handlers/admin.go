package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/submission"
)

// The admin console: server-rendered pages from templates/admin, behind a
// session (admin_auth.go), where marketing-ops and CRM admins find a
// submission, see why it failed, fix it and send it again. Every change
// goes through the submission life cycle of the record store and is
// written to the audit log. The files:
//
//	admin.go          settings, middleware, rendering
//	admin_auth.go     password sign-in, sessions, CSRF, the login limit
//	admin_oidc.go     sign-in with Entra ID
//	admin_pages.go    overview, submission lists, detail, audit log
//	admin_actions.go  retry, edit, discard, release, bulk retry, pause
//	admin_export.go   the CSV export

// AdminConfig is the console's settings. Zero (no user, no Entra ID) turns
// the console off: every /admin page then says how to turn it on.
type AdminConfig struct {
	User         string // the one password user
	Password     string // its password, or
	PasswordHash []byte // its bcrypt hash
	OIDC         *AdminOIDC
	PublicURL    string        // e.g. https://leads.example.com: links and the sign-in redirect; "" = the request's
	SessionIdle  time.Duration // a session unused this long ends; default 2 h
	SessionMax   time.Duration // no session lasts longer; default 12 h
}

// AdminOIDC is sign-in with Entra ID.
type AdminOIDC struct {
	Issuer       string // https://login.microsoftonline.com/<tenant>/v2.0
	TenantID     string
	ClientID     string
	ClientSecret string
	Allowed      []string     // user names, object ids, "group:<id>"; "*" = anyone in the tenant
	HTTPClient   *http.Client // for discovery, keys and the token endpoint; with a timeout
}

func (a AdminConfig) enabled() bool { return a.User != "" || a.OIDC != nil }

// adminTimeout bounds every Redis read and write of a console request, so
// that a Redis that hangs turns into an error page, not a spinner.
const adminTimeout = 5 * time.Second

// adminOn answers every console route with how to turn the console on
// while it is off.
func (s *server) adminOn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.Admin.enabled() {
			return echo.NewHTTPError(http.StatusNotFound, "The admin console is off. To turn it on, set LEADBRIDGE_ADMIN_USER and "+
				"LEADBRIDGE_ADMIN_PASSWORD (or LEADBRIDGE_ADMIN_PASSWORD_HASH, a bcrypt hash), or sign-in with Entra ID "+
				"(LEADBRIDGE_ADMIN_OIDC_CLIENT_ID, _SECRET and _ALLOWED), and restart the API.")
		}
		return next(c)
	}
}

// longRequests are the console's requests that do more than a page's
// worth of work, and how long they may take.
var longRequests = map[string]time.Duration{
	"/admin/failed.csv":   2 * time.Minute, // streams up to exportMax rows
	"/admin/failed/retry": time.Minute,     // up to bulkMax retries
}

// adminHeaders: console pages hold personal data — never cached, never
// framed, no referrer to other sites — and each request gets adminTimeout
// for its Redis calls (longRequests longer).
func (s *server) adminHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "same-origin")
		d, ok := longRequests[c.Path()]
		if !ok {
			d = adminTimeout
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), d)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// storeDown: Redis did not answer a console request (in time). The page
// says so; nothing was changed that the page does not report.
type storeDown struct{ err error }

func (e *storeDown) Error() string { return "redis: " + e.err.Error() }
func (e *storeDown) Unwrap() error { return e.err }

// adminErr keeps the errors a console page explains (not found, a refused
// transition, a bad cursor) and turns the rest — Redis trouble — into a
// storeDown.
func adminErr(err error) error {
	var te *submission.TransitionError
	var he *echo.HTTPError
	switch {
	case err == nil, errors.Is(err, submission.ErrNotFound), errors.As(err, &te), errors.As(err, &he):
		return err
	case errors.Is(err, submission.ErrBadCursor):
		return echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid any more; start from the first page.")
	}
	return &storeDown{err}
}

// adminCSP is the console's Content-Security-Policy: scripts and styles
// from /static only, nothing inline.
const adminCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'none'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// adminPage is what every console template gets: the layout's needs.
type adminPage struct {
	hashes  map[string]string
	Title   string
	Nav     string // the nav item to mark current
	Session *adminSession
	CSRF    string
}

// Static is the URL of an embedded asset, with its content hash.
func (p adminPage) Static(name string) string { return "/static/" + name + "?v=" + p.hashes[name] }

// SignedIn reports whether the page is for a signed-in admin.
func (p adminPage) SignedIn() bool { return p.Session != nil }

// newAdminPage is the layout data for the request's session (none on the
// sign-in page).
func (s *server) newAdminPage(c echo.Context, title, nav string) adminPage {
	p := adminPage{hashes: s.hashes, Title: title, Nav: nav}
	if sess, ok := c.Get(ctxSession).(*adminSession); ok {
		p.Session, p.CSRF = sess, sess.CSRF
	}
	return p
}

// renderAdmin executes a console template into a buffer first, so a
// template error is a clean 500, never half a page.
func (s *server) renderAdmin(c echo.Context, status int, name string, data any) error {
	t := s.adminPages[name]
	if t == nil {
		return fmt.Errorf("no admin template %s", name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.Response().Header().Set("Content-Security-Policy", adminCSP)
	return c.HTMLBlob(status, b.Bytes())
}

// adminProblem is an error page in the console's style.
func (s *server) adminProblem(c echo.Context, status int, msg string) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.renderAdmin(c, status, "error.html", struct {
		adminPage
		Status  int
		Message string
	}{s.newAdminPage(c, http.StatusText(status), ""), status, msg})
}

// localNext is where to go after sign-in: a path of the console, never
// another site ("//evil.example", "https://…", "/\evil"), else /admin.
func localNext(next string) string {
	if next == "" || len(next) > 2000 || !strings.HasPrefix(next, "/admin") ||
		strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/admin"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || (u.Path != "/admin" && !strings.HasPrefix(u.Path, "/admin/")) ||
		strings.Contains(u.Path, "/..") || strings.Contains(u.Path, "/./") {
		return "/admin"
	}
	return u.RequestURI()
}

// validSubmissionID is what a submission id can look like; anything else
// is not looked up (nor put into a Redis key).
var validSubmissionID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// submissionParam is the :id of the route, or a 404.
func submissionParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if !validSubmissionID.MatchString(id) {
		return "", submission.ErrNotFound
	}
	return id, nil
}

// adminSlash is GET /admin/: the overview is /admin.
func (s *server) adminSlash(c echo.Context) error {
	return c.Redirect(http.StatusMovedPermanently, "/admin")
}
