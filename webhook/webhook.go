// Package webhook is the core of webhook intake (POST and GET /hooks/{source}):
// one verifier per signing scheme that marketing platforms use, the handshakes
// some platforms make before they deliver, the delivery ids that make a
// platform's retry harmless, and the mapping of each platform's payload onto a
// form's fields. LoadSources reads the sources section of the YAML file.
//
// The order of work for a POST is fixed, and it is the caller's:
//
//  1. read the raw body once, at most MaxBody bytes;
//  2. Source.Verify the bytes, headers, method and public URL — before any
//     parsing, so an unauthenticated sender never reaches a parser;
//  3. Source.Leads parses the verified body into leads, each with an ID that
//     the caller remembers for at least Kind.RetryHorizon, answering a repeat
//     with 2xx and no second lead;
//  4. the values go through the source's form like a form post; a Lead with
//     Fetch set carries only ids, and the worker reads the lead from the
//     platform's API and maps it with Source.MapFetched.
//
// Nothing here speaks HTTP, touches Redis or knows the CRM. Secrets are held
// in Secret values, which print, log and marshal as "[redacted]", and no error
// carries a secret, a signature or a token.
package webhook

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/leadbridge/leadbridge/flood"
)

// MaxBody is the most a caller should read of a delivery (http.MaxBytesReader)
// before Verify: far above any lead a platform sends, small enough that a
// flood of large posts cannot exhaust memory.
const MaxBody = 1 << 20

// Kind is a source's scheme: how its deliveries are authenticated, where
// their ids are and what their payloads look like.
type Kind string

// The kinds a source may have.
const (
	KindStandardWebhooks Kind = "standard-webhooks" // standardwebhooks.com; Make event subscriptions
	KindSvix             Kind = "svix"              // Svix, and senders that deliver through it
	KindHubSpotV3        Kind = "hubspot-v3"        // HubSpot v3 signatures, v1/v2 when only those are sent
	KindTypeform         Kind = "typeform"
	KindCalendly         Kind = "calendly"
	KindMetaLeadgen      Kind = "meta-leadgen" // Facebook/Instagram Lead Ads
	KindGoogleAds        Kind = "google-ads"   // Google Ads lead form webhook
	KindUnbounce         Kind = "unbounce"
	KindMailchimp        Kind = "mailchimp"
	KindGenericHMAC      Kind = "generic-hmac" // GitHub-style and custom HMAC senders
	KindToken            Kind = "token"        // a shared bearer token or HTTP Basic auth: Zapier, Make HTTP, Marketo…
)

// TokenParam is the URL query parameter that carries the secret token of the
// kinds that are authenticated by their URL (mailchimp, and unbounce unless a
// header is configured): https://…/hooks/mailchimp?key=<token>.
const TokenParam = "key"

// kindInfo is everything that differs between kinds apart from the code of
// their verifiers: one row per kind, so a new platform is one entry here.
type kindInfo struct {
	// settings are the YAML keys the kind takes besides kind, secret, form,
	// fields and events.
	settings []string
	// minSecret is the shortest secret accepted, in bytes. Where the secret
	// is the only credential sent (a token, a key in the body), it must be
	// long enough not to be guessed.
	minSecret int
	// horizon is how long the platform keeps retrying one delivery; see
	// Kind.RetryHorizon.
	horizon time.Duration
	// events are the event types that carry a lead; nil accepts every one.
	events []string
	// fields is the mapping used when a source configures none.
	fields map[string]string
}

