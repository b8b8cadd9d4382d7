package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/leadbridge/leadbridge/emulator/odata"
)

// Table definitions ("Use the Web API with table definitions", "Query table
// definitions using the Web API", "Retrieve table definitions by name or
// MetadataId"), generated from schema.go, the one definition validation
// uses too:
//
//	GET EntityDefinitions                                   every table ($select, $filter, $expand)
//	GET EntityDefinitions(LogicalName='lead')               one table; also (<MetadataId>), (MetadataId=<id>)
//	GET EntityDefinitions(…)/Attributes                     its columns, each with its @odata.type
//	GET EntityDefinitions(…)/Attributes(LogicalName='x')    one column; also (<MetadataId>)
//	GET EntityDefinitions(…)/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet,GlobalOptionSet
//	GET EntityDefinitions(…)/Attributes(…)/Microsoft.Dynamics.CRM.PicklistAttributeMetadata/OptionSet
//	GET EntityDefinitions(…)/Keys                           the alternate keys configured (alternate_keys)
//	GET EntityDefinitions(…)/OneToManyRelationships, /ManyToOneRelationships, /ManyToManyRelationships (none)
//
// As in Dataverse, there is no paging, $top, $orderby or $count on these
// collections; $filter compares primitive and enumeration properties
// (AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist') and
// the Value of managed properties (RequiredLevel/Value eq …); $select on
// Attributes takes the properties of the type the collection is cast to
// (AttributeMetadata when there is no cast), so MaxLength needs the cast to
// StringAttributeMetadata or MemoAttributeMetadata; OptionSet and
// GlobalOptionSet expand only on a cast to a choice type (Picklist,
// MultiSelectPicklist, State, Status, Boolean). MetadataId is always
// returned. Labels are en-US (1033) only.

const entityDefinitionsSet = "EntityDefinitions"

const crmNS = "Microsoft.Dynamics.CRM."

// metaObject is one definition: its type, its properties as JSON, and the
// definitions its navigation properties lead to.
type metaObject struct {
	typ   string // EntityMetadata, StringAttributeMetadata, …
	props map[string]any
	navs  map[string]func() any // OptionSet, Attributes, … (a list or one object)
}

