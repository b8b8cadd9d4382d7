package emulator

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// get reads a definitions path (query already escaped or plain) and
// decodes the JSON object.
func (h *harness) get(path string) map[string]any {
	h.t.Helper()
	resp, body := h.api(http.MethodGet, path, nil)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: got %d, want 200; body %s", path, resp.StatusCode, body)
	}
	return object(h.t, body)
}

func values(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	list, ok := m["value"].([]any)
	if !ok {
		t.Fatalf("no value array in %v", m)
	}
	out := make([]map[string]any, len(list))
	for i, v := range list {
		out[i] = v.(map[string]any)
	}
	return out
}

func byName(list []map[string]any, prop string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, m := range list {
		out[fmt.Sprint(m[prop])] = m
	}
	return out
}

// TestEntityDefinitions: the queries a configuration checker makes before
// it writes any row.
func TestEntityDefinitions(t *testing.T) {
	h := start(t, nil)

	t.Run("a table by logical name and by MetadataId", func(t *testing.T) {
		h := h.sub(t)
		lead := h.get("EntityDefinitions(LogicalName='lead')?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute")
		want := map[string]any{"LogicalName": "lead", "EntitySetName": "leads", "PrimaryIdAttribute": "leadid", "PrimaryNameAttribute": "fullname"}
		for k, v := range want {
			if lead[k] != v {
				t.Errorf("%s: got %v, want %v", k, lead[k], v)
			}
		}
		if _, extra := lead["OwnershipType"]; extra || lead["MetadataId"] == nil {
			t.Errorf("$select: got %v, want the selected properties and MetadataId", lead)
		}
		if ctx := lead["@odata.context"].(string); !strings.HasSuffix(ctx, "$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute)/$entity") {
			t.Errorf("context: got %s", ctx)
		}
		again := h.get("EntityDefinitions(" + lead["MetadataId"].(string) + ")?$select=LogicalName")
		if again["LogicalName"] != "lead" {
			t.Errorf("by MetadataId: got %v", again)
		}
		list := values(t, h.get("EntityDefinitions?$select=LogicalName,EntitySetName,IsCustomEntity&$filter="+q("LogicalName eq 'new_enquiry'")))
		if len(list) != 1 || list[0]["EntitySetName"] != "new_enquiries" || list[0]["IsCustomEntity"] != true {
			t.Errorf("filtered list: got %v", list)
		}
		all := values(t, h.get("EntityDefinitions?$select=LogicalName"))
		if len(all) != len(schemaBySet) {
			t.Errorf("all tables: got %d, want %d", len(all), len(schemaBySet))
		}
	})

	t.Run("a lead's columns: type, length, validity", func(t *testing.T) {
		h := h.sub(t)
		attrs := byName(values(t, h.get("EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName,AttributeType,AttributeTypeName,IsValidForCreate,IsValidForUpdate,IsValidForRead,RequiredLevel,IsCustomAttribute,SchemaName")), "LogicalName")
		check := func(name, attrType, odataType string, create, update, custom bool, required string) {
			t.Helper()
			a := attrs[name]
			if a == nil {
				t.Errorf("%s: missing", name)
				return
			}
			got := fmt.Sprint(a["AttributeType"], a["@odata.type"], a["IsValidForCreate"], a["IsValidForUpdate"], a["IsCustomAttribute"], a["RequiredLevel"].(map[string]any)["Value"])
			want := fmt.Sprint(attrType, "#Microsoft.Dynamics.CRM."+odataType, create, update, custom, required)
			if got != want {
				t.Errorf("%s: got %s, want %s", name, got, want)
			}
		}
		check("subject", "String", "StringAttributeMetadata", true, true, false, "ApplicationRequired")
		check("lastname", "String", "StringAttributeMetadata", true, true, false, "ApplicationRequired")
		check("description", "Memo", "MemoAttributeMetadata", true, true, false, "None")
		check("fullname", "String", "StringAttributeMetadata", false, false, false, "None")
		check("leadid", "Uniqueidentifier", "UniqueIdentifierAttributeMetadata", true, false, false, "SystemRequired")
		check("leadsourcecode", "Picklist", "PicklistAttributeMetadata", true, true, false, "None")
		check("statecode", "State", "StateAttributeMetadata", true, true, false, "SystemRequired")
		check("donotemail", "Boolean", "BooleanAttributeMetadata", true, true, false, "None")
		check("ownerid", "Owner", "LookupAttributeMetadata", true, true, false, "SystemRequired")
		check("customerid", "Customer", "LookupAttributeMetadata", true, true, false, "None")
		check("campaignid", "Lookup", "LookupAttributeMetadata", true, true, false, "None")
		check("createdby", "Lookup", "LookupAttributeMetadata", false, false, false, "None")
		check("createdon", "DateTime", "DateTimeAttributeMetadata", false, false, false, "None")
		check("new_budget", "Money", "MoneyAttributeMetadata", true, true, true, "None")
		check("new_discountrate", "Decimal", "DecimalAttributeMetadata", true, true, true, "None")
		check("new_interests", "Virtual", "MultiSelectPicklistAttributeMetadata", true, true, true, "None")
		check("new_employees", "Integer", "IntegerAttributeMetadata", true, true, true, "None")
		if got := attrs["new_interests"]["AttributeTypeName"].(map[string]any)["Value"]; got != "MultiSelectPicklistType" {
			t.Errorf("new_interests AttributeTypeName: got %v", got)
		}
		if _, ok := attrs["_parentcontactid_value"]; ok {
			t.Error("a lookup is listed by its _x_value property; want its attribute name")
		}

		// MaxLength belongs to the string types: the base collection does
		// not have it, the cast does.
		resp, body := h.api(http.MethodGet, "EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName,MaxLength", nil)
		if msg := wantError(t, resp, body, http.StatusBadRequest, codeQuery); msg != "Could not find a property named 'MaxLength' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'." {
			t.Errorf("MaxLength without a cast: %q", msg)
		}
		strs := byName(values(t, h.get("EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength,FormatName")), "LogicalName")
		if strs["mobilephone"]["MaxLength"] != float64(20) || strs["emailaddress1"]["MaxLength"] != float64(100) ||
			strs["emailaddress1"]["FormatName"].(map[string]any)["Value"] != "Email" || strs["description"] != nil {
			t.Errorf("string columns: got mobilephone %v, emailaddress1 %v, description %v", strs["mobilephone"], strs["emailaddress1"], strs["description"])
		}
		one := h.get("EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='description')/Microsoft.Dynamics.CRM.MemoAttributeMetadata?$select=MaxLength")
		if one["MaxLength"] != float64(2000) {
			t.Errorf("description MaxLength: got %v", one["MaxLength"])
		}
		required := values(t, h.get("EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName&$filter="+
			q("RequiredLevel/Value eq Microsoft.Dynamics.CRM.AttributeRequiredLevel'ApplicationRequired'")))
		var names []string
		for _, a := range required {
			names = append(names, a["LogicalName"].(string))
		}
		if slices.Sort(names); !slices.Equal(names, []string{"lastname", "subject"}) {
			t.Errorf("ApplicationRequired columns: got %v", names)
		}
		ent := h.get("EntityDefinitions(LogicalName='lead')?$select=LogicalName&$expand=" +
			q("Attributes($select=LogicalName;$filter=AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist')"))
		if got := len(ent["Attributes"].([]any)); got != 5 {
			t.Errorf("expanded Picklist attributes: got %d, want 5 (leadsourcecode, leadqualitycode, preferredcontactmethodcode, industrycode, new_productinterest)", got)
		}
	})

	t.Run("a choice's options", func(t *testing.T) {
		h := h.sub(t)
		picklists := byName(values(t, h.get("EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet")), "LogicalName")
		options := func(a map[string]any) map[string]string {
			out := map[string]string{}
			for _, o := range a["OptionSet"].(map[string]any)["Options"].([]any) {
				o := o.(map[string]any)
				l := o["Label"].(map[string]any)
				user := l["UserLocalizedLabel"].(map[string]any)
				local := l["LocalizedLabels"].([]any)[0].(map[string]any)
				if user["LanguageCode"] != float64(1033) || local["Label"] != user["Label"] {
					t.Errorf("label %v: want en-US in both LocalizedLabels and UserLocalizedLabel", l)
				}
				out[fmt.Sprint(int(o["Value"].(float64)))] = user["Label"].(string)
			}
			return out
		}
		if got := options(picklists["leadsourcecode"]); got["8"] != "Web" || len(got) != 10 {
			t.Errorf("leadsourcecode options: got %v", got)
		}
		if got := options(picklists["new_productinterest"]); got["100000001"] != "Hardware" || len(got) != 3 {
			t.Errorf("new_productinterest options: got %v", got)
		}
		if picklists["leadsourcecode"]["GlobalOptionSet"] != nil {
			t.Errorf("a local option set's GlobalOptionSet: got %v, want null", picklists["leadsourcecode"]["GlobalOptionSet"])
		}
		multi := values(t, h.get("EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet"))
		if len(multi) != 1 || multi[0]["GlobalOptionSet"].(map[string]any)["Name"] != "new_interest" || options(multi[0])["100000003"] != "Product updates" {
			t.Errorf("new_interests: got %v", multi)
		}
		status := h.get("EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='statuscode')/Microsoft.Dynamics.CRM.StatusAttributeMetadata?$select=LogicalName&$expand=OptionSet")
		for _, o := range status["OptionSet"].(map[string]any)["Options"].([]any) {
			if o := o.(map[string]any); o["Value"] == float64(4) && o["State"] != float64(2) {
				t.Errorf("status 4 (Lost): state %v, want 2", o["State"])
			}
		}
		yesNo := h.get("EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='donotemail')/Microsoft.Dynamics.CRM.BooleanAttributeMetadata/OptionSet")
		if yesNo["TrueOption"].(map[string]any)["Label"].(map[string]any)["UserLocalizedLabel"].(map[string]any)["Label"] != "Do Not Allow" {
			t.Errorf("donotemail TrueOption: got %v", yesNo["TrueOption"])
		}
		resp, body := h.api(http.MethodGet, "EntityDefinitions(LogicalName='lead')/Attributes?$expand=OptionSet", nil)
		wantError(t, resp, body, http.StatusBadRequest, codeQuery)
	})

	t.Run("keys follow the configured alternate keys", func(t *testing.T) {
		h := h.sub(t)
		if keys := values(t, h.get("EntityDefinitions(LogicalName='lead')/Keys")); len(keys) != 0 {
			t.Fatalf("keys of a stock lead: got %v, want none", keys)
		}
		if err := h.srv.UpdateConfig([]byte(`{"alternate_keys":{"leads":["emailaddress1"]}}`)); err != nil {
			t.Fatal(err)
		}
		defer h.srv.UpdateConfig([]byte(`{"alternate_keys":{"leads":[]}}`))
		keys := values(t, h.get("EntityDefinitions(LogicalName='lead')/Keys?$select=LogicalName,KeyAttributes,EntityKeyIndexStatus"))
		if len(keys) != 1 || fmt.Sprint(keys[0]["KeyAttributes"]) != "[emailaddress1]" || keys[0]["EntityKeyIndexStatus"] != "Active" {
			t.Errorf("keys: got %v", keys)
		}
	})

	t.Run("relationships", func(t *testing.T) {
		h := h.sub(t)
		m2o := values(t, h.get("EntityDefinitions(LogicalName='lead')/ManyToOneRelationships?$select=SchemaName,ReferencedEntity,ReferencingAttribute,ReferencingEntityNavigationPropertyName&$filter="+q("ReferencingAttribute eq 'parentcontactid'")))
		if len(m2o) != 1 || m2o[0]["ReferencedEntity"] != "contact" || m2o[0]["ReferencingEntityNavigationPropertyName"] != "parentcontactid" || m2o[0]["SchemaName"] != "lead_parent_contact" {
			t.Errorf("lead's parentcontactid relationship: got %v", m2o)
		}
		customer := values(t, h.get("EntityDefinitions(LogicalName='lead')/ManyToOneRelationships?$select=ReferencedEntity&$filter="+q("ReferencingAttribute eq 'customerid'")))
		if len(customer) != 2 {
			t.Errorf("customerid relationships: got %v, want account and contact", customer)
		}
		o2m := byName(values(t, h.get("EntityDefinitions(LogicalName='lead')/OneToManyRelationships?$select=SchemaName,ReferencingEntity")), "SchemaName")
		if o2m["Lead_Annotation"]["ReferencingEntity"] != "annotation" || o2m["contact_originating_lead"] == nil {
			t.Errorf("lead's one-to-many relationships: got %v", o2m)
		}
	})

	errs := []struct {
		name, path string
		status     int
		code, msg  string
	}{
		{"unknown table", "EntityDefinitions(LogicalName='nosuch')", 404, codeNotFound, "Could not find an entity with name nosuch and id 00000000-0000-0000-0000-000000000000."},
		{"unknown column", "EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='nosuch')", 404, codeNotFound, "Could not find an attribute with specified name: nosuch."},
		{"unknown property", "EntityDefinitions?$select=Nosuch", 400, codeQuery, "Could not find a property named 'Nosuch' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."},
		{"paging", "EntityDefinitions?$top=1", 400, codeQuery, "The query parameter $top is not supported"},
		{"a cast that is not an attribute type", "EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.lead", 400, codeQuery,
			"The type 'Microsoft.Dynamics.CRM.lead' is not compatible with the collection 'Attributes'."},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			resp, body := h.api(http.MethodGet, tt.path, nil)
			if msg := wantError(t, resp, body, tt.status, tt.code); msg != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", msg, tt.msg)
			}
		})
	}
}

