package forms

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"
)

// prepareTexts checks and normalizes the form's own texts, origins and
// URLs.
func (f *Form) prepareTexts() error {
	var err error
	if len(f.Titles) == 0 && f.Title != "" {
		f.Titles = Text{f.Language: f.Title}
	}
	if f.Titles, err = prepareText(f.Titles, f.Language, "title"); err != nil {
		return err
	}
	if f.Title = f.Titles.In(f.Language, f.Language); f.Title == "" {
		f.Title = f.ID
		f.Titles = Text{f.Language: f.ID}
	}
	for _, t := range []struct {
		p    *Text
		name string
	}{{&f.Intro, "intro"}, {&f.SubmitLabel, "submit_label"}, {&f.ThankYou, "thank_you"}} {
		if *t.p, err = prepareText(*t.p, f.Language, t.name); err != nil {
			return err
		}
	}
	if err := checkMessages(f.Messages); err != nil {
		return err
	}
	for k, m := range f.Messages {
		if f.Messages[k], err = prepareText(m, f.Language, "messages."+k); err != nil {
			return err
		}
	}
	for i, o := range f.AllowedOrigins {
		if o == "*" {
			continue
		}
		n, ok := NormalizeOrigin(o)
		if !ok {
			return fmt.Errorf("allowed_origins: %q is not an origin like https://www.example.com (scheme and host, no path), nor *", o)
		}
		f.AllowedOrigins[i] = n
	}
	for i, o := range f.FrameAncestors {
		if o == "'self'" || o == "self" {
			f.FrameAncestors[i] = "'self'"
			continue
		}
		n, ok := NormalizeOrigin(o)
		if !ok {
			return fmt.Errorf("frame_ancestors: %q is not an origin like https://www.example.com, nor self", o)
		}
		f.FrameAncestors[i] = n
	}
	for _, u := range []struct{ name, v string }{{"success_url", f.SuccessURL}, {"error_url", f.ErrorURL}} {
		if u.v != "" && !WebURL(u.v) {
			return fmt.Errorf("%s: %q is not an http:// or https:// address", u.name, u.v)
		}
	}
	return nil
}

// prepareFieldTexts settles the field's label, help and placeholder.
func (fd *Field) prepareFieldTexts(lang string) error {
	var err error
	if len(fd.Labels) == 0 && fd.Label != "" {
		fd.Labels = Text{lang: fd.Label}
	}
	if fd.Labels, err = prepareText(fd.Labels, lang, "label"); err != nil {
		return err
	}
	if fd.Help, err = prepareText(fd.Help, lang, "help"); err != nil {
		return err
	}
	if fd.Placeholder, err = prepareText(fd.Placeholder, lang, "placeholder"); err != nil {
		return err
	}
	fd.Label = fd.Labels.In(lang, lang)
	return nil
}

// prepareConsent attaches the consent block to its checkbox, adding one
// named consent (writing donotbulkemail) when the form has none.
func (f *Form) prepareConsent() error {
	c := f.Consent
	if c == nil {
		f.defaultLabels()
		return nil
	}
	var err error
	if c.Text, err = prepareText(c.Text, f.Language, "consent.text"); err != nil {
		return err
	}
	if c.PolicyURL != "" && !WebURL(c.PolicyURL) {
		return fmt.Errorf("consent.policy_url: %q is not an http:// or https:// address", c.PolicyURL)
	}
	if len(c.Version) > 50 || !utf8.ValidString(c.Version) {
		return fmt.Errorf("consent.version: at most 50 characters")
	}
	i := -1
	for j, fd := range f.Fields {
		if (c.Field != "" && fd.Name == c.Field) || (c.Field == "" && fd.Role == RoleConsent) {
			i = j
			break
		}
	}
	switch {
	case i < 0 && c.Field != "":
		return fmt.Errorf("consent.field: the form has no field %q", c.Field)
	case i < 0:
		if _, dup := f.Field("consent"); dup {
			return fmt.Errorf("consent: the field consent is not a checkbox; name the consent field with consent.field")
		}
		f.Fields = append(f.Fields, Field{Name: "consent", Type: "bool", Control: ControlCheckbox, Column: "donotbulkemail", Invert: true, Role: RoleConsent})
		i = len(f.Fields) - 1
	case f.Fields[i].Type != "bool":
		return fmt.Errorf("consent.field: %s is not a checkbox", f.Fields[i].Name)
	}
	c.Field = f.Fields[i].Name
	fd := &f.Fields[i]
	if len(c.Columns) > 0 {
		fd.Column, fd.Also, fd.Invert = c.Columns[0], c.Columns[1:], consentColumns[c.Columns[0]]
	}
	if len(c.Text) == 0 {
		c.Text = fd.Labels
	}
	if len(fd.Labels) == 0 {
		fd.Labels = c.Text
	}
	f.defaultLabels()
	if len(c.Text) == 0 {
		c.Text = fd.Labels
	}
	return nil
}

// defaultLabels gives a field without a label its name, in words.
func (f *Form) defaultLabels() {
	for i := range f.Fields {
		fd := &f.Fields[i]
		if len(fd.Labels) == 0 {
			fd.Labels = Text{f.Language: humanize(fd.Name)}
		}
		fd.Label = fd.Labels.In(f.Language, f.Language)
	}
}

// ConsentField returns the form's consent checkbox, if it has a consent block.
func (f *Form) ConsentField() (Field, bool) {
	if f.Consent == nil {
		return Field{}, false
	}
	return f.Field(f.Consent.Field)
}

// NormalizeOrigin returns a web origin as browsers send it in an Origin
// header: lower-case scheme and host, the port only when it is not the
// scheme's default, no path. A trailing / is forgiven; a path, query,
// user, or another scheme than http and https is not an origin.
func NormalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(s, "//") {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || strings.ContainsAny(host, "*") {
		return "", false
	}
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	return strings.ToLower(u.Scheme) + "://" + host, true
}

// WebURL reports whether s is an absolute http:// or https:// address
// (never javascript:, data: or a relative path).
func WebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

func isAttribution(param string) bool {
	for _, k := range AttributionKeys {
		if k == param {
			return true
		}
	}
	return false
}
