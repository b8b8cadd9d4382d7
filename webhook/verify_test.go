package webhook_test

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/webhook"
)

// scheme is one way of configuring a source, with a signer that makes a
// request authentic for a secret at a time, written from webhooks.md.
type scheme struct {
	name        string
	yml         string // settings besides secret and form
	secrets     [3]string
	sign        func(t testing.TB, r *webhook.Request, secret string, ts time.Time)
	signsBody   bool // a changed body must fail (false for token schemes)
	timestamped bool // a signed time must be within a window
	strip       func(r *webhook.Request)
}

func wh(t testing.TB, secret string) string { return "whsec_" + b64([]byte(secret)) }

const testURL = "https://hooks.example.com/hooks/s?utm_source=ads"

func setQuery(r *webhook.Request, key, value string) {
	u, _ := url.Parse(r.URL)
	q := u.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u.RawQuery = q.Encode()
	r.URL = u.String()
}

func schemes(t testing.TB) []scheme {
	del := func(h string) func(r *webhook.Request) {
		return func(r *webhook.Request) { r.Header.Del(h) }
	}
	tokens := [3]string{"old-token-0123456789", "new-token-0123456789", "bad-token-0123456789"}
	hmacs := [3]string{"old-secret", "new-secret", "wrong-secret"}
	return []scheme{
		{
			name: "standard-webhooks", yml: "kind: standard-webhooks",
			secrets: [3]string{wh(t, "old key of 24 bytes....."), wh(t, "new key of 24 bytes....."), wh(t, "bad key of 24 bytes.....")},
			sign: func(t testing.TB, r *webhook.Request, secret string, ts time.Time) {
				signStandard(t, r.Header, "Webhook", secret, "msg_2", ts, string(r.Body))
			},
			signsBody: true, timestamped: true, strip: del("Webhook-Signature"),
		},
		{
			name: "svix", yml: "kind: svix",
			secrets: [3]string{wh(t, "old svix key of 32 bytes........"), wh(t, "new svix key of 32 bytes........"), wh(t, "bad svix key of 32 bytes........")},
			sign: func(t testing.TB, r *webhook.Request, secret string, ts time.Time) {
				signStandard(t, r.Header, "Svix", secret, "msg_3", ts, string(r.Body))
			},
			signsBody: true, timestamped: true, strip: del("Svix-Timestamp"),
		},
		{
			name: "hubspot-v3", yml: "kind: hubspot-v3", secrets: hmacs,
			sign: func(t testing.TB, r *webhook.Request, secret string, ts time.Time) {
				signHubSpotV3(r.Header, secret, r.Method, r.URL, ts, string(r.Body))
			},
			signsBody: true, timestamped: true, strip: del("X-HubSpot-Request-Timestamp"),
		},
		{
			name: "hubspot-v3 (v2 only)", yml: "kind: hubspot-v3", secrets: hmacs,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				r.Header.Set("X-HubSpot-Signature-Version", "v2")
				r.Header.Set("X-HubSpot-Signature", sha256Hex(secret+r.Method+r.URL+string(r.Body)))
			},
			signsBody: true, strip: del("X-HubSpot-Signature"),
		},
		{
			name: "typeform", yml: "kind: typeform", secrets: hmacs,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				r.Header.Set("Typeform-Signature", "sha256="+b64(hmacSHA256([]byte(secret), string(r.Body))))
			},
			signsBody: true, strip: del("Typeform-Signature"),
		},
		{
			name: "calendly", yml: "kind: calendly", secrets: hmacs,
			sign: func(t testing.TB, r *webhook.Request, secret string, ts time.Time) {
				signCalendly(r.Header, secret, ts, string(r.Body))
			},
			signsBody: true, timestamped: true, strip: del("Calendly-Webhook-Signature"),
		},
		{
			name: "meta-leadgen", yml: "kind: meta-leadgen\nverify_token: env:VT\naccess_token: env:VT", secrets: hmacs,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				r.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(hmacSHA256([]byte(secret), string(r.Body))))
			},
			signsBody: true, strip: del("X-Hub-Signature-256"),
		},
		{
			name:    "generic-hmac (GitHub style)",
			yml:     "kind: generic-hmac\nheader: X-Hub-Signature-256\nprefix: \"sha256=\"\nid_header: X-GitHub-Delivery",
			secrets: hmacs,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				r.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(hmacSHA256([]byte(secret), string(r.Body))))
			},
			signsBody: true, strip: del("X-Hub-Signature-256"),
		},
		{
			name:    "generic-hmac (timestamped, base64)",
			yml:     "kind: generic-hmac\nheader: X-Signature\nencoding: base64\ntimestamp_header: X-Timestamp",
			secrets: hmacs,
			sign: func(t testing.TB, r *webhook.Request, secret string, ts time.Time) {
				sec := strconv.FormatInt(ts.Unix(), 10)
				r.Header.Set("X-Timestamp", sec)
				r.Header.Set("X-Signature", b64(hmacSHA256([]byte(secret), sec, ".", string(r.Body))))
			},
			signsBody: true, timestamped: true, strip: del("X-Timestamp"),
		},
		{
			name: "google-ads", yml: "kind: google-ads", secrets: tokens,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				r.Body = []byte(strings.Replace(string(r.Body), `"google_key":"`, `"google_key":"`+secret, 1))
			},
			strip: func(r *webhook.Request) {
				r.Body = []byte(strings.Replace(string(r.Body), `"google_key"`, `"other_key"`, 1))
			},
		},
		{
			name: "unbounce (URL token)", yml: "kind: unbounce", secrets: tokens,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				setQuery(r, "key", secret)
			},
			strip: func(r *webhook.Request) { setQuery(r, "key", "") },
		},
		{
			name: "unbounce (header token)", yml: "kind: unbounce\nheader: X-Webhook-Secret", secrets: tokens,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				r.Header.Set("X-Webhook-Secret", secret)
			},
			strip: del("X-Webhook-Secret"),
		},
		{
			name: "mailchimp", yml: "kind: mailchimp", secrets: tokens,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				setQuery(r, "key", secret)
			},
			strip: func(r *webhook.Request) { setQuery(r, "key", "") },
		},
		{
			name: "token (bearer)", yml: "kind: token", secrets: tokens,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				r.Header.Set("Authorization", "Bearer "+secret)
			},
			strip: del("Authorization"),
		},
		{
			name: "token (basic)", yml: "kind: token\nusername: zapier", secrets: tokens,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				r.Header.Set("Authorization", basic("zapier", secret))
			},
			strip: del("Authorization"),
		},
		{
			name: "token (header)", yml: "kind: token\nheader: X-Webhook-Secret", secrets: tokens,
			sign: func(t testing.TB, r *webhook.Request, secret string, _ time.Time) {
				r.Header.Set("X-Webhook-Secret", secret)
			},
			strip: del("X-Webhook-Secret"),
		},
	}
}