// Default mappings. Form field names are those of the built-in demo form.
// Where the platform may send a full name only, it lands in last_name, the
// field (and Dataverse column) that a lead cannot be without.
var (
	flatFields = map[string]string{
		"email":      "email | data.email",
		"first_name": "first_name | data.first_name",
		"last_name":  "last_name | data.last_name",
		"company":    "company | data.company",
		"phone":      "phone | data.phone",
		"job_title":  "job_title | data.job_title",
		"message":    "message | data.message",
	}
	kinds = map[Kind]kindInfo{
		KindStandardWebhooks: {
			// The spec's example schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
			// 14 h, 20 h, 24 h) adds up to 75 h 35 min.
			horizon: 76 * time.Hour,
			fields:  flatFields,
		},
		KindSvix: {
			// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: 27 h 35 min.
			horizon: 28 * time.Hour,
			fields:  flatFields,
		},
		KindHubSpotV3: {
			settings: []string{"access_token", "api_url"},
			// Workflow webhooks retry for up to 3 days; the Webhooks API
			// for 24 h.
			horizon: 72 * time.Hour,
			events:  []string{"contact.creation"},
			fields: map[string]string{
				// The legacy contact shape of workflow webhooks has
				// {"value": …}; CRM v3 objects have the value itself.
				"email":      "properties.email.value | properties.email",
				"first_name": "properties.firstname.value | properties.firstname",
				"last_name":  "properties.lastname.value | properties.lastname",
				"company":    "properties.company.value | properties.company",
				"phone":      "properties.phone.value | properties.phone | properties.mobilephone.value | properties.mobilephone",
				"job_title":  "properties.jobtitle.value | properties.jobtitle",
			},
		},
		KindTypeform: {
			// A secondary source (Hookdeck): every 2–3 min for up to 10 h.
			horizon: 10 * time.Hour,
			events:  []string{"form_response"},
			fields: map[string]string{
				"email":      "form_response.answers[type=email].email",
				"phone":      "form_response.answers[type=phone_number].phone_number",
				"first_name": "form_response.answers[field.ref=first_name].text",
				"last_name":  "form_response.answers[field.ref=last_name].text | form_response.answers[field.ref=name].text",
				"company":    "form_response.answers[field.ref=company].text",
			},
		},
		KindCalendly: {
			horizon: 24 * time.Hour,
			events:  []string{"invitee.created", "routing_form_submission.created"},
			fields: map[string]string{
				"email":      "payload.email",
				"first_name": "payload.first_name",
				"last_name":  "payload.last_name | payload.name",
				"phone":      "payload.text_reminder_number | payload.questions_and_answers[question=Phone].answer | payload.questions_and_answers[question=Phone number].answer",
				"company":    "payload.questions_and_answers[question=Company].answer | payload.questions_and_answers[question=Company name].answer",
			},
		},
		KindMetaLeadgen: {
			settings: []string{"verify_token", "access_token", "graph_url", "graph_version"},
			horizon:  36 * time.Hour,
			// Applied by MapFetched to the lead read from the Graph API.
			fields: map[string]string{
				"email":      "field_data[name=email].values[0]",
				"first_name": "field_data[name=first_name].values[0]",
				"last_name":  "field_data[name=last_name].values[0] | field_data[name=full_name].values[0]",
				"phone":      "field_data[name=phone_number].values[0]",
				"company":    "field_data[name=company_name].values[0]",
				"job_title":  "field_data[name=job_title].values[0]",
			},
		},
		KindGoogleAds: {
			minSecret: 16,
			// Not documented; a week, far beyond any retry schedule seen.
			horizon: 7 * 24 * time.Hour,
			fields: map[string]string{
				"email":      "user_column_data[column_id=EMAIL].string_value",
				"first_name": "user_column_data[column_id=FIRST_NAME].string_value",
				"last_name":  "user_column_data[column_id=LAST_NAME].string_value | user_column_data[column_id=FULL_NAME].string_value",
				"phone":      "user_column_data[column_id=PHONE_NUMBER].string_value",
				"company":    "user_column_data[column_id=COMPANY_NAME].string_value",
				"job_title":  "user_column_data[column_id=JOB_TITLE].string_value",
			},
		},
		KindUnbounce: {
			settings:  []string{"header"},
			minSecret: 16,
			// Not documented; a week, as for Google.
			horizon: 7 * 24 * time.Hour,
			fields: map[string]string{
				"email":      "data.json.email",
				"first_name": "data.json.first_name",
				"last_name":  "data.json.last_name | data.json.full_name | data.json.name",
				"phone":      "data.json.phone | data.json.phone_number",
				"company":    "data.json.company | data.json.company_name",
				"message":    "data.json.message",
			},
		},
		KindMailchimp: {
			minSecret: 16,
			// Retried at increasing intervals over 75 minutes.
			horizon: 2 * time.Hour,
			events:  []string{"subscribe", "profile"},
			fields: map[string]string{
				"email":      "data[merges][EMAIL] | data[email]",
				"first_name": "data[merges][FNAME]",
				"last_name":  "data[merges][LNAME]",
				"phone":      "data[merges][PHONE]",
				"company":    "data[merges][COMPANY]",
			},
		},
		KindGenericHMAC: {
			settings: []string{"header", "prefix", "encoding", "timestamp_header", "id_header"},
			// GitHub-style senders: manual redelivery within 3 days;
			// Stripe-style ones retry for 3 days.
			horizon: 72 * time.Hour,
			fields:  flatFields,
		},
		KindToken: {
			settings:  []string{"header", "username", "id_header"},
			minSecret: 16,
			// Zapier's autoreplay ends after about 10.5 h; Make and
			// Marketo do not say, so the generic 3 days.
			horizon: 72 * time.Hour,
			fields:  flatFields,
		},
	}
)

