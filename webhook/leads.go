package webhook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ErrPayload is returned, wrapped with what is wrong, by Leads and
// MapFetched for a body they cannot read (not JSON, not a form, a data.json
// that is not JSON). The delivery was authentic, so whether to refuse it
// (4xx, and some platforms retry) or to keep it for a person to look at is
// the caller's choice.
var ErrPayload = errors.New("webhook: unreadable payload")

// Lead is one lead found in a delivery.
type Lead struct {
	// ID identifies the lead's delivery within its source: the same lead
	// retried by the platform has the same ID. The caller keeps it for at
	// least Kind.RetryHorizon and answers a repeat with 2xx and no second
	// lead. It is the platform's own id where there is one and
	// "sha256:<hex>" of the normalized payload where there is none.
	ID string
	// Event is the platform's event type ("form_response",
	// "invitee.created", "subscribe"…), "" when it names none.
	Event string
	// Values maps form field names to the text found at their paths; a field
	// whose path found nothing or an empty value is absent. Nil when Fetch
	// is set.
	Values map[string]string
	// Fetch is set when the delivery carries only ids and the lead must be
	// read from the platform's API.
	Fetch *Fetch
	// Test is set on a platform's test delivery (Google's "Send test
	// data"): acknowledge it, create no lead.
	Test bool
}

// Where a thin lead is read from.
const (
	// FetchMetaGraph: GET https://graph.facebook.com/<version>/<ID> with the
	// access token of the page Page; the answer's field_data is mapped by
	// MapFetched.
	FetchMetaGraph = "meta-graph"
	// FetchHubSpotCRM: the CRM object Object (e.g. contact) with id ID in
	// portal Portal, read through HubSpot's CRM API; its properties are
	// mapped by MapFetched.
	FetchHubSpotCRM = "hubspot-crm"
)

// Fetch is what a worker needs to read a thin lead from its platform.
type Fetch struct {
	From string // FetchMetaGraph or FetchHubSpotCRM
	ID   string // Meta's leadgen_id, HubSpot's objectId

	Page string // Meta: page_id, whose page access token reads the lead
	Form string // Meta: form_id
	Ad   string // Meta: ad_id ("" or "0" for organic leads)

	Portal string // HubSpot: portalId
	Object string // HubSpot: the object type, from subscriptionType ("contact")
}

// Leads reads a delivery that Verify has accepted and returns the leads it
// carries, each with its ID (see Lead). It never fails for a missing id: a
// hash of the normalized payload stands in. Leads whose Event is not one of
// the source's Events are left out, so an empty result with a nil error
// means "acknowledge and do nothing" (a Calendly cancellation, a Mailchimp
// unsubscribe). Two leads with one ID in the same delivery are returned once.
//
// Per kind:
//   - standard-webhooks, svix: one lead, ID the webhook-id (or svix-id),
//     Event the payload's "type".
//   - hubspot-v3: a JSON array (the Webhooks API's thin CRM events) gives a
//     lead per event, ID its eventId, Event its subscriptionType, and Fetch
//     for the object; an object (a workflow's Send-a-webhook) gives one
//     lead, ID a hash.
//   - typeform: ID event_id, else form_response.token; Event event_type.
//   - calendly: ID "<event> <payload.uri>"; Event event.
//   - meta-leadgen: a lead per leadgen change, ID its leadgen_id, with
//     Fetch; a batch of several leads gives several.
//   - google-ads: ID lead_id; Test from is_test.
//   - unbounce: ID a hash of the form's fields and values, sorted.
//   - mailchimp: ID "<type> <data[id]> <fired_at>"; Event type.
//   - generic-hmac, token: ID the IDHeader's value, else a hash. A JSON
//     array (Zapier's "wrap request in array") gives a lead per element,
//     ID "<id>#<index>", or each element's hash.
func (s *Source) Leads(r Request) ([]Lead, error) {
	doc, form, err := s.decode(r)
	if err != nil {
		return nil, err
	}
	var leads []Lead
	switch s.Kind {
	case KindMetaLeadgen:
		leads = metaLeads(doc)
	case KindHubSpotV3:
		if events, ok := doc.([]any); ok {
			leads = s.hubspotLeads(events)
		} else {
			leads = []Lead{s.lead(doc, hashOf(doc, form), "")}
		}
	case KindStandardWebhooks, KindSvix:
		id := r.Header.Get("Webhook-Id")
		if sid := r.Header.Get("Svix-Id"); sid != "" {
			id = sid
		}
		leads = s.flatLeads(doc, form, id)
	case KindGenericHMAC, KindToken:
		id := ""
		if s.IDHeader != "" {
			id = r.Header.Get(s.IDHeader)
		}
		leads = s.flatLeads(doc, form, id)
	case KindGoogleAds:
		l := s.lead(doc, firstOf(str(doc, "lead_id"), hashOf(doc, form)), "")
		l.Test = str(doc, "is_test") == "true"
		leads = []Lead{l}
	case KindTypeform:
		id := firstOf(str(doc, "event_id"), str(doc, "form_response", "token"), hashOf(doc, form))
		leads = []Lead{s.lead(doc, id, str(doc, "event_type"))}
	case KindCalendly:
		event, uri := str(doc, "event"), str(doc, "payload", "uri")
		id := hashOf(doc, form)
		if uri != "" {
			id = event + " " + uri
		}
		leads = []Lead{s.lead(doc, id, event)}
	case KindMailchimp:
		typ, dataID := form.Get("type"), form.Get("data[id]")
		id := hashOf(doc, form)
		if dataID != "" {
			id = typ + " " + dataID + " " + form.Get("fired_at")
		}
		leads = []Lead{s.lead(doc, id, typ)}
	case KindUnbounce:
		leads = []Lead{s.lead(doc, hashOf(doc, form), "")}
	}
	return s.accepted(leads), nil
}