// metaTypes lists the properties of each definition type that $select and
// $filter may name; a derived type has its base's too.
var (
	attributeBaseProps = []string{"MetadataId", "HasChanged", "AttributeOf", "AttributeType", "AttributeTypeName",
		"ColumnNumber", "Description", "DisplayName", "EntityLogicalName", "IntroducedVersion", "IsCustomAttribute",
		"IsLogical", "IsManaged", "IsPrimaryId", "IsPrimaryName", "IsSecured", "IsValidForCreate", "IsValidForRead",
		"IsValidForUpdate", "IsValidForForm", "IsFilterable", "IsSearchable", "IsRetrievable", "LogicalName",
		"RequiredLevel", "SchemaName", "SourceType"}
	metaTypeProps = map[string][]string{
		"EntityMetadata": {"MetadataId", "HasChanged", "LogicalName", "SchemaName", "EntitySetName", "LogicalCollectionName",
			"CollectionSchemaName", "PrimaryIdAttribute", "PrimaryNameAttribute", "ObjectTypeCode", "OwnershipType",
			"IsCustomEntity", "IsActivity", "IsManaged", "IsValidForAdvancedFind", "IsIntersect", "TableType",
			"DisplayName", "DisplayCollectionName", "Description", "IntroducedVersion", "EntityColor", "HasNotes",
			"HasActivities", "IsStateModelAware"},
		"AttributeMetadata":                    attributeBaseProps,
		"StringAttributeMetadata":              append(slices.Clone(attributeBaseProps), "MaxLength", "DatabaseLength", "Format", "FormatName", "IsLocalizable"),
		"MemoAttributeMetadata":                append(slices.Clone(attributeBaseProps), "MaxLength", "DatabaseLength", "Format", "FormatName", "IsLocalizable"),
		"IntegerAttributeMetadata":             append(slices.Clone(attributeBaseProps), "MinValue", "MaxValue", "Format"),
		"BigIntAttributeMetadata":              append(slices.Clone(attributeBaseProps), "MinValue", "MaxValue"),
		"DecimalAttributeMetadata":             append(slices.Clone(attributeBaseProps), "MinValue", "MaxValue", "Precision"),
		"MoneyAttributeMetadata":               append(slices.Clone(attributeBaseProps), "MinValue", "MaxValue", "Precision", "PrecisionSource", "IsBaseCurrency"),
		"BooleanAttributeMetadata":             append(slices.Clone(attributeBaseProps), "DefaultValue"),
		"DateTimeAttributeMetadata":            append(slices.Clone(attributeBaseProps), "Format", "DateTimeBehavior", "MinSupportedValue", "MaxSupportedValue"),
		"PicklistAttributeMetadata":            append(slices.Clone(attributeBaseProps), "DefaultFormValue"),
		"MultiSelectPicklistAttributeMetadata": append(slices.Clone(attributeBaseProps), "DefaultFormValue"),
		"StateAttributeMetadata":               append(slices.Clone(attributeBaseProps), "DefaultFormValue"),
		"StatusAttributeMetadata":              append(slices.Clone(attributeBaseProps), "DefaultFormValue"),
		"LookupAttributeMetadata":              append(slices.Clone(attributeBaseProps), "Targets", "Format"),
		"UniqueIdentifierAttributeMetadata":    attributeBaseProps,
		"EntityNameAttributeMetadata":          append(slices.Clone(attributeBaseProps), "IsEntityReferenceStored"),
		"EntityKeyMetadata": {"MetadataId", "HasChanged", "LogicalName", "SchemaName", "KeyAttributes", "EntityKeyIndexStatus",
			"EntityLogicalName", "DisplayName", "IsManaged", "IsCustomizable", "IsSynchronous", "IntroducedVersion"},
		"OneToManyRelationshipMetadata": {"MetadataId", "HasChanged", "SchemaName", "ReferencedEntity", "ReferencedAttribute",
			"ReferencingEntity", "ReferencingAttribute", "ReferencedEntityNavigationPropertyName",
			"ReferencingEntityNavigationPropertyName", "RelationshipType", "IsCustomRelationship", "IsManaged",
			"IsHierarchical", "IsValidForAdvancedFind", "SecurityTypes", "CascadeConfiguration", "IntroducedVersion",
			"RelationshipBehavior"},
		"OptionSetMetadata": {"MetadataId", "HasChanged", "Name", "OptionSetType", "IsGlobal", "IsCustomOptionSet",
			"IsManaged", "Options", "Description", "DisplayName", "IntroducedVersion", "ParentOptionSetName", "ExternalTypeName"},
		"BooleanOptionSetMetadata": {"MetadataId", "HasChanged", "Name", "OptionSetType", "IsGlobal", "IsCustomOptionSet",
			"IsManaged", "TrueOption", "FalseOption", "Description", "DisplayName", "IntroducedVersion"},
	}
	// enumAttributeTypes take $expand=OptionSet,GlobalOptionSet.
	enumAttributeTypes = []string{"PicklistAttributeMetadata", "MultiSelectPicklistAttributeMetadata",
		"StateAttributeMetadata", "StatusAttributeMetadata", "BooleanAttributeMetadata", "EntityNameAttributeMetadata"}
	entityNavs = []string{"Attributes", "Keys", "OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships"}
)

// label is a Label complex type in en-US.
func label(text, id string, managed bool) map[string]any {
	l := map[string]any{"Label": text, "LanguageCode": 1033, "IsManaged": managed, "MetadataId": id, "HasChanged": nil}
	return map[string]any{"LocalizedLabels": []any{l}, "UserLocalizedLabel": l}
}

func emptyLabel() map[string]any {
	return map[string]any{"LocalizedLabels": []any{}, "UserLocalizedLabel": nil}
}

func managedProperty(v any, name string) map[string]any {
	return map[string]any{"Value": v, "CanBeChanged": true, "ManagedPropertyLogicalName": name}
}

// entityMeta is a table's EntityMetadata.
func (s *Server) entityMeta(t *tableSchema) *metaObject {
	managed := !t.isCustom()
	props := map[string]any{
		"MetadataId": nameGUID("entity", t.logical), "HasChanged": nil,
		"LogicalName": t.logical, "SchemaName": t.schemaName, "EntitySetName": t.set,
		"LogicalCollectionName": t.set, "CollectionSchemaName": upperFirst(t.set),
		"PrimaryIdAttribute": t.pk, "PrimaryNameAttribute": t.primaryName, "ObjectTypeCode": t.typeCode,
		"OwnershipType": t.ownership, "IsCustomEntity": t.isCustom(), "IsActivity": false, "IsManaged": managed,
		"IsValidForAdvancedFind": true, "IsIntersect": false, "TableType": "Standard",
		"DisplayName":           label(t.display, nameGUID("entity-label", t.logical), managed),
		"DisplayCollectionName": label(t.displayPlural, nameGUID("entity-labels", t.logical), managed),
		"Description":           emptyLabel(), "IntroducedVersion": "1.0", "EntityColor": nil,
		"HasNotes": hasNotes(t), "HasActivities": false, "IsStateModelAware": t.states != nil,
	}
	return &metaObject{typ: "EntityMetadata", props: props, navs: map[string]func() any{
		"Attributes":              func() any { return attributesOf(t, s.config().MaxLengths[t.set]) },
		"Keys":                    func() any { return s.keysOf(t) },
		"OneToManyRelationships":  func() any { return oneToManyOf(t) },
		"ManyToOneRelationships":  func() any { return manyToOneOf(t) },
		"ManyToManyRelationships": func() any { return []*metaObject{} },
	}}
}

