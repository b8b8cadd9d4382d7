package configcheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// Lookups come from form settings (contact: link today; owners, campaigns
// and accounts as forms grow them): a binding to the wrong table is
// reported with both tables named.
func TestLookupTargetMismatch(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := emuClient(t, emu)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	def, err := c.TableDefinition(ctx, "lead")
	if err != nil {
		t.Fatal(err)
	}
	f := forms.Demo()
	if err := f.Prepare(forms.NewValidator()); err != nil {
		t.Fatal(err)
	}
	tables, err := c.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	org := orgTables{bySet: map[string]string{}}
	for _, tb := range tables {
		org.bySet[tb.EntitySetName] = tb.LogicalName
	}
	r := &Report{}
	r.checkColumn(f, forms.ColumnUse{Table: "lead", Column: "parentaccountid", Kind: forms.KindLookup, Field: "partner", Target: "contacts"}, def, org)
	r.checkColumn(f, forms.ColumnUse{Table: "lead", Column: "parentcontactid", Kind: forms.KindLookup, Target: "contacts"}, def, org)
	r.checkColumn(f, forms.ColumnUse{Table: "lead", Column: "customerid_account", Kind: forms.KindLookup, Field: "customer", Target: "accounts"}, def, org)
	r.checkColumn(f, forms.ColumnUse{Table: "lead", Column: "ownerid", Kind: forms.KindLookup, Target: "campaigns"}, def, org)
	r.checkColumn(f, forms.ColumnUse{Table: "lead", Column: "campaignid", Kind: forms.KindText, Field: "campaign"}, def, org)
	want := []string{
		"problem: forms.demo.fields.partner: lookup parentaccountid of lead points at account; the form binds a row of contact",
		"problem: forms.demo.owner: lookup ownerid of lead points at systemuser, team; the form binds a row of campaign",
		"problem: forms.demo.fields.campaign: column campaignid of lead is of type Lookup",
	}
	wantFindings(t, r, "problems", want)
}

// A form writing to a table of its own (forms that target other tables
// than lead): a table the org lacks is reported once per form, with the
// nearest table's name; the columns of a table it has are checked as the
// lead's are.
func TestOtherTables(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := emuClient(t, emu)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := forms.Demo(), forms.Demo()
	b.ID = "enquiry"
	for _, f := range []*forms.Form{a, b} {
		if err := f.Prepare(forms.NewValidator()); err != nil {
			t.Fatal(err)
		}
	}
	r := &Report{}
	r.checkColumns(ctx, Input{Forms: forms.Set{"demo": a, "enquiry": b}, Tables: c}, map[string][]forms.ColumnUse{
		"demo": {
			{Table: "new_enquiri", Column: "new_email", Kind: forms.KindText, Field: "email", MaxLength: 100},
			{Table: "new_enquiri", Column: "new_name", Kind: forms.KindText, Field: "name", MaxLength: 100},
			{Table: "annotation", Column: "objectid_new_enquiri", Kind: forms.KindLookup, Target: "new_enquiris"},
		},
		"enquiry": {
			{Table: "new_enquiry", Column: "new_emial", Kind: forms.KindText, Field: "email", MaxLength: 100},
			{Table: "new_enquiry", Column: "new_message", Kind: forms.KindText, Field: "message", MaxLength: 5000},
			{Table: "new_enquiry", Column: "new_topic", Kind: forms.KindChoice, Field: "topic", Options: []int{7, 100000001}},
		},
	})
	want := []string{
		`problem: forms.demo.fields.email: table "new_enquiri" does not exist in the org (did you mean new_enquiry?)`,
		"problem: forms.demo.note: lookup objectid_new_enquiri of annotation points at lead, contact, account, new_enquiry; the form binds a row of new_enquiris",
		`problem: forms.enquiry.fields.email: column "new_emial" does not exist on table new_enquiry (did you mean new_email?)`,
		"problem: forms.enquiry.fields.message: max length 5000 is above the 4000 characters column new_message of new_enquiry holds",
		"problem: forms.enquiry.fields.topic: option value 7 is not a choice of column new_topic of new_enquiry (its values: 100000000–100000002)",
	}
	wantFindings(t, r, "findings", want)
}

