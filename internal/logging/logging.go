// Package logging builds the slog logger every leadbridge program uses:
// JSON lines by default, text when LEADBRIDGE_LOG_FORMAT=text.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w. format is "json" (default) or "text";
// level is debug, info (default), warn or error.
func New(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
