package crm_test

import (
	"regexp"
	"testing"

	"github.com/leadbridge/leadbridge/crm"
)

// The derived GUIDs are version 5 UUIDs in the namespace
// 6c656164-6272-6964-6765-2d7265716964; the expected values were computed
// with Python's uuid.uuid5, not with this code.
func TestClientRequestID(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"4B1F2C3D-1111-4222-8333-944445555666", "4b1f2c3d-1111-4222-8333-944445555666"},
		{"abc123", "5bfe965b-0495-5b30-9d06-825118783fd1"},
		{"Root=1-67891233-abcdef012345678912345678", "923263f4-5d2b-56df-9665-838499437e52"},
		{"4b1f2c3d-1111-4222-8333-94444555566", "5141165a-53c5-5d93-ad2c-e62b2b6bb454"}, // one digit short: not a GUID
	} {
		if got := crm.ClientRequestID(tc.id); got != tc.want {
			t.Errorf("ClientRequestID(%q) = %s, want %s", tc.id, got, tc.want)
		}
	}
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := crm.ClientRequestID(""), crm.ClientRequestID("")
	if !guid.MatchString(a) || a == b {
		t.Errorf("ClientRequestID(\"\") gave %s then %s, want two different random version 4 GUIDs", a, b)
	}
}
