package emulator

import (
	"slices"
	"sort"
	"strings"
)

// The schema is a small, hand-written slice of the real lead, contact and
// account tables (reference §8): enough columns for web-form capture, with
// their real maximum lengths and choice values, so that a client that
// overfills a column or sends a bad choice fails here as it would in
// Dataverse.

type colKind int

const (
	kindString colKind = iota
	kindChoice
	kindBool
	kindInt
	kindBigInt // versionnumber
	kindDateTime
	kindGUID   // the primary key
	kindLookup // _x_value, read-only; set through a navigation property
)

var edmType = map[colKind]string{
	kindString:   "Edm.String",
	kindChoice:   "Edm.Int32",
	kindBool:     "Edm.Boolean",
	kindInt:      "Edm.Int32",
	kindBigInt:   "Edm.Int64",
	kindDateTime: "Edm.DateTimeOffset",
	kindGUID:     "Edm.Guid",
	kindLookup:   "Edm.Guid",
}

type column struct {
	name     string
	kind     colKind
	maxLen   int   // strings
	choices  []int // choice columns, ascending
	min, max int   // integers
	readOnly bool  // set by the platform; ignored when a client sends it
	// def is the value on create when the client sends none, in the types
	// a decoded request body has (float64, not int), so stored rows hold
	// one encoding whether a value came from a client or a default.
	def any
	// labels are what Dataverse shows for a choice value, and yesNo for
	// false and true: the formatted values of §4.
	labels map[int]string
	yesNo  [2]string
}

// navProp is a single-valued navigation property: the many-to-one side of a
// relationship, read through a lookup column and set with @odata.bind or
// $ref. A Customer lookup has two, one per target table.
type navProp struct {
	name   string
	target string // entity set it points to
	lookup string // the _x_value column it fills
	// relationship is the relationship's schema name, which is also the
	// collection-valued navigation property on the target table.
	relationship string
	// system navigation properties (ownerid, createdby, modifiedby) point to
	// the calling user; the platform sets them and the emulator has no
	// systemuser table to bind them to.
	system bool
}

// oneToMany is a collection-valued navigation property: the rows of another
// table whose lookup (through nav) points at this row.
type oneToMany struct {
	name string
	set  string   // the referencing table
	nav  *navProp // its navigation property back here
}

type tableSchema struct {
	logical, set, pk string
	cols             map[string]*column
	order            []string              // columns in output order
	navs             map[string]*navProp   // single-valued, by name
	many             map[string]*oneToMany // collection-valued, by name
	// lookupNavs lists the navigation properties behind each lookup
	// column, so a lookup value can be annotated and expanded.
	lookupNavs map[string][]*navProp
	// primaryName is the column shown as a row's name, and so as the
	// formatted value of lookups to it.
	primaryName string
	// keyAliases are columns always returned with the primary key (a
	// systemuser's ownerid).
	keyAliases []string
	// states maps each statecode to its valid statuscodes, the first being
	// the default.
	states map[int][]int
	// nameCols are shown on the HTML page.
	nameCols []string
	// dupCols are the columns the default duplicate detection rule matches.
	dupCols []string
}

func (t *tableSchema) typeName() string { return "Microsoft.Dynamics.CRM." + t.logical }

func (t *tableSchema) keyable(col string) bool {
	c := t.cols[col]
	if c == nil {
		return false
	}
	switch c.kind {
	case kindString, kindInt, kindChoice, kindLookup, kindDateTime:
		return true
	}
	return false
}

func str(name string, maxLen int) *column {
	return &column{name: name, kind: kindString, maxLen: maxLen}
}

// boolean is a Yes/No column with the labels Dataverse shows for false and
// true.
func boolean(name, no, yes string) *column {
	return &column{name: name, kind: kindBool, def: false, yesNo: [2]string{no, yes}}
}

// choice is a choice column; its valid values are the labels' keys, and
// def its default value (nil for none).
func choice(name string, def *int, labels map[int]string) *column {
	c := &column{name: name, kind: kindChoice, choices: sortedKeys(labels), labels: labels}
	if def != nil {
		c.def = float64(*def)
	}
	return c
}

// defaultTo is a choice column's default value.
func defaultTo(v int) *int { return &v }
func integer(name string, lo, hi int) *column {
	return &column{name: name, kind: kindInt, min: lo, max: hi}
}
func lookup(name string) *column { return &column{name: name, kind: kindLookup, readOnly: true} }

// Columns every table has; the platform sets them.
func systemColumns() []*column {
	return []*column{
		{name: "statecode", kind: kindChoice},  // choices filled per table
		{name: "statuscode", kind: kindChoice}, // choices filled per table
		{name: "createdon", kind: kindDateTime, readOnly: true},
		{name: "modifiedon", kind: kindDateTime, readOnly: true},
		{name: "versionnumber", kind: kindBigInt, readOnly: true},
		lookup("_ownerid_value"),
		lookup("_createdby_value"),
		lookup("_modifiedby_value"),
	}
}

