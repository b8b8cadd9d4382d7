package emulator

import (
	"net/http"
	"sync"
	"time"
)

// The request log stands in for the organisation's diagnostics, where a
// client's own request id shows up beside each call it made: a test can ask
// which Web API calls carried a given id, and with what outcome. Microsoft's
// ServiceClient sends a per-request id as x-ms-client-request-id (and a
// per-session one as x-ms-client-session-id); MSAL and other Microsoft
// clients use client-request-id. The emulator records either, preferring
// the first, for the last requestLogSize Web API requests ($batch counts
// once, as it does for the limits). Reset empties it.

const requestLogSize = 10_000

// RequestRecord is one Web API request as GET /_emulator/requests reports
// it.
type RequestRecord struct {
	Time time.Time `json:"time"`
	// Method and Path are the request's, the path without its query
	// string (it may hold alternate-key values).
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status is the response status; 0 when the answer was dropped
	// (Faults.DropAfterWriteRate) or the client went away.
	Status int `json:"status"`
	// ClientRequestID is the client's request id, from
	// x-ms-client-request-id or client-request-id (Header says which); ""
	// when the request had none.
	ClientRequestID string `json:"client_request_id"`
	Header          string `json:"client_request_id_header,omitempty"`
	// ClientSessionID is x-ms-client-session-id, when sent.
	ClientSessionID string `json:"client_session_id,omitempty"`
	// ServiceRequestID is the x-ms-service-request-id the emulator
	// answered with.
	ServiceRequestID string `json:"service_request_id,omitempty"`
	// AppID is the client id of the app registration whose token the
	// request carried; "" when it carried no valid token.
	AppID string `json:"app_id,omitempty"`
}

type requestLog struct {
	mu      sync.Mutex
	entries []RequestRecord // a ring once full
	next    int
	full    bool
	missing int64 // requests that carried no request id
}

func newRequestLog() *requestLog { return &requestLog{entries: make([]RequestRecord, 0, 256)} }

func (l *requestLog) add(rec RequestRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rec.ClientRequestID == "" {
		l.missing++
	}
	if len(l.entries) < requestLogSize {
		l.entries = append(l.entries, rec)
		return
	}
	l.entries[l.next] = rec
	l.next = (l.next + 1) % requestLogSize
	l.full = true
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries, l.next, l.full, l.missing = l.entries[:0], 0, false, 0
}

// list returns the records, oldest first, with the given client request id
// ("" for all).
func (l *requestLog) list(id string) []RequestRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []RequestRecord{}
	n := len(l.entries)
	for i := range n {
		rec := l.entries[(l.next+i)%n]
		if id == "" || rec.ClientRequestID == id {
			out = append(out, rec)
		}
	}
	return out
}

func (l *requestLog) withoutID() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.missing
}

// clientRequestID reads a request's own id, and the header it came in.
// The names are in canonical form so that the lookup allocates nothing.
func clientRequestID(h http.Header) (id, header string) {
	if v := h["X-Ms-Client-Request-Id"]; len(v) > 0 && v[0] != "" {
		return v[0], "x-ms-client-request-id"
	}
	if v := h["Client-Request-Id"]; len(v) > 0 && v[0] != "" {
		return v[0], "client-request-id"
	}
	return "", ""
}

// record adds an answered (or dropped) Web API request to the log.
func (s *Server) record(r *http.Request, w *statusRecorder, status int, start time.Time) {
	entry := RequestRecord{Time: start.UTC(), Method: r.Method, Path: r.URL.Path, Status: status,
		ServiceRequestID: getRaw(w.Header(), "x-ms-service-request-id"), AppID: w.app}
	entry.ClientRequestID, entry.Header = clientRequestID(r.Header)
	if v := r.Header["X-Ms-Client-Session-Id"]; len(v) > 0 {
		entry.ClientSessionID = v[0]
	}
	s.requests.add(entry)
}

// Requests returns the Web API requests in the log, oldest first: those
// whose client request id is clientRequestID, or all for "".
func (s *Server) Requests(clientRequestID string) []RequestRecord {
	return s.requests.list(clientRequestID)
}

func (s *Server) serveRequests(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"requests": s.Requests(r.URL.Query().Get("client_request_id"))})
}
