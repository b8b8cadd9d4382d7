package emulator

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// The schema is a small, hand-written slice of real Dataverse tables
// (reference §8; the table reference pages of lead, contact, account,
// systemuser, team, campaign, annotation, sdkmessage and sdkmessagefilter),
// plus a few custom columns and one custom table with the "new_" publisher
// prefix: enough columns for web-form capture, routing, campaigns and notes,
// with their real maximum lengths, choice values and required levels, so
// that a client that overfills a column or sends a bad choice fails here as
// it would in Dataverse. It is the one definition everything else is built
// from: validation of writes, $select/$filter checks, the table definitions
// (EntityDefinitions), the CSDL at $metadata and the sdkmessagefilter rows
// that advertise the bulk operation messages, so that none of them can
// disagree with another.

type colKind int

const (
	kindString colKind = iota
	kindChoice
	kindMultiChoice // multi-select choice: "100000000,100000001"
	kindBool
	kindInt
	kindBigInt // versionnumber
	kindDecimal
	kindMoney
	kindDateTime
	kindEntityName // the logical name of a table (annotation's objecttypecode)
	kindGUID       // the primary key, and a principal's ownerid alias
	kindLookup     // _x_value, read-only; set through a navigation property
)

var edmType = map[colKind]string{
	kindString:      "Edm.String",
	kindChoice:      "Edm.Int32",
	kindMultiChoice: "Edm.String",
	kindBool:        "Edm.Boolean",
	kindInt:         "Edm.Int32",
	kindBigInt:      "Edm.Int64",
	kindDecimal:     "Edm.Decimal",
	kindMoney:       "Edm.Decimal",
	kindDateTime:    "Edm.DateTimeOffset",
	kindEntityName:  "Edm.String",
	kindGUID:        "Edm.Guid",
	kindLookup:      "Edm.Guid",
}

// Required levels of a column (AttributeRequiredLevel). Only SystemRequired
// is enforced by the platform; the others guide forms (reference §8).
const (
	reqNone        = "None"
	reqRecommended = "Recommended"
	reqApplication = "ApplicationRequired"
	reqSystem      = "SystemRequired"
)

type column struct {
	name     string
	kind     colKind
	maxLen   int   // strings
	choices  []int // choice columns, ascending
	min, max float64
	// precision is the number of decimal places of a decimal or money
	// column; values are rounded to it, as Dataverse stores them.
	precision int
	readOnly  bool // set by the platform; ignored when a client sends it
	// def is the value on create when the client sends none, in the types
	// a decoded request body has (float64, not int), so stored rows hold
	// one encoding whether a value came from a client or a default.
	def any
	// labels are what Dataverse shows for a choice value, and yesNo for
	// false and true: the formatted values of §4.
	labels map[int]string
	yesNo  [2]string

	// Table-definition details (EntityDefinitions): the required level
	// (reqNone when empty), a memo (multi-line text) rather than a single
	// line, a string's format, the global option set a choice uses ("" for
	// its own), and a date-only column.
	required  string
	memo      bool
	format    string
	optionSet string
	dateOnly  bool
	// stateOf maps each status value to its state (statuscode only).
	stateOf map[int]int
}

// isCustom reports whether the column was added by a publisher: every
// custom column carries its publisher's prefix, "new_" for the default one.
func (c *column) isCustom() bool { return isCustomName(c.name) }

func isCustomName(name string) bool {
	name = strings.TrimPrefix(name, "_")
	return strings.HasPrefix(name, "new_")
}

// numberType is the OData type of a number column (whole number,
// decimal, money, choice), for $filter's type checks: Dataverse refuses
// such a column compared with a quoted text. Other columns are left
// untyped ("") and compared as the emulator always has.
func (t *tableSchema) numberType(name string) string {
	c := t.cols[name]
	if c == nil {
		return ""
	}
	switch c.kind {
	case kindChoice, kindInt, kindBigInt, kindDecimal, kindMoney:
		return edmType[c.kind]
	}
	return ""
}

