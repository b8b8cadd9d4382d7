package webhook_test

import (
	"reflect"
	"testing"

	"github.com/leadbridge/leadbridge/webhook"
)

func TestAPISettings(t *testing.T) {
	env := map[string]string{"K": "app-secret", "VT": "verify", "AT": "page-token"}
	tests := []struct {
		name, yml string
		want      webhook.API // Token compared through Expose
		token     string
	}{
		{
			name:  "meta defaults",
			yml:   "kind: meta-leadgen\nsecret: env:K\nverify_token: env:VT\naccess_token: env:AT\nform: demo",
			want:  webhook.API{BaseURL: webhook.DefaultGraphURL, Version: webhook.DefaultGraphVersion},
			token: "page-token",
		},
		{
			name:  "meta local stand-in",
			yml:   "kind: meta-leadgen\nsecret: env:K\nverify_token: env:VT\naccess_token: env:AT\ngraph_url: http://127.0.0.1:9999/\ngraph_version: v19.0\nform: demo",
			want:  webhook.API{BaseURL: "http://127.0.0.1:9999", Version: "v19.0"},
			token: "page-token",
		},
		{
			name: "hubspot without a token (workflow webhooks need none)",
			yml:  "kind: hubspot-v3\nsecret: env:K\nform: demo",
			want: webhook.API{BaseURL: webhook.DefaultHubSpotURL},
		},
		{
			name:  "hubspot with a token",
			yml:   "kind: hubspot-v3\nsecret: env:K\naccess_token: env:AT\napi_url: https://hubspot.internal.example/\nform: demo",
			want:  webhook.API{BaseURL: "https://hubspot.internal.example"},
			token: "page-token",
		},
		{
			name: "other kinds have none",
			yml:  "kind: typeform\nsecret: env:K\nform: demo",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loadSource(t, tt.yml, env)
			got := s.API
			if got.Token.Expose() != tt.token || got.Token.Set() != (tt.token != "") {
				t.Errorf("token = %q (set %v), want %q", got.Token.Expose(), got.Token.Set(), tt.token)
			}
			got.Token = webhook.Secret{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("API = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The CRM API returns only a few properties unless asked: the source asks
// for every one its mapping reads, once.
func TestFetchProperties(t *testing.T) {
	s := loadSource(t, "kind: hubspot-v3\nsecret: env:K\nform: demo", map[string]string{"K": "k"})
	want := []string{"company", "email", "firstname", "jobtitle", "lastname", "phone", "mobilephone"}
	if got := s.FetchProperties(); !reflect.DeepEqual(got, want) {
		t.Errorf("default mapping: FetchProperties() = %v, want %v", got, want)
	}
	s = loadSource(t, "kind: hubspot-v3\nsecret: env:K\nform: demo\nfields: {email: properties.email, company: associations.company.name}",
		map[string]string{"K": "k"})
	if got := s.FetchProperties(); !reflect.DeepEqual(got, []string{"email"}) {
		t.Errorf("custom mapping: FetchProperties() = %v, want [email]", got)
	}
}
