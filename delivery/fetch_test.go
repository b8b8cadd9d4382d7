package delivery_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/delivery"
	"github.com/leadbridge/leadbridge/internal/hooktest"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
	"github.com/leadbridge/leadbridge/webhook"
)

// fetchFixture is the worker's task handler with hooktest's sources, whose
// meta and hubspot-crm sources read from local stand-ins of Meta's Graph API
// and HubSpot's CRM API.
type fetchFixture struct {
	*fixture
	graph, hubspot *hooktest.Platform
}

func newFetchFixture(t *testing.T, vars map[string]string) *fetchFixture {
	t.Helper()
	f := &fetchFixture{fixture: newFixture(t), graph: hooktest.NewGraph(t), hubspot: hooktest.NewHubSpot(t)}
	yaml, env := hooktest.Config(f.graph.URL, f.hubspot.URL)
	for k, v := range vars {
		env[k] = v
	}
	path := testenv.WriteFile(t, "leadbridge.yaml", yaml)
	fs, err := config.LoadForms(path, hooktest.Getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	sources, err := config.LoadSources(path, hooktest.Getenv(env), fs)
	if err != nil {
		t.Fatal(err)
	}
	f.h.Deliverer.Forms = fs
	f.h.Fetcher = &delivery.Fetcher{Sources: sources, Forms: fs}
	return f
}

// thin stores a lead as webhook intake does for a delivery with ids only.
func (f *fetchFixture) thin(t *testing.T, source, from, id string) string {
	t.Helper()
	fetch := &submission.Fetch{From: from, ID: id}
	if from == webhook.FetchHubSpotCRM {
		fetch.Object, fetch.Portal = "contact", "62515"
	}
	rec := &submission.Record{Form: "leads", Source: source, Fetch: fetch}
	if _, err := f.store.Create(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

// wantLead checks the one lead in the emulator with that email.
func (f *fetchFixture) wantLead(t *testing.T, email string, want map[string]string) {
	t.Helper()
	rows := f.emu.Rows("leads", "$select=firstname,lastname,emailaddress1,telephone1,companyname&$filter=emailaddress1 eq '"+email+"'")
	if len(rows) != 1 {
		t.Fatalf("leads with %s: %d, want 1", email, len(rows))
	}
	for col, v := range want {
		if rows[0][col] != v {
			t.Errorf("lead %s = %v, want %q (row %s)", col, rows[0][col], v, testenv.Describe(rows[0]))
		}
	}
}

func TestMetaLeadIsReadFromGraphThenDelivered(t *testing.T) {
	f := newFetchFixture(t, nil)
	f.graph.Add(hooktest.Ada("444444444444"))
	id := f.thin(t, "meta", webhook.FetchMetaGraph, "444444444444")
	if err := f.process(t, id); err != nil {
		t.Fatalf("process: %v", err)
	}
	r := f.record(t, id)
	if r.Status != submission.StatusDelivered || r.Fetch.FetchedAt == nil || r.Fields["email"] != "ada@example.com" {
		t.Fatalf("record: status %s fetched %v fields %v, want delivered with the lead's fields", r.Status, r.Fetch.FetchedAt, r.Fields)
	}
	f.wantLead(t, "ada@example.com", map[string]string{"lastname": "Ada Lovelace", "telephone1": "+15551234567", "companyname": "Acme"})
	if q := f.graph.Queries(); len(q) != 1 || q[0] != "access_token="+hooktest.MetaPageToken {
		t.Errorf("Graph was asked %q, want one GET with the access token", q)
	}
}

// Graph down twice (503, its transient error JSON): the attempts are retried
// like any transient failure, then the third reads and delivers.
func TestMetaLeadAfterGraphFailedTwice(t *testing.T) {
	f := newFetchFixture(t, nil)
	f.graph.Add(hooktest.Ada("444444444445"))
	f.graph.FailNext(2, http.StatusServiceUnavailable)
	id := f.thin(t, "meta", webhook.FetchMetaGraph, "444444444445")
	for i := 1; i <= 2; i++ {
		var re *delivery.RetryError
		if err := f.process(t, id); !errors.As(err, &re) {
			t.Fatalf("attempt %d: got %v, want a RetryError", i, err)
		}
		r := f.record(t, id)
		if r.Status != submission.StatusRetrying || r.LastError.Category != submission.CategoryUnavailable ||
			!strings.Contains(r.LastError.Message, "Meta's Graph API answered 503: Service temporarily unavailable") || r.LastError.Status != 503 {
			t.Fatalf("attempt %d: status %s error %+v, want retrying with Graph's answer", i, r.Status, r.LastError)
		}
	}
	if err := f.process(t, id); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	if r := f.record(t, id); r.Status != submission.StatusDelivered || r.AttemptCount != 3 {
		t.Errorf("status %s after %d attempts, want delivered after 3", r.Status, r.AttemptCount)
	}
	f.wantLead(t, "ada@example.com", map[string]string{"lastname": "Ada Lovelace"})
	if n := f.graph.Requests(); n != 3 {
		t.Errorf("Graph got %d requests, want 3", n)
	}
}

// A 4xx from Graph is a refusal a person must look at: failed at once with
// Graph's message, and the token is in no error and no log line.
func TestGraphRefusalsFailWithTheirMessage(t *testing.T) {
	tests := []struct {
		name, token, lead string
		category, message string
	}{
		{"expired token", "EAAB-expired-token-0123", "444444444446", submission.CategoryAuth, "Invalid OAuth access token - Cannot parse access token"},
		{"unknown lead", hooktest.MetaPageToken, "999", submission.CategoryConfiguration, "Object with ID '999' does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFetchFixture(t, map[string]string{"META_TOKEN": tt.token})
			f.graph.Add(hooktest.Ada("444444444446"))
			id := f.thin(t, "meta", webhook.FetchMetaGraph, tt.lead)
			if err := f.process(t, id); err != nil {
				t.Fatalf("process: got %v, want nil (kept in the failed list)", err)
			}
			r := f.record(t, id)
			if r.Status != submission.StatusFailed || r.LastError.Category != tt.category || r.LastError.Status != 400 ||
				!strings.Contains(r.LastError.Message, tt.message) {
				t.Errorf("status %s error %+v, want failed, %s, Graph's message", r.Status, r.LastError, tt.category)
			}
			if strings.Contains(r.LastError.Message, tt.token) || strings.Contains(f.logs.String(), tt.token) {
				t.Errorf("the token is in the error or the log")
			}
		})
	}
}

// Graph unreachable: a transient failure whose message names the platform
// and not the URL, which holds the token.
func TestGraphUnreachableKeepsTheTokenOutOfErrors(t *testing.T) {
	f := newFetchFixture(t, nil)
	f.graph.Close()
	id := f.thin(t, "meta", webhook.FetchMetaGraph, "444444444447")
	var re *delivery.RetryError
	if err := f.process(t, id); !errors.As(err, &re) {
		t.Fatalf("process: got %v, want a RetryError", err)
	}
	r := f.record(t, id)
	if r.Status != submission.StatusRetrying || !strings.Contains(r.LastError.Message, "GET Meta's Graph API") {
		t.Errorf("status %s error %+v, want retrying, naming Graph", r.Status, r.LastError)
	}
	for _, text := range []string{r.LastError.Message, f.logs.String(), re.Error()} {
		if strings.Contains(text, hooktest.MetaPageToken) || strings.Contains(text, "access_token") {
			t.Errorf("the token (or its URL) is in %q", text)
		}
	}
}

// A lead read from Graph that fails the form's rules is failed with the
// field problems, its values kept for an admin; a retry without a fix
// fails the same way and does not read Graph again.
func TestFetchedLeadThatFailsTheFormsRules(t *testing.T) {
	f := newFetchFixture(t, nil)
	l := hooktest.Ada("444444444448")
	l.Email = "not-an-email"
	f.graph.Add(l)
	id := f.thin(t, "meta", webhook.FetchMetaGraph, l.ID)
	for attempt := 1; attempt <= 2; attempt++ {
		if err := f.process(t, id); err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		r := f.record(t, id)
		if r.Status != submission.StatusFailed || r.LastError.Category != submission.CategoryInvalidData ||
			!strings.Contains(r.LastError.Message, "email: must be a valid email address") || r.Fields["email"] != "not-an-email" {
			t.Fatalf("attempt %d: status %s error %+v fields %v, want failed, invalid_data, the values kept", attempt, r.Status, r.LastError, r.Fields)
		}
		if _, err := f.store.Retry(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.graph.Requests(); n != 1 {
		t.Errorf("Graph got %d requests, want 1 (the lead is read once)", n)
	}
	if rows := f.emu.Rows("leads", ""); len(rows) != 0 {
		t.Errorf("%d leads in Dataverse, want none", len(rows))
	}
}

// HubSpot's Webhooks-API event carries an objectId: the contact is read
// from the CRM API with the properties the mapping needs, then delivered.
func TestHubSpotContactIsReadFromTheCRMThenDelivered(t *testing.T) {
	f := newFetchFixture(t, nil)
	f.hubspot.Add(hooktest.Lead{ID: "123", First: "Grace", Last: "Hopper", Email: "grace@example.com", Phone: "+15550001111", Company: "Navy"})
	id := f.thin(t, "hubspot-crm", webhook.FetchHubSpotCRM, "123")
	if err := f.process(t, id); err != nil {
		t.Fatalf("process: %v", err)
	}
	if r := f.record(t, id); r.Status != submission.StatusDelivered {
		t.Fatalf("status %s error %+v, want delivered", r.Status, r.LastError)
	}
	f.wantLead(t, "grace@example.com", map[string]string{"firstname": "Grace", "lastname": "Hopper", "telephone1": "+15550001111", "companyname": "Navy"})
	q := f.hubspot.Queries()
	if len(q) != 1 || !strings.Contains(q[0], "email") || !strings.Contains(q[0], "company") {
		t.Errorf("the CRM API was asked %q, want the mapped properties", q)
	}

	// A token HubSpot refuses: failed as auth, with HubSpot's message.
	g := newFetchFixture(t, map[string]string{"HUBSPOT_TOKEN": "pat-na1-revoked"})
	id = g.thin(t, "hubspot-crm", webhook.FetchHubSpotCRM, "123")
	if err := g.process(t, id); err != nil {
		t.Fatal(err)
	}
	if r := g.record(t, id); r.Status != submission.StatusFailed || r.LastError.Category != submission.CategoryAuth ||
		!strings.Contains(r.LastError.Message, "Authentication credentials not found") {
		t.Errorf("status %s error %+v, want failed as auth with HubSpot's message", r.Status, r.LastError)
	}
}
