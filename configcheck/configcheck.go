// Package configcheck checks a loaded configuration against what it relies
// on outside itself: the secrets its YAML file refers to, and the Dataverse
// org it writes to — that every column a form writes exists on its table,
// takes writes, holds the longest value the form lets through, has the
// choice values the form sends and, for a lookup, points at the table the
// form binds. It turns what would otherwise fail at delivery, one lead at
// a time, into a report at start (worker -check, and every worker start).
package configcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/forms"
)

// Severity says what a finding costs.
type Severity string

const (
	// Problem: submissions will fail at delivery (some or all of a form's),
	// or a program will refuse to start. worker -check fails on it, and
	// LEADBRIDGE_STRICT_CONFIG refuses to start the worker.
	Problem Severity = "problem"
	// Warning: worth a look, but nothing is certain to fail (a length the
	// form does not limit, a secret only the API reads).
	Warning Severity = "warning"
)

// Finding is one thing the check found.
type Finding struct {
	Severity Severity
	Form     string // the form's id; "" when it is about no form
	Field    string // the field's name; "" when a form setting (or nothing of a form) is at fault
	Path     string // the YAML path at fault: "forms.contact-us.fields.industry"; "" for a variable
	Message  string // what is wrong and what to do, in words an operator acts on
}

func (f Finding) String() string {
	if f.Path == "" {
		return fmt.Sprintf("%s: %s", f.Severity, f.Message)
	}
	return fmt.Sprintf("%s: %s: %s", f.Severity, f.Path, f.Message)
}

// Report is the outcome of a check.
type Report struct {
	Findings []Finding
	// Checked says what was compared with what, one line each.
	Checked []string
	// Unchecked is why the table definitions could not be read (the org
	// unreachable, a refused sign-in); "" when they were, or when no
	// definitions were asked for.
	Unchecked string
}

// Problems counts the findings of severity Problem.
func (r *Report) Problems() int { return r.count(Problem) }

// Warnings counts the findings of severity Warning.
func (r *Report) Warnings() int { return r.count(Warning) }

func (r *Report) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// OK reports whether the configuration passed: no problem, and everything
// it was asked to check was checked.
func (r *Report) OK() bool { return r.Problems() == 0 && r.Unchecked == "" }

// Write prints the report for a person: a summary line, then problems,
// warnings, what could not be checked and what was.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	verdict := "passed"
	if !r.OK() {
		verdict = "failed"
	}
	fmt.Fprintf(&b, "configuration check %s: %d problem(s), %d warning(s)\n", verdict, r.Problems(), r.Warnings())
	for _, s := range []Severity{Problem, Warning} {
		for _, f := range r.Findings {
			if f.Severity == s {
				fmt.Fprintf(&b, "  %s\n", f)
			}
		}
	}
	if r.Unchecked != "" {
		fmt.Fprintf(&b, "  not checked: %s\n", r.Unchecked)
	}
	for _, c := range r.Checked {
		fmt.Fprintf(&b, "  checked: %s\n", c)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String is the report as Write prints it.
func (r *Report) String() string {
	var b strings.Builder
	_ = r.Write(&b)
	return b.String()
}

// LoadFailed is the report of a configuration that did not load: each line
// of the loader's error (which names the variable or YAML path at fault) is
// a problem.
func LoadFailed(err error) *Report {
	r := &Report{}
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" && line != "configuration:" {
			r.Findings = append(r.Findings, Finding{Severity: Problem, Message: line})
		}
	}
	return r
}

// Definitions reads the org's table definitions; *crm.Client has these.
type Definitions interface {
	TableDefinition(ctx context.Context, logical string) (*crm.TableDefinition, error)
	Tables(ctx context.Context) ([]crm.Table, error)
}

// Input is what Check looks at.
type Input struct {
	Forms   forms.Set // loaded as the worker loads them
	Sources []string  // the webhook sources' ids, loaded likewise
	// ConfigPath and Getenv are the YAML file (LEADBRIDGE_CONFIG; "" for
	// the built-in form) and the environment, to check the secrets that
	// the worker's own loading leaves unread.
	ConfigPath string
	Getenv     config.Getenv
	// Tables reads the org's definitions; nil checks no column.
	Tables Definitions
	// Org names the org in the report (its URL).
	Org string
}

// Check checks the secrets and, when in.Tables is set, every form's
// columns against the org's table definitions. ctx bounds the whole check.
func Check(ctx context.Context, in Input) *Report {
	r := &Report{}
	if in.ConfigPath == "" {
		r.Checked = append(r.Checked, "no LEADBRIDGE_CONFIG: the built-in demo form")
	} else {
		r.Checked = append(r.Checked, fmt.Sprintf("%s loads: form(s) %s; %d webhook source(s)",
			in.ConfigPath, strings.Join(in.Forms.IDs(), ", "), len(in.Sources)))
	}
	r.checkSecrets(in)
	if in.Tables != nil {
		columns := map[string][]forms.ColumnUse{}
		for id, f := range in.Forms {
			columns[id] = f.Columns()
		}
		r.checkColumns(ctx, in, columns)
	}
	return r
}