// hasNotes reports whether notes (annotations) can be attached to t's rows.
func hasNotes(t *tableSchema) bool {
	for _, np := range annotationSchema.navs {
		if np.target == t.set && !np.system {
			return true
		}
	}
	return false
}

// attributeLogical is a column's attribute name: a lookup's _x_value
// property is the attribute x.
func attributeLogical(col string) string {
	if strings.HasPrefix(col, "_") && strings.HasSuffix(col, "_value") {
		return strings.TrimSuffix(strings.TrimPrefix(col, "_"), "_value")
	}
	return col
}

// attributesOf lists a table's columns as AttributeMetadata, in schema
// order. A principal's ownerid alias is no attribute of its own. lengths
// are this org's customized text lengths (Config.MaxLengths): its
// definitions show them, as a real org's show what its admins set.
func attributesOf(t *tableSchema, lengths map[string]int) []*metaObject {
	var out []*metaObject
	for _, name := range t.order {
		if slices.Contains(t.keyAliases, name) {
			continue
		}
		c := t.cols[name]
		if n := lengths[name]; n > 0 && c.kind == kindString {
			custom := *c
			custom.maxLen = n
			c = &custom
		}
		out = append(out, attributeMeta(t, c))
	}
	return out
}

// attributeMeta is a column's AttributeMetadata, of its derived type.
func attributeMeta(t *tableSchema, c *column) *metaObject {
	logical := attributeLogical(c.name)
	custom := c.isCustom() || t.isCustom()
	managed := !custom
	id := nameGUID("attribute", t.logical, logical)
	required := c.required
	if required == "" {
		required = reqNone
	}
	validCreate, validUpdate := !c.readOnly, !c.readOnly
	var np *navProp
	if c.kind == kindLookup {
		navs := t.lookupNavs[c.name]
		if len(navs) > 0 {
			np = navs[0]
		}
		validCreate = np != nil && !np.system
		validUpdate = validCreate
	}
	if c.kind == kindGUID {
		validCreate, validUpdate = true, false
	}
	props := map[string]any{
		"MetadataId": id, "HasChanged": nil, "AttributeOf": nil, "ColumnNumber": slices.Index(t.order, c.name) + 1,
		"Description": emptyLabel(), "DisplayName": label(displayNameOf(logical), nameGUID("attribute-label", t.logical, logical), managed),
		"EntityLogicalName": t.logical, "IntroducedVersion": "1.0", "IsCustomAttribute": custom, "IsLogical": false,
		"IsManaged": managed, "IsPrimaryId": c.name == t.pk, "IsPrimaryName": c.name == t.primaryName, "IsSecured": false,
		"IsValidForCreate": validCreate, "IsValidForRead": true, "IsValidForUpdate": validUpdate, "IsValidForForm": true,
		"IsFilterable": true, "IsSearchable": true, "IsRetrievable": true,
		"LogicalName": logical, "SchemaName": schemaNameOf(logical), "SourceType": 0,
		"RequiredLevel": managedProperty(required, "canmodifyrequirementlevelsettings"),
	}
	var typ, attrType, typeName string
	navs := map[string]func() any{}
	switch c.kind {
	case kindString:
		typ, attrType, typeName = "StringAttributeMetadata", "String", "StringType"
		format := c.format
		if c.memo {
			typ, attrType, typeName = "MemoAttributeMetadata", "Memo", "MemoType"
		} else if format == "" {
			format = "Text"
		}
		props["MaxLength"], props["DatabaseLength"] = c.maxLen, c.maxLen*2
		props["Format"], props["FormatName"], props["IsLocalizable"] = format, map[string]any{"Value": format}, false
	case kindInt:
		typ, attrType, typeName = "IntegerAttributeMetadata", "Integer", "IntegerType"
		props["MinValue"], props["MaxValue"], props["Format"] = int(c.min), int(c.max), "None"
	case kindBigInt:
		typ, attrType, typeName = "BigIntAttributeMetadata", "BigInt", "BigIntType"
		props["MinValue"], props["MaxValue"] = int64(-1<<63), int64(1<<63-1)
	case kindDecimal:
		typ, attrType, typeName = "DecimalAttributeMetadata", "Decimal", "DecimalType"
		props["MinValue"], props["MaxValue"], props["Precision"] = c.min, c.max, c.precision
	case kindMoney:
		typ, attrType, typeName = "MoneyAttributeMetadata", "Money", "MoneyType"
		props["MinValue"], props["MaxValue"], props["Precision"] = c.min, c.max, c.precision
		props["PrecisionSource"], props["IsBaseCurrency"] = 2, false
	case kindBool:
		typ, attrType, typeName = "BooleanAttributeMetadata", "Boolean", "BooleanType"
		props["DefaultValue"] = c.def == true
	case kindDateTime:
		typ, attrType, typeName = "DateTimeAttributeMetadata", "DateTime", "DateTimeType"
		format, behavior := "DateAndTime", "UserLocal"
		if c.dateOnly {
			format, behavior = "DateOnly", "DateOnly"
		}
		props["Format"], props["DateTimeBehavior"] = format, map[string]any{"Value": behavior}
		props["MinSupportedValue"], props["MaxSupportedValue"] = "1753-01-01T00:00:00Z", "9999-12-30T23:59:59Z"
	case kindChoice:
		typ, attrType, typeName = "PicklistAttributeMetadata", "Picklist", "PicklistType"
		switch c.name {
		case "statecode":
			typ, attrType, typeName = "StateAttributeMetadata", "State", "StateType"
		case "statuscode":
			typ, attrType, typeName = "StatusAttributeMetadata", "Status", "StatusType"
		}
		props["DefaultFormValue"] = -1
		if f, ok := c.def.(float64); ok {
			props["DefaultFormValue"] = int(f)
		}
	case kindMultiChoice:
		typ, attrType, typeName = "MultiSelectPicklistAttributeMetadata", "Virtual", "MultiSelectPicklistType"
		props["DefaultFormValue"] = -1
	case kindEntityName:
		typ, attrType, typeName = "EntityNameAttributeMetadata", "EntityName", "EntityNameType"
		props["IsEntityReferenceStored"] = false
	case kindGUID:
		typ, attrType, typeName = "UniqueIdentifierAttributeMetadata", "Uniqueidentifier", "UniqueidentifierType"
	case kindLookup:
		typ, attrType, typeName = "LookupAttributeMetadata", "Lookup", "LookupType"
		var targets []string
		for _, n := range t.lookupNavs[c.name] {
			for _, set := range n.bindable() {
				if l := schemaBySet[set].logical; !slices.Contains(targets, l) {
					targets = append(targets, l)
				}
			}
		}
		switch {
		case logical == "ownerid":
			attrType, typeName = "Owner", "OwnerType"
		case len(targets) > 1 && logical != "objectid":
			attrType, typeName = "Customer", "CustomerType"
		}
		props["Targets"], props["Format"] = targets, nil
	}
	props["AttributeType"], props["AttributeTypeName"] = attrType, map[string]any{"Value": typeName}
	if slices.Contains(enumAttributeTypes, typ) {
		navs["OptionSet"] = func() any { return optionSetMeta(t, c) }
		navs["GlobalOptionSet"] = func() any {
			if c.optionSet == "" {
				return nil
			}
			return optionSetMeta(t, c)
		}
	}
	return &metaObject{typ: typ, props: props, navs: navs}
}

