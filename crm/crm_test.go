package crm

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ann@example.com", "'ann@example.com'"},
		{"o'brien", "'o''brien'"},
		{"''", "''''''"},
		{"", "''"},
		{"it's 'quoted'", "'it''s ''quoted'''"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		name string
		got  Filter
		want string
	}{
		{"eq quotes the literal", Eq("emailaddress1", "o'brien@example.com"), "emailaddress1 eq 'o''brien@example.com'"},
		{"eq int is bare", EqInt("statecode", 0), "statecode eq 0"},
		{"and of one is that filter", And(Eq("a", "1")), "a eq '1'"},
		{"and parenthesises each", And(Eq("a", "1"), EqInt("b", 2)), "(a eq '1') and (b eq 2)"},
		{"nesting keeps precedence", And(And(Eq("a", "1"), Eq("b", "2")), EqInt("statecode", 0)), "((a eq '1') and (b eq '2')) and (statecode eq 0)"},
		{"a quote cannot close the literal", Eq("lastname", "x' or statecode eq 1 or 'y"), "lastname eq 'x'' or statecode eq 1 or ''y'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
}

func TestQueryEncode(t *testing.T) {
	q := Query{
		Select:  []string{"leadid", "emailaddress1"},
		Filter:  And(Eq("emailaddress1", "o'brien+test@example.com"), EqInt("statecode", 0)),
		OrderBy: "createdon asc",
		Top:     5,
	}
	got := q.encode()
	want := "$select=leadid%2Cemailaddress1" +
		"&$filter=%28emailaddress1%20eq%20%27o%27%27brien%2Btest%40example.com%27%29%20and%20%28statecode%20eq%200%29" +
		"&$orderby=createdon%20asc&$top=5"
	if got != want {
		t.Errorf("encode =\n %s\nwant\n %s", got, want)
	}
	for _, bad := range []string{"+", " ", "'"} {
		if strings.Contains(got, bad) {
			t.Errorf("encode = %s: contains a raw %q", got, bad)
		}
	}
	// Whatever a server does with '+' (Dataverse reads it as a space), the
	// query must decode back to exactly the filter that was built.
	vals, err := url.ParseQuery(got)
	if err != nil {
		t.Fatal(err)
	}
	if vals.Get("$filter") != string(q.Filter) || vals.Get("$select") != "leadid,emailaddress1" || vals.Get("$orderby") != "createdon asc" {
		t.Errorf("decoded = %v, want the filter %s back", vals, q.Filter)
	}

	t.Run("every special character survives", func(t *testing.T) {
		value := "a b&c=d#e%f?g/h;i:j$k,l+m'n\"o\\p\tq é 漢"
		enc := Query{Filter: Eq("companyname", value)}.encode()
		vals, err := url.ParseQuery(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := vals.Get("$filter"); got != string(Eq("companyname", value)) {
			t.Errorf("decoded %q, want %q", got, Eq("companyname", value))
		}
		if strings.ContainsAny(enc[len("$filter="):], "+ &=#?") {
			t.Errorf("encoded value %s has a character that is not percent-encoded", enc)
		}
	})
	t.Run("empty query", func(t *testing.T) {
		if got := (Query{}).encode(); got != "" {
			t.Errorf("encode = %q, want empty", got)
		}
	})
}

func TestParseAPIError(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   APIError
		text   string
	}{
		{
			name: "Dataverse envelope", status: 400,
			body: `{"error":{"code":"0x80044331","message":"A validation error occurred.  The length of the 'firstname' attribute of the 'lead' entity exceeded the maximum allowed length of '50'."}}`,
			want: APIError{Status: 400, Code: CodeMaxLength, Message: "A validation error occurred.  The length of the 'firstname' attribute of the 'lead' entity exceeded the maximum allowed length of '50'."},
			text: "dataverse 400 0x80044331: A validation error occurred.",
		},
		{
			name: "throttled with Retry-After", status: 429, header: http.Header{"Retry-After": {"2.5"}},
			body: `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`,
			want: APIError{Status: 429, Code: CodeThrottleRequests, Message: "Number of requests exceeded the limit of 6000 over time window of 300 seconds.", RetryAfter: 2500 * time.Millisecond},
		},
		{
			name: "envelope with an empty code", status: 401,
			body: `{"error":{"code":"","message":"Bearer token is missing."}}`,
			want: APIError{Status: 401, Message: "Bearer token is missing."},
			text: "dataverse 401: Bearer token is missing.",
		},
		{
			name: "plain text body", status: 502, body: "  Bad gateway from the proxy \n",
			want: APIError{Status: 502, Message: "Bad gateway from the proxy"},
		},
		{
			name: "empty body", status: 503,
			want: APIError{Status: 503},
			text: "dataverse 503: Service Unavailable",
		},
		{
			name: "long HTML body is cut", status: 500, body: "<html>" + strings.Repeat("x", 500),
			want: APIError{Status: 500, Message: ("<html>" + strings.Repeat("x", 500))[:300]},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			err := parseAPIError(&response{status: tt.status, header: h, body: []byte(tt.body)})
			var got *APIError
			if !errors.As(err, &got) {
				t.Fatalf("parseAPIError = %T, want *APIError", err)
			}
			if *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
			if tt.text != "" && !strings.HasPrefix(got.Error(), tt.text) {
				t.Errorf("Error() = %q, want it to start with %q", got.Error(), tt.text)
			}
		})
	}
}

