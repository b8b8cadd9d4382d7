package forms

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The data model a form writes into: the table (lead, or a custom table
// such as new_enquiry), who owns the row, the campaign and account it is
// tied to, the note that keeps a long message, and how each field's value
// is written into its column (kind) or found in another table (lookup).

// TableLead is the table a form writes into unless it names another.
const TableLead = "lead"

// Column kinds: how a field's value is written into its column.
const (
	KindText     = "text"     // a string (the default)
	KindChoice   = "choice"   // a choice (option set): a whole number, from an option's label or value
	KindChoices  = "choices"  // a multi-select choice: several options, "100000000,100000001"
	KindBool     = "bool"     // Yes/No
	KindNumber   = "number"   // a whole number
	KindDecimal  = "decimal"  // a decimal number
	KindMoney    = "money"    // a currency amount
	KindDate     = "date"     // a date (YYYY-MM-DD), sent as midnight UTC
	KindDateTime = "datetime" // a date and time (RFC 3339, or a date), sent in UTC
	KindLookup   = "lookup"   // a row of another table found by a key column, bound with @odata.bind
)

// Kinds lists the kinds a field's kind: may name.
var Kinds = []string{KindText, KindChoice, KindChoices, KindBool, KindNumber, KindDecimal, KindMoney, KindDate, KindDateTime}

// Lookup says how a field's value finds a row of another table: the row of
// Table (an entity set, e.g. accounts) whose Key column equals the value.
// The field's column is then the navigation property bound to it
// (parentaccountid), written as "<column>@odata.bind": "/<table>(<id>)".
type Lookup struct {
	Table string // entity set, e.g. accounts
	Key   string // column compared with the value, e.g. accountnumber
	// KeyKind is the key column's type, which decides how the value is
	// written in the query: KeyText (quoted, the default), KeyNumber or
	// KeyDecimal (a number, unquoted), KeyGUID (an id, unquoted).
	KeyKind string
}

// Kinds of a lookup's key column.
const (
	KeyText    = "text"
	KeyNumber  = "number"  // a whole number column (an integer alternate key)
	KeyDecimal = "decimal" // a decimal or money column
	KeyGUID    = "guid"    // a unique identifier, e.g. the table's primary key
)

// KeyKinds lists the kinds a lookup's key_kind may name.
var KeyKinds = []string{KeyText, KeyNumber, KeyDecimal, KeyGUID}

// Principal names a user or a team that can own a row: by id (a GUID) or
// by a key — a user's domainname or internalemailaddress (anything with an
// @), a team's name.
type Principal struct {
	User string
	Team string
}

// String is the principal as the form names it, for explanations.
func (p Principal) String() string {
	if p.Team != "" {
		return "team " + p.Team
	}
	return "user " + p.User
}

// OwnerRule assigns the owner when every condition holds: each named value
// (a field of the form, an attribution key such as utm_source, or
// "source": the webhook source or "form") equals one of the listed values,
// ignoring case. The owner is one principal, or the next of a round-robin
// list of users.
type OwnerRule struct {
	When       map[string][]string
	Owner      Principal   // when RoundRobin is empty
	RoundRobin []Principal // users taken in turn, shared by every worker
}

// Owner is a form's routing: the first rule whose conditions hold picks
// the owner; when none does, Default (nil: Dataverse makes the calling
// application user the owner).
type Owner struct {
	Rules   []OwnerRule
	Default *OwnerRule // its When is empty
}

// Campaign ties the row to a campaign row found by name or code: the value
// of From (an attribution key such as utm_campaign, or a field), or the
// fixed Value. An unknown campaign leaves the lookup empty.
type Campaign struct {
	From   string
	Value  string
	Column string // the navigation property; campaignid
}

// Account ties a lead to an existing account: by the company name, and/or
// by the domain of the email address (never a free-mail domain). Create
// makes an account from the company name when none matches.
type Account struct {
	Match  []string // "company", "email_domain", tried in order
	Create bool
	Column string // the navigation property; parentaccountid
	// FreeMail adds domains to the built-in free-mail list.
	FreeMail []string
}

// Account match rules.
const (
	AccountByCompany = "company"
	AccountByDomain  = "email_domain"
)

// Note keeps text as a note (annotation) on the row: one field's value
// (a long message), or the whole submission as readable text.
type Note struct {
	From    string // a field name, or NoteSubmission
	Subject string // the note's title; "" = "Message from <form title>"
}

// NoteSubmission is Note.From for the whole submission.
const NoteSubmission = "submission"

// ColumnUse is one column a form writes: the table and column, the kind of
// value, its maximum length (text), its options (choices) and, for a
// lookup, the table it points to. It is what a check against the org's
// metadata compares.
type ColumnUse struct {
	Table     string // logical name of the table written, e.g. lead, annotation
	Column    string // column or navigation property
	Kind      string // one of Kinds, or KindLookup
	MaxLength int    // for text: the longest value written (see writtenMax); 0 = not known
	Options   []int  // for choice and choices: the values written
	Target    string // for a lookup: the entity set it points to (systemusers, teams, …)
	Field     string // the form's field it comes from; "" for the form's settings (owner, campaign, …)
}

var (
	logicalName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	guidLike    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// IsGUID reports whether s is a GUID (a principal or row named by id).
func IsGUID(s string) bool { return guidLike.MatchString(s) }

// EntitySetOf is the entity set Dataverse names for a table by default:
// its logical name in the plural (lead → leads, new_enquiry →
// new_enquiries, address → addresses).
func EntitySetOf(logical string) string {
	switch {
	case strings.HasSuffix(logical, "y") && !strings.HasSuffix(logical, "ay") && !strings.HasSuffix(logical, "ey") && !strings.HasSuffix(logical, "oy"):
		return strings.TrimSuffix(logical, "y") + "ies"
	case strings.HasSuffix(logical, "s"), strings.HasSuffix(logical, "x"), strings.HasSuffix(logical, "ch"), strings.HasSuffix(logical, "sh"):
		return logical + "es"
	}
	return logical + "s"
}

// tableOf is the logical name of an entity set named by default, the
// inverse of EntitySetOf (accounts → account, new_enquiries →
// new_enquiry, addresses → address).
func tableOf(set string) string {
	switch {
	case strings.HasSuffix(set, "ies"):
		return strings.TrimSuffix(set, "ies") + "y"
	case strings.HasSuffix(set, "sses"), strings.HasSuffix(set, "xes"), strings.HasSuffix(set, "ches"), strings.HasSuffix(set, "shes"):
		return strings.TrimSuffix(set, "es")
	}
	return strings.TrimSuffix(set, "s")
}

// PrimaryKey is the primary key column of the lookup's table: its logical
// name, from the entity set, + "id".
func (l *Lookup) PrimaryKey() string { return tableOf(l.Table) + "id" }

// IsLead reports whether the form writes leads (and so matches, links
// contacts and accounts, and fills the topic).
func (f *Form) IsLead() bool { return f.Table == "" || f.Table == TableLead }

// PrimaryKey is the primary key column of the form's table.
func (f *Form) PrimaryKey() string { return f.table() + "id" }

func (f *Form) table() string {
	if f.Table == "" {
		return TableLead
	}
	return f.Table
}

// Set returns the entity set of the form's table.
func (f *Form) Set() string {
	if f.EntitySet != "" {
		return f.EntitySet
	}
	return EntitySetOf(f.table())
}

// prepareTable settles the table the form writes and refuses the lead-only
// settings on another table. It runs before the lead's defaults are set.
func (f *Form) prepareTable() error {
	if f.Table == "" {
		f.Table = TableLead
	}
	if !logicalName.MatchString(f.Table) {
		return fmt.Errorf("table: %q is not a table's logical name like lead or new_enquiry", f.Table)
	}
	if f.EntitySet == "" {
		f.EntitySet = EntitySetOf(f.Table)
	} else if !logicalName.MatchString(f.EntitySet) {
		return fmt.Errorf("entity_set: %q is not an entity set name like leads or new_enquiries", f.EntitySet)
	}
	if f.IsLead() {
		return nil
	}
	switch {
	case len(f.Match) > 0:
		return fmt.Errorf("match: only a form that writes leads matches existing rows; a %s form creates a row per submission, "+
			"or keeps one row per key with alternate_key (a key the org defines on %s, e.g. on its email column)", f.Table, f.Table)
	case f.OnMatch != "":
		return fmt.Errorf("on_match: only a form that writes leads matches existing rows (drop on_match; alternate_key upserts, overwriting)")
	case f.Contact == ContactLink:
		return fmt.Errorf("contact: link binds a lead's parentcontactid; a %s form cannot use it", f.Table)
	case f.LeadSource != 0:
		return fmt.Errorf("lead_source: leadsourcecode is a lead column; map a field to %s's own column instead", f.Table)
	case f.Account != nil && f.Account.Column == "":
		return fmt.Errorf("account.column: a %s form must name its lookup to accounts", f.Table)
	case f.Campaign != nil && f.Campaign.Column == "":
		return fmt.Errorf("campaign.column: a %s form must name its lookup to campaigns", f.Table)
	case f.Subject != "":
		return fmt.Errorf("subject: the topic is a lead column; map a field to %s's own name column instead", f.Table)
	}
	return nil
}

// prepareMapping checks each field's kind and lookup and the owner,
// campaign, account and note settings. Errors name the setting.
func (f *Form) prepareMapping() error {
	for i := range f.Fields {
		fd := &f.Fields[i]
		if err := fd.prepareKind(); err != nil {
			return fmt.Errorf("fields.%s.%v", fd.Name, err)
		}
		if fd.MaxLength == 0 && f.IsLead() {
			fd.MaxLength = leadColumnMax[fd.Column]
		}
	}
	if err := f.prepareOwner(); err != nil {
		return err
	}
	if c := f.Campaign; c != nil {
		if (c.From == "") == (c.Value == "") {
			if c.From == "" && c.Value == "" {
				c.From = "utm_campaign"
			} else {
				return fmt.Errorf("campaign: give from (utm_campaign or a field) or value (a fixed campaign), not both")
			}
		}
		if c.From != "" && !f.knownName(c.From) {
			return fmt.Errorf("campaign.from: %q is neither a field of the form nor one of %s", c.From, strings.Join(AttributionKeys, ", "))
		}
		if c.Column == "" {
			c.Column = "campaignid"
		}
		if fd, ok := f.fieldOnColumn(c.Column); ok {
			return fmt.Errorf("campaign.column: %s is also written by field %s; one lookup, one source", c.Column, fd.Name)
		}
	}
	if a := f.Account; a != nil {
		if len(a.Match) == 0 {
			a.Match = []string{AccountByCompany, AccountByDomain}
		}
		for _, m := range a.Match {
			switch m {
			case AccountByCompany:
				if _, ok := f.IdentityField(RoleCompany); !ok {
					return fmt.Errorf("account.match: company needs a field with the company role (%s)", roleHint[RoleCompany])
				}
			case AccountByDomain:
				if _, ok := f.IdentityField(RoleEmail); !ok {
					return fmt.Errorf("account.match: email_domain needs a field with the email role (%s)", roleHint[RoleEmail])
				}
			default:
				return fmt.Errorf("account.match: %q is not one of company, email_domain", m)
			}
		}
		if _, ok := f.IdentityField(RoleCompany); a.Create && !ok {
			return fmt.Errorf("account.create: an account is created with the company's name and needs a field with the company role")
		}
		for i, d := range a.FreeMail {
			d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
			if !domainRE.MatchString(d) {
				return fmt.Errorf("account.free_mail[%d]: %q is not a domain like example.com", i, d)
			}
			a.FreeMail[i] = d
		}
		if a.Column == "" {
			a.Column = "parentaccountid"
		}
		if fd, ok := f.fieldOnColumn(a.Column); ok {
			return fmt.Errorf("account.column: %s is also written by field %s; one lookup, one source", a.Column, fd.Name)
		}
	}
	if n := f.Note; n != nil {
		if n.From == "" {
			if fd, ok := f.firstOfRole(RoleMessage); ok {
				n.From = fd.Name
			} else {
				n.From = NoteSubmission
			}
		}
		if n.From != NoteSubmission {
			fd, ok := f.Field(n.From)
			if !ok {
				return fmt.Errorf("note.from: %q is not a field of the form (or %q for the whole submission)", n.From, NoteSubmission)
			}
			if fd.Kind != KindText {
				return fmt.Errorf("note.from: %q is a %s field; a note keeps text", n.From, fd.Kind)
			}
			// Its column holds the first part of the text; the note all of it.
			f.Fields[f.fieldIndex(n.From)].cut = true
		}
		if utf16Len(n.Subject) > 500 {
			return fmt.Errorf("note.subject: at most 500 characters (a note's title)")
		}
	}
	return nil
}

var domainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

func (f *Form) fieldIndex(name string) int {
	for i, fd := range f.Fields {
		if fd.Name == name {
			return i
		}
	}
	return -1
}

func (f *Form) fieldOnColumn(col string) (Field, bool) {
	for _, fd := range f.Fields {
		if fd.Column == col {
			return fd, true
		}
	}
	return Field{}, false
}

func (f *Form) firstOfRole(r Role) (Field, bool) {
	for _, fd := range f.Fields {
		if fd.Role == r {
			return fd, true
		}
	}
	return Field{}, false
}

// knownName: a field of the form, an attribution key, or "source".
func (f *Form) knownName(name string) bool {
	_, ok := f.Field(name)
	return ok || slices.Contains(AttributionKeys, name) || name == "source"
}

func (f *Form) prepareOwner() error {
	o := f.Owner
	if o == nil {
		return nil
	}
	if len(o.Rules) == 0 && o.Default == nil {
		return fmt.Errorf("owner: give rules, a default, or both")
	}
	for i := range o.Rules {
		r := &o.Rules[i]
		path := fmt.Sprintf("owner.rules[%d]", i)
		if len(r.When) == 0 {
			return fmt.Errorf("%s.when: a rule needs at least one condition (field: value); use owner.default for everyone else", path)
		}
		for k, vs := range r.When {
			if !f.knownName(k) {
				return fmt.Errorf("%s.when.%s: not a field of the form, an attribution key (%s) or source", path, k, strings.Join(AttributionKeys, ", "))
			}
			if len(vs) == 0 {
				return fmt.Errorf("%s.when.%s: give a value or a list of values", path, k)
			}
			if fd, ok := f.Field(k); ok && len(fd.Options) > 0 {
				// Compare what the field holds after intake: an option's value.
				for j, v := range vs {
					if ov, ok := fd.option(v); ok {
						vs[j] = ov
					} else {
						return fmt.Errorf("%s.when.%s: %q is not one of the field's options", path, k, v)
					}
				}
			}
		}
		if err := checkOwnerTarget(r, path); err != nil {
			return err
		}
	}
	if d := o.Default; d != nil {
		if len(d.When) > 0 {
			return fmt.Errorf("owner.default: takes no conditions")
		}
		if err := checkOwnerTarget(d, "owner.default"); err != nil {
			return err
		}
	}
	return nil
}

func checkOwnerTarget(r *OwnerRule, path string) error {
	set := 0
	if r.Owner != (Principal{}) {
		set++
	}
	if len(r.RoundRobin) > 0 {
		set++
	}
	if set != 1 {
		return fmt.Errorf("%s: give exactly one of user, team or round_robin (a list of users)", path)
	}
	if r.Owner.User != "" && r.Owner.Team != "" {
		return fmt.Errorf("%s: give user or team, not both", path)
	}
	if err := checkPrincipal(r.Owner); err != nil {
		return fmt.Errorf("%s.%v", path, err)
	}
	for i, p := range r.RoundRobin {
		if p.Team != "" {
			return fmt.Errorf("%s.round_robin[%d]: round robin shares leads among users, not teams", path, i)
		}
		if err := checkPrincipal(p); err != nil {
			return fmt.Errorf("%s.round_robin[%d]: %v", path, i, err)
		}
	}
	return nil
}

func checkPrincipal(p Principal) error {
	switch {
	case p.User != "" && len(p.User) > 320:
		return fmt.Errorf("user: too long")
	case p.Team != "" && len(p.Team) > 160:
		return fmt.Errorf("team: at most 160 characters (a team's name)")
	case strings.TrimSpace(p.User) != p.User || strings.TrimSpace(p.Team) != p.Team:
		return fmt.Errorf("user, team: without surrounding spaces")
	}
	return nil
}

// prepareKind settles how the field's value is written: its kind (from
// kind:, or a checkbox's bool, or a choice select's choice) and lookup.
func (fd *Field) prepareKind() error {
	if fd.Lookup != nil {
		l := fd.Lookup
		switch fd.Kind {
		case KindNumber, KindDecimal:
			// The value's kind is the key's: a number finds the row by a
			// number column.
			if l.KeyKind != "" && l.KeyKind != fd.Kind {
				return fmt.Errorf("lookup.key_kind: %s, but the field's kind is %s; give one", l.KeyKind, fd.Kind)
			}
			l.KeyKind = fd.Kind
		case "", KindLookup:
		default:
			return fmt.Errorf("kind: a lookup field writes a binding, not %s (a lookup by a number key says key_kind: number)", fd.Kind)
		}
		if l.KeyKind == "" {
			l.KeyKind = KeyText
		}
		if !slices.Contains(KeyKinds, l.KeyKind) {
			return fmt.Errorf("lookup.key_kind: %q is not one of %s", l.KeyKind, strings.Join(KeyKinds, ", "))
		}
		switch {
		case fd.Column == "":
			return fmt.Errorf("lookup: needs column, the navigation property it binds (e.g. parentaccountid)")
		case !logicalName.MatchString(fd.Lookup.Table):
			return fmt.Errorf("lookup.table: %q is not an entity set like accounts", fd.Lookup.Table)
		case !logicalName.MatchString(fd.Lookup.Key):
			return fmt.Errorf("lookup.key: %q is not a column like accountnumber", fd.Lookup.Key)
		case fd.Type == "bool":
			return fmt.Errorf("lookup: a yes/no field cannot look a row up")
		case fd.Control == ControlCheckboxes:
			return fmt.Errorf("lookup: a lookup binds one row; a checkbox group sends several values")
		}
		fd.Kind = KindLookup
		if fd.MaxLength == 0 {
			// A key is short; a long value would only make a long query.
			fd.MaxLength = maxLookupValue
		}
		return nil
	}
	if fd.Control == ControlCheckboxes {
		switch fd.Kind {
		case "":
			fd.Kind = KindChoices
		case KindChoices:
		default:
			return fmt.Errorf("type: checkboxes sends several options, for a multi-select choice column (kind: choices), not %s", fd.Kind)
		}
	}
	switch fd.Kind {
	case "":
		switch {
		case fd.Type == "bool":
			fd.Kind = KindBool
		case fd.choice:
			fd.Kind = KindChoice
		default:
			fd.Kind = KindText
		}
		return nil
	case KindBool:
		if fd.Type != "bool" {
			return fmt.Errorf("kind: bool is a checkbox's (or type: bool) value")
		}
	case KindChoice, KindChoices:
		if len(fd.Options) == 0 {
			return fmt.Errorf("options: a %s column needs options, label: value with the choice's whole number", fd.Kind)
		}
		if !fd.choice {
			return fmt.Errorf("options: a %s column's option values are whole numbers (e.g. 100000000)", fd.Kind)
		}
	case KindText, KindNumber, KindDecimal, KindMoney, KindDate, KindDateTime:
		if fd.Type == "bool" {
			return fmt.Errorf("kind: a yes/no field is bool, not %s", fd.Kind)
		}
		if len(fd.Options) > 0 && fd.Kind != KindText {
			for i, o := range fd.Options {
				if _, err := convert(fd.Kind, o.Value); err != nil {
					return fmt.Errorf("options[%d]: %v", i, err)
				}
			}
		}
	default:
		return fmt.Errorf("kind: %q is not one of %s", fd.Kind, strings.Join(Kinds, ", "))
	}
	if fd.Control == ControlHidden && fd.Value != "" && fd.Kind != KindChoices && fd.Kind != KindChoice {
		if _, err := convert(fd.Kind, fd.Value); err != nil {
			return fmt.Errorf("value: %v", err)
		}
	}
	return nil
}

// maxLookupValue bounds a lookup field's value when the form gives no
// max_length, in UTF-16 code units.
const maxLookupValue = 400

// convert turns a cleaned text value into what Dataverse takes for kind.
func convert(kind, v string) (any, error) {
	switch kind {
	case KindNumber:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		return n, nil
	case KindDecimal, KindMoney:
		s := strings.ReplaceAll(strings.TrimSpace(v), ",", "")
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || s == "" || strings.ContainsAny(s, "eEinfINFaA") {
			return nil, fmt.Errorf("%q is not a number like 1250.50", v)
		}
		return n, nil
	case KindDate:
		t, err := time.Parse("2006-01-02", strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%q is not a date like 2026-03-31", v)
		}
		if t.Year() < 1753 || t.Year() > 9999 {
			return nil, fmt.Errorf("%q is outside the years Dataverse keeps (1753–9999)", v)
		}
		return t.UTC().Format(time.RFC3339), nil
	case KindDateTime:
		s := strings.TrimSpace(v)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if d, err2 := time.Parse("2006-01-02", s); err2 == nil {
				t = d
			} else {
				return nil, fmt.Errorf("%q is not a time like 2026-03-31T14:00:00Z", v)
			}
		}
		if t.Year() < 1753 || t.Year() > 9999 {
			return nil, fmt.Errorf("%q is outside the years Dataverse keeps (1753–9999)", v)
		}
		return t.UTC().Format(time.RFC3339), nil
	}
	return v, nil
}

// choices returns the option values a multi-select value names: parts
// separated by commas or semicolons, each an option's value or label.
func (fd Field) choices(v string) ([]string, bool) {
	var out []string
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		o, ok := fd.option(part)
		if !ok {
			return nil, false
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, true
}

// Columns lists every (table, column) the form writes, with what is
// written there: the fields' columns, the owner, campaign and account
// lookups, and the note's columns on annotation. In field order, then the
// settings.
func (f *Form) Columns() []ColumnUse {
	var out []ColumnUse
	t := f.table()
	for _, fd := range f.Fields {
		if fd.Column == "" {
			continue
		}
		u := ColumnUse{Table: t, Column: fd.Column, Kind: fd.Kind, Field: fd.Name}
		if u.Kind == "" {
			// A consent checkbox that prepareConsent added after the
			// kinds were settled has none: it writes yes/no.
			u.Kind = KindText
			if fd.Type == "bool" {
				u.Kind = KindBool
			}
		}
		if u.Kind == KindText {
			u.MaxLength = fd.writtenMax()
		}
		switch fd.Kind {
		case KindChoice, KindChoices:
			for _, o := range fd.Options {
				n, _ := strconv.Atoi(o.Value)
				u.Options = append(u.Options, n)
			}
			sort.Ints(u.Options)
		case KindLookup:
			u.Target = fd.Lookup.Table
		}
		out = append(out, u)
		for _, c := range fd.Also {
			out = append(out, ColumnUse{Table: t, Column: c, Kind: KindBool, Field: fd.Name})
		}
	}
	if f.IsLead() {
		out = append(out, ColumnUse{Table: t, Column: "subject", Kind: KindText, MaxLength: 300})
		if f.LeadSource != 0 {
			out = append(out, ColumnUse{Table: t, Column: "leadsourcecode", Kind: KindChoice, Options: []int{f.LeadSource}})
		}
		if f.Contact == ContactLink {
			out = append(out, ColumnUse{Table: t, Column: "parentcontactid", Kind: KindLookup, Target: "contacts"})
		}
	}
	if f.Owner != nil {
		targets := map[string]bool{}
		for _, r := range append(slices.Clone(f.Owner.Rules), derefRule(f.Owner.Default)...) {
			if r.Owner.Team != "" {
				targets["teams"] = true
			} else {
				targets["systemusers"] = true
			}
		}
		for _, set := range []string{"systemusers", "teams"} {
			if targets[set] {
				out = append(out, ColumnUse{Table: t, Column: "ownerid", Kind: KindLookup, Target: set})
			}
		}
	}
	if c := f.Campaign; c != nil {
		out = append(out, ColumnUse{Table: t, Column: c.Column, Kind: KindLookup, Target: "campaigns"})
	}
	if a := f.Account; a != nil {
		out = append(out, ColumnUse{Table: t, Column: a.Column, Kind: KindLookup, Target: "accounts"})
		if a.Create {
			out = append(out, ColumnUse{Table: "account", Column: "name", Kind: KindText, MaxLength: 160})
		}
	}
	if f.Note != nil {
		out = append(out,
			ColumnUse{Table: "annotation", Column: "subject", Kind: KindText, MaxLength: 500},
			ColumnUse{Table: "annotation", Column: "notetext", Kind: KindText, MaxLength: MaxNoteText},
			ColumnUse{Table: "annotation", Column: "objectid_" + t, Kind: KindLookup, Target: f.Set()},
		)
	}
	return out
}

// MaxNoteText is the longest note text written: a note's notetext column
// holds 100,000 characters.
const MaxNoteText = 100_000

func derefRule(r *OwnerRule) []OwnerRule {
	if r == nil {
		return nil
	}
	return []OwnerRule{*r}
}

// RowValues is what the field writes into the row
// for its cleaned value v, column → value, in Dataverse's formats. A lookup
// field writes nothing here (delivery finds the row first); see LookupValue.
func (fd Field) RowValues(v string) map[string]any {
	if fd.Column == "" || fd.Kind == KindLookup {
		return nil
	}
	switch fd.Kind {
	case KindText, KindBool, "":
		out := fd.LeadValues(v)
		if fd.cut && fd.MaxLength > 0 {
			if s, ok := out[fd.Column].(string); ok {
				out[fd.Column] = CutUTF16(s, fd.MaxLength)
			}
		}
		return out
	}
	if v == "" {
		return nil
	}
	switch fd.Kind {
	case KindChoice:
		n, _ := strconv.Atoi(v)
		return map[string]any{fd.Column: n}
	case KindChoices:
		return map[string]any{fd.Column: v} // CleanIn made it "n,n"
	}
	x, err := convert(fd.Kind, v)
	if err != nil {
		return nil // CleanIn refused it; nothing unchecked reaches here
	}
	return map[string]any{fd.Column: x}
}

// cleanKind checks and normalizes a value for the field's kind at intake:
// a multi-select's options become their values joined by commas; numbers,
// dates and money must parse. It returns the value and false when it does
// not fit.
func (fd Field) cleanKind(v string) (string, bool) {
	if v == "" {
		return v, true
	}
	switch fd.Kind {
	case KindChoices:
		vals, ok := fd.choices(v)
		if !ok {
			return "", false
		}
		return strings.Join(vals, ","), true
	case KindNumber, KindDecimal, KindMoney, KindDate, KindDateTime:
		if _, err := convert(fd.Kind, v); err != nil {
			return "", false
		}
	case KindLookup:
		return LookupKey(fd.Lookup.KeyKind, v)
	}
	return v, true
}

// LookupKey checks a lookup's value against its key's kind and returns it
// as the query writes it: a whole number or decimal in its plain form
// ("1042", "12.5"), a GUID in lower case, text as given. false when the
// value cannot be such a key.
func LookupKey(keyKind, v string) (string, bool) {
	switch keyKind {
	case KeyNumber:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return "", false
		}
		return strconv.FormatInt(n, 10), true
	case KeyDecimal:
		x, err := convert(KindDecimal, v)
		if err != nil {
			return "", false
		}
		return strconv.FormatFloat(x.(float64), 'f', -1, 64), true
	case KeyGUID:
		v = strings.TrimSpace(v)
		if !IsGUID(v) {
			return "", false
		}
		return strings.ToLower(v), true
	}
	return v, true
}
