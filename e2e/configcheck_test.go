package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// checkForm maps a misspelt column, a max length above its column's and a
// choice value the column lacks; checkFixed is the same form put right.
const checkForm = `
forms:
  contact-us:
    fields:
      email:    {column: emailaddress1, rules: "required,email,max=100"}
      last:     {column: lastname, rules: "required,max=50"}
      company:  {column: compnyname, rules: max=100}
      role:     {column: jobtitle, rules: max=150}
      industry: {type: select, column: industrycode, options: {Consulting: 7, Space: 99}}
`

var (
	checkFixed    = strings.NewReplacer("compnyname", "companyname", "max=150", "max=100", "Space: 99", "Retail: 25").Replace(checkForm)
	checkFindings = []string{
		`problem: forms.contact-us.fields.company: column "compnyname" does not exist on table lead (did you mean companyname?)`,
		"problem: forms.contact-us.fields.role: max length 150 is above the 100 characters column jobtitle of lead holds",
		"problem: forms.contact-us.fields.industry: option value 99 is not a choice of column industrycode of lead (its values: 1–33)",
	}
)

// TestWorkerCheck: the worker program, run as `worker -check` against the
// emulator, reports each problem naming its form and field and exits 1;
// the corrected file passes with 0.
func TestWorkerCheck(t *testing.T) {
	emu := testenv.StartEmulator(t)
	env := emu.WorkerEnv()
	env["LEADBRIDGE_CONFIG"] = testenv.WriteFile(t, "bad.yaml", checkForm)
	out, code := testenv.RunProgram(t, "worker", env, 2*time.Minute, "-check")
	if code != 1 {
		t.Errorf("worker -check on a bad form: exit %d, want 1\n%s", code, out)
	}
	for _, want := range append(checkFindings, "configuration check failed: 3 problem(s), 0 warning(s)", "worker: configuration check failed") {
		if !strings.Contains(out, want) {
			t.Errorf("worker -check output lacks %q:\n%s", want, out)
		}
	}

	env["LEADBRIDGE_CONFIG"] = testenv.WriteFile(t, "good.yaml", checkFixed)
	out, code = testenv.RunProgram(t, "worker", env, 2*time.Minute, "-check")
	if code != 0 || !strings.HasPrefix(out, "configuration check passed: 0 problem(s), 0 warning(s)\n") {
		t.Errorf("worker -check on the corrected form: exit %d, want 0 and a pass\n%s", code, out)
	}
}

// TestStrictWorkerRefusesABadForm: with LEADBRIDGE_STRICT_CONFIG the worker
// exits at start with the same report; without it, it starts, logs each
// finding as a warning, and keeps the person's data out of its log when
// the bad column makes a submission fail.
func TestStrictWorkerRefusesABadForm(t *testing.T) {
	s := startStack(t, options{config: checkForm, workers: -1})

	env := copyEnv(s.env)
	env["LEADBRIDGE_WORKER_ADDR"] = testenv.FreeAddr(t)
	env["LEADBRIDGE_STRICT_CONFIG"] = "true"
	strict := testenv.StartProcess(t, "worker", env)
	testenv.Eventually(t, 2*time.Minute, func() string {
		if !strict.Exited() {
			return "the strict worker is still running"
		}
		return ""
	})
	if st := strict.ExitState(); st.ExitCode() != 1 {
		t.Errorf("strict worker: exit %d, want 1", st.ExitCode())
	}
	for _, want := range append(checkFindings, "LEADBRIDGE_STRICT_CONFIG is set and the configuration check found problems") {
		if !strings.Contains(strict.Output(), want) {
			t.Errorf("strict worker's output lacks %q:\n%s", want, strict.Output())
		}
	}

	w := s.StartWorker() // not strict: the default
	for _, field := range []string{"company", "role", "industry"} {
		want := fmt.Sprintf("path=forms.contact-us.fields.%s form=contact-us field=%s", field, field)
		if !strings.Contains(w.Output(), want) {
			t.Errorf("worker log lacks a warning with %q:\n%s", want, w.Output())
		}
	}
	if !strings.Contains(w.Output(), "msg=\"configuration checked\" problems=3 warnings=0 strict=false") {
		t.Errorf("worker log lacks the check's summary:\n%s", w.Output())
	}
	code, body := s.postJSON("contact-us", map[string]any{"email": "zoe.quinn@example.com", "last": "Quinn", "company": "Quokka Ltd"})
	if code != 202 {
		t.Fatalf("post: %d %v", code, body)
	}
	rec := s.waitStatus(body["id"].(string), "failed", time.Minute)
	t.Logf("last error: %v", rec["last_error"])
	for _, personal := range []string{"zoe.quinn", "Quinn", "Quokka"} {
		if strings.Contains(w.Output(), personal) {
			t.Errorf("the worker log holds %q:\n%s", personal, w.Output())
		}
	}
}
