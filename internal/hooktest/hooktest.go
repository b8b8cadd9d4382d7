// Package hooktest makes signed webhook deliveries for leadbridge's tests
// and benchmarks of POST /hooks/{source}: one Kind per signing scheme, with
// each platform's realistic payload (shapes from shared/reference/
// webhooks.md) and a signer written from the platform's documentation —
// independent of package webhook, so that a bug there cannot hide itself.
// It also writes the YAML of one source per Kind. Imported only from tests.
package hooktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Lead is the person a delivery carries, and its delivery id.
type Lead struct {
	ID                                 string // the platform's delivery or lead id (digits suit every kind)
	First, Last, Email, Phone, Company string
}

// Ada is the person of webhooks.md's examples.
func Ada(id string) Lead {
	return Lead{ID: id, First: "Ada", Last: "Lovelace", Email: "ada@example.com", Phone: "+15551234567", Company: "Acme"}
}

// Delivery is one POST to /hooks/{source}.
type Delivery struct {
	URL    string // the full URL, query included
	Header http.Header
	Body   []byte
}

// Request is the delivery as an *http.Request (for a client, or for
// httptest's recorder: the absolute URL sets the Host).
func (d *Delivery) Request() *http.Request {
	r, err := http.NewRequest(http.MethodPost, d.URL, strings.NewReader(string(d.Body)))
	if err != nil {
		panic(err)
	}
	r.Header = d.Header.Clone()
	return r
}

// Kind is one way a platform authenticates its deliveries.
type Kind struct {
	// Source is the source id the Config gives it.
	Source string
	// Settings are its YAML settings besides secret, form and what Config
	// adds for the fetching kinds.
	Settings string
	// Secrets are an old and a new secret (both configured, for rotation)
	// and a wrong one.
	Secrets [3]string
	// SignsBody: a changed body must be refused (token schemes do not sign
	// it). Timestamped: a signed time must be within a window.
	SignsBody, Timestamped bool
	// Fetches: the delivery carries ids only; the worker reads the lead.
	Fetches bool
	// FullName: the platform sends one name, which lands in last_name.
	FullName bool

	payload func(l Lead) (contentType, body string, h http.Header)
	sign    func(d *Delivery, secret string, ts time.Time)
	// Strip removes the credential.
	Strip func(d *Delivery)
}

// New is the kind's realistic delivery of l to base+"/hooks/"+k.Source,
// signed with secret at ts.
func (k Kind) New(base string, l Lead, secret string, ts time.Time) *Delivery {
	ct, body, h := k.payload(l)
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", ct)
	h.Set("User-Agent", "hooktest/1.0")
	d := &Delivery{URL: base + "/hooks/" + k.Source + "?utm_source=ads", Header: h, Body: []byte(body)}
	k.sign(d, secret, ts)
	return d
}

// Resign signs d again at ts (a platform's retry: same body, same id, a new
// timestamp).
func (k Kind) Resign(d *Delivery, secret string, ts time.Time) { k.sign(d, secret, ts) }

func hmacSHA256(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		io.WriteString(m, p)
	}
	return m.Sum(nil)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func whsec(raw string) string { return "whsec_" + b64([]byte(raw)) }

func whsecKey(secret string) []byte {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	return k
}

func setQuery(d *Delivery, key, value string) {
	u, err := url.Parse(d.URL)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u.RawQuery = q.Encode()
	d.URL = u.String()
}

func del(h string) func(d *Delivery) { return func(d *Delivery) { d.Header.Del(h) } }

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// flat is the body of senders whose payload the user shapes (Zapier, custom).
func flat(l Lead) string {
	return js(map[string]string{"email": l.Email, "first_name": l.First, "last_name": l.Last, "phone": l.Phone, "company": l.Company,
		"source": "facebook", "zap_run": l.ID})
}

func standard(prefix string) func(d *Delivery, secret string, ts time.Time) {
	return func(d *Delivery, secret string, ts time.Time) {
		sec := strconv.FormatInt(ts.Unix(), 10)
		id := d.Header.Get(prefix + "-Id")
		d.Header.Set(prefix+"-Timestamp", sec)
		d.Header.Set(prefix+"-Signature", "v1,"+b64(hmacSHA256(whsecKey(secret), id, ".", sec, ".", string(d.Body))))
	}
}

