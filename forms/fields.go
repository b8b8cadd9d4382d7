package forms

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Controls: how a field is asked for, the YAML's type: key. (type: string
// and type: bool, the older words, still mean a text box and a checkbox.)
const (
	ControlText     = "text"
	ControlEmail    = "email"
	ControlTel      = "tel"
	ControlTextarea = "textarea"
	ControlSelect   = "select"
	ControlRadio    = "radio"
	ControlCheckbox = "checkbox"
	// ControlCheckboxes is a group of checkboxes, one per option, for a
	// multi-select choice column (kind: choices): each ticked option is
	// posted as a repeated value.
	ControlCheckboxes = "checkboxes"
	ControlHidden     = "hidden"
)

// Controls lists the controls, in the order errors name them.
var Controls = []string{ControlText, ControlEmail, ControlTel, ControlTextarea, ControlSelect, ControlRadio, ControlCheckbox, ControlCheckboxes, ControlHidden}

// MaxOptions bounds a select's or radio group's options: a page with more
// is unusable, and the definition every embed downloads grows with them.
const MaxOptions = 200

// Option is one choice of a select or radio field: what the person reads
// and the value the lead gets (for a choice column such as industrycode or
// leadsourcecode, the choice's whole number).
type Option struct {
	Value string
	Label Text
}

// AttributionKeys are the page URL's parameters kept as a submission's
// attribution (where the visitor came from), in this order.
var AttributionKeys = []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid", "msclkid"}

// maxAttribution bounds one attribution value, in UTF-16 code units.
const maxAttribution = 200

