package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/forms"
)

// file is the YAML file's shape. Decoding is strict, so a misspelt key is an
// error at start-up rather than a setting silently ignored.
//
// The design's spam: key is refused until spam protection exists: a
// setting that loads but does nothing would look like protection. The
// sources: key is read by LoadSources (sources.go).
type file struct {
	Forms   map[string]formYAML `yaml:"forms"`
	Sources yaml.Node           `yaml:"sources"`
}

type formYAML struct {
	Title          string    `yaml:"title"`
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
}

type fieldYAML struct {
	Label  string `yaml:"label"`
	Column string `yaml:"column"`
	Rules  string `yaml:"rules"`
	Type   string `yaml:"type"`
	Invert bool   `yaml:"invert"`
	Role   string `yaml:"role"`
}

var formID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// LoadForms reads the forms of the YAML file at path, or returns the built-in
// demo form when path is empty. Errors name the YAML path at fault.
//
// The environment is for secret references ("env:NAME"), which no key of
// the forms takes since spam: was dropped (the sources' secrets are
// LoadSources'); the parameter stays so that the callers in cmd's config
// and the tests need not change twice.
func LoadForms(path string, _ Getenv) (forms.Set, error) {
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
		set[id] = f
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