// kindNames lists the kinds for error messages, sorted.
func kindNames() []string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, string(k))
	}
	sort.Strings(names)
	return names
}

// RetryHorizon is the least time a delivery id of this kind must be
// remembered: how long the platform goes on retrying one delivery, from its
// documentation (rounded up to the hour), or a week where it documents none
// (google-ads, unbounce). Manual redeliveries from a platform's dashboard can
// come later still; a caller may keep ids longer, never shorter.
func (k Kind) RetryHorizon() time.Duration { return kinds[k].horizon }

// Request is what a verifier sees of an HTTP request: the raw bytes and the
// parts of the request that a scheme signs or carries a token in.
type Request struct {
	// Method is the request method; HubSpot signs it.
	Method string
	// URL is the public URL the sender called, scheme and host as the
	// sender saw them (behind a proxy, rebuilt from X-Forwarded-Proto and
	// X-Forwarded-Host) and the path and query exactly as received. HubSpot
	// signs it; mailchimp and unbounce carry their token in its query.
	URL string
	// Header holds the request headers.
	Header http.Header
	// Body is the raw body, read once and not yet parsed.
	Body []byte
}

// Secret is a key, token or password from the configuration. It prints and
// marshals as "[redacted]" (slog uses the same two methods), so that a Source
// can be dumped or logged safely.
type Secret struct{ b []byte }

const redacted = "[redacted]"

// Format prints "[redacted]" for every verb, %#v included.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// MarshalText marshals as "[redacted]" (JSON, YAML, slog).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Source is one webhook source: the URL /hooks/{ID} and what arrives there.
// Sources are made by LoadSources.
type Source struct {
	ID   string
	Kind Kind
	// Form is the id of the form whose validation, mapping and delivery
	// settings apply to the source's leads.
	Form string
	// Fields maps a form field name to where its value is in a delivery
	// (in the lead read from the platform's API for meta-leadgen and for
	// HubSpot's thin events). It is the kind's default unless configured.
	Fields map[string]Path
	// Events are the event types that carry a lead; nil accepts every one.
	Events []string
	// RateLimit caps the deliveries intake takes from the source (429 with
	// Retry-After beyond it, which platforms retry); zero is no limit.
	RateLimit flood.Rate
	// Secrets are the keys, tokens or passwords the source accepts; any one
	// of them may match, so a secret is rotated by listing old and new.
	// For standard-webhooks and svix they are the decoded whsec_ keys.
	Secrets []Secret
	// VerifyTokens are the tokens meta-leadgen's subscription handshake
	// accepts (hub.verify_token).
	VerifyTokens []Secret
	// Header is, for generic-hmac, the signature header; for token, a header
	// carrying the token as it is (instead of Authorization: Bearer); for
	// unbounce, a header carrying the token (instead of the URL's key).
	Header string
	// Prefix is, for generic-hmac, the text before the signature
	// ("sha256=").
	Prefix string
	// Encoding is, for generic-hmac, "hex" or "base64".
	Encoding string
	// TimestampHeader is, for generic-hmac, the header with the Unix time
	// in seconds; when set, "<timestamp>.<body>" is signed and the time
	// must be within 5 minutes of now.
	TimestampHeader string
	// IDHeader is, for generic-hmac and token, the header carrying the
	// sender's delivery id.
	IDHeader string
	// Username is, for token, the HTTP Basic user name; the password is the
	// secret. Empty means a bearer token.
	Username string
	// API is, for meta-leadgen and hubspot-v3, where the worker reads the
	// leads that deliveries carry as ids only (see API).
	API API
}
