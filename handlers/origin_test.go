package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestFormsAcceptOnlyTheirOrigins(t *testing.T) {
	path := testenv.WriteFile(t, "forms.yaml", `
forms:
  contact-us:
    allowed_origins: [https://www.example.com]
    fields:
      email:     {column: emailaddress1, rules: "required,email"}
      last_name: {column: lastname, rules: required}
`)
	e := newEnvWith(t, envOptions{configFile: path}).e
	send := func(method, origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://leads.example.net/f/contact-us", strings.NewReader(`{"email":"a@b.co","last_name":"Lee"}`))
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		name, method, origin string
		want                 int
		wantACAO             string
	}{
		{"allowed origin", http.MethodPost, "https://www.example.com", 202, "https://www.example.com"},
		{"other origin", http.MethodPost, "https://evil.example", 403, ""},
		{"same origin (hosted page)", http.MethodPost, "http://leads.example.net", 202, "http://leads.example.net"},
		{"server to server, no Origin", http.MethodPost, "", 202, ""},
		{"preflight from allowed origin", http.MethodOptions, "https://www.example.com", 204, "https://www.example.com"},
		{"preflight from other origin", http.MethodOptions, "https://evil.example", 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := send(tc.method, tc.origin)
			if rec.Code != tc.want {
				t.Errorf("status: got %d, want %d (%s)", rec.Code, tc.want, rec.Body.String())
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, tc.wantACAO)
			}
		})
	}
}
