package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestAddAndPage(t *testing.T) {
	t.Parallel()
	l := New(testenv.StartRedis(t).Client())
	ctx := context.Background()
	start := time.Now().Add(-time.Second)
	for i := range 7 {
		if err := l.Add(ctx, Entry{By: "ann", Action: "discard", Submission: fmt.Sprintf("s%d", i), Reason: "test entry"}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		es, next, err := l.List(ctx, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.By != "ann" || e.Action != "discard" || e.Reason != "test entry" || e.At.Before(start.Truncate(time.Millisecond)) {
				t.Errorf("entry %+v", e)
			}
			got = append(got, e.Submission)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("does not end")
		}
		cursor = next
	}
	if want := "[s6 s5 s4 s3 s2 s1 s0]"; fmt.Sprint(got) != want {
		t.Errorf("pages: %v, want %s (newest first, each once)", got, want)
	}
	if _, _, err := l.List(ctx, "1-x", 3); err == nil {
		t.Error("a cursor that is no stream id was taken")
	}
}
