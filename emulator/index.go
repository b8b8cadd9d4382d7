package emulator

import (
	"slices"
	"strings"

	"github.com/leadbridge/leadbridge/emulator/odata"
)

// Equality indexes. The worker's dedupe query, emailaddress1 eq '…' and
// statecode eq 0, runs once per submission; scanning the whole table for it
// would make the emulator, not the client, the bottleneck of every
// benchmark. So a filter whose top level requires "col eq 'literal'" on an
// indexed column (or the primary key) only looks at the rows the index
// names, and still applies the whole filter to them: the index narrows, the
// filter decides, so results are the same as a scan.

// indexedColumns are the columns kept in a case-folded hash index.
var indexedColumns = []string{"emailaddress1"}

func (t *table) eqIndexAdd(rec *record) {
	for col, idx := range t.eqIndex {
		if v, ok := rec.cols[col].(string); ok {
			k := odata.Fold(v)
			ids := idx[k]
			if ids == nil {
				ids = map[string]struct{}{}
				idx[k] = ids
			}
			ids[strings.ToLower(rec.id(t.schema))] = struct{}{}
		}
	}
}

func (t *table) eqIndexRemove(rec *record) {
	for col, idx := range t.eqIndex {
		if v, ok := rec.cols[col].(string); ok {
			k := odata.Fold(v)
			delete(idx[k], strings.ToLower(rec.id(t.schema)))
			if len(idx[k]) == 0 {
				delete(idx, k)
			}
		}
	}
}

func newEqIndex(s *tableSchema) map[string]map[string]map[string]struct{} {
	idx := map[string]map[string]map[string]struct{}{}
	for _, c := range indexedColumns {
		if s.cols[c] != nil {
			idx[c] = map[string]map[string]struct{}{}
		}
	}
	return idx
}

// candidates returns the rows an equality index says the filter can match,
// in creation order, or ok=false when the filter needs a full scan.
func (t *table) candidates(m rowMatcher) (recs []*record, ok bool) {
	f, isFilter := m.(*odata.Filter)
	if !isFilter {
		return nil, false
	}
	col, val, ok := f.RequiredEquality()
	if !ok {
		return nil, false
	}
	if col == t.schema.pk {
		if r := t.get(val); r != nil {
			return []*record{r}, true
		}
		return nil, odata.IsGUID(val) // a malformed id compares as a string: scan
	}
	idx := t.eqIndex[col]
	if idx == nil {
		return nil, false
	}
	for id := range idx[odata.Fold(val)] {
		recs = append(recs, t.rows[id])
	}
	slices.SortFunc(recs, func(a, b *record) int { return int(a.seq - b.seq) })
	return recs, true
}
