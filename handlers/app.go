// Package handlers is leadbridge's HTTP surface: form intake, hosted form
// pages, the submission status API and health checks. Every route is listed
// in routes.go; every error becomes a response in errors.go.
package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"log/slog"
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

// App holds what the handlers need. Build it with New.
type App struct {
	Forms        forms.Set
	Validator    *forms.Validator
	Store        *submission.Store
	Queue        *queue.Client
	APIToken     string
	MaxBodyBytes int64
	Log          *slog.Logger
	Metrics      *metrics.Intake // nil = not counted
	Health       http.Handler    // GET /healthz, /readyz, /metrics (package health)

	pages  map[string]*template.Template
	hashes map[string]string
}

// Init parses the templates and hashes the static assets.
func (a *App) Init() error {
	var err error
	if a.pages, err = templates.Parse(); err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	if a.hashes, err = static.Hashes(); err != nil {
		return fmt.Errorf("static assets: %w", err)
	}
	if a.Validator == nil {
		a.Validator = forms.NewValidator()
	}
	if a.Log == nil {
		a.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// count records what became of a submission to form.
func (a *App) count(form, outcome string) {
	if a.Metrics != nil {
		a.Metrics.Submissions.WithLabelValues(form, outcome).Inc()
	}
}

// page is the data every page template gets.
type page struct {
	hashes map[string]string
}

// Static is the URL of an embedded asset, with its content hash.
func (p page) Static(name string) string { return "/static/" + name + "?v=" + p.hashes[name] }

// render executes a page template into a buffer first, so a template error
// becomes a clean 500 instead of half a page.
func (a *App) render(c echo.Context, status int, name string, data any) error {
	var b bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&b, "layout", data); err != nil {
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
