package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Seed rows. Some tables hold rows a client cannot create through the Web
// API: users come from Microsoft Entra ID, and message definitions belong
// to the platform. The emulator starts with (and Reset restores) the
// built-in rows below, with ids derived from the tenant so that they are the
// same on every start:
//
//   - systemusers: the calling application user ("# <client id>", the one
//     WhoAmI names and rows are owned by) and three people to route leads
//     to: Alex Morgan (United Kingdom), Priya Shah (Germany) and Diego
//     Alvarez (United States);
//   - teams: Sales EMEA and Sales Americas, owner teams;
//   - sdkmessages and sdkmessagefilters: Create, Update and Delete for every
//     table the Web API writes, and CreateMultiple, UpdateMultiple and
//     UpsertMultiple for the tables that support them (leads, contacts,
//     accounts, campaigns and new_enquiries; not annotations, teams or
//     systemusers).
//
// Tests add rows of any table with Server.Seed or PUT /_emulator/rows/{set}
// (a JSON array of rows), validated like a create, and allowed on the
// tables the Web API only reads; Server.SeedTables (EMULATOR_SEED of
// cmd/dataverse-emulator) seeds several tables in dependency order. Reset
// removes them.

// SeedUser names a seeded person, for tests that route to one.
type SeedUser struct {
	ID, FullName, Email, Country string
}

// seedUsers are the people every emulator starts with.
var seedUsers = []struct{ key, first, last, title, country string }{
	{"alex.morgan", "Alex", "Morgan", "Sales Manager", "United Kingdom"},
	{"priya.shah", "Priya", "Shah", "Account Executive", "Germany"},
	{"diego.alvarez", "Diego", "Alvarez", "Account Executive", "United States"},
}

var seedTeams = []string{"Sales EMEA", "Sales Americas"}

// Users returns the seeded people, with their ids.
func (s *Server) Users() []SeedUser {
	out := make([]SeedUser, len(seedUsers))
	for i, u := range seedUsers {
		out[i] = SeedUser{ID: nameGUID(s.tenant, "systemuser", u.key), FullName: u.first + " " + u.last,
			Email: u.key + "@contoso.example", Country: u.country}
	}
	return out
}

// TeamID returns the id of a seeded team ("Sales EMEA", "Sales Americas"),
// or "" for another name.
func (s *Server) TeamID(name string) string {
	for _, n := range seedTeams {
		if n == name {
			return nameGUID(s.tenant, "team", name)
		}
	}
	return ""
}

// builtinSeeds lists the built-in rows by table, in the order they must be
// written (a filter binds its message).
func (s *Server) builtinSeeds() []seedRows {
	users := []map[string]any{{
		"systemuserid": s.ids.user, "lastname": "# " + s.clientID, "domainname": s.clientID,
		"accessmode": float64(4), // Non-interactive, as an application user is
	}}
	for i, u := range s.Users() {
		su := seedUsers[i]
		users = append(users, map[string]any{
			"systemuserid": u.ID, "firstname": su.first, "lastname": su.last, "domainname": u.Email,
			"internalemailaddress": u.Email, "title": su.title, "address1_country": su.country,
		})
	}
	var teams []map[string]any
	for _, n := range seedTeams {
		teams = append(teams, map[string]any{"teamid": s.TeamID(n), "name": n, "teamtype": float64(0)})
	}
	var messages, filters []map[string]any
	for _, m := range append([]string{"Create", "Update", "Delete"}, bulkMessageNames...) {
		messages = append(messages, map[string]any{"sdkmessageid": nameGUID("sdkmessage", m), "name": m})
	}
	for _, set := range tableSets() {
		t := schemaBySet[set]
		if t.apiReadOnly {
			continue
		}
		names := []string{"Create", "Update", "Delete"}
		if t.bulk {
			names = append(names, bulkMessageNames...)
		}
		for _, m := range names {
			filters = append(filters, map[string]any{
				"sdkmessagefilterid":    nameGUID("sdkmessagefilter", m, t.logical),
				"primaryobjecttypecode": t.logical, "secondaryobjecttypecode": "none",
				"name":                          m + " " + t.logical,
				"iscustomprocessingstepallowed": true, "isvisible": true, "availability": float64(0),
				"sdkmessageid@odata.bind": "sdkmessages(" + nameGUID("sdkmessage", m) + ")",
			})
		}
	}
	return []seedRows{{"systemusers", users}, {"teams", teams}, {"sdkmessages", messages}, {"sdkmessagefilters", filters}}
}

