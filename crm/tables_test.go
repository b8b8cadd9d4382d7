package crm

import "testing"

// Numbers and GUIDs go into a filter unquoted, as Dataverse compares them;
// anything else is quoted as text, never written raw.
func TestEqNumberAndGUID(t *testing.T) {
	for _, tt := range []struct {
		got  Filter
		want string
	}{
		{EqNumber("new_enquiryno", "1042"), "new_enquiryno eq 1042"},
		{EqNumber("revenue", "-12.5"), "revenue eq -12.5"},
		{EqNumber("new_enquiryno", "1 or 1 eq 1"), "new_enquiryno eq '1 or 1 eq 1'"},
		{EqNumber("new_enquiryno", "1'"), "new_enquiryno eq '1'''"},
		{EqGUID("accountid", "6F1C2A3B-0000-4000-8000-00000000ABCD"), "accountid eq 6f1c2a3b-0000-4000-8000-00000000abcd"},
		{EqGUID("accountid", "x) or (1 eq 1"), "accountid eq 'x) or (1 eq 1'"},
	} {
		if string(tt.got) != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}