// displayNames are the display names of the columns a form usually maps;
// others show their schema name.
var displayNames = map[string]string{
	"subject": "Topic", "firstname": "First Name", "lastname": "Last Name", "middlename": "Middle Name",
	"fullname": "Name", "emailaddress1": "Email", "emailaddress2": "Email Address 2", "emailaddress3": "Email Address 3",
	"telephone1": "Business Phone", "telephone2": "Home Phone", "telephone3": "Other Phone", "mobilephone": "Mobile Phone",
	"companyname": "Company Name", "jobtitle": "Job Title", "websiteurl": "Website", "description": "Description",
	"leadsourcecode": "Lead Source", "leadqualitycode": "Rating", "statecode": "Status", "statuscode": "Status Reason",
	"ownerid": "Owner", "campaignid": "Source Campaign", "parentaccountid": "Existing Account",
	"parentcontactid": "Existing Contact", "customerid": "Customer", "name": "Name", "notetext": "Description",
	"new_budget": "Budget", "new_discountrate": "Discount Rate", "new_productinterest": "Product Interest",
	"new_interests": "Interests", "new_consentdate": "Consent Date", "new_employees": "Employees",
	"new_newsletter": "Newsletter", "new_utmsource": "UTM Source",
}

func displayNameOf(logical string) string {
	if d, ok := displayNames[logical]; ok {
		return d
	}
	return schemaNameOf(logical)
}

