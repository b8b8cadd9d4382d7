package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Bulk operation messages ("Use bulk operation messages"; the CreateMultiple,
// UpdateMultiple and UpsertMultiple actions of the Web API reference):
//
//	POST leads/Microsoft.Dynamics.CRM.CreateMultiple  {"Targets":[{…,"@odata.type":"Microsoft.Dynamics.CRM.lead"},…]}
//	  → 200 {"@odata.context":"…$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse","Ids":[…]}, in Targets order
//	POST leads/Microsoft.Dynamics.CRM.UpdateMultiple  → 204; each target names its row by primary key
//	  ("leadid") or by "@odata.id" (an id or alternate-key URI)
//	POST leads/Microsoft.Dynamics.CRM.UpsertMultiple  → 204 (the UpsertMultiple reference: "returns 204
//	  NoContent. The UpsertMultipleResponse complex type is not returned."); each target named as above
//
// On a standard table "any error that occurs in a bulk operation ... causes
// the entire operation to roll back" (Use bulk operation messages, On Error
// behavior with standard tables): the emulator runs every target in one
// transaction and answers with the first failing target's error, exactly as
// a single create or update of that row would fail, and nothing is written.
// Each bulk request is one request for the request-count facet ("each bulk
// operation message counts as single request", How are API limits applied?)
// and costs bulk_row_percent of latency_ms per target in execution time
// (opMS in routes.go): "each bulk operation message request typically takes
// longer" than a single write, but less than its rows written one by one.

// bulkMessages maps the bound action segment to its message name.
var bulkMessages = map[string]string{
	"Microsoft.Dynamics.CRM.CreateMultiple": "CreateMultiple",
	"Microsoft.Dynamics.CRM.UpdateMultiple": "UpdateMultiple",
	"Microsoft.Dynamics.CRM.UpsertMultiple": "UpsertMultiple",
}

// bulkMessageNames are the messages, for sdkmessagefilters and $metadata.
var bulkMessageNames = []string{"CreateMultiple", "UpdateMultiple", "UpsertMultiple"}

func (op *operation) bulk(t *table, message string) *result {
	if !t.schema.bulk {
		return msgNotSupported(message, t.schema)
	}
	var body struct {
		Targets []json.RawMessage `json:"Targets"`
	}
	if err := json.Unmarshal(op.req.body, &body); err != nil {
		return badRequest(codePayload, fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s'. Invalid JSON: %s.", t.schema.set, err))
	}
	if len(body.Targets) == 0 {
		return badRequest(codePayload, fmt.Sprintf("The Targets parameter of %s must hold at least one record.", message))
	}
	targets := make([]map[string]any, len(body.Targets))
	for i, raw := range body.Targets {
		m, res := decodeObject(t.schema.set, raw)
		if res != nil {
			return res
		}
		typ, _ := m["@odata.type"].(string)
		switch strings.TrimPrefix(typ, "#") {
		case t.schema.typeName():
		case "":
			return badRequest(codePayload, fmt.Sprintf("Targets[%d] of %s has no @odata.type: every record must name its type, \"@odata.type\": \"%s\".", i, message, t.schema.typeName()))
		default:
			return badRequest(codePayload, fmt.Sprintf("Targets[%d] of %s is a '%s', but the request is bound to %s: all the records must be of that table.", i, message, typ, t.schema.set))
		}
		targets[i] = m
	}

	// One transaction for all targets; nested in a change set's, whose
	// rollback then undoes them too.
	outer := op.tx
	tx := &txn{}
	op.tx = tx
	defer func() { op.tx = outer }()
	ids := make([]string, len(targets))
	for i, m := range targets {
		var rec *record
		var res *result
		switch message {
		case "CreateMultiple":
			rec, res = op.write(t, nil, m, nil)
		default:
			rec, res = op.writeTarget(t, m, message == "UpsertMultiple")
		}
		if res != nil {
			tx.rollback()
			res.ops = len(targets)
			return res
		}
		ids[i] = rec.id(t.schema)
	}
	if outer != nil {
		outer.undo = append(outer.undo, tx.undo...)
	}
	var r *result
	if message == "CreateMultiple" {
		r = jsonResult(http.StatusOK, struct {
			Context string   `json:"@odata.context"`
			IDs     []string `json:"Ids"`
		}{op.req.root + "$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse", ids})
	} else {
		r = newResult(http.StatusNoContent)
	}
	r.ops = len(targets)
	return r
}

// writeTarget updates (or, for an upsert, creates) the row a target names
// by its primary key or its @odata.id.
func (op *operation) writeTarget(t *table, m map[string]any, upsert bool) (*record, *result) {
	var key entityKey
	switch {
	case m["@odata.id"] != nil:
		uri, ok := m["@odata.id"].(string)
		rp, parsed := parsePath(strings.TrimPrefix(strings.TrimPrefix(uri, "/"), strings.TrimPrefix(apiPrefix, "/")))
		if !ok || !parsed || rp.set != t.schema.set || !rp.hasKey || rp.rest != "" {
			return nil, badRequest(codePayload, fmt.Sprintf("The @odata.id '%v' of a target must address a row of %s, as %s(<id>) or %s(<key>='<value>').", m["@odata.id"], t.schema.set, t.schema.set, t.schema.set))
		}
		k, res := parseKey(t.schema, rp.key)
		if res != nil {
			return nil, res
		}
		if k.alt != nil && !sameColumns(t.keyCols, k.alt) {
			return nil, badRequest(codeQuery, msgKeyNotValid(t.schema))
		}
		key = k
	case m[t.schema.pk] != nil:
		id, _ := m[t.schema.pk].(string)
		k, res := parseKey(t.schema, id)
		if res != nil || k.alt != nil {
			return nil, badRequest(codePayload, fmt.Sprintf("Cannot convert the literal '%v' to the expected type 'Edm.Guid'.", m[t.schema.pk]))
		}
		key = k
	default:
		return nil, badRequest(codePayload, fmt.Sprintf("A target has neither %s nor @odata.id: UpdateMultiple and UpsertMultiple need the row each record is for.", t.schema.pk))
	}
	delete(m, "@odata.id")
	existing, _ := op.find(t, key)
	switch {
	case existing != nil:
		return op.write(t, existing, m, key.alt)
	case !upsert && key.alt != nil:
		return nil, apiError(http.StatusNotFound, codeKeyNotFound, msgKeyNotFound(t.schema))
	case !upsert:
		// The wording the bulk messages use ("Troubleshooting common
		// errors" of Use bulk operation messages).
		return nil, apiError(http.StatusNotFound, codeNotFound, fmt.Sprintf("%s With Ids = %s Do Not Exist", t.schema.logical, key.id))
	}
	if key.alt == nil {
		m[t.schema.pk] = key.id
	}
	return op.write(t, nil, m, key.alt)
}