func TestAPIErrorIsNotFound(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&APIError{Status: 404, Code: CodeObjectDoesNotExist}, true},
		{&APIError{Status: 404}, true},
		{fmt.Errorf("crm: update lead x: %w", &APIError{Status: 404, Code: CodeKeyDoesNotExist}), true},
		{&APIError{Status: 400, Code: CodeObjectDoesNotExist}, false},
		{&APIError{Status: 412}, false},
		{&NetError{Err: errors.New("connection refused")}, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, ErrNotFound); got != tt.want {
			t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", tt.err, got, tt.want)
		}
	}
	exists := []struct {
		err  error
		want bool
	}{
		{&APIError{Status: 412, Code: CodeDuplicateRecord, Message: "A record with matching key values already exists."}, true},
		{&APIError{Status: 412, Message: "A record with matching key values already exists."}, true},
		{&APIError{Status: 412, Code: CodeVersionMismatch, Message: "The version of the existing record doesn't match the RowVersion property provided."}, false},
		{&APIError{Status: 412, Code: CodeDuplicateDetected, Message: "A record was not created or updated because a duplicate of the current record already exists."}, false},
		{&APIError{Status: 400, Code: CodeDuplicateRecord}, false},
	}
	for _, tt := range exists {
		if got := errors.Is(tt.err, ErrExists); got != tt.want {
			t.Errorf("errors.Is(%v, ErrExists) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if errors.Is(&APIError{Status: 404}, errors.New("crm: row does not exist")) {
		t.Error("a 404 matches an error that is not ErrNotFound")
	}
}

// newClient returns a Client for emu, trusting its CA, as the worker builds one.
func newClient(t *testing.T, emu *emulator.Server, pacer Pacer) *Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(emu.CACertPEM()) {
		t.Fatal("emulator CA PEM not usable")
	}
	c, err := New(Config{
		URL:           emu.URL(),
		TenantID:      emulator.DefaultTenantID,
		ClientID:      emulator.DefaultClientID,
		ClientSecret:  emulator.DefaultClientSecret,
		AuthorityHost: emu.URL(),
		RootCAs:       pool,
		Timeout:       10 * time.Second,
		Pacer:         pacer,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNewRefusesBadSettings(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "http://contoso.crm.dynamics.com"},
		{URL: "contoso.crm.dynamics.com"},
		{URL: "https://contoso.crm.dynamics.com", AuthorityHost: "http://login.example.com"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestWhoAmI(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := newClient(t, emu.Server, nil)
	w, err := c.WhoAmI(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if !guidRE.MatchString(w.UserID) || !guidRE.MatchString(w.OrganizationID) || !guidRE.MatchString(w.BusinessUnitID) {
		t.Errorf("WhoAmI = %+v, want three GUIDs", w)
	}
}

func TestWhoAmIWrongSecret(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(emu.CACertPEM())
	c, err := New(Config{
		URL: emu.URL(), TenantID: emulator.DefaultTenantID, ClientID: emulator.DefaultClientID,
		ClientSecret: "wrong", AuthorityHost: emu.URL(), RootCAs: pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WhoAmI(testContext(t))
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("WhoAmI with a wrong secret = %v, want an *AuthError with status 401", err)
	}
}

func TestLeadRoundTrip(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)

	const id = "7eb682f1-ca75-e511-80d4-00155d2a68d1"
	lead := Row{
		"firstname": "Ann", "lastname": "O'Brien", "emailaddress1": "o'brien+test@example.com",
		"companyname": "A & B #1 100% sure", "leadsourcecode": 8,
	}
	created, err := c.CreateLead(ctx, id, lead, "emailaddress1", "companyname")
	if err != nil {
		t.Fatal(err)
	}
	if created["leadid"] != id || created["emailaddress1"] != "o'brien+test@example.com" {
		t.Fatalf("CreateLead = %v, want leadid %s and the $select'ed columns", created, id)
	}

	t.Run("a second create with the key is ErrExists and changes nothing", func(t *testing.T) {
		for _, blank := range []bool{false, true} {
			emu.Configure(fmt.Sprintf(`{"blank_error_codes":%v}`, blank))
			_, err := c.CreateLead(ctx, strings.ToUpper(id), Row{"lastname": "Other"})
			if !errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) {
				t.Errorf("blank codes %v: second CreateLead = %v, want ErrExists", blank, err)
			}
		}
		emu.Configure(`{"blank_error_codes":false}`)
		if got, err := c.GetLead(ctx, id, "lastname"); err != nil || got["lastname"] != "O'Brien" {
			t.Errorf("GetLead = %v, %v; want the first create's lastname", got, err)
		}
	})
	t.Run("get of a missing lead is ErrNotFound", func(t *testing.T) {
		if _, err := c.GetLead(ctx, "00000000-0000-0000-0000-0000000000aa"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetLead(missing) = %v, want ErrNotFound", err)
		}
	})

	find := func(f Filter) []string {
		t.Helper()
		rows, err := c.FindLeads(ctx, Query{Select: []string{"leadid"}, Filter: And(f, EqInt("statecode", 0)), Top: 10})
		if err != nil {
			t.Fatalf("FindLeads(%s): %v", f, err)
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r["leadid"].(string))
		}
		return ids
	}
	tests := []struct {
		name   string
		filter Filter
		found  bool
	}{
		{"email with quote and plus", Eq("emailaddress1", "o'brien+test@example.com"), true},
		{"email in another case", Eq("emailaddress1", "O'Brien+Test@Example.com"), true},
		{"plus is not a space", Eq("emailaddress1", "o'brien test@example.com"), false},
		{"company with &, # and %", Eq("companyname", "A & B #1 100% sure"), true},
		{"percent is literal in eq", Eq("companyname", "A & B #1 1%"), false},
		{"email and company", And(Eq("emailaddress1", "o'brien+test@example.com"), Eq("companyname", "A & B #1 100% sure")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := find(tt.filter)
			switch {
			case tt.found && (len(ids) != 1 || ids[0] != id):
				t.Errorf("found %v, want [%s]", ids, id)
			case !tt.found && len(ids) != 0:
				t.Errorf("found %v, want none", ids)
			}
		})
	}

	if err := c.UpdateLead(ctx, id, Row{"jobtitle": "CTO", "firstname": "Anne"}); err != nil {
		t.Fatal(err)
	}
	rows := emu.Rows("leads", "$select=firstname,lastname,jobtitle,leadsourcecode")
	if len(rows) != 1 || rows[0]["firstname"] != "Anne" || rows[0]["jobtitle"] != "CTO" || rows[0]["lastname"] != "O'Brien" || rows[0]["leadsourcecode"] != float64(8) {
		t.Errorf("leads after update = %v, want one with firstname Anne, jobtitle CTO, lastname O'Brien, source 8", rows)
	}

	t.Run("update of a missing lead is ErrNotFound", func(t *testing.T) {
		err := c.UpdateLead(ctx, "00000000-0000-0000-0000-0000000000aa", Row{"jobtitle": "x"})
		var ae *APIError
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &ae) || ae.Code != CodeObjectDoesNotExist {
			t.Errorf("UpdateLead(missing) = %v, want a 404 %s", err, CodeObjectDoesNotExist)
		}
		if n := len(emu.Rows("leads", "$select=leadid")); n != 1 {
			t.Errorf("%d leads after updating a missing one, want 1 (If-Match: * must not create)", n)
		}
	})
	t.Run("update with a malformed id sends nothing", func(t *testing.T) {
		before := emu.Stats().RequestsTotal
		if err := c.UpdateLead(ctx, id+"') or (1 eq 1", Row{"jobtitle": "x"}); err == nil {
			t.Error("UpdateLead with a malformed id succeeded")
		}
		if after := emu.Stats().RequestsTotal; after != before {
			t.Errorf("%d requests sent for a malformed id, want 0", after-before)
		}
	})
}

func TestContactRoundTrip(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)
	const id = "00000000-0000-0000-0000-0000000000c1"
	row, err := c.CreateContact(ctx, id, Row{"lastname": "Lee", "firstname": "Ann", "emailaddress1": "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if row["contactid"] != id {
		t.Fatalf("CreateContact = %v, want contactid %s", row, id)
	}
	if _, err := c.CreateContact(ctx, id, Row{"lastname": "Other"}); !errors.Is(err, ErrExists) {
		t.Errorf("second CreateContact = %v, want ErrExists", err)
	}
	rows, err := c.FindContacts(ctx, Query{Select: []string{"contactid", "firstname"}, Filter: Eq("emailaddress1", "ANN@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0]["contactid"] != id || rows[0]["firstname"] != "Ann" {
		t.Errorf("FindContacts = %v, want [%s with firstname Ann]", rows, id)
	}
	lead, err := c.CreateLead(ctx, "00000000-0000-0000-0000-0000000000d1", Row{"lastname": "Lee", "parentcontactid@odata.bind": ContactRef(id)}, "_parentcontactid_value")
	if err != nil {
		t.Fatal(err)
	}
	if lead["_parentcontactid_value"] != id {
		t.Errorf("lead bound with ContactRef has _parentcontactid_value %v, want %s", lead["_parentcontactid_value"], id)
	}
}

func TestUpsertLead(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)

	t.Run("without the key defined", func(t *testing.T) {
		_, _, err := c.UpsertLead(ctx, "emailaddress1", "ann@example.com", Row{"lastname": "Lee"})
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			t.Fatalf("UpsertLead without an alternate key = %v, want a 400", err)
		}
		if n := len(emu.Rows("leads", "$select=leadid")); n != 0 {
			t.Errorf("%d leads written, want 0", n)
		}
	})

	emu.Configure(`{"alternate_keys":{"leads":["emailaddress1"]}}`)
	const email = "o'brien+key@example.com"
	row, created, err := c.UpsertLead(ctx, "emailaddress1", email, Row{"lastname": "O'Brien", "subject": "first"})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := row["leadid"].(string)
	if !created || !guidRE.MatchString(id) {
		t.Fatalf("first UpsertLead = %v, created %v; want a new lead", row, created)
	}
	row, created, err = c.UpsertLead(ctx, "emailaddress1", email, Row{"jobtitle": "CEO"}, "lastname")
	if err != nil {
		t.Fatal(err)
	}
	if created || row["leadid"] != id || row["lastname"] != "O'Brien" {
		t.Errorf("second UpsertLead = %v, created %v; want an update of %s with its lastname", row, created, id)
	}
	rows := emu.Rows("leads", "$select=emailaddress1,lastname,jobtitle,subject")
	if len(rows) != 1 {
		t.Fatalf("leads = %v, want exactly one", rows)
	}
	r := rows[0]
	if r["leadid"] != id || r["emailaddress1"] != email || r["lastname"] != "O'Brien" || r["jobtitle"] != "CEO" || r["subject"] != "first" {
		t.Errorf("lead = %s, want %s with the key from the URL and both writes", testenv.Describe(r), id)
	}
}

func TestAPIErrorFromDataverse(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)
	tests := []struct {
		name    string
		row     Row
		code    string
		message string
	}{
		{"column too long", Row{"lastname": "Lee", "firstname": strings.Repeat("x", 51)}, CodeMaxLength, "'firstname'"},
		{"choice out of range", Row{"lastname": "Lee", "leadsourcecode": 99}, CodePicklistOutOfRange, "leadsourcecode"},
		{"unknown column", Row{"lastname": "Lee", "new_nope": "x"}, "", "Invalid property 'new_nope' was found in entity"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateLead(ctx, fmt.Sprintf("00000000-0000-0000-0000-%012d", i), tt.row)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("CreateLead = %v, want an *APIError", err)
			}
			if ae.Status != http.StatusBadRequest || (tt.code != "" && ae.Code != tt.code) || !strings.Contains(ae.Message, tt.message) {
				t.Errorf("got %d %q %q, want 400 %q with a message mentioning %q", ae.Status, ae.Code, ae.Message, tt.code, tt.message)
			}
			if !strings.HasPrefix(err.Error(), "crm: create lead: dataverse 400") {
				t.Errorf("Error() = %q, want it wrapped once with the operation", err)
			}
		})
	}
	if n := len(emu.Rows("leads", "$select=leadid")); n != 0 {
		t.Errorf("%d leads written by refused requests, want 0", n)
	}
}