// optionSetMeta is the option set of a choice, state, status or Yes/No
// column.
func optionSetMeta(t *tableSchema, c *column) *metaObject {
	name := t.logical + "_" + c.name
	global := c.optionSet != ""
	if global {
		name = c.optionSet
	}
	custom := c.isCustom() || t.isCustom()
	props := map[string]any{
		"MetadataId": nameGUID("optionset", name), "HasChanged": nil, "Name": name, "IsGlobal": global,
		"IsCustomOptionSet": custom, "IsManaged": !custom, "Description": emptyLabel(),
		"DisplayName": label(displayNameOf(c.name), nameGUID("optionset-label", name), !custom), "IntroducedVersion": "1.0",
	}
	option := func(v int, text string) map[string]any {
		return map[string]any{"Value": v, "Label": label(text, nameGUID("option", name, fmt.Sprint(v)), !custom),
			"Description": emptyLabel(), "Color": nil, "IsManaged": !custom, "ExternalValue": nil,
			"ParentValues": []int{}, "MetadataId": nil, "HasChanged": nil}
	}
	if c.kind == kindBool {
		props["OptionSetType"] = "Boolean"
		props["FalseOption"], props["TrueOption"] = option(0, c.yesNo[0]), option(1, c.yesNo[1])
		return &metaObject{typ: "BooleanOptionSetMetadata", props: props}
	}
	props["OptionSetType"], props["ParentOptionSetName"], props["ExternalTypeName"] = "Picklist", nil, nil
	options := []map[string]any{}
	for _, v := range c.choices {
		o := option(v, c.labels[v])
		switch c.name {
		case "statecode":
			o["DefaultStatus"], o["InvariantName"] = t.states[v][0], c.labels[v]
		case "statuscode":
			o["State"], o["TransitionData"] = c.stateOf[v], nil
		}
		options = append(options, o)
	}
	switch c.name {
	case "statecode":
		props["OptionSetType"] = "State"
	case "statuscode":
		props["OptionSetType"] = "Status"
	}
	props["Options"] = options
	return &metaObject{typ: "OptionSetMetadata", props: props}
}

// keysOf lists the table's alternate key (Config.AlternateKeys) as
// EntityKeyMetadata. The emulator builds its index at once, so the key is
// always Active. The caller holds the store lock, as every operation does.
func (s *Server) keysOf(t *tableSchema) []*metaObject {
	cols := slices.Clone(s.store.tables[t.set].keyCols)
	if len(cols) == 0 {
		return []*metaObject{}
	}
	name := "new_" + t.logical + "_" + strings.Join(cols, "_") + "_key"
	return []*metaObject{{typ: "EntityKeyMetadata", props: map[string]any{
		"MetadataId": nameGUID("key", t.logical, strings.Join(cols, ",")), "HasChanged": nil,
		"LogicalName": name, "SchemaName": name, "KeyAttributes": cols, "EntityKeyIndexStatus": "Active",
		"EntityLogicalName": t.logical, "DisplayName": label("Key: "+strings.Join(cols, ", "), nameGUID("key-label", name), false),
		"IsManaged": false, "IsCustomizable": managedProperty(true, "iscustomizable"), "IsSynchronous": true, "IntroducedVersion": "1.0",
	}}}
}

// relationshipMeta describes the one-to-many relationship behind
// navigation property np of table t (the referencing table).
func relationshipMeta(t *tableSchema, np *navProp) *metaObject {
	referenced := schemaBySet[np.target].logical
	referencedAttr := schemaBySet[np.target].pk
	collection := np.relationship
	if np.targets != nil {
		// An Owner lookup points at the owner entity, the base of users
		// and teams.
		referenced, referencedAttr = "owner", "ownerid"
	}
	custom := isCustomName(np.relationship) || t.isCustom()
	cascade := map[string]any{"Assign": "NoCascade", "Delete": "RemoveLink", "Merge": "NoCascade", "Reparent": "NoCascade",
		"Share": "NoCascade", "Unshare": "NoCascade", "RollupView": "NoCascade"}
	return &metaObject{typ: "OneToManyRelationshipMetadata", props: map[string]any{
		"MetadataId": nameGUID("relationship", np.relationship), "HasChanged": nil, "SchemaName": np.relationship,
		"ReferencedEntity": referenced, "ReferencedAttribute": referencedAttr,
		"ReferencingEntity": t.logical, "ReferencingAttribute": attributeLogical(np.lookup),
		"ReferencedEntityNavigationPropertyName": collection, "ReferencingEntityNavigationPropertyName": np.name,
		"RelationshipType": "OneToManyRelationship", "IsCustomRelationship": custom, "IsManaged": !custom,
		"IsHierarchical": false, "IsValidForAdvancedFind": true, "SecurityTypes": "None",
		"CascadeConfiguration": cascade, "IntroducedVersion": "1.0", "RelationshipBehavior": 0,
	}}
}