func hubspotV3(d *Delivery, secret string, ts time.Time) {
	ms := strconv.FormatInt(ts.UnixMilli(), 10)
	d.Header.Set("X-HubSpot-Request-Timestamp", ms)
	d.Header.Set("X-HubSpot-Signature-v3", b64(hmacSHA256([]byte(secret), http.MethodPost, d.URL, string(d.Body), ms)))
}

func hmacHex(header string) func(d *Delivery, secret string, _ time.Time) {
	return func(d *Delivery, secret string, _ time.Time) {
		d.Header.Set(header, "sha256="+hex.EncodeToString(hmacSHA256([]byte(secret), string(d.Body))))
	}
}

// Kinds returns one Kind per scheme leadbridge verifies.
func Kinds() []Kind {
	hmacs := [3]string{"old-signing-secret", "new-signing-secret", "wrong-signing-secret"}
	tokens := [3]string{"old-token-0123456789abcdef", "new-token-0123456789abcdef", "bad-token-0123456789abcdef"}
	hubspotWorkflow := func(l Lead) (string, string, http.Header) {
		prop := func(v string) map[string]string { return map[string]string{"value": v} }
		return "application/json", js(map[string]any{
			"vid": json.Number(l.ID),
			"properties": map[string]any{"email": prop(l.Email), "firstname": prop(l.First), "lastname": prop(l.Last),
				"phone": prop(l.Phone), "company": prop(l.Company)},
			"form-submissions": []any{map[string]any{"form-id": "f1", "timestamp": 1700000000000, "page-url": "https://www.example.com/contact"}},
		}), nil
	}
	return []Kind{
		{
			Source: "standard", Settings: "kind: standard-webhooks",
			Secrets:   [3]string{whsec("old key of 24 bytes....."), whsec("new key of 24 bytes....."), whsec("bad key of 24 bytes.....")},
			SignsBody: true, Timestamped: true,
			payload: func(l Lead) (string, string, http.Header) {
				return "application/json", js(map[string]any{"type": "contact.created", "timestamp": "2022-11-03T20:26:10.344522Z",
						"data": map[string]string{"email": l.Email, "first_name": l.First, "last_name": l.Last, "phone": l.Phone, "company": l.Company}}),
					http.Header{"Webhook-Id": {"msg_" + l.ID}}
			},
			sign: standard("Webhook"), Strip: del("Webhook-Signature"),
		},
		{
			Source: "svix", Settings: "kind: svix",
			Secrets:   [3]string{whsec("old svix key of 32 bytes........"), whsec("new svix key of 32 bytes........"), whsec("bad svix key of 32 bytes........")},
			SignsBody: true, Timestamped: true,
			payload: func(l Lead) (string, string, http.Header) {
				return "application/json", js(map[string]any{"type": "lead.created",
						"data": map[string]string{"email": l.Email, "first_name": l.First, "last_name": l.Last, "phone": l.Phone, "company": l.Company}}),
					http.Header{"Svix-Id": {"msg_" + l.ID}}
			},
			sign: standard("Svix"), Strip: del("Svix-Timestamp"),
		},
		{
			Source: "hubspot", Settings: "kind: hubspot-v3", Secrets: hmacs, SignsBody: true, Timestamped: true,
			payload: hubspotWorkflow, sign: hubspotV3, Strip: del("X-HubSpot-Signature-v3"),
		},
		{
			// Older workflow actions sign v2 only: no timestamp.
			Source: "hubspot-v2", Settings: "kind: hubspot-v3", Secrets: hmacs, SignsBody: true,
			payload: hubspotWorkflow,
			sign: func(d *Delivery, secret string, _ time.Time) {
				sum := sha256.Sum256([]byte(secret + http.MethodPost + d.URL + string(d.Body)))
				d.Header.Set("X-HubSpot-Signature-Version", "v2")
				d.Header.Set("X-HubSpot-Signature", hex.EncodeToString(sum[:]))
			},
			Strip: del("X-HubSpot-Signature"),
		},
		{
			// The Webhooks API's thin CRM event: the contact is read from
			// HubSpot's CRM API (objectId = the lead's id).
			Source: "hubspot-crm", Settings: "kind: hubspot-v3", Secrets: hmacs, SignsBody: true, Timestamped: true, Fetches: true,
			payload: func(l Lead) (string, string, http.Header) {
				return "application/json", `[{"eventId":` + l.ID + `,"subscriptionId":12345,"portalId":62515,"appId":54321,"occurredAt":1700000000000,` +
					`"subscriptionType":"contact.creation","attemptNumber":0,"objectId":` + l.ID + `,"changeSource":"CRM","changeFlag":"NEW"}]`, nil
			},
			sign: hubspotV3, Strip: del("X-HubSpot-Request-Timestamp"),
		},
		{
			Source: "typeform", Settings: "kind: typeform", Secrets: hmacs, SignsBody: true,
			payload: func(l Lead) (string, string, http.Header) {
				answer := func(typ, key, value, ref string) map[string]any {
					return map[string]any{"type": typ, key: value, "field": map[string]string{"id": "f-" + ref, "type": typ, "ref": ref}}
				}
				return "application/json", js(map[string]any{"event_id": "ev" + l.ID, "event_type": "form_response",
					"form_response": map[string]any{"form_id": "lT4Z3j", "token": "tok" + l.ID, "submitted_at": "2018-01-18T18:17:02Z",
						"hidden": map[string]string{"utm_source": "newsletter"},
						"answers": []any{answer("text", "text", l.First, "first_name"), answer("text", "text", l.Last, "last_name"),
							answer("email", "email", l.Email, "readable_ref_email"), answer("phone_number", "phone_number", l.Phone, "phone"),
							answer("text", "text", l.Company, "company")}}}), nil
			},
			sign: func(d *Delivery, secret string, _ time.Time) {
				d.Header.Set("Typeform-Signature", "sha256="+b64(hmacSHA256([]byte(secret), string(d.Body))))
			},
			Strip: del("Typeform-Signature"),
		},
		{
			Source: "calendly", Settings: "kind: calendly", Secrets: hmacs, SignsBody: true, Timestamped: true,
			payload: func(l Lead) (string, string, http.Header) {
				return "application/json", js(map[string]any{"event": "invitee.created", "created_at": "2024-01-01T10:00:00.000000Z",
					"payload": map[string]any{"uri": "https://api.calendly.com/scheduled_events/EV1/invitees/" + l.ID,
						"email": l.Email, "name": l.First + " " + l.Last, "first_name": l.First, "last_name": l.Last,
						"text_reminder_number":  l.Phone,
						"questions_and_answers": []any{map[string]any{"question": "Company", "answer": l.Company, "position": 0}}}}), nil
			},
			sign: func(d *Delivery, secret string, ts time.Time) {
				t := strconv.FormatInt(ts.Unix(), 10)
				d.Header.Set("Calendly-Webhook-Signature", "t="+t+",v1="+hex.EncodeToString(hmacSHA256([]byte(secret), t, ".", string(d.Body))))
			},
			Strip: del("Calendly-Webhook-Signature"),
		},
		{
			// Ids only: the lead is read from the Graph API (leadgen_id = the
			// lead's id).
			Source: "meta", Settings: "kind: meta-leadgen", Secrets: hmacs, SignsBody: true, Fetches: true,
			payload: func(l Lead) (string, string, http.Header) {
				return "application/json", `{"object":"page","entry":[{"id":"153125381133","time":1700000000,"changes":[{"field":"leadgen","value":` +
					`{"leadgen_id":"` + l.ID + `","page_id":"153125381133","form_id":"555555555555","adgroup_id":"0","ad_id":"0","created_time":1700000000}}]}]}`, nil
			},
			sign: hmacHex("X-Hub-Signature-256"), Strip: del("X-Hub-Signature-256"),
		},
		{
			Source: "google", Settings: "kind: google-ads", Secrets: tokens, FullName: true,
			payload: func(l Lead) (string, string, http.Header) {
				col := func(id, v string) map[string]string { return map[string]string{"column_id": id, "string_value": v} }
				return "application/json", js(map[string]any{"lead_id": "lead-" + l.ID, "api_version": "1.0", "form_id": 1234567890,
					"campaign_id": 987654321, "google_key": "", "is_test": false, "gcl_id": "gcl-1", "adgroup_id": 111, "creative_id": 222,
					"user_column_data": []any{col("FULL_NAME", l.First+" "+l.Last), col("EMAIL", l.Email), col("PHONE_NUMBER", l.Phone),
						col("COMPANY_NAME", l.Company)}}), nil
			},
			sign: func(d *Delivery, secret string, _ time.Time) {
				var m map[string]any
				if err := json.Unmarshal(d.Body, &m); err != nil {
					panic(err)
				}
				m["google_key"] = secret
				d.Body = []byte(js(m))
			},
			Strip: func(d *Delivery) {
				d.Body = []byte(strings.Replace(string(d.Body), `"google_key"`, `"other_key"`, 1))
			},
		},
		{
			Source: "unbounce", Settings: "kind: unbounce", Secrets: tokens, FullName: true,
			payload: func(l Lead) (string, string, http.Header) {
				data := js(map[string][]string{"email": {l.Email}, "full_name": {l.First + " " + l.Last}, "phone": {l.Phone},
					"company": {l.Company}, "ip_address": {"1.1.1.1"}, "page_uuid": {"a2838d98-4cf4-11df-a3fd-00163e372d58"},
					"variant": {"a"}, "time_submitted": {"10:57 PM UTC"}, "date_submitted": {"2023-06-06"}, "lead": {l.ID}})
				v := url.Values{"page_id": {"a2838d98-4cf4-11df-a3fd-00163e372d58"}, "page_url": {"http://my-landing-page.ca/"},
					"page_name": {"My Landing Page"}, "variant": {"a"}, "data.json": {data}, "data.xml": {"<form_data></form_data>"}}
				return "application/x-www-form-urlencoded", v.Encode(), nil
			},
			sign:  func(d *Delivery, secret string, _ time.Time) { setQuery(d, "key", secret) },
			Strip: func(d *Delivery) { setQuery(d, "key", "") },
		},
		{
			Source: "mailchimp", Settings: "kind: mailchimp", Secrets: tokens,
			payload: func(l Lead) (string, string, http.Header) {
				// Mailchimp's bracketed keys, in its order (url.Values would sort them).
				q := url.QueryEscape
				return "application/x-www-form-urlencoded", "type=subscribe&fired_at=2025-01-24+15%3A30%3A00&data[id]=" + l.ID +
					"&data[list_id]=a6b5da1054&data[email]=" + q(l.Email) + "&data[email_type]=html&data[ip_opt]=10.20.10.30" +
					"&data[merges][EMAIL]=" + q(l.Email) + "&data[merges][FNAME]=" + q(l.First) + "&data[merges][LNAME]=" + q(l.Last) +
					"&data[merges][PHONE]=" + q(l.Phone) + "&data[merges][COMPANY]=" + q(l.Company), nil
			},
			sign:  func(d *Delivery, secret string, _ time.Time) { setQuery(d, "key", secret) },
			Strip: func(d *Delivery) { setQuery(d, "key", "") },
		},
		{
			Source: "github", Settings: "kind: generic-hmac\nheader: X-Hub-Signature-256\nprefix: \"sha256=\"\nid_header: X-GitHub-Delivery",
			Secrets: hmacs, SignsBody: true,
			payload: func(l Lead) (string, string, http.Header) {
				return "application/json", flat(l), http.Header{"X-Github-Delivery": {"gh-" + l.ID}}
			},
			sign: hmacHex("X-Hub-Signature-256"), Strip: del("X-Hub-Signature-256"),
		},
		{
			Source: "hmac-ts", Settings: "kind: generic-hmac\nheader: X-Signature\nencoding: base64\ntimestamp_header: X-Timestamp\nid_header: X-Delivery-Id",
			Secrets: hmacs, SignsBody: true, Timestamped: true,
			payload: func(l Lead) (string, string, http.Header) {
				return "application/json", flat(l), http.Header{"X-Delivery-Id": {"d-" + l.ID}}
			},
			sign: func(d *Delivery, secret string, ts time.Time) {
				sec := strconv.FormatInt(ts.Unix(), 10)
				d.Header.Set("X-Timestamp", sec)
				d.Header.Set("X-Signature", b64(hmacSHA256([]byte(secret), sec, ".", string(d.Body))))
			},
			Strip: del("X-Timestamp"),
		},
		{
			Source: "zapier", Settings: "kind: token\nid_header: X-Delivery-Id", Secrets: tokens,
			payload: func(l Lead) (string, string, http.Header) {
				return "application/json", flat(l), http.Header{"X-Delivery-Id": {"z-" + l.ID}}
			},
			sign:  func(d *Delivery, secret string, _ time.Time) { d.Header.Set("Authorization", "Bearer "+secret) },
			Strip: del("Authorization"),
		},
		{
			Source: "basic", Settings: "kind: token\nusername: zapier", Secrets: tokens,
			payload: func(l Lead) (string, string, http.Header) { return "application/json", flat(l), nil },
			sign: func(d *Delivery, secret string, _ time.Time) {
				d.Header.Set("Authorization", "Basic "+b64([]byte("zapier:"+secret)))
			},
			Strip: del("Authorization"),
		},
		{
			Source: "marketo", Settings: "kind: token\nheader: X-Webhook-Secret", Secrets: tokens,
			payload: func(l Lead) (string, string, http.Header) { return "application/json", flat(l), nil },
			sign:    func(d *Delivery, secret string, _ time.Time) { d.Header.Set("X-Webhook-Secret", secret) },
			Strip:   del("X-Webhook-Secret"),
		},
	}
}

