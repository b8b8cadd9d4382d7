package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz: the process is up.
func (a *App) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: Redis answers, so submissions can be made durable. Anonymous
// callers learn only that; the reason is logged.
func (a *App) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := a.Redis.Ping(ctx).Err(); err != nil {
		a.Log.Warn("not ready: redis did not answer", "err", err)
		c.Response().Header().Set("Retry-After", "5")
		return c.Blob(http.StatusServiceUnavailable, echo.MIMEApplicationJSON, []byte(`{"status":"unavailable"}`))
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, []byte(`{"status":"ok"}`))
}
