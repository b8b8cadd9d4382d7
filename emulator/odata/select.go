package odata

import "strings"

// ParseSelect splits a $select value into its columns, in order and without
// repeats. The names are not checked against any table: one the table lacks
// is for the caller to refuse with "Could not find a property named ...".
func ParseSelect(src string) []string {
	var cols []string
	for _, c := range strings.Split(src, ",") {
		c = strings.TrimSpace(c)
		if !containsString(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
