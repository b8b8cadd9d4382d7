package config

import "strings"

// checkReference accepts a well-formed secret reference without reading
// it: for a program that loads the forms but uses no secret of theirs (the
// worker verifies no captcha).
func checkReference(ref string) (string, error) {
	if strings.HasPrefix(ref, "env:") || strings.HasPrefix(ref, "file:") {
		return "(not read)", nil
	}
	return ResolveSecret(ref, nil)
}
