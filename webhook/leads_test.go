package webhook_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/webhook"
)

// person is what every realistic payload below holds.
var person = map[string]string{
	"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+15551234567", "company": "Acme",
}

func with(base map[string]string, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// deliveryOf is the realistic payload of a kind as an unsigned request:
// Leads runs after Verify and reads only what it needs.
func deliveryOf(kind string, headers map[string]string) webhook.Request {
	b := bodies[kind]
	h := http.Header{"Content-Type": {b.contentType}}
	for k, v := range headers {
		h.Set(k, v)
	}
	return webhook.Request{Method: "POST", URL: testURL, Header: h, Body: []byte(b.body)}
}

func oneLead(t *testing.T, s *webhook.Source, r webhook.Request) webhook.Lead {
	t.Helper()
	leads, err := s.Leads(r)
	if err != nil {
		t.Fatalf("Leads: %v", err)
	}
	if len(leads) != 1 {
		t.Fatalf("Leads = %d leads, want 1: %+v", len(leads), leads)
	}
	return leads[0]
}

// Each platform's realistic payload, mapped with the kind's default
// mapping, gives the person's name, email, phone and company, and the
// platform's delivery id.
func TestLeadsDefaultMappings(t *testing.T) {
	fullName := with(person, map[string]string{"first_name": "", "last_name": "Ada Lovelace"})
	tests := []struct {
		kind, yml string
		headers   map[string]string
		want      webhook.Lead
	}{
		{"standard-webhooks", "", map[string]string{"Webhook-Id": "msg_2"},
			webhook.Lead{ID: "msg_2", Event: "contact.created", Values: person}},
		{"svix", "", map[string]string{"Svix-Id": "msg_3"},
			webhook.Lead{ID: "msg_3", Event: "lead.created", Values: person}},
		{"hubspot-v3", "", nil,
			webhook.Lead{ID: "sha256:", Values: person}},
		{"typeform", "", nil,
			webhook.Lead{ID: "LtWXD3crgy", Event: "form_response", Values: person}},
		{"calendly", "", nil,
			webhook.Lead{ID: "invitee.created https://api.calendly.com/scheduled_events/EV1/invitees/IN1", Event: "invitee.created",
				Values: with(person, map[string]string{"phone": "+445551234567"})}},
		{"google-ads", "", nil,
			webhook.Lead{ID: "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ", Values: fullName}},
		{"unbounce", "", nil,
			webhook.Lead{ID: "sha256:", Values: fullName}},
		{"mailchimp", "", nil,
			webhook.Lead{ID: "subscribe 8a25ff1d98 2025-01-24 15:30:00", Event: "subscribe", Values: person}},
		{"generic-hmac", "\nheader: X-Hub-Signature-256\nid_header: X-GitHub-Delivery", map[string]string{"X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
			webhook.Lead{ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Values: person}},
		{"token", "", nil,
			webhook.Lead{ID: "sha256:", Values: person}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			s := loadSource(t, "kind: "+tt.kind+tt.yml+"\nsecret: env:K\nform: demo", map[string]string{"K": wh(t, "0123456789abcdef01234567")})
			got := oneLead(t, s, deliveryOf(tt.kind, tt.headers))
			if strings.HasSuffix(tt.want.ID, ":") {
				if !strings.HasPrefix(got.ID, tt.want.ID) || len(got.ID) != len("sha256:")+64 {
					t.Errorf("ID = %q, want a %s hash", got.ID, tt.want.ID)
				}
				got.ID = tt.want.ID
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Leads =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// Explicit fields replace the defaults: a Typeform form whose refs are its
// own, and a Google form with a custom question.
func TestLeadsConfiguredMappings(t *testing.T) {
	tf := loadSource(t, `kind: typeform
		secret: env:K
		form: demo
		fields: {name: "form_response.answers[field.ref=first_name].text", mail: "form_response.answers[field.ref=readable_ref_email].email", utm: form_response.hidden.utm_source}`,
		map[string]string{"K": "k"})
	got := oneLead(t, tf, deliveryOf("typeform", nil)).Values
	if want := map[string]string{"name": "Ada", "mail": "ada@example.com", "utm": "newsletter"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Values = %v, want %v", got, want)
	}

	g := loadSource(t, `kind: google-ads
		secret: env:K
		form: demo
		fields: {form: form_id, test: is_test, name: "user_column_data[column_id=FULL_NAME].string_value", columns: user_column_data.string_value}`,
		map[string]string{"K": "0123456789abcdef"})
	got = oneLead(t, g, deliveryOf("google-ads", nil)).Values
	// Numbers as written, booleans as words; a key applied to an array
	// finds nothing (a selector or index says which element).
	if want := map[string]string{"form": "1234567890", "test": "false", "name": "Ada Lovelace"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Values = %v, want %v", got, want)
	}
}

// A Meta delivery carries ids only, possibly several leads in one POST. Each
// becomes a lead to fetch, and MapFetched maps what the Graph API returns.
func TestLeadsMeta(t *testing.T) {
	s := loadSource(t, "kind: meta-leadgen\nsecret: env:K\nverify_token: env:K\naccess_token: env:K\nform: demo", map[string]string{"K": "k"})
	batch := `{"object":"page","entry":[
	  {"id":"153125381133","time":1700000000,"changes":[
	    {"field":"leadgen","value":{"leadgen_id":"444444444444","page_id":"153125381133","form_id":"555555555555","adgroup_id":"0","ad_id":"0","created_time":1700000000}},
	    {"field":"feed","value":{"item":"status"}},
	    {"field":"leadgen","value":{"leadgen_id":"444444444445","page_id":"153125381133","form_id":"555555555555","ad_id":"6066","created_time":1700000001}}]},
	  {"id":"999","time":1700000002,"changes":[
	    {"field":"leadgen","value":{"leadgen_id":444444444446,"page_id":"999","form_id":"777"}},
	    {"field":"leadgen","value":{"leadgen_id":"444444444444","page_id":"153125381133","form_id":"555555555555"}},
	    {"field":"leadgen","value":{"page_id":"999"}}]}]}`
	leads, err := s.Leads(webhook.Request{Header: http.Header{}, Body: []byte(batch)})
	if err != nil {
		t.Fatal(err)
	}
	want := []webhook.Lead{
		{ID: "444444444444", Event: "leadgen", Fetch: &webhook.Fetch{From: webhook.FetchMetaGraph, ID: "444444444444", Page: "153125381133", Form: "555555555555", Ad: "0"}},
		{ID: "444444444445", Event: "leadgen", Fetch: &webhook.Fetch{From: webhook.FetchMetaGraph, ID: "444444444445", Page: "153125381133", Form: "555555555555", Ad: "6066"}},
		{ID: "444444444446", Event: "leadgen", Fetch: &webhook.Fetch{From: webhook.FetchMetaGraph, ID: "444444444446", Page: "999", Form: "777"}},
	}
	if !reflect.DeepEqual(leads, want) {
		t.Errorf("Leads =\n%+v\nwant\n%+v", leads, want)
	}

	graph := `{"id":"444444444444","created_time":"2023-11-14T22:13:20+0000","ad_id":"0","form_id":"555555555555","field_data":[
	  {"name":"email","values":["ada@example.com"]},{"name":"full_name","values":["Ada Lovelace"]},
	  {"name":"phone_number","values":["+15551234567"]},{"name":"company_name","values":["Acme"]}]}`
	values, err := s.MapFetched([]byte(graph))
	if err != nil {
		t.Fatal(err)
	}
	if want := with(person, map[string]string{"first_name": "", "last_name": "Ada Lovelace"}); !reflect.DeepEqual(values, want) {
		t.Errorf("MapFetched = %v, want %v", values, want)
	}
	if _, err := s.MapFetched([]byte("<html>")); !errors.Is(err, webhook.ErrPayload) {
		t.Errorf("MapFetched(not JSON) = %v, want ErrPayload", err)
	}
}

// HubSpot's Webhooks API sends thin CRM events, up to 100 in one request:
// each contact creation is a lead to fetch; other events are acknowledged.
func TestLeadsHubSpotEvents(t *testing.T) {
	s := loadSource(t, "kind: hubspot-v3\nsecret: env:K\nform: demo", map[string]string{"K": "k"})
	body := `[{"eventId":1,"subscriptionId":12345,"portalId":62515,"appId":54321,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW"},
	          {"eventId":2,"subscriptionId":12346,"portalId":62515,"occurredAt":1564113600001,"subscriptionType":"contact.propertyChange","objectId":123,"propertyName":"email","propertyValue":"ada@example.com"},
	          {"eventId":3,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600002,"subscriptionType":"contact.creation","attemptNumber":1,"objectId":124}]`
	leads, err := s.Leads(webhook.Request{Header: http.Header{}, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	want := []webhook.Lead{
		{ID: "1", Event: "contact.creation", Fetch: &webhook.Fetch{From: webhook.FetchHubSpotCRM, ID: "123", Portal: "62515", Object: "contact"}},
		{ID: "3", Event: "contact.creation", Fetch: &webhook.Fetch{From: webhook.FetchHubSpotCRM, ID: "124", Portal: "62515", Object: "contact"}},
	}
	if !reflect.DeepEqual(leads, want) {
		t.Errorf("Leads =\n%+v\nwant\n%+v", leads, want)
	}
	// The CRM v3 object the worker reads maps with the same defaults.
	values, err := s.MapFetched([]byte(`{"id":"123","properties":{"email":"ada@example.com","firstname":"Ada","lastname":"Lovelace","phone":"+15551234567","company":"Acme"}}`))
	if err != nil || !reflect.DeepEqual(values, person) {
		t.Errorf("MapFetched = %v, %v; want %v", values, err, person)
	}
}

// Events that carry no lead are acknowledged with no lead at all.
func TestLeadsIgnoredEvents(t *testing.T) {
	cal := loadSource(t, "kind: calendly\nsecret: env:K\nform: demo", map[string]string{"K": "k"})
	canceled := deliveryOf("calendly", nil)
	canceled.Body = []byte(strings.Replace(string(canceled.Body), "invitee.created", "invitee.canceled", 1))
	if leads, err := cal.Leads(canceled); err != nil || len(leads) != 0 {
		t.Errorf("calendly invitee.canceled = %+v, %v; want no leads", leads, err)
	}

	mc := loadSource(t, "kind: mailchimp\nsecret: env:K\nform: demo", map[string]string{"K": "0123456789abcdef"})
	unsub := webhook.Request{Header: http.Header{}, Body: []byte("type=unsubscribe&fired_at=2025-01-24+15%3A30%3A00&data[id]=8a25ff1d98&data[email]=ada%40example.com&data[action]=unsub")}
	if leads, err := mc.Leads(unsub); err != nil || len(leads) != 0 {
		t.Errorf("mailchimp unsubscribe = %+v, %v; want no leads", leads, err)
	}

	tf := loadSource(t, "kind: typeform\nsecret: env:K\nform: demo\nevents: [form_response, form_response_partial]", map[string]string{"K": "k"})
	partial := deliveryOf("typeform", nil)
	partial.Body = []byte(strings.Replace(string(partial.Body), `"event_type":"form_response"`, `"event_type":"form_response_partial"`, 1))
	if leads, err := tf.Leads(partial); err != nil || len(leads) != 1 {
		t.Errorf("typeform partial with events configured = %+v, %v; want one lead", leads, err)
	}
}

func TestLeadsGoogleTest(t *testing.T) {
	s := loadSource(t, "kind: google-ads\nsecret: env:K\nform: demo", map[string]string{"K": "0123456789abcdef"})
	r := deliveryOf("google-ads", nil)
	r.Body = []byte(strings.Replace(string(r.Body), `"is_test":false`, `"is_test":true`, 1))
	if l := oneLead(t, s, r); !l.Test {
		t.Errorf("Test = false for is_test: true")
	}
}

// Zapier's "wrap request in array" sends a list of leads.
func TestLeadsArrayOfFlatLeads(t *testing.T) {
	s := loadSource(t, "kind: token\nsecret: env:K\nform: demo\nid_header: X-Request-Id", map[string]string{"K": "0123456789abcdef"})
	body := `[{"email":"ada@example.com","last_name":"Lovelace"},{"email":"grace@example.com","last_name":"Hopper"}]`
	r := webhook.Request{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
	leads, err := s.Leads(r)
	if err != nil || len(leads) != 2 {
		t.Fatalf("Leads = %+v, %v; want two", leads, err)
	}
	if leads[0].ID == leads[1].ID || !strings.HasPrefix(leads[0].ID, "sha256:") || leads[1].Values["last_name"] != "Hopper" {
		t.Errorf("Leads = %+v; want two leads with their own hashes", leads)
	}
	r.Header.Set("X-Request-Id", "req-9")
	leads, _ = s.Leads(r)
	if leads[0].ID != "req-9#0" || leads[1].ID != "req-9#1" {
		t.Errorf("IDs = %q, %q; want req-9#0, req-9#1", leads[0].ID, leads[1].ID)
	}
}

// Without a platform id, the id is a hash of the normalized payload: a
// retry in another key order or spacing is the same delivery, another
// payload is not.
func TestLeadsHashIDs(t *testing.T) {
	s := loadSource(t, "kind: token\nsecret: env:K\nform: demo", map[string]string{"K": "0123456789abcdef"})
	id := func(contentType, body string) string {
		t.Helper()
		return oneLead(t, s, webhook.Request{Header: http.Header{"Content-Type": {contentType}}, Body: []byte(body)}).ID
	}
	a := id("application/json", `{"email":"ada@example.com","n":1.50,"tags":["a","b"]}`)
	if b := id("application/json", "{ \"tags\": [\"a\",\"b\"],\n \"n\": 1.50, \"email\": \"ada@example.com\" }"); a != b {
		t.Errorf("same JSON in another order: %s != %s", a, b)
	}
	if c := id("application/json", `{"email":"ada@example.com","n":1.5,"tags":["a","b"]}`); a == c {
		t.Errorf("1.50 and 1.5 are different payloads as sent, and gave one id")
	}
	if d := id("application/json", `{"email":"ada@example.com","n":1.50,"tags":["b","a"]}`); a == d {
		t.Errorf("a JSON array's order is content, and gave one id")
	}
	const form = "application/x-www-form-urlencoded"
	f := id(form, "email=ada%40example.com&tag=a&tag=b")
	if g := id(form, "tag=b&email=ada@example.com&tag=a"); f != g {
		t.Errorf("same form in another order: %s != %s", f, g)
	}
	if h := id(form, "email=ada%40example.com&tag=a"); f == h {
		t.Errorf("different forms gave one id")
	}
	if id(form, "a=bc") == id(form, "ab=c") {
		t.Errorf("a=bc and ab=c gave one id")
	}
}

// A retry of a Standard Webhooks delivery has a new timestamp and signature
// but the same webhook-id, and so the same lead ID.
func TestLeadsRetryKeepsID(t *testing.T) {
	sc := schemes(t)[0]
	s := sc.load(t)
	first := oneLead(t, s, deliveryOf("standard-webhooks", map[string]string{"Webhook-Id": "msg_9", "Webhook-Timestamp": "1700000000", "Webhook-Signature": "v1,AAAA"}))
	retry := oneLead(t, s, deliveryOf("standard-webhooks", map[string]string{"Webhook-Id": "msg_9", "Webhook-Timestamp": "1700000300", "Webhook-Signature": "v1,BBBB"}))
	if first.ID != "msg_9" || retry.ID != first.ID {
		t.Errorf("IDs = %q and %q, want msg_9 twice", first.ID, retry.ID)
	}
}

func TestLeadsPayloadErrors(t *testing.T) {
	tests := []struct {
		name, yml, contentType, body string
	}{
		{"JSON kind, not JSON", "kind: typeform", "application/json", "<xml/>"},
		{"JSON with more after it", "kind: typeform", "application/json", `{"a":1} {"b":2}`},
		{"empty JSON body", "kind: calendly", "", ""},
		{"bad form escape", "kind: mailchimp", "", "type=subscribe&data[email]=%zz"},
		{"unbounce data.json not JSON", "kind: unbounce", "application/x-www-form-urlencoded", "page_id=1&data.json=%7Bnot+json"},
		{"flat kind, form content type, bad escape", "kind: token", "application/x-www-form-urlencoded", "email=%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loadSource(t, tt.yml+"\nsecret: env:K\nform: demo", map[string]string{"K": "0123456789abcdef"})
			_, err := s.Leads(webhook.Request{Header: http.Header{"Content-Type": {tt.contentType}}, Body: []byte(tt.body)})
			if !errors.Is(err, webhook.ErrPayload) {
				t.Errorf("Leads = %v, want ErrPayload", err)
			}
		})
	}
}

// Unbounce can be set to send JSON instead of its form; and a form key that
// collides with another's place in the tree is still found by its full name.
func TestLeadsUnbounceJSONAndFormCollisions(t *testing.T) {
	s := loadSource(t, "kind: unbounce\nsecret: env:K\nform: demo\nfields: {email: email, plain: a, nested: a.b}", map[string]string{"K": "0123456789abcdef"})
	l := oneLead(t, s, webhook.Request{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"email":["ada@example.com"],"a":"x"}`)})
	if l.Values["email"] != "ada@example.com" || l.Values["plain"] != "x" {
		t.Errorf("Values = %v", l.Values)
	}
	l = oneLead(t, s, webhook.Request{Header: http.Header{}, Body: []byte(`a=1&a.b=2&data.json=%7B%7D`)})
	if l.Values["plain"] != "1" {
		t.Errorf("Values = %v, want a=1 kept", l.Values)
	}
}
