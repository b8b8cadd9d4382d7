package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRequestIDIsKeptOnTheSubmission: the X-Request-ID a caller sends is
// answered back and stored on the submission (the worker carries it into
// its logs and onto every Dataverse call); one that could smuggle an email
// address, a line break or a megabyte into the logs is replaced by a fresh
// id.
func TestRequestIDIsKeptOnTheSubmission(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	for _, tc := range []struct {
		name, sent string
		kept       bool
	}{
		{"a GUID", "4B1F2C3D-1111-4222-8333-944445555666", true},
		{"a load balancer's id", "Root=1-67891233-abcdef012345678912345678", true},
		{"an email address", "ann@example.com", false},
		{"a line break", "abc\r\nlevel=ERROR msg=forged", false},
		{"too long", strings.Repeat("a", 129), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann.lee@example.com"}`, "X-Request-ID", tc.sent)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("post: got %d %s, want 202", rec.Code, rec.Body)
			}
			var body struct{ ID string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			got := rec.Header().Get("X-Request-ID")
			r, err := v.store.Get(context.Background(), body.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.RequestID != got {
				t.Errorf("record's request id %q, want the answered X-Request-ID %q", r.RequestID, got)
			}
			if tc.kept && got != tc.sent {
				t.Errorf("X-Request-ID: got %q, want the caller's %q", got, tc.sent)
			}
			if !tc.kept && (got == tc.sent || got == "" || strings.ContainsAny(got, "@\r\n") || len(got) > 128) {
				t.Errorf("X-Request-ID: got %q, want a fresh id in place of the caller's", got)
			}
		})
	}
}
