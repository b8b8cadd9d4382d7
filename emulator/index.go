package emulator

import (
	"slices"
	"strings"
	"unicode"
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

// foldKey folds a string the way the filter's case-insensitive comparison
// does, rune by rune.
func foldKey(s string) string { return strings.Map(unicode.ToLower, s) }

func (t *table) eqIndexAdd(rec *record) {
	for col, idx := range t.eqIndex {
		if v, ok := rec.cols[col].(string); ok {
			k := foldKey(v)
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
			k := foldKey(v)
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
func (t *table) candidates(f filterExpr) (recs []*record, ok bool) {
	col, val, ok := equalityConstraint(f)
	if !ok {
		return nil, false
	}
	if col == t.schema.pk {
		if r := t.get(val); r != nil {
			return []*record{r}, true
		}
		return nil, isGUID(val) // a malformed id compares as a string: scan
	}
	idx := t.eqIndex[col]
	if idx == nil {
		return nil, false
	}
	// Two strings that parse as instants compare as times, not text; the
	// index knows only text.
	if _, instant := parseInstant(val); instant {
		return nil, false
	}
	for id := range idx[foldKey(val)] {
		recs = append(recs, t.rows[id])
	}
	slices.SortFunc(recs, func(a, b *record) int { return int(a.seq - b.seq) })
	return recs, true
}

// equalityConstraint finds a "column eq 'string'" that the filter as a
// whole requires: the filter itself, or one term of a top-level "and".
func equalityConstraint(f filterExpr) (col, val string, ok bool) {
	pf, isParsed := f.(*parsedFilter)
	if !isParsed {
		return "", "", false
	}
	terms := []filterNode{pf.root}
	if l, isLogic := pf.root.(*logicNode); isLogic && l.and {
		terms = l.terms
	}
	for _, term := range terms {
		c, isCompare := term.(*compareNode)
		if !isCompare || c.op != "eq" {
			continue
		}
		colNode, lit := c.l, c.r
		if _, isCol := colNode.(*columnNode); !isCol {
			colNode, lit = c.r, c.l
		}
		cn, isCol := colNode.(*columnNode)
		ln, isLit := lit.(*literalNode)
		if !isCol || !isLit || ln.isNull {
			continue
		}
		if s, isStr := ln.v.(string); isStr {
			return cn.name, s, true
		}
	}
	return "", "", false
}
