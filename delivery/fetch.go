package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
	"github.com/leadbridge/leadbridge/webhook"
)

// The fetch step: a webhook lead that arrived as ids only (Meta's
// leadgen_id, a HubSpot CRM event's objectId) is read from its platform's
// API, mapped into the source's form and validated like a form post before
// the Deliverer sees it. It runs in TaskHandler before Deliver, and its
// failures take the same retry path as a delivery's: a platform that is
// down or rate-limits is retried until the horizon; a refusal (a 4xx) or a
// lead that fails the form's rules goes to the failed list with the reason.

// Fetcher reads thin webhook leads from their platforms. It is safe for
// concurrent use.
type Fetcher struct {
	Sources   map[string]*webhook.Source // by id, as the API has them
	Forms     forms.Set
	Validator *forms.Validator // nil: a new one
	Client    *http.Client     // nil: one whose timeout backs up Timeout
	Timeout   time.Duration    // per request; 0: 30 s
}

// maxFetched bounds what is read of a platform's answer: a lead is a few KB.
const maxFetched = 1 << 20

// FetchError is a thin lead that could not be read, or that was read and
// does not fit its form. Classify turns it into a Verdict: Transient ones
// are retried, the others fail with Category and Message. Message never
// holds a token or a URL with one.
type FetchError struct {
	Category  string // a submission.Category*
	Status    int    // the platform's HTTP status, if it answered
	Code      string // the platform's error code or type
	Message   string
	Transient bool
}

func (e *FetchError) Error() string { return e.Message }

// fetch reads rec's lead from its platform if it is a thin lead not read
// yet, records what was read on the submission (valid or not, so that an
// admin can see and correct it) and leaves the form's clean values in
// rec.Fields for Deliver.
func (h *TaskHandler) fetch(ctx context.Context, rec *submission.Record) error {
	if rec.Fetch == nil {
		return nil // not a thin lead: intake validated it
	}
	if rec.Fetch.Done() {
		// Read before: what was read failed the form's rules, or the
		// delivery failed after it. Whatever a person changed since, the
		// fields pass the form's rules before they go to the CRM.
		if h.Fetcher == nil {
			return nil
		}
		return h.Fetcher.check(rec)
	}
	if h.Fetcher == nil {
		return &FetchError{Category: submission.CategoryConfiguration,
			Message: "this lead arrived as ids only and must be read from " + platformOf(rec.Fetch.From) + ", but this worker reads no webhook leads"}
	}
	fields, err := h.Fetcher.Fetch(ctx, rec)
	if fields != nil {
		if _, serr := h.Store.Fetched(context.WithoutCancel(ctx), rec.ID, rec.AttemptID, fields); serr != nil {
			return fmt.Errorf("record the fetched lead: %w", serr)
		}
		rec.Fields = fields
	}
	return err
}

// Fetch reads rec's lead and maps it with its source's mapping. It returns
// the form's clean values; or, with a *FetchError of category invalid_data,
// the values as read when they fail the form's rules; or no values and a
// *FetchError (or a context error) when the lead could not be read.
func (f *Fetcher) Fetch(ctx context.Context, rec *submission.Record) (map[string]string, error) {
	src, ok := f.Sources[rec.Source]
	if !ok {
		return nil, &FetchError{Category: submission.CategoryConfiguration,
			Message: fmt.Sprintf("webhook source %q is not configured on this worker; its lead cannot be read", rec.Source)}
	}
	form, ok := f.Forms[rec.Form]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownForm, rec.Form)
	}
	var body []byte
	var err error
	switch rec.Fetch.From {
	case webhook.FetchMetaGraph:
		body, err = f.graphLead(ctx, src, rec.Fetch.ID)
	case webhook.FetchHubSpotCRM:
		body, err = f.hubspotObject(ctx, src, rec.Fetch)
	default:
		err = &FetchError{Category: submission.CategoryConfiguration, Message: fmt.Sprintf("no way to read a lead from %q", rec.Fetch.From)}
	}
	if err != nil {
		return nil, err
	}
	values, err := src.MapFetched(body)
	if err != nil {
		return nil, &FetchError{Category: submission.CategoryUnavailable, Transient: true,
			Message: platformOf(rec.Fetch.From) + " answered with a lead that is not JSON"}
	}
	clean, err := f.validate(src.ID, form, rec.Fetch.From, values)
	if err == nil {
		return clean, nil
	}
	kept := make(map[string]string, len(values))
	for name, val := range values {
		if _, ok := form.Field(name); ok {
			kept[name] = val
		}
	}
	return kept, err
}

