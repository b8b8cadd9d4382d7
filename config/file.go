package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/spam"
)

// file is the YAML file's shape. Decoding is strict, so a misspelt key is an
// error at start-up rather than a setting silently ignored.
//
// The sources: key is read by LoadSources (sources.go).
type file struct {
	Forms   map[string]formYAML `yaml:"forms"`
	Sources yaml.Node           `yaml:"sources"`
}

type formYAML struct {
	Title          textYAML  `yaml:"title"`
	AllowedOrigins []string  `yaml:"allowed_origins"`
	SuccessURL     string    `yaml:"success_url"`
	ErrorURL       string    `yaml:"error_url"`
	Subject        string    `yaml:"subject"`
	LeadSource     int       `yaml:"lead_source"`
	Match          []string  `yaml:"match"`
	OnMatch        string    `yaml:"on_match"`
	Contact        string    `yaml:"contact"`
	AlternateKey   string    `yaml:"alternate_key"`
	Fields         yaml.Node `yaml:"fields"`

	// The data model: the table written, routing, campaign, account, note.
	Table     string        `yaml:"table"`
	EntitySet string        `yaml:"entity_set"`
	Owner     *ownerYAML    `yaml:"owner"`
	Campaign  *campaignYAML `yaml:"campaign"`
	Account   *accountYAML  `yaml:"account"`
	Note      *noteYAML     `yaml:"note"`

	// What the website forms show and defend with.
	Language       string              `yaml:"language"`
	Intro          textYAML            `yaml:"intro"`
	SubmitLabel    textYAML            `yaml:"submit_label"`
	ThankYou       textYAML            `yaml:"thank_you"`
	Messages       map[string]textYAML `yaml:"messages"`
	Consent        *consentYAML        `yaml:"consent"`
	FrameAncestors []string            `yaml:"frame_ancestors"`
	Spam           yaml.Node           `yaml:"spam"`
}

type consentYAML struct {
	Field     string   `yaml:"field"`
	Text      textYAML `yaml:"text"`
	PolicyURL string   `yaml:"policy_url"`
	Version   string   `yaml:"version"`
	Columns   []string `yaml:"columns"`
}

type fieldYAML struct {
	Label        textYAML    `yaml:"label"`
	Help         textYAML    `yaml:"help"`
	Placeholder  textYAML    `yaml:"placeholder"`
	Column       string      `yaml:"column"`
	Rules        string      `yaml:"rules"`
	Type         string      `yaml:"type"`
	Invert       bool        `yaml:"invert"`
	Role         string      `yaml:"role"`
	Autocomplete string      `yaml:"autocomplete"`
	Options      optionsYAML `yaml:"options"`
	Value        string      `yaml:"value"`
	Param        string      `yaml:"param"`
	Kind         string      `yaml:"kind"`
	Lookup       *lookupYAML `yaml:"lookup"`
	MaxLength    int         `yaml:"max_length"`
}

type lookupYAML struct {
	Table   string `yaml:"table"`
	Key     string `yaml:"key"`
	KeyKind string `yaml:"key_kind"`
}

// UnmarshalYAML reads {table, key}, refusing other keys: a field's settings
// are decoded without the file decoder's strictness.
func (l *lookupYAML) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: lookup must be {table: accounts, key: accountnumber}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "table":
			l.Table = v.Value
		case "key":
			l.Key = v.Value
		case "key_kind":
			l.KeyKind = v.Value
		default:
			return fmt.Errorf("line %d: lookup: unknown setting %q (want table, key and key_kind)", k.Line, k.Value)
		}
	}
	return nil
}

// ownerYAML is a form's routing: rules tried in order, then the default.
type ownerYAML struct {
	Rules   []ownerRuleYAML `yaml:"rules"`
	Default *ownerRuleYAML  `yaml:"default"`
}

type ownerRuleYAML struct {
	When       map[string]stringsYAML `yaml:"when"`
	User       string                 `yaml:"user"`
	Team       string                 `yaml:"team"`
	RoundRobin []string               `yaml:"round_robin"`
}

type campaignYAML struct {
	From   string `yaml:"from"`
	Value  string `yaml:"value"`
	Column string `yaml:"column"`
}

type accountYAML struct {
	Match    []string `yaml:"match"`
	Create   bool     `yaml:"create"`
	Column   string   `yaml:"column"`
	FreeMail []string `yaml:"free_mail"`
}

type noteYAML struct {
	From    string `yaml:"from"`
	Subject string `yaml:"subject"`
}

// stringsYAML is one value or a list of values: country: Germany, or
// country: [Germany, Austria].
type stringsYAML []string

// UnmarshalYAML reads a scalar or a sequence of scalars.
func (s *stringsYAML) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = stringsYAML{n.Value}
		return nil
	case yaml.SequenceNode:
		out := stringsYAML{}
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a list of values, each text or a number", e.Line)
			}
			out = append(out, e.Value)
		}
		*s = out
		return nil
	}
	return fmt.Errorf("line %d: a value, or a list of values like [Germany, Austria]", n.Line)
}