func address1() []*column {
	return []*column{
		str("address1_line1", 250), str("address1_line2", 250), str("address1_line3", 250),
		str("address1_city", 80), str("address1_stateorprovince", 50), str("address1_postalcode", 20),
		str("address1_country", 80), str("address1_county", 50),
	}
}

// systemNavs are the navigation properties of the platform's own lookups.
func systemNavs() []*navProp {
	return []*navProp{
		{name: "ownerid", target: systemUserSchema.set, lookup: "_ownerid_value", system: true},
		{name: "createdby", target: systemUserSchema.set, lookup: "_createdby_value", system: true},
		{name: "modifiedby", target: systemUserSchema.set, lookup: "_modifiedby_value", system: true},
	}
}

// stateModel is a table's statecode and statuscode: each state's valid
// statuses (the first being the default) and the labels of both.
type stateModel struct {
	statuses                  map[int][]int
	stateLabels, statusLabels map[int]string
}

func newTable(logical, set, primaryName string, sm stateModel, cols []*column, navs ...*navProp) *tableSchema {
	t := &tableSchema{
		logical: logical, set: set, pk: logical + "id", primaryName: primaryName,
		cols: map[string]*column{}, navs: map[string]*navProp{}, many: map[string]*oneToMany{},
		lookupNavs: map[string][]*navProp{}, states: sm.statuses,
	}
	all := append([]*column{{name: t.pk, kind: kindGUID}}, cols...)
	all = append(all, systemColumns()...)
	for _, c := range all {
		switch c.name {
		case "statecode":
			c.choices = sortedKeys(sm.statuses)
			c.def = float64(0)
			c.labels = sm.stateLabels
		case "statuscode":
			for _, v := range sm.statuses {
				c.choices = append(c.choices, v...)
			}
			slices.Sort(c.choices)
			c.labels = sm.statusLabels
		}
		t.cols[c.name] = c
		t.order = append(t.order, c.name)
	}
	for _, n := range append(navs, systemNavs()...) {
		t.navs[n.name] = n
		t.lookupNavs[n.lookup] = append(t.lookupNavs[n.lookup], n)
		if t.cols[n.lookup] == nil {
			c := lookup(n.lookup)
			t.cols[n.lookup] = c
			t.order = append(t.order, n.lookup)
		}
	}
	return t
}

