package emulator

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// record is one row. Its cols map is never changed once stored: an update
// stores a new record, so readers, snapshots and undo logs can keep
// pointers without copying.
type record struct {
	seq     int64 // creation order, the default sort order
	version int64 // row version, the etag
	cols    map[string]any
}

func (r *record) id(t *tableSchema) string { s, _ := r.cols[t.pk].(string); return s }

func (r *record) etag() string { return `W/"` + strconv.FormatInt(r.version, 10) + `"` }

type table struct {
	schema *tableSchema
	rows   map[string]*record // by lower-case id
	// order lists ids by creation; entries whose record has since been
	// deleted or re-created are skipped by comparing seq.
	order []orderEntry
	// keyCols and keyIndex are the configured alternate key and its unique
	// index (normalised key → id).
	keyCols  []string
	keyIndex map[string]string
	// eqIndex is the case-folded index of indexedColumns: column → folded
	// value → ids.
	eqIndex map[string]map[string]map[string]struct{}
	// changed is called, under the store's lock, after every change of a
	// row (undone ones included).
	changed func()
}

type orderEntry struct {
	id  string
	seq int64
}

// store holds the tables. One mutex guards everything: operations are short
// (latency is simulated outside the lock), and a $batch change set holds it
// throughout so that its rollback is atomic for other callers too.
type store struct {
	mu      sync.Mutex
	tables  map[string]*table
	seq     int64
	version int64
	// gen counts changes, so that a saver can tell whether there is
	// anything new to write.
	gen uint64
	// notify, if set, is called under mu after each change; it must not
	// block.
	notify func()
}

// newStore returns empty tables with no alternate keys.
func newStore() *store {
	st := &store{tables: map[string]*table{}, version: 1_000_000}
	for set, schema := range schemaBySet {
		st.tables[set] = &table{schema: schema, rows: map[string]*record{}, eqIndex: newEqIndex(schema), changed: st.changed}
	}
	return st
}

// changed records a change; the caller holds mu.
func (st *store) changed() {
	st.gen++
	if st.notify != nil {
		st.notify()
	}
}

func (st *store) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	defer st.changed()
	for _, t := range st.tables {
		t.rows = map[string]*record{}
		t.order = nil
		t.eqIndex = newEqIndex(t.schema)
		if t.keyIndex != nil {
			t.keyIndex = map[string]string{}
		}
	}
}

// setAlternateKeys rebuilds the key indexes. Like Dataverse, defining a key
// fails when existing rows already violate it.
func (st *store) setAlternateKeys(keys map[string][]string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	indexes := map[string]map[string]string{}
	for set, t := range st.tables {
		cols := keys[set]
		if len(cols) == 0 {
			continue
		}
		idx := map[string]string{}
		for id, rec := range t.rows {
			k, ok := keyString(cols, rec.cols)
			if !ok {
				continue
			}
			if other, dup := idx[k]; dup {
				return fmt.Errorf("alternate_keys.%s: rows %s and %s have the same %s; the key cannot be defined",
					set, other, id, strings.Join(cols, ", "))
			}
			idx[k] = id
		}
		indexes[set] = idx
	}
	for set, t := range st.tables {
		t.keyCols = slices.Clone(keys[set])
		t.keyIndex = indexes[set]
	}
	return nil
}

func (st *store) nextSeq() int64     { st.seq++; return st.seq }
func (st *store) nextVersion() int64 { st.version++; return st.version }

// txn is an undo log. Every mutation registers its inverse, so a failed
// change set can be rolled back exactly.
type txn struct{ undo []func() }

func (tx *txn) rollback() {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		tx.undo[i]()
	}
	tx.undo = nil
}

func (t *table) get(id string) *record { return t.rows[strings.ToLower(id)] }

// put stores rec (new or replacing the row with its id).
func (t *table) put(tx *txn, rec *record) {
	id := strings.ToLower(rec.id(t.schema))
	old := t.rows[id]
	t.unindex(old)
	t.rows[id] = rec
	t.index(rec)
	if old == nil || old.seq != rec.seq {
		t.order = append(t.order, orderEntry{id: id, seq: rec.seq})
		t.compact()
	}
	t.changed()
	if tx != nil {
		tx.undo = append(tx.undo, func() {
			t.unindex(rec)
			if old == nil {
				delete(t.rows, id)
			} else {
				t.rows[id] = old
				t.index(old)
			}
			t.changed()
		})
	}
}

