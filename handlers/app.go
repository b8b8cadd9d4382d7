// Package handlers is leadbridge's HTTP surface: form intake, hosted form
// pages, the submission status API and health checks. Every route is listed
// in routes.go; every error becomes a response in errors.go.
package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/metrics"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
	"github.com/leadbridge/leadbridge/templates"
	"github.com/leadbridge/leadbridge/web/static"
)

// Deps is what the HTTP surface needs, as plain values built by cmd/api.
type Deps struct {
	Forms          forms.Set
	Validator      *forms.Validator // nil: a new one
	Store          *submission.Store
	Queue          *queue.Client
	Health         http.Handler // GET /healthz, /readyz, /metrics (package health)
	APIToken       string       // bearer token of /v1/…; "" turns the status API off
	MaxBodyBytes   int64        // larger submissions get 413
	TrustedProxies []*net.IPNet // whose X-Forwarded-For is believed; none: the socket address is the client
	Log            *slog.Logger // nil: discarded
	Metrics        *metrics.Intake
}

// server is the handlers' shared state: the deps plus what New prepares.
type server struct {
	Deps
	pages  map[string]*template.Template
	hashes map[string]string
}

// New returns cmd/api's router, every route of routes.go on it. It parses
// the templates and hashes the static assets first, so a broken one fails
// the start, not a request.
func New(d Deps) (*echo.Echo, error) {
	if d.Store == nil || d.Queue == nil || d.Health == nil || d.Metrics == nil {
		return nil, errors.New("handlers: Store, Queue, Health and Metrics are required")
	}
	s := &server{Deps: d}
	var err error
	if s.pages, err = templates.Parse(); err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	if s.hashes, err = static.Hashes(); err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	if s.Validator == nil {
		s.Validator = forms.NewValidator()
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	return s.routes(), nil
}

// count records what became of a submission to form.
func (s *server) count(form, outcome string) {
	s.Metrics.Submissions.WithLabelValues(form, outcome).Inc()
}

// page is the data every page template gets.
type page struct {
	hashes map[string]string
}

// Static is the URL of an embedded asset, with its content hash.
func (p page) Static(name string) string { return "/static/" + name + "?v=" + p.hashes[name] }

// render executes a page template into a buffer first, so a template error
// becomes a clean 500 instead of half a page.
func (s *server) render(c echo.Context, status int, name string, data any) error {
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	return c.HTMLBlob(status, b.Bytes())
}

// wantsJSON: JSON clients get JSON answers, browsers posting HTML forms get pages.
func wantsJSON(c echo.Context) bool {
	r := c.Request()
	if strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/metrics" {
		return true
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		return true
	}
	ct := r.Header.Get(echo.HeaderContentType)
	return strings.HasPrefix(ct, echo.MIMEApplicationJSON) || (r.Method != http.MethodPost && !strings.Contains(r.Header.Get("Accept"), "text/html"))
}
