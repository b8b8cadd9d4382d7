package configcheck

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/forms"
)

// kindTypes are the AttributeTypes each kind of value can be written to.
// A kind without an entry (one a newer forms package adds) is checked for
// the column's existence and writability only; give it a row here.
var kindTypes = map[string][]string{
	forms.KindText: {"String", "Memo"},
	// A choice's whole number also fits a whole-number column; only a
	// choice column has option values to compare.
	forms.KindChoice:   {"Picklist", "State", "Status", "Integer", "BigInt"},
	forms.KindChoices:  {"MultiSelectPicklist"},
	forms.KindBool:     {"Boolean"},
	forms.KindNumber:   {"Integer", "BigInt", "Decimal", "Double", "Money"},
	forms.KindDecimal:  {"Decimal", "Double", "Money"},
	forms.KindMoney:    {"Money"},
	forms.KindDate:     {"DateTime"},
	forms.KindDateTime: {"DateTime"},
	forms.KindLookup:   {"Lookup", "Customer", "Owner"},
}

// attribute finds the column a form writes: by its logical name, or, for
// a lookup bound through a navigation property of its own
// (customerid_account, objectid_lead), by the lookup's name before the
// target's.
func attribute(c forms.ColumnUse, def *crm.TableDefinition) (crm.Attribute, bool) {
	if a, ok := def.Attributes[c.Column]; ok {
		return a, true
	}
	if c.Kind != forms.KindLookup {
		return crm.Attribute{}, false
	}
	for i := range len(c.Column) {
		if c.Column[i] != '_' {
			continue
		}
		if a, ok := def.Attributes[c.Column[:i]]; ok && len(a.Targets) > 0 {
			return a, true
		}
	}
	return crm.Attribute{}, false
}

// checkColumn compares what form f writes into column c with the column's
// definition on table def.
func (r *Report) checkColumn(f *forms.Form, c forms.ColumnUse, def *crm.TableDefinition, org orgTables) {
	a, ok := attribute(c, def)
	if !ok {
		var names []string
		for n, at := range def.Attributes {
			if at.AttributeOf == "" {
				names = append(names, n)
			}
		}
		r.add(Problem, f, c, fmt.Sprintf("column %q does not exist on table %s%s", c.Column, def.LogicalName, didYouMean(c.Column, names)))
		return
	}
	// A lead form's submission may create a lead or, when it matches an
	// open one, update it (not with create_new); other rows are created.
	updates := f.IsLead() && c.Table == forms.TableLead && f.OnMatch != forms.OnMatchCreateNew
	switch {
	case !a.ValidForCreate && !(a.ValidForUpdate && updates):
		r.add(Problem, f, c, fmt.Sprintf("column %s of %s cannot be written (the platform sets it); map the field to another column", c.Column, def.LogicalName))
		return
	case !a.ValidForCreate:
		r.add(Problem, f, c, fmt.Sprintf("column %s of %s cannot be set on a new row, only changed later: every new row of this form would be refused", c.Column, def.LogicalName))
		return
	case !a.ValidForUpdate && updates:
		r.add(Problem, f, c, fmt.Sprintf("column %s of %s cannot be changed once a row exists: a submission matching an open lead (on_match: %s) would be refused", c.Column, def.LogicalName, f.OnMatch))
		return
	}
	if types, known := kindTypes[c.Kind]; known && !slices.Contains(types, typeWord(a)) {
		r.add(Problem, f, c, fmt.Sprintf("column %s of %s is of type %s; the form writes %s into it (%s fits %s)",
			c.Column, def.LogicalName, typeWord(a), kindWord(c.Kind), kindWord(c.Kind), strings.Join(types, ", ")))
		return
	}
	switch c.Kind {
	case forms.KindText:
		r.checkLength(f, c, a, def)
	case forms.KindChoice, forms.KindChoices:
		r.checkOptions(f, c, a, def)
	case forms.KindLookup:
		target := c.Target
		if l, ok := org.bySet[target]; ok {
			target = l // a form names the entity set; definitions the table
		}
		if target != "" && !slices.Contains(a.Targets, target) {
			r.add(Problem, f, c, fmt.Sprintf("lookup %s of %s points at %s; the form binds a row of %s", c.Column, def.LogicalName, orNone(a.Targets), target))
		}
	}
}