// bodies are realistic payloads per kind (shapes from webhooks.md).
var bodies = map[string]struct{ contentType, body string }{
	"standard-webhooks": {"application/json", `{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","phone":"+15551234567","company":"Acme"}}`},
	"svix":              {"application/json", `{"type":"lead.created","data":{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","phone":"+15551234567","company":"Acme"}}`},
	"hubspot-v3":        {"application/json", `{"vid":123,"properties":{"email":{"value":"ada@example.com"},"firstname":{"value":"Ada"},"lastname":{"value":"Lovelace"},"phone":{"value":"+15551234567"},"company":{"value":"Acme"}},"form-submissions":[{"form-id":"f1","timestamp":1700000000000,"page-url":"https://www.example.com/contact"}]}`},
	"typeform": {"application/json", `{"event_id":"LtWXD3crgy","event_type":"form_response","form_response":{"form_id":"lT4Z3j","token":"a3a12ec67a1365927098a606107fac15","landed_at":"2018-01-18T18:07:02Z","submitted_at":"2018-01-18T18:17:02Z","hidden":{"utm_source":"newsletter"},` +
		`"answers":[{"type":"text","text":"Ada","field":{"id":"JwWggjAKtOkA","type":"short_text","ref":"first_name"}},{"type":"text","text":"Lovelace","field":{"id":"k1","type":"short_text","ref":"last_name"}},{"type":"email","email":"ada@example.com","field":{"id":"SMEUb7VJz92Q","type":"email","ref":"readable_ref_email"}},{"type":"phone_number","phone_number":"+15551234567","field":{"id":"p1","type":"phone_number","ref":"phone"}},{"type":"text","text":"Acme","field":{"id":"c1","type":"short_text","ref":"company"}}]}}`},
	"calendly":     {"application/json", `{"event":"invitee.created","created_at":"2024-01-01T10:00:00.000000Z","payload":{"uri":"https://api.calendly.com/scheduled_events/EV1/invitees/IN1","email":"ada@example.com","name":"Ada Lovelace","first_name":"Ada","last_name":"Lovelace","text_reminder_number":"+445551234567","questions_and_answers":[{"question":"Company","answer":"Acme","position":0}],"tracking":{"utm_source":"google"},"scheduled_event":{"uri":"https://api.calendly.com/scheduled_events/EV1","start_time":"2024-01-02T10:00:00Z"}}}`},
	"meta-leadgen": {"application/json", `{"object":"page","entry":[{"id":"153125381133","time":1700000000,"changes":[{"field":"leadgen","value":{"leadgen_id":"444444444444","page_id":"153125381133","form_id":"555555555555","adgroup_id":"0","ad_id":"0","created_time":1700000000}}]}]}`},
	"generic-hmac": {"application/json", `{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","phone":"+15551234567","company":"Acme"}`},
	"google-ads":   {"application/json", `{"lead_id":"TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ","api_version":"1.0","form_id":1234567890,"campaign_id":987654321,"google_key":"","is_test":false,"gcl_id":"gcl-1","adgroup_id":111,"creative_id":222,"user_column_data":[{"column_id":"FULL_NAME","column_name":"Full Name","string_value":"Ada Lovelace"},{"column_id":"EMAIL","string_value":"ada@example.com"},{"column_id":"PHONE_NUMBER","string_value":"+15551234567"},{"column_id":"COMPANY_NAME","string_value":"Acme"}]}`},
	"unbounce": {"application/x-www-form-urlencoded", "page_id=a2838d98-4cf4-11df-a3fd-00163e372d58&page_url=http%3A%2F%2Fmy-landing-page.ca%2F&page_name=My+Landing+Page&variant=a&data.json=" +
		url.QueryEscape(`{"email":["ada@example.com"],"full_name":["Ada Lovelace"],"phone":["+15551234567"],"company":["Acme"],"ip_address":["1.1.1.1"],"page_uuid":["a2838d98-4cf4-11df-a3fd-00163e372d58"],"variant":["a"],"time_submitted":["10:57 PM UTC"],"date_submitted":["2023-06-06"],"page_url":["http://my-landing-page.ca/"],"page_name":["My Landing Page"]}`) +
		"&data.xml=%3Cform_data%3E%3C%2Fform_data%3E"},
	"mailchimp": {"application/x-www-form-urlencoded", "type=subscribe&fired_at=2025-01-24+15%3A30%3A00&data[id]=8a25ff1d98&data[list_id]=a6b5da1054" +
		"&data[email]=ada%40example.com&data[email_type]=html&data[ip_opt]=10.20.10.30&data[ip_signup]=10.20.10.30" +
		"&data[merges][EMAIL]=ada%40example.com&data[merges][FNAME]=Ada&data[merges][LNAME]=Lovelace" +
		"&data[merges][PHONE]=%2B15551234567&data[merges][COMPANY]=Acme"},
	"token": {"application/json", `{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","phone":"+15551234567","company":"Acme","source":"facebook"}`},
}

