package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/forms"
)

// file is the YAML file's shape. Decoding is strict, so a misspelt key is an
// error at start-up rather than a setting silently ignored.
type file struct {
	Forms   map[string]formYAML   `yaml:"forms"`
	Sources map[string]sourceYAML `yaml:"sources"`
}

type formYAML struct {
	Title          string         `yaml:"title"`
	AllowedOrigins []string       `yaml:"allowed_origins"`
	SuccessURL     string         `yaml:"success_url"`
	ErrorURL       string         `yaml:"error_url"`
	Subject        string         `yaml:"subject"`
	LeadSource     int            `yaml:"lead_source"`
	Match          []string       `yaml:"match"`
	OnMatch        string         `yaml:"on_match"`
	Contact        string         `yaml:"contact"`
	AlternateKey   string         `yaml:"alternate_key"`
	Spam           map[string]any `yaml:"spam"`
	Fields         yaml.Node      `yaml:"fields"`
}

type fieldYAML struct {
	Label  string `yaml:"label"`
	Column string `yaml:"column"`
	Rules  string `yaml:"rules"`
	Type   string `yaml:"type"`
	Invert bool   `yaml:"invert"`
	Role   string `yaml:"role"`
}

// sourceYAML is a marketing-platform webhook source. Webhook intake is a
// later capability; the settings are read now so a file written for it loads.
type sourceYAML struct {
	Kind            string            `yaml:"kind"`
	Secret          any               `yaml:"secret"`
	Form            string            `yaml:"form"`
	Fields          map[string]string `yaml:"fields"`
	Header          string            `yaml:"header"`
	Prefix          string            `yaml:"prefix"`
	Encoding        string            `yaml:"encoding"`
	TimestampHeader string            `yaml:"timestamp_header"`
	IDHeader        string            `yaml:"id_header"`
}

var formID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// LoadForms reads the forms of the YAML file at path, or returns the built-in
// demo form when path is empty. Errors name the YAML path at fault.
func LoadForms(path string, getenv Getenv) (forms.Set, error) {
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
		if err == nil {
			err = checkSecrets("spam", fy.Spam, getenv)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: forms.%s.%v", path, id, err))
			continue
		}
		set[id] = f
	}
	for id, s := range fl.Sources {
		if _, ok := fl.Forms[s.Form]; !ok && s.Form != "demo" {
			errs = append(errs, fmt.Errorf("%s: sources.%s.form: no form %q", path, id, s.Form))
		}
		if err := checkSecret(s.Secret, getenv); err != nil {
			errs = append(errs, fmt.Errorf("%s: sources.%s.secret: %v", path, id, err))
		}
	}
	return set, errors.Join(errs...)
}

func (fy formYAML) form(id string) (*forms.Form, error) {
	f := &forms.Form{
		ID: id, Title: fy.Title, AllowedOrigins: fy.AllowedOrigins,
		SuccessURL: fy.SuccessURL, ErrorURL: fy.ErrorURL, Subject: fy.Subject,
		LeadSource: fy.LeadSource, Match: fy.Match, OnMatch: fy.OnMatch,
		Contact: fy.Contact, AlternateKey: fy.AlternateKey,
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
			Name: name, Label: fd.Label, Column: fd.Column, Rules: fd.Rules, Type: fd.Type, Invert: fd.Invert, Role: forms.Role(fd.Role),
		})
	}
	return f, nil
}

// fieldKeys are the settings a field may have.
var fieldKeys = map[string]bool{"label": true, "column": true, "rules": true, "type": true, "invert": true, "role": true}

// decodeField decodes one field's settings. Node.Decode does not inherit the
// file decoder's KnownFields, so unknown keys are refused here: a misspelt
// "rule:" must not silently drop a field's validation.
func decodeField(n *yaml.Node, fd *fieldYAML) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !fieldKeys[k.Value] {
				return fmt.Errorf("line %d: unknown setting %q (want label, column, rules, type, invert or role)", k.Line, k.Value)
			}
		}
	}
	return n.Decode(fd)
}

// checkSecret accepts "env:NAME", "file:/path" or a list of them; a secret
// written in clear text in the file is refused.
func checkSecret(v any, getenv Getenv) error {
	switch s := v.(type) {
	case nil:
		return nil
	case string:
		_, err := ResolveSecret(s, getenv)
		return err
	case []any:
		for _, e := range s {
			if err := checkSecret(e, getenv); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New(`must be "env:NAME", "file:/path" or a list of them`)
}

// checkSecrets applies checkSecret to every "secret" key in a free-form
// settings map (the spam settings' captcha secret), so that one written in
// clear text is refused like a source's. Errors start with the key's path.
func checkSecrets(path string, m map[string]any, getenv Getenv) error {
	for k, v := range m {
		p := path + "." + k
		if k == "secret" {
			if err := checkSecret(v, getenv); err != nil {
				return fmt.Errorf("%s: %v", p, err)
			}
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			if err := checkSecrets(p, sub, getenv); err != nil {
				return err
			}
		}
	}
	return nil
}

// ResolveSecret reads a secret reference: "env:NAME" or "file:/path".
func ResolveSecret(ref string, getenv Getenv) (string, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", name)
		}
		return v, nil
	case strings.HasPrefix(ref, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(ref, "file:"))
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", errors.New(`secrets are never written in the file: use "env:NAME" or "file:/path"`)
}
