package configcheck_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/configcheck"
	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// goodForm is a form every column of which the emulator's lead has, within
// its lengths and choices.
const goodForm = `
forms:
  contact-us:
    lead_source: 8
    contact: link
    fields:
      email:      {column: emailaddress1, rules: "required,email,max=100"}
      last_name:  {column: lastname, rules: "required,max=50"}
      company:    {column: companyname}
      role:       {column: jobtitle, rules: "max=80"}
      message:    {type: textarea, column: description, rules: max=2000}
      industry:
        type: select
        column: industrycode
        options: {Consulting: 7, Retail: 25}
      interest:
        type: radio
        column: new_productinterest
        options: {Software: 100000000, Services: 100000001}
      campaign:   {type: hidden, column: new_utmcampaign, value: spring-2026}
      source:     {type: hidden, column: new_utmsource, param: utm_source, rules: max=200}
      news:       {type: checkbox, column: new_newsletter}
      consent:    {column: donotbulkemail, type: bool, invert: true}
`

// check loads yaml as the worker does and checks it against emu.
func check(t *testing.T, emu *testenv.Emulator, yaml string, env map[string]string) *configcheck.Report {
	t.Helper()
	path := testenv.WriteFile(t, "leadbridge.yaml", yaml)
	getenv := func(k string) string { return env[k] }
	fs, err := config.LoadForms(path, func(k string) string { return "set" }) // captcha secrets: checked below, not here
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return configcheck.Check(ctx, configcheck.Input{Forms: fs, ConfigPath: path, Getenv: getenv, Tables: client(t, emu), Org: emu.URL()})
}

func client(t *testing.T, emu *testenv.Emulator) *crm.Client {
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

// wantFinding fails unless r has a finding of severity s at path whose
// message holds every one of words.
func wantFinding(t *testing.T, r *configcheck.Report, s configcheck.Severity, path string, words ...string) configcheck.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Severity != s || f.Path != path {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(f.Message, w)
		}
		if ok {
			return f
		}
	}
	t.Errorf("no %s at %s saying %q in:\n%s", s, path, words, r)
	return configcheck.Finding{}
}

func TestACorrectConfigurationPasses(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	r := check(t, emu, goodForm, nil)
	if !r.OK() || len(r.Findings) != 0 {
		t.Errorf("a correct form: got\n%s\nwant no finding", r)
	}
	if len(r.Checked) == 0 || !strings.Contains(strings.Join(r.Checked, "\n"), "14 column(s) of 1 form(s)") {
		t.Errorf("checked: got %q, want the 14 columns of the form (11 fields, subject, lead source, contact)", r.Checked)
	}
}

// mappedForms write what forms map beyond a lead's own columns: owners,
// a campaign, an account, a note, choices, money, a lookup by key, a
// custom table (the e2e mapping test's configuration).
const mappedForms = `
forms:
  routed:
    owner:
      rules:
        - when: {country: [Germany, Austria]}
          team: Sales EMEA
        - when: {country: United Kingdom}
          round_robin: [alex.morgan@contoso.example, priya.shah@contoso.example]
      default: {team: Sales Americas}
    campaign: {from: utm_campaign}
    account: {match: [company, email_domain], create: true}
    note: {from: message, subject: Website message}
    fields:
      email:     {column: emailaddress1, rules: "required,email"}
      last_name: {column: lastname, rules: required}
      company:   {column: companyname}
      country:   {column: address1_country}
      message:   {type: textarea, column: description, rules: "max=10000"}
      product:
        type: select
        column: new_productinterest
        options: {Software: 100000000, Hardware: 100000001, Services: 100000002}
      interests: {column: new_interests, kind: choices, options: {Newsletter: 100000000, Events: 100000001, Webinars: 100000002}}
      budget:    {column: new_budget, kind: money}
      employees: {column: new_employees, kind: number}
      consented: {column: new_consentdate, kind: date}
  partner:
    fields:
      email:      {column: emailaddress1, rules: "required,email"}
      last_name:  {column: lastname, rules: required}
      partner_no: {column: parentaccountid, lookup: {table: accounts, key: accountnumber}, rules: required}
  enquiry:
    table: new_enquiry
    owner: {default: {team: Sales EMEA}}
    note: {from: submission}
    fields:
      name:  {column: new_name, rules: "required,max=100"}
      email: {column: new_email, role: email, rules: "required,email,max=100"}
      topic: {type: select, column: new_topic, options: {Sales: 100000000, Support: 100000001}}
`