// manyToOneOf lists the relationships in which t holds the lookup.
func manyToOneOf(t *tableSchema) []*metaObject {
	var out []*metaObject
	for _, name := range t.navOrder {
		out = append(out, relationshipMeta(t, t.navs[name]))
	}
	return out
}

// oneToManyOf lists the relationships in which other tables (or t itself)
// hold a lookup to t.
func oneToManyOf(t *tableSchema) []*metaObject {
	var out []*metaObject
	for _, set := range tableSets() {
		other := schemaBySet[set]
		for _, name := range other.navOrder {
			np := other.navs[name]
			if slices.Contains(np.bindable(), t.set) && np.targets == nil {
				out = append(out, relationshipMeta(other, np))
			}
		}
	}
	return out
}

// ---- serving ---------------------------------------------------------------

// metaQuery is the parsed query options of a definitions request.
type metaQuery struct {
	sel    []string
	filter *odata.Filter
	expand []metaExpand
}

type metaExpand struct {
	name  string
	query metaQuery
}

// parseMetaQuery reads $select, $filter and $expand against a definition
// type; every other option is refused, as Dataverse refuses paging and
// sorting of definitions.
func parseMetaQuery(typ string, q url.Values, navs []string) (metaQuery, *result) {
	var mq metaQuery
	props := metaTypeProps[typ]
	for name := range q {
		if !strings.HasPrefix(name, "$") {
			continue
		}
		if name != "$select" && name != "$filter" && name != "$expand" {
			return mq, badRequest(codeQuery, fmt.Sprintf("The query parameter %s is not supported", name))
		}
	}
	noProp := func(p string) *result {
		return badRequest(codeQuery, fmt.Sprintf("Could not find a property named '%s' on type '%s'.", p, crmNS+typ))
	}
	if v := q.Get("$select"); v != "" {
		mq.sel = odata.ParseSelect(v)
		for _, p := range mq.sel {
			if !slices.Contains(props, p) {
				return mq, noProp(p)
			}
		}
	}
	if v := q.Get("$filter"); v != "" {
		f, err := odata.ParseFilterAliases(v, aliases(q))
		if err != nil {
			return mq, queryErrorResult(err)
		}
		for _, c := range f.Columns() {
			base, _, _ := strings.Cut(c, "/")
			if !slices.Contains(props, base) {
				return mq, noProp(c)
			}
		}
		mq.filter = f
	}
	if v := q.Get("$expand"); v != "" {
		parts, ok := splitTopLevel(v, ',')
		if !ok {
			return mq, badRequest(codeQuery, msgSyntax)
		}
		for _, part := range parts {
			name, optText, hasOpts := strings.Cut(strings.TrimSpace(part), "(")
			if !slices.Contains(navs, name) {
				if slices.Contains(props, name) {
					return mq, badRequest(codeQuery, fmt.Sprintf("Property '%s' on type '%s' is not a navigation property or complex property. Only navigation properties can be expanded.", name, crmNS+typ))
				}
				return mq, noProp(name)
			}
			sub := url.Values{}
			if hasOpts {
				if !strings.HasSuffix(optText, ")") {
					return mq, badRequest(codeQuery, msgSyntax)
				}
				opts, ok := splitTopLevel(optText[:len(optText)-1], ';')
				if !ok {
					return mq, badRequest(codeQuery, msgSyntax)
				}
				for _, o := range opts {
					k, val, ok := strings.Cut(strings.TrimSpace(o), "=")
					if !ok {
						return mq, badRequest(codeQuery, msgSyntax)
					}
					sub.Set(k, val)
				}
			}
			subType := navElementType(name)
			if sub.Has("$expand") {
				return mq, badRequest(codeQuery, "The emulator does not expand definitions more than one level deep.")
			}
			sq, res := parseMetaQuery(subType, sub, nil)
			if res != nil {
				return mq, res
			}
			mq.expand = append(mq.expand, metaExpand{name: name, query: sq})
		}
	}
	return mq, nil
}

// navElementType is the declared type of a definition navigation property.
func navElementType(nav string) string {
	switch nav {
	case "Attributes":
		return "AttributeMetadata"
	case "Keys":
		return "EntityKeyMetadata"
	case "OptionSet", "GlobalOptionSet":
		return "OptionSetMetadata"
	}
	return "OneToManyRelationshipMetadata"
}

// flat is the object as $filter sees it: its primitive properties, and the
// Value of its managed and complex ones as "Name/Value".
func (m *metaObject) flat() map[string]any {
	out := make(map[string]any, len(m.props))
	for k, v := range m.props {
		switch x := v.(type) {
		case map[string]any:
			if val, ok := x["Value"]; ok {
				out[k+"/Value"] = val
			}
		case []string, []any, []int, []map[string]any:
		default:
			out[k] = v
		}
	}
	return out
}