func (t *table) remove(tx *txn, id string) {
	id = strings.ToLower(id)
	old := t.rows[id]
	if old == nil {
		return
	}
	t.unindex(old)
	delete(t.rows, id)
	t.compact()
	t.changed()
	if tx != nil {
		tx.undo = append(tx.undo, func() {
			t.rows[id] = old
			t.index(old)
			// Restores keep their place in creation order.
			if !slices.ContainsFunc(t.order, func(e orderEntry) bool { return e.id == id && e.seq == old.seq }) {
				t.order = append(t.order, orderEntry{id: id, seq: old.seq})
				slices.SortFunc(t.order, func(a, b orderEntry) int { return int(a.seq - b.seq) })
			}
			t.changed()
		})
	}
}

// compact drops stale order entries once they outnumber live rows, keeping
// scans proportional to the table.
func (t *table) compact() {
	if len(t.order) < 64 || len(t.order) < 2*len(t.rows) {
		return
	}
	live := t.order[:0]
	for _, e := range t.order {
		if r := t.rows[e.id]; r != nil && r.seq == e.seq {
			live = append(live, e)
		}
	}
	t.order = live
}

// scan calls fn for each row in creation order until fn returns false.
func (t *table) scan(fn func(*record) bool) {
	for _, e := range t.order {
		r := t.rows[e.id]
		if r == nil || r.seq != e.seq {
			continue
		}
		if !fn(r) {
			return
		}
	}
}

func (t *table) index(rec *record) {
	if rec == nil {
		return
	}
	t.eqIndexAdd(rec)
	if t.keyIndex == nil {
		return
	}
	if k, ok := keyString(t.keyCols, rec.cols); ok {
		t.keyIndex[k] = strings.ToLower(rec.id(t.schema))
	}
}

func (t *table) unindex(rec *record) {
	if rec == nil {
		return
	}
	t.eqIndexRemove(rec)
	if t.keyIndex == nil {
		return
	}
	if k, ok := keyString(t.keyCols, rec.cols); ok && t.keyIndex[k] == strings.ToLower(rec.id(t.schema)) {
		delete(t.keyIndex, k)
	}
}

// byKey finds a row by alternate key values.
func (t *table) byKey(vals map[string]any) *record {
	k, ok := keyString(t.keyCols, vals)
	if !ok || t.keyIndex == nil {
		return nil
	}
	return t.rows[t.keyIndex[k]]
}

// keyString normalises key values the way SQL Server's default collation
// compares them: strings case-insensitively. Rows with a null key column
// are not indexed (Dataverse's key indexes skip them too).
func keyString(cols []string, vals map[string]any) (string, bool) {
	if len(cols) == 0 {
		return "", false
	}
	var b strings.Builder
	for _, c := range cols {
		switch v := vals[c].(type) {
		case string:
			b.WriteString("s:" + strings.ToLower(v))
		case float64:
			b.WriteString("n:" + strconv.FormatFloat(v, 'g', -1, 64))
		case bool:
			b.WriteString("b:" + strconv.FormatBool(v))
		default:
			return "", false
		}
		b.WriteByte(0)
	}
	return b.String(), true
}

// tableSummary is what the HTML page shows of a table.
type tableSummary struct {
	Set     string
	Count   int
	Columns []string
	Recent  [][]string
}

func (st *store) summary(recent int) []tableSummary {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []tableSummary
	for _, set := range tableSets() {
		t := st.tables[set]
		s := tableSummary{Set: set, Count: len(t.rows)}
		s.Columns = append([]string{t.schema.pk}, t.schema.nameCols...)
		s.Columns = append(s.Columns, "createdon", "modifiedon")
		// Newest first: walk creation order backwards.
		for i := len(t.order) - 1; i >= 0 && len(s.Recent) < recent; i-- {
			e := t.order[i]
			r := t.rows[e.id]
			if r == nil || r.seq != e.seq {
				continue
			}
			row := make([]string, len(s.Columns))
			for j, c := range s.Columns {
				if v, ok := r.cols[c]; ok && v != nil {
					row[j] = fmt.Sprint(v)
				}
			}
			s.Recent = append(s.Recent, row)
		}
		out = append(out, s)
	}
	return out
}

func cloneCols(m map[string]any) map[string]any { return maps.Clone(m) }
