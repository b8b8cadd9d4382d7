// Package yamlnode holds the two questions every hand-written YAML decoder
// of leadbridge asks of a node: what it stands for, and whether it is a
// plain string.
package yamlnode

import "go.yaml.in/yaml/v3"

// Deref follows aliases and unwraps a document node; nil for an empty
// document.
func Deref(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch n.Kind {
		case yaml.AliasNode:
			n = n.Alias
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		default:
			return n
		}
	}
	return nil
}

// String returns a string scalar's value; false for anything else (a number,
// a list, null), so that "honeypot: 5" is refused rather than guessed at.
func String(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", false
	}
	return n.Value, true
}