// check validates the fields of a thin lead read earlier.
func (f *Fetcher) check(rec *submission.Record) error {
	form, ok := f.Forms[rec.Form]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownForm, rec.Form)
	}
	clean, err := f.validate(rec.Source, form, rec.Fetch.From, rec.Fields)
	if err == nil {
		rec.Fields = clean
	}
	return err
}

// validate runs the form's rules on values read from a platform: the clean
// values, or a FetchError of category invalid_data naming every problem.
func (f *Fetcher) validate(source string, form *forms.Form, from string, values map[string]string) (map[string]string, error) {
	v := f.Validator
	if v == nil {
		v = forms.NewValidator()
	}
	clean, problems := v.Clean(form, values)
	if problems == nil {
		return clean, nil
	}
	names := make([]string, 0, len(problems))
	for n := range problems {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		names[i] = n + ": " + problems[n]
	}
	return nil, &FetchError{Category: submission.CategoryInvalidData,
		Message: fmt.Sprintf("the lead read from %s does not pass form %s's rules (%s); correct it and retry, or fix source %s's fields: mapping",
			platformOf(from), form.ID, strings.Join(names, "; "), source)}
}

func platformOf(from string) string {
	switch from {
	case webhook.FetchMetaGraph:
		return "Meta's Graph API"
	case webhook.FetchHubSpotCRM:
		return "HubSpot's CRM API"
	}
	return from
}

// graphLead is GET {graph}/{version}/{leadgen id}?access_token=…, as
// developers.facebook.com/docs/marketing-api/guides/lead-ads/retrieving
// documents it; the answer holds field_data.
func (f *Fetcher) graphLead(ctx context.Context, src *webhook.Source, id string) ([]byte, error) {
	if !src.API.Token.Set() {
		return nil, &FetchError{Category: submission.CategoryConfiguration, Message: "source " + src.ID + " has no access_token to read leads with"}
	}
	u := src.API.BaseURL + "/" + src.API.Version + "/" + url.PathEscape(id) + "?access_token=" + url.QueryEscape(src.API.Token.Expose())
	status, body, err := f.get(ctx, u, nil, webhook.FetchMetaGraph)
	if err != nil || status == http.StatusOK {
		return body, err
	}
	return nil, graphError(status, body)
}