// render shapes a definition for output: its properties (the selected ones
// and MetadataId), its type when it differs from the declared one, and the
// expansions.
func (m *metaObject) render(declared string, mq metaQuery) map[string]any {
	out := make(map[string]any, len(m.props)+2)
	if m.typ != declared {
		out["@odata.type"] = "#" + crmNS + m.typ
	}
	if mq.sel == nil {
		for k, v := range m.props {
			out[k] = v
		}
	} else {
		for _, k := range mq.sel {
			if v, ok := m.props[k]; ok {
				out[k] = v
			}
		}
		out["MetadataId"] = m.props["MetadataId"]
	}
	for _, e := range mq.expand {
		out[e.name] = renderNav(m.navs[e.name], navElementType(e.name), e.query)
	}
	return out
}

// renderNav renders what a navigation property leads to: a list (filtered)
// or one object (null when there is none).
func renderNav(nav func() any, declared string, mq metaQuery) any {
	if nav == nil {
		return nil
	}
	switch v := nav().(type) {
	case []*metaObject:
		list := []map[string]any{}
		for _, m := range v {
			if mq.filter == nil || mq.filter.Match(m.flat()) {
				list = append(list, m.render(declared, mq))
			}
		}
		return list
	case *metaObject:
		if v == nil {
			return nil
		}
		return v.render(declared, mq)
	}
	return nil
}

// entityDefinitions serves EntityDefinitions and the paths below it.
func (op *operation) entityDefinitions(rp resourcePath, q url.Values) *result {
	if op.req.method != http.MethodGet {
		return apiError(http.StatusMethodNotAllowed, codeQuery, "The emulator serves table definitions read-only: it does not create or change tables or columns.")
	}
	root := op.req.root + "$metadata#EntityDefinitions"
	if !rp.hasKey {
		if rp.rest != "" {
			return apiError(http.StatusNotFound, codeQuery, fmt.Sprintf("Resource not found for the segment '%s'.", rp.rest))
		}
		mq, res := parseMetaQuery("EntityMetadata", q, entityNavs)
		if res != nil {
			return res
		}
		list := []map[string]any{}
		for _, set := range tableSets() {
			m := op.s.entityMeta(schemaBySet[set])
			if mq.filter == nil || mq.filter.Match(m.flat()) {
				list = append(list, m.render("EntityMetadata", mq))
			}
		}
		return jsonResult(http.StatusOK, map[string]any{"@odata.context": root + metaContext(mq), "value": list})
	}
	t, res := findEntityDefinition(rp.key)
	if res != nil {
		return res
	}
	entity := op.s.entityMeta(t)
	entityPath := root + "(" + entity.props["MetadataId"].(string) + ")"
	if rp.rest == "" {
		mq, res := parseMetaQuery("EntityMetadata", q, entityNavs)
		if res != nil {
			return res
		}
		body := entity.render("EntityMetadata", mq)
		body["@odata.context"] = root + metaContext(mq) + "/$entity"
		return jsonResult(http.StatusOK, body)
	}
	segs := splitOutside(rp.rest, '/', '\'')
	navName, navKey := segs[0], ""
	if i := strings.IndexByte(navName, '('); i >= 0 && strings.HasSuffix(navName, ")") {
		navName, navKey = navName[:i], navName[i+1:len(navName)-1]
	}
	if !slices.Contains(entityNavs, navName) {
		return apiError(http.StatusNotFound, codeQuery, fmt.Sprintf("Resource not found for the segment '%s'.", segs[0]))
	}
	declared := navElementType(navName)
	items, _ := entity.navs[navName]().([]*metaObject)
	segs = segs[1:]
	context := entityPath + "/" + navName
	// A key picks one definition: (LogicalName='x') or (<MetadataId>).
	var one *metaObject
	if navKey != "" {
		one, res = findMetaByKey(items, navKey, navName)
		if res != nil {
			return res
		}
		context += "(" + one.props["MetadataId"].(string) + ")"
	}
	// A cast narrows the type: Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata.
	if len(segs) > 0 && strings.HasPrefix(segs[0], crmNS) {
		cast := strings.TrimPrefix(segs[0], crmNS)
		if _, known := metaTypeProps[cast]; !known || navName != "Attributes" || !strings.HasSuffix(cast, "AttributeMetadata") {
			return badRequest(codeQuery, fmt.Sprintf("The type '%s' is not compatible with the collection '%s'.", segs[0], navName))
		}
		if one != nil && one.typ != cast {
			return apiError(http.StatusNotFound, codeQuery, fmt.Sprintf("The attribute '%s' is not a %s.", one.props["LogicalName"], cast))
		}
		var narrowed []*metaObject
		for _, m := range items {
			if m.typ == cast {
				narrowed = append(narrowed, m)
			}
		}
		items, declared = narrowed, cast
		context += "/" + segs[0]
		segs = segs[1:]
	}
	navs := []string{}
	if slices.Contains(enumAttributeTypes, declared) {
		navs = []string{"OptionSet", "GlobalOptionSet"}
	}
	// A last segment may read a single definition's option set.
	if len(segs) == 1 && one != nil && slices.Contains(navs, segs[0]) {
		mq, res := parseMetaQuery("OptionSetMetadata", q, nil)
		if res != nil {
			return res
		}
		v := renderNav(one.navs[segs[0]], "OptionSetMetadata", mq)
		if v == nil {
			return newResult(http.StatusNoContent)
		}
		body := v.(map[string]any)
		body["@odata.context"] = context + "/" + segs[0] + metaContext(mq) + "/$entity"
		return jsonResult(http.StatusOK, body)
	}
	if len(segs) > 0 {
		return apiError(http.StatusNotFound, codeQuery, fmt.Sprintf("Resource not found for the segment '%s'.", segs[0]))
	}
	mq, res := parseMetaQuery(declared, q, navs)
	if res != nil {
		return res
	}
	if one != nil {
		body := one.render(declared, mq)
		body["@odata.context"] = context + metaContext(mq) + "/$entity"
		return jsonResult(http.StatusOK, body)
	}
	list := []map[string]any{}
	for _, m := range items {
		if mq.filter == nil || mq.filter.Match(m.flat()) {
			list = append(list, m.render(declared, mq))
		}
	}
	return jsonResult(http.StatusOK, map[string]any{"@odata.context": context + metaContext(mq), "value": list})
}

