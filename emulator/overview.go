package emulator

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

//go:embed overview.html
var overviewFS embed.FS

// overviewTmpl is parsed at start-up so that a broken template fails the
// first test, not the first visitor.
var overviewTmpl = template.Must(template.ParseFS(overviewFS, "overview.html"))

type overviewPage struct {
	URL       string
	Authority string
	ClientID  string
	Tables    []tableSummary
	Stats     Stats
	Config    string
}

// serveOverview is the read-only page at /, for a person running
// `make run` to see what arrived. It needs no token and changes nothing.
func (s *Server) serveOverview(w http.ResponseWriter, r *http.Request) {
	page := overviewPage{
		URL:       baseURL(r),
		Authority: baseURL(r) + "/" + s.tenant,
		ClientID:  s.clientID,
		Tables:    s.store.summary(20),
		Stats:     s.Stats(),
		Config:    string(mustJSON(s.config())),
	}
	var buf bytes.Buffer
	if err := overviewTmpl.Execute(&buf, page); err != nil {
		s.log.Error("render overview", "err", err)
		http.Error(w, "could not render the overview", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}