// TestDefinitionsAgreeWithValidation: for every table, every text column
// takes exactly its advertised MaxLength, every choice exactly its
// advertised options, and a column valid for create is accepted on create.
// The definitions and the checks come from one schema; this keeps it so.
func TestDefinitionsAgreeWithValidation(t *testing.T) {
	h := start(t, nil)
	for _, set := range tableSets() {
		tbl := schemaBySet[set]
		if tbl.apiReadOnly {
			continue
		}
		t.Run(tbl.logical, func(t *testing.T) {
			h := h.sub(t)
			base := func() map[string]any {
				row := map[string]any{}
				for _, c := range []string{"lastname", "name", "new_name"} {
					if tbl.cols[c] != nil {
						row[c] = "x"
					}
				}
				return row
			}
			strs := values(t, h.get("EntityDefinitions(LogicalName='"+tbl.logical+"')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength,IsValidForCreate"))
			memos := values(t, h.get("EntityDefinitions(LogicalName='"+tbl.logical+"')/Attributes/Microsoft.Dynamics.CRM.MemoAttributeMetadata?$select=LogicalName,MaxLength,IsValidForCreate"))
			for _, a := range append(strs, memos...) {
				if a["IsValidForCreate"] != true {
					continue
				}
				name, max := a["LogicalName"].(string), int(a["MaxLength"].(float64))
				row := base()
				row[name] = strings.Repeat("a", max)
				if resp, body := h.api(http.MethodPost, set, row); resp.StatusCode != http.StatusNoContent {
					t.Errorf("%s of MaxLength %d: got %d %s", name, max, resp.StatusCode, body)
				}
				row[name] = strings.Repeat("a", max+1)
				if resp, body := h.api(http.MethodPost, set, row); resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%s one over MaxLength %d: got %d %s", name, max, resp.StatusCode, body)
				}
			}
			picks := values(t, h.get("EntityDefinitions(LogicalName='"+tbl.logical+"')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet"))
			for _, a := range picks {
				name := a["LogicalName"].(string)
				for _, o := range a["OptionSet"].(map[string]any)["Options"].([]any) {
					row := base()
					row[name] = o.(map[string]any)["Value"]
					if resp, body := h.api(http.MethodPost, set, row); resp.StatusCode != http.StatusNoContent {
						t.Errorf("%s = %v: got %d %s", name, row[name], resp.StatusCode, body)
					}
				}
				row := base()
				row[name] = 99
				if resp, body := h.api(http.MethodPost, set, row); resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%s = 99, no option: got %d %s", name, resp.StatusCode, body)
				}
			}
		})
	}
}

