package forms

import (
	"strconv"
	"strings"
)

// ColumnKind is the kind of value a form writes into a Dataverse column.
type ColumnKind string

// The kinds of value a form writes.
const (
	KindText   ColumnKind = "text"   // a string
	KindChoice ColumnKind = "choice" // a choice's whole number (one of Options)
	KindBool   ColumnKind = "bool"   // true or false
	KindLookup ColumnKind = "lookup" // a reference to a row of Target (@odata.bind)
)

// LeadTable is the logical name of the table a form's fields are written
// to.
const LeadTable = "lead"

// Column is one Dataverse column a form writes, and what the form itself
// lets into it: enough for a check against the org's table definitions to
// tell, before any submission, whether the column exists, takes writes and
// holds every value the form accepts.
type Column struct {
	Table  string // the table's logical name ("lead")
	Column string // the column's logical name; a lookup's attribute ("parentcontactid")
	Kind   ColumnKind
	// Field is the form's field that writes the column; "" when a setting
	// of the form does, which Setting names (YAML key: "subject",
	// "lead_source", "contact", "consent.columns").
	Field   string
	Setting string
	// MaxLength is, for text, the longest value the form says the field
	// takes, in UTF-16 code units: the lowest of its max= rule, a hidden
	// field's fixed value and a select's longest option; without any of
	// them, the standard length of a standard lead column (which intake
	// holds values to); 0 when nothing limits it.
	MaxLength int
	Options   []string // a choice's values the form may write
	Target    string   // a lookup's table (logical name)
}

// Columns lists the columns the prepared form writes, in the order of its
// fields, then those its settings write: the subject, the lead source, the
// contact binding.
func (f *Form) Columns() []Column {
	var out []Column
	written := map[string]bool{}
	for _, fd := range f.Fields {
		if fd.Column == "" {
			continue
		}
		c := Column{Table: LeadTable, Column: fd.Column, Field: fd.Name}
		switch {
		case fd.Type == "bool":
			c.Kind = KindBool
		case fd.choice:
			c.Kind = KindChoice
			for _, o := range fd.Options {
				c.Options = append(c.Options, o.Value)
			}
		default:
			c.Kind = KindText
			c.MaxLength = fd.writtenMax()
		}
		out = append(out, c)
		written[fd.Column] = true
		for _, also := range fd.Also {
			out = append(out, Column{Table: LeadTable, Column: also, Kind: KindBool, Field: fd.Name, Setting: "consent.columns"})
			written[also] = true
		}
	}
	out = append(out, Column{Table: LeadTable, Column: "subject", Kind: KindText, Setting: "subject", MaxLength: subjectMax})
	if f.LeadSource != 0 && !written["leadsourcecode"] {
		out = append(out, Column{Table: LeadTable, Column: "leadsourcecode", Kind: KindChoice, Setting: "lead_source",
			Options: []string{strconv.Itoa(f.LeadSource)}})
	}
	if f.Contact == ContactLink {
		out = append(out, Column{Table: LeadTable, Column: "parentcontactid", Kind: KindLookup, Setting: "contact", Target: "contact"})
	}
	return out
}

// subjectMax is the length RenderSubject cuts a topic to.
const subjectMax = 300

// writtenMax is the longest text the field says it takes: its own limits
// (max= rule, fixed value, options), else its column's standard length.
func (fd Field) writtenMax() int {
	n := 0
	lower := func(m int) {
		if n == 0 || m < n {
			n = m
		}
	}
	for _, r := range strings.Split(fd.Rules, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(r), "max="); ok {
			if m, err := strconv.Atoi(v); err == nil && m > 0 {
				lower(m)
			}
		}
	}
	if fd.Control == ControlHidden && fd.Value != "" {
		lower(utf16Len(fd.Value))
	}
	if len(fd.Options) > 0 {
		longest := 0
		for _, o := range fd.Options {
			longest = max(longest, utf16Len(o.Value))
		}
		lower(longest)
	}
	if n == 0 {
		n = leadColumnMax[fd.Column]
	}
	return n
}