// checkLength compares the longest text the form lets through with the
// column's MaxLength, which an org's admins may have lowered.
func (r *Report) checkLength(f *forms.Form, c forms.ColumnUse, a crm.Attribute, def *crm.TableDefinition) {
	switch {
	case a.MaxLength <= 0:
	case c.MaxLength > a.MaxLength:
		r.add(Problem, f, c, fmt.Sprintf("max length %d is above the %d characters column %s of %s holds, and Dataverse refuses a longer value; %s",
			c.MaxLength, a.MaxLength, c.Column, def.LogicalName, lengthFix(c, a)))
	case c.MaxLength == 0:
		r.add(Warning, f, c, fmt.Sprintf("no max length; column %s of %s holds %d characters, and a longer value would be refused at delivery; %s",
			c.Column, def.LogicalName, a.MaxLength, lengthFix(c, a)))
	}
}

func lengthFix(c forms.ColumnUse, a crm.Attribute) string {
	if c.Field == "" {
		return "this org's column is shorter than Dataverse's standard length"
	}
	return fmt.Sprintf("add max=%d to the field's rules", a.MaxLength)
}

// checkOptions looks for each value the form may send among the column's
// choice values.
func (r *Report) checkOptions(f *forms.Form, c forms.ColumnUse, a crm.Attribute, def *crm.TableDefinition) {
	if a.Type != "Picklist" && a.Type != "State" && a.Type != "Status" && !a.MultiSelect() {
		return // a whole-number column: any number within its range
	}
	for _, v := range c.Options {
		if slices.Contains(a.Options, v) {
			continue
		}
		what := fmt.Sprintf("option value %d", v)
		if c.Field == "" {
			what = fmt.Sprintf("value %d", v)
		}
		r.add(Problem, f, c, fmt.Sprintf("%s is not a choice of column %s of %s (its values: %s)", what, c.Column, def.LogicalName, valueList(a.Options)))
	}
}

// checkAlternateKey makes sure the form's alternate_key is a key the org
// defines, and can use: an upsert by a key it lacks, or whose index is not
// built yet, is refused.
func (r *Report) checkAlternateKey(f *forms.Form, def *crm.TableDefinition) {
	var keys []string
	for _, k := range def.Keys {
		if len(k.Columns) == 1 && k.Columns[0] == f.AlternateKey {
			if k.Status == "Active" || k.Status == "" {
				return
			}
			r.Findings = append(r.Findings, Finding{Severity: Problem, Form: f.ID, Path: "forms." + f.ID + ".alternate_key",
				Message: fmt.Sprintf("the alternate key on %s of table %s is %s, not Active: Dataverse refuses upserts by it until its index is built", f.AlternateKey, def.LogicalName, k.Status)})
			return
		}
		keys = append(keys, strings.Join(k.Columns, "+"))
	}
	r.Findings = append(r.Findings, Finding{Severity: Problem, Form: f.ID, Path: "forms." + f.ID + ".alternate_key",
		Message: fmt.Sprintf("table %s has no alternate key on %s (its keys: %s); define it in the org or remove alternate_key", def.LogicalName, f.AlternateKey, orNone(keys))})
}

func typeWord(a crm.Attribute) string {
	if a.MultiSelect() {
		return "MultiSelectPicklist"
	}
	return a.Type
}

func kindWord(k string) string {
	switch k {
	case forms.KindText:
		return "text"
	case forms.KindChoice:
		return "a choice's number"
	case forms.KindChoices:
		return "several choices"
	case forms.KindBool:
		return "yes/no"
	case forms.KindNumber, forms.KindDecimal:
		return "a number"
	case forms.KindMoney:
		return "an amount"
	case forms.KindDate, forms.KindDateTime:
		return "a date"
	case forms.KindLookup:
		return "a reference to a row"
	}
	return k
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// valueList writes choice values compactly: runs of consecutive numbers as
// ranges (1–33), at most a few dozen items.
func valueList(vs []int) string {
	if len(vs) == 0 {
		return "none"
	}
	var parts []string
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, strconv.Itoa(vs[i]))
		case j == i+1:
			parts = append(parts, strconv.Itoa(vs[i]), strconv.Itoa(vs[j]))
		default:
			parts = append(parts, fmt.Sprintf("%d–%d", vs[i], vs[j]))
		}
		i = j + 1
	}
	if len(parts) > 40 {
		parts = append(parts[:40], "…")
	}
	return strings.Join(parts, ", ")
}

// didYouMean suggests the name in names nearest to a misspelt one: at an
// edit distance of at most a third of its length (at least 1, at most 3).
// "" when none is that near.
func didYouMean(name string, names []string) string {
	limit := min(max(len(name)/3, 1), 3)
	best, bestD := "", limit+1
	for _, n := range sorted(names) {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours each count
// one. Logical names are ASCII, so bytes are characters.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}
