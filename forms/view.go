package forms

// View is a form as a person sees it, in one language: what the hosted
// page renders and what the embed's definition serves. Hidden fields are
// not in it: leadbridge fills them in itself (FillHidden).
type View struct {
	ID        string      `json:"id"`
	Language  string      `json:"language"`
	Languages []string    `json:"languages"`
	Title     string      `json:"title"`
	Intro     string      `json:"intro,omitempty"`
	Submit    string      `json:"submit"`
	ThankYou  string      `json:"thank_you"`
	Fields    []FieldView `json:"fields"`
	// Consent is the consent checkbox's policy link and version; its words
	// are the label of the field it names.
	Consent *ConsentView `json:"consent,omitempty"`
}

// FieldView is one field of a View.
type FieldView struct {
	Name         string       `json:"name"`
	Control      string       `json:"type"`
	InputType    string       `json:"-"`
	Label        string       `json:"label"`
	Help         string       `json:"help,omitempty"`
	Placeholder  string       `json:"placeholder,omitempty"`
	Autocomplete string       `json:"autocomplete,omitempty"`
	Required     bool         `json:"required,omitempty"`
	MaxLength    int          `json:"maxlength,omitempty"`
	Options      []OptionView `json:"options,omitempty"`
	Consent      bool         `json:"consent,omitempty"` // the consent checkbox
}

// OptionView is one option of a select or radio field.
type OptionView struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// ConsentView is what the consent checkbox shows besides its words.
type ConsentView struct {
	Field       string `json:"field"`
	PolicyURL   string `json:"policy_url,omitempty"`
	PolicyLabel string `json:"policy_label,omitempty"`
	Version     string `json:"version,omitempty"`
}

// View returns the form in lang (one of Languages; PickLanguage chooses).
func (f *Form) View(lang string) View {
	v := View{
		ID: f.ID, Language: lang, Languages: f.languages,
		Title:    f.Titles.In(lang, f.Language),
		Intro:    f.Intro.In(lang, f.Language),
		Submit:   f.SubmitLabel.In(lang, f.Language),
		ThankYou: f.ThankYou.In(lang, f.Language),
	}
	if v.Submit == "" {
		v.Submit = f.Message(lang, MsgSubmit)
	}
	if v.ThankYou == "" {
		v.ThankYou = f.Message(lang, MsgThanksText)
	}
	if f.Consent != nil {
		v.Consent = &ConsentView{Field: f.Consent.Field, PolicyURL: f.Consent.PolicyURL, Version: f.Consent.Version}
		if f.Consent.PolicyURL != "" {
			v.Consent.PolicyLabel = f.Message(lang, MsgPrivacy)
		}
	}
	for _, fd := range f.Fields {
		if fd.Control == ControlHidden {
			continue
		}
		fv := FieldView{
			Name: fd.Name, Control: fd.Control, InputType: fd.InputType(),
			Label:        fd.Labels.In(lang, f.Language),
			Help:         fd.Help.In(lang, f.Language),
			Placeholder:  fd.Placeholder.In(lang, f.Language),
			Autocomplete: fd.Autocomplete(),
			Required:     fd.Required(),
			MaxLength:    fd.maxLength(),
			Consent:      f.Consent != nil && fd.Name == f.Consent.Field,
		}
		if fv.Consent {
			fv.Label = f.Consent.Text.In(lang, f.Language)
		}
		for _, o := range fd.Options {
			fv.Options = append(fv.Options, OptionView{Value: o.Value, Label: o.Label.In(lang, f.Language)})
		}
		v.Fields = append(v.Fields, fv)
	}
	return v
}

// ConsentGiven reads the consent checkbox of cleaned values: whether the
// form has a consent block, and whether the person ticked it.
func (f *Form) ConsentGiven(values map[string]string) (has, given bool) {
	fd, ok := f.ConsentField()
	if !ok {
		return false, false
	}
	return true, values[fd.Name] == "true"
}