// metaContext is the select list of a definitions context URL.
func metaContext(mq metaQuery) string {
	parts := slices.Clone(mq.sel)
	for _, e := range mq.expand {
		parts = append(parts, e.name+"("+strings.Join(e.query.sel, ",")+")")
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ",") + ")"
}

// findEntityDefinition resolves (LogicalName='lead'), (<MetadataId>) or
// (MetadataId=<id>) to a table, or Dataverse's 404 for a table it lacks.
func findEntityDefinition(key string) (*tableSchema, *result) {
	name, id, res := metaKey(key, "LogicalName")
	if res != nil {
		return nil, res
	}
	for _, t := range schemaBySet {
		if name != "" && t.logical == name || id != "" && nameGUID("entity", t.logical) == id {
			return t, nil
		}
	}
	if name != "" {
		return nil, apiError(http.StatusNotFound, codeNotFound, fmt.Sprintf("Could not find an entity with name %s and id 00000000-0000-0000-0000-000000000000.", name))
	}
	return nil, apiError(http.StatusNotFound, codeNotFound, fmt.Sprintf("Could not find an entity with name  and id %s.", id))
}

// findMetaByKey picks a definition from a collection by its LogicalName
// (SchemaName for relationships) or its MetadataId.
func findMetaByKey(items []*metaObject, key, nav string) (*metaObject, *result) {
	prop := "LogicalName"
	if strings.HasSuffix(nav, "Relationships") {
		prop = "SchemaName"
	}
	name, id, res := metaKey(key, prop)
	if res != nil {
		return nil, res
	}
	for _, m := range items {
		if name != "" && m.props[prop] == name || id != "" && m.props["MetadataId"] == id {
			return m, nil
		}
	}
	what := map[string]string{"Attributes": "an attribute", "Keys": "an entity key"}[nav]
	if what == "" {
		what = "a relationship"
	}
	if name == "" {
		name = id
	}
	return nil, apiError(http.StatusNotFound, codeNotFound, fmt.Sprintf("Could not find %s with specified name: %s.", what, name))
}

// metaKey reads a definition key: a bare MetadataId, MetadataId=<id>, or
// prop='name'.
func metaKey(key, prop string) (name, id string, res *result) {
	syntax := badRequest(codeQuery, msgSyntax)
	if odata.IsGUID(key) {
		return "", strings.ToLower(key), nil
	}
	k, lit, ok := strings.Cut(key, "=")
	if !ok {
		return "", "", syntax
	}
	v, err := odata.ParseKeyValue(strings.TrimSpace(lit))
	s, isStr := v.(string)
	switch strings.TrimSpace(k) {
	case prop:
		if err != nil || !isStr {
			return "", "", syntax
		}
		return s, "", nil
	case "MetadataId":
		if err != nil || !isStr || !odata.IsGUID(s) {
			return "", "", syntax
		}
		return "", s, nil
	}
	return "", "", badRequest(codeQuery, msgSyntax)
}
