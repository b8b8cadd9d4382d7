package handlers

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/leadbridge/leadbridge/web/static"
)

// routes returns the Echo server with every route of cmd/api. Only the
// trusted proxies' X-Forwarded-For is believed; otherwise the socket
// address is the client's IP, so nobody can spoof it.
func (s *server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	if len(s.TrustedProxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range s.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
		e.SchemeExtractor = echo.ExtractSchemeFromHeaders(opts...)
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
		e.SchemeExtractor = echo.ExtractSchemeDirect()
	}
	e.Pre(canonicalContentType)
	e.Pre(dropUnusableRequestID)
	e.Use(middleware.RequestID())
	e.Use(s.recoverPanics)
	e.Use(s.logRequests)
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection: "0", ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
		ReferrerPolicy: "strict-origin-when-cross-origin",
	}))

	limit := middleware.BodyLimit(byteSize(s.MaxBodyBytes))

	// Health and metrics: the handler both programs serve.
	health := echo.WrapHandler(s.Health)
	e.GET("/healthz", health)
	e.GET("/readyz", health)
	e.GET("/metrics", health)
	e.GET("/openapi.json", s.openAPI) // the public API's description (openapi.go)

	// Forms: intake, hosted page, thank-you page, and what embed.js renders
	// a form from (origins checked as for posts; embed.js itself is public).
	e.GET("/f/:form", s.showForm)
	e.POST("/f/:form", s.submitForm, limit, s.checkOrigin)
	e.OPTIONS("/f/:form", s.preflight)
	e.GET("/f/:form/thanks", s.thanks)
	e.GET("/f/:form/definition", s.formDefinition)
	e.GET("/embed.js", s.embedJS)

	// Webhooks: marketing platforms' deliveries (hooks.go reads and limits
	// the body itself, verifies it, then parses) and their handshakes.
	e.POST("/hooks/:source", s.receiveHook)
	e.GET("/hooks/:source", s.hookHandshake)

	// Status API (bearer LEADBRIDGE_API_TOKEN).
	v1 := e.Group("/v1", s.requireToken)
	v1.GET("/submissions", s.listSubmissions)
	v1.GET("/submissions/:id", s.getSubmission)
	v1.POST("/submissions/:id/retry", s.retrySubmission, limit)
	v1.POST("/submissions/:id/discard", s.discardSubmission, limit)
	v1.POST("/submissions/:id/release", s.releaseSubmission, limit)

	// Admin console (admin*.go): sign-in, then pages that send a visitor
	// without a session to sign-in and actions that refuse one, each
	// action with the session's CSRF token.
	adm := e.Group("/admin", s.adminOn, s.adminHeaders)
	adm.GET("/", s.adminSlash)
	adm.GET("/login", s.adminLoginPage)
	adm.POST("/login", s.adminLogin, limit)
	adm.GET("/oidc/start", s.oidcStart)
	adm.GET("/oidc/callback", s.oidcCallback)
	in := adm.Group("", s.requireSession)
	in.GET("", s.adminOverview)
	in.GET("/failed", s.adminList)
	in.GET("/failed.csv", s.adminExport)
	in.GET("/submissions/:id", s.adminDetail)
	in.GET("/audit", s.adminAudit)
	in.GET("/erase", s.adminErasePage)
	act := in.Group("", limit, s.requireCSRF)
	act.POST("/logout", s.adminLogout)
	act.POST("/failed/retry", s.adminBulkRetry)
	act.POST("/submissions/:id/retry", s.adminRetry)
	act.POST("/submissions/:id/edit", s.adminEdit)
	act.POST("/submissions/:id/discard", s.adminDiscard)
	act.POST("/submissions/:id/release", s.adminRelease)
	act.POST("/delivery/pause", s.adminPause)
	act.POST("/delivery/resume", s.adminResume)
	act.POST("/erase", s.adminErase) // a person's right to erasure (admin_erase.go)

	// Assets, cached for good: their URLs carry a content hash.
	assets := e.Group("/static", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			return next(c)
		}
	})
	assets.StaticFS("/", static.FS)

	e.GET("/", s.home)
	return e
}