// linkRelationships gives each table the collection-valued navigation
// properties that mirror the other tables' lookups to it.
func linkRelationships(tables ...*tableSchema) map[string]*tableSchema {
	bySet := map[string]*tableSchema{}
	for _, t := range tables {
		bySet[t.set] = t
	}
	for _, t := range tables {
		for _, n := range t.navs {
			if target := bySet[n.target]; target != nil && n.relationship != "" {
				target.many[n.relationship] = &oneToMany{name: n.relationship, set: t.set, nav: n}
			}
		}
	}
	return bySet
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var (
	leadSchema = func() *tableSchema {
		cols := []*column{
			str("subject", 300),
			str("firstname", 50), str("lastname", 50), str("middlename", 50),
			{name: "fullname", kind: kindString, maxLen: 160, readOnly: true},
			str("emailaddress1", 100), str("emailaddress2", 100), str("emailaddress3", 100),
			str("telephone1", 50), str("telephone2", 50), str("telephone3", 50),
			str("mobilephone", 20),
			str("companyname", 100), str("jobtitle", 100), str("websiteurl", 200),
			str("description", 2000),
		}
		cols = append(cols, address1()...)
		cols = append(cols,
			choice("leadsourcecode", nil, map[int]string{
				1: "Advertisement", 2: "Employee Referral", 3: "External Referral", 4: "Partner",
				5: "Public Relations", 6: "Seminar", 7: "Trade Show", 8: "Web", 9: "Word of Mouth", 10: "Other",
			}),
			choice("leadqualitycode", defaultTo(2), map[int]string{1: "Hot", 2: "Warm", 3: "Cold"}),
			choice("preferredcontactmethodcode", defaultTo(1), contactMethods),
		)
		cols = append(cols, doNotColumns()...)
		cols = append(cols,
			boolean("msdyn_gdproptout", "No", "Yes"),
			integer("numberofemployees", 0, 1_000_000_000),
		)
		cols = append(cols, marketingColumns()...)
		t := newTable("lead", "leads", "fullname",
			stateModel{
				statuses:    map[int][]int{0: {1, 2}, 1: {3}, 2: {4, 5, 6, 7}},
				stateLabels: map[int]string{0: "Open", 1: "Qualified", 2: "Disqualified"},
				statusLabels: map[int]string{1: "New", 2: "Contacted", 3: "Qualified", 4: "Lost",
					5: "Cannot Contact", 6: "No Longer Interested", 7: "Canceled"},
			},
			cols,
			&navProp{name: "parentcontactid", target: "contacts", lookup: "_parentcontactid_value", relationship: "lead_parent_contact"},
			&navProp{name: "parentaccountid", target: "accounts", lookup: "_parentaccountid_value", relationship: "lead_parent_account"},
			&navProp{name: "customerid_contact", target: "contacts", lookup: "_customerid_value", relationship: "lead_customer_contacts"},
			&navProp{name: "customerid_account", target: "accounts", lookup: "_customerid_value", relationship: "lead_customer_accounts"},
		)
		t.nameCols = []string{"fullname", "subject", "emailaddress1", "companyname"}
		t.dupCols = []string{"emailaddress1"}
		return t
	}()

	contactSchema = func() *tableSchema {
		cols := []*column{
			str("firstname", 50), str("lastname", 50), str("middlename", 50),
			{name: "fullname", kind: kindString, maxLen: 160, readOnly: true},
			str("emailaddress1", 100), str("emailaddress2", 100), str("emailaddress3", 100),
			str("telephone1", 50), str("telephone2", 50), str("telephone3", 50),
			str("mobilephone", 50), str("jobtitle", 100), str("websiteurl", 200),
			str("description", 2000),
		}
		cols = append(cols, address1()...)
		cols = append(cols,
			choice("leadsourcecode", nil, map[int]string{1: "Default Value"}),
			choice("preferredcontactmethodcode", defaultTo(1), contactMethods),
		)
		cols = append(cols, doNotColumns()...)
		t := newTable("contact", "contacts", "fullname", activeInactive, cols,
			&navProp{name: "parentcustomerid_account", target: "accounts", lookup: "_parentcustomerid_value", relationship: "contact_customer_accounts"},
			&navProp{name: "parentcustomerid_contact", target: "contacts", lookup: "_parentcustomerid_value", relationship: "contact_customer_contacts"},
			&navProp{name: "originatingleadid", target: "leads", lookup: "_originatingleadid_value", relationship: "contact_originating_lead"},
		)
		t.nameCols = []string{"fullname", "emailaddress1", "jobtitle"}
		t.dupCols = []string{"emailaddress1"}
		return t
	}()

	accountSchema = func() *tableSchema {
		cols := []*column{
			str("name", 160), str("accountnumber", 20),
			str("emailaddress1", 100), str("telephone1", 50), str("websiteurl", 200),
			str("description", 2000),
		}
		cols = append(cols, address1()...)
		cols = append(cols, integer("numberofemployees", 0, 1_000_000_000))
		t := newTable("account", "accounts", "name", activeInactive, cols,
			&navProp{name: "primarycontactid", target: "contacts", lookup: "_primarycontactid_value", relationship: "account_primary_contact"},
			&navProp{name: "parentaccountid", target: "accounts", lookup: "_parentaccountid_value", relationship: "account_parent_account"},
			&navProp{name: "originatingleadid", target: "leads", lookup: "_originatingleadid_value", relationship: "account_originating_lead"},
		)
		t.nameCols = []string{"name", "accountnumber", "emailaddress1"}
		return t
	}()

	schemaBySet = linkRelationships(leadSchema, contactSchema, accountSchema)

	// systemUserSchema is the calling application user, the only user the
	// emulator knows: rows' owner, creator and modifier. It is not an entity
	// set a client can query, only a row a lookup can expand to.
	systemUserSchema = func() *tableSchema {
		t := &tableSchema{
			logical: "systemuser", set: "systemusers", pk: "systemuserid", primaryName: "fullname",
			cols: map[string]*column{}, navs: map[string]*navProp{}, many: map[string]*oneToMany{},
			lookupNavs: map[string][]*navProp{}, keyAliases: []string{"ownerid"},
		}
		for _, c := range []*column{
			{name: "systemuserid", kind: kindGUID},
			{name: "ownerid", kind: kindGUID},
			{name: "fullname", kind: kindString, maxLen: 200, readOnly: true},
		} {
			t.cols[c.name] = c
			t.order = append(t.order, c.name)
		}
		return t
	}()
)

// Choice and Yes/No columns that lead and contact share, with their labels.
var (
	contactMethods = map[int]string{1: "Any", 2: "Email", 3: "Phone", 4: "Fax", 5: "Mail"}
	activeInactive = stateModel{
		statuses:     map[int][]int{0: {1}, 1: {2}},
		stateLabels:  map[int]string{0: "Active", 1: "Inactive"},
		statusLabels: map[int]string{1: "Active", 2: "Inactive"},
	}
)

func doNotColumns() []*column {
	return []*column{
		boolean("donotemail", "Allow", "Do Not Allow"), boolean("donotbulkemail", "Allow", "Do Not Allow"),
		boolean("donotphone", "Allow", "Do Not Allow"), boolean("donotpostalmail", "Allow", "Do Not Allow"),
		boolean("donotfax", "Allow", "Do Not Allow"), boolean("donotsendmm", "Send", "Do Not Send"),
	}
}

func tableSets() []string {
	sets := make([]string, 0, len(schemaBySet))
	for s := range schemaBySet {
		sets = append(sets, s)
	}
	sort.Strings(sets)
	return sets
}

// fullName composes the read-only fullname as Dataverse's default
// "First Last" format does.
func fullName(cols map[string]any) any {
	first, _ := cols["firstname"].(string)
	last, _ := cols["lastname"].(string)
	name := strings.TrimSpace(first + " " + last)
	if name == "" {
		return nil
	}
	return name
}