// TestCSDL: $metadata describes every table as the definitions do, well
// enough for a metadata-driven client to build its requests.
func TestCSDL(t *testing.T) {
	h := start(t, nil)
	resp, body := h.api(http.MethodGet, "$metadata", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
		t.Fatalf("GET $metadata: got %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Schema struct {
			Namespace   string `xml:"Namespace,attr"`
			EntityTypes []struct {
				Name string `xml:"Name,attr"`
				Key  struct {
					Refs []struct {
						Name string `xml:"Name,attr"`
					} `xml:"PropertyRef"`
				} `xml:"Key"`
				Props []struct {
					Name      string `xml:"Name,attr"`
					Type      string `xml:"Type,attr"`
					MaxLength string `xml:"MaxLength,attr"`
				} `xml:"Property"`
				Navs []struct {
					Name string `xml:"Name,attr"`
					Type string `xml:"Type,attr"`
				} `xml:"NavigationProperty"`
			} `xml:"EntityType"`
			Actions []struct {
				Name string `xml:"Name,attr"`
			} `xml:"Action"`
			Container struct {
				Sets []struct {
					Name string `xml:"Name,attr"`
					Type string `xml:"EntityType,attr"`
				} `xml:"EntitySet"`
			} `xml:"EntityContainer"`
		} `xml:"DataServices>Schema"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("$metadata is not XML: %v\n%.500s", err, body)
	}
	if doc.Schema.Namespace != "Microsoft.Dynamics.CRM" {
		t.Errorf("namespace: got %q", doc.Schema.Namespace)
	}
	sets := map[string]string{}
	for _, s := range doc.Schema.Container.Sets {
		sets[s.Name] = s.Type
	}
	if sets["leads"] != "Microsoft.Dynamics.CRM.lead" || sets["new_enquiries"] != "Microsoft.Dynamics.CRM.new_enquiry" {
		t.Errorf("entity sets: got %v", sets)
	}
	var actions []string
	for _, a := range doc.Schema.Actions {
		actions = append(actions, a.Name)
	}
	if !slices.Equal(actions, bulkMessageNames) {
		t.Errorf("actions: got %v, want %v", actions, bulkMessageNames)
	}
	for _, et := range doc.Schema.EntityTypes {
		if et.Name != "lead" {
			continue
		}
		if len(et.Key.Refs) != 1 || et.Key.Refs[0].Name != "leadid" {
			t.Errorf("lead key: got %v", et.Key.Refs)
		}
		var names []string
		for _, p := range et.Props {
			names = append(names, p.Name)
			if p.Name == "emailaddress1" && (p.Type != "Edm.String" || p.MaxLength != "100") {
				t.Errorf("emailaddress1: got %s %s", p.Type, p.MaxLength)
			}
			if p.Name == "new_budget" && p.Type != "Edm.Decimal" {
				t.Errorf("new_budget: got %s", p.Type)
			}
		}
		// Every property it lists is one the Web API can select.
		if resp, body := h.api(http.MethodGet, "leads?$select="+strings.Join(names, ","), nil); resp.StatusCode != http.StatusOK {
			t.Errorf("select every CSDL property: got %d %s", resp.StatusCode, body)
		}
		navs := map[string]string{}
		for _, n := range et.Navs {
			navs[n.Name] = n.Type
		}
		if navs["parentcontactid"] != "mscrm.contact" || navs["ownerid"] != "mscrm.principal" || navs["Lead_Annotation"] != "Collection(mscrm.annotation)" {
			t.Errorf("lead navigation properties: got %v", navs)
		}
		return
	}
	t.Error("no EntityType lead")
}

// TestDefinitionsShowCustomizedLengths: a text column an org's admins
// shortened (max_lengths) has that MaxLength in its definition, as a real
// org's definitions show, and the definition still agrees with what writes
// are refused.
func TestDefinitionsShowCustomizedLengths(t *testing.T) {
	h := start(t, &Config{MaxLengths: map[string]map[string]int{"leads": {"jobtitle": 20}}})
	lengths := func() map[string]map[string]any {
		return byName(values(t, h.get("EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength")), "LogicalName")
	}
	got := lengths()
	if got["jobtitle"]["MaxLength"] != float64(20) || got["companyname"]["MaxLength"] != float64(100) {
		t.Errorf("MaxLength: jobtitle %v, companyname %v; want 20 (customized) and 100 (standard)", got["jobtitle"]["MaxLength"], got["companyname"]["MaxLength"])
	}
	one := h.get("EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='jobtitle')/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=MaxLength")
	if one["MaxLength"] != float64(20) {
		t.Errorf("jobtitle alone: MaxLength %v, want 20", one["MaxLength"])
	}
	if resp, body := h.api(http.MethodPost, "leads", map[string]any{"lastname": "x", "jobtitle": strings.Repeat("a", 21)}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("jobtitle one over its definition's 20: got %d %s", resp.StatusCode, body)
	}
	if err := h.srv.UpdateConfig([]byte(`{"max_lengths":{"leads":{}}}`)); err != nil {
		t.Fatal(err)
	}
	if got := lengths(); got["jobtitle"]["MaxLength"] != float64(100) {
		t.Errorf("after the customization is removed: jobtitle MaxLength %v, want 100", got["jobtitle"]["MaxLength"])
	}
}