// checkSecrets resolves the secrets the worker loads without reading: the
// captcha secrets of the forms, which only the API uses. A webhook
// source's secrets the worker resolves itself, and refuses to start
// without, so they are present once the configuration loaded.
func (r *Report) checkSecrets(in Input) {
	if in.ConfigPath == "" {
		return
	}
	_, err := config.LoadForms(in.ConfigPath, in.Getenv)
	if err == nil {
		r.Checked = append(r.Checked, "the secrets "+in.ConfigPath+" refers to are set")
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		path, msg := line, ""
		if i := strings.Index(line, ": forms."); i >= 0 {
			path = line[i+2:]
		}
		if p, m, ok := strings.Cut(path, ": "); ok {
			path, msg = p, m
		}
		form, _, _ := strings.Cut(strings.TrimPrefix(path, "forms."), ".")
		r.Findings = append(r.Findings, Finding{Severity: Warning, Form: form, Path: path,
			Message: msg + " (the API needs it to start; the worker does not read it)"})
	}
}

// checkColumns reads the definition of every table the forms write and
// compares each form's columns (by form id) with it.
func (r *Report) checkColumns(ctx context.Context, in Input, columns map[string][]forms.ColumnUse) {
	tables, err := in.Tables.Tables(ctx)
	if err != nil {
		r.Unchecked = fmt.Sprintf("could not read the table definitions of %s: %v", orOrg(in.Org), err)
		return
	}
	org := orgTables{bySet: map[string]string{}}
	for _, t := range tables {
		org.names = append(org.names, t.LogicalName)
		org.bySet[t.EntitySetName] = t.LogicalName
	}
	defs := map[string]*crm.TableDefinition{}
	missing := map[string]bool{}
	for _, id := range in.Forms.IDs() {
		for _, c := range columns[id] {
			if defs[c.Table] != nil || missing[c.Table] {
				continue
			}
			def, err := in.Tables.TableDefinition(ctx, c.Table)
			switch {
			case errors.Is(err, crm.ErrTableNotFound):
				missing[c.Table] = true
			case err != nil:
				r.Unchecked = fmt.Sprintf("could not read the table definitions of %s: %v", orOrg(in.Org), err)
				return
			default:
				defs[c.Table] = def
			}
		}
	}
	checked := 0
	for _, id := range in.Forms.IDs() {
		f := in.Forms[id]
		reported := map[string]bool{}
		for _, c := range columns[id] {
			if missing[c.Table] {
				if !reported[c.Table] {
					reported[c.Table] = true
					r.add(Problem, f, c, fmt.Sprintf("table %q does not exist in the org%s", c.Table, didYouMean(c.Table, org.names)))
				}
				continue
			}
			checked++
			r.checkColumn(f, c, defs[c.Table], org)
		}
		if f.AlternateKey != "" && defs[forms.TableLead] != nil {
			r.checkAlternateKey(f, defs[forms.TableLead])
		}
	}
	var read []string
	for t := range defs {
		read = append(read, t)
	}
	r.Checked = append(r.Checked, fmt.Sprintf("%d column(s) of %d form(s) against the table definitions of %s (%s)",
		checked, len(in.Forms), orOrg(in.Org), strings.Join(sorted(read), ", ")))
}

// orgTables are the org's tables: logical names, and by entity set.
type orgTables struct {
	names []string
	bySet map[string]string
}

func orOrg(org string) string {
	if org == "" {
		return "the org"
	}
	return org
}

// add records a finding about column c of form f, at the YAML path of
// the field or setting that writes it.
func (r *Report) add(s Severity, f *forms.Form, c forms.ColumnUse, msg string) {
	path := "forms." + f.ID + "." + setting(f, c)
	if c.Field != "" {
		path = "forms." + f.ID + ".fields." + c.Field
	}
	r.Findings = append(r.Findings, Finding{Severity: s, Form: f.ID, Field: c.Field, Path: path, Message: msg})
}

// setting is the form's setting that writes a column no field does.
func setting(f *forms.Form, c forms.ColumnUse) string {
	switch {
	case c.Table == "annotation":
		return "note"
	case c.Table == "account" && f.Account != nil:
		return "account.create"
	case c.Column == "subject":
		return "subject"
	case c.Column == "leadsourcecode":
		return "lead_source"
	case c.Column == "parentcontactid":
		return "contact"
	case c.Column == "ownerid":
		return "owner"
	case f.Campaign != nil && c.Column == f.Campaign.Column:
		return "campaign"
	case f.Account != nil && c.Column == f.Account.Column:
		return "account"
	}
	return c.Column
}
