package crm

import (
	"errors"
	"slices"
	"testing"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestTableDefinitionReadsTheLeadsColumns(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	emu.Configure(`{"alternate_keys":{"leads":["emailaddress1"]}}`)
	c := newClient(t, emu.Server, nil)
	def, err := c.TableDefinition(testContext(t), "lead")
	if err != nil {
		t.Fatal(err)
	}
	if def.LogicalName != "lead" || def.EntitySetName != "leads" {
		t.Errorf("table = %s/%s, want lead/leads", def.LogicalName, def.EntitySetName)
	}
	attr := func(name string) Attribute {
		t.Helper()
		a, ok := def.Attributes[name]
		if !ok {
			t.Fatalf("no attribute %s among %d", name, len(def.Attributes))
		}
		return a
	}
	if a := attr("companyname"); a.Type != "String" || a.MaxLength != 100 || !a.ValidForCreate || !a.ValidForUpdate {
		t.Errorf("companyname = %+v, want a writable String of 100", a)
	}
	if a := attr("description"); a.Type != "Memo" || a.MaxLength != 2000 {
		t.Errorf("description = %+v, want Memo of 2000", a)
	}
	if a := attr("fullname"); a.ValidForCreate || a.ValidForUpdate {
		t.Errorf("fullname = %+v, want read-only", a)
	}
	if a := attr("industrycode"); a.Type != "Picklist" || len(a.Options) != 33 || a.Options[0] != 1 || a.Options[32] != 33 {
		t.Errorf("industrycode = %+v, want a Picklist of 1…33", a)
	}
	if a := attr("new_interests"); !a.MultiSelect() || len(a.Options) == 0 {
		t.Errorf("new_interests = %+v, want a multi-select choice with options (of its global option set)", a)
	}
	if a := attr("parentcontactid"); a.Type != "Lookup" || !slices.Equal(a.Targets, []string{"contact"}) || !a.ValidForCreate {
		t.Errorf("parentcontactid = %+v, want a writable Lookup to contact", a)
	}
	if a := attr("donotbulkemail"); a.Type != "Boolean" {
		t.Errorf("donotbulkemail = %+v, want Boolean", a)
	}
	if len(def.Keys) != 1 || !slices.Equal(def.Keys[0].Columns, []string{"emailaddress1"}) || def.Keys[0].Status != "Active" {
		t.Errorf("keys = %+v, want one Active key of emailaddress1", def.Keys)
	}
}

func TestTableDefinitionOfAMissingTableAndTables(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)
	if _, err := c.TableDefinition(ctx, "new_enquiri"); !errors.Is(err, ErrTableNotFound) {
		t.Errorf("TableDefinition(new_enquiri): got %v, want ErrTableNotFound", err)
	}
	if _, err := c.TableDefinition(ctx, "lead')/x"); err == nil || errors.Is(err, ErrTableNotFound) {
		t.Errorf("TableDefinition of a name that is no logical name: got %v, want a refusal before any request", err)
	}
	tables, err := c.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]string{}
	for i, tb := range tables {
		sets[tb.LogicalName] = tb.EntitySetName
		if i > 0 && tables[i-1].LogicalName >= tb.LogicalName {
			t.Errorf("Tables not sorted: %s before %s", tables[i-1].LogicalName, tb.LogicalName)
		}
	}
	if sets["lead"] != "leads" || sets["new_enquiry"] != "new_enquiries" || sets["systemuser"] != "systemusers" {
		t.Errorf("Tables = %+v, want lead/leads, new_enquiry/new_enquiries, systemuser/systemusers among them", tables)
	}
}

func TestTableDefinitionIsPaced(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	emu.Configure(`{"limits":{"requests_per_window":3,"window_seconds":1,"concurrent":0,"execution_ms_per_window":0}}`)
	c := newClient(t, emu.Server, nil)
	if _, err := c.TableDefinition(testContext(t), "lead"); err != nil {
		t.Fatalf("TableDefinition while throttled: %v", err)
	}
	s := emu.Stats()
	if s.ResponsesByStatus["429"] == 0 || s.EarlyRetries != 0 {
		t.Errorf("stats = %+v, want some 429s waited out, no early retries", s)
	}
}

// A table's definition costs eight requests (the table, its columns, five
// casts, its keys): the configuration check's cost per table, paid at
// every worker start.
func TestTableDefinitionRequests(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	c := newClient(t, emu.Server, nil)
	ctx := testContext(t)
	if _, err := c.WhoAmI(ctx); err != nil { // the token, fetched once
		t.Fatal(err)
	}
	before := emu.Stats()
	if _, err := c.TableDefinition(ctx, "lead"); err != nil {
		t.Fatal(err)
	}
	after := emu.Stats()
	if n := after.RequestsTotal - before.RequestsTotal; n != 8 || after.ResponsesByStatus["200"]-before.ResponsesByStatus["200"] != 8 {
		t.Errorf("TableDefinition(lead): %d requests (%d answered 200), want 8, all 200", n, after.ResponsesByStatus["200"]-before.ResponsesByStatus["200"])
	}
}
