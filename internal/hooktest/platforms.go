package hooktest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Platform is a local stand-in for an API leadbridge cannot reach in tests
// — Meta's Graph API or HubSpot's CRM API — speaking its documented JSON and
// error JSON. Leads are added with Add; FailNext makes the next requests
// fail as the platform does when it is down.
type Platform struct {
	*httptest.Server
	mu       sync.Mutex
	leads    map[string]Lead
	failNext int
	failWith int
	requests int
	queries  []string // the raw query of every request, for checking what was asked
}

// Add makes l readable by its ID.
func (p *Platform) Add(l Lead) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leads[l.ID] = l
}

// FailNext makes the next n requests fail with status (5xx: the platform's
// transient error JSON).
func (p *Platform) FailNext(n, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext, p.failWith = n, status
}

// Requests is how many requests arrived.
func (p *Platform) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Queries returns the raw query strings received, in order.
func (p *Platform) Queries() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queries...)
}

func (p *Platform) take(r *http.Request) (fail int, leads map[string]Lead) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	p.queries = append(p.queries, r.URL.RawQuery)
	if p.failNext > 0 {
		p.failNext--
		return p.failWith, nil
	}
	return 0, p.leads
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// graphPath is GET /{version}/{node id}.
var graphPath = regexp.MustCompile(`^/(v[0-9]+\.[0-9]+)/([0-9A-Za-z_]+)$`)

// NewGraph starts a stand-in for Meta's Graph API: GET /{version}/{leadgen
// id}?access_token=<MetaPageToken> answers the lead object with its
// field_data (full_name, email, phone_number, company_name), as
// developers.facebook.com/docs/marketing-api/guides/lead-ads/retrieving
// shows it; errors are Graph's {"error":{message,type,code,…}} with
// Graph's statuses (400 for a bad token or an unknown id, 500/503 with
// code 1/2 when it is down).
func NewGraph(t testing.TB) *Platform {
	p := &Platform{leads: map[string]Lead{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail, leads := p.take(r)
		graphErr := func(status int, typ string, code int, msg string, transient bool) {
			e := map[string]any{"message": msg, "type": typ, "code": code, "fbtrace_id": "AbCdEf123"}
			if transient {
				e["is_transient"] = true
			}
			writeJSON(w, status, map[string]any{"error": e})
		}
		if fail != 0 {
			graphErr(fail, "OAuthException", 2, "Service temporarily unavailable", true)
			return
		}
		m := graphPath.FindStringSubmatch(r.URL.Path)
		if r.Method != http.MethodGet || m == nil {
			graphErr(http.StatusBadRequest, "GraphMethodException", 100, "Unsupported request - method type: "+strings.ToLower(r.Method), false)
			return
		}
		if r.URL.Query().Get("access_token") != MetaPageToken {
			graphErr(http.StatusBadRequest, "OAuthException", 190, "Invalid OAuth access token - Cannot parse access token", false)
			return
		}
		l, ok := leads[m[2]]
		if !ok {
			graphErr(http.StatusBadRequest, "GraphMethodException", 100, "Unsupported get request. Object with ID '"+m[2]+
				"' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", false)
			return
		}
		field := func(name, v string) map[string]any { return map[string]any{"name": name, "values": []string{v}} }
		writeJSON(w, http.StatusOK, map[string]any{
			"id": l.ID, "created_time": "2026-12-01T10:00:00+0000", "ad_id": "0", "form_id": "555555555555",
			"field_data": []any{field("email", l.Email), field("full_name", l.First+" "+l.Last),
				field("phone_number", l.Phone), field("company_name", l.Company)},
		})
	}))
	t.Cleanup(p.Close)
	return p
}

// hubspotPath is GET /crm/v3/objects/{type}/{id}.
var hubspotPath = regexp.MustCompile(`^/crm/v3/objects/([a-z]+)/([0-9]+)$`)

// NewHubSpot starts a stand-in for HubSpot's CRM API: GET
// /crm/v3/objects/contacts/{id}?properties=… with Authorization: Bearer
// <HubSpotToken> answers {"id","properties":{…},"createdAt","updatedAt",
// "archived"} holding the properties asked for (and HubSpot's few
// defaults); errors are {"status":"error","message","correlationId",
// "category"} (401 bad token, 404 unknown object, 429 rate limit).
func NewHubSpot(t testing.TB) *Platform {
	p := &Platform{leads: map[string]Lead{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail, leads := p.take(r)
		hsErr := func(status int, category, msg string) {
			writeJSON(w, status, map[string]any{"status": "error", "message": msg, "correlationId": "0b8f0d37-4a1e-4c2f-9a53-1f0e8c6b8e21", "category": category})
		}
		if fail != 0 {
			hsErr(fail, "INTERNAL_ERROR", "internal error")
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+HubSpotToken {
			hsErr(http.StatusUnauthorized, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
			return
		}
		m := hubspotPath.FindStringSubmatch(r.URL.Path)
		if r.Method != http.MethodGet || m == nil || m[1] != "contacts" {
			hsErr(http.StatusNotFound, "OBJECT_NOT_FOUND", "resource not found")
			return
		}
		l, ok := leads[m[2]]
		if !ok {
			hsErr(http.StatusNotFound, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.")
			return
		}
		all := map[string]string{"email": l.Email, "firstname": l.First, "lastname": l.Last, "phone": l.Phone, "company": l.Company}
		props := map[string]string{"createdate": "2026-12-01T10:00:00.000Z", "hs_object_id": l.ID, "lastmodifieddate": "2026-12-01T10:00:00.000Z"}
		for _, name := range strings.Split(r.URL.Query().Get("properties"), ",") {
			if v, ok := all[name]; ok {
				props[name] = v
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": l.ID, "properties": props,
			"createdAt": "2026-12-01T10:00:00.000Z", "updatedAt": "2026-12-01T10:00:00.000Z", "archived": false})
	}))
	t.Cleanup(p.Close)
	return p
}
