package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/hooktest"
)

// TestEveryPlatformsLeadLandsInDataverse runs the api and a worker with one
// webhook source per signing scheme, and posts each platform's realistic
// payload (webhooks.md) five times — the platform's retries: the same id,
// new timestamps. Each ends as one lead in the emulator with the name,
// email, phone and company in their columns. Meta's lead is read from a
// local Graph API that fails twice first; HubSpot's thin CRM event from a
// local CRM API.
func TestEveryPlatformsLeadLandsInDataverse(t *testing.T) {
	graph, hubspot := hooktest.NewGraph(t), hooktest.NewHubSpot(t)
	graph.FailNext(2, http.StatusServiceUnavailable)
	yaml, env := hooktest.Config(graph.URL, hubspot.URL)
	s := startStack(t, options{config: yaml, env: env})
	client := &http.Client{Timeout: 30 * time.Second}

	type sent struct {
		kind hooktest.Kind
		lead hooktest.Lead
		id   string // the submission
	}
	var all []sent
	for i, k := range hooktest.Kinds() {
		l := hooktest.Lead{ID: fmt.Sprint(7000 + i), First: "Ada", Last: "Lovelace-" + k.Source,
			Email: k.Source + "@example.com", Phone: fmt.Sprintf("+1555010%04d", i), Company: "Acme " + k.Source}
		switch k.Source {
		case "meta":
			graph.Add(l)
		case "hubspot-crm":
			hubspot.Add(l)
		}
		d := k.New(s.APIURL, l, k.Secrets[i%2], time.Now())
		var first string
		for attempt := 1; attempt <= 5; attempt++ {
			k.Resign(d, k.Secrets[attempt%2], time.Now())
			resp, err := client.Do(d.Request())
			if err != nil {
				t.Fatalf("%s: POST: %v", k.Source, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var a struct {
				Leads []struct{ ID, Status string } `json:"leads"`
			}
			json.Unmarshal(body, &a)
			if resp.StatusCode != http.StatusOK || len(a.Leads) != 1 {
				t.Fatalf("%s attempt %d: got %d %s, want 200 with one lead", k.Source, attempt, resp.StatusCode, body)
			}
			if attempt == 1 {
				first = a.Leads[0].ID
			} else if a.Leads[0].Status != "duplicate" || a.Leads[0].ID != first {
				t.Errorf("%s attempt %d: %+v, want a duplicate of %s", k.Source, attempt, a.Leads[0], first)
			}
		}
		all = append(all, sent{k, l, first})
	}

	for _, x := range all {
		rec := s.waitStatus(x.id, "delivered", 60*time.Second)
		if rec["source"] != x.kind.Source || rec["action"] != "created" {
			t.Errorf("%s: record source %v action %v", x.kind.Source, rec["source"], rec["action"])
		}
		leads := s.leadsByEmail(x.lead.Email)
		if len(leads) != 1 {
			t.Errorf("%s: %d leads for %s, want 1", x.kind.Source, len(leads), x.lead.Email)
			continue
		}
		want := map[string]any{"emailaddress1": x.lead.Email, "telephone1": x.lead.Phone, "companyname": x.lead.Company,
			"firstname": x.lead.First, "lastname": x.lead.Last}
		if x.kind.FullName || x.kind.Source == "meta" {
			// One name field on the platform (Google's FULL_NAME, Unbounce's
			// full_name, Meta's full_name): it is the lead's last name.
			want["firstname"], want["lastname"] = nil, x.lead.First+" "+x.lead.Last
		}
		for col, v := range want {
			if leads[0][col] != v {
				t.Errorf("%s: lead %s = %#v, want %#v", x.kind.Source, col, leads[0][col], v)
			}
		}
	}
	if n := graph.Requests(); n != 3 {
		t.Errorf("the Graph API got %d requests, want 3 (two failures, then the lead)", n)
	}
	if m := s.get("/metrics"); !strings.Contains(m, `leadbridge_webhooks_total{outcome="duplicate",source="meta"} 4`) {
		t.Errorf("API /metrics lacks the repeats counted per source")
	}
}