// A token the service no longer accepts (here: the emulator restarted and
// forgot every token it issued, as a revocation would) costs one 401 and
// one new token, and the call succeeds without the caller noticing.
func TestUnauthorizedRefreshesTokenOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := emulator.Start(emulator.Options{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Close() })
	c := newClient(t, first, nil)
	ctx := testContext(t)
	if _, err := c.WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	if got := first.Stats().TokensIssued; got != 1 {
		t.Fatalf("tokens issued = %d, want 1", got)
	}

	u, _ := url.Parse(first.URL())
	first.Close()
	// Same address and data dir: the same URL and CA, but none of the old tokens.
	second, err := emulator.Start(emulator.Options{Addr: u.Host, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	if second.URL() != first.URL() {
		t.Fatalf("restarted emulator at %s, want %s", second.URL(), first.URL())
	}

	if _, err := c.CreateLead(ctx, "00000000-0000-0000-0000-0000000000e1", Row{"lastname": "Lee"}); err != nil {
		t.Fatalf("CreateLead after the tokens were forgotten: %v", err)
	}
	s := second.Stats()
	if s.ResponsesByStatus["401"] != 1 || s.TokensIssued != 1 || s.ResponsesByStatus["201"] != 1 {
		t.Errorf("stats = %+v, want one 401, one new token, one 201", s)
	}

	// The new token is cached again: the next call needs no new one.
	if _, err := c.WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	if s := second.Stats(); s.TokensIssued != 1 || s.ResponsesByStatus["401"] != 1 {
		t.Errorf("after another call: stats = %+v, want still one token and one 401", s)
	}
}

// Tokens shorter-lived than MSAL's five-minute refresh margin are fetched
// anew for every call, so they never reach Dataverse expired.
func TestShortLivedTokens(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	emu.Configure(`{"token_lifetime_seconds":1}`)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)
	start := time.Now()
	calls := 0
	testenv.Eventually(t, 20*time.Second, func() string {
		calls++
		if _, err := c.WhoAmI(ctx); err != nil {
			t.Fatalf("call %d: %v", calls, err)
		}
		if time.Since(start) < 1500*time.Millisecond {
			return "still within the first token's lifetime"
		}
		return ""
	})
	if s := emu.Stats(); s.ResponsesByStatus["401"] != 0 || s.TokensIssued < 2 {
		t.Errorf("stats = %+v after %d calls, want no 401 and tokens renewed", s, calls)
	}
}

