package webhook_test

import (
	"os"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/webhook"
)

// Every source configuration in docs/WEBHOOKS.md loads, so the page a user
// copies from cannot drift from what the loader accepts.
func TestDocsExamplesLoad(t *testing.T) {
	b, err := os.ReadFile("../docs/WEBHOOKS.md")
	if err != nil {
		t.Fatal(err)
	}
	// Any reference resolves to a whsec_ secret, which is also long enough
	// for the kinds that take a token.
	resolve := func(string) (string, error) { return wh(t, "a key of twenty-four byte"), nil }
	blocks := strings.Split(string(b), "```yaml\n")[1:]
	if len(blocks) < 10 {
		t.Fatalf("found %d YAML examples, want one per platform", len(blocks))
	}
	for _, blk := range blocks {
		doc, _, _ := strings.Cut(blk, "```")
		all, err := webhook.LoadSources(sourcesNode(t, doc), resolve, testForms)
		if err != nil || len(all) != 1 {
			t.Errorf("example does not load: %v\n%s", err, doc)
		}
	}
}