// graphError classifies a Graph API error answer
// ({"error":{"message","type","code","error_subcode","is_transient"}}) as
// developers.facebook.com/docs/graph-api/using-graph-api/error-handling
// says: codes 1 and 2 are downtime and 4, 17, 32 and 613 rate limits, to
// be retried like a 5xx or a 429; any other 4xx is a refusal — a token
// (190, 102), a permission (10, 200–299) or a lead the settings cannot
// read — that a person must look at.
func graphError(status int, body []byte) error {
	var e struct {
		Error struct {
			Message     string `json:"message"`
			Type        string `json:"type"`
			Code        int    `json:"code"`
			Subcode     int    `json:"error_subcode"`
			IsTransient bool   `json:"is_transient"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	ge := e.Error
	fe := &FetchError{Status: status, Category: submission.CategoryConfiguration}
	if ge.Code != 0 {
		fe.Code = fmt.Sprintf("%s %d", ge.Type, ge.Code)
	}
	msg := ge.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	fe.Message = fmt.Sprintf("Meta's Graph API answered %d: %s", status, msg)
	switch {
	case status >= 500 || status == http.StatusTooManyRequests || ge.IsTransient || slices.Contains([]int{1, 2, 4, 17, 32, 613}, ge.Code):
		fe.Category, fe.Transient = submission.CategoryUnavailable, true
	case ge.Code == 190 || ge.Code == 102:
		fe.Category = submission.CategoryAuth
		fe.Message += " (renew the source's access_token)"
	case ge.Code == 10 || (ge.Code >= 200 && ge.Code <= 299):
		fe.Category = submission.CategoryPermission
		fe.Message += " (the token needs leads_retrieval and the Page's permission)"
	}
	return fe
}

// hubspotPlural is the CRM API's path segment for the object types of
// HubSpot's Webhooks API events.
var hubspotPlural = map[string]string{"contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets"}

// hubspotObject is GET {api}/crm/v3/objects/{type}/{id}?properties=… with
// the private app's bearer token; the answer's properties hold the lead.
func (f *Fetcher) hubspotObject(ctx context.Context, src *webhook.Source, fe *submission.Fetch) ([]byte, error) {
	if !src.API.Token.Set() {
		return nil, &FetchError{Category: submission.CategoryConfiguration,
			Message: "HubSpot sent a " + fe.Object + " event with ids only, and source " + src.ID + " has no access_token (a private app's token with crm.objects.contacts.read) to read it with"}
	}
	plural, ok := hubspotPlural[fe.Object]
	if !ok {
		return nil, &FetchError{Category: submission.CategoryConfiguration, Message: fmt.Sprintf("HubSpot object type %q cannot be read as a lead", fe.Object)}
	}
	u := src.API.BaseURL + "/crm/v3/objects/" + plural + "/" + url.PathEscape(fe.ID)
	if props := src.FetchProperties(); len(props) > 0 {
		u += "?properties=" + url.QueryEscape(strings.Join(props, ","))
	}
	status, body, err := f.get(ctx, u, http.Header{"Authorization": {"Bearer " + src.API.Token.Expose()}}, webhook.FetchHubSpotCRM)
	if err != nil || status == http.StatusOK {
		return body, err
	}
	var e struct {
		Message  string `json:"message"`
		Category string `json:"category"`
	}
	_ = json.Unmarshal(body, &e)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	out := &FetchError{Status: status, Code: e.Category, Category: submission.CategoryConfiguration,
		Message: fmt.Sprintf("HubSpot's CRM API answered %d: %s", status, e.Message)}
	switch {
	case status >= 500 || status == http.StatusTooManyRequests:
		out.Category, out.Transient = submission.CategoryUnavailable, true
	case status == http.StatusUnauthorized:
		out.Category = submission.CategoryAuth
	case status == http.StatusForbidden:
		out.Category = submission.CategoryPermission
	}
	return nil, out
}

// get makes one GET with a timeout and reads a bounded answer. Transport
// failures are transient FetchErrors that name the platform and never the
// URL, whose query may hold a token.
func (f *Fetcher) get(ctx context.Context, u string, h http.Header, from string) (int, []byte, error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: timeout + 5*time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, &FetchError{Category: submission.CategoryConfiguration, Message: "the request to " + platformOf(from) + " could not be made"}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is left out: its query may hold the token
		}
		return 0, nil, &FetchError{Category: submission.CategoryUnavailable, Transient: true,
			Message: fmt.Sprintf("GET %s: %v", platformOf(from), err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFetched))
	if err != nil {
		return 0, nil, &FetchError{Category: submission.CategoryUnavailable, Transient: true,
			Message: fmt.Sprintf("GET %s: reading the answer: %v", platformOf(from), err)}
	}
	return resp.StatusCode, body, nil
}
