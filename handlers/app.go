// Package handlers is leadbridge's HTTP surface: form intake, webhook
// intake, hosted form pages, embed.js, the submission status API and the
// admin console (admin*.go), with package health's checks mounted. New
// builds it; every route is listed in routes.go; every error
// becomes a response in errors.go.
package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/metrics"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/spam"
	"github.com/leadbridge/leadbridge/submission"
	"github.com/leadbridge/leadbridge/templates"
	"github.com/leadbridge/leadbridge/web/static"
	"github.com/leadbridge/leadbridge/webhook"
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
	StoreTimeout   time.Duration // how long intake waits for Redis to make a submission durable; 0: 5 s
	// WaitReplicas > 0: a submission is durable only once that many Redis
	// replicas hold it (Redis WAIT, for at most WaitTimeout); see keep.
	WaitReplicas int
	WaitTimeout  time.Duration

	// Webhook intake.
	Sources map[string]*webhook.Source // webhook sources, by id: POST and GET /hooks/{id}
	Now     func() time.Time           // the clock of signature timestamps and form tokens; nil: time.Now

	// Website forms (docs/FLOOD.md, README "Website forms").
	PublicURL   string         // LEADBRIDGE_PUBLIC_URL: the base embed.js posts to; "": where embed.js was loaded from
	Tokens      *spam.Tokens   // signs and verifies form tokens; nil: a key of this process (tests)
	Limiter     *flood.Limiter // rate limits shared by every replica; nil: none
	RateLimitIP flood.Rate     // every form together from one address, for forms that have rate limits
	WaitingCap  int64          // a form's waiting submissions beyond which intake answers 503, unless the form sets one; 0: none
	Memory      *flood.MemoryGuard
	CaptchaHTTP *http.Client // the captcha verifications' client; nil: one with a 30 s backstop

	// The admin console (admin.go): off when Admin is zero. Redis holds its
	// sessions, login limits and audit log, and the workers' CRM health.
	Redis redis.UniversalClient
	Admin AdminConfig
}

// server is the handlers' shared state: the deps plus what New prepares.
type server struct {
	Deps
	pages    map[string]*template.Template
	hashes   map[string]string
	checkers map[string]*spam.Checker // by form id
	embed    embedScript

	adminPages map[string]*template.Template
	auditLog   *audit.Log
	entra      entra
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
	if s.adminPages, err = templates.ParseAdmin(); err != nil {
		return nil, fmt.Errorf("admin templates: %w", err)
	}
	if s.Admin.enabled() && s.Redis == nil {
		return nil, errors.New("handlers: the admin console needs Redis")
	}
	if s.Redis != nil {
		s.auditLog = audit.New(s.Redis)
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
	if s.StoreTimeout <= 0 {
		s.StoreTimeout = 5 * time.Second
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if err := s.prepareWebForms(); err != nil {
		return nil, err
	}
	return s.routes(), nil
}

// outcome counts what became of a submission to form and logs it, once:
// ids, form and outcome only — never field values (personal data) nor the
// client's address. A submission that may not have been stored is logged
// with its error by handleError instead.
func (s *server) outcome(c echo.Context, form, outcome, id string, attrs ...any) {
	s.Metrics.Submissions.WithLabelValues(form, outcome).Inc()
	if outcome != "unavailable" {
		s.Log.Info("submission", append([]any{"id", id, "form", form, "outcome", outcome, "request_id", requestID(c)}, attrs...)...)
	}
}

// page is the data every page template gets.
type page struct {
	hashes map[string]string
	Lang   string // the page's language; "" = en
}

// Static is the URL of an embedded asset, with its content hash.
func (p page) Static(name string) string { return "/static/" + name + "?v=" + p.hashes[name] }

// render executes a page template into a buffer first, so a template error
// becomes a clean 500 instead of half a page. A page that set its own
// Content-Security-Policy (a form's) keeps it; others get the strictest.
func (s *server) render(c echo.Context, status int, name string, data any) error {
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := c.Response().Header()
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	}
	return c.HTMLBlob(status, b.Bytes())
}

// wantsJSON: JSON clients get JSON answers, browsers posting HTML forms get pages.
func wantsJSON(c echo.Context) bool {
	r := c.Request()
	if strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/hooks/") || r.URL.Path == "/metrics" {
		return true
	}
	// The body's type first: a JSON post, nearly every API client's, is
	// answered without parsing its Accept header.
	ct, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if ct == echo.MIMEApplicationJSON || accepts(r, echo.MIMEApplicationJSON) {
		return true
	}
	return r.Method != http.MethodPost && !accepts(r, echo.MIMETextHTML)
}

// accepts reports whether the Accept header asks for media type mt (which
// is lower case): media types are case-insensitive, and q=0 means "not".
func accepts(r *http.Request, mt string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		t, params, err := mime.ParseMediaType(part)
		if err != nil || t != mt {
			continue
		}
		if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q == 0 {
			continue
		}
		return true
	}
	return false
}

// canonicalContentType lower-cases the Content-Type's media type and
// parameter names as a request arrives. They are case-insensitive, but
// Echo's binder and form parser compare them as written; after this every
// handler sees one spelling. (Parameter values, like a boundary, are kept.)
func canonicalContentType(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if ct := h.Get(echo.HeaderContentType); ct != "" && !plainMediaType(ct) {
			if mt, params, err := mime.ParseMediaType(ct); err == nil {
				if canon := mime.FormatMediaType(mt, params); canon != "" {
					h.Set(echo.HeaderContentType, canon)
				}
			}
		}
		return next(c)
	}
}

// plainMediaType reports whether ct is a media type already in its one
// spelling: lower case, no parameters, no spaces (as "application/json"
// usually comes), which canonicalContentType would leave as it is.
func plainMediaType(ct string) bool {
	for i := 0; i < len(ct); i++ {
		if b := ct[i]; !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '/' || b == '-' || b == '+' || b == '.') {
			return false
		}
	}
	return true
}
