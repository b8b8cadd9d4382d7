package emulator

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The CSDL service metadata document at $metadata ("Web API service
// documents"): for every table an EntityType with its Key, Properties and
// NavigationProperties, an EntitySet with NavigationPropertyBindings in the
// EntityContainer, and the actions and functions the emulator serves
// (WhoAmI and the bulk operation messages). It is generated from schema.go
// like the table definitions, so a metadata-driven client sees exactly the
// columns the emulator validates. The definition types themselves
// (EntityMetadata, AttributeMetadata, …) are not described here.

type edmx struct {
	XMLName      xml.Name `xml:"edmx:Edmx"`
	Version      string   `xml:"Version,attr"`
	NS           string   `xml:"xmlns:edmx,attr"`
	DataServices struct {
		Schema edmSchema `xml:"Schema"`
	} `xml:"edmx:DataServices"`
}

type edmSchema struct {
	Namespace    string           `xml:"Namespace,attr"`
	Alias        string           `xml:"Alias,attr"`
	NS           string           `xml:"xmlns,attr"`
	EntityTypes  []edmEntityType  `xml:"EntityType"`
	ComplexTypes []edmComplexType `xml:"ComplexType"`
	Functions    []edmOperation   `xml:"Function"`
	Actions      []edmOperation   `xml:"Action"`
	Container    edmContainer     `xml:"EntityContainer"`
}

type edmEntityType struct {
	Name     string       `xml:"Name,attr"`
	BaseType string       `xml:"BaseType,attr,omitempty"`
	Abstract string       `xml:"Abstract,attr,omitempty"`
	Key      *edmKey      `xml:"Key"`
	Props    []edmProp    `xml:"Property"`
	Navs     []edmNavProp `xml:"NavigationProperty"`
}

type edmKey struct {
	Refs []struct {
		Name string `xml:"Name,attr"`
	} `xml:"PropertyRef"`
}

type edmProp struct {
	Name     string `xml:"Name,attr"`
	Type     string `xml:"Type,attr"`
	Nullable string `xml:"Nullable,attr,omitempty"`
	Unicode  string `xml:"Unicode,attr,omitempty"`
	MaxLen   string `xml:"MaxLength,attr,omitempty"`
	Scale    string `xml:"Scale,attr,omitempty"`
}

type edmNavProp struct {
	Name        string          `xml:"Name,attr"`
	Type        string          `xml:"Type,attr"`
	Nullable    string          `xml:"Nullable,attr,omitempty"`
	Partner     string          `xml:"Partner,attr,omitempty"`
	Constraints []edmConstraint `xml:"ReferentialConstraint"`
}

type edmConstraint struct {
	Property   string `xml:"Property,attr"`
	Referenced string `xml:"ReferencedProperty,attr"`
}

type edmComplexType struct {
	Name  string    `xml:"Name,attr"`
	Props []edmProp `xml:"Property"`
}

type edmOperation struct {
	Name       string         `xml:"Name,attr"`
	IsBound    string         `xml:"IsBound,attr"`
	Params     []edmParameter `xml:"Parameter"`
	ReturnType *edmParameter  `xml:"ReturnType"`
}

type edmParameter struct {
	Name     string `xml:"Name,attr,omitempty"`
	Type     string `xml:"Type,attr"`
	Nullable string `xml:"Nullable,attr"`
}

type edmContainer struct {
	Name      string           `xml:"Name,attr"`
	Sets      []edmEntitySet   `xml:"EntitySet"`
	Functions []edmFunctionImp `xml:"FunctionImport"`
}

type edmEntitySet struct {
	Name     string       `xml:"Name,attr"`
	Type     string       `xml:"EntityType,attr"`
	Bindings []edmBinding `xml:"NavigationPropertyBinding"`
}

type edmBinding struct {
	Path   string `xml:"Path,attr"`
	Target string `xml:"Target,attr"`
}

type edmFunctionImp struct {
	Name     string `xml:"Name,attr"`
	Function string `xml:"Function,attr"`
}

var (
	csdlOnce sync.Once
	csdlDoc  []byte
)

func (op *operation) csdl() *result {
	csdlOnce.Do(func() { csdlDoc = buildCSDL() })
	r := newResult(http.StatusOK)
	r.header.Set("Content-Type", "application/xml")
	r.body = csdlDoc
	return r
}

func buildCSDL() []byte {
	var doc edmx
	doc.Version, doc.NS = "4.0", "http://docs.oasis-open.org/odata/ns/edmx"
	sc := &doc.DataServices.Schema
	sc.Namespace, sc.Alias, sc.NS = "Microsoft.Dynamics.CRM", "mscrm", "http://docs.oasis-open.org/odata/ns/edm"
	sc.Container.Name = "System"
	sc.EntityTypes = append(sc.EntityTypes, edmEntityType{Name: "crmbaseentity", Abstract: "true"})
	for _, set := range tableSets() {
		t := schemaBySet[set]
		et := edmEntityType{Name: t.logical, BaseType: "mscrm.crmbaseentity", Key: &edmKey{}}
		et.Key.Refs = append(et.Key.Refs, struct {
			Name string `xml:"Name,attr"`
		}{t.pk})
		for _, name := range t.order {
			c := t.cols[name]
			p := edmProp{Name: name, Type: edmType[c.kind]}
			switch c.kind {
			case kindString, kindMultiChoice, kindEntityName:
				p.Unicode = "false"
				if c.maxLen > 0 {
					p.MaxLen = itoa(c.maxLen)
				}
			case kindDecimal, kindMoney:
				p.Scale = itoa(c.precision)
			}
			et.Props = append(et.Props, p)
		}
		es := edmEntitySet{Name: t.set, Type: crmNS + t.logical}
		for _, name := range t.navOrder {
			np := t.navs[name]
			target := schemaBySet[np.target]
			nav := edmNavProp{Name: name, Type: "mscrm." + target.logical, Partner: np.relationship,
				Constraints: []edmConstraint{{Property: np.lookup, Referenced: target.pk}}}
			if np.targets != nil {
				nav.Type, nav.Partner = "mscrm.principal", ""
			}
			if np.system {
				nav.Partner = ""
			}
			et.Navs = append(et.Navs, nav)
			es.Bindings = append(es.Bindings, edmBinding{Path: name, Target: np.target})
		}
		for _, name := range sortedStrings(mapKeys(t.many)) {
			m := t.many[name]
			et.Navs = append(et.Navs, edmNavProp{Name: name, Type: "Collection(mscrm." + schemaBySet[m.set].logical + ")", Partner: m.nav.name})
			es.Bindings = append(es.Bindings, edmBinding{Path: name, Target: m.set})
		}
		sc.EntityTypes = append(sc.EntityTypes, et)
		sc.Container.Sets = append(sc.Container.Sets, es)
	}
	// Owner lookups point at principal, the base of users and teams.
	sc.EntityTypes = append(sc.EntityTypes, edmEntityType{Name: "principal", BaseType: "mscrm.crmbaseentity", Abstract: "true"})
	sc.ComplexTypes = append(sc.ComplexTypes,
		edmComplexType{Name: "WhoAmIResponse", Props: []edmProp{
			{Name: "BusinessUnitId", Type: "Edm.Guid", Nullable: "false"}, {Name: "UserId", Type: "Edm.Guid", Nullable: "false"},
			{Name: "OrganizationId", Type: "Edm.Guid", Nullable: "false"}}},
		edmComplexType{Name: "CreateMultipleResponse", Props: []edmProp{{Name: "Ids", Type: "Collection(Edm.Guid)", Nullable: "false"}}},
	)
	sc.Functions = append(sc.Functions, edmOperation{Name: "WhoAmI", IsBound: "false",
		ReturnType: &edmParameter{Type: "mscrm.WhoAmIResponse", Nullable: "false"}})
	sc.Container.Functions = append(sc.Container.Functions, edmFunctionImp{Name: "WhoAmI", Function: "Microsoft.Dynamics.CRM.WhoAmI"})
	for _, m := range bulkMessageNames {
		a := edmOperation{Name: m, IsBound: "true", Params: []edmParameter{
			{Name: "entityset", Type: "Collection(mscrm.crmbaseentity)", Nullable: "false"},
			{Name: "Targets", Type: "Collection(mscrm.crmbaseentity)", Nullable: "false"},
		}}
		if m == "CreateMultiple" {
			a.ReturnType = &edmParameter{Type: "mscrm.CreateMultipleResponse", Nullable: "false"}
		}
		sc.Actions = append(sc.Actions, a)
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // the document is built from fixed types
	}
	return append([]byte(strings.TrimSpace(xml.Header)+"\n"), b...)
}

func sortedStrings(s []string) []string { slices.Sort(s); return s }

func itoa(n int) string { return strconv.Itoa(n) }

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