// owner turns the YAML's routing into the form's.
func (o *ownerYAML) owner() *forms.Owner {
	if o == nil {
		return nil
	}
	out := &forms.Owner{}
	for _, r := range o.Rules {
		out.Rules = append(out.Rules, r.rule())
	}
	if o.Default != nil {
		d := o.Default.rule()
		out.Default = &d
	}
	return out
}

func (r ownerRuleYAML) rule() forms.OwnerRule {
	out := forms.OwnerRule{Owner: forms.Principal{User: r.User, Team: r.Team}}
	if len(r.When) > 0 {
		out.When = map[string][]string{}
		for k, v := range r.When {
			out.When[k] = v
		}
	}
	for _, u := range r.RoundRobin {
		out.RoundRobin = append(out.RoundRobin, forms.Principal{User: u})
	}
	return out
}

// Rate limits of a configured form that says nothing about them: a person
// sends a form a few times at most; a form's whole audience, rarely more
// than a few a second. The built-in demo form has none (spam: rate_limit:
// off does the same for a configured form).
var (
	DefaultRateIPForm = flood.Rate{N: 10, Per: time.Minute}
	DefaultRateForm   = flood.Rate{N: 300, Per: time.Minute}
)

var formID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// LoadForms reads the forms of the YAML file at path, or returns the built-in
// demo form when path is empty. Errors name the YAML path at fault. Secret
// references (a captcha's secret: env:NAME or file:/path) are resolved with
// getenv and the file system.
func LoadForms(path string, getenv Getenv) (forms.Set, error) {
	return loadForms(path, func(ref string) (string, error) { return ResolveSecret(ref, getenv) })
}

// loadForms is LoadForms with the secret resolver given: the worker, which
// verifies no captcha, checks references without reading them.
func loadForms(path string, resolve func(string) (string, error)) (forms.Set, error) {
	v := forms.NewValidator()
	if path == "" {
		f := forms.Demo()
		if err := f.Prepare(v); err != nil {
			return nil, fmt.Errorf("built-in demo form: %v", err)
		}
		return forms.Set{f.ID: f}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("LEADBRIDGE_CONFIG: %v", err)
	}
	var fl file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fl); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(fl.Forms) == 0 {
		return nil, fmt.Errorf("%s: forms: at least one form is needed", path)
	}
	set := forms.Set{}
	var errs []error
	for id, fy := range fl.Forms {
		if !formID.MatchString(id) {
			errs = append(errs, fmt.Errorf("%s: forms.%s: a form id is lower-case letters, digits, - and _", path, id))
			continue
		}
		f, err := fy.form(id)
		if err == nil {
			err = f.Prepare(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: forms.%s.%v", path, id, err))
			continue
		}
		var spamNode *yaml.Node
		if fy.Spam.Kind != 0 {
			spamNode = &fy.Spam
		}
		if f.Spam, err = spam.DecodeConfig(spamNode, "forms."+id+".spam", resolve); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		if l := &f.Spam.RateLimits; !f.Spam.RateLimitOff && l.IPForm.IsZero() && l.Form.IsZero() {
			l.IPForm, l.Form = DefaultRateIPForm, DefaultRateForm
		}
		if h := f.Spam.Honeypot; h != "" {
			if _, clash := f.Field(h); clash {
				errs = append(errs, fmt.Errorf("%s: forms.%s.spam.honeypot: %q is a field of the form; the honeypot needs a name of its own", path, id, h))
				continue
			}
		}
		set[id] = f
	}
	return set, errors.Join(errs...)
}