// A Client without a Pacer still waits out Retry-After itself.
func TestThrottledUnpacedWaitsRetryAfter(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	emu.Configure(`{"limits":{"requests_per_window":2,"window_seconds":1,"concurrent":0,"execution_ms_per_window":0}}`)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)
	for i := range 5 {
		if _, err := c.WhoAmI(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	s := emu.Stats()
	if s.ResponsesByStatus["429"] == 0 || s.EarlyRetries != 0 {
		t.Errorf("stats = %+v, want some 429s and no early retries", s)
	}
}

// A failed call's error names the method and table, never the URL: its
// query and key hold the person's email.
func TestNetErrorLeavesTheURLOut(t *testing.T) {
	tests := []struct {
		path    string
		err     error
		want    string
		timeout bool
	}{
		{"leads", &url.Error{Op: "Get", URL: "https://org/api/data/v9.2/leads?$filter=emailaddress1%20eq%20%27ann%40example.com%27", Err: errors.New("dial tcp: connection refused")},
			"dataverse unreachable: GET leads: dial tcp: connection refused", false},
		{"leads(emailaddress1='ann@example.com')", &url.Error{Op: "Patch", URL: "https://org/api/data/v9.2/leads(emailaddress1='ann@example.com')", Err: context.DeadlineExceeded},
			"dataverse unreachable: GET leads: context deadline exceeded", true},
		{"contacts", errors.New("unexpected EOF"), "dataverse unreachable: GET contacts: unexpected EOF", false},
	}
	for _, tt := range tests {
		err := fmt.Errorf("crm: find: %w", netError(http.MethodGet, tt.path, tt.err))
		if got := err.Error(); got != "crm: find: "+tt.want {
			t.Errorf("netError(%q) = %q, want %q", tt.path, got, "crm: find: "+tt.want)
		}
		if IsTimeout(err) != tt.timeout {
			t.Errorf("IsTimeout(%v) = %v, want %v", err, !tt.timeout, tt.timeout)
		}
	}
}