func kindOf(sc scheme) string {
	k, _, _ := strings.Cut(strings.TrimPrefix(sc.yml, "kind: "), "\n")
	return k
}

func (sc scheme) load(t testing.TB) *webhook.Source {
	t.Helper()
	env := map[string]string{"OLD": sc.secrets[0], "NEW": sc.secrets[1], "VT": "meta-verify-token"}
	return loadSource(t, sc.yml+"\nsecret: [env:OLD, env:NEW]\nform: demo", env)
}

// request is the kind's realistic delivery, signed with secret at ts.
func (sc scheme) request(t testing.TB, secret string, ts time.Time) webhook.Request {
	t.Helper()
	b := bodies[kindOf(sc)]
	r := webhook.Request{Method: "POST", URL: testURL, Header: http.Header{}, Body: []byte(b.body)}
	r.Header.Set("Content-Type", b.contentType)
	sc.sign(t, &r, secret, ts)
	return r
}

// Every kind loads with its default mapping, so none of the defaults has a
// path that does not parse.
func TestEveryKindLoadsWithDefaults(t *testing.T) {
	for _, sc := range schemes(t) {
		s := sc.load(t)
		if len(s.Fields) == 0 {
			t.Errorf("%s: no default fields", sc.name)
		}
		if s.Kind.RetryHorizon() <= 0 {
			t.Errorf("%s: no retry horizon", sc.name)
		}
	}
}

