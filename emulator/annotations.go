package emulator

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Instance annotations (reference §4). A client asks for them with
// Prefer: odata.include-annotations="…", a comma-separated list of term
// names or patterns with * wildcards, "*" meaning all and a leading "-"
// excluding; the response echoes the preference in Preference-Applied.
// Without the preference no annotation is written, so the plain read path
// costs nothing extra.

// The annotation terms the emulator writes.
const (
	termFormattedValue     = "OData.Community.Display.V1.FormattedValue"
	termNavigationProperty = "Microsoft.Dynamics.CRM.associatednavigationproperty"
	termLookupLogicalName  = "Microsoft.Dynamics.CRM.lookuplogicalname"
	termTotalRecordCount   = "Microsoft.Dynamics.CRM.totalrecordcount"
	termTotalCountExceeded = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
)

// annotations is the set of terms a request asked for.
type annotations uint8

const (
	annFormatted annotations = 1 << iota
	annNavigationProperty
	annLookupLogicalName
	annTotalRecordCount
	annTotalCountExceeded
)

var annotationTerms = []struct {
	term string
	bit  annotations
}{
	{termFormattedValue, annFormatted},
	{termNavigationProperty, annNavigationProperty},
	{termLookupLogicalName, annLookupLogicalName},
	{termTotalRecordCount, annTotalRecordCount},
	{termTotalCountExceeded, annTotalCountExceeded},
}

func (a annotations) has(b annotations) bool { return a&b != 0 }

// lookupAnnotations are the terms written next to a lookup's value besides
// its formatted value.
const lookupAnnotations = annNavigationProperty | annLookupLogicalName

// parseIncludeAnnotations reads the value of odata.include-annotations
// (quotes already removed). As OData asks, the most specific pattern that
// matches a term decides; an exact name beats any wildcard, a longer
// pattern a shorter one, and an exclusion an inclusion of equal weight.
// Term names are case-sensitive, as OData identifiers are.
func parseIncludeAnnotations(v string) annotations {
	type pattern struct {
		glob    string
		exclude bool
	}
	var patterns []pattern
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		exclude := strings.HasPrefix(p, "-")
		p = strings.TrimPrefix(p, "-")
		if p != "" {
			patterns = append(patterns, pattern{p, exclude})
		}
	}
	var set annotations
	for _, t := range annotationTerms {
		best, include := -1, false
		for _, p := range patterns {
			if !globMatch(p.glob, t.term) {
				continue
			}
			w := specificity(p.glob)
			if w > best || w == best && p.exclude {
				best, include = w, !p.exclude
			}
		}
		if include {
			set |= t.bit
		}
	}
	return set
}

// specificity ranks a pattern: exact names above all wildcards, then by the
// number of literal characters.
func specificity(glob string) int {
	if !strings.Contains(glob, "*") {
		return math.MaxInt
	}
	return len(glob) - strings.Count(glob, "*")
}

// globMatch reports whether name matches glob, where * stands for any run
// of characters.
func globMatch(glob, name string) bool {
	star, resume := -1, 0
	i, j := 0, 0
	for j < len(name) {
		switch {
		case i < len(glob) && glob[i] == '*':
			star, resume = i, j
			i++
		case i < len(glob) && glob[i] == name[j]:
			i++
			j++
		case star >= 0:
			resume++
			i, j = star+1, resume
		default:
			return false
		}
	}
	for i < len(glob) && glob[i] == '*' {
		i++
	}
	return i == len(glob)
}

// annotationPreference returns what the request's Prefer headers ask for
// and the raw value to echo in Preference-Applied ("" when not asked).
func annotationPreference(prefs map[string]string) (annotations, string) {
	v, ok := prefs["odata.include-annotations"]
	if !ok || v == "" {
		return 0, ""
	}
	return parseIncludeAnnotations(v), v
}

// annotate writes the annotations of column c (whose value v is not null)
// into out, beside the value.
func (op *operation) annotate(out map[string]any, t *tableSchema, rec *record, c string, v any, ann annotations) {
	col := t.cols[c]
	if col == nil {
		return
	}
	if ann.has(annFormatted) {
		if fv, ok := op.formattedValue(t, rec, col, v); ok {
			out[c+"@"+termFormattedValue] = fv
		}
	}
	if col.kind == kindLookup && ann.has(lookupAnnotations) {
		np := boundNav(t, rec.cols, c)
		if np == nil {
			return
		}
		if ann.has(annNavigationProperty) {
			out[c+"@"+termNavigationProperty] = np.name
		}
		if ann.has(annLookupLogicalName) {
			out[c+"@"+termLookupLogicalName] = targetOf(np, rec.cols).logical
		}
	}
}

// formattedValue is the text Dataverse shows for a value: a choice's or a
// Yes/No column's label, a lookup's primary name, a grouped integer, or a
// date and time in the user's format. Strings, ids and big integers have
// none. The emulator's user reads en-US and lives in UTC.
func (op *operation) formattedValue(t *tableSchema, rec *record, col *column, v any) (string, bool) {
	switch col.kind {
	case kindChoice:
		if f, ok := v.(float64); ok {
			label, ok := col.labels[int(f)]
			return label, ok
		}
	case kindBool:
		if b, ok := v.(bool); ok && col.yesNo[0] != "" {
			if b {
				return col.yesNo[1], true
			}
			return col.yesNo[0], true
		}
	case kindInt:
		if f, ok := v.(float64); ok {
			return groupThousands(int64(f)), true
		}
	case kindMoney, kindDecimal:
		if f, ok := v.(float64); ok {
			// The user's currency is US dollars, shown with the column's
			// precision.
			sign := ""
			if f < 0 {
				sign, f = "-", -f
			}
			text := strconv.FormatFloat(f, 'f', col.precision, 64)
			whole, frac, _ := strings.Cut(text, ".")
			n, _ := strconv.ParseInt(whole, 10, 64)
			out := groupThousands(n)
			if frac != "" {
				out += "." + frac
			}
			if col.kind == kindMoney {
				return sign + "$" + out, true
			}
			return sign + out, true
		}
	case kindMultiChoice:
		if s, ok := v.(string); ok {
			vals, _ := parseMultiChoice(s)
			labels := make([]string, 0, len(vals))
			for _, n := range vals {
				labels = append(labels, col.labels[n])
			}
			return strings.Join(labels, "; "), len(labels) > 0
		}
	case kindDateTime:
		if s, ok := v.(string); ok {
			if ts, err := time.Parse(time.RFC3339, s); err == nil {
				return ts.UTC().Format("1/2/2006 3:04 PM"), true
			}
		}
	case kindLookup:
		np := boundNav(t, rec.cols, col.name)
		if np == nil {
			return "", false
		}
		related := op.related(np, rec.cols)
		if related == nil {
			return "", false
		}
		name, ok := related.cols[targetOf(np, rec.cols).primaryName].(string)
		return name, ok
	}
	return "", false
}

// groupThousands writes n as en-US does: 1234567 → "1,234,567".
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
