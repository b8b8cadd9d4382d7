package forms

import (
	"fmt"
	"strings"
)

// Role is what a field means. It is decided once, when the form is
// prepared, from the field's column or its explicit role: setting, and
// everything else asks the field instead of guessing from its name: which
// fields identify a person (match rules, leases, the contact), how intake
// checks a value, and how the hosted page asks for it.
type Role string

// The roles a field can have.
const (
	RoleEmail   Role = "email"   // an email address: lower-cased, checked, identifies a person
	RolePhone   Role = "phone"   // a phone number: identifies a person by its digits
	RoleCompany Role = "company" // the person's organisation: part of the email+company rule
	RoleName    Role = "name"    // a first, middle, last or full name
	RoleMessage Role = "message" // free text: a multi-line box on the page
	RoleConsent Role = "consent" // a yes/no permission such as donotbulkemail
	RoleOther   Role = "other"   // anything else
	// RoleAttribution is where the visitor came from: a hidden field whose
	// value is one of the page URL's AttributionKeys (utm_source, gclid, …).
	RoleAttribution Role = "attribution"
)

// roles lists every role, in the order error messages name them.
var roles = []Role{RoleEmail, RolePhone, RoleCompany, RoleName, RoleMessage, RoleConsent, RoleOther, RoleAttribution}

// columnRoles are the roles of the lead columns that have one; every other
// column is RoleOther unless the form says otherwise.
var columnRoles = map[string]Role{
	"emailaddress1": RoleEmail, "emailaddress2": RoleEmail, "emailaddress3": RoleEmail,
	"telephone1": RolePhone, "telephone2": RolePhone, "telephone3": RolePhone, "mobilephone": RolePhone,
	"companyname": RoleCompany,
	"firstname":   RoleName, "middlename": RoleName, "lastname": RoleName, "fullname": RoleName,
	"description": RoleMessage,
}

// consentColumns are the lead's yes/no permission columns (dataverse.md §8).
// They are consent only as bool fields: mapped as text they are a mistake
// Dataverse will report, not a permission.
var consentColumns = map[string]bool{
	"donotemail": true, "donotbulkemail": true, "donotphone": true, "donotpostalmail": true,
	"donotfax": true, "donotsendmm": true, "msdyn_gdproptout": true,
}

// columnRole is the role a field gets from its column and type alone.
func columnRole(column, typ string) Role {
	if consentColumns[column] {
		if typ == "bool" {
			return RoleConsent
		}
		return RoleOther
	}
	if r, ok := columnRoles[column]; ok && typ != "bool" {
		return r
	}
	return RoleOther
}

// checkRole validates an explicit role against the field's type.
func checkRole(fd *Field) error {
	known := false
	for _, r := range roles {
		known = known || fd.Role == r
	}
	if !known {
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = string(r)
		}
		return fmt.Errorf("%q is not one of %s", fd.Role, strings.Join(names, ", "))
	}
	switch {
	case fd.Role == RoleConsent && fd.Type != "bool":
		return fmt.Errorf("consent needs type: bool")
	case fd.Role != RoleConsent && fd.Role != RoleOther && fd.Type == "bool":
		return fmt.Errorf("%s is text; a bool field can only be consent or other", fd.Role)
	}
	return nil
}

// matchRoles are the roles each match rule compares, in order.
var matchRoles = map[string][]Role{
	MatchEmail:        {RoleEmail},
	MatchPhone:        {RolePhone},
	MatchEmailCompany: {RoleEmail, RoleCompany},
}

// roleHint says, in a refusal, how a field gets a role.
var roleHint = map[Role]string{
	RoleEmail:   "a column like emailaddress1, or role: email",
	RolePhone:   "a column like telephone1 or mobilephone, or role: phone",
	RoleCompany: "the column companyname, or role: company",
}

// IdentityField returns the field that identifies a person by role r: the
// first field of the form, in its order, with that role and a column (a
// match compares a column). A form with two email fields matches on the
// first; give the other role: other, or put it first, to change that.
func (f *Form) IdentityField(r Role) (Field, bool) {
	for _, fd := range f.Fields {
		if fd.Role == r && fd.Column != "" {
			return fd, true
		}
	}
	return Field{}, false
}

// matchFields returns the fields a match rule compares, in the rule's
// order. Prepare has made sure that every rule of the form has them.
func (f *Form) matchFields(rule string) []Field {
	var out []Field
	for _, r := range matchRoles[rule] {
		if fd, ok := f.IdentityField(r); ok {
			out = append(out, fd)
		}
	}
	return out
}

// IdentityColumns returns the columns that the form's match rules compare:
// the columns that say who a lead is. Delivery never changes them on a lead
// that is not empty there, so an anonymous submission cannot make a lead
// someone else's.
func (f *Form) IdentityColumns() []string {
	var cols []string
	seen := map[string]bool{}
	for _, rule := range f.Match {
		for _, fd := range f.matchFields(rule) {
			if !seen[fd.Column] {
				seen[fd.Column] = true
				cols = append(cols, fd.Column)
			}
		}
	}
	return cols
}

// Required reports whether the field must have a value (for a checkbox:
// must be ticked).
func (fd Field) Required() bool {
	return strings.Contains(","+fd.Rules+",", ",required,")
}

// Multiline reports whether the hosted page asks for the field in a text box
// of several lines.
func (fd Field) Multiline() bool { return fd.Control == ControlTextarea }

// InputType is the type of the hosted page's <input> for the field (a
// textarea or select is asked for in its own element; "text" for those).
func (fd Field) InputType() string {
	switch fd.Control {
	case ControlEmail, ControlTel, ControlCheckbox, ControlRadio, ControlHidden:
		return fd.Control
	case ControlCheckboxes:
		return ControlCheckbox
	}
	return "text"
}

// columnAutocomplete are the autocomplete tokens of columns whose role does
// not decide one on its own.
var columnAutocomplete = map[string]string{
	"firstname": "given-name", "middlename": "additional-name", "lastname": "family-name",
	"jobtitle": "organization-title", "websiteurl": "url",
	"address1_line1": "address-line1", "address1_line2": "address-line2", "address1_line3": "address-line3",
	"address1_city": "address-level2", "address1_stateorprovince": "address-level1",
	"address1_postalcode": "postal-code", "address1_country": "country-name",
}

// Autocomplete is the HTML autocomplete token for the field, so that
// browsers fill in what they know; "" when none fits.
func (fd Field) Autocomplete() string {
	if fd.AutocompleteToken != "" {
		return fd.AutocompleteToken
	}
	if fd.Control == ControlHidden || fd.Control == ControlCheckbox || fd.Control == ControlCheckboxes {
		return ""
	}
	switch fd.Role {
	case RoleEmail:
		return "email"
	case RolePhone:
		return "tel"
	case RoleCompany:
		return "organization"
	case RoleName:
		if a, ok := columnAutocomplete[fd.Column]; ok {
			return a
		}
		return "name"
	case RoleOther:
		return columnAutocomplete[fd.Column]
	}
	return ""
}