// MapFetched maps a lead read from the platform's API — for meta-leadgen
// the Graph API's lead object ({"field_data":[{"name":…,"values":[…]}]}),
// for HubSpot the CRM object — onto the source's form fields. A body that
// is not JSON is ErrPayload.
func (s *Source) MapFetched(body []byte) (map[string]string, error) {
	doc, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	return s.values(doc), nil
}

func (s *Source) lead(doc any, id, event string) Lead {
	return Lead{ID: id, Event: event, Values: s.values(doc)}
}

func (s *Source) values(doc any) map[string]string {
	v := make(map[string]string, len(s.Fields))
	for name, p := range s.Fields {
		if t, ok := p.Lookup(doc); ok {
			v[name] = t
		}
	}
	return v
}

// accepted drops leads of events the source does not take, and repeats of
// an ID within the delivery (Meta may batch one lead twice).
func (s *Source) accepted(leads []Lead) []Lead {
	out := leads[:0]
	seen := map[string]bool{}
	for _, l := range leads {
		if l.Event != "" && s.Events != nil && !slices.Contains(s.Events, l.Event) {
			continue
		}
		if seen[l.ID] {
			continue
		}
		seen[l.ID] = true
		out = append(out, l)
	}
	return out
}

func (s *Source) flatLeads(doc any, form url.Values, id string) []Lead {
	arr, ok := doc.([]any)
	if !ok {
		return []Lead{s.lead(doc, firstOf(id, hashOf(doc, form)), str(doc, "type"))}
	}
	leads := make([]Lead, 0, len(arr))
	for i, e := range arr {
		eid := hashOf(e, nil)
		if id != "" {
			eid = id + "#" + strconv.Itoa(i)
		}
		leads = append(leads, s.lead(e, eid, str(e, "type")))
	}
	return leads
}

func (s *Source) hubspotLeads(events []any) []Lead {
	leads := make([]Lead, 0, len(events))
	for _, e := range events {
		typ := str(e, "subscriptionType")
		l := Lead{ID: firstOf(str(e, "eventId"), hashOf(e, nil)), Event: typ}
		if obj := str(e, "objectId"); obj != "" {
			object, _, _ := strings.Cut(typ, ".")
			l.Fetch = &Fetch{From: FetchHubSpotCRM, ID: obj, Portal: str(e, "portalId"), Object: object}
		} else {
			l.Values = s.values(e)
		}
		leads = append(leads, l)
	}
	return leads
}

func metaLeads(doc any) []Lead {
	var leads []Lead
	entries, _ := get(doc, "entry").([]any)
	for _, entry := range entries {
		changes, _ := get(entry, "changes").([]any)
		for _, c := range changes {
			if str(c, "field") != "leadgen" {
				continue
			}
			v := get(c, "value")
			id := str(v, "leadgen_id")
			if id == "" {
				continue
			}
			leads = append(leads, Lead{ID: id, Event: "leadgen", Fetch: &Fetch{
				From: FetchMetaGraph, ID: id,
				Page: str(v, "page_id"), Form: str(v, "form_id"), Ad: str(v, "ad_id"),
			}})
		}
	}
	return leads
}

