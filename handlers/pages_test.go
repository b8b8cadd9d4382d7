package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// The hosted page asks the form what each field is: the input type and
// autocomplete come from the field's role, not from its name or from one
// particular column.
func TestHostedFormAsksTheFieldsRole(t *testing.T) {
	path := testenv.WriteFile(t, "f.yaml", `
forms:
  roles:
    allowed_origins: ["*"]
    fields:
      work:    {column: emailaddress2, rules: required}
      mobile:  {column: mobilephone}
      given:   {column: firstname}
      org:     {column: companyname}
      story:   {column: new_story, role: message}
      message: {column: jobtitle}
`)
	v := newEnvWith(t, envOptions{configFile: path})
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/f/roles", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /f/roles: got %d %s", rec.Code, rec.Body.String())
	}
	page := rec.Body.String()
	for _, want := range []string{
		`name="work" type="email" value="" autocomplete="email" required`,
		`name="mobile" type="tel" value="" autocomplete="tel"`,
		`name="given" type="text" value="" autocomplete="given-name"`,
		`name="org" type="text" value="" autocomplete="organization"`,
		`<textarea id="f-story" name="story"`,
		`name="message" type="text" value="" autocomplete="organization-title"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}
