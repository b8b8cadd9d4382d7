package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/webhook"
)

// ResolveSecret reads a secret reference of the YAML file: "env:NAME" (the
// variable, which must not be empty) or "file:/path" (the file's content,
// trimmed of surrounding white space). Anything else is refused, so that a
// secret is never written in the file in clear text. Errors name the
// variable or file, never a value.
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
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("file %s is empty", strings.TrimPrefix(ref, "file:"))
		}
		return v, nil
	}
	return "", errors.New(`secrets are never written in the file: use "env:NAME" or "file:/path"`)
}

// formSource is submission.Record.Source for a web form's submissions; no
// webhook source may have it as its id.
const formSource = "form"

// LoadSources reads the webhook sources of the YAML file at path (none when
// path is empty: the built-in demo form has no sources). fs are the forms
// loaded from the same file; a source names one of them. Secrets are
// resolved through getenv (env:NAME) or from files (file:/path). Decoding
// is webhook.LoadSources'; on top of it, a field a source maps explicitly
// must be a field of its form, so that a misspelt name is an error at start
// instead of a value silently dropped. Errors start with the file and the
// YAML path at fault, one per line.
func LoadSources(path string, getenv Getenv, fs forms.Set) (map[string]*webhook.Source, error) {
	if path == "" {
		return map[string]*webhook.Source{}, nil
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
	resolve := func(ref string) (string, error) { return ResolveSecret(ref, getenv) }
	node := &fl.Sources
	if node.Kind == 0 {
		node = nil // no sources: key
	}
	sources, err := webhook.LoadSources(node, resolve, fs.IDs())
	if err == nil {
		err = checkMappedFields(&fl.Sources, sources, fs)
	}
	if _, taken := sources[formSource]; taken {
		err = errors.Join(err, fmt.Errorf("sources.%s: the id %q is reserved: a web form's submissions carry it as their source", formSource, formSource))
	}
	if err != nil {
		var lines []string
		for _, l := range strings.Split(err.Error(), "\n") {
			lines = append(lines, path+": "+l)
		}
		return nil, errors.New(strings.Join(lines, "\n"))
	}
	return sources, nil
}

// checkMappedFields refuses a configured fields: key that names no field of
// the source's form. (A kind's default mapping may name fields a form does
// not have; those values are left out, as a form post's extra fields are.)
func checkMappedFields(n *yaml.Node, sources map[string]*webhook.Source, fs forms.Set) error {
	var errs []error
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		id, settings := n.Content[i].Value, n.Content[i+1]
		for settings.Kind == yaml.AliasNode {
			settings = settings.Alias
		}
		src, f := sources[id], (*forms.Form)(nil)
		if src != nil {
			f = fs[src.Form]
		}
		if f == nil || settings.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(settings.Content); j += 2 {
			if settings.Content[j].Value != "fields" {
				continue
			}
			mapped := settings.Content[j+1]
			for mapped.Kind == yaml.AliasNode {
				mapped = mapped.Alias
			}
			for k := 0; k+1 < len(mapped.Content); k += 2 {
				name := mapped.Content[k].Value
				if _, ok := f.Field(name); !ok {
					have := make([]string, 0, len(f.Fields))
					for _, fd := range f.Fields {
						have = append(have, fd.Name)
					}
					slices.Sort(have)
					errs = append(errs, fmt.Errorf("sources.%s.fields.%s: form %q has no field %q (it has %s)",
						id, name, f.ID, name, strings.Join(have, ", ")))
				}
			}
		}
	}
	return errors.Join(errs...)
}
