package handlers

import (
	"net"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/leadbridge/leadbridge/web/static"
)

// NewServer returns the Echo server with every route of cmd/api. trusted
// are the proxies whose X-Forwarded-For is believed; otherwise the socket
// address is the client's IP, so nobody can spoof it.
func NewServer(a *App, trusted []*net.IPNet) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = a.handleError
	if len(trusted) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range trusted {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	e.Use(middleware.RequestID())
	e.Use(a.recoverPanics)
	e.Use(a.logRequests)
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection: "0", ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
		ReferrerPolicy: "strict-origin-when-cross-origin",
	}))

	limit := middleware.BodyLimit(byteSize(a.MaxBodyBytes))

	// Health and metrics: the handler both programs serve.
	health := echo.WrapHandler(a.Health)
	e.GET("/healthz", health)
	e.GET("/readyz", health)
	e.GET("/metrics", health)

	// Forms: intake, hosted page, thank-you page.
	e.GET("/f/:form", a.showForm)
	e.POST("/f/:form", a.submitForm, limit, a.checkOrigin)
	e.OPTIONS("/f/:form", a.preflight)
	e.GET("/f/:form/thanks", a.thanks)

	// Status API (bearer LEADBRIDGE_API_TOKEN).
	v1 := e.Group("/v1", a.requireToken)
	v1.GET("/submissions", a.listSubmissions)
	v1.GET("/submissions/:id", a.getSubmission)
	v1.POST("/submissions/:id/retry", a.retrySubmission, limit)
	v1.POST("/submissions/:id/discard", a.discardSubmission, limit)

	// Assets, cached for good: their URLs carry a content hash.
	assets := e.Group("/static", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			return next(c)
		}
	})
	assets.StaticFS("/", static.FS)

	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/f/demo") })
	return e
}