// navProp is a single-valued navigation property: the many-to-one side of a
// relationship, read through a lookup column and set with @odata.bind or
// $ref. A Customer lookup has two, one per target table; an Owner lookup
// has one that binds to either of two tables (targets).
type navProp struct {
	name   string
	target string // entity set it points to (the first of targets)
	lookup string // the _x_value column it fills
	// targets are the entity sets an Owner lookup may point to
	// (systemusers, teams); nil means target only.
	targets []string
	// relationship is the relationship's schema name, which is also the
	// collection-valued navigation property on the target table.
	relationship string
	// system navigation properties (createdby, modifiedby) are set by the
	// platform to the calling user and cannot be bound.
	system bool
}

// bindable lists the sets np may bind to.
func (np *navProp) bindable() []string {
	if np.targets != nil {
		return np.targets
	}
	return []string{np.target}
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
	navOrder         []string              // navs in definition order
	many             map[string]*oneToMany // collection-valued, by name
	// lookupNavs lists the navigation properties behind each lookup
	// column, so a lookup value can be annotated and expanded.
	lookupNavs map[string][]*navProp
	// primaryName is the column shown as a row's name, and so as the
	// formatted value of lookups to it.
	primaryName string
	// keyAliases are columns always returned with the primary key (a
	// principal's ownerid).
	keyAliases []string
	// states maps each statecode to its valid statuscodes, the first being
	// the default; nil for a table without state (annotation).
	states map[int][]int
	// nameCols are shown on the HTML page.
	nameCols []string
	// dupCols are the columns the default duplicate detection rule matches.
	dupCols []string
	// paths are lookup paths $filter may use (sdkmessageid/name); rows
	// carry their values under the same name.
	paths map[string]bool

	// Table-definition details.
	schemaName, display, displayPlural string
	typeCode                           int
	ownership                          string // UserOwned, OrganizationOwned, BusinessOwned
	// apiReadOnly tables refuse Web API writes (Dataverse's users come from
	// Entra ID; message definitions are the platform's); rows reach them
	// through seeds and PUT /_emulator/rows.
	apiReadOnly bool
	// bulk tables support CreateMultiple, UpdateMultiple and UpsertMultiple
	// and say so in sdkmessagefilters.
	bulk bool
}

func (t *tableSchema) typeName() string { return "Microsoft.Dynamics.CRM." + t.logical }

func (t *tableSchema) isCustom() bool { return isCustomName(t.logical) }

func (t *tableSchema) keyable(col string) bool {
	c := t.cols[col]
	if c == nil {
		return false
	}
	switch c.kind {
	case kindString, kindInt, kindChoice, kindLookup, kindDateTime, kindDecimal:
		return !c.memo
	}
	return false
}

func str(name string, maxLen int) *column {
	return &column{name: name, kind: kindString, maxLen: maxLen}
}

// memo is a multi-line text column.
func memo(name string, maxLen int) *column {
	return &column{name: name, kind: kindString, maxLen: maxLen, memo: true, format: "TextArea"}
}

