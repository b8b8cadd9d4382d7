package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// badForm has a misspelt column, a max length above its column's and a
// choice value the column lacks.
const badForm = `
forms:
  contact-us:
    fields:
      email:    {column: emailaddress1, rules: "required,email,max=100"}
      last:     {column: lastname, rules: "required,max=50"}
      company:  {column: compnyname, rules: max=100}
      role:     {column: jobtitle, rules: max=150}
      industry: {type: select, column: industrycode, options: {Consulting: 7, Space: 99}}
`

var badFindings = []string{
	`problem: forms.contact-us.fields.company: column "compnyname" does not exist on table lead (did you mean companyname?)`,
	"problem: forms.contact-us.fields.role: max length 150 is above the 100 characters column jobtitle of lead holds",
	"problem: forms.contact-us.fields.industry: option value 99 is not a choice of column industrycode of lead",
}

func checkEnv(t *testing.T, yaml string) map[string]string {
	t.Helper()
	emu := testenv.StartEmulator(t)
	env := emu.WorkerEnv()
	env["LEADBRIDGE_CONFIG"] = testenv.WriteFile(t, "leadbridge.yaml", yaml)
	return env
}

func TestCheckReportsEachProblemAndFails(t *testing.T) {
	t.Parallel()
	env := checkEnv(t, badForm)
	var out strings.Builder
	err := check(context.Background(), func(k string) string { return env[k] }, &out)
	if !errors.Is(err, errCheckFailed) {
		t.Errorf("check: got %v, want errCheckFailed", err)
	}
	for _, want := range append(badFindings, "configuration check failed: 3 problem(s), 0 warning(s)") {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

const hubspotSource = `
sources:
  hubspot:
    kind: hubspot-v3
    secret: env:HUBSPOT_SECRET
    form: contact-us
`

func TestCheckPassesACorrectConfiguration(t *testing.T) {
	t.Parallel()
	fixed := strings.NewReplacer("compnyname", "companyname", "max=150", "max=100", "Space: 99", "Retail: 25").Replace(badForm)
	env := checkEnv(t, fixed+hubspotSource)
	env["HUBSPOT_SECRET"] = "hubspot-client-secret-value"
	var out strings.Builder
	if err := check(context.Background(), func(k string) string { return env[k] }, &out); err != nil {
		t.Errorf("check: got %v, want nil; report:\n%s", err, out.String())
	}
	if !strings.HasPrefix(out.String(), "configuration check passed: 0 problem(s), 0 warning(s)") ||
		!strings.Contains(out.String(), "loads: form(s) contact-us; 1 webhook source(s)") {
		t.Errorf("report:\n%s", out.String())
	}
	if strings.Contains(out.String(), env["HUBSPOT_SECRET"]) {
		t.Errorf("the report shows a secret:\n%s", out.String())
	}
}

// A webhook source's secret missing from the environment: the worker does
// not load, and the check says which variable, at which YAML path.
func TestCheckReportsAMissingSourceSecret(t *testing.T) {
	t.Parallel()
	fixed := strings.NewReplacer("compnyname", "companyname", "max=150", "max=100", "Space: 99", "Retail: 25").Replace(badForm)
	env := checkEnv(t, fixed+hubspotSource)
	var out strings.Builder
	if err := check(context.Background(), func(k string) string { return env[k] }, &out); !errors.Is(err, errCheckFailed) {
		t.Errorf("check: got %v, want errCheckFailed", err)
	}
	if !strings.Contains(out.String(), "sources.hubspot.secret: environment variable HUBSPOT_SECRET is empty") {
		t.Errorf("report:\n%s", out.String())
	}
}

// A configuration that does not load is a report too, every error in it.
func TestCheckReportsAConfigurationThatDoesNotLoad(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LEADBRIDGE_CONFIG": testenv.WriteFile(t, "bad.yaml", "forms: {f: {fields: {email: {colum: emailaddress1}}}}\n"),
		"LEADBRIDGE_REQUEST_TIMEOUT": "soon"}
	var out strings.Builder
	if err := check(context.Background(), func(k string) string { return env[k] }, &out); !errors.Is(err, errCheckFailed) {
		t.Errorf("check: got %v, want errCheckFailed", err)
	}
	for _, want := range []string{"problem: LEADBRIDGE_REQUEST_TIMEOUT", `unknown setting "colum"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// An org that cannot be read fails the check, saying so.
func TestCheckFailsWhenTheOrgDoesNotAnswer(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	emu.Configure(`{"faults":{"down":true}}`)
	env := emu.WorkerEnv()
	env["LEADBRIDGE_REQUEST_TIMEOUT"] = "2s"
	var out strings.Builder
	if err := check(context.Background(), func(k string) string { return env[k] }, &out); !errors.Is(err, errCheckFailed) {
		t.Errorf("check: got %v, want errCheckFailed", err)
	}
	if !strings.Contains(out.String(), "not checked: could not read the table definitions of "+emu.URL()) {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestStrictConfigRefusesToStart(t *testing.T) {
	t.Parallel()
	env := checkEnv(t, badForm)
	env["LEADBRIDGE_REDIS_URL"] = testenv.StartRedis(t).URL
	env["LEADBRIDGE_WORKER_ADDR"] = "127.0.0.1:0"
	env["LEADBRIDGE_STRICT_CONFIG"] = "true"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ready := make(chan string, 1)
	err := run(ctx, func(k string) string { return env[k] }, &testenv.Buffer{}, ready)
	if err == nil {
		t.Fatal("run with LEADBRIDGE_STRICT_CONFIG and a bad form returned nil")
	}
	if len(ready) > 0 {
		t.Error("the worker started processing")
	}
	for _, want := range append(badFindings, "LEADBRIDGE_STRICT_CONFIG") {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
}

func TestWithoutStrictConfigTheWorkerStartsAndWarns(t *testing.T) {
	t.Parallel()
	env := checkEnv(t, badForm)
	env["LEADBRIDGE_REDIS_URL"] = testenv.StartRedis(t).URL
	env["LEADBRIDGE_WORKER_ADDR"] = "127.0.0.1:0"
	logs := &testenv.Buffer{}
	w := testenv.StartRun(t, func(ctx context.Context, ready chan<- string) error {
		return run(ctx, func(k string) string { return env[k] }, logs, ready)
	})
	if err := w.Stop(t); err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	out := logs.String()
	for _, want := range []string{
		`"msg":"configuration check","severity":"problem","path":"forms.contact-us.fields.company","form":"contact-us","field":"company"`,
		`"path":"forms.contact-us.fields.role"`, `"path":"forms.contact-us.fields.industry"`,
		`"msg":"configuration checked","problems":3,"warnings":0,"strict":false`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, emulator.DefaultClientSecret) {
		t.Error("the log holds the client secret")
	}
}

// Strict refuses problems only: a warning (a length nothing limits) is
// logged and the worker starts.
func TestStrictConfigStartsWithWarningsOnly(t *testing.T) {
	t.Parallel()
	env := checkEnv(t, `
forms:
  f:
    fields:
      email: {column: emailaddress1, rules: "required,email"}
      note:  {column: new_utmcontent}
`)
	env["LEADBRIDGE_REDIS_URL"] = testenv.StartRedis(t).URL
	env["LEADBRIDGE_WORKER_ADDR"] = "127.0.0.1:0"
	env["LEADBRIDGE_STRICT_CONFIG"] = "true"
	logs := &testenv.Buffer{}
	w := testenv.StartRun(t, func(ctx context.Context, ready chan<- string) error {
		return run(ctx, func(k string) string { return env[k] }, logs, ready)
	})
	if err := w.Stop(t); err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	for _, want := range []string{`"severity":"warning","path":"forms.f.fields.note"`, `"problems":0,"warnings":1,"strict":true`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}