// get walks object keys; it returns nil where there is nothing.
func get(doc any, keys ...string) any {
	for _, k := range keys {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[k]
	}
	return doc
}

// str is the text (see Path) at keys; ids are numbers on some platforms.
func str(doc any, keys ...string) string { return text(get(doc, keys...)) }

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// decode parses a verified body: a form for mailchimp, for unbounce unless
// it was sent as JSON, and for the flat kinds when the Content-Type says
// so; JSON otherwise. A form becomes a tree (see formTree); form is the
// parsed form, nil for JSON, and is what a form body's hash is made of.
func (s *Source) decode(r Request) (doc any, form url.Values, err error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isForm := mt == "application/x-www-form-urlencoded"
	switch s.Kind {
	case KindMailchimp:
		isForm = true
	case KindUnbounce:
		isForm = mt != "application/json" && !strings.HasSuffix(mt, "+json")
	case KindStandardWebhooks, KindSvix, KindGenericHMAC, KindToken:
	default:
		isForm = false
	}
	if !isForm {
		doc, err := decodeJSON(r.Body)
		return doc, nil, err
	}
	v, err := url.ParseQuery(string(r.Body))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the body is not a form: %v", ErrPayload, err)
	}
	tree := formTree(v)
	if s.Kind == KindUnbounce {
		// Unbounce sends the lead as a JSON string in the data.json field.
		if raw, ok := get(tree, "data", "json").(string); ok {
			j, err := decodeJSON([]byte(raw))
			if err != nil {
				return nil, nil, fmt.Errorf("%w: data.json: %v", ErrPayload, err)
			}
			get(tree, "data").(map[string]any)["json"] = j
		}
	}
	return tree, v, nil
}

// decodeJSON decodes one JSON value, numbers kept as written.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: the body is not JSON: %v", ErrPayload, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: the body has more after its JSON value", ErrPayload)
	}
	return v, nil
}

// formTree turns a form into the tree a Path walks: a key is cut at "." and
// at brackets, so data[merges][EMAIL] is found at data.merges.EMAIL (and at
// data[merges][EMAIL], the same path) and Unbounce's data.json at data.json.
// A key given once is a string; a key given several times is an array. A
// key that would overwrite another's place in the tree (a=1 and a[b]=2) is
// kept whole at the top instead.
func formTree(form url.Values) map[string]any {
	root := map[string]any{}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var val any = form[k][0]
		if len(form[k]) > 1 {
			arr := make([]any, len(form[k]))
			for i, s := range form[k] {
				arr[i] = s
			}
			val = arr
		}
		parts := strings.FieldsFunc(k, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
		if len(parts) == 0 || !place(root, parts, val) {
			if _, taken := root[k]; !taken {
				root[k] = val
			}
		}
	}
	return root
}

// place puts val at parts in the tree, unless something else is there.
func place(m map[string]any, parts []string, val any) bool {
	for _, p := range parts[:len(parts)-1] {
		switch next := m[p].(type) {
		case nil:
			child := map[string]any{}
			m[p] = child
			m = child
		case map[string]any:
			m = next
		default:
			return false
		}
	}
	last := parts[len(parts)-1]
	if _, taken := m[last]; taken {
		return false
	}
	m[last] = val
	return true
}

// hashOf is the id of a delivery without one: SHA-256 of the normalized
// payload. JSON is normalized by encoding it again with sorted keys and
// numbers as written; a form by sorting its keys and each key's values, so
// neither the sender's key order nor its whitespace changes the id.
func hashOf(doc any, form url.Values) string {
	h := sha256.New()
	if form != nil {
		keys := make([]string, 0, len(form))
		for k := range form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vals := slices.Clone(form[k])
			sort.Strings(vals)
			for _, val := range vals {
				// Lengths first, so that no two forms give one text.
				fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(val), val)
			}
		}
	} else {
		b, err := json.Marshal(doc)
		if err != nil {
			// Decoded JSON always encodes; a nil doc gives "null".
			b = []byte(fmt.Sprint(doc))
		}
		h.Write(b)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