// formatted is a single-line text column with a format (Email, Url, Phone).
func formatted(name string, maxLen int, format string) *column {
	return &column{name: name, kind: kindString, maxLen: maxLen, format: format}
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

// multiChoice is a multi-select choice column of a global option set.
func multiChoice(name, optionSet string, labels map[int]string) *column {
	return &column{name: name, kind: kindMultiChoice, choices: sortedKeys(labels), labels: labels, optionSet: optionSet}
}

// defaultTo is a choice column's default value.
func defaultTo(v int) *int { return &v }
func integer(name string, lo, hi int) *column {
	return &column{name: name, kind: kindInt, min: float64(lo), max: float64(hi)}
}

// Dataverse's ranges for decimal and money columns.
const (
	maxMoney   = 922337203685477
	maxDecimal = 100000000000
)

func decimal(name string, precision int, lo, hi float64) *column {
	return &column{name: name, kind: kindDecimal, precision: precision, min: lo, max: hi}
}

func money(name string) *column {
	return &column{name: name, kind: kindMoney, precision: 2, min: -maxMoney, max: maxMoney}
}

func dateTime(name string) *column { return &column{name: name, kind: kindDateTime} }

func lookup(name string) *column { return &column{name: name, kind: kindLookup, readOnly: true} }

// required sets a column's required level.
func required(level string, c *column) *column { c.required = level; return c }

// Columns every table has; the platform sets them.
func systemColumns() []*column {
	return []*column{
		{name: "createdon", kind: kindDateTime, readOnly: true},
		{name: "modifiedon", kind: kindDateTime, readOnly: true},
		{name: "versionnumber", kind: kindBigInt, readOnly: true},
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

// ownerNav is the Owner lookup of a user-owned table: a user or a team,
// the calling user when a create names none.
func ownerNav(set string) *navProp {
	return &navProp{name: "ownerid", target: "systemusers", targets: []string{"systemusers", "teams"},
		lookup: "_ownerid_value", relationship: "owner_" + set}
}

// stateModel is a table's statecode and statuscode: each state's valid
// statuses (the first being the default) and the labels of both.
type stateModel struct {
	statuses                  map[int][]int
	stateLabels, statusLabels map[int]string
}

// tableDef is what a table is made from.
type tableDef struct {
	logical, set, primaryName   string
	display, displayPlural      string
	typeCode                    int
	ownership                   string
	states                      *stateModel // nil: the table has no state
	cols                        []*column
	navs                        []*navProp
	apiReadOnly, bulk           bool
	nameCols, dupCols, keyAlias []string
}

func newTable(d tableDef) *tableSchema {
	t := &tableSchema{
		logical: d.logical, set: d.set, pk: d.logical + "id", primaryName: d.primaryName,
		cols: map[string]*column{}, navs: map[string]*navProp{}, many: map[string]*oneToMany{},
		lookupNavs: map[string][]*navProp{}, paths: map[string]bool{},
		schemaName: schemaNameOf(d.logical), display: d.display, displayPlural: d.displayPlural,
		typeCode: d.typeCode, ownership: d.ownership, apiReadOnly: d.apiReadOnly, bulk: d.bulk,
		nameCols: d.nameCols, dupCols: d.dupCols, keyAliases: d.keyAlias,
	}
	all := append([]*column{{name: t.pk, kind: kindGUID, required: reqSystem}}, d.cols...)
	for _, a := range d.keyAlias {
		all = append(all, &column{name: a, kind: kindGUID, readOnly: true})
	}
	if sm := d.states; sm != nil {
		t.states = sm.statuses
		state := &column{name: "statecode", kind: kindChoice, choices: sortedKeys(sm.statuses),
			def: float64(0), labels: sm.stateLabels, required: reqSystem}
		status := &column{name: "statuscode", kind: kindChoice, labels: sm.statusLabels, stateOf: map[int]int{}}
		for st, vs := range sm.statuses {
			status.choices = append(status.choices, vs...)
			for _, v := range vs {
				status.stateOf[v] = st
			}
		}
		slices.Sort(status.choices)
		all = append(all, state, status)
	}
	all = append(all, systemColumns()...)
	navs := d.navs
	if d.ownership == "UserOwned" {
		navs = append(navs, ownerNav(d.set))
	}
	navs = append(navs,
		&navProp{name: "createdby", target: "systemusers", lookup: "_createdby_value", relationship: "lk_" + d.logical + "base_createdby", system: true},
		&navProp{name: "modifiedby", target: "systemusers", lookup: "_modifiedby_value", relationship: "lk_" + d.logical + "base_modifiedby", system: true},
	)
	for _, c := range all {
		t.cols[c.name] = c
		t.order = append(t.order, c.name)
	}
	for _, n := range navs {
		t.navs[n.name] = n
		t.navOrder = append(t.navOrder, n.name)
		t.lookupNavs[n.lookup] = append(t.lookupNavs[n.lookup], n)
		if t.cols[n.lookup] == nil {
			c := lookup(n.lookup)
			if n.name == "ownerid" {
				c.required = reqSystem
			}
			t.cols[n.lookup] = c
			t.order = append(t.order, n.lookup)
		}
	}
	return t
}

// schemaNameOf derives a SchemaName from a logical name: Dataverse's are
// the logical name in Pascal case (Lead, EMailAddress1); the emulator
// capitalises the first letter of each "_"-separated part after a
// publisher prefix (new_ProductInterest is new_Productinterest here), which
// is what a client may compare case-insensitively.
func schemaNameOf(logical string) string {
	prefix, rest, ok := strings.Cut(logical, "_")
	if !ok || strings.HasPrefix(logical, "_") {
		return upperFirst(logical)
	}
	if prefix == "new" {
		return prefix + "_" + upperFirst(rest)
	}
	return upperFirst(logical)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// linkRelationships gives each table the collection-valued navigation
// properties that mirror the other tables' lookups to it.
func linkRelationships(tables ...*tableSchema) map[string]*tableSchema {
	bySet := map[string]*tableSchema{}
	for _, t := range tables {
		bySet[t.set] = t
	}
	for _, t := range tables {
		for _, name := range t.navOrder {
			n := t.navs[name]
			if n.system || n.targets != nil || n.relationship == "" {
				continue // the platform's own lookups have no mirror here
			}
			if target := bySet[n.target]; target != nil {
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

// Choice labels shared by several columns and tables.
var (
	contactMethods = map[int]string{1: "Any", 2: "Email", 3: "Phone", 4: "Fax", 5: "Mail"}
	activeInactive = &stateModel{
		statuses:     map[int][]int{0: {1}, 1: {2}},
		stateLabels:  map[int]string{0: "Active", 1: "Inactive"},
		statusLabels: map[int]string{1: "Active", 2: "Inactive"},
	}
	// Custom choices start at the publisher's option value prefix: 10000
	// for the default publisher, so 100,000,000 and up.
	productInterests = map[int]string{100000000: "Software", 100000001: "Hardware", 100000002: "Services"}
	companySizes     = map[int]string{100000000: "1-50", 100000001: "51-999", 100000002: "1000+"}
	interests        = map[int]string{100000000: "Newsletter", 100000001: "Events", 100000002: "Webinars", 100000003: "Product updates"}
)

func doNotColumns() []*column {
	return []*column{
		boolean("donotemail", "Allow", "Do Not Allow"), boolean("donotbulkemail", "Allow", "Do Not Allow"),
		boolean("donotphone", "Allow", "Do Not Allow"), boolean("donotpostalmail", "Allow", "Do Not Allow"),
		boolean("donotfax", "Allow", "Do Not Allow"), boolean("donotsendmm", "Send", "Do Not Send"),
	}
}

var (
	leadSchema = func() *tableSchema {
		cols := []*column{
			required(reqApplication, str("subject", 300)),
			required(reqRecommended, str("firstname", 50)), required(reqApplication, str("lastname", 50)), str("middlename", 50),
			{name: "fullname", kind: kindString, maxLen: 160, readOnly: true},
			formatted("emailaddress1", 100, "Email"), formatted("emailaddress2", 100, "Email"), formatted("emailaddress3", 100, "Email"),
			formatted("telephone1", 50, "Phone"), formatted("telephone2", 50, "Phone"), formatted("telephone3", 50, "Phone"),
			formatted("mobilephone", 20, "Phone"),
			required(reqRecommended, str("companyname", 100)), str("jobtitle", 100), formatted("websiteurl", 200, "Url"),
			memo("description", 2000),
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
			money("budgetamount"),
			// Custom columns of the default publisher, for mapping tests.
			money("new_budget"),
			decimal("new_discountrate", 2, 0, 100),
			choice("new_productinterest", nil, productInterests),
			choice("new_companysize", nil, companySizes),
			multiChoice("new_interests", "new_interest", interests),
			dateTime("new_consentdate"),
			integer("new_employees", 0, 1_000_000),
			boolean("new_newsletter", "No", "Yes"),
		)
		cols = append(cols, marketingColumns()...)
		return newTable(tableDef{
			logical: "lead", set: "leads", primaryName: "fullname", display: "Lead", displayPlural: "Leads",
			typeCode: 4, ownership: "UserOwned", bulk: true,
			states: &stateModel{
				statuses:    map[int][]int{0: {1, 2}, 1: {3}, 2: {4, 5, 6, 7}},
				stateLabels: map[int]string{0: "Open", 1: "Qualified", 2: "Disqualified"},
				statusLabels: map[int]string{1: "New", 2: "Contacted", 3: "Qualified", 4: "Lost",
					5: "Cannot Contact", 6: "No Longer Interested", 7: "Canceled"},
			},
			cols: cols,
			navs: []*navProp{
				{name: "parentcontactid", target: "contacts", lookup: "_parentcontactid_value", relationship: "lead_parent_contact"},
				{name: "parentaccountid", target: "accounts", lookup: "_parentaccountid_value", relationship: "lead_parent_account"},
				{name: "customerid_contact", target: "contacts", lookup: "_customerid_value", relationship: "lead_customer_contacts"},
				{name: "customerid_account", target: "accounts", lookup: "_customerid_value", relationship: "lead_customer_accounts"},
				{name: "campaignid", target: "campaigns", lookup: "_campaignid_value", relationship: "campaign_leads"},
			},
			nameCols: []string{"fullname", "subject", "emailaddress1", "companyname"},
			dupCols:  []string{"emailaddress1"},
		})
	}()

	contactSchema = func() *tableSchema {
		cols := []*column{
			required(reqRecommended, str("firstname", 50)), required(reqApplication, str("lastname", 50)), str("middlename", 50),
			{name: "fullname", kind: kindString, maxLen: 160, readOnly: true},
			formatted("emailaddress1", 100, "Email"), formatted("emailaddress2", 100, "Email"), formatted("emailaddress3", 100, "Email"),
			formatted("telephone1", 50, "Phone"), formatted("telephone2", 50, "Phone"), formatted("telephone3", 50, "Phone"),
			formatted("mobilephone", 50, "Phone"), str("jobtitle", 100), formatted("websiteurl", 200, "Url"),
			memo("description", 2000),
		}
		cols = append(cols, address1()...)
		cols = append(cols,
			choice("leadsourcecode", nil, map[int]string{1: "Default Value"}),
			choice("preferredcontactmethodcode", defaultTo(1), contactMethods),
		)
		cols = append(cols, doNotColumns()...)
		return newTable(tableDef{
			logical: "contact", set: "contacts", primaryName: "fullname", display: "Contact", displayPlural: "Contacts",
			typeCode: 2, ownership: "UserOwned", bulk: true, states: activeInactive, cols: cols,
			navs: []*navProp{
				{name: "parentcustomerid_account", target: "accounts", lookup: "_parentcustomerid_value", relationship: "contact_customer_accounts"},
				{name: "parentcustomerid_contact", target: "contacts", lookup: "_parentcustomerid_value", relationship: "contact_customer_contacts"},
				{name: "originatingleadid", target: "leads", lookup: "_originatingleadid_value", relationship: "contact_originating_lead"},
			},
			nameCols: []string{"fullname", "emailaddress1", "jobtitle"},
			dupCols:  []string{"emailaddress1"},
		})
	}()

	accountSchema = func() *tableSchema {
		cols := []*column{
			required(reqApplication, str("name", 160)), str("accountnumber", 20),
			formatted("emailaddress1", 100, "Email"), formatted("telephone1", 50, "Phone"), formatted("websiteurl", 200, "Url"),
			memo("description", 2000),
		}
		cols = append(cols, address1()...)
		cols = append(cols,
			integer("numberofemployees", 0, 1_000_000_000),
			money("revenue"),
			choice("industrycode", nil, map[int]string{
				1: "Accounting", 2: "Agriculture and Non-petrol Natural Resource Extraction", 3: "Broadcasting Printing and Publishing",
				4: "Brokers", 5: "Building Supply Retail", 6: "Business Services", 7: "Consulting", 8: "Consumer Services",
				9: "Design, Direction and Creative Management", 10: "Distributors, Dispatchers and Processors",
			}),
		)
		return newTable(tableDef{
			logical: "account", set: "accounts", primaryName: "name", display: "Account", displayPlural: "Accounts",
			typeCode: 1, ownership: "UserOwned", bulk: true, states: activeInactive, cols: cols,
			navs: []*navProp{
				{name: "primarycontactid", target: "contacts", lookup: "_primarycontactid_value", relationship: "account_primary_contact"},
				{name: "parentaccountid", target: "accounts", lookup: "_parentaccountid_value", relationship: "account_parent_account"},
				{name: "originatingleadid", target: "leads", lookup: "_originatingleadid_value", relationship: "account_originating_lead"},
			},
			nameCols: []string{"name", "accountnumber", "emailaddress1"},
		})
	}()

	// systemUserSchema holds the users rows are owned by: the calling
	// application user and the seeded people. Dataverse takes users from
	// Microsoft Entra ID, so the Web API only reads them here.
	systemUserSchema = newTable(tableDef{
		logical: "systemuser", set: "systemusers", primaryName: "fullname", display: "User", displayPlural: "Users",
		typeCode: 8, ownership: "BusinessOwned", apiReadOnly: true,
		cols: []*column{
			{name: "fullname", kind: kindString, maxLen: 200, readOnly: true},
			str("firstname", 64), required(reqSystem, str("lastname", 64)),
			required(reqSystem, str("domainname", 1024)), formatted("internalemailaddress", 100, "Email"),
			str("title", 128), boolean("isdisabled", "Enabled", "Disabled"),
			choice("accessmode", defaultTo(0), map[int]string{0: "Read-Write", 1: "Administrative", 2: "Read", 3: "Support User", 4: "Non-interactive", 5: "Delegated Admin"}),
			str("address1_country", 80),
		},
		nameCols: []string{"fullname", "domainname"},
		keyAlias: []string{"ownerid"},
	})

	teamSchema = newTable(tableDef{
		logical: "team", set: "teams", primaryName: "name", display: "Team", displayPlural: "Teams",
		typeCode: 9, ownership: "BusinessOwned",
		cols: []*column{
			required(reqSystem, str("name", 160)), formatted("emailaddress", 100, "Email"), memo("description", 2000),
			choice("teamtype", defaultTo(0), map[int]string{0: "Owner", 1: "Access", 2: "Security Group", 3: "Office Group"}),
		},
		nameCols: []string{"name", "teamtype"},
		keyAlias: []string{"ownerid"},
	})

	campaignSchema = newTable(tableDef{
		logical: "campaign", set: "campaigns", primaryName: "name", display: "Campaign", displayPlural: "Campaigns",
		typeCode: 4400, ownership: "UserOwned", bulk: true,
		states: &stateModel{
			statuses:     map[int][]int{0: {0, 1, 2, 3, 4, 5}, 1: {6}},
			stateLabels:  map[int]string{0: "Active", 1: "Inactive"},
			statusLabels: map[int]string{0: "Proposed", 1: "Ready To Launch", 2: "Launched", 3: "Completed", 4: "Canceled", 5: "Suspended", 6: "Inactive"},
		},
		cols: []*column{
			required(reqApplication, str("name", 128)), str("codename", 32), memo("description", 2000),
			choice("typecode", defaultTo(1), map[int]string{1: "Advertisement", 2: "Direct Marketing", 3: "Event", 4: "Co-branding", 5: "Other"}),
			dateTime("actualstart"), dateTime("actualend"), money("budgetedcost"),
		},
		nameCols: []string{"name", "codename"},
	})

	annotationSchema = newTable(tableDef{
		logical: "annotation", set: "annotations", primaryName: "subject", display: "Note", displayPlural: "Notes",
		typeCode: 5, ownership: "UserOwned",
		cols: []*column{
			str("subject", 500), memo("notetext", 100_000),
			{name: "objecttypecode", kind: kindEntityName, readOnly: true},
			boolean("isdocument", "No", "Yes"), str("filename", 255), str("mimetype", 256),
		},
		navs: []*navProp{
			{name: "objectid_lead", target: "leads", lookup: "_objectid_value", relationship: "Lead_Annotation"},
			{name: "objectid_contact", target: "contacts", lookup: "_objectid_value", relationship: "Contact_Annotation"},
			{name: "objectid_account", target: "accounts", lookup: "_objectid_value", relationship: "Account_Annotation"},
			{name: "objectid_new_enquiry", target: "new_enquiries", lookup: "_objectid_value", relationship: "new_enquiry_Annotations"},
		},
		nameCols: []string{"subject", "objecttypecode"},
	})

	// enquirySchema is a custom table of the default publisher, for forms
	// that target a table other than lead.
	enquirySchema = newTable(tableDef{
		logical: "new_enquiry", set: "new_enquiries", primaryName: "new_name", display: "Enquiry", displayPlural: "Enquiries",
		typeCode: 10001, ownership: "UserOwned", bulk: true, states: activeInactive,
		cols: []*column{
			required(reqApplication, str("new_name", 100)), formatted("new_email", 100, "Email"), memo("new_message", 4000),
			choice("new_topic", nil, map[int]string{100000000: "Sales", 100000001: "Support", 100000002: "Partnership"}),
			dateTime("new_receivedon"),
			// The enquiry's number, a custom whole-number column an org
			// may make an alternate key; a follow-up names it.
			integer("new_enquiryno", 0, 2_147_483_647),
		},
		navs: []*navProp{
			{name: "new_leadid", target: "leads", lookup: "_new_leadid_value", relationship: "new_lead_new_enquiry"},
			// A follow-up enquiry points at the one it follows.
			{name: "new_previousenquiryid", target: "new_enquiries", lookup: "_new_previousenquiryid_value", relationship: "new_enquiry_previous_enquiry"},
		},
		nameCols: []string{"new_name", "new_email"},
	})

	// The SDK message definitions that tell a client which tables take
	// which messages ("Use bulk operation messages", Availability).
	sdkMessageSchema = newTable(tableDef{
		logical: "sdkmessage", set: "sdkmessages", primaryName: "name", display: "Sdk Message", displayPlural: "Sdk Messages",
		typeCode: 4606, ownership: "OrganizationOwned", apiReadOnly: true,
		cols:     []*column{str("name", 256), boolean("isprivate", "No", "Yes")},
		nameCols: []string{"name"},
	})

	sdkMessageFilterSchema = func() *tableSchema {
		t := newTable(tableDef{
			logical: "sdkmessagefilter", set: "sdkmessagefilters", primaryName: "name", display: "Sdk Message Filter", displayPlural: "Sdk Message Filters",
			typeCode: 4607, ownership: "OrganizationOwned", apiReadOnly: true,
			cols: []*column{
				str("name", 256),
				{name: "primaryobjecttypecode", kind: kindEntityName},
				{name: "secondaryobjecttypecode", kind: kindEntityName},
				boolean("iscustomprocessingstepallowed", "No", "Yes"), boolean("isvisible", "No", "Yes"),
				integer("availability", 0, 2),
			},
			navs: []*navProp{
				{name: "sdkmessageid", target: "sdkmessages", lookup: "_sdkmessageid_value", relationship: "sdkmessageid_sdkmessagefilter"},
			},
			nameCols: []string{"primaryobjecttypecode", "name"},
		})
		t.paths["sdkmessageid/name"] = true
		return t
	}()

	schemaBySet = linkRelationships(leadSchema, contactSchema, accountSchema, systemUserSchema, teamSchema,
		campaignSchema, annotationSchema, enquirySchema, sdkMessageSchema, sdkMessageFilterSchema)

	// schemaByLogical finds a table by its logical name.
	schemaByLogical = func() map[string]*tableSchema {
		m := map[string]*tableSchema{}
		for _, t := range schemaBySet {
			m[t.logical] = t
		}
		return m
	}()
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

// nameGUID is a stable, name-based GUID: metadata ids and seed rows keep
// their ids across restarts without being stored.
func nameGUID(parts ...string) string {
	h := sha256.Sum256([]byte("leadbridge-emulator/" + strings.Join(parts, "/")))
	h[6] = h[6]&0x0f | 0x50 // a name-based (v5-style) GUID
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
