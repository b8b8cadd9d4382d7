package forms

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// leadColumnMax is the maximum length Dataverse allows for the lead's text
// columns (shared/reference/dataverse.md §8). A value longer than its column
// is refused at intake, so nothing that Dataverse would reject is queued.
var leadColumnMax = map[string]int{
	"subject": 300, "firstname": 50, "lastname": 50, "middlename": 50,
	"emailaddress1": 100, "emailaddress2": 100, "emailaddress3": 100,
	"telephone1": 50, "telephone2": 50, "telephone3": 50, "mobilephone": 20,
	"companyname": 100, "jobtitle": 100, "websiteurl": 200, "description": 2000,
	"address1_line1": 250, "address1_line2": 250, "address1_line3": 250,
	"address1_city": 80, "address1_stateorprovince": 50, "address1_postalcode": 20,
	"address1_country": 80, "address1_county": 50,
}

// Validator checks submitted values against a form's rules. One Validator is
// built at start-up and shared: validator v10 is safe for concurrent use once
// registration is over.
type Validator struct {
	v *validator.Validate
}

// NewValidator returns a Validator.
func NewValidator() *Validator {
	return &Validator{v: validator.New(validator.WithRequiredStructEnabled())}
}

// checkRules reports whether a rules string is usable; validator panics on an
// unknown tag, which must surface as a configuration error, not at intake.
func (v *Validator) checkRules(rules string) (err error) {
	if rules == "" {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%q: %v", rules, r)
		}
	}()
	// Run the rules on an empty and a non-empty value: "required" or
	// "omitempty" stop early on "", hiding tags that panic on strings.
	_ = v.v.Var("", rules)
	_ = v.v.Var("x", rules)
	return nil
}

// Clean validates raw submitted values for form f. It returns the normalized
// values of the form's fields (trimmed; values of email fields lower-cased;
// bools as "true" or "false") and, when anything is wrong, a message per field name.
func (v *Validator) Clean(f *Form, raw map[string]string) (map[string]string, map[string]string) {
	clean := make(map[string]string, len(f.Fields))
	problems := map[string]string{}
	for _, fd := range f.Fields {
		val := strings.TrimSpace(raw[fd.Name])
		if !utf8.ValidString(val) {
			problems[fd.Name] = "contains characters that are not valid text"
			continue
		}
		if strings.ContainsRune(val, 0) {
			problems[fd.Name] = "contains a null character"
			continue
		}
		if fd.Type == "bool" {
			b, ok := parseBool(val)
			if !ok {
				problems[fd.Name] = "must be yes or no"
				continue
			}
			if !b && fd.Required() {
				// For a checkbox, required means ticked (e.g. consent).
				problems[fd.Name] = "must be ticked"
				continue
			}
			val = fmt.Sprint(b)
		}
		if fd.Role == RoleEmail {
			val = strings.ToLower(val)
		}
		if fd.Rules != "" {
			if err := v.v.Var(val, fd.Rules); err != nil {
				problems[fd.Name] = message(err)
				continue
			}
		}
		if val != "" && fd.Role == RoleEmail && !validEmail(val) {
			problems[fd.Name] = "must be a valid email address"
			continue
		}
		if max, ok := leadColumnMax[fd.Column]; ok && utf8.RuneCountInString(val) > max {
			problems[fd.Name] = fmt.Sprintf("must be at most %d characters", max)
			continue
		}
		if val != "" {
			clean[fd.Name] = val
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return clean, nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "", "0", "false", "off", "no", "n":
		return false, true
	case "1", "true", "on", "yes", "y", "checked":
		return true, true
	}
	return false, false
}

// message turns a validator error into words for the person filling the form.
func message(err error) string {
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) || len(ves) == 0 {
		return "is not valid"
	}
	fe := ves[0]
	p := fe.Param()
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "max":
		return fmt.Sprintf("must be at most %s characters", p)
	case "min":
		return fmt.Sprintf("must be at least %s characters", p)
	case "len":
		return fmt.Sprintf("must be exactly %s characters", p)
	case "oneof":
		return "must be one of: " + strings.Join(strings.Fields(p), ", ")
	case "url", "http_url", "https_url", "uri":
		return "must be a web address starting with http:// or https://"
	case "e164":
		return "must be a phone number in international format, like +14155550123"
	case "numeric", "number":
		return "must be a number"
	case "alpha":
		return "must contain letters only"
	case "alphanum":
		return "must contain letters and digits only"
	case "boolean":
		return "must be yes or no"
	case "eq":
		return "must be " + p
	}
	return fmt.Sprintf("is not valid (%s)", fe.Tag())
}

// validEmail guards email columns even when a form's rules forget "email":
// Dataverse would store anything, and a broken address is a lost lead.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}