func (fy formYAML) form(id string) (*forms.Form, error) {
	f := &forms.Form{
		ID: id, Titles: forms.Text(fy.Title), AllowedOrigins: fy.AllowedOrigins,
		SuccessURL: fy.SuccessURL, ErrorURL: fy.ErrorURL, Subject: fy.Subject,
		LeadSource: fy.LeadSource, Match: fy.Match, OnMatch: fy.OnMatch,
		Contact: fy.Contact, AlternateKey: fy.AlternateKey,
		Language: fy.Language, Intro: forms.Text(fy.Intro), SubmitLabel: forms.Text(fy.SubmitLabel),
		ThankYou: forms.Text(fy.ThankYou), FrameAncestors: fy.FrameAncestors,
		Table: fy.Table, EntitySet: fy.EntitySet, Owner: fy.Owner.owner(),
	}
	if c := fy.Campaign; c != nil {
		f.Campaign = &forms.Campaign{From: c.From, Value: c.Value, Column: c.Column}
	}
	if a := fy.Account; a != nil {
		f.Account = &forms.Account{Match: a.Match, Create: a.Create, Column: a.Column, FreeMail: a.FreeMail}
	}
	if n := fy.Note; n != nil {
		f.Note = &forms.Note{From: n.From, Subject: n.Subject}
	}
	for k, m := range fy.Messages {
		if f.Messages == nil {
			f.Messages = map[string]forms.Text{}
		}
		f.Messages[k] = forms.Text(m)
	}
	if c := fy.Consent; c != nil {
		f.Consent = &forms.Consent{Field: c.Field, Text: forms.Text(c.Text), PolicyURL: c.PolicyURL, Version: c.Version, Columns: c.Columns}
	}
	// Fields are a mapping whose order is the order shown on the hosted page,
	// so walk the YAML node rather than decoding into a Go map.
	if fy.Fields.Kind != yaml.MappingNode {
		return nil, errors.New("fields: must be a mapping of field name to settings")
	}
	for i := 0; i+1 < len(fy.Fields.Content); i += 2 {
		name := fy.Fields.Content[i].Value
		var fd fieldYAML
		if err := decodeField(fy.Fields.Content[i+1], &fd); err != nil {
			return nil, fmt.Errorf("fields.%s: %v", name, err)
		}
		f.Fields = append(f.Fields, forms.Field{
			Name: name, Labels: forms.Text(fd.Label), Column: fd.Column, Rules: fd.Rules, Type: fd.Type, Invert: fd.Invert, Role: forms.Role(fd.Role),
			Help: forms.Text(fd.Help), Placeholder: forms.Text(fd.Placeholder), AutocompleteToken: fd.Autocomplete,
			Options: []forms.Option(fd.Options), Value: fd.Value, Param: fd.Param,
			Kind: fd.Kind, MaxLength: fd.MaxLength,
		})
		if l := fd.Lookup; l != nil {
			f.Fields[len(f.Fields)-1].Lookup = &forms.Lookup{Table: l.Table, Key: l.Key, KeyKind: l.KeyKind}
		}
	}
	return f, nil
}

// fieldKeys are the settings a field may have.
var fieldKeys = map[string]bool{"label": true, "column": true, "rules": true, "type": true, "invert": true, "role": true,
	"help": true, "placeholder": true, "autocomplete": true, "options": true, "value": true, "param": true,
	"kind": true, "lookup": true, "max_length": true}

// decodeField decodes one field's settings. Node.Decode does not inherit the
// file decoder's KnownFields, so unknown keys are refused here: a misspelt
// "rule:" must not silently drop a field's validation.
func decodeField(n *yaml.Node, fd *fieldYAML) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !fieldKeys[k.Value] {
				return fmt.Errorf("line %d: unknown setting %q (want label, column, rules, type, invert, role, help, placeholder, autocomplete, options, value, param, kind, lookup or max_length)", k.Line, k.Value)
			}
		}
	}
	return n.Decode(fd)
}

// textYAML is words in one language (a plain string: the form's language)
// or several (a mapping of language tag to text: {en: Email, de: E-Mail}).
type textYAML forms.Text

// UnmarshalYAML reads a string or a mapping of strings.
func (t *textYAML) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*t = textYAML{"": n.Value}
		return nil
	case yaml.MappingNode:
		out := textYAML{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: the text in %s must be a string", v.Line, k.Value)
			}
			if _, dup := out[k.Value]; dup {
				return fmt.Errorf("line %d: language %s given twice", k.Line, k.Value)
			}
			out[k.Value] = v.Value
		}
		*t = out
		return nil
	}
	return fmt.Errorf("line %d: must be text, or a mapping of language to text like {en: Email, de: E-Mail}", n.Line)
}

// optionsYAML is a select's or radio's options: a mapping of label to
// value ({Consulting: 7, Retail: 25}, in the file's order), or a list of
// {label, value} for labels in several languages.
type optionsYAML []forms.Option

// UnmarshalYAML reads either shape.
func (o *optionsYAML) UnmarshalYAML(n *yaml.Node) error {
	var out optionsYAML
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: the value of option %q must be a number or text", v.Line, k.Value)
			}
			out = append(out, forms.Option{Label: forms.Text{"": k.Value}, Value: v.Value})
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			if e.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: options[%d] must be {label: …, value: …}", e.Line, i)
			}
			var opt struct {
				Label textYAML `yaml:"label"`
				Value string   `yaml:"value"`
			}
			for j := 0; j+1 < len(e.Content); j += 2 {
				if k := e.Content[j].Value; k != "label" && k != "value" {
					return fmt.Errorf("line %d: options[%d]: unknown setting %q (want label and value)", e.Content[j].Line, i, k)
				}
			}
			if err := e.Decode(&opt); err != nil {
				return fmt.Errorf("options[%d]: %v", i, err)
			}
			out = append(out, forms.Option{Label: forms.Text(opt.Label), Value: opt.Value})
		}
	default:
		return fmt.Errorf("line %d: options must be a mapping of label to value, or a list of {label, value}", n.Line)
	}
	*o = out
	return nil
}