func TestMappedFormsPass(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	r := check(t, emu, mappedForms, nil)
	if !r.OK() || len(r.Findings) != 0 {
		t.Errorf("the mapped forms: got\n%s\nwant no finding", r)
	}
	if !strings.Contains(strings.Join(r.Checked, "\n"), "(account, annotation, lead, new_enquiry)") {
		t.Errorf("checked: got %q, want the tables account, annotation, lead and new_enquiry", r.Checked)
	}
}

// The same forms with a mistake of each mapped kind.
func TestMappedFormsFindings(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	bad := strings.NewReplacer(
		"Webinars: 100000002", "Webinars: 100000009",
		"{column: new_budget, kind: money}", "{column: new_budget, kind: date}",
		"{column: new_employees, kind: number}", "{column: new_employes, kind: number}",
		"table: new_enquiry", "table: new_enquiries",
		"column: parentaccountid, lookup: {table: accounts", "column: parentcontactid, lookup: {table: accounts",
	).Replace(mappedForms)
	r := check(t, emu, bad, nil)
	wantFinding(t, r, configcheck.Problem, "forms.routed.fields.interests", "option value 100000009 is not a choice of column new_interests", "100000000–100000003")
	wantFinding(t, r, configcheck.Problem, "forms.routed.fields.budget", "column new_budget of lead is of type Money; the form writes a date")
	wantFinding(t, r, configcheck.Problem, "forms.routed.fields.employees", `column "new_employes" does not exist on table lead (did you mean new_employees?)`)
	wantFinding(t, r, configcheck.Problem, "forms.enquiry.fields.name", `table "new_enquiries" does not exist in the org (did you mean new_enquiry?)`)
	wantFinding(t, r, configcheck.Problem, "forms.partner.fields.partner_no", "lookup parentcontactid of lead points at contact; the form binds a row of account")
	// The note of a form on a missing table binds a row of it too.
	wantFinding(t, r, configcheck.Problem, "forms.enquiry.note", "lookup objectid_new_enquiries of annotation points at lead, contact, account, new_enquiry")
	if r.Problems() != 6 {
		t.Errorf("got\n%s\nwant 6 problems", r)
	}
}

// A consent: block without a consent field adds a checkbox writing its
// columns: they are yes/no columns, and pass.
func TestAddedConsentCheckboxPasses(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	r := check(t, emu, `
forms:
  f:
    consent:
      text: Send me product news
      columns: [donotbulkemail, msdyn_gdproptout]
    fields:
      email: {column: emailaddress1, rules: "required,email"}
`, nil)
	if !r.OK() || len(r.Findings) != 0 {
		t.Errorf("got\n%s\nwant no finding", r)
	}
}

