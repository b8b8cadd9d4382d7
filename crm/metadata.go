package crm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// Table definitions ("Query table definitions using the Web API"): what a
// table's columns are, whether they take writes, how long their text may
// be, which values their choices have and which tables their lookups point
// at — read before any row is written, to check a configuration against
// the org it will write to.

// ErrTableNotFound is returned (wrapped) by TableDefinition when the org has
// no table of that logical name.
var ErrTableNotFound = errors.New("crm: no such table")

// Attribute is one column of a table definition.
type Attribute struct {
	LogicalName string
	// Type is the AttributeType: String, Memo, Picklist, Virtual (a
	// multi-select choice), Boolean, Integer, Money, DateTime, Lookup,
	// Customer, Owner, …
	Type string
	// MetadataType is the definition's type without its namespace:
	// StringAttributeMetadata, MultiSelectPicklistAttributeMetadata, …
	MetadataType   string
	ValidForCreate bool
	ValidForUpdate bool
	// AttributeOf names the column this one belongs to (a lookup's name
	// column); "" for a column of its own.
	AttributeOf string
	MaxLength   int      // String and Memo columns; 0 for others
	Options     []int    // the choice values of Picklist and multi-select columns, ascending
	Targets     []string // the tables a lookup may point at
}

// MultiSelect reports whether the column is a multi-select choice.
func (a Attribute) MultiSelect() bool {
	return a.MetadataType == "MultiSelectPicklistAttributeMetadata"
}

// TableDefinition is what leadbridge reads of a table's definition.
type TableDefinition struct {
	LogicalName   string
	EntitySetName string
	Attributes    map[string]Attribute // by logical name
	Keys          []Key                // the alternate keys
}

// Key is an alternate key of a table.
type Key struct {
	Columns []string
	// Status is the EntityKeyIndexStatus: Active once Dataverse has built
	// the key's index; Pending, InProgress or Failed before (or instead),
	// when the key cannot be used yet.
	Status string
}