type seedRows struct {
	set  string
	rows []map[string]any
}

// seedBuiltins writes the built-in rows that are missing (all of them
// after a reset, none after a restart that kept them).
func (s *Server) seedBuiltins() error {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	for _, sr := range s.builtinSeeds() {
		t := s.store.tables[sr.set]
		var missing []map[string]any
		for _, row := range sr.rows {
			if id, _ := row[t.schema.pk].(string); t.get(id) == nil {
				missing = append(missing, row)
			}
		}
		if _, err := s.seedLocked(t, missing); err != nil {
			return fmt.Errorf("seed %s: %w", sr.set, err)
		}
	}
	return nil
}

// Seed writes rows into a table as PUT /_emulator/rows/{set} does: each row
// is validated like a Web API create (or, when its primary key names an
// existing row, an update), on any table, read-only ones included. Either
// every row is written or, on the first invalid one, none; the error then
// names the row and carries Dataverse's message. It returns the rows' ids.
func (s *Server) Seed(set string, rows ...map[string]any) ([]string, error) {
	t := s.store.tables[set]
	if t == nil {
		return nil, fmt.Errorf("seed: unknown table %q", set)
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	return s.seedLocked(t, rows)
}

// seedLocked writes rows in one transaction; the caller holds the store
// lock.
func (s *Server) seedLocked(t *table, rows []map[string]any) ([]string, error) {
	op := &operation{s: s, tx: &txn{}, req: &apiRequest{
		method: http.MethodPost, header: http.Header{}, root: s.url + apiPrefix, cfg: s.config(), now: time.Now(),
	}}
	ids := make([]string, 0, len(rows))
	for i, row := range rows {
		body := cloneCols(row)
		var existing *record
		if id, ok := body[t.schema.pk].(string); ok {
			existing = t.get(id)
		}
		rec, res := op.write(t, existing, body, nil)
		if res != nil {
			op.tx.rollback()
			msg := string(res.body)
			if res.apiErr != nil {
				msg = res.apiErr.Message
			}
			return nil, fmt.Errorf("%s[%d]: %d %s", t.schema.set, i, res.status, msg)
		}
		ids = append(ids, rec.id(t.schema))
	}
	return ids, nil
}

// seedOrder is the order SeedTables writes tables in, so that rows can bind
// to rows of the tables before them (a lead to its owner, campaign and
// account; a note to its lead).
var seedOrder = []string{"systemusers", "teams", "campaigns", "accounts", "contacts", "leads", "new_enquiries", "annotations"}

// SeedTables seeds several tables, such as the JSON object
// {"systemusers":[…],"leads":[…]} of cmd/dataverse-emulator's EMULATOR_SEED,
// in dependency order: users, teams, campaigns, accounts, contacts, leads,
// new_enquiries, annotations. Rows that name their primary key replace the
// row with that id, so applying the same seed again changes nothing. It
// stops at the first table that fails, naming it.
func (s *Server) SeedTables(tables map[string][]map[string]any) error {
	for set := range tables {
		if !slices.Contains(seedOrder, set) {
			return fmt.Errorf("seed: table %q cannot be seeded (want one of %s)", set, strings.Join(seedOrder, ", "))
		}
	}
	for _, set := range seedOrder {
		if rows, ok := tables[set]; ok {
			if _, err := s.Seed(set, rows...); err != nil {
				return err
			}
		}
	}
	return nil
}