func TestDidYouMean(t *testing.T) {
	names := []string{"companyname", "emailaddress1", "emailaddress2", "firstname", "lastname", "jobtitle", "new_utmsource"}
	for _, tt := range []struct{ in, want string }{
		{"compnyname", " (did you mean companyname?)"},
		{"comapnyname", " (did you mean companyname?)"}, // two letters swapped
		{"emailadress1", " (did you mean emailaddress1?)"},
		{"new_utm_source", " (did you mean new_utmsource?)"},
		{"lastnam", " (did you mean lastname?)"},
		{"jobtitel", " (did you mean jobtitle?)"},
		{"industrycode", ""},
		{"x", ""},
	} {
		if got := didYouMean(tt.in, names); got != tt.want {
			t.Errorf("didYouMean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValueList(t *testing.T) {
	for _, tt := range []struct {
		in   []int
		want string
	}{
		{nil, "none"},
		{[]int{8}, "8"},
		{[]int{1, 2}, "1, 2"},
		{[]int{1, 2, 3, 5, 7, 8, 9}, "1–3, 5, 7–9"},
		{[]int{100000000, 100000001, 100000002}, "100000000–100000002"},
	} {
		if got := valueList(tt.in); got != tt.want {
			t.Errorf("valueList(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// An alternate key whose index Dataverse has not built (or failed to)
// cannot be upserted by; definitions say so in EntityKeyIndexStatus.
func TestAlternateKeyNotActive(t *testing.T) {
	f := forms.Demo()
	f.AlternateKey, f.OnMatch = "emailaddress1", forms.OnMatchOverwrite
	if err := f.Prepare(forms.NewValidator()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		keys []crm.Key
		want string
	}{
		{[]crm.Key{{Columns: []string{"emailaddress1"}, Status: "Active"}}, ""},
		{[]crm.Key{{Columns: []string{"emailaddress1"}, Status: "Pending"}}, "the alternate key on emailaddress1 of table lead is Pending, not Active"},
		{[]crm.Key{{Columns: []string{"emailaddress1", "companyname"}, Status: "Active"}}, "table lead has no alternate key on emailaddress1 (its keys: emailaddress1+companyname)"},
	} {
		r := &Report{}
		r.checkAlternateKey(f, &crm.TableDefinition{LogicalName: "lead", Keys: tt.keys})
		switch {
		case tt.want == "" && len(r.Findings) != 0:
			t.Errorf("keys %+v: got %s, want nothing", tt.keys, r)
		case tt.want != "" && (len(r.Findings) != 1 || !strings.Contains(r.Findings[0].Message, tt.want) || r.Findings[0].Path != "forms.demo.alternate_key"):
			t.Errorf("keys %+v: got %s, want forms.demo.alternate_key: %s", tt.keys, r, tt.want)
		}
	}
}

// emuClient is a client of the emulator emu, as the worker builds one.
func emuClient(t *testing.T, emu *testenv.Emulator) *crm.Client {
	t.Helper()
	c, err := crm.New(crm.Config{
		URL: emu.URL(), TenantID: emulator.DefaultTenantID, ClientID: emulator.DefaultClientID,
		ClientSecret: emulator.DefaultClientSecret, AuthorityHost: emu.URL(), RootCAs: emu.CertPool(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantFindings fails unless r's findings, in order, begin with want.
func wantFindings(t *testing.T, r *Report, what string, want []string) {
	t.Helper()
	if len(r.Findings) != len(want) {
		t.Errorf("got\n%s\nwant %d %s", r, len(want), what)
	}
	for i := range min(len(want), len(r.Findings)) {
		if got := r.Findings[i].String(); !strings.HasPrefix(got, want[i]) {
			t.Errorf("finding %d:\ngot  %s\nwant %s…", i, got, want[i])
		}
	}
}
