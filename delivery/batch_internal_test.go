package delivery

import (
	"fmt"
	"slices"
	"testing"
)

// A batch of a thousand long emails is asked for in several queries, each
// short enough for Dataverse's URL limit, together all of them once.
func TestInQueriesAreChunked(t *testing.T) {
	var emails []string
	for i := range 1000 {
		emails = append(emails, fmt.Sprintf("someone.with.a.long.name.%04d@subdomain.example.com", i))
	}
	parts := chunks(emails)
	if len(parts) < 2 {
		t.Fatalf("%d chunks, want several", len(parts))
	}
	var all []string
	for _, p := range parts {
		size := 0
		for _, v := range p {
			size += len(v) + 3
		}
		if size > maxInBytes {
			t.Errorf("a chunk of %d bytes, over %d", size, maxInBytes)
		}
		all = append(all, p...)
	}
	if !slices.Equal(all, emails) {
		t.Error("the chunks do not hold every email once, in order")
	}
	if got := chunks([]string{"a@x.com"}); len(got) != 1 || len(got[0]) != 1 {
		t.Errorf("chunks of one = %v", got)
	}
}
