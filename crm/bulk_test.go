package crm

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestInFilter(t *testing.T) {
	got := In("emailaddress1", []string{"a@x.com", "o'brien@x.com", `back\slash"quote@x.com`, "<tag>&@x.com"})
	want := `Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=["a@x.com","o'brien@x.com","back\\slash\"quote@x.com","<tag>&@x.com"])`
	if string(got) != want {
		t.Errorf("In =\n %s\nwant\n %s", got, want)
	}
}

// In() finds every listed person in one query, case-insensitively, whatever
// the email holds (an apostrophe, a plus, a backslash, a double quote).
func TestInFindsEveryone(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)
	emails := []string{"O'Brien@example.com", "a+b@example.com", `odd\"one@example.com`, "plain@example.com"}
	for i, e := range emails {
		if _, err := c.CreateLead(ctx, "00000000-0000-4000-8000-00000000000"+string(rune('1'+i)), Row{"emailaddress1": e, "lastname": "X"}); err != nil {
			t.Fatal(err)
		}
	}
	ask := []string{"o'brien@example.com", "A+B@example.com", `odd\"one@example.com`, "nobody@example.com"}
	rows, b, err := c.FindLeadsBudget(ctx, Query{Select: []string{"leadid", "emailaddress1"}, Filter: And(In("emailaddress1", ask), EqInt("statecode", 0))})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range rows {
		got[strings.ToLower(r["emailaddress1"].(string))] = true
	}
	if len(rows) != 3 || !got["o'brien@example.com"] || !got["a+b@example.com"] || !got[`odd\"one@example.com`] {
		t.Errorf("In found %v, want the three listed people", rows)
	}
	// The emulator's limits are on by default: it sends both headers.
	if !b.ExecKnown || !b.RequestsKnown || b.ExecLeft <= 0 {
		t.Errorf("budget %+v: the capacity headers were not read", b)
	}
}

// CreateMultiple is all or nothing; a $batch with continue-on-error tells
// each operation's fate apart, and a change set is written whole or not.
func TestBulkAndBatch(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)
	ids := []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"}
	if _, err := c.CreateMultiple(ctx, "leads", []Row{
		{"leadid": ids[0], "lastname": "A"}, {"leadid": ids[1], "lastname": "B", "leadsourcecode": 99},
	}); err == nil {
		t.Fatal("CreateMultiple with a bad choice value succeeded")
	}
	if rows, _ := c.FindLeads(ctx, Query{Select: []string{"leadid"}}); len(rows) != 0 {
		t.Fatalf("a refused CreateMultiple left %d rows", len(rows))
	}
	if _, err := c.CreateMultiple(ctx, "leads", []Row{{"leadid": ids[0], "lastname": "A"}}); err != nil {
		t.Fatal(err)
	}
	res, _, err := c.Batch(ctx, [][]BatchOp{
		{{Method: http.MethodPatch, Path: "leads(" + ids[0] + ")", Header: http.Header{"If-None-Match": {"*"}}, Body: Row{"lastname": "again"}}},
		{{Method: http.MethodPatch, Path: "leads(" + ids[1] + ")", Header: http.Header{"If-None-Match": {"*"}}, Body: Row{"lastname": "B"}}},
		{
			{Method: http.MethodPatch, Path: "contacts(" + ids[2] + ")", Header: http.Header{"If-None-Match": {"*"}}, Body: Row{"lastname": "C"}},
			{Method: http.MethodPatch, Path: "leads(" + ids[2] + ")", Header: http.Header{"If-None-Match": {"*"}}, Body: Row{"lastname": "C", "leadsourcecode": 99}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0][0].Err, ErrExists) {
		t.Errorf("create of an existing key: %v, want ErrExists", res[0][0].Err)
	}
	if res[1][0].Err != nil || res[1][0].Status >= 300 {
		t.Errorf("create: %+v, want success", res[1][0])
	}
	var api *APIError
	if !errors.As(res[2][1].Err, &api) || api.Status != 400 || res[2][0].Err == nil {
		t.Errorf("change set with a bad row: %+v, want both operations failed with the 400", res[2])
	}
	if cs, _ := c.FindContacts(ctx, Query{Select: []string{"contactid"}}); len(cs) != 0 {
		t.Errorf("the refused change set left its contact: %v", cs)
	}
}
