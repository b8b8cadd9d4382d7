package forms

import (
	"strconv"
	"strings"
)

// writtenMax is what Columns gives as a text field's MaxLength: the
// longest text the form says the field takes, for a check against the
// column's MaxLength in the org. That is the lowest of the field's own
// limits — its max= rule, a hidden field's fixed value, its longest option
// — else its max_length (for the lead's own columns, their standard
// length); a field whose note keeps the whole text writes at most its
// max_length into the column. 0 when nothing limits it.
//
// A max= rule above max_length is reported as written, not lowered to it:
// it says the form takes what the column may not hold.
func (fd Field) writtenMax() int {
	if fd.cut && fd.MaxLength > 0 {
		return fd.MaxLength
	}
	n := 0
	lower := func(m int) {
		if n == 0 || m < n {
			n = m
		}
	}
	for _, r := range strings.Split(fd.Rules, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(r), "max="); ok {
			if m, err := strconv.Atoi(v); err == nil && m > 0 {
				lower(m)
			}
		}
	}
	if fd.Control == ControlHidden && fd.Value != "" {
		lower(utf16Len(fd.Value))
	}
	if len(fd.Options) > 0 {
		longest := 0
		for _, o := range fd.Options {
			longest = max(longest, utf16Len(o.Value))
		}
		lower(longest)
	}
	if n == 0 {
		n = fd.MaxLength
	}
	return n
}