// logicalName is the shape of a table's or column's logical name; anything
// else is refused before it is put in a URL.
var logicalName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,127}$`)

// TableDefinition reads the definition of table logical ("lead") from the
// org: its columns with their types, writability, lengths, choice values and
// lookup targets, and its alternate keys. It makes seven GET requests, each
// paced like every other call. A table the org lacks is ErrTableNotFound.
func (c *Client) TableDefinition(ctx context.Context, logical string) (*TableDefinition, error) {
	wrap := func(err error) error { return fmt.Errorf("crm: table definition %s: %w", logical, err) }
	if !logicalName.MatchString(logical) {
		return nil, wrap(fmt.Errorf("%q is not a logical name", logical))
	}
	base := "EntityDefinitions(LogicalName='" + logical + "')"
	get := func(path, query string, into any) error {
		resp, err := c.do(ctx, request{method: http.MethodGet, path: path, query: metaQuery(query)})
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				return ErrTableNotFound
			}
			return err
		}
		if err := json.Unmarshal(resp.body, into); err != nil {
			return fmt.Errorf("decode %s: %w", table(path), err)
		}
		return nil
	}

	var entity struct {
		LogicalName   string
		EntitySetName string
	}
	if err := get(base, "$select=LogicalName,EntitySetName", &entity); err != nil {
		return nil, wrap(err)
	}
	def := &TableDefinition{LogicalName: entity.LogicalName, EntitySetName: entity.EntitySetName, Attributes: map[string]Attribute{}}

	var attrs struct {
		Value []struct {
			Type             string `json:"@odata.type"`
			LogicalName      string
			AttributeType    string
			IsValidForCreate bool
			IsValidForUpdate bool
			AttributeOf      string
		} `json:"value"`
	}
	if err := get(base+"/Attributes", "$select=LogicalName,AttributeType,IsValidForCreate,IsValidForUpdate,AttributeOf", &attrs); err != nil {
		return nil, wrap(err)
	}
	for _, a := range attrs.Value {
		def.Attributes[a.LogicalName] = Attribute{
			LogicalName: a.LogicalName, Type: a.AttributeType,
			MetadataType:   strings.TrimPrefix(a.Type, "#Microsoft.Dynamics.CRM."),
			ValidForCreate: a.IsValidForCreate, ValidForUpdate: a.IsValidForUpdate, AttributeOf: a.AttributeOf,
		}
	}
	// Lengths, option values and targets are properties of derived types:
	// each is read through a cast of the collection to that type.
	update := func(name string, f func(*Attribute)) {
		if a, ok := def.Attributes[name]; ok {
			f(&a)
			def.Attributes[name] = a
		}
	}
	for _, cast := range []string{"StringAttributeMetadata", "MemoAttributeMetadata"} {
		var lens struct {
			Value []struct {
				LogicalName string
				MaxLength   int
			} `json:"value"`
		}
		if err := get(base+"/Attributes/Microsoft.Dynamics.CRM."+cast, "$select=LogicalName,MaxLength", &lens); err != nil {
			return nil, wrap(err)
		}
		for _, a := range lens.Value {
			update(a.LogicalName, func(at *Attribute) { at.MaxLength = a.MaxLength })
		}
	}
	for _, cast := range []string{"PicklistAttributeMetadata", "MultiSelectPicklistAttributeMetadata"} {
		type optionSet struct {
			Options []struct{ Value int }
		}
		var choices struct {
			Value []struct {
				LogicalName     string
				OptionSet       *optionSet
				GlobalOptionSet *optionSet
			} `json:"value"`
		}
		// A column of a global choice has its options in GlobalOptionSet
		// (and, in Dataverse, in OptionSet too): ask for both.
		if err := get(base+"/Attributes/Microsoft.Dynamics.CRM."+cast,
			"$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)", &choices); err != nil {
			return nil, wrap(err)
		}
		for _, a := range choices.Value {
			seen := map[int]bool{}
			var values []int
			for _, set := range []*optionSet{a.OptionSet, a.GlobalOptionSet} {
				if set == nil {
					continue
				}
				for _, o := range set.Options {
					if !seen[o.Value] {
						seen[o.Value] = true
						values = append(values, o.Value)
					}
				}
			}
			sort.Ints(values)
			update(a.LogicalName, func(at *Attribute) { at.Options = values })
		}
	}
	var lookups struct {
		Value []struct {
			LogicalName string
			Targets     []string
		} `json:"value"`
	}
	if err := get(base+"/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata", "$select=LogicalName,Targets", &lookups); err != nil {
		return nil, wrap(err)
	}
	for _, a := range lookups.Value {
		update(a.LogicalName, func(at *Attribute) { at.Targets = a.Targets })
	}
	var keys struct {
		Value []struct {
			KeyAttributes        []string
			EntityKeyIndexStatus string
		} `json:"value"`
	}
	if err := get(base+"/Keys", "$select=KeyAttributes,EntityKeyIndexStatus", &keys); err != nil {
		return nil, wrap(err)
	}
	for _, k := range keys.Value {
		def.Keys = append(def.Keys, Key{Columns: k.KeyAttributes, Status: k.EntityKeyIndexStatus})
	}
	return def, nil
}

// metaQuery encodes "$select=a,b&$expand=X($select=Y)" option by option:
// each value percent-encoded as every other query leadbridge sends.
func metaQuery(q string) string {
	var parts []string
	for _, p := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(p, "=")
		parts = append(parts, k+"="+escapeQueryValue(v))
	}
	return strings.Join(parts, "&")
}

// Table names a table two ways: its logical name (lead), which table
// definitions and lookups' Targets use, and its entity set (leads), which
// URLs and @odata.bind use.
type Table struct {
	LogicalName   string
	EntitySetName string
}

// Tables lists the org's tables, sorted by logical name: to turn an entity
// set into its table, and for a suggestion when a configured table does
// not exist.
func (c *Client) Tables(ctx context.Context) ([]Table, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "EntityDefinitions", query: metaQuery("$select=LogicalName,EntitySetName")})
	if err != nil {
		return nil, fmt.Errorf("crm: tables: %w", err)
	}
	var list struct {
		Value []Table `json:"value"`
	}
	if err := json.Unmarshal(resp.body, &list); err != nil {
		return nil, fmt.Errorf("crm: tables: decode: %w", err)
	}
	sort.Slice(list.Value, func(i, j int) bool { return list.Value[i].LogicalName < list.Value[j].LogicalName })
	return list.Value, nil
}
