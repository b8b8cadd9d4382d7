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
	kindDateTime
	kindGUID   // the primary key
	kindLookup // _x_value, read-only; set through a navigation property
)

var edmType = map[colKind]string{
	kindString:   "Edm.String",
	kindChoice:   "Edm.Int32",
	kindBool:     "Edm.Boolean",
	kindInt:      "Edm.Int32",
	kindDateTime: "Edm.DateTimeOffset",
	kindGUID:     "Edm.Guid",
	kindLookup:   "Edm.Guid",
}

type column struct {
	name     string
	kind     colKind
	maxLen   int   // strings
	choices  []int // choice columns
	min, max int   // integers
	readOnly bool  // set by the platform; ignored when a client sends it
	def      any   // value on create when the client sends none
}

// navProp is a single-valued navigation property usable with @odata.bind.
type navProp struct {
	name    string
	targets []string // entity sets it may point to
	lookup  string   // the _x_value column it fills
}

type tableSchema struct {
	logical, set, pk string
	cols             map[string]*column
	order            []string // columns in output order
	navs             map[string]*navProp
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
func boolean(name string) *column { return &column{name: name, kind: kindBool, def: false} }
func choice(name string, def any, values ...int) *column {
	return &column{name: name, kind: kindChoice, choices: values, def: def}
}
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
		{name: "versionnumber", kind: kindInt, readOnly: true},
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

func newTable(logical, set string, states map[int][]int, cols []*column, navs ...*navProp) *tableSchema {
	t := &tableSchema{
		logical: logical, set: set, pk: logical + "id",
		cols: map[string]*column{}, navs: map[string]*navProp{}, states: states,
	}
	all := append([]*column{{name: t.pk, kind: kindGUID}}, cols...)
	all = append(all, systemColumns()...)
	for _, c := range all {
		switch c.name {
		case "statecode":
			c.choices = sortedKeys(states)
			c.def = 0
		case "statuscode":
			for _, v := range states {
				c.choices = append(c.choices, v...)
			}
			slices.Sort(c.choices)
		}
		t.cols[c.name] = c
		t.order = append(t.order, c.name)
	}
	for _, n := range navs {
		t.navs[n.name] = n
		if t.cols[n.lookup] == nil {
			c := lookup(n.lookup)
			t.cols[n.lookup] = c
			t.order = append(t.order, n.lookup)
		}
	}
	return t
}

func sortedKeys(m map[int][]int) []int {
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
			choice("leadsourcecode", nil, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
			choice("leadqualitycode", 2, 1, 2, 3),
			choice("preferredcontactmethodcode", 1, 1, 2, 3, 4, 5),
			boolean("donotemail"), boolean("donotbulkemail"), boolean("donotphone"),
			boolean("donotpostalmail"), boolean("donotfax"), boolean("donotsendmm"),
			boolean("msdyn_gdproptout"),
			integer("numberofemployees", 0, 1_000_000_000),
		)
		t := newTable("lead", "leads",
			map[int][]int{0: {1, 2}, 1: {3}, 2: {4, 5, 6, 7}},
			cols,
			&navProp{name: "parentcontactid", targets: []string{"contacts"}, lookup: "_parentcontactid_value"},
			&navProp{name: "parentaccountid", targets: []string{"accounts"}, lookup: "_parentaccountid_value"},
			&navProp{name: "customerid_contact", targets: []string{"contacts"}, lookup: "_customerid_value"},
			&navProp{name: "customerid_account", targets: []string{"accounts"}, lookup: "_customerid_value"},
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
			choice("leadsourcecode", nil, 1),
			choice("preferredcontactmethodcode", 1, 1, 2, 3, 4, 5),
			boolean("donotemail"), boolean("donotbulkemail"), boolean("donotphone"),
			boolean("donotpostalmail"), boolean("donotfax"), boolean("donotsendmm"),
		)
		t := newTable("contact", "contacts",
			map[int][]int{0: {1}, 1: {2}},
			cols,
			&navProp{name: "parentcustomerid_account", targets: []string{"accounts"}, lookup: "_parentcustomerid_value"},
			&navProp{name: "parentcustomerid_contact", targets: []string{"contacts"}, lookup: "_parentcustomerid_value"},
			&navProp{name: "originatingleadid", targets: []string{"leads"}, lookup: "_originatingleadid_value"},
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
		t := newTable("account", "accounts",
			map[int][]int{0: {1}, 1: {2}},
			cols,
			&navProp{name: "primarycontactid", targets: []string{"contacts"}, lookup: "_primarycontactid_value"},
			&navProp{name: "parentaccountid", targets: []string{"accounts"}, lookup: "_parentaccountid_value"},
			&navProp{name: "originatingleadid", targets: []string{"leads"}, lookup: "_originatingleadid_value"},
		)
		t.nameCols = []string{"name", "accountnumber", "emailaddress1"}
		return t
	}()

	schemaBySet = map[string]*tableSchema{
		leadSchema.set:    leadSchema,
		contactSchema.set: contactSchema,
		accountSchema.set: accountSchema,
	}
)

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