func TestVerifyEveryKind(t *testing.T) {
	now := time.Now()
	for _, sc := range schemes(t) {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.load(t)
			check := func(name string, r webhook.Request, want error) {
				t.Run(name, func(t *testing.T) {
					wantVerify(t, s, r, now, want)
					if err := s.Verify(r, now); err != nil {
						for _, secret := range sc.secrets {
							if strings.Contains(err.Error(), secret) {
								t.Errorf("error %q holds a secret", err)
							}
						}
						for _, vals := range r.Header {
							for _, v := range vals {
								if len(v) > 8 && strings.Contains(err.Error(), v) {
									t.Errorf("error %q echoes a header value", err)
								}
							}
						}
					}
				})
			}
			check("old secret (rotation)", sc.request(t, sc.secrets[0], now), nil)
			check("new secret (rotation)", sc.request(t, sc.secrets[1], now), nil)
			check("wrong secret", sc.request(t, sc.secrets[2], now), webhook.ErrNoMatch)

			missing := sc.request(t, sc.secrets[0], now)
			sc.strip(&missing)
			check("missing credential", missing, webhook.ErrMissing)

			tampered := sc.request(t, sc.secrets[0], now)
			tampered.Body = []byte(strings.Replace(string(tampered.Body), "Acme", "Acme Corp", 1))
			if string(tampered.Body) == string(sc.request(t, sc.secrets[0], now).Body) {
				tampered.Body = append(tampered.Body, ' ')
			}
			if sc.signsBody {
				check("tampered body", tampered, webhook.ErrNoMatch)
			} else {
				// Token schemes do not sign the body: the token alone is the
				// credential, which is why it must be long and kept secret.
				check("unsigned body changed", tampered, nil)
			}

			if sc.timestamped {
				check("10 minutes old", sc.request(t, sc.secrets[0], now.Add(-10*time.Minute)), webhook.ErrStale)
				check("10 minutes ahead", sc.request(t, sc.secrets[0], now.Add(10*time.Minute)), webhook.ErrStale)
				check("a year ahead", sc.request(t, sc.secrets[0], now.Add(365*24*time.Hour)), webhook.ErrStale)
				check("a minute off", sc.request(t, sc.secrets[0], now.Add(-time.Minute)), nil)
			}
		})
	}
}

