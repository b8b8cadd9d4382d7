package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ResolveSecret reads a secret reference: "env:NAME" or "file:/path" (the
// file's content, trimmed). A secret written in the YAML file itself is
// refused: files get committed, copied and printed. Errors name the
// variable or file, never a secret.
func ResolveSecret(ref string, getenv Getenv) (string, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", name)
		}
		return v, nil
	case strings.HasPrefix(ref, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(ref, "file:"))
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", errors.New(`secrets are never written in the file: use "env:NAME" or "file:/path"`)
}

// checkReference accepts a well-formed secret reference without reading
// it: for a program that loads the forms but uses no secret of theirs (the
// worker verifies no captcha).
func checkReference(ref string) (string, error) {
	if strings.HasPrefix(ref, "env:") || strings.HasPrefix(ref, "file:") {
		return "(not read)", nil
	}
	return ResolveSecret(ref, nil)
}