func TestBuiltInDemoFormPasses(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	fs, err := config.LoadForms("", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := configcheck.Check(ctx, configcheck.Input{Forms: fs, Tables: client(t, emu)})
	if !r.OK() || len(r.Findings) != 0 {
		t.Errorf("the demo form: got\n%s\nwant no finding", r)
	}
}

func TestFindingsNameTheFormAndField(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	r := check(t, emu, `
forms:
  contact-us:
    lead_source: 12
    fields:
      email:    {column: emailaddress1, rules: "required,email"}
      company:  {column: compnyname, rules: max=100}
      role:     {column: jobtitle, rules: max=150}
      industry: {type: select, column: industrycode, options: {Consulting: 7, Space: 99}}
      name:     {column: fullname, rules: max=100}
      budget:   {column: new_budget, rules: max=20}
      note:     {column: new_utmcontent}
      consent:  {column: donotbulkemail, type: bool, invert: true}
  other:
    alternate_key: emailaddress1
    fields:
      email: {column: emailaddress1, rules: "required,email"}
`, nil)
	wantFinding(t, r, configcheck.Problem, "forms.contact-us.fields.company", `column "compnyname" does not exist on table lead`, "did you mean companyname?")
	f := wantFinding(t, r, configcheck.Problem, "forms.contact-us.fields.role", "max length 150", "100 characters", "jobtitle", "max=100")
	if f.Form != "contact-us" || f.Field != "role" {
		t.Errorf("finding names form %q field %q, want contact-us and role", f.Form, f.Field)
	}
	wantFinding(t, r, configcheck.Problem, "forms.contact-us.fields.industry", "option value 99 is not a choice of column industrycode", "1–33")
	wantFinding(t, r, configcheck.Problem, "forms.contact-us.lead_source", "value 12 is not a choice of column leadsourcecode")
	wantFinding(t, r, configcheck.Problem, "forms.contact-us.fields.name", "fullname", "cannot be written")
	wantFinding(t, r, configcheck.Problem, "forms.contact-us.fields.budget", "type Money", "writes text")
	wantFinding(t, r, configcheck.Warning, "forms.contact-us.fields.note", "no max length", "200", "max=200")
	wantFinding(t, r, configcheck.Problem, "forms.other.alternate_key", "no alternate key on emailaddress1")
	if got := r.Problems(); got != 7 {
		t.Errorf("problems: got %d, want 7:\n%s", got, r)
	}
	if r.OK() {
		t.Error("OK() with problems")
	}
	text := r.String()
	if !strings.HasPrefix(text, "configuration check failed: 7 problem(s), 1 warning(s)\n") {
		t.Errorf("report starts %q", strings.SplitN(text, "\n", 2)[0])
	}
}

// An org whose admins shortened a column: a form within the standard
// length fails the check, and one that follows the org passes.
func TestAColumnTheOrgShortened(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	emu.Configure(`{"max_lengths":{"leads":{"companyname":40}},"alternate_keys":{"leads":["emailaddress1"]}}`)
	const form = `
forms:
  f:
    alternate_key: emailaddress1
    fields:
      email:   {column: emailaddress1, rules: "required,email"}
      company: {column: companyname%s}
`
	r := check(t, emu, strings.Replace(form, "%s", "", 1), nil)
	wantFinding(t, r, configcheck.Problem, "forms.f.fields.company", "max length 100 is above the 40 characters", "max=40")
	if r.Problems() != 1 {
		t.Errorf("got\n%s\nwant one problem (the alternate key exists)", r)
	}
	if r := check(t, emu, strings.Replace(form, "%s", ", rules: max=40", 1), nil); !r.OK() || len(r.Findings) != 0 {
		t.Errorf("with max=40: got\n%s\nwant no finding", r)
	}
}

func TestCaptchaSecretsAreLookedFor(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	form := strings.Replace(goodForm, "    lead_source: 8\n",
		"    lead_source: 8\n    spam: {captcha: {provider: turnstile, site_key: 0x4AAA, secret: env:TURNSTILE_SECRET}}\n", 1)
	r := check(t, emu, form, nil)
	f := wantFinding(t, r, configcheck.Warning, "forms.contact-us.spam.captcha.secret", "TURNSTILE_SECRET", "API")
	if f.Form != "contact-us" {
		t.Errorf("secret finding names form %q, want contact-us", f.Form)
	}
	if !r.OK() {
		t.Errorf("a secret only the API reads made the check fail:\n%s", r)
	}
	if r := check(t, emu, form, map[string]string{"TURNSTILE_SECRET": "0x4AAA-secret"}); len(r.Findings) != 0 {
		t.Errorf("with the secret set: got\n%s\nwant no finding", r)
	}
}

// An org that cannot be read leaves the columns unchecked, said so, within
// the check's deadline: down (503) and hanging alike.
func TestAnOrgThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, patch string }{
		{"down", `{"faults":{"down":true}}`},
		{"hanging", `{"latency_ms":60000}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := testenv.StartEmulator(t)
			emu.Configure(tt.patch)
			fs, err := config.LoadForms("", nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			r := configcheck.Check(ctx, configcheck.Input{Forms: fs, Tables: client(t, emu), Org: "the test org"})
			if r.OK() || !strings.Contains(r.Unchecked, "could not read the table definitions of the test org") {
				t.Errorf("got\n%s\nwant not checked: could not read …", r)
			}
		})
	}
}

func TestLoadFailedListsEachError(t *testing.T) {
	path := testenv.WriteFile(t, "bad.yaml", "forms:\n  f:\n    fields:\n      email: {column: emailaddress1, rule: required}\n")
	_, err := config.LoadWorker(func(k string) string {
		return map[string]string{"LEADBRIDGE_CONFIG": path, "LEADBRIDGE_WORKER_CONCURRENCY": "0"}[k]
	})
	if err == nil {
		t.Fatal("a bad configuration loaded")
	}
	r := configcheck.LoadFailed(err)
	if r.OK() || r.Problems() != 2 {
		t.Errorf("got\n%s\nwant two problems", r)
	}
	text := r.String()
	for _, want := range []string{"LEADBRIDGE_WORKER_CONCURRENCY", `unknown setting "rule"`} {
		if !strings.Contains(text, want) {
			t.Errorf("report does not say %q:\n%s", want, text)
		}
	}
}