func TestVerifyMalformedCredentials(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name, yml string
		headers   map[string]string
		url, body string
		want      error
	}{
		{"standard timestamp not a number", "kind: standard-webhooks", map[string]string{"Webhook-Id": "m", "Webhook-Timestamp": "soon", "Webhook-Signature": "v1,AAAA"}, "", "{}", webhook.ErrMalformed},
		{"standard signature not base64", "kind: standard-webhooks", map[string]string{"Webhook-Id": "m", "Webhook-Timestamp": strconv.FormatInt(now.Unix(), 10), "Webhook-Signature": "v1,!!!"}, "", "{}", webhook.ErrMalformed},
		{"hubspot v3 timestamp in seconds is 1970", "kind: hubspot-v3", map[string]string{"X-HubSpot-Signature-v3": "AAAA", "X-HubSpot-Request-Timestamp": strconv.FormatInt(now.Unix(), 10)}, "", "{}", webhook.ErrStale},
		{"hubspot v3 not base64", "kind: hubspot-v3", map[string]string{"X-HubSpot-Signature-v3": "!!", "X-HubSpot-Request-Timestamp": strconv.FormatInt(now.UnixMilli(), 10)}, "", "{}", webhook.ErrMalformed},
		{"hubspot nothing", "kind: hubspot-v3", nil, "", "{}", webhook.ErrMissing},
		{"typeform hex instead of base64 prefix", "kind: typeform", map[string]string{"Typeform-Signature": "sha1=abc"}, "", "{}", webhook.ErrMalformed},
		{"calendly no t", "kind: calendly", map[string]string{"Calendly-Webhook-Signature": "v1=00"}, "", "{}", webhook.ErrMalformed},
		{"calendly no v1", "kind: calendly", map[string]string{"Calendly-Webhook-Signature": "t=" + strconv.FormatInt(now.Unix(), 10)}, "", "{}", webhook.ErrMalformed},
		{"meta sha1 only", "kind: meta-leadgen\nverify_token: env:VT\naccess_token: env:VT", map[string]string{"X-Hub-Signature": "sha1=00"}, "", "{}", webhook.ErrMissing},
		{"meta not hex", "kind: meta-leadgen\nverify_token: env:VT\naccess_token: env:VT", map[string]string{"X-Hub-Signature-256": "sha256=zz"}, "", "{}", webhook.ErrMalformed},
		{"generic wrong prefix", "kind: generic-hmac\nheader: X-Sig\nprefix: \"sha256=\"", map[string]string{"X-Sig": "sha1=00"}, "", "{}", webhook.ErrMalformed},
		{"generic timestamp missing", "kind: generic-hmac\nheader: X-Sig\ntimestamp_header: X-Ts", map[string]string{"X-Sig": "00"}, "", "{}", webhook.ErrMissing},
		{"google body not JSON", "kind: google-ads", nil, "", "google_key=x", webhook.ErrMalformed},
		{"google body an array", "kind: google-ads", nil, "", `[{"google_key":"x"}]`, webhook.ErrMalformed},
		{"google key not a string", "kind: google-ads", nil, "", `{"google_key":12}`, webhook.ErrMalformed},
		{"mailchimp token in the body only", "kind: mailchimp", nil, "https://x/hooks/s", "key=old-token-0123456789", webhook.ErrMissing},
		{"mailchimp bad URL", "kind: mailchimp", nil, "https://x/%zz?key=a", "", webhook.ErrMalformed},
		{"bearer sent as basic", "kind: token", map[string]string{"Authorization": basic("u", "old-token-0123456789")}, "", "", webhook.ErrMalformed},
		{"basic sent as bearer", "kind: token\nusername: u", map[string]string{"Authorization": "Bearer old-token-0123456789"}, "", "", webhook.ErrMalformed},
		{"basic wrong user", "kind: token\nusername: u", map[string]string{"Authorization": basic("v", "old-token-0123456789")}, "", "", webhook.ErrNoMatch},
		{"basic not base64", "kind: token\nusername: u", map[string]string{"Authorization": "Basic !!"}, "", "", webhook.ErrMalformed},
		{"basic without colon", "kind: token\nusername: u", map[string]string{"Authorization": "Basic " + b64([]byte("u"))}, "", "", webhook.ErrMalformed},
		{"bearer empty", "kind: token", map[string]string{"Authorization": "Bearer "}, "", "", webhook.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := "old-token-0123456789"
			if strings.Contains(tt.yml, "standard-webhooks") {
				secret = swSecret
			}
			s := loadSource(t, tt.yml+"\nsecret: env:K\nform: demo", map[string]string{"K": secret, "VT": "vt"})
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			u := tt.url
			if u == "" {
				u = testURL
			}
			wantVerify(t, s, webhook.Request{Method: "POST", URL: u, Header: h, Body: []byte(tt.body)}, now, tt.want)
		})
	}
}

// A basic-auth source accepts the right user with any of its passwords.
func TestVerifyBasicRotation(t *testing.T) {
	s := loadSource(t, "kind: token\nusername: zapier\nsecret: [env:A, env:B]\nform: demo",
		map[string]string{"A": "first-password-0123", "B": "second-password-012"})
	for _, pass := range []string{"first-password-0123", "second-password-012"} {
		h := http.Header{"Authorization": {basic("zapier", pass)}}
		wantVerify(t, s, webhook.Request{Header: h}, time.Now(), nil)
	}
}