// KindOf returns the Kind with that source id.
func KindOf(source string) Kind {
	for _, k := range Kinds() {
		if k.Source == source {
			return k
		}
	}
	panic("hooktest: no kind " + source)
}

// Fixed tokens of the fetching kinds.
const (
	MetaVerifyToken = "meta-verify-token-0123"
	MetaPageToken   = "EAAB-page-token-0123456789"
	HubSpotToken    = "pat-na1-0123456789abcdef"
)

// Form is the form every source of Config delivers to: the columns
// Dataverse's lead has for a name, an email, a phone and a company.
const Form = `forms:
  leads:
    title: Leads
    match: [email]
    contact: none
    fields:
      email:      {column: emailaddress1, rules: "required,email,max=100"}
      first_name: {column: firstname,     rules: "max=50"}
      last_name:  {column: lastname,      rules: "required,max=50"}
      company:    {column: companyname,   rules: "max=100"}
      phone:      {column: telephone1,    rules: "max=50"}
`

// Config is the YAML of Form and one source per Kind (old and new secret
// configured), and the environment its secret references read. graphURL
// and hubspotURL are the local stand-ins for Meta's Graph API and HubSpot's
// CRM API ("" leaves the defaults).
func Config(graphURL, hubspotURL string) (yaml string, env map[string]string) {
	var b strings.Builder
	b.WriteString(Form + "sources:\n")
	env = map[string]string{"META_VERIFY": MetaVerifyToken, "META_TOKEN": MetaPageToken, "HUBSPOT_TOKEN": HubSpotToken}
	for _, k := range Kinds() {
		name := strings.ToUpper(strings.ReplaceAll(k.Source, "-", "_"))
		env[name+"_OLD"], env[name+"_NEW"] = k.Secrets[0], k.Secrets[1]
		fmt.Fprintf(&b, "  %s:\n", k.Source)
		for _, line := range strings.Split(k.Settings, "\n") {
			fmt.Fprintf(&b, "    %s\n", line)
		}
		fmt.Fprintf(&b, "    secret: [env:%s_OLD, env:%s_NEW]\n    form: leads\n", name, name)
		switch k.Source {
		case "meta":
			b.WriteString("    verify_token: env:META_VERIFY\n    access_token: env:META_TOKEN\n")
			if graphURL != "" {
				fmt.Fprintf(&b, "    graph_url: %s\n", graphURL)
			}
		case "hubspot-crm":
			b.WriteString("    access_token: env:HUBSPOT_TOKEN\n")
			if hubspotURL != "" {
				fmt.Fprintf(&b, "    api_url: %s\n", hubspotURL)
			}
		}
	}
	return b.String(), env
}

// Getenv turns env into a getenv function.
func Getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// SortedSources lists the Kinds' source ids, sorted.
func SortedSources() []string {
	var ids []string
	for _, k := range Kinds() {
		ids = append(ids, k.Source)
	}
	sort.Strings(ids)
	return ids
}