var (
	paramName         = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]{1,64}$`)
	autocompleteToken = regexp.MustCompile(`^[a-z0-9 -]{1,64}$`)
)

// prepareControl settles the field's data type and control from its type:
// setting and role, and checks the settings that belong to a control.
func (fd *Field) prepareControl() error {
	switch fd.Type {
	case "", "string":
		fd.Type = "string"
	case "bool":
		if fd.Control == "" {
			fd.Control = ControlCheckbox
		}
	default:
		if !isControl(fd.Type) {
			return fmt.Errorf("type: %q is not one of %s (or string, bool)", fd.Type, strings.Join(Controls, ", "))
		}
		fd.Control, fd.Type = fd.Type, "string"
	}
	if fd.Control != "" && !isControl(fd.Control) {
		return fmt.Errorf("type: %q is not one of %s", fd.Control, strings.Join(Controls, ", "))
	}
	if fd.Control == ControlCheckbox {
		fd.Type = "bool"
	}
	if fd.Type == "bool" && fd.Control != ControlCheckbox && fd.Control != ControlHidden {
		return fmt.Errorf("type: a yes/no field is a checkbox (or hidden), not %s", fd.Control)
	}
	return nil
}

// defaultControl is the control of a field whose type: names none: its role's.
func (fd *Field) defaultControl() {
	if fd.Control != "" {
		return
	}
	switch {
	case fd.Type == "bool":
		fd.Control = ControlCheckbox
	case fd.Kind == KindChoices && fd.Lookup == nil:
		// Several options are ticked, not typed: "Events, Webinars" in a
		// text box is what the group replaces.
		fd.Control = ControlCheckboxes
	case fd.Role == RoleEmail:
		fd.Control = ControlEmail
	case fd.Role == RolePhone:
		fd.Control = ControlTel
	case fd.Role == RoleMessage:
		fd.Control = ControlTextarea
	default:
		fd.Control = ControlText
	}
}

func isControl(s string) bool {
	for _, c := range Controls {
		if c == s {
			return true
		}
	}
	return false
}

// prepareOptions checks a field's options, hidden value and autocomplete.
func (fd *Field) prepareOptions(lang string) error {
	choosy := fd.Control == ControlSelect || fd.Control == ControlRadio || fd.Control == ControlCheckboxes
	// A choice column may take its value from a hidden field or a webhook's
	// text too, so options there name the labels that are accepted.
	chosen := fd.Kind == KindChoice || fd.Kind == KindChoices
	switch {
	case choosy && len(fd.Options) == 0:
		what := fd.Control
		if what == ControlCheckboxes {
			what = "checkbox group"
		}
		return fmt.Errorf("options: a %s needs options (label: value)", what)
	case !choosy && !chosen && len(fd.Options) > 0:
		return fmt.Errorf("options: only a select, radio or checkboxes field (or kind: choice or choices) has options, not a %s", fd.Control)
	case len(fd.Options) > MaxOptions:
		return fmt.Errorf("options: %d options; at most %d are allowed", len(fd.Options), MaxOptions)
	}
	seen := map[string]bool{}
	fd.choice = len(fd.Options) > 0
	for i := range fd.Options {
		o := &fd.Options[i]
		o.Value = strings.TrimSpace(o.Value)
		if o.Value == "" || !utf8.ValidString(o.Value) || len(o.Value) > 100 {
			return fmt.Errorf("options[%d]: the value must be text of 1 to 100 characters", i)
		}
		if seen[o.Value] {
			return fmt.Errorf("options[%d]: value %q is given twice", i, o.Value)
		}
		seen[o.Value] = true
		var err error
		if o.Label, err = prepareText(o.Label, lang, fmt.Sprintf("options[%d].label", i)); err != nil {
			return err
		}
		if len(o.Label) == 0 {
			o.Label = Text{lang: o.Value}
		}
		if _, err := strconv.ParseInt(o.Value, 10, 32); err != nil {
			fd.choice = false
		}
	}
	hidden := fd.Control == ControlHidden
	switch {
	case !hidden && (fd.Value != "" || fd.Param != ""):
		return fmt.Errorf("value, param: only a hidden field takes its value from the configuration or the page URL")
	case hidden && (fd.Value == "") == (fd.Param == ""):
		return fmt.Errorf("value: a hidden field needs exactly one of value (a fixed value) or param (the page URL's parameter)")
	case hidden && fd.Param != "" && !paramName.MatchString(fd.Param):
		return fmt.Errorf("param: %q is not a URL parameter name", fd.Param)
	}
	if fd.AutocompleteToken != "" && !autocompleteToken.MatchString(fd.AutocompleteToken) {
		return fmt.Errorf("autocomplete: %q is not an autocomplete token like email, given-name or off", fd.AutocompleteToken)
	}
	return nil
}

// Choice reports whether the field's options are a Dataverse choice: every
// value a whole number, which the lead gets as a number.
func (fd Field) Choice() bool { return fd.choice }

// option returns the value of the option v names: its value, or its label
// in any language (ignoring case), so that a webhook sending "Retail" and a
// page sending "7" mean the same choice.
func (fd Field) option(v string) (string, bool) {
	for _, o := range fd.Options {
		if o.Value == v {
			return o.Value, true
		}
	}
	for _, o := range fd.Options {
		for _, l := range o.Label {
			if strings.EqualFold(strings.TrimSpace(l), v) {
				return o.Value, true
			}
		}
	}
	return "", false
}

// LeadValues returns what the field writes into the lead for its cleaned
// value v: column → value. A checkbox writes true or false (the negation
// into an inverted column, and into every do-not/opt-out column of Also); a
// choice writes its whole number; text writes itself, and nothing when
// empty. A field without a column writes nothing.
func (fd Field) LeadValues(v string) map[string]any {
	if fd.Column == "" {
		return nil
	}
	out := map[string]any{}
	switch {
	case fd.Type == "bool":
		b := v == "true"
		out[fd.Column] = b != fd.Invert
		for _, c := range fd.Also {
			out[c] = b != consentColumns[c]
		}
	case v == "":
		return nil
	case fd.choice:
		n, _ := strconv.Atoi(v)
		out[fd.Column] = n
	default:
		out[fd.Column] = v
	}
	return out
}

// PageParams are the query parameters of the page a form was sent from:
// where hidden fields with param: and the attribution come from.
func PageParams(page string) url.Values {
	u, err := url.Parse(page)
	if err != nil {
		return url.Values{}
	}
	q, _ := url.ParseQuery(u.RawQuery) // a malformed pair is skipped, the rest kept
	return q
}

// Attribution picks the attribution parameters out of a page's parameters:
// valid text only, each cut to 200 UTF-16 code units. nil when there are none.
func Attribution(params url.Values) map[string]string {
	var out map[string]string
	for _, k := range AttributionKeys {
		v := strings.TrimSpace(params.Get(k))
		if v == "" || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = CutUTF16(v, maxAttribution)
	}
	return out
}

// FillHidden sets raw's value of every hidden field, whatever the client
// sent for it: the configured value, or the page URL's parameter (empty when
// the page has none). A visitor cannot override a hidden field by posting it.
func (f *Form) FillHidden(raw map[string]string, params url.Values) {
	for _, fd := range f.Fields {
		if fd.Control != ControlHidden {
			continue
		}
		if fd.Param != "" {
			raw[fd.Name] = params.Get(fd.Param)
		} else {
			raw[fd.Name] = fd.Value
		}
	}
}

// maxLength is the longest value the field takes, in UTF-16 code units: its
// column's limit or its max= rule, whichever is lower; 0 when neither.
func (fd Field) maxLength() int {
	n := fd.MaxLength
	if fd.cut {
		n = MaxNoteText // the note keeps what the column cannot
	}
	for _, r := range strings.Split(fd.Rules, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(r), "max="); ok {
			if m, err := strconv.Atoi(v); err == nil && (n == 0 || m < n) {
				n = m
			}
		}
	}
	return n
}
